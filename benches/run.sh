#!/usr/bin/env bash
# The benchmark: the 11-program corpus (hash, nbody, json from examples/rust; markdown,
# regexp, deflate, sqlite, fannkuch, js, script, imgproc from benches/corpus, its own
# workspace with pinned crates.io dependencies, see benches/corpus/README.md) run as `aot`
# executables, under `wasmtime run` of a precompiled module, and as native Rust builds of the
# same source, each runner's output checked against native's before it is timed, then the
# geomeans of aot/native, aot/wasmtime and wasmtime/native over the programs all three ran;
# then SIMD builds (`-C target-feature=+simd128`) of the programs with SIMD paths
# (hash, json, and blake3-hash, textsearch, imgresize, whose crates have WebAssembly SIMD
# code) against native builds with their own SIMD; tail-call and exception micro-benchmarks
# (benches/tailcall.wat, benches/exceptions.wat); start-up time (hello), compile time (aot vs `wasmtime compile`)
# and executable sizes; then the same for the programs as wasm32-wasip2 components; then the
# threads benchmark (benches/threads.sh: rayon with 1 and 2 threads against wasmtime 46
# and native, Mutex and spawn+join costs).
# Medians of RUNS runs; the ratios are computed from this run only.
#
# Usage: benches/run.sh            (RUNS=5; QUICK=1 for tiny inputs, to test the script)
#   ONLY=corpus   only the main table and its geomeans (builds no SIMD, component or threads
#                 programs, and compiles each program once without timing the compile)
#   AOT_EXE=PATH  use that aot binary instead of building release aot (say target/debug/aot:
#                 the generated code does not depend on aot's build profile, its compile
#                 times do)
# Needs: cargo with the wasm32-wasip1 target, python3, and for sqlite (SQLite's C source)
# clang-19 with Debian's wasi-libc and an llvm-ar (AOT_AR to choose one); without them
# sqlite is left out with a note. The first build of the corpus takes ~15 min on 2 cores
# (boa is large). Uses hyperfine when installed
# (else times runs itself) and wasmtime when found (AOT_WASMTIME, the pip package's real
# binary, or PATH; AOT_WASMTIME=none runs without it). Not run by `cargo test`. Installs
# nothing.
set -euo pipefail

RUNS=${RUNS:-5}
# A start-up is about a millisecond: many more runs for a stable median.
STARTUP_RUNS=${STARTUP_RUNS:-300}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
EX=$TARGET_DIR/examples
OUT=$TARGET_DIR/bench
mkdir -p "$OUT"

ONLY=${ONLY:-all}
case $ONLY in all | corpus) ;; *) echo "ONLY=$ONLY: expected corpus (or all)" >&2; exit 2 ;; esac

# Inputs sized for ~0.3-1 s native runs on the reference machine (2 shared EPYC cores).
# PROGRAMS are examples/rust programs; CORPUS are benches/corpus programs.
if [[ ${QUICK:-0} == 1 ]]; then
  PROGRAMS=("hash 4" "nbody 200000" "json 128 1")
  CORPUS=("markdown 30" "regexp 2" "deflate 1" "sqlite 1000" "fannkuch 8" "js 4" "script 2" "imgproc 64")
  SIMD_PROGRAMS=("hash 4" "json 128 1" "blake3-hash 16" "textsearch 1 2" "imgresize 1")
  TAILCALL_STEPS=1000000
  EXCEPTION_THROWS=10000
  RUNS=${RUNS_QUICK:-3}
else
  PROGRAMS=("hash 128" "nbody 10000000" "json 2048 4")
  CORPUS=("markdown 3000" "regexp 250" "deflate 4" "sqlite 150000" "fannkuch 10 3" "js 40" "script 60" "imgproc 1200")
  SIMD_PROGRAMS=("hash 128" "json 2048 4" "blake3-hash 2048" "textsearch 8 30" "imgresize 4")
  TAILCALL_STEPS=300000000
  # wasmtime takes ~12 us a throw here: 300,000 is a few seconds for it.
  EXCEPTION_THROWS=300000
