#!/usr/bin/env bash
# Installs headless Chromium from Debian's packages for the status page's browser tests
# (driven by playwright-core, which ships no browser). Idempotent: does nothing when
# /usr/bin/chromium is already there. Needs root (CI runs as root) or passwordless sudo. Says on
# stderr what it installs before, and how big it is after (scripts/installs.mjs).
#
#   bash scripts/install-chromium.sh
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-chromium: not root and no sudo; install Debian's chromium package by hand" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Serialise with other apt users on this machine (apt's own lock fails instead of waiting).
exec 9>/tmp/otelytics-apt.lock
flock 9
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
installs="$(dirname "${BASH_SOURCE[0]}")/installs.mjs"
node "$installs" announce --what "Debian's chromium and fonts-dejavu-core (apt-get)" \
  --why "the status page's browser test" --where /usr/lib/chromium --eta "1 to 2 minutes"
start=$(date +%s)
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
test -x /usr/bin/chromium
node "$installs" installed --what "Chromium ($(/usr/bin/chromium --version 2>/dev/null | head -n 1))" --where /usr/lib/chromium \
  --seconds "$(( $(date +%s) - start ))" --note "a system package: apt-get remove chromium removes it"
