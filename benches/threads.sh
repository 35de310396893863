#!/usr/bin/env bash
# The threads benchmark (issue 10): benches/par, a rayon program built for
# wasm32-wasip1-threads and natively, run as an aot executable, under wasmtime 46 (the last
# wasmtime with wasi-threads: `-W threads=y -W shared-memory=y -S threads=y`, precompiled)
# and natively, each with 1 and 2 threads: a map-reduce and two parallel sorts (par_sort_unstable, par_sort), their times,
# the speed-up from 1 to 2 threads per runner and the ratios between runners. Then two
# micro-benchmarks: an uncontended std Mutex lock/unlock pair and a std::thread
# spawn+join, as (t(N) - t(0)) / N so start-up cancels out. Then the executable sizes.
# Every runner's output (a checksum) must equal native's with 1 thread, else it is not
# timed. Medians of RUNS runs; the ratios are computed from this run only.
#
# Usage: benches/threads.sh          (RUNS=5; QUICK=1 for tiny inputs, to test the script)
# run.sh calls it last. Needs: cargo with the wasm32-wasip1-threads target, python3.
# Uses hyperfine when installed and wasmtime 46 when found (AOT_WASMTIME46, else
# target/toolchains/wasmtime46/wasmtime_cli/wasmtime; AOT_WASMTIME46=none runs without it).
# rayon comes from crates.io (benches/par/Cargo.lock pins it).
#
# SESSION_NICE=-20 (root, or CAP_SYS_NICE): time in a session of its own at that nice level.
# Linux's autogroup scheduling (kernel.sched_autogroup_enabled) divides the CPU between
# sessions, not processes, so on a machine busy with other sessions' work a run gets a
# fraction of one core whatever its thread count, plain `nice` does not help, and a
# 2-thread speed-up cannot show. The setting takes the cores from the other sessions for
# the duration of the runs: opt-in, for measuring the speed-up on a shared machine.
set -euo pipefail

RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PAR_TARGET=$TARGET_DIR/bench-par
OUT=$TARGET_DIR/bench/threads
mkdir -p "$OUT"

# Sized for ~0.6 s of CPU in a native run with 1 thread on the reference machine (2 shared
# EPYC cores; its wall time is longer when other work shares the cores);
# a spawn+join takes 0.1-0.3 ms under the wasm runtimes here, so SPAWNS is small.
if [[ ${QUICK:-0} == 1 ]]; then
  PROGRAMS=("mapreduce 100000" "sort 100000" "mergesort 100000")
  MUTEX_PAIRS=100000
  SPAWNS=20
  RUNS=${RUNS_QUICK:-3}
else
  PROGRAMS=("mapreduce 150000000" "sort 20000000" "mergesort 20000000")
  MUTEX_PAIRS=100000000
  SPAWNS=2000
fi
THREADS=(1 2)

note() { printf '%s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------
WT=${AOT_WASMTIME46:-$ROOT/target/toolchains/wasmtime46/wasmtime_cli/wasmtime}
if [[ $WT == none ]]; then
  WT=""
elif [[ ! -x $WT ]]; then
  note "wasmtime 46 not found ($WT; set AOT_WASMTIME46): its columns are n/a"
  WT=""
fi
WT_FLAGS=(-W threads=y -W shared-memory=y)
HYPERFINE=$(command -v hyperfine || true)
# PRIO: the prefix that runs a timed command (hyperfine, or each run without it) under
# SESSION_NICE.
PRIO=()
if [[ -n ${SESSION_NICE:-} ]]; then
  # shellcheck disable=SC2016
  PRIO=(setsid --wait sh -c 'echo "$0" >/proc/self/autogroup && exec "$@"' "$SESSION_NICE")
  if ! "${PRIO[@]}" true 2>/dev/null; then
    note "cannot set this session's autogroup nice to $SESSION_NICE (needs root or CAP_SYS_NICE, and autogroups): timing without it"
    PRIO=()
  fi
fi

echo
echo "== threads (benches/threads.sh)"
echo "nproc $(nproc), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wasmtime 46: ${WT:-not found}${WT:+ ($("$WT" --version))}"
echo "runs per measurement: $RUNS (median)"
echo "autogroup scheduling: $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?'); timed in a session of its own at nice: $( ((${#PRIO[@]})) && echo "$SESSION_NICE" || echo "no (SESSION_NICE unset)")"

# --- builds ------------------------------------------------------------------------
note "building: benches/par (wasm32-wasip1-threads and native), aot (release)"
cargo build --quiet --release --manifest-path "$ROOT/benches/par/Cargo.toml" --target-dir "$PAR_TARGET" --target wasm32-wasip1-threads
cargo build --quiet --release --manifest-path "$ROOT/benches/par/Cargo.toml" --target-dir "$PAR_TARGET"
# AOT_EXE: an aot compiler already built (say target/debug/aot), instead of the release build.
if [[ -n ${AOT_EXE:-} ]]; then
  AOT=$AOT_EXE
else
  cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p aot
  AOT=$TARGET_DIR/release/aot
fi
WASM=$PAR_TARGET/wasm32-wasip1-threads/release/par.wasm
NATIVE=$PAR_TARGET/release/par

# --- timing helpers (as in run.sh) ---------------------------------------------------
# median_of CMD... -> median wall time in seconds of RUNS runs (stdout and stderr discarded:
# wasmtime 46 warns about -S threads on stderr). Also writes the mean CPU time (user +
# system, all threads) of those runs to $CPU_FILE, nan without hyperfine: on a busy
# machine a process gets a share of the cores, and its CPU time says what work it did.
CPU_FILE=$OUT/cpu.last
median_of() {
  echo nan >"$CPU_FILE"
  if [[ -n $HYPERFINE ]]; then
    local json=$OUT/hf.json
    "${PRIO[@]}" "$HYPERFINE" -N --style none --warmup 1 --runs "$RUNS" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
      || { echo "nan"; return; }
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["user"]+r["system"], file=open(sys.argv[2],"w")); print(r["median"])' "$json" "$CPU_FILE"
  else
    local times=()
    "$@" >/dev/null 2>&1 || { echo "nan"; return; }
    for _ in $(seq "$RUNS"); do
      local t0 t1
      t0=$(date +%s%N); "${PRIO[@]}" "$@" >/dev/null 2>&1; t1=$(date +%s%N)
      times+=("$(( t1 - t0 ))")
    done
    printf '%s\n' "${times[@]}" | sort -n | python3 -c 'import sys,statistics; print(statistics.median(int(l) for l in sys.stdin)/1e9)'
  fi
}
fmt_s() { python3 -c 'import sys; v=float(sys.argv[1]); print("n/a" if v != v else f"{v*1000:.1f} ms" if v < 1 else f"{v:.3f} s")' "$1"; }
ratio() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("n/a" if a!=a or b!=b or b==0 else f"{a/b:.2f}x")' "$1" "$2"; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
# per_op T(N) T(0) N SCALE -> (T(N) - T(0)) / N * SCALE, one decimal, or n/a.
per_op() { python3 -c 'import sys; a,b,n,s=map(float,sys.argv[1:]); print("n/a" if a!=a or b!=b else f"{(a-b)/n*s:.1f}")' "$@"; }

