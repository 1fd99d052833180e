#!/usr/bin/env bash
# THE test command. Installs what the tests drive (scripts/install-deps.sh), starts an
# S3-compatible server (s3s-fs) on a free loopback port, then runs every test on SQLite and
# the integration suite again on PostgreSQL (PACKYARD_TEST_DATABASE_URL, or the server at
# 127.0.0.1:5432 when one answers; CI=true makes a missing PostgreSQL an error). Prints which
# backends were configured; the exit code is cargo's (the first failing run's).
#
#   scripts/test.sh                      everything
#   scripts/test.sh npm                  only tests whose name contains "npm"
#   scripts/test.sh --release -- --nocapture
# Arguments before a `--` go to `cargo test`, arguments after it to the test binaries
# (default --test-threads=4 unless given).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
STARTED=$SECONDS

"$REPO/scripts/install-deps.sh"

# --- arguments: cargo's before `--`, the test binaries' after it ---------------------------
cargo_args=()
test_args=()
after_dashes=0
for a in "$@"; do
  if [ "$after_dashes" = 0 ] && [ "$a" = "--" ]; then after_dashes=1; continue; fi
  if [ "$after_dashes" = 0 ]; then cargo_args+=("$a"); else test_args+=("$a"); fi
done
threads=(--test-threads=4)
for a in ${test_args[@]+"${test_args[@]}"}; do
  case "$a" in --test-threads*) threads=() ;; esac
done

WORK="$(mktemp -d -t packyard-test.XXXXXX)"
S3_PID=""
cleanup() {
  if [ -n "$S3_PID" ]; then
    kill "$S3_PID" 2>/dev/null || true # s3s-fs shuts down gracefully in ≈1.5 s
    for _ in $(seq 1 50); do kill -0 "$S3_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
    return
  fi
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}
answers() { curl -s -o /dev/null --max-time 1 "$1"; }

# --- S3: s3s-fs with a bucket directory in a temp data dir ---------------------------------
mkdir -p "$WORK/s3/packyard-test"
S3_PORT="$(free_port)"
"$REPO/.tools/bin/s3s-fs" --host 127.0.0.1 --port "$S3_PORT" \
  --access-key packyard --secret-key packyard-secret "$WORK/s3" >"$WORK/s3s-fs.log" 2>&1 &
S3_PID=$!
for _ in $(seq 1 100); do
  answers "http://127.0.0.1:$S3_PORT/" && break
  kill -0 "$S3_PID" 2>/dev/null || break
  sleep 0.1
done
if ! answers "http://127.0.0.1:$S3_PORT/"; then
  echo "test.sh: s3s-fs did not answer on 127.0.0.1:$S3_PORT; its log:" >&2
  cat "$WORK/s3s-fs.log" >&2
  exit 1
fi
export PACKYARD_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export PACKYARD_TEST_S3_BUCKET=packyard-test
export AWS_ACCESS_KEY_ID=packyard AWS_SECRET_ACCESS_KEY=packyard-secret AWS_REGION=us-east-1

# --- PostgreSQL: a configured server, or the local one; CI must have one -------------------
pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432 -t 3
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
if [ -z "${PACKYARD_TEST_DATABASE_URL:-}" ] && pg_answers; then
  export PACKYARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi
if [ -z "${PACKYARD_TEST_DATABASE_URL:-}" ] && [ "${CI:-}" = "true" ]; then
  echo "test.sh: CI=true but no PostgreSQL: nothing answers at 127.0.0.1:5432 and" \
    "PACKYARD_TEST_DATABASE_URL is unset. Refusing to skip the PostgreSQL run." >&2
  exit 1
fi
# a URL for the summary, without a password
pg_shown() { printf '%s' "${PACKYARD_TEST_DATABASE_URL%%\?*}" | sed 's#//\([^:/@]*\):[^@]*@#//\1:***@#'; }

# --- the runs --------------------------------------------------------------------------------
rc=0
results=()
run() { # label, then the command
  local label="$1" r=0
  shift
  echo "== $label: $*"
  "$@" || r=$?
  if [ "$r" = 0 ]; then results+=("$label: passed"); else results+=("$label: FAILED (exit $r)"); fi
  if [ "$rc" = 0 ]; then rc=$r; fi
}
run "sqlite" env PACKYARD_TEST_BACKEND=sqlite \
  cargo test --workspace --all-targets ${cargo_args[@]+"${cargo_args[@]}"} \
  -- ${threads[@]+"${threads[@]}"} ${test_args[@]+"${test_args[@]}"}

backends="sqlite"
if [ -n "${PACKYARD_TEST_DATABASE_URL:-}" ]; then
  # Only the integration suite reads PACKYARD_TEST_BACKEND; unit tests don't touch a database
  # server, so they are not run twice.
  run "postgres" env PACKYARD_TEST_BACKEND=postgres \
    cargo test --test integration ${cargo_args[@]+"${cargo_args[@]}"} \
    -- ${threads[@]+"${threads[@]}"} ${test_args[@]+"${test_args[@]}"}
  backends="$backends, postgres ($(pg_shown))"
else
  echo "test.sh: PostgreSQL not available: its run is skipped (start one at 127.0.0.1:5432 or" \
    "set PACKYARD_TEST_DATABASE_URL)" >&2
  results+=("postgres: SKIPPED (no server)")
fi
backends="$backends, s3 ($PACKYARD_TEST_S3_ENDPOINT)"

echo
for r in "${results[@]}"; do echo "$r"; done
echo "backends: $backends"
echo "test.sh: $((SECONDS - STARTED)) s, exit $rc"
exit "$rc"
