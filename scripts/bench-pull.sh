#!/usr/bin/env bash
# Pull benchmark for every door: one SIZE_MIB file of random bytes published through each
# door's real upload path (generic, OCI blob, npm, Maven, RubyGems, NuGet), then CLIENTS
# curls at once, each downloading it ROUNDS times over one keep-alive connection, beside
# nginx (sendfile) serving the same payload from a directory. Several clients make the
# server's CPU per byte show (one curl is the limit on 2 cores). Each server's run is
# interleaved with the others', best of 3. Prints aggregate MB/s, the ratio to nginx, server
# CPU (user + system, /proc/PID/stat) per GiB served and the share Packyard sent by sendfile.
#   scripts/bench-pull.sh [SIZE_MIB=64] [CLIENTS=4] [ROUNDS=5]
# Pulls are anonymous: every package is made public (OCI: an anonymous bearer token from the
# challenge's /v2/token, as docker pull gets one). PACKYARD_BIN=path measures another build.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MIB="${1:-${SIZE_MIB:-64}}"
CLIENTS="${2:-${CLIENTS:-4}}"
ROUNDS="${3:-${ROUNDS:-5}}"
REPEATS="${REPEATS:-3}"
# nginx is the benchmark's Debian package (install-deps.sh --bench installs it).
command -v nginx >/dev/null || "$REPO/scripts/install-deps.sh" --bench >/dev/null
if [ -z "${PACKYARD_BIN:-}" ] && [ ! -x "$REPO/target/release/packyard" ]; then
  cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
fi
BIN="${PACKYARD_BIN:-$REPO/target/release/packyard}"

WORK="$(mktemp -d)"
chmod 755 "$WORK"   # nginx workers read the file as another user
PIDS=()
# shellcheck disable=SC2317  # run by the trap
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
die() { echo "bench-pull: $*" >&2; exit 1; }
# curl that fails the script loudly unless the answer is 2xx.
send() {
  local code
  code=$(curl -s -o "$WORK/answer" -w '%{http_code}' "$@") || die "curl failed: $*"
  case "$code" in 2??) ;; *) die "HTTP $code from ${*: -1}: $(head -c 400 "$WORK/answer")" ;; esac
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
LOAD_START=$(load)

# --- Packyard: fresh data dir, SQLite, local blobs, no fsync ---
PY_PORT=$(port)
PY="http://127.0.0.1:$PY_PORT"
export PACKYARD_DATA_DIR="$WORK/packyard" PACKYARD_LISTEN="127.0.0.1:$PY_PORT" PACKYARD_PUBLIC_URL="$PY"
export PACKYARD_FSYNC=false RUST_LOG=warn
# npm tarballs are capped at 256 MiB by default (src/config.rs): allow this run's.
export PACKYARD_NPM_TARBALL_BYTES=$(( (2 * SIZE_MIB + 64) * 1024 * 1024 ))
"$BIN" admin create-user bench </dev/null >/dev/null
"$BIN" admin create-repository bench/libs --public </dev/null >/dev/null
TOKEN=$("$BIN" admin create-token bench --name bench 2>/dev/null </dev/null)
"$BIN" serve 2>"$WORK/packyard.log" &
PY_PID=$!; PIDS+=("$PY_PID")
wait_port "$PY_PORT"

# --- the payload, and each format's package around it (python3: tar, gzip, zip) ---
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$WORK/payload.bin"
python3 - "$WORK" <<'PY'
import base64, gzip, hashlib, io, json, sys, tarfile, zipfile
work = sys.argv[1]
payload = open(f"{work}/payload.bin", "rb").read()
def tar(entries, gz):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", **({"compresslevel": 1} if gz else {})) as t:
        for name, data in entries:
            info = tarfile.TarInfo(name); info.size = len(data); info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