# --- compile -----------------------------------------------------------------------
# A runner is a command prefix before the program's arguments; "" when it is missing.
AOT_RUN=""; WT_RUN=""
if "$AOT" "$WASM" -o "$OUT/par" 2>"$OUT/par.aot-err"; then
  AOT_RUN="$OUT/par"
else
  note "aot failed to compile par.wasm: $(head -c 300 "$OUT/par.aot-err")"
fi
if [[ -n $WT ]]; then
  if "$WT" compile "${WT_FLAGS[@]}" "$WASM" -o "$OUT/par.cwasm" 2>"$OUT/par.wt-err"; then
    WT_RUN="$WT run --allow-precompiled ${WT_FLAGS[*]} -S threads=y $OUT/par.cwasm"
  else
    note "wasmtime 46 failed to compile par.wasm: $(head -c 300 "$OUT/par.wt-err")"
  fi
fi

# time_runner RUNNER EXPECTED ARGS... -> median seconds, or nan when the runner is missing or
# prints other than EXPECTED (word splitting of RUNNER is intended: no spaces in paths).
time_runner() {
  local runner=$1 expected=$2 got; shift 2
  echo nan >"$CPU_FILE"
  [[ -n $runner ]] || { echo nan; return; }
  # shellcheck disable=SC2086
  if ! got=$($runner "$@" 2>"$OUT/last-err"); then
    note "$runner $* failed: $(head -c 300 "$OUT/last-err")"; echo nan; return
  fi
  if [[ $got != "$expected" ]]; then
    note "$runner $* printed '$got', native '$expected': not timed"; echo nan; return
  fi
  # shellcheck disable=SC2086
  median_of $runner "$@"
}

# --- parallel programs -------------------------------------------------------------
echo
echo "== threads: rayon map-reduce, par_sort_unstable and par_sort, 1 and 2 threads (median of $RUNS; ours = aot executable; wasmtime 46 = run --allow-precompiled of a .cwasm)"
printf '%-22s %8s %12s %12s %12s %16s %12s\n' program threads native "wasmtime 46" ours ours/wasmtime46 ours/native
declare -A CPU=()
for p in "${PROGRAMS[@]}"; do
  read -r what n <<<"$p"
  expected=$("$NATIVE" "$what" "$n" 1)
  declare -A T=()
  for t in "${THREADS[@]}"; do
    T[native$t]=$(time_runner "$NATIVE" "$expected" "$what" "$n" "$t"); CPU[$p native$t]=$(cat "$CPU_FILE")
    T[wt$t]=$(time_runner "$WT_RUN" "$expected" "$what" "$n" "$t"); CPU[$p wt$t]=$(cat "$CPU_FILE")
    T[ours$t]=$(time_runner "$AOT_RUN" "$expected" "$what" "$n" "$t"); CPU[$p ours$t]=$(cat "$CPU_FILE")
    printf '%-22s %8s %12s %12s %12s %16s %12s\n' "$p" "$t" "$(fmt_s "${T[native$t]}")" "$(fmt_s "${T[wt$t]}")" \
      "$(fmt_s "${T[ours$t]}")" "$(ratio "${T[ours$t]}" "${T[wt$t]}")" "$(ratio "${T[ours$t]}" "${T[native$t]}")"
  done
  printf '%-22s %8s %12s %12s %12s\n' "$p" "speed-up" "$(ratio "${T[native1]}" "${T[native2]}")" \
    "$(ratio "${T[wt1]}" "${T[wt2]}")" "$(ratio "${T[ours1]}" "${T[ours2]}")"
  unset T