fi

note() { printf '%s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------
find_wasmtime() {
  if [[ -n ${AOT_WASMTIME:-} ]]; then echo "$AOT_WASMTIME"; return; fi
  local sp
  sp=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
  if [[ -n $sp && -x $sp/wasmtime_cli/wasmtime ]]; then echo "$sp/wasmtime_cli/wasmtime"; return; fi
  command -v wasmtime || true
}
WT=$(find_wasmtime)
if [[ -n $WT && ! -x $WT ]]; then
  note "wasmtime not found (${WT}): its columns are n/a"
  WT=""
elif [[ -z $WT ]]; then
  note "wasmtime not found: its columns are n/a"
fi
HYPERFINE=$(command -v hyperfine || true)

# --- machine -----------------------------------------------------------------------
echo "== machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(uname -m)), nproc $(nproc)"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rustc: $(rustc --version)"
echo "wasmtime: ${WT:-not found}${WT:+ ($("$WT" --version))}"
echo "hyperfine: ${HYPERFINE:-not installed (timing runs with date)}"
echo "aot: ${AOT_EXE:-release build}, git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
echo "runs per measurement: $RUNS (median)"

# --- builds ------------------------------------------------------------------------
note "building: examples and benches/corpus (wasm32-wasip1 and native)$([[ -n ${AOT_EXE:-} ]] || echo ", aot (release)")"
# SQLite's C source is compiled to wasm32 by Debian's clang-19 against its wasi-libc, which
# knows only the wasm32-wasi triple (the later --target wins over the cc crate's
# wasm32-wasip1); the archive needs an llvm-ar (GNU ar writes no index lld accepts).
find_llvm_ar() {
  if [[ -n ${AOT_AR:-} ]]; then echo "$AOT_AR"; return; fi
  local a
  for a in llvm-ar-19 llvm-ar /usr/lib/llvm-19/bin/llvm-ar $(compgen -c llvm-ar- | sort -rV); do
    command -v "$a" >/dev/null && { command -v "$a"; return; }
  done
}
LLVM_AR=$(find_llvm_ar)
if ! command -v clang-19 >/dev/null || [[ ! -d /usr/include/wasm32-wasi || -z $LLVM_AR ]]; then
  note "clang-19, wasi-libc (/usr/include/wasm32-wasi) or llvm-ar missing: sqlite is left out"
  KEPT=()
  for p in "${CORPUS[@]}"; do [[ ${p%% *} == sqlite ]] || KEPT+=("$p"); done
  CORPUS=("${KEPT[@]}")
fi
CORPUS_PKGS=()
for p in "${CORPUS[@]}"; do CORPUS_PKGS+=(-p "${p%% *}"); done
CX=$TARGET_DIR/corpus
CC_wasm32_wasip1=clang-19 CFLAGS_wasm32_wasip1=--target=wasm32-wasi AR_wasm32_wasip1=$LLVM_AR \
  cargo build --quiet --release --manifest-path "$ROOT/benches/corpus/Cargo.toml" --target-dir "$CX" --target wasm32-wasip1 "${CORPUS_PKGS[@]}"
cargo build --quiet --release --manifest-path "$ROOT/benches/corpus/Cargo.toml" --target-dir "$CX" "${CORPUS_PKGS[@]}"
NAMES=(hello)
for p in "${PROGRAMS[@]}"; do NAMES+=("${p%% *}"); done
PKGS=()
for n in "${NAMES[@]}"; do PKGS+=(-p "$n"); done
SIMD_PKGS=()
for p in "${SIMD_PROGRAMS[@]}"; do SIMD_PKGS+=(-p "${p%% *}"); done
[[ $ONLY == corpus ]] && SIMD_PKGS=()
cargo build --quiet --release --manifest-path "$ROOT/examples/Cargo.toml" --target-dir "$EX" --target wasm32-wasip1 "${PKGS[@]}" "${SIMD_PKGS[@]}"
# Native builds with the default target features: the crates detect and use the CPU's
# SIMD (SSE4.1/AVX2/AVX-512, NEON) at run time.
cargo build --quiet --release --manifest-path "$ROOT/examples/Cargo.toml" --target-dir "$EX" "${PKGS[@]}" "${SIMD_PKGS[@]}"
# The SIMD builds: their own target directory, since RUSTFLAGS changes every crate.
if [[ $ONLY == all ]]; then
  RUSTFLAGS="-C target-feature=+simd128" cargo build --quiet --release --manifest-path "$ROOT/examples/Cargo.toml" \
    --target-dir "$EX/simd128" --target wasm32-wasip1 "${SIMD_PKGS[@]}"
fi
if [[ -n ${AOT_EXE:-} ]]; then
  AOT=$AOT_EXE
  note "AOT_EXE=$AOT_EXE: run times do not depend on aot's build profile, compile times do (compare them only with the same aot build)"
else
  cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" -p aot
  AOT=$TARGET_DIR/release/aot
fi
WASM=$EX/wasm32-wasip1/release
WASM_SIMD=$EX/simd128/wasm32-wasip1/release
NATIVE=$EX/release
# Where each program of the main table lives: examples/ or benches/corpus/.
declare -A WASM_OF NATIVE_OF
for n in "${NAMES[@]}"; do WASM_OF[$n]=$WASM/$n.wasm; NATIVE_OF[$n]=$NATIVE/$n; done
for p in "${CORPUS[@]}"; do
  n=${p%% *}
  NAMES+=("$n"); WASM_OF[$n]=$CX/wasm32-wasip1/release/$n.wasm; NATIVE_OF[$n]=$CX/release/$n
done
MAIN=("${PROGRAMS[@]}" "${CORPUS[@]}")

# --- timing helpers ----------------------------------------------------------------
# median_of CMD... -> median wall time in seconds of RUNS runs (stdout discarded).
median_of() {
  if [[ -n $HYPERFINE ]]; then
    local json=$OUT/hf.json
    "$HYPERFINE" -N --style none --warmup 1 --runs "$RUNS" --export-json "$json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
      || { echo "nan"; return; }
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
  else
    local times=()
    "$@" >/dev/null 2>&1 || { echo "nan"; return; }
    for _ in $(seq "$RUNS"); do
      local t0 t1
      t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
      times+=("$(( t1 - t0 ))")
    done
    printf '%s\n' "${times[@]}" | sort -n | python3 -c 'import sys,statistics; print(statistics.median(int(l) for l in sys.stdin)/1e9)'
  fi
}
fmt_s() { python3 -c 'import sys; v=float(sys.argv[1]); print("n/a" if v != v else f"{v*1000:.1f} ms" if v < 1 else f"{v:.3f} s")' "$1"; }
ratio() { python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("n/a" if a!=a or b!=b or b==0 else f"{a/b:.2f}x")' "$1" "$2"; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }

# --- compile (also timed, unless ONLY=corpus) ----------------------------------------
# compile_time CMD... -> the median time of CMD (it has just succeeded once), or nan
# when only the main table is wanted: the compile-time table is not printed then.
compile_time() { if [[ $ONLY == all ]]; then median_of "$@"; else echo nan; fi; }
declare -A AOT_OK WT_OK AOT_COMPILE WT_COMPILE
for n in "${NAMES[@]}"; do
  w=${WASM_OF[$n]}
  if "$AOT" "$w" -o "$OUT/$n" 2>"$OUT/$n.aot-err"; then
    AOT_OK[$n]=1
    AOT_COMPILE[$n]=$(compile_time "$AOT" "$w" -o "$OUT/$n")
  else
    AOT_OK[$n]=0; AOT_COMPILE[$n]=nan
    note "aot failed to compile $n: $(head -c 300 "$OUT/$n.aot-err")"
  fi
  if [[ -n $WT ]] && "$WT" compile "$w" -o "$OUT/$n.cwasm" 2>/dev/null; then
    WT_OK[$n]=1
    WT_COMPILE[$n]=$(compile_time "$WT" compile "$w" -o "$OUT/$n.cwasm")
  else
    WT_OK[$n]=0; WT_COMPILE[$n]=nan
  fi
done

# Checks that a runner prints what native prints before timing it.
same_output() { # expected-file cmd...
  local got
  got=$("${@:2}" 2>/dev/null) || return 1
  [[ $got == "$(cat "$1")" ]]
}

# --- run time ----------------------------------------------------------------------
echo
echo "== run time (median of $RUNS; ours = aot executable; wasmtime = run --allow-precompiled of a .cwasm)"
printf '%-18s %12s %12s %12s %14s %14s %16s\n' program native wasmtime ours ours/wasmtime ours/native wasmtime/native
: >"$OUT/main-times"
for p in "${MAIN[@]}"; do
  read -r n args <<<"$p"
  read -r -a argv <<<"$args"
  "${NATIVE_OF[$n]}" "${argv[@]}" >"$OUT/$n.expected"
  t_native=$(median_of "${NATIVE_OF[$n]}" "${argv[@]}")
  t_wt=nan; t_ours=nan
  if [[ ${WT_OK[$n]} == 1 ]]; then
    if same_output "$OUT/$n.expected" "$WT" run --allow-precompiled "$OUT/$n.cwasm" "${argv[@]}"; then
      t_wt=$(median_of "$WT" run --allow-precompiled "$OUT/$n.cwasm" "${argv[@]}")
    else
      note "wasmtime output of $p differs from native; not timed"
    fi
  fi
  if [[ ${AOT_OK[$n]} == 1 ]]; then
    if same_output "$OUT/$n.expected" "$OUT/$n" "${argv[@]}"; then
      t_ours=$(median_of "$OUT/$n" "${argv[@]}")
    else
      note "aot executable for $p fails or prints something else; not timed: $("$OUT/$n" "${argv[@]}" 2>&1 | head -c 300 || true)"
    fi
  fi
  printf '%-18s %12s %12s %12s %14s %14s %16s\n' "$p" "$(fmt_s "$t_native")" "$(fmt_s "$t_wt")" "$(fmt_s "$t_ours")" \
    "$(ratio "$t_ours" "$t_wt")" "$(ratio "$t_ours" "$t_native")" "$(ratio "$t_wt" "$t_native")"
  echo "$n $t_native $t_wt $t_ours" >>"$OUT/main-times"
done
# Geomeans over the programs that all three runners ran (a failed runner's nan leaves the
# program out, and the count says so).
python3 - "$OUT/main-times" "${#MAIN[@]}" <<'PY'
import math, sys
rows = [tuple(map(float, l.split()[1:])) for l in open(sys.argv[1])]
rows = [r for r in rows if all(v == v and v > 0 for v in r)]
def geo(pairs):
    return math.exp(sum(math.log(a / b) for a, b in pairs) / len(pairs))
if rows:
    print(f"geomean over {len(rows)} of {sys.argv[2]} programs: "
          f"aot/native {geo([(o, n) for n, w, o in rows]):.2f}x, "
          f"aot/wasmtime {geo([(o, w) for n, w, o in rows]):.2f}x, "
          f"wasmtime/native {geo([(w, n) for n, w, o in rows]):.2f}x")
else:
    print(f"geomean: no program of {sys.argv[2]} ran under all three runners")
PY
if [[ $ONLY == corpus ]]; then
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

# --- SIMD ---------------------------------------------------------------------------
# The same source built twice for wasm32-wasip1, without and with `+simd128`, each run as
# an aot executable and under wasmtime (precompiled); native with its own SIMD. The last
# columns: what SIMD gains under aot (plain / simd), and aot with SIMD against wasmtime
# with SIMD and against native. wasmtime compiles for the CPU it runs on, aot for
# x86-64-v2 unless told: "ours+simd native" is the SIMD build with `--cpu native` (AVX
# encodings, AVX2, FMA where the machine has them), the like-for-like comparison.
# time_aot / time_wasmtime NAME WASM EXPECTED ARGS... -> median seconds of the aot
# executable $OUT/NAME (compiled with AOT_FLAGS) / of `wasmtime run` of $OUT/NAME.cwasm,
# or nan when it does not compile or prints other than EXPECTED.
AOT_FLAGS=()
time_aot() {
  local name=$1 wasm=$2 expected=$3; shift 3
  if ! "$AOT" "$wasm" -o "$OUT/$name" "${AOT_FLAGS[@]}" 2>"$OUT/$name.aot-err"; then
    note "aot failed to compile $name: $(head -c 300 "$OUT/$name.aot-err")"; echo nan; return
  fi
  if ! same_output "$expected" "$OUT/$name" "$@"; then
    note "aot executable $name fails or prints something else; not timed"; echo nan; return
  fi
  median_of "$OUT/$name" "$@"
}
time_wasmtime() {
  local name=$1 wasm=$2 expected=$3; shift 3
  [[ -n $WT ]] || { echo nan; return; }
  if ! "$WT" compile "$wasm" -o "$OUT/$name.cwasm" 2>/dev/null; then
    note "wasmtime failed to compile $name"; echo nan; return
  fi
  if ! same_output "$expected" "$WT" run --allow-precompiled "$OUT/$name.cwasm" "$@"; then
    note "wasmtime output of $name differs from native; not timed"; echo nan; return
  fi
  median_of "$WT" run --allow-precompiled "$OUT/$name.cwasm" "$@"
}
echo
echo "== SIMD: wasm32-wasip1 built with and without -C target-feature=+simd128 (median of $RUNS); native = default target features, SIMD detected at run time"
printf '%-20s %10s %10s %10s %12s %12s %11s %12s %13s %15s %12s\n' program native wasmtime ours "wasmtime+simd" "ours+simd" "simd gain" "ours/wt simd" "ours/native" "ours+simd native" "ratio to wt"
for p in "${SIMD_PROGRAMS[@]}"; do
  read -r n args <<<"$p"
  read -r -a argv <<<"$args"
  "$NATIVE/$n" "${argv[@]}" >"$OUT/$n.simd-expected"
  t_native=$(median_of "$NATIVE/$n" "${argv[@]}")
  t_wt=$(time_wasmtime "$n.plain" "$WASM/$n.wasm" "$OUT/$n.simd-expected" "${argv[@]}")
  t_ours=$(time_aot "$n.plain" "$WASM/$n.wasm" "$OUT/$n.simd-expected" "${argv[@]}")
  t_wts=$(time_wasmtime "$n.simd" "$WASM_SIMD/$n.wasm" "$OUT/$n.simd-expected" "${argv[@]}")
  t_ourss=$(time_aot "$n.simd" "$WASM_SIMD/$n.wasm" "$OUT/$n.simd-expected" "${argv[@]}")
  t_oursn=$(AOT_FLAGS=(--cpu native); time_aot "$n.simd-native" "$WASM_SIMD/$n.wasm" "$OUT/$n.simd-expected" "${argv[@]}")
  printf '%-20s %10s %10s %10s %12s %12s %11s %12s %13s %15s %12s\n' "$p" "$(fmt_s "$t_native")" "$(fmt_s "$t_wt")" "$(fmt_s "$t_ours")" \
    "$(fmt_s "$t_wts")" "$(fmt_s "$t_ourss")" "$(ratio "$t_ours" "$t_ourss")" "$(ratio "$t_ourss" "$t_wts")" "$(ratio "$t_ourss" "$t_native")" \
    "$(fmt_s "$t_oursn")" "$(ratio "$t_oursn" "$t_wts")"
done

# --- tail calls and exceptions -------------------------------------------------------
# Micro-benchmarks written in WAT, compiled from text by both: a four-state machine passing
# control with return_call and return_call_indirect in constant stack (benches/tailcall.wat),
# and throws through 8 frames caught by tag (benches/exceptions.wat).
micro() { # name, file, argument, what
  local name=$1 file=$2 arg=$3 expected=$OUT/$1.expected t_ours=nan t_wt=nan
  echo
  echo "== $name: $file, $4 (median of $RUNS)"
  if [[ -n $WT ]]; then
    "$WT" run "$file" "$arg" >"$expected" 2>/dev/null || note "wasmtime failed to run $file"
    t_wt=$(time_wasmtime "$name" "$file" "$expected" "$arg")
    t_ours=$(time_aot "$name" "$file" "$expected" "$arg")
  else
    # Without the reference, the result is not checked: only timed.
    "$AOT" "$file" -o "$OUT/$name" && t_ours=$(median_of "$OUT/$name" "$arg")
  fi
  printf '%-40s %12s\n' "ours (aot executable)" "$(fmt_s "$t_ours")" "wasmtime run --allow-precompiled .cwasm" "$(fmt_s "$t_wt")"
  echo "ours / wasmtime: $(ratio "$t_ours" "$t_wt")"
}
micro tailcall "$ROOT/benches/tailcall.wat" "$TAILCALL_STEPS" "$TAILCALL_STEPS return_call/return_call_indirect steps"
micro exceptions "$ROOT/benches/exceptions.wat" "$EXCEPTION_THROWS" "$EXCEPTION_THROWS throws through 8 frames, caught by tag"

# --- start-up ----------------------------------------------------------------------
echo
echo "== start-up: hello world (median of $STARTUP_RUNS)"
t_ours=nan; t_wt=nan; t_wtc=nan
[[ ${AOT_OK[hello]} == 1 ]] && same_output <(echo "Hello, world!") "$OUT/hello" && t_ours=$(RUNS=$STARTUP_RUNS median_of "$OUT/hello")
if [[ -n $WT ]]; then
  t_wt=$(RUNS=$STARTUP_RUNS median_of "$WT" run "$WASM/hello.wasm")
  [[ ${WT_OK[hello]} == 1 ]] && t_wtc=$(RUNS=$STARTUP_RUNS median_of "$WT" run --allow-precompiled "$OUT/hello.cwasm")
fi
t_native=$(RUNS=$STARTUP_RUNS median_of "$NATIVE/hello")
printf '%-40s %12s\n' "native (Rust, glibc)" "$(fmt_s "$t_native")" "ours (aot executable)" "$(fmt_s "$t_ours")" \
  "wasmtime run hello.wasm" "$(fmt_s "$t_wt")" "wasmtime run --allow-precompiled .cwasm" "$(fmt_s "$t_wtc")"
echo "ours / wasmtime run: $(ratio "$t_ours" "$t_wt"); ours / wasmtime precompiled: $(ratio "$t_ours" "$t_wtc"); ours / native: $(ratio "$t_ours" "$t_native")"

# --- compile time and size ---------------------------------------------------------
echo
echo "== compile time (median of $RUNS) and output size"
printf '%-10s %10s %14s %16s %10s %14s %12s %12s\n' program wasm "aot compile" "wasmtime compile" ratio "aot executable" ".cwasm" "native exe"
for n in "${NAMES[@]}"; do
  printf '%-10s %10s %14s %16s %10s %14s %12s %12s\n' "$n" "$(size_of "${WASM_OF[$n]}")" "$(fmt_s "${AOT_COMPILE[$n]}")" \
    "$(fmt_s "${WT_COMPILE[$n]}")" "$(ratio "${AOT_COMPILE[$n]}" "${WT_COMPILE[$n]}")" \
    "$( [[ ${AOT_OK[$n]} == 1 ]] && size_of "$OUT/$n" || echo n/a)" "$( [[ ${WT_OK[$n]} == 1 ]] && size_of "$OUT/$n.cwasm" || echo n/a)" \
    "$(size_of "${NATIVE_OF[$n]}")"
done
echo "(sizes in bytes; the aot executable is static and holds the runtime; a .cwasm needs wasmtime, ~$(( $(size_of "${WT:-/dev/null}") / 1048576 )) MiB)"

# --- size of every example ---------------------------------------------------------
# Every Rust example, and the C examples when clang-19 and wasi-libc are installed, as
# stripped static executables for both targets.
echo
echo "== executable size of every example (bytes; static, stripped)"
cargo build --quiet --release --manifest-path "$ROOT/examples/Cargo.toml" --target-dir "$EX" --target wasm32-wasip1
ALL=()
for d in "$ROOT"/examples/rust/*/; do ALL+=("$WASM/$(basename "$d").wasm"); done
if command -v clang-19 >/dev/null; then
  mkdir -p "$OUT/c"
  for c in "$ROOT"/examples/c/*.c; do
    n=$(basename "$c" .c)
    clang-19 --target=wasm32-wasi -O2 "$c" -o "$OUT/c/$n.wasm" 2>/dev/null && ALL+=("$OUT/c/$n.wasm")
  done
else
  note "clang-19 not found: the C examples are left out of the size table"
fi
printf '%-16s %10s %14s %14s\n' example wasm x86_64 aarch64
for w in "${ALL[@]}"; do
  n=$(basename "$w" .wasm)
  sizes=()
  for t in x86_64 aarch64; do
    if "$AOT" "$w" -o "$OUT/size-$n-$t" --target "$t-unknown-linux-gnu" 2>/dev/null; then
      sizes+=("$(size_of "$OUT/size-$n-$t")")
    else
      sizes+=("n/a")
    fi
  done
  printf '%-16s %10s %14s %14s\n' "$n" "$(size_of "$w")" "${sizes[0]}" "${sizes[1]}"
done

# --- components ---------------------------------------------------------------------
# The same programs built for wasm32-wasip2 (components over WASI 0.2): run time against
# the preview 1 builds under aot (the target is within 3%), start-up and size of the hello
# component, compile time against `wasmtime compile`. Python and JavaScript components are
# included when COMPONENTIZE_PY / COMPONENTIZE_JS name the tools (and WIT_DIR a WIT
# directory with a world `app` including wasi:cli/command); they are 13-19 MB.
echo
echo "== components (wasm32-wasip2)"
cargo build --quiet --release --manifest-path "$ROOT/examples/Cargo.toml" --target-dir "$EX" --target wasm32-wasip2 "${PKGS[@]}"
WASM2=$EX/wasm32-wasip2/release
printf '%-18s %14s %14s %12s\n' program "aot p1" "aot p2" p2/p1
for p in "${PROGRAMS[@]}"; do
  read -r n args <<<"$p"
  read -r -a argv <<<"$args"
  t1=nan; t2=nan
  if "$AOT" "$WASM2/$n.wasm" -o "$OUT/$n.p2" 2>"$OUT/$n.p2-err" && same_output "$OUT/$n.expected" "$OUT/$n.p2" "${argv[@]}"; then
    t2=$(median_of "$OUT/$n.p2" "${argv[@]}")
    [[ ${AOT_OK[$n]} == 1 ]] && t1=$(median_of "$OUT/$n" "${argv[@]}")
  else
    note "the wasip2 component of $n fails to compile or run: $(head -c 300 "$OUT/$n.p2-err")"
  fi
  printf '%-18s %14s %14s %12s\n' "$p" "$(fmt_s "$t1")" "$(fmt_s "$t2")" "$(ratio "$t2" "$t1")"
done
t_ours=nan; t_wt=nan; t_wtc=nan
if "$AOT" "$WASM2/hello.wasm" -o "$OUT/hello.p2" && same_output <(echo "Hello, world!") "$OUT/hello.p2"; then
  t_ours=$(RUNS=$STARTUP_RUNS median_of "$OUT/hello.p2")
fi
if [[ -n $WT ]]; then
  t_wt=$(RUNS=$STARTUP_RUNS median_of "$WT" run "$WASM2/hello.wasm")
  "$WT" compile "$WASM2/hello.wasm" -o "$OUT/hello.p2.cwasm" && t_wtc=$(RUNS=$STARTUP_RUNS median_of "$WT" run --allow-precompiled "$OUT/hello.p2.cwasm")
fi
strip -o "$OUT/hello.p2.stripped" "$OUT/hello.p2" 2>/dev/null || cp "$OUT/hello.p2" "$OUT/hello.p2.stripped"
echo "hello component start-up (median of $STARTUP_RUNS): ours $(fmt_s "$t_ours"), wasmtime run $(fmt_s "$t_wt"), wasmtime precompiled $(fmt_s "$t_wtc"); ours / wasmtime run: $(ratio "$t_ours" "$t_wt"), ours / precompiled: $(ratio "$t_ours" "$t_wtc")"
echo "hello component executable: $(size_of "$OUT/hello.p2.stripped") bytes stripped (x86_64)"
COMPONENTS=("$WASM2/hello.wasm")
for p in "${PROGRAMS[@]}"; do COMPONENTS+=("$WASM2/${p%% *}.wasm"); done
if [[ -n ${COMPONENTIZE_PY:-} && -n ${WIT_DIR:-} ]]; then
  mkdir -p "$OUT/py" && printf 'class Run:\n    def run(self) -> None:\n        print("Hello, world!")\n' >"$OUT/py/app.py"
  (cd "$OUT/py" && "$COMPONENTIZE_PY" -d "$WIT_DIR" -w app componentize app -o "$OUT/py-hello.wasm" >/dev/null 2>&1) \
    && COMPONENTS+=("$OUT/py-hello.wasm") || note "componentize-py failed"
fi
if [[ -n ${COMPONENTIZE_JS:-} && -n ${WIT_DIR:-} ]]; then
  printf 'export const run = { run() { console.log("Hello, world!"); } };\n' >"$OUT/js-hello.js"
  "$COMPONENTIZE_JS" "$OUT/js-hello.js" --wit "$WIT_DIR" --world-name app -o "$OUT/js-hello.wasm" >/dev/null 2>&1 \
    && COMPONENTS+=("$OUT/js-hello.wasm") || note "componentize-js failed"
fi
printf '%-16s %10s %14s %16s %10s %14s %14s\n' component wasm "aot compile" "wasmtime compile" ratio "start-up ours" "wasmtime pre."
for w in "${COMPONENTS[@]}"; do
  n=$(basename "$w" .wasm)
  tc=nan; twc=nan; ts=nan; tws=nan
  if "$AOT" "$w" -o "$OUT/c-$n" 2>/dev/null; then
    tc=$(median_of "$AOT" "$w" -o "$OUT/c-$n"); ts=$(RUNS=20 median_of "$OUT/c-$n")
  fi
  if [[ -n $WT ]] && "$WT" compile "$w" -o "$OUT/c-$n.cwasm" 2>/dev/null; then
    twc=$(median_of "$WT" compile "$w" -o "$OUT/c-$n.cwasm"); tws=$(RUNS=20 median_of "$WT" run --allow-precompiled "$OUT/c-$n.cwasm")
  fi
  printf '%-16s %10s %14s %16s %10s %14s %14s\n' "$n" "$(size_of "$w")" "$(fmt_s "$tc")" "$(fmt_s "$twc")" "$(ratio "$tc" "$twc")" "$(fmt_s "$ts")" "$(fmt_s "$tws")"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- threads -------------------------------------------------------------------------
RUNS=$RUNS "$ROOT/benches/threads.sh" || note "benches/threads.sh failed"
