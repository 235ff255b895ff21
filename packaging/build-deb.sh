#!/usr/bin/env bash
# Builds Latch's Debian packages from this checkout:
#   latch-agent_VERSION_amd64.deb  latchd + latch-akc + latchd-guard (NativeAOT), the systemd unit, /etc/latch/latchd.toml (conffile)
#   latch_VERSION_amd64.deb        the operator CLI (NativeAOT)
# VERSION is <Version> in Directory.Build.props (the one place it is set).
#
#   packaging/build-deb.sh [--out DIR] [--lintian] [--agent-bin DIR] [agent|cli|all]   (default: all, into artifacts/deb)
#
# The NativeAOT binaries are cached by a hash of the sources that go into them (LATCH_DEB_CACHE, default
# /var/cache/latch/deb as root, else ~/.cache/latch/deb): with unchanged sources a run only assembles the
# packages. A NativeAOT publish that prints an IL2xxx/IL3xxx (trim/AOT) warning fails the build. --lintian runs lintian on the result and fails on any error.
# --agent-bin DIR takes latchd, latch-akc and latchd-guard already published from this tree (the VM tests pass the rig's cache).
# Prints the path of every .deb it produced on stdout, one per line; progress goes to stderr.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

out="$root/artifacts/deb"
lintian=0
agent_bin=""
which=all
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --lintian) lintian=1; shift ;;
    --agent-bin) [ -d "${2:-}" ] || { echo "build-deb: --agent-bin needs a directory holding latchd, latch-akc and latchd-guard (got '${2:-}')" >&2; exit 2; }
                 agent_bin="$(cd "$2" && pwd)"; shift 2 ;;
    agent|cli|all) which="$1"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb: unknown argument '$1'; usage: packaging/build-deb.sh [--out DIR] [--lintian] [--agent-bin DIR] [agent|cli|all]" >&2; exit 2 ;;
  esac
done

for tool in dotnet dpkg-deb dpkg-shlibdeps gzip sha256sum; do
  command -v "$tool" >/dev/null || { echo "build-deb: '$tool' is missing (apt-get install dpkg-dev, or run scripts/install-deps.sh)" >&2; exit 2; }
done