done
echo "CPU time of the same runs (user + system of all threads, mean): the work done, whatever share of the cores the runs got;"
echo "\"2/1\" is CPU time with 2 threads over 1 thread (the cost of going parallel: 1.00x = none)"
printf '%-22s %8s %12s %12s %12s %16s %12s\n' program threads native "wasmtime 46" ours ours/wasmtime46 ours/native
for p in "${PROGRAMS[@]}"; do
  for t in "${THREADS[@]}"; do
    printf '%-22s %8s %12s %12s %12s %16s %12s\n' "$p" "$t" "$(fmt_s "${CPU[$p native$t]}")" "$(fmt_s "${CPU[$p wt$t]}")" \
      "$(fmt_s "${CPU[$p ours$t]}")" "$(ratio "${CPU[$p ours$t]}" "${CPU[$p wt$t]}")" "$(ratio "${CPU[$p ours$t]}" "${CPU[$p native$t]}")"
  done
  printf '%-22s %8s %12s %12s %12s\n' "$p" "2/1" "$(ratio "${CPU[$p native2]}" "${CPU[$p native1]}")" \
    "$(ratio "${CPU[$p wt2]}" "${CPU[$p wt1]}")" "$(ratio "${CPU[$p ours2]}" "${CPU[$p ours1]}")"
done

# --- micro-benchmarks --------------------------------------------------------------
echo
echo "== threads micro-benchmarks: (t(N) - t(0)) / N of the median times of $RUNS runs"
printf '%-36s %10s %12s %10s %16s %12s\n' "" native "wasmtime 46" ours ours/wasmtime46 ours/native
ratio_op() { if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; else ratio "$1" "$2"; fi; }
micro() { # label, what, N, scale (per second)
  local label=$1 what=$2 n=$3 scale=$4 r name e0 en t0 tn
  local -A per=()
  e0=$("$NATIVE" "$what" 0); en=$("$NATIVE" "$what" "$n")
  for name in native wt ours; do
    case $name in native) r=$NATIVE ;; wt) r=$WT_RUN ;; ours) r=$AOT_RUN ;; esac
    t0=$(time_runner "$r" "$e0" "$what" 0)
    tn=$(time_runner "$r" "$en" "$what" "$n")
    per[$name]=$(per_op "$tn" "$t0" "$n" "$scale")
  done
  printf '%-36s %10s %12s %10s %16s %12s\n' "$label" "${per[native]}" "${per[wt]}" "${per[ours]}" \
    "$(ratio_op "${per[ours]}" "${per[wt]}")" "$(ratio_op "${per[ours]}" "${per[native]}")"
}
micro "Mutex lock+unlock, ns per pair" mutex "$MUTEX_PAIRS" 1e9
micro "thread spawn+join, us each (mean)" spawn "$SPAWNS" 1e6
echo "(N = $MUTEX_PAIRS pairs on one thread, uncontended; $SPAWNS std::thread spawns, each joined before the next)"
# The same spawns timed inside the program: the median is robust to the scheduling delays
# (a time slice, ~4 ms) that a busy machine adds to a percent or so of the spawns and that
# dominate the mean above; the two phases say whether the time goes to starting a thread or
# to ending and joining it.
for name in native wt ours; do
  case $name in native) r=$NATIVE; label=native ;; wt) r=$WT_RUN; label="wasmtime 46" ;; ours) r=$AOT_RUN; label=ours ;; esac
  [[ -n $r ]] || continue
  # shellcheck disable=SC2086
  phases=$("${PRIO[@]}" $r spawn-phases "$SPAWNS" 2>&1 >/dev/null | grep '^spawn+join' || echo "failed")
  printf '%-12s %s\n' "$label" "$phases"
done

# --- size --------------------------------------------------------------------------
echo
echo "== threads: executable size of benches/par (bytes)"
printf '%-40s %12s\n' "par.wasm (wasm32-wasip1-threads)" "$(size_of "$WASM")" \
  "aot executable (x86_64, static, stripped)" "$( [[ -n $AOT_RUN ]] && size_of "$OUT/par" || echo n/a)" \
  ".cwasm (wasmtime 46)" "$( [[ -n $WT_RUN ]] && size_of "$OUT/par.cwasm" || echo n/a)" \
  "native (glibc, dynamic)" "$(size_of "$NATIVE")"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
