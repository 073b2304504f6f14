#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then builds and runs the whole test suite in an
# optimized (release) build: the numeric tests compare against reference fixtures and must run on
# the code users run. Extra arguments go to `swift test` (e.g. --filter TinyModelTests).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$(scripts/setup.sh | tail -n 1)
export ADAPTERPS_MODEL="$MODEL"
echo "test: building in release (the first build takes several minutes on 2 cores)" >&2
swift build -c release --build-tests 2>&1 | grep -vE "prohibited flag|^\[" || true
# The end-to-end tests run this binary, as a user would.
export ADAPTERPS_BIN="$(swift build -c release --show-bin-path)/adapterps"
log=$(mktemp)
status=0
swift test -c release --skip-build --disable-swift-testing "$@" 2>&1 | tee "$log" || status=$?
# One plain closing line with the XCTest totals.
summary=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with [0-9]+ failures?" "$log" | tail -n 1 || true)
rm -f "$log"
if [ -n "$summary" ]; then
    total=$(echo "$summary" | sed -E 's/^[[:space:]]*Executed ([0-9]+) tests?.*/\1/')
    failed=$(echo "$summary" | sed -E 's/.*with ([0-9]+) failures?.*/\1/')
    echo "$((total - failed)) passed, $failed failed"
fi
exit "$status"