# npm: a tarball whose package/package.json matches the document, base64 in _attachments.
manifest = {"name": "@bench/pkg", "version": "1.0.0", "description": "pull benchmark", "license": "MIT"}
tgz = tar([("package/package.json", json.dumps(manifest).encode()), ("package/payload.bin", payload)], True)
open(f"{work}/pkg-1.0.0.tgz", "wb").write(tgz)
doc = {"_id": "@bench/pkg", "name": "@bench/pkg", "dist-tags": {"latest": "1.0.0"},
       "versions": {"1.0.0": dict(manifest, _id="@bench/pkg@1.0.0", dist={
           "shasum": hashlib.sha1(tgz).hexdigest(),
           "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode(),
           "tarball": "http://127.0.0.1/npm/@bench/pkg/-/pkg-1.0.0.tgz"})},
       "_attachments": {"@bench/pkg-1.0.0.tgz": {"content_type": "application/octet-stream",
                        "data": base64.b64encode(tgz).decode(), "length": len(tgz)}}}
open(f"{work}/npm.json", "w").write(json.dumps(doc))
# RubyGems: metadata.gz (the gemspec) + data.tar.gz + checksums.yaml.gz.
spec = ("--- !ruby/object:Gem::Specification\nname: bench\nversion: !ruby/object:Gem::Version\n"
        "  version: 1.0.0\nplatform: ruby\nsummary: pull benchmark\nauthors:\n- Bench\n"
        "files:\n- payload.bin\ndependencies: []\n")
entries = {"metadata.gz": gzip.compress(spec.encode()), "data.tar.gz": tar([("payload.bin", payload)], True)}
sums = "---\n" + "".join(f"{alg.upper()}:\n" + "".join(f"  {n}: {getattr(hashlib, alg)(d).hexdigest()}\n"
                                                          for n, d in entries.items()) for alg in ("sha256", "sha512"))
entries["checksums.yaml.gz"] = gzip.compress(sums.encode())
open(f"{work}/bench-1.0.0.gem", "wb").write(tar(entries.items(), False))
# NuGet: a zip with the .nuspec and the payload stored (not deflated: it is random).
nuspec = ('<?xml version="1.0" encoding="utf-8"?><package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">'
          "<metadata><id>Bench.Pkg</id><version>1.0.0</version><authors>Bench</authors>"
          "<description>pull benchmark</description></metadata></package>")
with zipfile.ZipFile(f"{work}/bench.pkg.1.0.0.nupkg", "w", zipfile.ZIP_STORED) as z:
    z.writestr("Bench.Pkg.nuspec", nuspec)
    z.writestr("content/payload.bin", payload)
PY
printf '<project><modelVersion>4.0.0</modelVersion><groupId>com.example</groupId><artifactId>bench</artifactId><version>1.0.0</version></project>' >"$WORK/bench-1.0.0.pom"

