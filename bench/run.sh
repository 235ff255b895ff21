#!/usr/bin/env bash
# Runs Latch's benchmarks in Release and prints plain tables (operation, mean, allocated, goal, verdict).
#   bench/run.sh core    Latch.Core: authorized_keys parse/serialise/merge on 100k lines, fingerprints
#   bench/run.sh provision  latchd vs Debian's waagent in rig VMs: start to Ready, peak and idle RSS (root)
#   bench/run.sh cli     latch CLI vs the emulator: connect overhead, first sync, keys sync --all over 1,000 VMs (root)
#   bench/run.sh guard   key guard: AuthorizedKeysCommand latency (vs an EIC-style script), restore latency, idle RSS/CPU (root)
#   bench/run.sh fleet   Key Vault pull of a simulated fleet vs the emulator's service limit: req/s, 429s, staleness (root)
# More suites (provision, guard, cli, all) plug in as further cases below.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

suite="${1:-}"
case "$suite" in
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
    echo "usage: bench/run.sh core|provision|cli|guard|fleet" >&2
    exit 2
    ;;
esac
