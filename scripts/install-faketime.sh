#!/usr/bin/env bash
# Installs libfaketime, the real clock-shifting library the delivery end-to-end test runs a
# function bootstrap under (`LD_PRELOAD` + `FAKETIME=+20m`): an announcement's outbox entry is
# sent again only once its writer has certainly ended, 15 minutes later, and a test cannot wait
# that long. Debian's libfaketime, pinned, unpacked into <repo>/.tools/faketime (never installed
# system-wide). `apt-get download` verifies the package through Debian's signed archive;
# `apt-get update` runs only when the pinned version is not in the package lists.
# Idempotent: returns at once when the pinned library is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

version="0.9.10-2.1"
dest=.tools/faketime
stamp="$dest/.version"
library="$dest/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -f "$library" ]; then
  echo "install-faketime: $dest up to date (libfaketime $version)"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get download "libfaketime=$version") >/dev/null 2>&1; }
if ! download; then
  echo "install-faketime: libfaketime=$version is not in the package lists; running apt-get update"
  "${sudo_cmd[@]}" apt-get update -qq
  download || {
    echo "install-faketime: error: cannot download Debian's libfaketime=$version" >&2
    exit 1
  }
fi
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$work"/libfaketime_*.deb "$dest"
[ -f "$library" ] || { echo "install-faketime: error: $library is not in the package" >&2; exit 1; }
# The library works: a shifted `date` is 20 minutes ahead.
shifted="$(LD_PRELOAD="$PWD/$library" FAKETIME="+20m" FAKETIME_DONT_FAKE_MONOTONIC=1 date +%s)"
[ $(( shifted - $(date +%s) )) -ge 1190 ] || { echo "install-faketime: error: the clock was not shifted" >&2; exit 1; }
echo "$version" >"$stamp"
echo "install-faketime: $library (libfaketime $version)"
