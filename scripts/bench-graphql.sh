#!/usr/bin/env bash
# GraphQL list cost: p50 of four package-list queries as a site admin, at 1,000 and 10,000
# generic packages (seeded through the generic door, 8 uploads at a time), to show that a
# page costs what the page holds, not what the table holds:
#   names            packages(first: 10) { nodes { name } }
#   latestVersion    ... with latestVersion { version }
#   statistics       ... with statistics { downloadsTotalCount }
#   page of 100      packages(first: 100) with all three
#   scripts/bench-graphql.sh [SIZES] [REQUESTS]      (defaults: "1000 10000", 200)
# PACKYARD_BIN: measure another build (the default builds and measures the release build).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZES="${1:-1000 10000}"
REQUESTS="${2:-200}"
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 1; }
done
if [ -z "${PACKYARD_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
fi
BIN="${PACKYARD_BIN:-$REPO/target/release/packyard}"

WORK="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

PORT=$(port)
BASE="http://127.0.0.1:$PORT"
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PORT" RUST_LOG=warn
printf 'bench-password' | "$BIN" admin create-user bench --admin >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench --scopes read:packages,write:packages,user 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PID=$!
wait_port "$PORT"

seeded=0
seed_to() { # n: packages bench/pkg-1..n, one version each
  seq $((seeded + 1)) "$1" | xargs -P 8 -I{} sh -c \
    "printf 'file {}' | curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer $TOKEN' --data-binary @- '$BASE/generic/bench/pkg-{}/1.0.0/f.txt'"
  seeded=$1
}

# p50 and p99 in ms of REQUESTS sequential POSTs of one query (after 20 warm-ups).
measure() { # label query
  python3 - "$BASE/graphql" "$TOKEN" "$REQUESTS" "$1" "$2" <<'PY'
import http.client, json, sys, time, urllib.parse
url, token, n, label, query = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)
body = json.dumps({"query": query})
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
def once():
    conn.request("POST", u.path, body, headers)
    r = conn.getresponse(); data = json.loads(r.read())
    assert "errors" not in data, data
    return data
for _ in range(20): once()
times = []
for _ in range(n):
    t = time.perf_counter(); once(); times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"  {label:<16} p50 {times[len(times)//2]:6.2f} ms   p99 {times[int(len(times)*0.99)]:6.2f} ms")
PY
}

for size in $SIZES; do
  seed_to "$size"
  echo "$size packages:"
  measure "names" '{ packages(first: 10) { nodes { name } } }'
  measure "latestVersion" '{ packages(first: 10) { nodes { name latestVersion { version } } } }'
  measure "statistics" '{ packages(first: 10) { nodes { name statistics { downloadsTotalCount } } } }'
  measure "page of 100" '{ packages(first: 100) { nodes { name latestVersion { version } statistics { downloadsTotalCount } } } }'
done
