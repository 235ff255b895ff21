#!/usr/bin/env bash
# Builds Latch and runs every test; ends with "N passed, N failed, N skipped" counted from the TRX results.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-deps.sh
results=artifacts/test-results
rm -rf "$results"
dotnet build Latch.slnx -nologo -v quiet -warnaserror
set +e
dotnet test --solution Latch.slnx --no-build --report-trx --results-directory "$results" "$@"
status=$?
set -e
passed=0; failed=0; skipped=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { local v; v=$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"); echo "${v:-0}"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
# a test host that crashed leaves no TRX: count it as a failure rather than print a green line
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] || exit 1
