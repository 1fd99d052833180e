#!/usr/bin/env bash
# RubyGems benchmark: a public gem with 50 versions pushed to Packyard, and nginx serving a
# `gem generate_index` static tree of the same .gem files (plus the compact index files
# Packyard answered, byte for byte: RubyGems 3.3's generate_index writes none) — the
# practical limit for a static mirror. Then /info/NAME, /versions and a .gem GET with
# keep-alive at 16 connections (wrk), anonymous and with a token (Basic, as bundler sends
# it). Prints req/s side by side.
#   scripts/bench-rubygems.sh [VERSIONS] [SECONDS]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="${1:-50}"
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
PY="http://127.0.0.1:$PY_PORT/rubygems/bench"

# --- VERSIONS versions of one gem, built by `gem build`, pushed as `gem push` sends them ---
export HOME="$WORK/home" GEM_HOME="$WORK/gem-home"
mkdir -p "$WORK/src/lib" "$WORK/static/gems" "$HOME"
echo 'module Bench; end' > "$WORK/src/lib/bench.rb"
for i in $(seq 0 $((VERSIONS - 1))); do
  cat > "$WORK/src/bench.gemspec" <<RUBY
Gem::Specification.new do |s|
  s.name = "bench"
  s.version = "1.0.$i"
  s.summary = "benchmark gem"
  s.authors = ["Bench"]
  s.license = "MIT"
  s.files = ["lib/bench.rb"]
  s.required_ruby_version = ">= 2.7"
  s.add_runtime_dependency "rack", "~> 2.0", ">= 2.0.8"
end
RUBY
  (cd "$WORK/src" && gem build -q bench.gemspec >/dev/null 2>&1)
  curl -sf -o /dev/null -X POST -H "Authorization: $TOKEN" --data-binary "@$WORK/src/bench-1.0.$i.gem" "$PY/api/v1/gems"
  mv "$WORK/src/bench-1.0.$i.gem" "$WORK/static/gems/"
done
ID=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"query":"{ package(owner: \"bench\", packageType: RUBYGEMS, name: \"bench\") { id } }"}' \
  "http://127.0.0.1:$PY_PORT/graphql" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["package"]["id"])')
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"query\":\"mutation { setPackageVisibility(input: {packageId: \\\"$ID\\\", visibility: PUBLIC}) { package { id } } }\"}" \
  "http://127.0.0.1:$PY_PORT/graphql"

# --- nginx: the static tree (generate_index) plus the same compact index bytes ---
gem generate_index --directory "$WORK/static" >/dev/null 2>&1
mkdir -p "$WORK/static/info"
curl -sf -o "$WORK/static/versions" "$PY/versions"
curl -sf -o "$WORK/static/info/bench" "$PY/info/bench"
NG_PORT=$(port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/static; etag on; }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=("$!")
wait_port "$NG_PORT"
NG="http://127.0.0.1:$NG_PORT"

run_wrk() { # url [header]
  local args=(-t2 -c16 -d"${SECONDS_PER_RUN}s" --latency)
  [ -n "${2:-}" ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print int($2)}'
}
BASIC="Authorization: Basic $(printf 'bench:%s' "$TOKEN" | base64 -w0)"
GEM=gems/bench-1.0.0.gem
py_info=$(run_wrk "$PY/info/bench"); ng_info=$(run_wrk "$NG/info/bench")
py_info_t=$(run_wrk "$PY/info/bench" "$BASIC")
py_versions=$(run_wrk "$PY/versions"); ng_versions=$(run_wrk "$NG/versions")
py_versions_t=$(run_wrk "$PY/versions" "$BASIC")
py_gem=$(run_wrk "$PY/$GEM"); ng_gem=$(run_wrk "$NG/$GEM")
py_gem_t=$(run_wrk "$PY/$GEM" "$BASIC")

ratio() { python3 -c "print(round($1 / max($2, 1), 2))"; }
echo "1 gem, $VERSIONS versions, wrk -t2 -c16 -d${SECONDS_PER_RUN}s, requests/s"
printf '%-18s %12s %12s %8s %16s\n' "" "packyard" "nginx" "ratio" "packyard+token"
printf '%-18s %12s %12s %8s %16s\n' "/info/bench" "$py_info" "$ng_info" "$(ratio "$py_info" "$ng_info")x" "$py_info_t"
printf '%-18s %12s %12s %8s %16s\n' "/versions" "$py_versions" "$ng_versions" "$(ratio "$py_versions" "$ng_versions")x" "$py_versions_t"
printf '%-18s %12s %12s %8s %16s\n' ".gem" "$py_gem" "$ng_gem" "$(ratio "$py_gem" "$ng_gem")x" "$py_gem_t"
