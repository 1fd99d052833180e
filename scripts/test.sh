#!/usr/bin/env bash
# THE test command: installs what the tests drive, starts an S3-compatible server, then runs
# every test on SQLite and again on PostgreSQL. Extra arguments go to `cargo test`.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

"$REPO/scripts/install-deps.sh"

# --- S3: s3s-fs on a free loopback port, with a bucket directory ---
S3_DIR="$(mktemp -d)"
mkdir -p "$S3_DIR/packyard-test"
S3_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$REPO/.tools/bin/s3s-fs" --host 127.0.0.1 --port "$S3_PORT" \
  --access-key packyard --secret-key packyard-secret "$S3_DIR" >"$S3_DIR.log" 2>&1 &
S3_PID=$!
cleanup() { kill "$S3_PID" 2>/dev/null || true; rm -rf "$S3_DIR" "$S3_DIR.log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  if curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; then break; fi
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" || { echo "s3s-fs did not start:"; cat "$S3_DIR.log"; exit 1; }
export PACKYARD_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" PACKYARD_TEST_S3_BUCKET=packyard-test
export AWS_ACCESS_KEY_ID=packyard AWS_SECRET_ACCESS_KEY=packyard-secret AWS_REGION=us-east-1

# --- PostgreSQL: a configured or local server; CI must have one ---
if [ -z "${PACKYARD_TEST_DATABASE_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export PACKYARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
if [ -z "${PACKYARD_TEST_DATABASE_URL:-}" ] && [ "${CI:-}" = "true" ]; then
  echo "CI needs PostgreSQL: none answers at 127.0.0.1:5432 and PACKYARD_TEST_DATABASE_URL is unset" >&2
  exit 1
fi

backends="sqlite"
echo "== cargo test (SQLite; blob stores: local, memory, S3 at $PACKYARD_TEST_S3_ENDPOINT)"
PACKYARD_TEST_BACKEND=sqlite cargo test --workspace --all-targets "$@"
if [ -n "${PACKYARD_TEST_DATABASE_URL:-}" ]; then
  echo "== cargo test --test integration (PostgreSQL)"
  PACKYARD_TEST_BACKEND=postgres cargo test --test integration "$@"
  backends="$backends, postgres (${PACKYARD_TEST_DATABASE_URL%%\?*})"
else
  echo "PostgreSQL not available: skipped (set PACKYARD_TEST_DATABASE_URL to run it)"
fi
echo "backends: $backends; blob stores: local, memory, s3 ($PACKYARD_TEST_S3_ENDPOINT)"
