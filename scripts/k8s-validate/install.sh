#!/usr/bin/env bash
# Builds k8s-validate (main.go beside this script) into the tool cache, from the Go module proxy:
#   ${OTELYTICS_CACHE:-$HOME/.cache/otelytics}/bin/k8s-validate
# Rebuilds only when main.go, go.mod or go.sum changed. Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${OTELYTICS_CACHE:-$HOME/.cache/otelytics}"
bin="$cache/bin/k8s-validate"
stamp="$cache/bin/k8s-validate.sha256"
sum="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -d' ' -f1)"
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache/bin" "$cache/go/mod" "$cache/go/build"
export GOMODCACHE="$cache/go/mod" GOCACHE="$cache/go/build" GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local CGO_ENABLED=0
(cd "$here" && go build -trimpath -o "$bin" .) >&2
echo "$sum" > "$stamp"
echo "$bin"
