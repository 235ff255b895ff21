#!/usr/bin/env bash
# Runs Latch's benchmarks in Release and prints plain tables (operation, mean, allocated, goal, verdict).
#   bench/run.sh core    Latch.Core: authorized_keys parse/serialise/merge on 100k lines, fingerprints
#   bench/run.sh provision  latchd vs Debian's waagent in rig VMs: start to Ready, peak and idle RSS (root)
#   bench/run.sh cli     latch CLI vs the emulator: connect overhead, first sync, keys sync --all over 1,000 VMs (root)
#   bench/run.sh guard   key guard: AuthorizedKeysCommand latency (vs an EIC-style script), restore latency, idle RSS/CPU (root)
#   bench/run.sh fleet   Key Vault pull of a simulated fleet vs the emulator's service limit: req/s, 429s, staleness (root)
#   bench/run.sh all     every suite above (each case of this script, in order), headed by the date and the machine
# A new suite is one more case below: 'all' finds it by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# the suite names: every "  name)" case label of this script except all and the fallback
suites() { sed -n 's/^  \([a-z][a-z0-9-]*\))$/\1/p' "$0" | grep -vx all; }

suite="${1:-}"
case "$suite" in
  all)
    echo "Latch benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
    model="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "machine: $(nproc) cores, ${model:-unknown CPU}, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
    failed=()
    for name in $(suites); do
      echo
      echo "== $name =="
      if [ "$(id -u)" -ne 0 ] && [ "$name" != core ]; then
        echo "(skipped: needs root, like the rig it runs on)"
        continue
      fi
      if ! bash "$0" "$name"; then failed+=("$name"); fi
    done
    echo
    if [ ${#failed[@]} -gt 0 ]; then
      echo "bench all: these suites failed or missed a goal: ${failed[*]}" >&2
      exit 1
    fi
    ;;
  core)
    # BenchmarkDotNet's own progress goes to a log; the table is the last thing printed
    log="$(mktemp -t latch-bench-core.XXXXXX)"
    if dotnet run -c Release --project bench/Latch.Bench -- core >"$log" 2>&1; then status=0; else status=$?; fi
    sed -n '/^operation  /,$p' "$log"
    if [ "$status" -ne 0 ]; then
      if ! grep -q '^operation  ' "$log"; then tail -40 "$log" >&2; fi
      echo "bench core: some benchmarks missed their goal or failed (full log: $log)" >&2
      exit "$status"
    fi
    rm -f "$log"
    ;;
  provision)
    # progress per round goes to stderr; the table to stdout
    dotnet run -c Release --project bench/Latch.Bench.Provision
    ;;
  cli)
    # progress to stderr; the table to stdout
    bash bench/cli.sh
    ;;
  guard)
    # the shipped binary: a NativeAOT latchd, and the emulator for the EIC-style comparison's IMDS (needs root)
    out=artifacts/bench/latchd
    dotnet publish src/Latch.Agent -c Release -r linux-x64 -o "$out" -nologo -v q >/dev/null
    dotnet publish src/Latch.Akc -c Release -r linux-x64 -o "$out" -nologo -v q >/dev/null
    dotnet build src/Latch.Emulator -c Release -nologo -v q >/dev/null
    emulator="$(ls src/Latch.Emulator/bin/Release/net*/latch-emulator.dll | head -1)"
    dotnet run -c Release --project bench/Latch.Bench -- guard "$PWD/$out/latchd" "$PWD/$emulator"
    ;;
  fleet)
    # N simulated VMs (the real Key Vault pull + poll schedule) against the emulator's Key Vault with a service limit,
    # on a clock x SCALE (needs root); FLEET_VMS / FLEET_SCALE override 2000 / 4
    dotnet run -c Release --project bench/Latch.Bench.Fleet -- --vms "${FLEET_VMS:-2000}" --scale "${FLEET_SCALE:-4}"
    ;;
  *)
    echo "usage: bench/run.sh all|$(suites | paste -sd'|')" >&2
    exit 2
    ;;
esac
