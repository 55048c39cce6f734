#!/usr/bin/env bash
# Installs the userland tools the datapath lab (crates/lab) drives, from Debian packages, and
# objdump (binutils), which the glibc check of the Lambda binaries reads.
# Idempotent: each tool is checked with `command -v` first, and `apt-get update` runs only when
# something is missing. Needs root (or sudo) only when it has something to install.
set -euo pipefail

# tool -> Debian package that provides it
declare -A package_of=(
  [ip]=iproute2
  [nstat]=iproute2
  [iptables]=iptables
  [nft]=nftables
  [ping]=iputils-ping
  [conntrack]=conntrack
  [objdump]=binutils
)

missing=()
for tool in ip nstat iptables nft ping conntrack objdump; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    pkg="${package_of[$tool]}"
    case " ${missing[*]-} " in
      *" $pkg "*) ;;
      *) missing+=("$pkg") ;;
    esac
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-lab-deps: all tools present (ip, nstat, iptables, nft, ping, conntrack, objdump)"
  exit 0
fi

echo "install-lab-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-lab-deps: not root and no sudo; cannot install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

for tool in ip nstat iptables nft ping conntrack objdump; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-lab-deps: $tool still missing" >&2; exit 1; }
done
echo "install-lab-deps: done"
