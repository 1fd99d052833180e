#!/usr/bin/env bash
# npm registry benchmark: a public package with 200 versions on Packyard and on Verdaccio
# 6.8.0, then anonymous packument, abbreviated packument and tarball GETs with keep-alive
# at 16 connections (wrk), plus Packyard's packument with a token. Prints req/s and ratios.
#   scripts/bench-npm.sh [VERSIONS] [SECONDS]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="${1:-200}"
SECONDS_PER_RUN="${2:-10}"
"$REPO/scripts/install-deps.sh" --bench >/dev/null
# PACKYARD_BIN: measure another build (e.g. the one before a change) with the same script.
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

# --- Packyard ---
PY_PORT=$(port)
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PY_PORT" RUST_LOG=warn
"$BIN" admin create-user bench </dev/null >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PIDS+=("$!")
wait_port "$PY_PORT"

# --- Verdaccio ---
VD_PORT=$(port)
mkdir -p "$WORK/verdaccio/storage"
cat > "$WORK/verdaccio/config.yaml" <<YML
storage: $WORK/verdaccio/storage
auth: { htpasswd: { file: $WORK/verdaccio/htpasswd, max_users: 10 } }
packages: { '@*/*': { access: \$all, publish: \$authenticated }, '**': { access: \$all, publish: \$authenticated } }
max_body_size: 100mb
log: { type: stdout, format: pretty, level: error }
listen: 127.0.0.1:$VD_PORT
YML
"$REPO/.tools/verdaccio/node_modules/.bin/verdaccio" --config "$WORK/verdaccio/config.yaml" >"$WORK/verdaccio.log" 2>&1 &
PIDS+=("$!")
wait_port "$VD_PORT"
VD_TOKEN=$(curl -s -X PUT -H 'content-type: application/json' \
  -d '{"name":"bench","password":"bench-password"}' "http://127.0.0.1:$VD_PORT/-/user/org.couchdb.user:bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# --- publish VERSIONS versions to both (the documents npm sends) ---
python3 - "$VERSIONS" "http://127.0.0.1:$PY_PORT/npm/@bench%2fpkg" "$TOKEN" "http://127.0.0.1:$VD_PORT/@bench%2fpkg" "$VD_TOKEN" <<'PY'
import base64, hashlib, io, json, sys, tarfile, urllib.request
versions = int(sys.argv[1])
targets = [(sys.argv[2], sys.argv[3]), (sys.argv[4], sys.argv[5])]
for i in range(versions):
    version = f"1.0.{i}"
    manifest = {"name": "@bench/pkg", "version": version, "description": "benchmark package",
                "main": "index.js", "license": "MIT", "dependencies": {"left-pad": "^1.3.0"}}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [("package/package.json", json.dumps(manifest).encode()),
                           ("package/index.js", b"module.exports = 1;\n" * 200),
                           ("package/README.md", b"# bench\n")]:
            info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
    tgz = buf.getvalue()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    doc = {"_id": "@bench/pkg", "name": "@bench/pkg", "access": "public", "dist-tags": {"latest": version},
           "versions": {version: dict(manifest, _id=f"@bench/pkg@{version}",
                        dist={"shasum": hashlib.sha1(tgz).hexdigest(), "integrity": integrity,
                              "tarball": f"http://127.0.0.1/@bench/pkg/-/pkg-{version}.tgz"})},
           "_attachments": {f"@bench/pkg-{version}.tgz": {"content_type": "application/octet-stream",
                            "data": base64.b64encode(tgz).decode(), "length": len(tgz)}}}
    for url, token in targets:
        req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="PUT",
                                     headers={"content-type": "application/json", "authorization": f"Bearer {token}"})
        urllib.request.urlopen(req).read()
PY

run_wrk() { # url [header]
  local args=(-t2 -c16 -d"${SECONDS_PER_RUN}s" --latency)
  [ -n "${2:-}" ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print int($2)}'
}
ABBREV="Accept: application/vnd.npm.install-v1+json"
PY="http://127.0.0.1:$PY_PORT/npm/@bench%2fpkg"
VD="http://127.0.0.1:$VD_PORT/@bench%2fpkg"
py_full=$(run_wrk "$PY"); vd_full=$(run_wrk "$VD")
py_abbr=$(run_wrk "$PY" "$ABBREV"); vd_abbr=$(run_wrk "$VD" "$ABBREV")
py_tgz=$(run_wrk "http://127.0.0.1:$PY_PORT/npm/@bench/pkg/-/pkg-1.0.0.tgz")
vd_tgz=$(run_wrk "http://127.0.0.1:$VD_PORT/@bench/pkg/-/pkg-1.0.0.tgz")
py_auth=$(run_wrk "$PY" "Authorization: Bearer $TOKEN")
vd_auth=$(run_wrk "$VD" "Authorization: Bearer $VD_TOKEN")

ratio() { python3 -c "print(round($1 / max($2, 1), 1))"; }
echo "$VERSIONS versions, wrk -t2 -c16 -d${SECONDS_PER_RUN}s, requests/s"
printf '%-22s %10s %10s %8s\n' "" packyard verdaccio ratio
printf '%-22s %10s %10s %8s\n' packument "$py_full" "$vd_full" "$(ratio "$py_full" "$vd_full")x"
printf '%-22s %10s %10s %8s\n' "abbreviated packument" "$py_abbr" "$vd_abbr" "$(ratio "$py_abbr" "$vd_abbr")x"
printf '%-22s %10s %10s %8s\n' tarball "$py_tgz" "$vd_tgz" "$(ratio "$py_tgz" "$vd_tgz")x"
printf '%-22s %10s %10s %8s\n' "packument with token" "$py_auth" "$vd_auth" "$(ratio "$py_auth" "$vd_auth")x"
echo "target: >= 5x Verdaccio on each"
