#!/usr/bin/env bash
# Container registry benchmark: push and pull one blob (256 MiB by default) against
# Packyard, CNCF distribution (Debian's docker-registry) and nginx (sendfile), side by side
# on loopback; prints MB/s, the ratios and Packyard's peak RSS.
#   scripts/bench-oci.sh [SIZE_MIB] [RUNS]
# PACKYARD_BIN_BEFORE=path adds that build's pull to the same run (before/after a change,
# next to nginx on the same machine state); the load average is printed with the figures.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MIB="${1:-256}"
RUNS="${2:-3}"
"$REPO/scripts/install-deps.sh" --bench >/dev/null
# PACKYARD_BIN: measure another build (e.g. the one before a change) with the same script.
if [ -z "${PACKYARD_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
fi
BIN="${PACKYARD_BIN:-$REPO/target/release/packyard}"

WORK="$(mktemp -d)"
chmod 755 "$WORK"   # nginx workers read the file as another user
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/blob"
DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"
BYTES=$(stat -c %s "$WORK/blob")

# --- Packyard: as shipped (blobs fsync'd before a push is acknowledged), and with
# PACKYARD_FSYNC=false, like distribution and nginx, which don't fsync ---
PY_PORT=$(port)
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PY_PORT" RUST_LOG=warn
"$BIN" admin create-user bench </dev/null >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PY_PID=$!; PIDS+=("$PY_PID")
wait_port "$PY_PORT"
NS_PORT=$(port)
PACKYARD_DATA_DIR="$WORK/packyard-nosync" PACKYARD_LISTEN="127.0.0.1:$NS_PORT" \
  "$BIN" admin create-user bench </dev/null >/dev/null
NS_TOKEN=$(PACKYARD_DATA_DIR="$WORK/packyard-nosync" "$BIN" admin create-token bench --name bench 2>/dev/null </dev/null)
PACKYARD_DATA_DIR="$WORK/packyard-nosync" PACKYARD_LISTEN="127.0.0.1:$NS_PORT" PACKYARD_FSYNC=false \
  "$BIN" serve 2>"$WORK/packyard-nosync.log" &
PIDS+=("$!")
wait_port "$NS_PORT"

if [ -n "${PACKYARD_BIN_BEFORE:-}" ]; then
  BF_PORT=$(port)
  PACKYARD_DATA_DIR="$WORK/packyard-before" PACKYARD_LISTEN="127.0.0.1:$BF_PORT" \
    "$PACKYARD_BIN_BEFORE" admin create-user bench </dev/null >/dev/null
  BF_TOKEN=$(PACKYARD_DATA_DIR="$WORK/packyard-before" "$PACKYARD_BIN_BEFORE" admin create-token bench --name bench 2>/dev/null </dev/null)
  PACKYARD_DATA_DIR="$WORK/packyard-before" PACKYARD_LISTEN="127.0.0.1:$BF_PORT" \
    "$PACKYARD_BIN_BEFORE" serve 2>"$WORK/packyard-before.log" &
  BF_PID=$!; PIDS+=("$BF_PID")
  wait_port "$BF_PORT"
fi

# --- CNCF distribution ---
DR_PORT=$(port)
cat > "$WORK/registry.yml" <<YML
version: 0.1
log: { level: error }
storage: { filesystem: { rootdirectory: $WORK/distribution }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$DR_PORT }
YML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
PIDS+=("$!")
wait_port "$DR_PORT"

# --- nginx serving the same file with sendfile ---
NG_PORT=$(port)
mkdir -p "$WORK/nginx/www" "$WORK/nginx/tmp"
cp "$WORK/blob" "$WORK/nginx/www/blob"
chmod -R a+rX "$WORK/nginx/www"
cat > "$WORK/nginx.conf" <<NGX
daemon off; worker_processes 2; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp; fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/nginx/www; } }
NGX
nginx -c "$WORK/nginx.conf" &
PIDS+=("$!")
wait_port "$NG_PORT"

