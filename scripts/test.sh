#!/usr/bin/env bash
# Installs what is missing (scripts/setup.sh), then builds and runs the whole test suite in an
# optimized (release) build: the numeric tests compare against reference fixtures and must run
# on the code users run.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$(scripts/setup.sh | tail -n 1)
export ADAPTERPS_MODEL="$MODEL"
echo "test: building in release (first build takes a few minutes on 2 cores)" >&2
swift build -c release --build-tests
# The release build of the CLI is what the end-to-end tests run.
export ADAPTERPS_BIN="$PWD/$(swift build -c release --show-bin-path)/adapterps"
swift test -c release --skip-build "$@"