# --- publish through each door's upload path ---
AUTH=(-u "bench:$TOKEN")
send "${AUTH[@]}" --upload-file "$WORK/payload.bin" "$PY/generic/bench/bench/1.0.0/payload.bin"
oci_push() { # file: a monolithic upload, POST a session then PUT the whole blob with its digest
  local location sep
  location=$(curl -s -D - -o /dev/null -X POST "${AUTH[@]}" "$PY/v2/bench/blob/blobs/uploads/" | awk 'tolower($1)=="location:"{print $2}' | tr -d '\r')
  case "$location" in http*) ;; /*) location="$PY$location" ;; *) die "OCI upload: no Location" ;; esac
  sep='?'; case "$location" in *\?*) sep='&' ;; esac
  send -X PUT "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$1" "$location${sep}digest=$(digest "$1")"
}
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' "$(digest "$WORK/payload.bin")" >"$WORK/config.json"
oci_push "$WORK/config.json"
oci_push "$WORK/payload.bin"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
  "$(digest "$WORK/config.json")" "$(stat -c %s "$WORK/config.json")" "$(digest "$WORK/payload.bin")" "$(stat -c %s "$WORK/payload.bin")" >"$WORK/manifest.json"
send -X PUT "${AUTH[@]}" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$WORK/manifest.json" "$PY/v2/bench/blob/manifests/1.0"
send -X PUT "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$WORK/npm.json" "$PY/npm/@bench%2fpkg"
send "${AUTH[@]}" --upload-file "$WORK/bench-1.0.0.pom" "$PY/maven/bench/libs/com/example/bench/1.0.0/bench-1.0.0.pom"
send "${AUTH[@]}" --upload-file "$WORK/payload.bin" "$PY/maven/bench/libs/com/example/bench/1.0.0/bench-1.0.0.jar"
send -X POST -H "Authorization: $TOKEN" -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/bench-1.0.0.gem" "$PY/rubygems/bench/api/v1/gems"
send -X PUT -H "X-NuGet-ApiKey: $TOKEN" -F "package=@$WORK/bench.pkg.1.0.0.nupkg;type=application/octet-stream" "$PY/nuget/bench/api/v2/package"

# --- every package public (Maven's come from the public repository), so pulls are anonymous ---
gql() { send -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary "$1" "$PY/graphql"
        grep -q '"errors"' "$WORK/answer" && die "GraphQL: $(cat "$WORK/answer")"; cat "$WORK/answer"; }
ids=$(gql '{"query":"{ user(login: \"bench\") { packages(first: 20) { nodes { id packageType } } } }"}' |
  python3 -c 'import json,sys; print(" ".join(n["id"] for n in json.load(sys.stdin)["data"]["user"]["packages"]["nodes"] if n["packageType"] != "MAVEN"))')
[ "$(wc -w <<<"$ids")" = 5 ] || die "expected 5 non-Maven packages, got: $ids"
for id in $ids; do
  gql "{\"query\":\"mutation { setPackageVisibility(input: {packageId: \\\"$id\\\", visibility: PUBLIC}) { package { visibility } } }\"}" >/dev/null
done

# --- nginx serving the payload from a directory, with sendfile ---
NG_PORT=$(port)
mkdir -p "$WORK/nginx/www" "$WORK/nginx/tmp"
cp "$WORK/payload.bin" "$WORK/nginx/www/payload.bin"
chmod -R a+rX "$WORK/nginx/www"
cat >"$WORK/nginx.conf" <<NGX
daemon off; worker_processes 2; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp; fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/nginx/www; } }
NGX
nginx -c "$WORK/nginx.conf" &
NG_PID=$!; PIDS+=("$NG_PID")
wait_port "$NG_PORT"

# name|URL|the local file the download must equal
SERVERS=(
  "nginx|http://127.0.0.1:$NG_PORT/payload.bin|$WORK/payload.bin"
  "generic|$PY/generic/bench/bench/1.0.0/payload.bin|$WORK/payload.bin"
  "oci|$PY/v2/bench/blob/blobs/$(digest "$WORK/payload.bin")|$WORK/payload.bin"
  "npm|$PY/npm/@bench/pkg/-/pkg-1.0.0.tgz|$WORK/pkg-1.0.0.tgz"
  "maven|$PY/maven/bench/libs/com/example/bench/1.0.0/bench-1.0.0.jar|$WORK/payload.bin"
  "rubygems|$PY/rubygems/bench/gems/bench-1.0.0.gem|$WORK/bench-1.0.0.gem"
  "nuget|$PY/nuget/bench/v3/flatcontainer/bench.pkg/1.0.0/bench.pkg.1.0.0.nupkg|$WORK/bench.pkg.1.0.0.nupkg"
)
oci_token() { curl -sf "$PY/v2/token?service=127.0.0.1:$PY_PORT&scope=repository:bench/blob:pull" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'; }
# What a server's pulls send: nothing, but OCI's carry the anonymous bearer token.
pull_auth() { PULL_AUTH=(); if [ "$1" = oci ]; then PULL_AUTH=(-H "Authorization: Bearer $OCI_TOKEN"); fi; }
OCI_TOKEN=$(oci_token)
for s in "${SERVERS[@]}"; do   # each download is the file published, byte for byte
  IFS='|' read -r name url file <<<"$s"
  pull_auth "$name"
  cmp -s <(curl -sf "${PULL_AUTH[@]}" "$url") "$file" || die "$name: the download differs from what was published ($url)"
done

cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }
server_cpu_ms() { # packyard's, or the sum of nginx's workers'
  local total=0 w workers=("$PY_PID")
  [ "$1" = nginx ] && read -r -a workers < <(cat /proc/"$NG_PID"/task/*/children)
  for w in "${workers[@]}"; do total=$((total + $(cpu_ms "$w"))); done; echo "$total"
}
sendfile_bytes() { curl -sf "$PY/metrics" | awk '$1 == "packyard_sendfile_bytes_total" {print $2}'; }
# CLIENTS curls at once, ROUNDS downloads each on one connection; prints the wall time in ns.
pull_run() { # name url bytes
  local name="$1" url="$2" bytes="$3" args=() cpids=() c t0 t1
  for _ in $(seq "$ROUNDS"); do args+=(-o /dev/null "$url"); done
  pull_auth "$name"
  t0=$(date +%s%N)
  for c in $(seq "$CLIENTS"); do
    curl -s "${PULL_AUTH[@]}" -w '%{http_code} %{size_download}\n' "${args[@]}" >"$WORK/client.$c" &
    cpids+=("$!")
  done
  wait "${cpids[@]}" || die "$name: a curl failed"
  t1=$(date +%s%N)
  cat "$WORK"/client.* | awk -v want="200 $bytes" -v n=$((CLIENTS * ROUNDS)) -v name="$name" \
    '$0 == want {ok++} END {if (ok != n) {print name ": " ok + 0 " of " n " downloads whole" > "/dev/stderr"; exit 1}}' || exit 1
  rm -f "$WORK"/client.*
  echo $((t1 - t0))
}

