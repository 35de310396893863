#!/usr/bin/env bash
# Runs every test: installs what is missing (scripts/setup.sh), then `cargo test --workspace`
# (unit tests, end-to-end tests and the spec suite on x86_64 and, under qemu, aarch64), and
# prints a summary of the results. Exits non-zero if anything fails.
# Extra arguments go to cargo, e.g. `scripts/test.sh --release`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?

echo
echo "== summary =="
grep -E '^ +Running |^test result: |^spec: ' "$log" | sed -E 's/^ +Running /Running /' || true
if ((status != 0)); then
    echo "FAILED (cargo test exited with status $status)"
else
    echo "all tests passed"
fi
exit "$status"
