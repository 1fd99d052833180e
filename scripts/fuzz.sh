#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (SECONDS each, 60 by default), with
# the committed corpus as the seed and new inputs kept in a scratch copy; stops at the
# first crash, whose reproducer lands in fuzz/artifacts/TARGET/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs cargo-fuzz (installed into .tools/cargo-fuzz when missing). cargo-fuzz needs
# nightly flags: on a stable toolchain RUSTC_BOOTSTRAP=1 lets rustc accept them. The
# address sanitizer is used when its runtime ships with the toolchain (FUZZ_SANITIZER=none
# to build without it); the corpus grows under target/fuzz-corpus, and
# `scripts/fuzz.sh --minimise` folds it back into fuzz/corpus, minimised.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO/fuzz"
MINIMISE=false
if [ "${1:-}" = "--minimise" ]; then MINIMISE=true; shift; fi
SECONDS_EACH="${1:-60}"
shift || true
export PATH="$REPO/.tools/cargo-fuzz/bin:$PATH"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install --locked --root "$REPO/.tools/cargo-fuzz" cargo-fuzz
fi
if ! rustc --version | grep -q nightly; then export RUSTC_BOOTSTRAP=1; fi
SANITIZER="${FUZZ_SANITIZER:-address}"
# The fuzz build has its own target directory (instrumented), kept between runs.
export CARGO_TARGET_DIR="$REPO/target/fuzz"
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then mapfile -t TARGETS < <(cargo fuzz list); fi
# One build of every target (they share the instrumented library); `run` then starts them.
cargo fuzz build -s "$SANITIZER" -O
for t in "${TARGETS[@]}"; do
  seeds="$REPO/fuzz/corpus/$t"
  work="$REPO/target/fuzz-corpus/$t"
  mkdir -p "$seeds" "$work" "$REPO/fuzz/artifacts/$t"
  echo "== $t: ${SECONDS_EACH}s"
  # -rss_limit_mb and -malloc_limit_mb: a runaway allocation is a finding, not a swap storm.
  cargo fuzz run -s "$SANITIZER" -O "$t" "$work" "$seeds" -- \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 -malloc_limit_mb=512 \
    -max_len=65536 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$REPO/fuzz/artifacts/$t/" 2>&1 | tail -n 25
  if $MINIMISE; then
    # Fold what the run found into the committed corpus, keeping only inputs that add
    # coverage (merge into an empty directory, then swap).
    fresh="$(mktemp -d)"
    cargo fuzz run -s "$SANITIZER" -O "$t" "$fresh" "$seeds" "$work" -- -merge=1 2>&1 | tail -n 2
    rm -rf "$seeds" && mv "$fresh" "$seeds"
  fi
done
