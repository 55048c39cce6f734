#!/usr/bin/env bash
# Installs the real Kubernetes client the tests prove podreach's fake Kubernetes API against
# (tests/kube/fake_kube, tests/tests/kube_api.rs): Debian's kubernetes-client, pinned, unpacked
# into <repo>/.tools/kubectl (never installed system-wide: another kubectl may own /usr/bin).
# `apt-get download` verifies the package through Debian's signed archive; `apt-get update` runs
# only when the pinned version is not in the package lists (root or sudo needed then).
# Idempotent: returns at once when the pinned kubectl is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

version="1.20.5+really1.20.2-1.1+deb12u1"
dest=.tools/kubectl
stamp="$dest/.version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -x "$dest/usr/bin/kubectl" ]; then
  echo "install-kubectl: $dest up to date (kubernetes-client $version)"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get download "kubernetes-client=$version") >/dev/null 2>&1; }
if ! download; then
  echo "install-kubectl: kubernetes-client=$version is not in the package lists; running apt-get update"
  "${sudo_cmd[@]}" apt-get update -qq
  download || {
    echo "install-kubectl: error: cannot download Debian's kubernetes-client=$version" >&2
    exit 1
  }
fi
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$work"/kubernetes-client_*.deb "$dest"
"$dest/usr/bin/kubectl" version --client >/dev/null
echo "$version" >"$stamp"
echo "install-kubectl: $dest/usr/bin/kubectl ($("$dest/usr/bin/kubectl" version --client --short 2>/dev/null || echo "$version"))"
