#!/usr/bin/env bash
# Runs every test: installs what is missing (scripts/setup.sh), then `cargo test --workspace`
# (unit tests, end-to-end tests and the spec suite on x86_64 and, under qemu, aarch64), and
# prints a summary of the results. Exits non-zero if anything fails.
# Extra arguments go to cargo, e.g. `scripts/test.sh --release`.
# Debug by default: on 2 shared cores the release build of the workspace took 13 min
# (12 min of CPU), and it saves only ~25 s on the spec suite (43 s -> 20 s, both targets)
# and ~45 s on the examples (63 s -> 20 s); debug builds also keep overflow checks on.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# CI builds once from a clean clone: incremental caches would only take disk (gigabytes).
if [[ "${CI:-}" == true ]]; then
    export CARGO_INCREMENTAL=0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?
# The spec suite once more with explicit bounds checks instead of guard pages (x86_64), and
# with every loop of the shape `aot` can unroll unrolled (the translation is the same for
# both targets; by default only a few loops are).
if ((status == 0)); then
    AOT_SPEC_BOUNDS=explicit AOT_SPEC_UNROLL=every AOT_SPEC_TARGET=x86_64 cargo test -p aot-tests --test spec "$@" 2>&1 |
        sed -E 's/^spec: ([0-9]+ passed)/spec-explicit-bounds: \1/' | tee -a "$log" || status=$?
fi

echo
echo "== summary =="
grep -E '^ +(Running|Doc-tests) |^test result: |^[a-z_-]+: [0-9]+ (passed|ok)' "$log" | sed -E 's/^ +//' || true
if ((status != 0)); then
    echo "FAILED (cargo test exited with status $status)"
else
    echo "all tests passed"
fi
exit "$status"
