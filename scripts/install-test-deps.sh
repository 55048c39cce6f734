#!/usr/bin/env bash
# Installs the Python tools the end-to-end tests run (moto's server, cfn-lint) into a
# project-local virtual environment, <repo>/.venv, exactly as pinned in
# scripts/requirements-test.txt (every transitive dependency included, installed with --no-deps).
#
# Idempotent and fast when nothing changed: .venv/.requirements-test.sha256 records the sha256 of
# the requirements file it was built from, and the script returns at once when it matches and the
# venv's python still runs. Otherwise the venv is rebuilt from scratch, so no stale package
# survives a version change (a .venv this script did not make is left alone: an error instead).
# Set PYTHON to choose the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
requirements=scripts/requirements-test.txt
stamp="$venv/.requirements-test.sha256"
marker="$venv/.podreach-test-venv"
python="${PYTHON:-python3}"

want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && "$venv/bin/python" -c '' >/dev/null 2>&1 \
  && [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/cfn-lint" ]; then
  echo "install-test-deps: $venv up to date (moto, cfn-lint)"
  exit 0
fi

if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-test-deps: error: $python not found; install Python 3 (3.9 or later, e.g. Debian's python3 and python3-venv)" >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
  echo "install-test-deps: error: $("$python" --version 2>&1) is too old; moto 5 needs Python 3.9 or later" >&2
  exit 1
fi
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "install-test-deps: error: $python has no venv/ensurepip module; install it (Debian: apt-get install python3-venv)" >&2
  exit 1
fi

# Rebuild only a venv this script made (the marker is written first, so an interrupted install
# is redone): a developer's own .venv is never deleted.
if [ -e "$venv" ] && [ ! -f "$marker" ] && [ ! -f "$stamp" ]; then
  echo "install-test-deps: error: $PWD/$venv exists but was not made by this script; move it away and rerun" >&2
  exit 1
fi
echo "install-test-deps: building $venv with $("$python" --version 2>&1) from $requirements"
rm -rf "$venv"
"$python" -m venv "$venv"
echo "made by scripts/install-test-deps.sh; rebuilt whenever scripts/requirements-test.txt changes" >"$marker"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
  --no-deps -r "$requirements"
"$venv/bin/python" -m pip check
"$venv/bin/python" -c 'import moto, cfnlint' || {
  echo "install-test-deps: error: moto or cfn-lint does not import after installing" >&2
  exit 1
}
echo "$want" >"$stamp"
echo "install-test-deps: done ($("$venv/bin/python" -c 'import moto; print("moto", moto.__version__)'), $("$venv/bin/cfn-lint" --version))"