declare -A BEST CPU SENT BYTES
for s in "${SERVERS[@]}"; do IFS='|' read -r name _ file <<<"$s"; BEST[$name]=0; CPU[$name]=0; SENT[$name]=0; BYTES[$name]=$(stat -c %s "$file"); done
SENDFILE_START=$(sendfile_bytes)
for rep in $(seq "$REPEATS"); do
  OCI_TOKEN=$(oci_token)   # it lives 300 s
  for i in "${!SERVERS[@]}"; do   # each repeat starts one server later: no one always goes first
    IFS='|' read -r name url _ <<<"${SERVERS[(i + rep) % ${#SERVERS[@]}]}"
    sf0=$(sendfile_bytes); cpu0=$(server_cpu_ms "$name")
    ns=$(pull_run "$name" "$url" "${BYTES[$name]}")
    CPU[$name]=$(( CPU[$name] + $(server_cpu_ms "$name") - cpu0 ))
    SENT[$name]=$(( SENT[$name] + $(sendfile_bytes) - sf0 ))
    mbps=$(awk -v b=$((CLIENTS * ROUNDS * BYTES[$name])) -v ns="$ns" 'BEGIN {printf "%.0f", b / ns * 1000}')
    [ "$mbps" -gt "${BEST[$name]}" ] && BEST[$name]=$mbps
  done
done
SENDFILE_GROWTH=$(( $(sendfile_bytes) - SENDFILE_START ))

echo "pull: ${SIZE_MIB} MiB file, $CLIENTS clients x $ROUNDS downloads each (keep-alive), anonymous, best of $REPEATS interleaved runs"
printf '%-10s %8s %9s %18s %10s\n' door MB/s ×nginx server-CPU-ms/GiB sendfile
status=0
for s in "${SERVERS[@]}"; do
  IFS='|' read -r name _ _ <<<"$s"
  served=$((REPEATS * CLIENTS * ROUNDS * BYTES[$name]))
  share=-
  if [ "$name" != nginx ]; then
    share=$(awk -v a="${SENT[$name]}" -v b="$served" 'BEGIN {printf "%.0f%%", a * 100 / b}')
    [ "${SENT[$name]}" -ge "$served" ] || { echo "$name: only ${SENT[$name]} of $served bytes went by sendfile" >&2; status=1; }
  fi
  awk -v n="$name" -v m="${BEST[$name]}" -v ng="${BEST[nginx]}" -v cpu="${CPU[$name]}" -v b="$served" -v sf="$share" \
    'BEGIN {printf "%-10s %8d %8.2f %18.0f %10s\n", n, m, m / ng, cpu / (b / 1073741824), sf}'
done
echo "load average: before $LOAD_START, after $(load) ($(nproc) cores)"
[ "$SENDFILE_GROWTH" -gt 0 ] || die "packyard_sendfile_bytes_total did not grow: the downloads did not go by sendfile"
exit "$status"
