#!/usr/bin/env bash
# Installs the Debian packages that Latch's tests and demo use. Idempotent: does nothing when all are there.
set -euo pipefail
packages=(openssh-client openssh-server debootstrap iproute2 curl genisoimage xorriso clang zlib1g-dev util-linux procps zstd openssl dpkg-dev lintian)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# sshd must not run on the host just because the package was installed: the rig starts its own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now ssh.service >/dev/null 2>&1 || true
fi