version="$(sed -n 's:.*<Version>\([^<]*\)</Version>.*:\1:p' Directory.Build.props | head -1)"
if ! [[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
  echo "build-deb: Directory.Build.props has no usable <Version> (got '$version')" >&2
  exit 2
fi

if [ "$(id -u)" -eq 0 ]; then cache_root="${LATCH_DEB_CACHE:-/var/cache/latch/deb}"; else cache_root="${LATCH_DEB_CACHE:-$HOME/.cache/latch/deb}"; fi
mkdir -p "$cache_root" "$out"
# the changelog date: the last commit's, so the same sources give the same package
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}"
maintainer="${LATCH_DEB_MAINTAINER:-Latch maintainers <latch@example.org>}"

# sha256 over the relative names and contents of every source file under the given paths (bin/ and obj/ left out)
source_hash() {
  find "$@" -type f -not -path '*/bin/*' -not -path '*/obj/*' -print0 | LC_ALL=C sort -z \
    | while IFS= read -r -d '' f; do printf '%s\0' "$f"; cat "$f"; done | sha256sum | cut -c1-16
}

# dotnet publish (NativeAOT, linux-x64) of one project into DIR; fails on a trim/AOT warning
publish() {
  local project="$1" dir="$2" log
  log="$(mktemp -t latch-publish.XXXXXX)"
  echo "build-deb: dotnet publish $project (NativeAOT, linux-x64)…" >&2
  # its own bin/obj (--artifacts-path): a build of the same projects running meanwhile cannot rewrite its inputs
  if ! dotnet publish "$project" -c Release -r linux-x64 -o "$dir" --artifacts-path "$dir.artifacts" -nologo -p:TrimmerSingleWarn=false >"$log" 2>&1; then
    tail -40 "$log" >&2; echo "build-deb: publish of $project failed (log: $log)" >&2; return 1
  fi
  if grep -Eq 'warning IL[23][0-9]{3}' "$log"; then
    grep -E 'warning IL[23][0-9]{3}' "$log" >&2; echo "build-deb: publish of $project printed trim/AOT warnings" >&2; return 1
  fi
  rm -rf "$log" "$dir.artifacts"
}

# Depends: for the ELF files given, from their needed libraries (dpkg-shlibdeps wants a debian/control next to it)
shlib_depends() {
  local work; work="$(mktemp -d -t latch-shlibs.XXXXXX)"
  mkdir -p "$work/debian"
  printf 'Source: latch\n\nPackage: latch\nArchitecture: amd64\n' >"$work/debian/control"
  local abs=(); for f in "$@"; do abs+=("$(readlink -f "$f")"); done
  (cd "$work" && dpkg-shlibdeps -O "${abs[@]}" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
  rm -rf "$work"
}

# the Debian changelog of a native package: one entry for this version
changelog() {
  local package="$1" dir="$2"
  mkdir -p "$dir"
  {
    echo "$package ($version) unstable; urgency=medium"
    echo
    echo "  * Built from the Latch source tree (packaging/build-deb.sh)."
    echo
    echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
  } | gzip -9n >"$dir/changelog.gz"
}

copyright() {
  local dir="$1"
  mkdir -p "$dir"
  cat >"$dir/copyright" <<'EOF'
Latch: built from the Latch source tree by packaging/build-deb.sh.

Copyright (C) 2026 the Latch contributors.

License: the Latch source tree does not state a license yet; ask its maintainers before you redistribute this
package. The NativeAOT binaries contain the .NET runtime and libraries (MIT License, Copyright (c) .NET Foundation
and Contributors) and the NuGet packages listed in Directory.Packages.props, each under its own license.
EOF
}

# writes DEBIAN/md5sums and DEBIAN/control (with Installed-Size) for the staged tree, then builds the .deb
finish() {
  local stage="$1" deb="$2" control="$3"
  (cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
  chmod 0644 "$stage/DEBIAN/md5sums"
  local size; size="$(du -k -s --exclude=DEBIAN "$stage" | cut -f1)"
  printf '%s\nInstalled-Size: %s\n' "$control" "$size" | sed '/^$/d' >"$stage/DEBIAN/control"
  # files are root:root in the package whoever builds it; directories 0755, data files 0644 unless set otherwise
  find "$stage" -type d -exec chmod 0755 {} +
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
}

# the NativeAOT binaries of PROJECT..., published once per source state into the cache; prints their directory
published() {
  local kind="$1"; shift
  local hash dir
  hash="$(source_hash "$@" src/Latch.Core src/Latch.Azure Directory.Build.props Directory.Packages.props global.json)"
  dir="$cache_root/$kind-$hash"
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir.tmp"
    for project in "$@"; do publish "$project" "$dir.tmp"; done
    # only the executables: no .dbg symbol files
    find "$dir.tmp" -maxdepth 1 -type f -name '*.dbg' -delete
    touch "$dir.tmp/.complete"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  else
    echo "build-deb: $kind binaries from the cache ($hash)" >&2
  fi
  echo "$dir"
}

# a small man page: the command's own --help inside a .TH page, and where the full documentation is
manpage() {
  local binary="$1" name="$2" section="$3" summary="$4" doc="$5" target="$6" help
  help="$("$binary" --help 2>&1 || true)"
  mkdir -p "$(dirname "$target")"
  {
    echo ".TH $(tr '[:lower:]' '[:upper:]' <<<"$name") $section \"$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)\" \"$version\" \"Latch\""
    echo ".SH NAME"
    echo "$name \\- $summary"
    echo ".SH DESCRIPTION"
    echo ".nf"
    sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/' <<<"$help"
    echo ".fi"
    echo ".SH SEE ALSO"
    echo "$doc"
  } | gzip -9n >"$target"
}

build_agent() {
  local bin stage work deb="$out/latch-agent_${version}_amd64.deb"
  if [ -n "$agent_bin" ]; then
    [ -x "$agent_bin/latchd" ] && [ -x "$agent_bin/latch-akc" ] && [ -x "$agent_bin/latchd-guard" ] || { echo "build-deb: --agent-bin $agent_bin needs executable latchd, latch-akc and latchd-guard (publish src/Latch.Agent, src/Latch.Akc and src/Latch.AgentGuard into it)" >&2; return 2; }
    bin="$agent_bin"
  else
    bin="$(published agent src/Latch.Agent src/Latch.Akc src/Latch.AgentGuard)"
  fi
  work="$(mktemp -d -t latch-deb-agent.XXXXXX)"
  stage="$work/stage"
  install -D -m 0755 "$bin/latchd" "$stage/usr/sbin/latchd"
  install -D -m 0755 "$bin/latch-akc" "$stage/usr/sbin/latch-akc"
  # the image 'latchd run' re-executes itself as after Ready: it must sit next to latchd
  install -D -m 0755 "$bin/latchd-guard" "$stage/usr/sbin/latchd-guard"
  install -D -m 0644 packaging/latchd.service "$stage/lib/systemd/system/latchd.service"
  install -D -m 0644 packaging/agent/latchd.toml "$stage/etc/latch/latchd.toml"
  install -D -m 0644 packaging/agent/40-latch-akc.conf "$stage/usr/share/latch/sshd_config.d/40-latch-akc.conf"
  install -D -m 0644 docs/latchd-provisioning.md "$stage/usr/share/doc/latch-agent/latchd-provisioning.md"
  manpage "$bin/latchd" latchd 8 "Azure VM provisioning agent and SSH key guard" \
    "/usr/share/doc/latch-agent/latchd-provisioning.md, latch-akc(8)" "$stage/usr/share/man/man8/latchd.8.gz"
  manpage "$bin/latch-akc" latch-akc 8 "sshd AuthorizedKeysCommand for Latch-managed keys" \
    "latchd(8): 'latchd guard install' enables it; usage: latch-akc [--store DIR] USER [FINGERPRINT [TYPE [KEY]]]" \
    "$stage/usr/share/man/man8/latch-akc.8.gz"
  manpage "$bin/latchd-guard" latchd-guard 8 "the key guard image latchd run becomes once Ready was reported" \
    "latchd(8), /usr/share/doc/latch-agent/latchd-provisioning.md" "$stage/usr/share/man/man8/latchd-guard.8.gz"
  changelog latch-agent "$stage/usr/share/doc/latch-agent"
  copyright "$stage/usr/share/doc/latch-agent"
  install -d "$stage/DEBIAN"
  for script in postinst prerm postrm; do install -m 0755 "packaging/agent/$script" "$stage/DEBIAN/$script"; done
  echo /etc/latch/latchd.toml >"$stage/DEBIAN/conffiles"
  local depends; depends="$(shlib_depends "$stage/usr/sbin/latchd" "$stage/usr/sbin/latch-akc" "$stage/usr/sbin/latchd-guard")"
  finish "$stage" "$deb" "Package: latch-agent
Version: $version
Architecture: amd64
Maintainer: $maintainer
Section: admin
Priority: optional
Depends: ${depends:+$depends, }libssl3 | libssl3t64, passwd
Recommends: openssh-server
Description: Azure Linux VM agent that provisions the VM and keeps SSH access safe
 latchd provisions an Azure Linux VM from IMDS and ovf-env.xml (user, keys,
 password hash, sudoers, host name, host keys, sshd hardening, Ready report)
 as a small drop-in for waagent's provisioning, and guards Latch-managed SSH
 keys: an sshd AuthorizedKeysCommand (latch-akc, enabled only by
 'latchd guard install'), a file guard that re-appends managed keys after
 another agent rewrites authorized_keys, and a Key Vault pull with the VM's
 managed identity.
 .
 Installing this package changes no account and no sshd setting: provisioning
 is off until /etc/latch/latchd.toml turns it on."
  rm -rf "$work"
  echo "$deb"
}

build_cli() {
  local bin stage work deb="$out/latch_${version}_amd64.deb"
  bin="$(published cli src/Latch.Cli)"
  work="$(mktemp -d -t latch-deb-cli.XXXXXX)"
  stage="$work/stage"
  install -D -m 0755 "$bin/latch" "$stage/usr/bin/latch"
  install -D -m 0644 docs/latch-cli.md "$stage/usr/share/doc/latch/latch-cli.md"
  manpage "$bin/latch" latch 1 "operator CLI for SSH access to Azure Linux VMs" \
    "/usr/share/doc/latch/latch-cli.md, ssh(1)" "$stage/usr/share/man/man1/latch.1.gz"
  changelog latch "$stage/usr/share/doc/latch"
  copyright "$stage/usr/share/doc/latch"
  install -d "$stage/DEBIAN"
  local depends; depends="$(shlib_depends "$stage/usr/bin/latch")"
  finish "$stage" "$deb" "Package: latch
Version: $version
Architecture: amd64
Maintainer: $maintainer
Section: admin
Priority: optional
Depends: ${depends:+$depends, }libssl3 | libssl3t64, openssh-client
Description: operator CLI for SSH access to Azure Linux VMs
 latch connect VM resolves the VM through Azure Resource Manager, takes its
 key from Key Vault, makes sure the VM's authorized_keys holds it (by ssh or
 ARM run-command, matched by key identity, never rewriting other lines), then
 runs the system ssh. Also: keys sync/script/generate/rotate/status/lint,
 run-command, ssh-config, audit and doctor."
  rm -rf "$work"
  echo "$deb"
}

built=()
if [ "$which" = agent ] || [ "$which" = all ]; then built+=("$(build_agent)"); fi
if [ "$which" = cli ] || [ "$which" = all ]; then built+=("$(build_cli)"); fi
# keep the three newest cached builds of each package
for kind in agent cli; do
  find "$cache_root" -maxdepth 1 -type d -name "$kind-*" -printf '%T@ %p\n' | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf
done

if [ "$lintian" -eq 1 ]; then
  command -v lintian >/dev/null || { echo "build-deb: --lintian needs lintian (apt-get install lintian)" >&2; exit 2; }
  status=0
  for deb in "${built[@]}"; do
    echo "build-deb: lintian $(basename "$deb")" >&2
    report="$(lintian --tag-display-limit 0 "$deb" 2>&1 || true)"
    [ -n "$report" ] && echo "$report" >&2
    if grep -q '^E: ' <<<"$report"; then status=1; fi
  done
  [ "$status" -eq 0 ] || { echo "build-deb: lintian reported errors" >&2; exit 1; }
fi
printf '%s\n' "${built[@]}"
