#!/usr/bin/env bash
# Maven resolve-path benchmark: a public repository with VERSIONS versions of
# com.example:bench on Packyard, and nginx serving the very same bytes (Packyard's own
# answers, saved to disk) as static files, the practical limit. Then wrk with keep-alive at
# 16 connections on the artifact-level maven-metadata.xml, a POM and a 1 MiB jar, each
# anonymous and with a token (Basic, as mvn sends it). Prints req/s side by side.
#   scripts/bench-maven.sh [VERSIONS] [SECONDS]
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

# --- Packyard: a public repository, VERSIONS versions (POM + small jar), one 1 MiB jar ---
PY_PORT=$(port)
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PY_PORT" RUST_LOG=warn
"$BIN" admin create-user bench </dev/null >/dev/null
"$BIN" admin create-repository bench/libs --public </dev/null >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PIDS+=("$!")
wait_port "$PY_PORT"
BASE="http://127.0.0.1:$PY_PORT/maven/bench/libs"
G="com/example/bench"
AUTH="Authorization: Basic $(printf 'bench:%s' "$TOKEN" | base64 -w0)"
head -c 1048576 /dev/urandom >"$WORK/big.jar"
for i in $(seq 1 "$VERSIONS"); do
  v="1.0.$i"
  printf '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>bench</artifactId><version>%s</version><description>bench</description></project>' "$v" >"$WORK/p.pom"
  curl -sf -H "$AUTH" -T "$WORK/p.pom" "$BASE/$G/$v/bench-$v.pom" >/dev/null
  if [ "$i" = 1 ]; then jar="$WORK/big.jar"; else jar="$WORK/p.pom"; fi
  curl -sf -H "$AUTH" -T "$jar" "$BASE/$G/$v/bench-$v.jar" >/dev/null
done

# --- nginx: the same bytes as static files ---
NG_PORT=$(port)
STATIC="$WORK/static/maven/bench/libs"
for p in "$G/maven-metadata.xml" "$G/1.0.1/bench-1.0.1.pom" "$G/1.0.1/bench-1.0.1.jar"; do
  mkdir -p "$(dirname "$STATIC/$p")"
  curl -sf "$BASE/$p" -o "$STATIC/$p"
done
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  types { text/xml xml pom; application/java-archive jar; }
  server { listen 127.0.0.1:$NG_PORT; root $WORK/static; }
}
CONF
# nginx's workers run as another user: they must be able to read the files.
chmod a+x "$WORK" && chmod -R a+rX "$WORK/static"
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' 2>"$WORK/nginx/stderr.log" &
PIDS+=("$!")
wait_port "$NG_PORT"
# Both answer the same bytes (or the comparison means nothing).
for p in "$G/maven-metadata.xml" "$G/1.0.1/bench-1.0.1.pom" "$G/1.0.1/bench-1.0.1.jar"; do
  cmp <(curl -sf "$BASE/$p") <(curl -sf "http://127.0.0.1:$NG_PORT/maven/bench/libs/$p") \
    || { echo "nginx and Packyard differ on $p" >&2; exit 1; }
done

run_wrk() { # url [header]
  local args=(-t2 -c16 -d"${SECONDS_PER_RUN}s" --latency)
  [ -n "${2:-}" ] && args+=(-H "$2")
  wrk "${args[@]}" "$1" | awk '/Requests\/sec/ {print int($2)}'
}
ratio() { python3 -c "print(round($1 / max($2, 1), 2))"; }
echo "$VERSIONS versions, wrk -t2 -c16 -d${SECONDS_PER_RUN}s, requests/s"
printf '%-30s %10s %10s %8s\n' "" packyard nginx ratio
for what in "maven-metadata.xml|$G/maven-metadata.xml" "POM|$G/1.0.1/bench-1.0.1.pom" "1 MiB jar|$G/1.0.1/bench-1.0.1.jar"; do
  name="${what%%|*}"; path="${what#*|}"
  py=$(run_wrk "$BASE/$path"); ng=$(run_wrk "http://127.0.0.1:$NG_PORT/maven/bench/libs/$path")
  printf '%-30s %10s %10s %8s\n' "$name (anonymous)" "$py" "$ng" "$(ratio "$py" "$ng")"
  py=$(run_wrk "$BASE/$path" "$AUTH"); ng=$(run_wrk "http://127.0.0.1:$NG_PORT/maven/bench/libs/$path" "$AUTH")
  printf '%-30s %10s %10s %8s\n' "$name (token)" "$py" "$ng" "$(ratio "$py" "$ng")"
done
