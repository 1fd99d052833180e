#!/usr/bin/env bash
# A bounded mixed load against REPLICAS replicas of the real server on one PostgreSQL
# database and one S3 bucket (s3s-fs), like a scaled-out deployment:
#
#   scripts/load.sh [DURATION_SECONDS=600] [REPLICAS=2] [WORKERS=16]
#
# LOAD_STORE=file puts the blobs in one local directory all replicas share (instead of the
# bucket), so reads go out with sendfile (the counter it prints says how much did).
#
# Reads (generic downloads, 60 %), publishes (new generic versions, 12.5 %), GraphQL pages
# (packages with their version counts, 15 %) and deletes (the oldest version no read is on,
# 12.5 %: the live versions stay as many once 50 exist; deleted ones are kept, soft),
# spread over the replicas in turn (scripts/load.mjs). Prints per-kind requests, errors,
# p50/p99/max latency, the error rate, each replica's RSS after warm-up, at the end and by tenth of the run, its
# file descriptors and the database's connections. Exit 1 if any request failed.
# Needs: PostgreSQL at 127.0.0.1:5432 (or PACKYARD_TEST_DATABASE_URL), node, psql, and
# .tools/bin/s3s-fs (scripts/install-deps.sh). Uses target/release/packyard when built
# (LOAD_PROFILE=debug to force the debug build; LOAD_BIN=path to name one), else builds the
# debug binary.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DURATION="${1:-600}"
REPLICAS="${2:-2}"
WORKERS="${3:-16}"
ADMIN_URL="${PACKYARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if [ -n "${LOAD_BIN:-}" ]; then
  BIN="$LOAD_BIN"
elif [ "${LOAD_PROFILE:-}" != debug ] && [ -x target/release/packyard ]; then
  BIN=target/release/packyard
else
  cargo build -q --bin packyard
  BIN=target/debug/packyard
fi
echo "load.sh: $BIN, $REPLICAS replicas, $WORKERS workers, ${DURATION} s, store ${LOAD_STORE:-s3}"

WORK="$(mktemp -d -t packyard-load.XXXXXX)"
DB="packyard_load_$$"
PIDS=()
cleanup() {
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mkdir -p "$WORK/s3/packyard-load"
S3_PORT="$(free_port)"
"$REPO/.tools/bin/s3s-fs" --host 127.0.0.1 --port "$S3_PORT" \
  --access-key packyard --secret-key packyard-secret "$WORK/s3" >"$WORK/s3s-fs.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$S3_PORT/" && break; sleep 0.1; done

psql "$ADMIN_URL" -qc "CREATE DATABASE $DB" >/dev/null
DB_URL="${ADMIN_URL%/*}/$DB"
export AWS_ACCESS_KEY_ID=packyard AWS_SECRET_ACCESS_KEY=packyard-secret AWS_REGION=us-east-1
export PACKYARD_DATABASE_URL="$DB_URL"
export PACKYARD_STORAGE_URL="s3://packyard-load?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1&allow_http=true"
if [ "${LOAD_STORE:-s3}" = file ]; then
  mkdir -p "$WORK/blobs"
  export PACKYARD_STORAGE_URL="file://$WORK/blobs"
fi
export PACKYARD_JWT_SECRET="load-test-secret-$(date +%s%N)-0123456789abcdef"
export PACKYARD_MAX_CONNECTIONS_PER_CLIENT=1000
export RUST_LOG=warn

PORTS=()
for i in $(seq 1 "$REPLICAS"); do PORTS+=("$(free_port)"); done
export PACKYARD_PUBLIC_URL="http://127.0.0.1:${PORTS[0]}"
URLS=()
SERVER_PIDS=()
for i in $(seq 0 $((REPLICAS - 1))); do
  mkdir -p "$WORK/r$i"
  PACKYARD_DATA_DIR="$WORK/r$i" PACKYARD_LISTEN="127.0.0.1:${PORTS[$i]}" \
    "$BIN" serve >"$WORK/r$i.log" 2>&1 &
  PIDS+=($!)
  SERVER_PIDS+=($!)
  URLS+=("http://127.0.0.1:${PORTS[$i]}")
  # The first replica migrates the database before the next starts.
  for _ in $(seq 1 300); do curl -sf -o /dev/null "${URLS[$i]}/readyz" && break; sleep 0.1; done
  curl -sf -o /dev/null "${URLS[$i]}/readyz" || { echo "replica $i did not start:"; cat "$WORK/r$i.log"; exit 1; }
done

PACKYARD_DATA_DIR="$WORK/r0" "$BIN" admin create-user loader --email loader@example.test >/dev/null
TOKEN="$(PACKYARD_DATA_DIR="$WORK/r0" "$BIN" admin create-token loader --name load \
  --scopes read:packages,write:packages,delete:packages 2>/dev/null | tr -d '[:space:]')"

rc=0
LOAD_URLS="$(IFS=,; echo "${URLS[*]}")" LOAD_PIDS="$(IFS=,; echo "${SERVER_PIDS[*]}")" \
  LOAD_TOKEN="$TOKEN" LOAD_OWNER=loader LOAD_DURATION="$DURATION" LOAD_WORKERS="$WORKERS" \
  LOAD_DB="$DB" node "$REPO/scripts/load.mjs" || rc=$?
for i in $(seq 0 $((REPLICAS - 1))); do
  if grep -qiE "panick|ERROR" "$WORK/r$i.log"; then
    echo "replica $i logged errors:"; grep -iE "panick|ERROR" "$WORK/r$i.log" | head -20; rc=1
  fi
done
exit "$rc"
