#!/usr/bin/env bash
# NuGet feed benchmark: a public package with 50 versions pushed to Packyard, then the
# flat-container index.json, the registration index (50 versions, one inlined page) and a
# .nupkg GET with keep-alive at 16 connections (wrk), anonymous and with a token, beside
# nginx serving the same bytes as static files (the practical limit). Prints req/s.
#   scripts/bench-nuget.sh [VERSIONS] [SECONDS]
#   PACKYARD_BIN=path/to/packyard scripts/bench-nuget.sh   (measure another build)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="${1:-50}"
SECONDS_PER_RUN="${2:-10}"
# nginx and wrk are the benchmark's Debian packages (install-deps.sh --bench installs them).
for tool in nginx wrk; do
  command -v "$tool" >/dev/null || "$REPO/scripts/install-deps.sh" --bench >/dev/null
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

# --- Packyard ---
PY_PORT=$(port)
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PY_PORT" RUST_LOG=warn
export PACKYARD_PUBLIC_URL="http://127.0.0.1:$PY_PORT"
"$BIN" admin create-user bench </dev/null >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PIDS+=("$!")
wait_port "$PY_PORT"
BASE="http://127.0.0.1:$PY_PORT/nuget/bench"

# --- push VERSIONS versions (multipart, as NuGet pushes), then make the package public ---
python3 - "$VERSIONS" "$BASE/api/v2/package" "$TOKEN" "http://127.0.0.1:$PY_PORT/graphql" <<'PY'
import io, json, sys, urllib.request, zipfile
versions, url, token, graphql = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
for i in range(versions):
    version = f"1.0.{i}"
    nuspec = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd"><metadata>
<id>Bench.Pkg</id><version>{version}</version><authors>Bench</authors>
<description>benchmark package</description><license type="expression">MIT</license>
<projectUrl>https://example.com/bench</projectUrl><tags>bench test</tags>
<dependencies><group targetFramework="net6.0"><dependency id="Newtonsoft.Json" version="13.0.1" /></group></dependencies>
</metadata></package>"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Bench.Pkg.nuspec", nuspec)
        z.writestr("lib/net6.0/Bench.Pkg.dll", b"MZ" + bytes(range(256)) * 64)
    boundary = "bench-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + buf.getvalue() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="PUT", headers={
        "content-type": f"multipart/form-data; boundary={boundary}", "x-nuget-apikey": token})
    urllib.request.urlopen(req).read()
def gql(query, variables):
    req = urllib.request.Request(graphql, data=json.dumps({"query": query, "variables": variables}).encode(),
                                 headers={"content-type": "application/json", "authorization": f"token {token}"})
    return json.load(urllib.request.urlopen(req))["data"]
pid = gql('{ package(owner: "bench", packageType: NUGET, name: "bench.pkg") { id } }', {})["package"]["id"]
gql('mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { id } } }', {"id": pid})
PY

FLAT="$BASE/v3/flatcontainer/bench.pkg/index.json"
REG="$BASE/v3/registration/bench.pkg/index.json"
NUPKG="$BASE/v3/flatcontainer/bench.pkg/1.0.0/bench.pkg.1.0.0.nupkg"

# --- nginx serving the same bytes as static files ---
STATIC="$WORK/static"
mkdir -p "$STATIC/flat" "$STATIC/reg" "$STATIC/pkg" "$WORK/nginx"
curl -sf "$FLAT" -o "$STATIC/flat/index.json"
curl -sf "$REG" -o "$STATIC/reg/index.json"
curl -sf "$NUPKG" -o "$STATIC/pkg/bench.pkg.1.0.0.nupkg"
NG_PORT=$(port)
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  default_type application/json;
  types { application/octet-stream nupkg; application/json json; }
  client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NG_PORT; root $STATIC; }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=("$!")
wait_port "$NG_PORT"
NG="http://127.0.0.1:$NG_PORT"

run_wrk() { # url [header]
  local args=(-t2 -c16 -d"${SECONDS_PER_RUN}s" --latency)
  [ -n "${2:-}" ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print int($2)}'
}
AUTH="X-NuGet-ApiKey: $TOKEN"
py_flat=$(run_wrk "$FLAT"); ng_flat=$(run_wrk "$NG/flat/index.json")
py_reg=$(run_wrk "$REG"); ng_reg=$(run_wrk "$NG/reg/index.json")
py_pkg=$(run_wrk "$NUPKG"); ng_pkg=$(run_wrk "$NG/pkg/bench.pkg.1.0.0.nupkg")
py_flat_t=$(run_wrk "$FLAT" "$AUTH")
py_reg_t=$(run_wrk "$REG" "$AUTH")
py_pkg_t=$(run_wrk "$NUPKG" "$AUTH")

ratio() { python3 -c "print(round($1 / max($2, 1), 2))"; }
echo "$VERSIONS versions, wrk -t2 -c16 -d${SECONDS_PER_RUN}s, requests/s (registration index: $(wc -c <"$STATIC/reg/index.json") bytes)"
printf '%-28s %10s %10s %8s\n' "" packyard nginx "of nginx"
printf '%-28s %10s %10s %8s\n' "flat index.json" "$py_flat" "$ng_flat" "$(ratio "$py_flat" "$ng_flat")"
printf '%-28s %10s %10s %8s\n' "registration index" "$py_reg" "$ng_reg" "$(ratio "$py_reg" "$ng_reg")"
printf '%-28s %10s %10s %8s\n' ".nupkg" "$py_pkg" "$ng_pkg" "$(ratio "$py_pkg" "$ng_pkg")"
printf '%-28s %10s %10s %8s\n' "flat index.json, token" "$py_flat_t" "$ng_flat" "$(ratio "$py_flat_t" "$ng_flat")"
printf '%-28s %10s %10s %8s\n' "registration index, token" "$py_reg_t" "$ng_reg" "$(ratio "$py_reg_t" "$ng_reg")"
printf '%-28s %10s %10s %8s\n' ".nupkg, token" "$py_pkg_t" "$ng_pkg" "$(ratio "$py_pkg_t" "$ng_pkg")"
