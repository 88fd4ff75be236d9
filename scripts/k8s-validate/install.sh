#!/usr/bin/env bash
# Builds k8s-validate (main.go beside this script) into the tool cache, from the Go module proxy:
#   ${OTELYTICS_CACHE:-$HOME/.cache/otelytics}/bin/k8s-validate
# Rebuilds only when main.go, go.mod or go.sum changed. Prints the binary's path on stdout; says
# on stderr what it builds before, and how big it is after (scripts/installs.mjs); Go's own output
# goes to bin/k8s-validate.log. Go's module and build caches of the build (about 300 MB) are a
# directory of its own, removed afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
installs="$here/../installs.mjs"
cache="${OTELYTICS_CACHE:-$HOME/.cache/otelytics}"
bin="$cache/bin/k8s-validate"
stamp="$cache/bin/k8s-validate.sha256"
sum="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -d' ' -f1)"
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "$bin"
  exit 0
fi
node "$installs" announce --what "k8s-validate (Go, k8s.io/api from the module proxy)" \
  --why "the static checks of the Kubernetes manifests" --where "$cache/bin" --eta "about 1 minute on 2 cores"
start=$(date +%s)
mkdir -p "$cache/bin"
caches="$(mktemp -d "$cache/.go-build-XXXXXX")"
cleanup() {
  GOMODCACHE="$caches/mod" go clean -modcache >/dev/null 2>&1 || true
  rm -rf "$caches"
}
trap cleanup EXIT
export GOMODCACHE="$caches/mod" GOCACHE="$caches/build" GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
log="$cache/bin/k8s-validate.log"
if ! (cd "$here" && go build -trimpath -o "$bin.partial.$$" .) >"$log" 2>&1; then
  echo "k8s-validate: go build failed; $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
mv "$bin.partial.$$" "$bin"
echo "$sum" > "$stamp"
cache_bytes="$(du -sb "$caches" | cut -f1)"
cache_mib="$(( cache_bytes / 1048576 ))"
node "$installs" installed --what "k8s-validate" --where "$bin" --seconds "$(( $(date +%s) - start ))" \
  --note "Go's module and build caches of the build (${cache_mib} MiB) removed"
echo "$bin"