# A process's CPU time (user + system), in ms.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }
# Best of RUNS, in MB/s (10^6 bytes per second).
best() { sort -g | tail -1; }
mbps() { python3 -c "print(round($BYTES / $1 / 1e6, 1))"; }
push() { # base-url auth-args... ; POST a session then PUT the whole blob
  local base="$1"; shift
  local location
  location=$(curl -s -D - -o /dev/null -X POST "$@" "$base/blobs/uploads/" | awk 'tolower($1)=="location:"{print $2}' | tr -d '\r')
  case "$location" in http*) ;; *) location="${base%%/v2/*}$location" ;; esac
  local sep='?'; case "$location" in *\?*) sep='&' ;; esac
  curl -s -o /dev/null -w '%{time_total}\n' -X PUT "$@" -H 'Content-Type: application/octet-stream' \
    --data-binary @"$WORK/blob" "$location${sep}digest=$DIGEST"
}
pull() { # fails unless the whole blob came back
  local out
  out=$(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$@")
  set -- $out
  [ "$1" = 200 ] && [ "$2" = "$BYTES" ] || { echo "pull failed: HTTP $1, $2 bytes" >&2; exit 1; }
  echo "$3"
}

PY_BASE="http://127.0.0.1:$PY_PORT/v2/bench/blob"
DR_BASE="http://127.0.0.1:$DR_PORT/v2/bench/blob"
AUTH=(-u "bench:$TOKEN")
py_push=$(for _ in $(seq "$RUNS"); do mbps "$(push "$PY_BASE" "${AUTH[@]}")"; done | best)
ns_push=$(for _ in $(seq "$RUNS"); do mbps "$(push "http://127.0.0.1:$NS_PORT/v2/bench/blob" -u "bench:$NS_TOKEN")"; done | best)
dr_push=$(for _ in $(seq "$RUNS"); do mbps "$(push "$DR_BASE")"; done | best)
py_pull=$(for _ in $(seq "$RUNS"); do mbps "$(pull "${AUTH[@]}" "$PY_BASE/blobs/$DIGEST")"; done | best)
dr_pull=$(for _ in $(seq "$RUNS"); do mbps "$(pull "$DR_BASE/blobs/$DIGEST")"; done | best)
ng_pull=$(for _ in $(seq "$RUNS"); do mbps "$(pull "http://127.0.0.1:$NG_PORT/blob")"; done | best)
if [ -n "${PACKYARD_BIN_BEFORE:-}" ]; then
  BF_BASE="http://127.0.0.1:$BF_PORT/v2/bench/blob"
  push "$BF_BASE" -u "bench:$BF_TOKEN" >/dev/null
  # Interleaved with the current build's pulls, so both see the same machine.
  bf_pull=""; py_pull2=""
  bf_cpu0=$(cpu_ms "$BF_PID"); py_cpu0=$(cpu_ms "$PY_PID")
  for _ in $(seq "$RUNS"); do
    bf_pull+="$(mbps "$(pull -u "bench:$BF_TOKEN" "$BF_BASE/blobs/$DIGEST")")"$'\n'
    py_pull2+="$(mbps "$(pull "${AUTH[@]}" "$PY_BASE/blobs/$DIGEST")")"$'\n'
  done
  bf_cpu=$(( ($(cpu_ms "$BF_PID") - bf_cpu0) / RUNS )); py_cpu=$(( ($(cpu_ms "$PY_PID") - py_cpu0) / RUNS ))
  bf_pull=$(printf '%s' "$bf_pull" | best); py_pull2=$(printf '%s' "$py_pull2" | best)
fi
rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$PY_PID/status")

ratio() { python3 -c "print(round($1 / $2, 2))"; }
echo "blob: ${SIZE_MIB} MiB, best of $RUNS, MB/s"
printf '%-22s %10s %10s\n' "" push pull
printf '%-22s %10s %10s\n' "packyard (fsync)" "$py_push" "$py_pull"
printf '%-22s %10s %10s\n' "packyard (no fsync)" "$ns_push" -
printf '%-22s %10s %10s\n' "distribution (no fsync)" "$dr_push" "$dr_pull"
printf '%-22s %10s %10s\n' nginx - "$ng_pull"
echo "push packyard/distribution, both without fsync: $(ratio "$ns_push" "$dr_push")x (target >= 2)"
echo "push packyard with fsync/distribution:          $(ratio "$py_push" "$dr_push")x"
echo "pull packyard/nginx:        $(ratio "$py_pull" "$ng_pull")x (target >= 0.95)"
echo "pull distribution/nginx:    $(ratio "$dr_pull" "$ng_pull")x"
echo "packyard peak RSS: ${rss} MiB (target < 100)"
if [ -n "${PACKYARD_BIN_BEFORE:-}" ]; then
  echo "pull, interleaved: before $bf_pull MB/s, after $py_pull2 MB/s ($(ratio "$py_pull2" "$bf_pull")x); before/nginx $(ratio "$bf_pull" "$ng_pull")x"
  echo "server CPU per pull (user + system): before $bf_cpu ms, after $py_cpu ms"
  echo "before's peak RSS: $(awk '/VmHWM/ {print int($2/1024)}' "/proc/$BF_PID/status") MiB"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
