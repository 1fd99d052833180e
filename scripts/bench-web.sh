#!/usr/bin/env bash
# Web UI benchmark: the package page of a package with VERSIONS versions (1,000 by
# default; the page shows 30 of them), anonymous (public package) and signed in with a
# session cookie, beside nginx serving the very same HTML as a static file. One connection
# gives the page's render latency (p50, p99); 16 connections its throughput.
#   scripts/bench-web.sh [VERSIONS] [SECONDS]
# PACKYARD_BIN: measure another build with the same script.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="${1:-1000}"
SECONDS_PER_RUN="${2:-10}"
# nginx and wrk come with `scripts/install-deps.sh --bench`.
for tool in nginx wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/install-deps.sh --bench" >&2; exit 1; }
done
if [ -z "${PACKYARD_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
fi
BIN="${PACKYARD_BIN:-$REPO/target/release/packyard}"

WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; echo "work: $WORK" >&2; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

PY_PORT=$(port)
BASE="http://127.0.0.1:$PY_PORT"
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PY_PORT" RUST_LOG=warn
printf 'bench-password' | "$BIN" admin create-user bench >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench --scopes read:packages,write:packages,user 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PIDS+=("$!")
wait_port "$PY_PORT"

# VERSIONS versions of a generic package, 8 uploads at a time.
seq 1 "$VERSIONS" | xargs -P 8 -I{} sh -c \
  "printf 'file {}' | curl -sf -o /dev/null -X PUT -H 'Authorization: Bearer $TOKEN' --data-binary @- '$BASE/generic/bench/tool/1.0.{}/tool.txt'"
ID=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"query":"{ package(owner: \"bench\", packageType: GENERIC, name: \"tool\") { id versions { totalCount } } }"}' "$BASE/graphql" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]["package"]; assert d["versions"]["totalCount"] >= 1; print(d["id"])')
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"query\":\"mutation { setPackageVisibility(input: {packageId: \\\"$ID\\\", visibility: PUBLIC}) { package { id } } }\"}" "$BASE/graphql"

# A session: the sign-in form's CSRF cookie, then the form.
JAR="$WORK/jar"
curl -sf -c "$JAR" -o /dev/null "$BASE/-/signin"
CSRF=$(awk '$6 == "packyard_signin_csrf" {print $7}' "$JAR")
curl -sf -b "$JAR" -c "$JAR" -o /dev/null -d "csrf=$CSRF&login=bench&password=bench-password&next=/" "$BASE/-/signin"
SESSION=$(awk '$6 == "packyard_session" {print $7}' "$JAR")
[ -n "$SESSION" ] || { echo "sign-in failed" >&2; exit 1; }

PAGE="$BASE/-/package/bench/generic/tool"
curl -sf -o "$WORK/page.html" "$PAGE"
grep -q "$VERSIONS versions" "$WORK/page.html" || { echo "the page doesn't show $VERSIONS versions" >&2; exit 1; }

# nginx serving the same bytes.
NG_PORT=$(port)
mkdir -p "$WORK/nginx/www" "$WORK/nginx/tmp"
cp "$WORK/page.html" "$WORK/nginx/www/page.html"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 2; daemon off; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/nginx/www; default_type text/html; } }
NGINX
nginx -c "$WORK/nginx/nginx.conf" &
PIDS+=("$!")
wait_port "$NG_PORT"

wrk_line() { # connections url [header] -> "req/s p50 p99"
  local args=(-t1 -c"$1" -d"${SECONDS_PER_RUN}s" --latency)
  [ -n "${3:-}" ] && args+=(-H "$3")
  wrk "${args[@]}" "$2" | awk '/Requests\/sec/ {rps=int($2)} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print rps, p50, p99}'
}
COOKIE="Cookie: packyard_session=$SESSION"
read -r a_rps a_p50 a_p99 <<<"$(wrk_line 1 "$PAGE")"
read -r s_rps s_p50 s_p99 <<<"$(wrk_line 1 "$PAGE" "$COOKIE")"
read -r n_rps n_p50 n_p99 <<<"$(wrk_line 1 "http://127.0.0.1:$NG_PORT/page.html")"
read -r a16 _ _ <<<"$(wrk_line 16 "$PAGE")"
read -r s16 _ _ <<<"$(wrk_line 16 "$PAGE" "$COOKIE")"
read -r n16 _ _ <<<"$(wrk_line 16 "http://127.0.0.1:$NG_PORT/page.html")"

echo "package page, $VERSIONS versions (30 shown), $(wc -c <"$WORK/page.html") bytes, wrk -t1 -d${SECONDS_PER_RUN}s"
printf '%-28s %10s %10s %10s %12s\n' "" "p50 (c1)" "p99 (c1)" "req/s c1" "req/s c16"
printf '%-28s %10s %10s %10s %12s\n' "packyard, anonymous" "$a_p50" "$a_p99" "$a_rps" "$a16"
printf '%-28s %10s %10s %10s %12s\n' "packyard, signed in" "$s_p50" "$s_p99" "$s_rps" "$s16"
printf '%-28s %10s %10s %10s %12s\n' "nginx, same bytes (static)" "$n_p50" "$n_p99" "$n_rps" "$n16"
echo "target: p50 < 20ms on the server"
