#!/usr/bin/env bash
# Installs everything the test suite drives, idempotently: fast when all is present.
#   scripts/install-deps.sh           clients and servers the tests need
#   scripts/install-deps.sh --bench   also the peers the benchmarks compare against
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.tools"
BENCH=0
[ "${1:-}" = "--bench" ] && BENCH=1
mkdir -p "$TOOLS"

say() { printf '%-18s %s\n' "$1:" "$2"; }

# --- Debian packages (one apt run at a time; update once, only when needed) ---
APT_PACKAGES=(skopeo podman buildah umoci uidmap fuse-overlayfs slirp4netns docker.io curl jq)
[ "$BENCH" = 1 ] && APT_PACKAGES+=(docker-registry nginx-light wrk)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    say "$p" present
  else
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for p in "${missing[@]}"; do say "$p" installed; done
fi

# --- an S3-compatible server for the blob store suite (pinned; 0.15+ needs a newer rustc) ---
if [ -x "$TOOLS/bin/s3s-fs" ]; then
  say s3s-fs present
else
  cargo install s3s-fs@0.14.1 --locked --features binary --root "$TOOLS" --quiet
  say s3s-fs installed
fi

# --- npm clients (private npm config: the machine's ~/.npmrc must not matter) ---
NPMRC="$(mktemp)"
trap 'rm -f "$NPMRC"' EXIT
printf 'registry=https://registry.npmjs.org/\nfund=false\naudit=false\nupdate-notifier=false\n' > "$NPMRC"
npm_install() { # dir package...
  local dir="$1"; shift
  mkdir -p "$dir"
  npm_config_userconfig="$NPMRC" npm install --prefix "$dir" --no-save --silent "$@" >/dev/null
}
if [ -x "$TOOLS/node/node_modules/.bin/yarn" ] && [ -x "$TOOLS/node/node_modules/.bin/pnpm" ]; then
  say "yarn, pnpm" present
else
  npm_install "$TOOLS/node" yarn@1.22.22 pnpm@9.15.9
  say "yarn, pnpm" installed
fi
if [ "$BENCH" = 1 ]; then
  if [ -x "$TOOLS/verdaccio/node_modules/.bin/verdaccio" ]; then
    say verdaccio present
  else
    mkdir -p "$TOOLS/verdaccio"
    cat > "$TOOLS/verdaccio/package.json" <<'JSON'
{ "name": "packyard-bench-verdaccio", "private": true,
  "dependencies": { "verdaccio": "6.8.0" },
  "overrides": { "node-fetch@cjs": "2.7.0" } }
JSON
    (cd "$TOOLS/verdaccio" && npm_config_userconfig="$NPMRC" npm install --silent >/dev/null)
    say verdaccio installed
  fi
fi
