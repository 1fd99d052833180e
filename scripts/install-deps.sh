#!/usr/bin/env bash
# Installs everything the test suite drives, idempotently, and is fast (≈1 s) when all of it
# is already there. One line per component: "NAME: present" or "NAME: installed".
#   scripts/install-deps.sh           clients and servers the tests need
#   scripts/install-deps.sh --bench   also Verdaccio, the peer the npm benchmark compares against
# Everything that isn't a Debian package goes under .tools/ in the repo (git-ignored).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.tools"
BENCH=0
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    -h | --help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown argument $arg (only --bench)" >&2; exit 2 ;;
  esac
done
STARTED=$SECONDS
mkdir -p "$TOOLS"

say() { printf '%-16s %s\n' "$1:" "$2"; }
die() { echo "install-deps.sh: $*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------------------------
# One apt run at a time (a Debian hook deletes the download cache after each run, so parallel
# installs fail); `apt-get update` at most once, and only when something must be installed.
APT_PACKAGES=(
  skopeo podman buildah umoci          # OCI clients, daemonless (podman/buildah: --storage-driver vfs)
  docker.io                            # dockerd 20.10 for a private daemon (the docker CLI is preinstalled)
  jq curl
  uidmap fuse-overlayfs slirp4netns    # what podman/buildah expect to find
  ruby ruby-bundler                    # the RubyGems tests drive gem 3.3 and bundle 2.3
  mono-devel nuget                     # NuGet.exe runs under mono (the .exe itself: below)
  chromium                             # the web UI's browser tests (driven by playwright-core)
  # Maven and Gradle: mvn 3.8 with Debian's plugins as the `central` mirror
  # (file:///usr/share/maven-repo), a JDK with javac and javadoc, Gradle 4.4 and the wagon
  # jars its legacy `maven` plugin uploads with.
  maven openjdk-17-jdk-headless maven-debian-helper maven-repo-helper
  libmaven-resources-plugin-java libmaven-compiler-plugin-java libmaven-jar-plugin-java
  libmaven-install-plugin-java libmaven-deploy-plugin-java libsurefire-java
  libmaven-dependency-plugin-java libmaven-clean-plugin-java libmaven-source-plugin-java
  libmaven-javadoc-plugin-java libmaven-plugin-tools-java libplexus-utils2-java
  gradle libmaven-resolver-java libwagon-http-shaded-java libwagon-provider-api-java
)
if [ "$BENCH" = 1 ]; then
  APT_PACKAGES+=(
    docker-registry                    # CNCF distribution, a peer for the OCI benchmark
    nginx-light wrk                    # benchmark peer and load generator
  )
fi
# The npm tests run node and npm (this machine kind ships Node 20; a bare Debian gets its own).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
has_candidate() {
  local c
  c="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')"
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if is_installed "$p"; then say "$p" present; else missing+=("$p"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install ${missing[*]}"
    SUDO=(sudo)
  fi
  APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  LOG="$(mktemp)"
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update -qq >"$LOG" 2>&1 || { cat "$LOG" >&2; die "apt-get update failed"; }
  wanted=()
  for p in "${missing[@]}"; do
    if has_candidate "$p"; then wanted+=("$p"); else say "$p" "NOT AVAILABLE from apt (skipped)"; fi
  done
  if [ "${#wanted[@]}" -gt 0 ]; then
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
      --no-install-recommends "${wanted[@]}" >"$LOG" 2>&1 \
      || { cat "$LOG" >&2; die "apt-get install ${wanted[*]} failed"; }
    for p in "${wanted[@]}"; do
      if is_installed "$p"; then say "$p" installed; else die "$p: apt-get reported success but it is not installed"; fi
    done
  fi
  rm -f "$LOG"
fi

# --- an S3-compatible server for the blob store tests (pinned: 0.15+ needs a newer rustc) -----
if [ -x "$TOOLS/bin/s3s-fs" ]; then
  say s3s-fs present
else
  command -v cargo >/dev/null || die "cargo is needed to build s3s-fs"
  echo "s3s-fs:          building (cargo install s3s-fs@0.14.1, about 2 minutes)..." >&2
  cargo install s3s-fs@0.14.1 --locked --features binary --root "$TOOLS" --quiet
  say s3s-fs installed
fi

# --- npm clients (a private npm config: the machine's ~/.npmrc must not matter) ---------------
NPMRC="$(mktemp)"
trap 'rm -f "$NPMRC"' EXIT
printf 'registry=https://registry.npmjs.org/\nfund=false\naudit=false\nupdate-notifier=false\n' >"$NPMRC"
npm_private() {
  npm_config_userconfig="$NPMRC" npm_config_globalconfig=/dev/null \
    npm_config_registry=https://registry.npmjs.org/ npm "$@"
}
# version of an npm package installed under DIR, or nothing
pkg_version() { # dir package
  local f="$1/node_modules/$2/package.json"
  [ -f "$f" ] && sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | head -n1
  return 0
}
NODE_DIR="$TOOLS/node"
YARN_VERSION=1.22.22   # yarn classic (v1)
PNPM_VERSION=9.15.9    # pnpm 9 runs on Node 18/20
NODE_SPECS=("yarn@$YARN_VERSION" "pnpm@$PNPM_VERSION")
node_ok=1
for spec in "${NODE_SPECS[@]}"; do
  name="${spec%@*}"
  if [ "$(pkg_version "$NODE_DIR" "$name")" = "${spec#*@}" ] && [ -x "$NODE_DIR/node_modules/.bin/$name" ]; then
    say "$name" "present"
  else
    node_ok=0
  fi
done
if [ "$node_ok" = 0 ]; then
  command -v npm >/dev/null || die "npm is needed to install ${NODE_SPECS[*]}"
  mkdir -p "$NODE_DIR"
  # All of them in one install: `npm install --no-save X` removes what an earlier
  # --no-save install put there.
  npm_private install --prefix "$NODE_DIR" --no-save --silent "${NODE_SPECS[@]}" >/dev/null
  for spec in "${NODE_SPECS[@]}"; do
    name="${spec%@*}"
    [ -x "$NODE_DIR/node_modules/.bin/$name" ] || die "$name did not install"
    say "$name" installed
  done
fi

# --- NuGet.exe 5.8 (no dotnet SDK for this machine; it runs under mono) ------------------------
NUGET_DIR="$TOOLS/nuget"
if [ "$(pkg_version "$NUGET_DIR" nuget-exe)" = 5.8.0 ] && [ -f "$NUGET_DIR/node_modules/nuget-exe/nuget-5.8.0.exe" ]; then
  say nuget.exe present
else
  command -v npm >/dev/null || die "npm is needed to install nuget-exe@5.8.0"
  mkdir -p "$NUGET_DIR"
  npm_private install --prefix "$NUGET_DIR" --no-save --silent nuget-exe@5.8.0 >/dev/null
  [ -f "$NUGET_DIR/node_modules/nuget-exe/nuget-5.8.0.exe" ] || die "nuget-exe did not install"
  say nuget.exe installed
fi

# --- the web UI's browser tests: playwright-core (no browser download) and axe-core ----------
BROWSER_DIR="$TOOLS/browser"
PLAYWRIGHT_VERSION=1.57.0
AXE_VERSION=4.11.0
if [ "$(pkg_version "$BROWSER_DIR" playwright-core)" = "$PLAYWRIGHT_VERSION" ] \
  && [ "$(pkg_version "$BROWSER_DIR" axe-core)" = "$AXE_VERSION" ]; then
  say playwright-core present
  say axe-core present
else
  command -v npm >/dev/null || die "npm is needed to install playwright-core and axe-core"
  mkdir -p "$BROWSER_DIR"
  # playwright-core never downloads a browser: the tests drive Debian's /usr/bin/chromium.
  npm_private install --prefix "$BROWSER_DIR" --no-save --silent \
    "playwright-core@$PLAYWRIGHT_VERSION" "axe-core@$AXE_VERSION" >/dev/null
  [ -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] || die "playwright-core did not install"
  [ -f "$BROWSER_DIR/node_modules/axe-core/axe.min.js" ] || die "axe-core did not install"
  say playwright-core installed
  say axe-core installed
fi

# --- octokit, GitHub's own JavaScript clients, for the REST and GraphQL compatibility tests --
OCTOKIT_DIR="$TOOLS/octokit"
OCTOKIT_REST_VERSION=22.0.1
OCTOKIT_GRAPHQL_VERSION=9.0.5
if [ "$(pkg_version "$OCTOKIT_DIR" @octokit/rest)" = "$OCTOKIT_REST_VERSION" ] \
  && [ "$(pkg_version "$OCTOKIT_DIR" @octokit/graphql)" = "$OCTOKIT_GRAPHQL_VERSION" ]; then
  say @octokit/rest present
  say @octokit/graphql present
else
  command -v npm >/dev/null || die "npm is needed to install @octokit/rest and @octokit/graphql"
  mkdir -p "$OCTOKIT_DIR"
  npm_private install --prefix "$OCTOKIT_DIR" --no-save --silent \
    "@octokit/rest@$OCTOKIT_REST_VERSION" "@octokit/graphql@$OCTOKIT_GRAPHQL_VERSION" >/dev/null
  [ -f "$OCTOKIT_DIR/node_modules/@octokit/rest/package.json" ] || die "@octokit/rest did not install"
  [ -f "$OCTOKIT_DIR/node_modules/@octokit/graphql/package.json" ] || die "@octokit/graphql did not install"
  say @octokit/rest installed
  say @octokit/graphql installed
fi

# --- graphql-ws, the GraphQL subscriptions client (graphql-transport-ws), on ws for Node 20 --
GRAPHQL_WS_DIR="$TOOLS/graphql-ws"
GRAPHQL_WS_VERSION=6.4.2
WS_VERSION=8.23.0
GRAPHQL_JS_VERSION=16.15.0   # 17 needs Node 22
if [ "$(pkg_version "$GRAPHQL_WS_DIR" graphql-ws)" = "$GRAPHQL_WS_VERSION" ] \
  && [ "$(pkg_version "$GRAPHQL_WS_DIR" ws)" = "$WS_VERSION" ] \
  && [ "$(pkg_version "$GRAPHQL_WS_DIR" graphql)" = "$GRAPHQL_JS_VERSION" ]; then
  say graphql-ws present
else
  command -v npm >/dev/null || die "npm is needed to install graphql-ws"
  mkdir -p "$GRAPHQL_WS_DIR"
  npm_private install --prefix "$GRAPHQL_WS_DIR" --no-save --silent \
    "graphql-ws@$GRAPHQL_WS_VERSION" "ws@$WS_VERSION" "graphql@$GRAPHQL_JS_VERSION" >/dev/null
  [ -f "$GRAPHQL_WS_DIR/node_modules/graphql-ws/package.json" ] || die "graphql-ws did not install"
  say graphql-ws installed
fi

# --- benchmark peers -------------------------------------------------------------------------
VERDACCIO_DIR="$TOOLS/verdaccio"
if [ "$BENCH" = 1 ]; then
  if [ "$(pkg_version "$VERDACCIO_DIR" verdaccio)" = 6.8.0 ] && [ -x "$VERDACCIO_DIR/node_modules/.bin/verdaccio" ]; then
    say verdaccio present
  else
    # 6.9+ needs Node 22. The npm mirror here lists only `latest` dist-tags, so node-fetch's
    # `cjs` tag (which Verdaccio asks for) is pinned by an override.
    mkdir -p "$VERDACCIO_DIR"
    cat >"$VERDACCIO_DIR/package.json" <<'JSON'
{ "name": "packyard-bench-verdaccio", "private": true,
  "dependencies": { "verdaccio": "6.8.0" },
  "overrides": { "node-fetch@cjs": "2.7.0" } }
JSON
    (cd "$VERDACCIO_DIR" && npm_private install --silent >/dev/null)
    say verdaccio installed
  fi
else
  say verdaccio "skipped (only with --bench)"
fi

echo "install-deps: done in $((SECONDS - STARTED)) s"
