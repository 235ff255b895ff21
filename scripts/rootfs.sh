#!/usr/bin/env bash
# Builds, once per machine, the Debian root filesystem that the VM test rig (tests/Latch.VmTests), the demo
# and CI boot as "Azure VMs", and prints the path of its extracted tree (use it read-only, e.g. as an
# overlayfs lower layer).
#
#   scripts/rootfs.sh            ensure the cache, print the extracted tree's path
#   scripts/rootfs.sh --tarball  ensure the cache, print the tarball's path
#   scripts/rootfs.sh --key      print the cache key only (no build)
#
# Cache: $LATCH_ROOTFS_CACHE (default /var/cache/latch/rootfs)/bookworm-<key>.tar.zst plus the extracted
# tree bookworm-<key>/, where <key> hashes the suite, the package list and RECIPE below. A missing piece is
# rebuilt (tree from the tarball when only the tree is missing); builds go to a temporary directory and are
# renamed into place, under a lock, so parallel test processes build once and never see half a tree.
# The mirror comes from this machine's apt configuration at run time (LATCH_DEBIAN_MIRROR overrides it).
set -euo pipefail

suite=bookworm
# eject: waagent ejects the provisioning DVD after copying ovf-env.xml (Azure's Debian images ship it)
packages=(openssh-server sudo passwd iproute2 curl waagent dmidecode util-linux procps eject)
# Bump when the customisation in customise() changes, so caches rebuild.
recipe=1

cache=${LATCH_ROOTFS_CACHE:-/var/cache/latch/rootfs}
key=$(printf '%s\n' "$suite" "${packages[@]}" "recipe=$recipe" | sha256sum | cut -c1-16)
name=$suite-$key
tarball=$cache/$name.tar.zst
tree=$cache/$name

mode=tree
case "${1:-}" in
  "") ;;
  --tarball) mode=tarball ;;
  --key) echo "$key"; exit 0 ;;
  *) echo "rootfs.sh: unknown argument '$1' (use no argument, --tarball or --key)" >&2; exit 2 ;;
esac

say() { echo "rootfs.sh: $*" >&2; }

done_already() { [ -f "$tarball" ] && [ -f "$tree/.latch-rootfs" ]; }

print_result() {
  if [ "$mode" = tarball ]; then echo "$tarball"; else echo "$tree"; fi
}

if done_already; then print_result; exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  say "building the root filesystem needs root (debootstrap, chroot); run: sudo $0"
  exit 1
fi
for tool in debootstrap zstd flock; do
  command -v "$tool" >/dev/null || { say "'$tool' is missing; run scripts/install-deps.sh"; exit 1; }
done

mirror() {
  if [ -n "${LATCH_DEBIAN_MIRROR:-}" ]; then echo "$LATCH_DEBIAN_MIRROR"; return; fi
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    # first "deb" line; drop an options block like [arch=amd64 signed-by=...] before taking the URI
    uri=$(awk '$1 == "deb" { sub(/\[[^]]*\]/, ""); split($0, f, " "); print f[2]; exit }' /etc/apt/sources.list)
  fi
  if [ -z "$uri" ]; then
    say "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list; set LATCH_DEBIAN_MIRROR"
    exit 1
  fi
  echo "$uri"
}

# What the rig needs inside, beyond the packages. sshd_config keeps Debian's defaults (UsePAM yes works in
# the rig's chroot because it mounts /proc). Host keys are the ones openssh-server's postinst generated in
# the build: every VM shares them (tests connect with StrictHostKeyChecking=no).
customise() {
  local root=$1
  mkdir -p "$root/run/sshd" "$root/mnt/cdrom/secure"
  chmod 0755 "$root/run/sshd"
  if ! ls "$root"/etc/ssh/ssh_host_*_key >/dev/null 2>&1; then
    chroot "$root" /usr/bin/ssh-keygen -A
  fi
  # Services are started by the rig, never by package scripts.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
  printf 'suite=%s\npackages=%s\nrecipe=%s\nbuilt=%s\n' "$suite" "${packages[*]}" "$recipe" "$(date -u +%FT%TZ)" \
    >"$root/.latch-rootfs"
}

unmount_under() {
  local dir=$1
  # deepest first; lazily, so a stuck mount never blocks cleanup
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if done_already; then print_result; exit 0; fi

work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'unmount_under "$work"; rm -rf "$work"' EXIT

if [ -f "$tree/.latch-rootfs" ]; then
  # the tree may be in use as a VM's lower layer: never replace it, only re-create the tarball from it
  say "re-creating $tarball from $tree"
  tar --zstd -C "$tree" --numeric-owner -cpf "$work/rootfs.tar.zst" .
  mv "$work/rootfs.tar.zst" "$tarball"
  print_result
  exit 0
fi

if [ -f "$tarball" ]; then
  say "extracting $tarball"
  mkdir "$work/root"
  tar --zstd -C "$work/root" --numeric-owner -xpf "$tarball"
else
  started=$(date +%s)
  src=$(mirror)
  say "debootstrap $suite from the apt-configured mirror (about a minute)"
  if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
      "$suite" "$work/root" "$src" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    say "debootstrap failed (the last 30 lines of its log are above)"
    exit 1
  fi
  unmount_under "$work/root"
  customise "$work/root"
  tar --zstd -C "$work/root" --numeric-owner -cpf "$work/rootfs.tar.zst" .
  mv "$work/rootfs.tar.zst" "$tarball"
  say "built $tarball in $(( $(date +%s) - started )) s"
fi
# an incomplete tree (no marker) is left from an interrupted run of an older script: nothing boots from it
rm -rf "$tree"
mv "$work/root" "$tree"
print_result
