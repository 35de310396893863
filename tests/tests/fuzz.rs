//! Fuzz smoke test: seeded random modules through `aot`, run and compared with wasmtime.
//!
//! `cargo test -p aot-tests --test fuzz [-- <seed>... | <regression file filter>...]`; env:
//! `AOT_FUZZ_CASES=<n>` (seeds, default 300), `AOT_FUZZ_FIRST=<s>` (first seed, default 0),
//! `AOT_FUZZ_JOBS=<n>` (default 2), `AOT_FUZZ_VERBOSE=1` (a line per case),
//! `AOT_FUZZ_KEEP=1` (keep every module, not only failing ones), `AOT_WASMTIME=<path>`,
//! `AOT_FUZZ_FORCE=<proposal>[,...]` (use these proposals in every seed, spelled as in the
//! `seeds using each proposal` line, e.g. `Threads` or `Gc`), `AOT_FUZZ_BUILDS=<part>[,...]`
//! (only the builds whose name contains one of these, e.g. `aarch64`),
//! `AOT_FUZZ_RUN_EVERY=<n>` (every build that runs seeds runs every `n`th one).
//!
//! Per case (seed `s`: wasm-smith fed with bytes from a PRNG seeded with `s`; a file of
//! tests/fuzz/regressions/; or [`SELF_CHECK`], always):
//! 1. Generation: scalar Wasm 2.0, extended-const and tail calls in every seed, and, chosen
//!    per seed from the seed ([`FEATURE_SHARES`]), SIMD (half the seeds), relaxed SIMD (a
//!    quarter of those), multi-memory (up to 3 memories), memory64, wide arithmetic,
//!    exception handling (tags, `throw`, `throw_ref`, `try_table`, `exnref`), typed
//!    function references (`call_ref`, `br_on_null`..., typed tables and locals) and
//!    threads (shared memories, all the defined ones in half these seeds, atomics on
//!    shared and unshared memories, `atomic.fence`, `memory.atomic.notify/wait32/wait64`,
//!    more waits made from other atomics; single-threaded: every wait's timeout is
//!    masked to under a microsecond, so that a wait whose value matches times out at
//!    once in both engines instead of blocking forever: see [`rewrite_waits`]);
//!    imports (in half the seeds) only from [`PROVIDER`] (a fixed module instantiated
//!    afresh for each call), small sizes, every function and global exported, NaNs
//!    canonicalised after float operations, scalar and f32x4/f64x2 lanes (so results are
//!    deterministic), and wasm-smith's fuel instrumentation (a global decremented at every
//!    function entry and loop head, trapping at zero), so every call ends. Relaxed SIMD
//!    results are the target's own, in aot as in wasmtime: seeds with it are run only by
//!    the x86-64-v3 build, whose lowering is wasmtime's on the (x86-64-v3) host, and only
//!    compiled by the others (aarch64 included). Memory64 seeds may have 64-bit tables.
//!    GC (a quarter of the seeds, never with threads: aot refuses GC types in a threaded
//!    program) brings struct, array and i31 types and instructions, casts, `ref.eq` and
//!    the `any`/`extern` conversions, in code and in constant expressions; the seeds with
//!    typed function references (which wasm-smith brings only with GC) get GC types,
//!    casts and `ref.eq` but not the struct, array and i31 instructions.
//! 2. Compilation with `aot::compile_module` for every build in [`BUILDS`], under
//!    `catch_unwind`: a panic is a failure, an error is a failure unless it says
//!    "not supported" (then the case is skipped for that build, with the reason).
//! 3. Execution: every exported function is called with up to three fixed argument tuples
//!    (from the seed; references are null), each call in a fresh instance (a function
//!    with a parameter no script can pass, a non-nullable reference or an `exnref`, is
//!    not called); the executables get `AOT_GC_MAX_HEAP` ([`GC_MAX_HEAP`]) and the rest
//!    of the test's environment (`AOT_GC_STRESS=1` too); after each call the mutable
//!    exported globals are read (all globals once after the first instantiation) and the contents of
//!    every memory (32- and 64-bit, and the provider's) are hashed (by the case's
//!    [`hasher`], a second module importing them), so that side effects are compared
//!    too. The calls of many cases go into one spec-script executable per batch (the
//!    runtime's spec driver); each assertion is made to fail on purpose, so that its
//!    `FAIL` line reports what the call returned or how it trapped.
//!    A batch that crashes or hangs blames the case it was in (failure, or skip on a
//!    timeout) and the rest run again.
//! 4. Comparison: the observations become a `.wast` script of assertions
//!    (`assert_return` with the exact bits, non-null references as `(ref.func)`,
//!    `(ref.extern)`, `(ref.i31)`, `(ref.struct)` or `(ref.array)` (GC objects have no
//!    value `wast` can compare; the builds of aot also compare i31 values among
//!    themselves) and other nulls as `(ref.null)`, `assert_trap` with our trap message,
//!    `assert_exhaustion`, `assert_exception` for an uncaught exception) that `wasmtime
//!    wast` checks (a call returning a non-null `exnref`, for which `wast` has no form, is
//!    only checked to return, a global holding one is not read); each distinct set of
//!    observations of a case is checked once (builds that agree share one check). wasmtime
//!    stops at the first difference, so the differing call is taken out and the script
//!    checked again, up to [`MAX_DIFFS`] differences per case. A stack exhaustion or a
//!    full GC heap on either side only is an implementation limit, not a bug: skipped and
//!    counted (a GC heap out of memory in aot skips the case in that build). A case passes
//!    when wasmtime checked it and nothing differed.
//!
//! Output: one `FAIL` line per failure (case, builds, what differed), the skipped cases
//! with their reasons, per build the calls and how they ended, how many seeds' modules
//! have each instruction of exception handling, typed function references, threads and
//! GC (by kind), then `fuzz: N passed, M failed, K skipped`; exit status 1
//! on any failure. The module and the script of a failing case are written to a directory
//! shown in the output, to reproduce it with `wasmtime wast` or `aot`.
//!
//! Without wasmtime or qemu nothing is compared or run there (a skip), unless `CI` is
//! set: then that is a failure (see `aot_tests::tools`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aot::target::{Arch, Cpu};
use aot::{BoundsMode, Options, Target, Unroll};
use aot_abi::ProgramKind;
use aot_abi::script::{Action, Command as ScriptCommand, Expected, Script, Value};
use aot_tests::process::{Finished, run_with_timeout};
use aot_tests::{one_line, panics, tools};
use wasmparser::MemoryType;

/// Fuel each instance starts with: calls, loop iterations and recursion all spend it.
const FUEL: u32 = 1000;
/// Argument tuples per function (functions without parameters are called once).
const ARG_TUPLES: usize = 3;
/// At most this many calls per case.
const MAX_CALLS: usize = 30;
/// Differences reported per case (each costs a wasmtime run).
const MAX_DIFFS: usize = 3;
/// Cases per executable.
const NATIVE_BATCH: usize = 25;
const EMULATED_BATCH: usize = 10;
const NATIVE_TIMEOUT: Duration = Duration::from_secs(60);
const EMULATED_TIMEOUT: Duration = Duration::from_secs(180);
const WASMTIME_TIMEOUT: Duration = Duration::from_secs(60);

/// One way of compiling a case, and which seeds are also run that way.
struct Build {
    name: &'static str,
    arch: Arch,
    opt_level: u8,
    bounds: BoundsMode,
    cpu: Cpu,
    /// Seeds `s` with `s % run_every == 0` are run (0 = compiled only); regression files
    /// are run by every build that runs anything.
    run_every: u64,
    /// Whether seeds with relaxed SIMD run here too: their results are the target's own
    /// (in aot and in wasmtime alike), and only this build computes them as wasmtime does
    /// on an x86-64-v3 host (fused multiply-add, `pshufb`, `blendv`, `cvttps2dq`...), the
    /// reference machine. Other builds only compile them.
    relaxed_as_host: bool,
    /// Which loops are unrolled (at -O2): every eligible one in one build, to test the
    /// translation of the copies on loops `aot` would rarely choose.
    unroll: Unroll,
}

const BUILDS: &[Build] = &[
    Build {
        name: "x86_64 -O2",
        arch: Arch::X86_64,
        opt_level: 2,
        bounds: BoundsMode::GuardPages,
        cpu: Cpu::Default,
        run_every: 1,
        relaxed_as_host: false,
        unroll: Unroll::Chosen,
    },
    Build {
        name: "x86_64 -O2 x86-64-v3",
        arch: Arch::X86_64,
        opt_level: 2,
        bounds: BoundsMode::GuardPages,
        cpu: Cpu::X86_64V3,
        run_every: 1,
        relaxed_as_host: true,
        unroll: Unroll::Chosen,
    },
    Build {
        name: "x86_64 -O0",
        arch: Arch::X86_64,
        opt_level: 0,
        bounds: BoundsMode::GuardPages,
        cpu: Cpu::Default,
        run_every: 1,
        relaxed_as_host: false,
        unroll: Unroll::Chosen,
    },
    Build {
        name: "x86_64 -O2 explicit-bounds every-loop-unrolled",
        arch: Arch::X86_64,
        opt_level: 2,
        bounds: BoundsMode::Explicit,
        cpu: Cpu::Default,
        run_every: 1,
        relaxed_as_host: false,
        unroll: Unroll::Every,
    },
    Build {
        name: "aarch64 -O2",
        arch: Arch::Aarch64,
        opt_level: 2,
        bounds: BoundsMode::GuardPages,
        cpu: Cpu::Default,
        run_every: 10,
        relaxed_as_host: false,
        unroll: Unroll::Chosen,
    },
    Build {
        name: "aarch64 -O0",
        arch: Arch::Aarch64,
        opt_level: 0,
        bounds: BoundsMode::GuardPages,
        cpu: Cpu::Default,
        // qemu makes runs slow (about 1 s per case): -O0 runs half as many as -O2.
        run_every: 20,
        relaxed_as_host: false,
        unroll: Unroll::Chosen,
    },
];

// ---------------------------------------------------------------------------------------
// Configuration

struct Config {
    first: u64,
    cases: u64,
    /// Only these seeds (from the command line), if any.
    seeds: Vec<u64>,
    /// Only regression files whose name contains one of these, if any.
    filters: Vec<String>,
    jobs: usize,
    verbose: bool,
    keep: bool,
    /// Proposals used by every seed (bits of [`Features`]).
    forced: u32,
    /// Which of [`BUILDS`] compile and run the cases.
    builds: Vec<bool>,
    /// Replaces the [`Build::run_every`] of every build that runs seeds, if set.
    run_every: Option<u64>,
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(s) => s
            .trim()
            .parse()
            .map_err(|_| format!("{name}: not a number: `{s}`")),
        Err(_) => Ok(default),
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn parse_args(args: &[String]) -> Result<Option<Config>, String> {
    let jobs = env_number("AOT_FUZZ_JOBS", 2)?.max(1) as usize;
    let mut cfg = Config {
        first: env_number("AOT_FUZZ_FIRST", 0)?,
        cases: env_number("AOT_FUZZ_CASES", 300)?,
        seeds: Vec::new(),
        filters: Vec::new(),
        jobs,
        verbose: env_flag("AOT_FUZZ_VERBOSE"),
        keep: env_flag("AOT_FUZZ_KEEP"),
        forced: parse_forced(&std::env::var("AOT_FUZZ_FORCE").unwrap_or_default())?,
        builds: match std::env::var("AOT_FUZZ_BUILDS") {
            Ok(list) if !list.trim().is_empty() => {
                let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
                BUILDS
                    .iter()
                    .map(|b| wanted.iter().any(|w| b.name.contains(w)))
                    .collect()
            }
            _ => vec![true; BUILDS.len()],
        },
        run_every: match std::env::var("AOT_FUZZ_RUN_EVERY") {
            Ok(_) => Some(env_number("AOT_FUZZ_RUN_EVERY", 1)?.max(1)),
            Err(_) => None,
        },
    };
    if !cfg.builds.contains(&true) {
        return Err("AOT_FUZZ_BUILDS: no build's name contains any of these".to_string());
    }
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // Not an ignored test: a run of only the ignored tests has nothing to do.
            "--ignored" => return Ok(None),
            "--list" => {
                println!("fuzz: test");
                return Ok(None);
            }
            "--nocapture" | "--show-output" | "--quiet" | "-q" | "--exact"
            | "--include-ignored" => {}
            "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" => {
                it.next();
            }
            a if a.starts_with('-') => eprintln!("fuzz: ignoring unknown option `{a}`"),
            a => match a.parse::<u64>() {
                Ok(seed) => cfg.seeds.push(seed),
                Err(_) => cfg.filters.push(a.to_string()),
            },
        }
    }
    Ok(Some(cfg))
}

// ---------------------------------------------------------------------------------------
// Generation

/// splitmix64: small, fast, and the same on every machine.
struct Prng(u64);

impl Prng {
    fn new(seed: u64, stream: u64) -> Prng {
        Prng(seed ^ stream.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A proposal that only some seeds use (the others stay with the base set: Wasm 2.0 scalar
/// code, extended-const and tail calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feature {
    Simd,
    /// Only where [`Feature::Simd`] is chosen too. Its results are the target's own (as in
    /// wasmtime), so such seeds run only in builds with [`Build::relaxed_as_host`].
    RelaxedSimd,
    MultiMemory,
    Memory64,
    WideArithmetic,
    Exceptions,
    /// wasm-smith 0.263 generates typed function references only together with GC
    /// (`gc_enabled`): these seeds may have struct and array types, casts and `ref.eq`,
    /// but not the struct, array and i31 instructions (see [`smith_config`]), so that
    /// typed function references keep their share of the instructions.
    FunctionReferences,
    /// Threads: shared memories (wasm-smith makes a quarter of the memories shared, and
    /// [`share_memories`] all the defined ones in half these seeds), atomic loads,
    /// stores, read-modify-writes and compare-exchanges (on shared and unshared memories
    /// alike), `atomic.fence`, `memory.atomic.notify` and `memory.atomic.wait32/64`, whose
    /// timeouts are bounded, and more waits made from other atomics (see
    /// [`rewrite_waits`]). The cases are single-threaded: a notify wakes nobody, a wait
    /// never returns 0.
    Threads,
    /// GC: struct, array and i31 types and instructions, casts, `ref.eq`, `any`/`extern`
    /// conversions, in code and in constant expressions. Never with [`Feature::Threads`]:
    /// aot refuses GC types in a threaded program (one GC heap per process), so a seed
    /// that draws both keeps threads, unless only GC is forced on (`AOT_FUZZ_FORCE`).
    Gc,
}

/// In how many seeds out of 8 each proposal is used, each chosen independently from the
/// seed, so that most modules mix a few and every combination occurs. 0 = never. A new
/// line goes at the end: each line draws from the seed's stream whatever its share, so
/// the proposals of the lines before keep their seeds.
///
/// wasm-smith uses typed function references seldom (a `call_ref` needs a typed
/// reference on the stack with its arguments below it): the end-of-run line `seeds whose
/// module has` counts the instructions that were really generated.
const FEATURE_SHARES: &[(Feature, u64)] = &[
    (Feature::Simd, 4),
    (Feature::RelaxedSimd, 2),
    (Feature::MultiMemory, 3),
    (Feature::Memory64, 3),
    (Feature::WideArithmetic, 2),
    (Feature::Exceptions, 2),
    (Feature::FunctionReferences, 2),
    (Feature::Threads, 3),
    // 3 of 8, less the seeds with threads (3 of 8): about a quarter of the seeds.
    (Feature::Gc, 3),
];

/// Proposals forced on in every seed (`AOT_FUZZ_FORCE`), as bits of [`Features`]; set once
/// by `main` before any seed is generated.
static FORCED: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// The bits of the proposals named in `list` (comma-separated, as [`Features::names`]
/// spells them, any case).
fn parse_forced(list: &str) -> Result<u32, String> {
    let mut bits = 0;
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let (f, _) = FEATURE_SHARES
            .iter()
            .find(|(f, _)| format!("{f:?}").eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let known: Vec<String> = FEATURE_SHARES
                    .iter()
                    .map(|(f, _)| format!("{f:?}"))
                    .collect();
                format!(
                    "AOT_FUZZ_FORCE: unknown proposal `{name}` (known: {})",
                    known.join(", ")
                )
            })?;
        bits |= 1 << *f as u32;
        // Relaxed SIMD exists only with SIMD.
        if *f == Feature::RelaxedSimd {
            bits |= 1 << Feature::Simd as u32;
        }
    }
    Ok(bits)
}

/// The proposals of one seed.
#[derive(Clone, Copy, Debug, Default)]
struct Features(u32);

impl Features {
    fn of_seed(seed: u64) -> Features {
        let mut rng = Prng::new(seed, 2);
        let mut set = Features(0);
        for &(f, share) in FEATURE_SHARES {
            if rng.below(8) < share {
                set.0 |= 1 << f as u32;
            }
        }
        let forced = FORCED.get().copied().unwrap_or(0);
        set.0 |= forced;
        if !set.has(Feature::Simd) {
            set.0 &= !(1 << Feature::RelaxedSimd as u32);
        }
        if set.has(Feature::Gc) && set.has(Feature::Threads) {
            let gc_only_forced =
                Features(forced).has(Feature::Gc) && !Features(forced).has(Feature::Threads);
            let dropped = if gc_only_forced {
                Feature::Threads
            } else {
                Feature::Gc
            };
            set.0 &= !(1 << dropped as u32);
        }
        set
    }

    fn has(self, f: Feature) -> bool {
        self.0 & (1 << f as u32) != 0
    }

    fn names(self) -> Vec<String> {
        FEATURE_SHARES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(f, _)| format!("{f:?}"))
            .collect()
    }
}

/// What wasm-smith may generate: what `aot` supports (Wasm 2.0 minus SIMD, plus
/// extended-const and tail calls, plus the seed's `features`), imports only from
/// [`PROVIDER`] (`imports` is [`PROVIDER_IMPORTS`]), and sizes that keep a case small and
/// fast.
fn smith_config(rng: &mut Prng, features: Features, imports: &[u8]) -> wasm_smith::Config {
    use wasm_smith::{InstructionKind as K, InstructionKinds};
    // Half the modules import from the provider.
    let (available_imports, max_imports) = if rng.below(2) == 0 {
        (Some(imports.to_vec()), 15)
    } else {
        (None, 0)
    };
    // Most modules have a memory and a table, so that memory and table code is reachable
    // (with imports, a memory may come from the provider: a required one of its own could
    // not be added then, and wasm-smith would give up).
    let min_memories = u32::from(rng.below(4) != 0 && available_imports.is_none());
    let min_tables = u32::from(rng.below(3) != 0);
    let max_instructions = rng.pick(&[60, 150, 300]);
    // Half the modules use every kind of instruction; the others only computation (deeper
    // arithmetic before a trap or the end), or computation with memory.
    let simd = features.has(Feature::Simd);
    let gc = features.has(Feature::Gc);
    let computation = |kinds: &[K]| {
        let mut kinds = kinds.to_vec();
        if simd {
            kinds.push(K::Vector);
        }
        // Struct, array and i31 computation (with the numeric code around it).
        if gc {
            kinds.push(K::Aggregate);
        }
        InstructionKinds::new(&kinds)
    };
    let allowed_instructions = match rng.below(4) {
        0 => computation(&[K::Numeric, K::Variable, K::Parametric, K::Control]),
        1 => computation(&[K::Numeric, K::Variable, K::Memory, K::Control]),
        _ if gc => InstructionKinds::all(),
        // Without GC's struct, array and i31 instructions, so that typed function
        // references keep their share (wasm-smith brings them only with GC).
        _ if features.has(Feature::FunctionReferences) => InstructionKinds::new(&[
            K::Numeric,
            K::Vector,
            K::Reference,
            K::Parametric,
            K::Variable,
            K::Table,
            K::Memory,
            K::Control,
        ]),
        _ => InstructionKinds::all(),
    };
    // Half the modules avoid traps, so that more calls run to the end.
    let disallow_traps = rng.below(2) == 0;
    let exceptions = features.has(Feature::Exceptions);
    wasm_smith::Config {
        simd_enabled: simd,
        relaxed_simd_enabled: features.has(Feature::RelaxedSimd),
        threads_enabled: features.has(Feature::Threads),
        shared_everything_threads_enabled: false,
        exceptions_enabled: exceptions,
        gc_enabled: features.has(Feature::FunctionReferences) || gc,
        tail_call_enabled: true,
        memory64_enabled: features.has(Feature::Memory64),
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: features.has(Feature::WideArithmetic),
        compact_imports_enabled: false,
        custom_descriptors_enabled: false,
        bulk_memory_enabled: true,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        extended_const_enabled: true,
        available_imports,
        max_imports,
        max_tags: if exceptions { 4 } else { 0 },
        max_memories: if features.has(Feature::MultiMemory) {
            3
        } else {
            1
        },
        max_tables: 3,
        export_everything: true,
        // After every float operation, scalar and vector (wasm-smith covers the f32x4 and
        // f64x2 lanes too), so that NaN bits are the same everywhere.
        canonicalize_nans: true,
        generate_custom_sections: false,
        min_types: 2,
        max_types: 12,
        // export_everything with imports can pass the default budget, and wasm-smith then
        // gives up on the whole module.
        max_type_size: 100_000,
        min_funcs: 2,
        max_funcs: 10,
        min_memories,
        min_tables,
        max_globals: 8,
        max_instructions,
        allowed_instructions,
        max_nesting_depth: 6,
        max_data_segments: 4,
        max_element_segments: 4,
        max_elements: 16,
        max_table_elements: 64,
        table_max_size_required: true,
        max_memory32_bytes: 4 * 65536,
        // Small like the 32-bit ones: the hasher reads every byte, and the index type is
        // what is tested (the reservations of 64-bit memories are aot's own choice).
        max_memory64_bytes: 4 * 65536,
        memory_max_size_required: true,
        disallow_traps,
        ..wasm_smith::Config::default()
    }
}

/// Why `wasm` (valid for wasm-smith's features) is invalid for aot's feature set, if it
/// is (a harness configuration bug: wasm-smith was allowed more than aot accepts).
fn invalid_for_aot(wasm: &[u8]) -> Option<String> {
    wasmparser::Validator::new_with_features(aot::module::features())
        .validate_all(wasm)
        .err()
        .map(|e| e.to_string())
}

/// Instructions of exception handling, typed function references and threads, counted
/// per seed whose module has them (a proposal's share says only that wasm-smith may use
/// it); the other atomic instructions are counted by kind (see [`instructions_used`]).
const COUNTED: &[(&str, &str)] = &[
    ("Throw", "throw"),
    ("ThrowRef", "throw_ref"),
    ("TryTable", "try_table"),
    ("CallRef", "call_ref"),
    ("ReturnCallRef", "return_call_ref"),
    ("BrOnNull", "br_on_null"),
    ("BrOnNonNull", "br_on_non_null"),
    ("RefAsNonNull", "ref.as_non_null"),
    ("MemoryAtomicWait32", "memory.atomic.wait32"),
    ("MemoryAtomicWait64", "memory.atomic.wait64"),
    ("MemoryAtomicNotify", "memory.atomic.notify"),
    ("AtomicFence", "atomic.fence"),
];

/// For each of [`COUNTED`], in how many seeds' modules it occurs.
static USES: std::sync::Mutex<BTreeMap<&'static str, usize>> =
    std::sync::Mutex::new(BTreeMap::new());

/// The GC instructions counted by kind (in code only; constant expressions may allocate
/// too), for the `seeds whose module has` line.
fn gc_kind(op: &str) -> Option<&'static str> {
    if !aot::translate::is_gc_operator(op) {
        return None;
    }
    Some(
        if op.starts_with("StructNew") || op.starts_with("ArrayNew") {
            "GC allocation"
        } else if op.starts_with("Struct") || op.starts_with("Array") {
            "GC field access"
        } else if op.starts_with("RefTest")
            || op.starts_with("RefCast")
            || op.starts_with("BrOnCast")
        {
            "GC cast"
        } else {
            "GC i31/ref.eq/conversion"
        },
    )
}

/// Which of [`COUNTED`] the code of `wasm` has, which kinds of other atomic instructions
/// (`atomic load`, `atomic store`, `atomic rmw`, `atomic cmpxchg`), and whether it
/// defines a `shared memory`.
fn instructions_used(wasm: &[u8]) -> BTreeSet<&'static str> {
    let mut found = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::MemorySection(r)) = &payload
            && r.clone().into_iter().any(|m| m.is_ok_and(|m| m.shared))
        {
            found.insert("shared memory");
        }
        if let Ok(wasmparser::Payload::TypeSection(r)) = &payload
            && r.clone().into_iter().any(|g| {
                g.is_ok_and(|g| {
                    g.types().any(|t| {
                        !matches!(
                            t.composite_type.inner,
                            wasmparser::CompositeInnerType::Func(_)
                        )
                    })
                })
            })
        {
            found.insert("GC types");
        }
        let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        let Ok(mut ops) = body.get_operators_reader() else {
            continue;
        };
        while let Ok(op) = ops.read() {
            let name = format!("{op:?}");
            let name = name.split([' ', '{', '(']).next().unwrap_or("");
            if let Some(kind) = gc_kind(name) {
                found.insert(kind);
            } else if let Some((_, text)) = COUNTED.iter().find(|(n, _)| *n == name) {
                found.insert(*text);
            } else if name.starts_with("I32Atomic") || name.starts_with("I64Atomic") {
                found.insert(if name.contains("Cmpxchg") {
                    "atomic cmpxchg"
                } else if name.contains("Rmw") {
                    "atomic rmw"
                } else if name.contains("Load") {
                    "atomic load"
                } else {
                    "atomic store"
                });
            }
        }
    }
    found
}

/// The seed's module.
fn generate(seed: u64) -> Result<Vec<u8>, String> {
    let imports = wat::parse_str(PROVIDER_IMPORTS).map_err(|e| format!("provider imports: {e}"))?;
    let features = Features::of_seed(seed);
    let mut rng = Prng::new(seed, 1);
    let config = smith_config(&mut rng, features, &imports);
    let len = 512 + rng.below(8 * 1024) as usize;
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let mut u = arbitrary::Unstructured::new(&bytes);
    let mut module =
        wasm_smith::Module::new(config, &mut u).map_err(|e| format!("wasm-smith: {e}"))?;
    module
        .ensure_termination(FUEL)
        .map_err(|e| format!("wasm-smith ensure_termination: {e}"))?;
    let generated = module.to_bytes();
    if let Some(why) = invalid_for_aot(&generated) {
        return Err(format!(
            "wasm-smith made a module outside aot's feature set (harness configuration): {why}"
        ));
    }
    if !features.has(Feature::Threads) {
        return Ok(generated);
    }
    // wasm-smith makes a quarter of the memories shared; in half the seeds with threads
    // all defined ones are, so that waits block and time out (a wait on an unshared memory
    // traps) and atomics meet shared memories more often.
    let shared = if Prng::new(seed, 3).below(2) == 0 {
        share_memories(&generated).map_err(|e| format!("sharing memories: {e}"))?
    } else {
        generated
    };
    let mut rng = Prng::new(seed, 4);
    let (wasm, waits, converted) =
        rewrite_waits(&shared, &mut rng).map_err(|e| format!("rewriting waits: {e}"))?;
    if let Some(why) = invalid_for_aot(&wasm) {
        return Err(format!("rewriting waits made the module invalid: {why}"));
    }
    WAITS_BOUNDED.fetch_add(waits, Ordering::Relaxed);
    WAITS_CONVERTED.fetch_add(converted, Ordering::Relaxed);
    Ok(wasm)
}

/// The names under which a case's memories are exported for its hasher (added to the
/// module): `fuzz-memory-<index>`.
const MEMORY_EXPORT: &str = "fuzz-memory";

/// The hasher of a case: a module importing every memory of the case (registered as
/// `fuzz`, each memory as [`MEMORY_EXPORT`]`-<index>`, `i64` for 64-bit ones, `shared`
/// with the memory's maximum for shared ones, as import matching wants) and, if
/// `provider`, the provider's (as `env`/`memory`), whose `hash` mixes them all, 8 bytes at
/// a time, so that stores and data segments are compared too, not only results. None
/// when there is nothing to hash.
fn hasher(memories: &[MemoryType], provider: bool) -> Option<String> {
    // Whether each imported memory is a 64-bit one.
    let mut all: Vec<bool> = Vec::new();
    let mut text = String::from("(module");
    for (i, m) in memories.iter().enumerate() {
        let index_type = if m.memory64 { " i64" } else { "" };
        let limits = match (m.shared, m.maximum) {
            (true, Some(max)) => format!(" 0 {max} shared"),
            _ => " 0".to_string(),
        };
        let _ = write!(
            text,
            "\n  (import \"fuzz\" \"{MEMORY_EXPORT}-{i}\" (memory{index_type}{limits}))"
        );
        all.push(m.memory64);
    }
    if provider {
        text.push_str("\n  (import \"env\" \"memory\" (memory 0))");
        all.push(false);
    }
    if all.is_empty() {
        return None;
    }
    let mut calls = String::from("(i64.const 0xcbf29ce484222325)");
    for (k, m64) in all.iter().enumerate() {
        let it = if *m64 { "i64" } else { "i32" };
        let end = if *m64 {
            "(local.get $end)"
        } else {
            "(i64.extend_i32_u (local.get $end))"
        };
        let _ = write!(
            text,
            r#"
  (func $hash{k} (param $h i64) (result i64) (local $i {it}) (local $end {it})
    (local.set $end ({it}.mul (memory.size {k}) ({it}.const 65536)))
    (block $done
      (loop $next
        (br_if $done ({it}.ge_u (local.get $i) (local.get $end)))
        (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load {k} (local.get $i)))
                               (i64.const 0x100000001b3)))
        (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))))
        (local.set $i ({it}.add (local.get $i) ({it}.const 8)))
        (br $next)))
    (i64.xor (local.get $h) {end}))"#
        );
        calls = format!("(call $hash{k} {calls})");
    }
    let _ = write!(text, "\n  (func (export \"hash\") (result i64) {calls}))");
    Some(text)
}

/// The module that generated modules may import from (as `env`), instantiated afresh for
/// each call: functions (calls into another instance, several results, a trap), a memory,
/// a table holding its functions (`call_indirect` across instances) and globals of every
/// type. Its functions are deterministic: no float arithmetic on inputs (NaN bits).
const PROVIDER: &str = r#"(module
  (type $to_i32 (func (param i32) (result i32)))
  (memory (export "memory") 1 4)
  (table (export "table") 8 16 funcref)
  (global $count (export "count") (mut i32) (i32.const 100))
  (global (export "k64") i64 (i64.const -7))
  (global (export "v32") (mut f32) (f32.const 1.5))
  (global (export "k64f") f64 (f64.const -2.25))
  (global (export "fref") (mut funcref) (ref.null func))
  (global (export "eref") (mut externref) (ref.null extern))
  (func $add1 (export "add1") (type $to_i32) (i32.add (local.get 0) (i32.const 1)))
  (func $div (export "div") (type $to_i32) (i32.div_u (i32.const 1000) (local.get 0)))
  (func $mix (export "mix") (param i64 f64) (result f64)
    (f64.copysign (f64.convert_i64_s (local.get 0)) (local.get 1)))
  (func $store (export "store") (param i32 i64)
    (i64.store (i32.and (local.get 0) (i32.const 0xfff8)) (local.get 1))
    (global.set $count (i32.add (global.get $count) (i32.const 1))))
  (func $bump (export "bump") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func $multi (export "multi") (param i32) (result i32 i64 f32)
    (local.get 0) (i64.extend_i32_s (local.get 0)) (f32.convert_i32_s (local.get 0)))
  (func $nop (export "nop"))
  (elem (i32.const 0) func $add1 $div $mix $store $bump $multi $nop $add1))"#;

/// What generated modules may import: [`PROVIDER`]'s exports, with their exact types.
const PROVIDER_IMPORTS: &str = r#"(module
  (import "env" "memory" (memory 1 4))
  (import "env" "table" (table 8 16 funcref))
  (import "env" "count" (global (mut i32)))
  (import "env" "k64" (global i64))
  (import "env" "v32" (global (mut f32)))
  (import "env" "k64f" (global f64))
  (import "env" "fref" (global (mut funcref)))
  (import "env" "eref" (global (mut externref)))
  (import "env" "add1" (func (param i32) (result i32)))
  (import "env" "div" (func (param i32) (result i32)))
  (import "env" "mix" (func (param i64 f64) (result f64)))
  (import "env" "store" (func (param i32 i64)))
  (import "env" "bump" (func (result i32)))
  (import "env" "multi" (func (param i32) (result i32 i64 f32)))
  (import "env" "nop" (func)))"#;

fn leb128(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb128(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// The sections of `wasm`: (id, start of contents, end).
fn sections(wasm: &[u8]) -> Result<Vec<(u8, usize, usize)>, String> {
    let bad = || "malformed module".to_string();
    let mut sections = Vec::new();
    let mut pos = 8;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = read_leb128(wasm, &mut pos).ok_or_else(bad)? as usize;
        let end = pos
            .checked_add(size)
            .filter(|e| *e <= wasm.len())
            .ok_or_else(bad)?;
        sections.push((id, pos, end));
        pos = end;
    }
    Ok(sections)
}

/// The largest timeout of a `memory.atomic.wait32/64` after [`rewrite_waits`], in
/// nanoseconds (a mask: the timeouts become `timeout & WAIT_TIMEOUT_MASK`).
const WAIT_TIMEOUT_MASK: u64 = 1023;

/// What [`rewrite_waits`] did to a module, summed over the run.
static WAITS_BOUNDED: AtomicUsize = AtomicUsize::new(0);
static WAITS_CONVERTED: AtomicUsize = AtomicUsize::new(0);

/// Signed LEB128 of `n`.
fn sleb128(mut n: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0) {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `wasm` with its waits made safe for single-threaded cases, and more of them: returns
/// the module, the waits it had and the waits made from other atomic instructions.
///
/// On a shared memory a wait whose value matches returns only when its timeout runs out:
/// a negative timeout (forever) would hang both engines and a large one stall the run. So
/// every `memory.atomic.wait32/64` gets `i64.const WAIT_TIMEOUT_MASK i64.and` before it
/// (the timeout is on top of the stack), and returns "not-equal" (1) or "timed-out" (2)
/// within a microsecond, the same in both engines; the comparison, the alignment and
/// bounds traps and the trap on an unshared memory are untouched. (Negative timeouts
/// with a differing value are lost: compiler/tests/threads.rs covers them.)
///
/// wasm-smith generates a wait only when an address, a value and an i64 happen to be on
/// the stack (one seed in a thousand). So some other atomic instructions (half of those
/// on shared memories, an eighth of the others, whose waits trap) become waits on the
/// same memory and value type, with the wait's alignment, a small offset and the
/// replaced instruction's stack effect: `rmw [addr v] -> v` and `notify [addr n]` become
/// `i64.const t; wait [addr v t]` (`t` from `rng`, below the mask), `cmpxchg [addr e r]`
/// waits for `e` with `r` (masked) as the timeout, `load [addr]` waits for 0 (memories are
/// mostly zero: it times out), `store [addr v]` waits for `v` and drops the result; an
/// i64 result is the wait's i32 widened. Three in four of them get their address masked
/// (through scratch locals added to the function) so that they do compare and time out.
fn rewrite_waits(wasm: &[u8], rng: &mut Prng) -> Result<(Vec<u8>, usize, usize), String> {
    use wasmparser::{CompositeInnerType, Operator as O, Parser, Payload, TypeRef};
    const CODE: u8 = 10;
    const LOCAL_GET: u8 = 0x20;
    const LOCAL_SET: u8 = 0x21;
    const I32: u8 = 0x7f;
    const I64: u8 = 0x7e;
    const WAIT32: [u8; 2] = [0xfe, 0x01];
    const WAIT64: [u8; 2] = [0xfe, 0x02];
    const I64_AND: u8 = 0x83;
    const I64_EXTEND_I32_U: u8 = 0xad;
    const DROP: u8 = 0x1a;
    enum Shape {
        Rmw,
        Cmpxchg,
        Load,
        Store,
    }
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    let mut mask = vec![0x42]; // i64.const
    sleb128(WAIT_TIMEOUT_MASK as i64, &mut mask);
    mask.push(I64_AND);
    // The memories (imported ones first): (shared, 64-bit).
    let mut memories = Vec::new();
    // Parameter counts of the types (0 for struct and array types), and the type of each
    // defined function.
    let mut params = Vec::new();
    let mut func_types = Vec::new();
    // The new bodies of the code section.
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    let (mut waits, mut converted) = (0, 0);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::TypeSection(r) => {
                for group in r {
                    for t in group.map_err(err)?.into_types() {
                        params.push(match &t.composite_type.inner {
                            CompositeInnerType::Func(f) => f.params().len() as u64,
                            _ => 0,
                        });
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    if let TypeRef::Memory(m) = import.map_err(err)?.ty {
                        memories.push((m.shared, m.memory64));
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t.map_err(err)?);
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    let m = m.map_err(err)?;
                    memories.push((m.shared, m.memory64));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let range = body.range();
                let (start, end) = (range.start as usize, range.end as usize);
                // Three scratch locals after the function's own, for waits whose address is
                // masked: the timeout (i64) and the value (i64 or i32).
                let mut locals = body.get_locals_reader().map_err(err)?;
                let groups = locals.get_count();
                let mut scratch = func_types
                    .get(bodies.len())
                    .and_then(|t| params.get(*t as usize))
                    .copied()
                    .ok_or("a function of an unknown type")?;
                for _ in 0..groups {
                    scratch += u64::from(locals.read().map_err(err)?.0);
                }
                let (timeout_local, v64_local, v32_local) = (scratch, scratch + 1, scratch + 2);
                let mut header = Vec::new();
                leb128(u64::from(groups) + 2, &mut header);
                let mut ops = body.get_operators_reader().map_err(err)?;
                let ops_start = ops.original_position() as usize;
                let mut group_start = start;
                read_leb128(wasm, &mut group_start).ok_or("bad locals")?;
                header.extend_from_slice(&wasm[group_start..ops_start]);
                header.extend_from_slice(&[2, I64, 1, I32]);
                let mut masked_any = false;
                let mut out = Vec::with_capacity(end - start);
                let mut copied = ops_start;
                while !ops.eof() {
                    let (op, at) = ops.read_with_offset().map_err(err)?;
                    let (at, next) = (at as usize, ops.original_position() as usize);
                    if let O::MemoryAtomicWait32 { .. } | O::MemoryAtomicWait64 { .. } = op {
                        out.extend_from_slice(&wasm[copied..at]);
                        out.extend_from_slice(&mask);
                        copied = at;
                        waits += 1;
                        continue;
                    }
                    // Other atomics, by name: `I32Atomic...`/`I64Atomic...` (the value type)
                    // and `MemoryAtomicNotify` (i32).
                    if wasm[at] != 0xfe || wasm[at + 1] >= 0x80 {
                        continue;
                    }
                    let name = format!("{op:?}");
                    let wide = name.starts_with("I64Atomic");
                    let shape = if name.starts_with("MemoryAtomicNotify") {
                        Shape::Rmw
                    } else if !wide && !name.starts_with("I32Atomic") {
                        continue;
                    } else if name.contains("Cmpxchg") {
                        Shape::Cmpxchg
                    } else if name.contains("Rmw") {
                        Shape::Rmw
                    } else if name.contains("Load") {
                        Shape::Load
                    } else {
                        Shape::Store
                    };
                    // The memory argument: flags (the alignment, bit 6 for a memory
                    // index), the memory index if any, the offset. The opcode before it
                    // is 0xfe and a one-byte LEB128 (all atomics are below 0x80).
                    let mut pos = at + 2;
                    let flags = read_leb128(wasm, &mut pos).ok_or("bad memory argument")?;
                    let after_flags = pos;
                    let memory = if flags & 0x40 != 0 {
                        read_leb128(wasm, &mut pos).ok_or("bad memory argument")?
                    } else {
                        0
                    };
                    let index_end = pos;
                    let offset = read_leb128(wasm, &mut pos).ok_or("bad memory argument")?;
                    if pos != next {
                        return Err(format!("an atomic at {at:#x} ends unexpectedly"));
                    }
                    let (on_shared, memory64) =
                        memories.get(memory as usize).copied().unwrap_or_default();
                    if rng.below(if on_shared { 2 } else { 8 }) != 0 {
                        continue;
                    }
                    out.extend_from_slice(&wasm[copied..at]);
                    let timeout = |out: &mut Vec<u8>, rng: &mut Prng| {
                        out.push(0x42);
                        sleb128(rng.below(WAIT_TIMEOUT_MASK + 1) as i64, out);
                    };
                    match shape {
                        // [addr v] -> [addr v t]
                        Shape::Rmw | Shape::Store => timeout(&mut out, rng),
                        // [addr e r] -> [addr e (r masked)]
                        Shape::Cmpxchg => {
                            if !wide {
                                out.push(I64_EXTEND_I32_U);
                            }
                            out.extend_from_slice(&mask);
                        }
                        // [addr] -> [addr 0 t]
                        Shape::Load => {
                            out.extend_from_slice(if wide { &[0x42, 0] } else { &[0x41, 0] });
                            timeout(&mut out, rng);
                        }
                    }
                    // Three in four of these waits get an address below 1024 and 8-aligned
                    // (in bounds unless the memory is empty), so that they compare and
                    // time out: `[addr v t]` -> `[(addr & 0x3f8) v t]`.
                    if rng.below(4) != 0 {
                        masked_any = true;
                        let v = if wide { v64_local } else { v32_local };
                        for (op, local) in [(LOCAL_SET, timeout_local), (LOCAL_SET, v)] {
                            out.push(op);
                            leb128(local, &mut out);
                        }
                        out.push(if memory64 { 0x42 } else { 0x41 });
                        sleb128(0x3f8, &mut out);
                        out.push(if memory64 { I64_AND } else { 0x71 });
                        for (op, local) in [(LOCAL_GET, v), (LOCAL_GET, timeout_local)] {
                            out.push(op);
                            leb128(local, &mut out);
                        }
                    }
                    out.extend_from_slice(if wide { &WAIT64 } else { &WAIT32 });
                    // The wait's natural alignment, which an atomic must have, and a small
                    // offset that keeps an aligned address aligned (wasm-smith's offsets
                    // are mostly far out of bounds): more waits get to compare.
                    let align = if wide { 3 } else { 2 };
                    leb128((flags & 0x40) | align, &mut out);
                    out.extend_from_slice(&wasm[after_flags..index_end]);
                    leb128((offset % 256) & !((1 << align) - 1), &mut out);
                    match shape {
                        Shape::Store => out.push(DROP),
                        _ if wide => out.push(I64_EXTEND_I32_U),
                        _ => {}
                    }
                    copied = next;
                    converted += 1;
                }
                out.extend_from_slice(&wasm[copied..end]);
                bodies.push(if masked_any {
                    [header, out].concat()
                } else {
                    [&wasm[start..ops_start], &out[..]].concat()
                });
            }
            _ => {}
        }
    }
    if waits + converted == 0 {
        return Ok((wasm.to_vec(), 0, 0));
    }
    let mut code = Vec::new();
    leb128(bodies.len() as u64, &mut code);
    for body in &bodies {
        leb128(body.len() as u64, &mut code);
        code.extend_from_slice(body);
    }
    let mut out = wasm[..8].to_vec();
    for (id, start, end) in sections(wasm)? {
        out.push(id);
        let contents = if id == CODE {
            &code[..]
        } else {
            &wasm[start..end]
        };
        leb128(contents.len() as u64, &mut out);
        out.extend_from_slice(contents);
    }
    Ok((out, waits, converted))
}

/// `wasm` with each memory it defines shared (imported ones keep their type: they come
/// from [`PROVIDER`]). A shared memory needs a maximum, which wasm-smith is asked to give
/// every memory (`memory_max_size_required`); one without stays unshared.
fn share_memories(wasm: &[u8]) -> Result<Vec<u8>, String> {
    use wasmparser::{Parser, Payload};
    const MEMORY: u8 = 5;
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    let mut section = None;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::MemorySection(r) = payload.map_err(err)? {
            let mut out = Vec::new();
            leb128(u64::from(r.count()), &mut out);
            for m in r {
                let m = m.map_err(err)?;
                if m.page_size_log2.is_some() {
                    return Err("custom page sizes are not generated".to_string());
                }
                let shared = m.shared || m.maximum.is_some();
                // Limits flags: bit 0 a maximum, bit 1 shared, bit 2 64-bit.
                out.push(
                    u8::from(m.maximum.is_some())
                        | u8::from(shared) << 1
                        | u8::from(m.memory64) << 2,
                );
                leb128(m.initial, &mut out);
                if let Some(max) = m.maximum {
                    leb128(max, &mut out);
                }
            }
            section = Some(out);
        }
    }
    let Some(section) = section else {
        return Ok(wasm.to_vec());
    };
    let mut out = wasm[..8].to_vec();
    for (id, start, end) in sections(wasm)? {
        out.push(id);
        let contents = if id == MEMORY {
            &section[..]
        } else {
            &wasm[start..end]
        };
        leb128(contents.len() as u64, &mut out);
        out.extend_from_slice(contents);
    }
    Ok(out)
}

/// `wasm` with each of its memories (imported or defined) also exported as
/// [`MEMORY_EXPORT`]`-<index>` (unchanged if it has none). Only the export section is
/// rewritten (or added).
fn export_memories(wasm: &[u8]) -> Result<Vec<u8>, String> {
    const EXPORT: u8 = 7;
    let bad = || "malformed module".to_string();
    if wasm.get(..8).is_none() {
        return Err(bad());
    }
    let mut memories = 0u64;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            wasmparser::Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.map_err(|e| e.to_string())?;
                    memories += u64::from(matches!(import.ty, wasmparser::TypeRef::Memory(_)));
                }
            }
            wasmparser::Payload::MemorySection(r) => memories += u64::from(r.count()),
            _ => {}
        }
    }
    let sections = sections(wasm)?;
    if memories == 0 {
        return Ok(wasm.to_vec());
    }
    let mut entries = Vec::new();
    for i in 0..memories {
        let name = format!("{MEMORY_EXPORT}-{i}");
        leb128(name.len() as u64, &mut entries);
        entries.extend_from_slice(name.as_bytes());
        entries.push(0x02); // a memory
        leb128(i, &mut entries);
    }
    let mut contents = Vec::new();
    let mut out = wasm[..8].to_vec();
    let mut written = false;
    // Sections in the binary's order: exports come after memories and globals, before
    // the start, element, data count, code and data sections (ids 8..=12).
    let mut write_exports =
        |out: &mut Vec<u8>, old: Option<(usize, usize)>| -> Result<(), String> {
            contents.clear();
            let (count, rest) = match old {
                Some((start, end)) => {
                    let mut p = start;
                    let n = read_leb128(wasm, &mut p).ok_or_else(bad)?;
                    (n, &wasm[p..end])
                }
                None => (0, &[][..]),
            };
            leb128(count + memories, &mut contents);
            contents.extend_from_slice(rest);
            contents.extend_from_slice(&entries);
            out.push(EXPORT);
            leb128(contents.len() as u64, out);
            out.extend_from_slice(&contents);
            Ok(())
        };
    for &(id, start, end) in &sections {
        if id == EXPORT {
            write_exports(&mut out, Some((start, end)))?;
            written = true;
            continue;
        }
        if !written && (8..=12).contains(&id) {
            write_exports(&mut out, None)?;
            written = true;
        }
        out.push(id);
        leb128((end - start) as u64, &mut out);
        out.extend_from_slice(&wasm[start..end]);
    }
    if !written {
        write_exports(&mut out, None)?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// What a case does: its exports and the calls made on it

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    I32,
    I64,
    F32,
    F64,
    V128,
    /// A nullable reference to a function (`funcref`, `(ref null $t)`, `nullfuncref`).
    FuncRef,
    /// A nullable external reference (`externref`, `nullexternref`).
    ExternRef,
    /// A nullable reference in the `any` hierarchy (`anyref`, `eqref`, `nullref`,
    /// `(ref null $struct)`...).
    AnyRef,
    /// A type no script argument has: a non-nullable reference (`(ref $t)`, `(ref func)`)
    /// and `exnref` (wasmtime's `wast` cannot pass even a null one). A function with such
    /// a parameter is not called.
    Unpassable,
}

struct Func {
    name: String,
    params: Vec<Ty>,
}

struct Global {
    name: String,
    mutable: bool,
}

/// The argument type of `t`; `func_types` says which type indices are function types.
fn ty_of(t: wasmparser::ValType, func_types: &[bool]) -> Ty {
    use wasmparser::{AbstractHeapType as A, HeapType, ValType};
    match t {
        ValType::I32 => Ty::I32,
        ValType::I64 => Ty::I64,
        ValType::F32 => Ty::F32,
        ValType::F64 => Ty::F64,
        ValType::V128 => Ty::V128,
        ValType::Ref(r) if !r.is_nullable() => Ty::Unpassable,
        ValType::Ref(r) => match r.heap_type() {
            HeapType::Abstract { shared: false, ty } => match ty {
                A::Func | A::NoFunc => Ty::FuncRef,
                A::Extern | A::NoExtern => Ty::ExternRef,
                A::Any | A::Eq | A::I31 | A::Struct | A::Array | A::None => Ty::AnyRef,
                _ => Ty::Unpassable,
            },
            HeapType::Concrete(i) => {
                match i.as_module_index().map(|i| func_types.get(i as usize)) {
                    Some(Some(true)) => Ty::FuncRef,
                    // A struct or array type: a null of the `any` hierarchy matches it.
                    Some(Some(false)) => Ty::AnyRef,
                    _ => Ty::Unpassable,
                }
            }
            _ => Ty::Unpassable,
        },
    }
}

/// What a case module offers to be called and read.
struct Shape {
    /// Exported functions and globals, in export order.
    funcs: Vec<Func>,
    globals: Vec<Global>,
    /// Whether the module imports anything (then only from [`PROVIDER`], as `env`).
    imports: bool,
    /// The module's memories (imported ones first), each exported as
    /// [`MEMORY_EXPORT`]`-<index>`.
    memories: Vec<MemoryType>,
    /// Whether the provider's memory is hashed too: it can change through the provider's
    /// functions even when the module does not import it (if it does, it is one of
    /// `memories`).
    provider_memory: bool,
}

fn shape(wasm: &[u8]) -> Result<Shape, String> {
    use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef};
    let mut types = Vec::new();
    // Function and global index spaces: imports first.
    let mut func_types = Vec::new();
    let mut globals = Vec::new();
    let mut out = Shape {
        funcs: Vec::new(),
        globals: Vec::new(),
        imports: false,
        memories: Vec::new(),
        provider_memory: false,
    };
    let mut imports_memory = false;
    let err = |e: wasmparser::BinaryReaderError| e.to_string();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(err)? {
            Payload::TypeSection(r) => {
                // Struct and array types (wasm-smith's GC) take a place in the index space.
                let mut subtypes = Vec::new();
                for group in r {
                    subtypes.extend(group.map_err(err)?.into_types());
                }
                let func_types: Vec<bool> = subtypes
                    .iter()
                    .map(|t| matches!(t.composite_type.inner, CompositeInnerType::Func(_)))
                    .collect();
                for t in &subtypes {
                    types.push(match &t.composite_type.inner {
                        CompositeInnerType::Func(ft) => Some(
                            ft.params()
                                .iter()
                                .map(|p| ty_of(*p, &func_types))
                                .collect::<Vec<_>>(),
                        ),
                        _ => None,
                    });
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    let import = import.map_err(err)?;
                    if import.module != "env" {
                        return Err(format!(
                            "import from `{}`: only `env` (the provider module) is available",
                            import.module
                        ));
                    }
                    out.imports = true;
                    match import.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => func_types.push(t),
                        TypeRef::Global(g) => globals.push(g.mutable),
                        TypeRef::Memory(m) => {
                            imports_memory = true;
                            out.memories.push(m);
                        }
                        TypeRef::Table(_) | TypeRef::Tag(_) => {}
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t.map_err(err)?);
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    globals.push(g.map_err(err)?.ty.mutable);
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    out.memories.push(m.map_err(err)?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(err)?;
                    match e.kind {
                        ExternalKind::Func => {
                            let ty = func_types
                                .get(e.index as usize)
                                .and_then(|t| types.get(*t as usize))
                                .and_then(Option::as_ref)
                                .ok_or("export of an unknown function")?;
                            out.funcs.push(Func {
                                name: e.name.to_string(),
                                params: ty.clone(),
                            });
                        }
                        ExternalKind::Global => {
                            let mutable = *globals
                                .get(e.index as usize)
                                .ok_or("export of an unknown global")?;
                            out.globals.push(Global {
                                name: e.name.to_string(),
                                mutable,
                            });
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out.provider_memory = out.imports && !imports_memory;
    Ok(out)
}

#[derive(Clone, Debug)]
enum Step {
    /// A fresh instance of [`PROVIDER`], named `$p`.
    Provider,
    /// Make `$p` importable as `env` (what the case imports).
    RegisterEnv,
    /// A fresh instance of the case; the following steps act on it.
    Instantiate,
    Call {
        func: usize,
        args: Vec<Value>,
    },
    Get {
        global: usize,
    },
    /// Make the current instance (its memories) importable as `fuzz`, for the hasher.
    Register,
    /// A fresh instance of the case's [`hasher`], importing the memories registered last.
    HashInstance,
    /// Its `hash` of the whole memory.
    Hash,
}

struct Plan {
    funcs: Vec<Func>,
    globals: Vec<Global>,
    /// The text of the case's [`hasher`], if it has one.
    hasher: Option<String>,
    steps: Vec<Step>,
    /// For each step, the index of the first step of its instance's group (its Provider
    /// or Instantiate step): a group is left out of a script as a whole.
    group: Vec<usize>,
}

/// Arguments worth trying: zeros, ones, edges, and values near them.
fn argument(ty: Ty, rng: &mut Prng) -> Value {
    const I32S: &[u32] = &[
        0,
        1,
        2,
        3,
        7,
        8,
        16,
        31,
        32,
        255,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
    ];
    const I64S: &[u64] = &[
        0,
        1,
        2,
        7,
        63,
        64,
        0xffff_ffff,
        0x1_0000_0000,
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        0xffff_ffff_ffff_ffff,
    ];
    const F32S: &[u32] = &[
        0x0000_0000, // 0
        0x8000_0000, // -0
        0x3f80_0000, // 1
        0xbfc0_0000, // -1.5
        0x4f00_0000, // 2^31
        0xcf00_0000, // -2^31
        0x7f7f_ffff, // max
        0x0000_0001, // smallest subnormal
        0x7f80_0000, // inf
        0xff80_0000, // -inf
        0x7fc0_0000, // canonical NaN
        0x4049_0fdb, // pi
    ];
    const F64S: &[u64] = &[
        0,
        0x8000_0000_0000_0000,
        0x3ff0_0000_0000_0000,
        0xbff8_0000_0000_0000,
        0x41e0_0000_0000_0000, // 2^31
        0xc3e0_0000_0000_0000, // -2^63
        0x7fef_ffff_ffff_ffff,
        0x0000_0000_0000_0001,
        0x7ff0_0000_0000_0000,
        0xfff0_0000_0000_0000,
        0x7ff8_0000_0000_0000,
        0x4009_21fb_5444_2d18,
    ];
    // One value in four is random bits.
    let random = rng.below(4) == 0;
    match ty {
        Ty::I32 if random => Value::I32(rng.next() as u32),
        Ty::I32 => Value::I32(rng.pick(I32S)),
        Ty::I64 if random => Value::I64(rng.next()),
        Ty::I64 => Value::I64(rng.pick(I64S)),
        Ty::F32 if random => Value::F32(rng.next() as u32),
        Ty::F32 => Value::F32(rng.pick(F32S)),
        Ty::F64 if random => Value::F64(rng.next()),
        Ty::F64 => Value::F64(rng.pick(F64S)),
        Ty::V128 if random => Value::V128(u128::from(rng.next()) << 64 | u128::from(rng.next())),
        // Lanes of the scalar edge values, as f32x4, f64x2 or integers of one width.
        Ty::V128 => {
            let mut v = 0u128;
            match rng.below(4) {
                0 => (0..4).for_each(|i| v |= u128::from(rng.pick(F32S)) << (32 * i)),
                1 => (0..2).for_each(|i| v |= u128::from(rng.pick(F64S)) << (64 * i)),
                2 => (0..4).for_each(|i| v |= u128::from(rng.pick(I32S)) << (32 * i)),
                _ => (0..2).for_each(|i| v |= u128::from(rng.pick(I64S)) << (64 * i)),
            }
            Value::V128(v)
        }
        Ty::FuncRef | Ty::AnyRef | Ty::ExternRef | Ty::Unpassable => zero(ty),
    }
}

fn zero(ty: Ty) -> Value {
    match ty {
        Ty::I32 => Value::I32(0),
        Ty::I64 => Value::I64(0),
        Ty::F32 => Value::F32(0),
        Ty::F64 => Value::F64(0),
        Ty::V128 => Value::V128(0),
        Ty::FuncRef => Value::NullFuncRef,
        Ty::ExternRef => Value::NullExternRef,
        Ty::AnyRef => Value::NullAnyRef,
        // Never called (see `plan`).
        Ty::Unpassable => Value::NullFuncRef,
    }
}

fn plan(wasm: &[u8], arg_seed: u64) -> Result<Plan, String> {
    let Shape {
        funcs,
        globals,
        imports,
        memories,
        provider_memory,
    } = shape(wasm)?;
    let hasher = hasher(&memories, provider_memory);
    let hash = |steps: &mut Vec<Step>| {
        if !memories.is_empty() {
            steps.push(Step::Register);
        }
        if hasher.is_some() {
            steps.extend([Step::HashInstance, Step::Hash]);
        }
    };
    let instantiate = |steps: &mut Vec<Step>| {
        if imports {
            steps.extend([Step::Provider, Step::RegisterEnv]);
        }
        steps.push(Step::Instantiate);
    };
    let mut steps = Vec::new();
    instantiate(&mut steps);
    steps.extend((0..globals.len()).map(|global| Step::Get { global }));
    hash(&mut steps);
    let mut calls = 0;
    'funcs: for (f, func) in funcs.iter().enumerate() {
        if func.params.contains(&Ty::Unpassable) {
            continue;
        }
        let tuples = if func.params.is_empty() {
            1
        } else {
            ARG_TUPLES
        };
        for t in 0..tuples {
            if calls == MAX_CALLS {
                break 'funcs;
            }
            calls += 1;
            let mut rng = Prng::new(arg_seed, 1000 + (f * ARG_TUPLES + t) as u64);
            let args = func
                .params
                .iter()
                .map(|ty| {
                    if t == 0 {
                        zero(*ty)
                    } else {
                        argument(*ty, &mut rng)
                    }
                })
                .collect();
            instantiate(&mut steps);
            steps.push(Step::Call { func: f, args });
            steps.extend(
                (0..globals.len())
                    .filter(|g| globals[*g].mutable)
                    .map(|global| Step::Get { global }),
            );
            hash(&mut steps);
        }
    }
    let mut group = Vec::with_capacity(steps.len());
    let mut current = 0;
    for (i, s) in steps.iter().enumerate() {
        let starts = match s {
            Step::Provider => true,
            Step::Instantiate => !imports,
            _ => false,
        };
        if starts {
            current = i;
        }
        group.push(current);
    }
    Ok(Plan {
        funcs,
        globals,
        hasher,
        steps,
        group,
    })
}

// ---------------------------------------------------------------------------------------
// Cases and compilation

struct Case {
    /// `seed 17` or `regression <file>`.
    name: String,
    /// For file names of kept modules.
    slug: String,
    wasm: Vec<u8>,
    plan: Plan,
    /// Object file per build (None: not compiled, see the case's report).
    objects: Vec<Option<Vec<u8>>>,
}

impl Source {
    /// Whether `build` runs this case (when it compiles and the build can run at all);
    /// `every` is the build's [`Build::run_every`], or the one of `AOT_FUZZ_RUN_EVERY`.
    fn runs_in(&self, build: &Build, every: u64) -> bool {
        match self {
            Source::Seed(s) => {
                every > 0
                    && s % every == 0
                    && (build.relaxed_as_host || !Features::of_seed(*s).has(Feature::RelaxedSimd))
            }
            Source::File(_) | Source::SelfCheck => every > 0,
        }
    }
}

#[derive(Default)]
struct CaseReport {
    failures: Vec<String>,
    /// Why the whole case (or one build of it) was not run.
    skips: Vec<String>,
    /// Calls left out of the comparison, with the reason.
    skipped_calls: Vec<String>,
    /// Whether wasmtime checked at least one build's results (a case passes only then).
    compared: bool,
}

enum Source {
    Seed(u64),
    File(PathBuf),
    /// [`SELF_CHECK`].
    SelfCheck,
}

/// A case with known values of every kind (NaN payloads, subnormals, infinities, extreme
/// integers, vectors, references, several results, traps of several kinds, stack
/// exhaustion, stores in a 32-bit and a 64-bit memory), run in every run, so that the way results are read and written for wasmtime
/// is checked end to end. Its results are also corrupted on purpose, and wasmtime must
/// notice (see [`self_check_is_not_blind`]).
const SELF_CHECK: &str = r#"(module
  (memory 1 1)
  (memory $m64 i64 1 1)
  (data (i32.const 8) "\01\02\03")
  (data (memory $m64) (i64.const 16) "\04\05")
  (global $g (export "g") (mut i64) (i64.const -5))
  (global (export "gv") (mut v128) (v128.const i32x4 -1 0x7fc00001 0 0x80000000))
  (global (export "gf32") f32 (f32.const -0x1.8p-130))
  (global (export "gf64") f64 (f64.const nan:0x4000000000001))
  (global (export "gref") funcref (ref.func $consts))
  (func $consts (export "consts") (result f32 f32 f32 f64 f64 f64 i32 i64)
    (f32.const nan:0x200001) (f32.const -inf) (f32.const 0x1p-149)
    (f64.const -nan:0x8000000000001) (f64.const 0x1.fffffffffffffp+1023)
    (f64.const -0x0.0000000000001p-1022)
    (i32.const -2147483648) (i64.const -9223372036854775808))
  (func (export "id") (param i32 i64 f32 f64 funcref externref)
    (result i32 i64 f32 f64 funcref externref)
    local.get 0 local.get 1 local.get 2 local.get 3 local.get 4 local.get 5)
  (func (export "div") (param i32) (result i32) (i32.div_s (i32.const 7) (local.get 0)))
  (func (export "store") (param i32 i64)
    (i64.store (i32.and (local.get 0) (i32.const 0xfff8)) (local.get 1))
    (i64.store $m64 (i64.extend_i32_u (i32.and (local.get 0) (i32.const 0xfff0))) (local.get 1))
    (global.set $g (local.get 1)))
  (func (export "vec") (param v128) (result v128 v128)
    (local.get 0)
    (v128.const f32x4 nan:0x200001 -inf 0x1p-149 -0))
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (call $deep (local.get 0)) (i32.const 1)))
  (func (export "refs") (result funcref externref funcref)
    (ref.null func) (ref.null extern) (ref.func $consts))
  (type $to_i32 (func (param i32) (result i32)))
  (type $pair (struct (field i32) (field (mut anyref))))
  (type $bytes (array (mut i8)))
  (global $gs (export "gstruct") (mut (ref null $pair))
    (struct.new $pair (i32.const 1) (ref.i31 (i32.const 2))))
  (func (export "gc") (param (ref null $pair)) (result (ref null $pair) anyref i31ref externref (ref null $pair) anyref)
    (struct.new $pair (i32.const 3) (array.new_default $bytes (i32.const 2)))
    (array.new_fixed $bytes 2 (i32.const 1) (i32.const 2))
    (ref.i31 (i32.const -1))
    (extern.convert_any (ref.i31 (i32.const 5)))
    (local.get 0)
    (struct.get $pair 1 (ref.cast (ref $pair) (global.get $gs))))
  (table 4 funcref)
  (elem (i32.const 0) func $consts $deep)
  (func (export "indirect") (param i32) (result i32)
    (call_indirect (type $to_i32) (i32.const 5) (local.get 0))))"#;

fn options(build: &Build) -> Options {
    let mut opts = Options::new(Target::for_arch(build.arch));
    opts.opt_level = build.opt_level;
    opts.bounds = build.bounds;
    opts.cpu = build.cpu;
    opts.unroll = build.unroll;
    opts
}

/// Generates (or reads) the module of `source`, plans its calls and compiles it for every
/// build, as module number `index[b]` of the executable of build `b`.
fn prepare(source: &Source, index: &[usize], selected: &[bool]) -> (Option<Case>, CaseReport) {
    let mut report = CaseReport::default();
    let (name, slug, arg_seed, wasm) = match source {
        Source::Seed(s) => {
            let wasm = match panics::catch(|| generate(*s)) {
                Ok(Ok(w)) => w,
                Ok(Err(e)) | Err(e) => {
                    report
                        .failures
                        .push(format!("seed {s}: cannot generate: {}", one_line(&e)));
                    return (None, report);
                }
            };
            let mut uses = USES.lock().unwrap_or_else(|e| e.into_inner());
            for name in instructions_used(&wasm) {
                *uses.entry(name).or_default() += 1;
            }
            drop(uses);
            (format!("seed {s}"), format!("seed-{s}"), *s, wasm)
        }
        Source::SelfCheck => match wat::parse_str(SELF_CHECK) {
            Ok(w) => ("self-check".to_string(), "self-check".to_string(), 1, w),
            Err(e) => {
                report.failures.push(format!("self-check: {e}"));
                return (None, report);
            }
        },
        Source::File(path) => {
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = format!("regression {file}");
            match wat::parse_file(path) {
                Ok(w) => {
                    let arg_seed = fnv1a(file.as_bytes());
                    (name, file.replace('.', "-"), arg_seed, w)
                }
                Err(e) => {
                    report
                        .failures
                        .push(format!("{name}: cannot read: {}", one_line(&e.to_string())));
                    return (None, report);
                }
            }
        }
    };
    let wasm = match export_memories(&wasm) {
        Ok(w) => w,
        Err(e) => {
            report.failures.push(format!("{name}: {e}"));
            return (None, report);
        }
    };
    // The generator must stay inside what aot accepts; anything else is a harness bug.
    if let Err(e) =
        wasmparser::Validator::new_with_features(aot::module::features()).validate_all(&wasm)
    {
        report.failures.push(format!(
            "{name}: the module is outside aot's feature set (harness configuration): {e}"
        ));
        return (None, report);
    }
    let plan = match plan(&wasm, arg_seed) {
        Ok(p) => p,
        Err(e) => {
            report.failures.push(format!("{name}: {e}"));
            return (None, report);
        }
    };
    let mut objects = Vec::with_capacity(BUILDS.len());
    for ((build, &index), &selected) in BUILDS.iter().zip(index).zip(selected) {
        if !selected {
            objects.push(None);
            continue;
        }
        // Imports are resolved when instantiating (from the provider).
        let opts = Options {
            allow_unknown_imports: true,
            ..options(build)
        };
        let compiled = panics::catch(|| aot::compile_module(&wasm, &slug, index, &opts));
        objects.push(match compiled {
            Ok(Ok(obj)) => Some(obj),
            Ok(Err(e)) => {
                let e = one_line(&e.to_string());
                if e.contains("not supported") {
                    // Without the file and offset (`seed-7: byte 0xd: `), so that the
                    // skips with one reason are counted together.
                    let reason = match e.split_once(": byte 0x") {
                        Some((_, rest)) => rest.split_once(": ").map_or(rest, |r| r.1),
                        None => e.as_str(),
                    };
                    report.skips.push(format!("{}: {reason}", build.name));
                } else {
                    report
                        .failures
                        .push(format!("{name} [{}]: compile error: {e}", build.name));
                }
                None
            }
            Err(panic) => {
                report
                    .failures
                    .push(format!("{name} [{}]: compiler {panic}", build.name));
                None
            }
        });
    }
    let case = Case {
        name,
        slug,
        wasm,
        plan,
        objects,
    };
    (Some(case), report)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------------------
// Running the compiled cases

#[derive(Clone, Debug, PartialEq)]
enum Val {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// Non-null? (Of any function type.)
    FuncRef(bool),
    ExternRef(Option<u64>),
    /// A null reference of another type (typed function references, `exnref`, the `any`
    /// hierarchy): `(ref.null)` matches it whatever its type is.
    Null,
    /// A non-null `exnref`: wasmtime's `wast` has no form for it, so a call returning one
    /// is only checked to return (a bare `invoke`), and a global holding one is not read.
    ExnRef,
    /// A non-null reference of the `any` hierarchy: what it is, as far as `wast` can say
    /// (`(ref.i31)`, `(ref.struct)`, `(ref.array)`: no value, no identity). The builds of
    /// aot also compare an i31's value.
    Any(GcRef),
    /// A non-null `externref` that is an `any` made external (`extern.convert_any`):
    /// `(ref.extern)` for wasmtime.
    ExternAny(GcRef),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum GcRef {
    /// The 31-bit value, unsigned.
    I31(u32),
    Struct,
    Array,
}

/// What a step did in one build.
#[derive(Clone, Debug, PartialEq)]
enum Observed {
    /// Instantiated, or registered.
    Done,
    Values(Vec<Val>),
    /// The trap message (`TrapKind::message`).
    Trap(String),
    /// The driver could not do the step (a harness or runtime bug).
    Error(String),
}

const STACK_EXHAUSTED: &str = "call stack exhausted";
/// The trap (aot) and error (wasmtime) of an allocation the GC heap cannot hold: an
/// implementation limit, like stack exhaustion, not a bug. The engines' heaps differ (a
/// single array of 2 GiB fails in wasmtime, whose heap grows by doubling up to 4 GiB;
/// aot's fuzz executables are held to [`GC_MAX_HEAP`]), and in aot the cases of a batch
/// share one heap, where the objects that instances' globals and tables keep stay.
const GC_OUT_OF_MEMORY: &str = "GC heap out of memory";
/// `AOT_GC_MAX_HEAP` of the executables (unless set in the environment): random array
/// lengths ask for gigabytes, and filling them takes seconds, more under qemu.
const GC_MAX_HEAP: &str = "1073741824";
/// The driver's trap message for an uncaught exception (checked with `assert_exception`).
const EXCEPTION: &str = "thrown Wasm exception";

/// The expectation that no result can meet: its FAIL line shows what the action did.
fn never() -> Vec<Expected> {
    vec![Expected::Either(Vec::new())]
}

/// Module numbers of the helper modules of a case in its batch.
#[derive(Clone, Copy)]
struct Helpers {
    /// The case's [`hasher`] (0 if it has none).
    hasher: u32,
    provider: u32,
}

const PROVIDER_INSTANCE: &str = "$p";

/// The command of `step` of the case that is module `module`.
fn step_command(plan: &Plan, step: &Step, module: u32, helpers: Helpers) -> ScriptCommand {
    let provider = || Some(PROVIDER_INSTANCE.to_string());
    match step {
        Step::Provider => ScriptCommand::Module {
            module: helpers.provider,
            name: provider(),
        },
        Step::RegisterEnv => ScriptCommand::Register {
            as_name: "env".to_string(),
            instance: provider(),
        },
        Step::Instantiate => ScriptCommand::Module { module, name: None },
        Step::Register => ScriptCommand::Register {
            as_name: "fuzz".to_string(),
            instance: None,
        },
        Step::HashInstance => ScriptCommand::Module {
            module: helpers.hasher,
            name: None,
        },
        Step::Hash => ScriptCommand::AssertReturn {
            action: Action::Invoke {
                instance: None,
                field: "hash".to_string(),
                args: Vec::new(),
            },
            expected: never(),
        },
        Step::Call { func, args } => ScriptCommand::AssertReturn {
            action: Action::Invoke {
                instance: None,
                field: plan.funcs[*func].name.clone(),
                args: args.clone(),
            },
            expected: never(),
        },
        Step::Get { global } => ScriptCommand::AssertReturn {
            action: Action::Get {
                instance: None,
                field: plan.globals[*global].name.clone(),
            },
            expected: never(),
        },
    }
}

/// The spec driver's text of a non-null `any` word (`i31 <value>`, `struct`, `array`).
fn parse_gc_ref(text: &str) -> Option<GcRef> {
    Some(match text {
        "struct" => GcRef::Struct,
        "array" => GcRef::Array,
        _ => GcRef::I31(text.strip_prefix("i31 ")?.parse().ok()?),
    })
}

fn parse_val(item: &str) -> Option<Val> {
    let (ty, rest) = item.split_once(':')?;
    if let Some(any) = rest.strip_prefix("any ") {
        return Some(Val::ExternAny(parse_gc_ref(any)?));
    }
    if let Some(gc) = parse_gc_ref(rest) {
        return Some(Val::Any(gc));
    }
    let hex = |s: &str| {
        let h = s.rsplit_once("(0x")?.1.strip_suffix(')')?;
        u64::from_str_radix(h, 16).ok()
    };
    Some(match ty {
        "i32" => Val::I32(hex(rest)? as u32),
        "i64" => Val::I64(hex(rest)?),
        "f32" => Val::F32(hex(rest)? as u32),
        "f64" => Val::F64(hex(rest)?),
        "v128" => Val::V128(u128::from_str_radix(rest.strip_prefix("0x")?, 16).ok()?),
        "funcref" => Val::FuncRef(rest != "null"),
        "externref" if rest == "null" => Val::ExternRef(None),
        "externref" => Val::ExternRef(Some(rest.parse().ok()?)),
        "exnref" if rest == "null" => Val::Null,
        "exnref" => Val::ExnRef,
        // `(ref null <type 3>)`, `(ref func)`, `(ref null exn)`...
        _ => {
            let inner = ty.strip_prefix("(ref ")?.strip_suffix(')')?;
            let heap = inner.strip_prefix("null ").unwrap_or(inner);
            match heap {
                "extern" | "noextern" if rest == "null" => Val::ExternRef(None),
                "extern" => Val::ExternRef(Some(rest.parse().ok()?)),
                _ if rest == "null" => Val::Null,
                // Struct and array references were read above: a concrete type left is a
                // function type.
                "func" => Val::FuncRef(true),
                _ if heap.starts_with("<type ") => Val::FuncRef(true),
                "exn" => Val::ExnRef,
                _ => return None,
            }
        }
    })
}

/// Reads one result line of the spec driver (`None` = `ok`, else the FAIL reason).
fn observe(step: &Step, result: Option<&str>) -> Observed {
    match (step, result) {
        (
            Step::Provider
            | Step::RegisterEnv
            | Step::Instantiate
            | Step::Register
            | Step::HashInstance,
            None,
        ) => Observed::Done,
        (Step::Provider | Step::RegisterEnv | Step::Register | Step::HashInstance, Some(why)) => {
            Observed::Error(why.to_string())
        }
        (Step::Instantiate, Some(why)) => {
            match why.strip_prefix("instantiation failed: wasm trap: ") {
                Some(msg) => Observed::Trap(msg.to_string()),
                None => Observed::Error(why.to_string()),
            }
        }
        (_, None) => Observed::Error("an assertion that cannot hold passed".to_string()),
        (_, Some(why)) => {
            let Some(got) = why.strip_prefix("expected [either()], got ") else {
                return Observed::Error(why.to_string());
            };
            if let Some(msg) = got.strip_prefix("trap: ") {
                return Observed::Trap(msg.to_string());
            }
            let list = got.strip_prefix('[').and_then(|g| g.strip_suffix(']'));
            let values = list.and_then(|l| {
                if l.is_empty() {
                    Some(Vec::new())
                } else {
                    l.split(", ").map(parse_val).collect::<Option<Vec<_>>>()
                }
            });
            match values {
                Some(v) => Observed::Values(v),
                None => Observed::Error(format!("unreadable result line: {why}")),
            }
        }
    }
}

/// The first instantiation of the case itself.
fn first_instantiation(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .position(|s| matches!(s, Step::Instantiate))
        .unwrap_or(0)
}

/// After a failed instantiation the remaining steps are meaningless (and every
/// instantiation of the module fails the same way): keep the steps up to that one.
fn normalise(plan: &Plan, mut obs: Vec<Observed>) -> Vec<Observed> {
    let first = first_instantiation(plan);
    if let Some(Observed::Trap(_)) = obs.get(first) {
        obs.truncate(first + 1);
    }
    obs
}

enum Launcher {
    Native,
    Emulator(PathBuf),
}

fn launcher(build: &Build) -> Result<Launcher, String> {
    if build.cpu == Cpu::X86_64V3 && !host_has_x86_64_v3() {
        return Err("this machine lacks x86-64-v3 (AVX2, BMI1/2, FMA, LZCNT)".to_string());
    }
    if Target::for_arch(build.arch).is_host() {
        return Ok(Launcher::Native);
    }
    let arch = match build.arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    };
    tools::required(
        &format!("running the fuzz build {}", build.name),
        tools::find_qemu(arch),
    )
    .map(Launcher::Emulator)
}

#[cfg(target_arch = "x86_64")]
fn host_has_x86_64_v3() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("lzcnt")
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_x86_64_v3() -> bool {
    false
}

/// The outcome of one case in one build.
enum RunResult {
    Observed(Vec<Observed>),
    Failed(String),
    Skipped(String),
}

/// Runs one batch of `build`: `slots[k]` is the case compiled as module `k` (None: no case,
/// or it did not compile; an empty module takes its place). Returns a result per slot
/// that ran. A crash or timeout blames the case it happened in; the cases after it run
/// again in a new executable.
fn run_batch(build: usize, launcher: &Launcher, slots: &[Option<&Case>]) -> Vec<Option<RunResult>> {
    let b = &BUILDS[build];
    let target = Target::for_arch(b.arch);
    let timeout = match launcher {
        Launcher::Native => NATIVE_TIMEOUT,
        Launcher::Emulator(_) => EMULATED_TIMEOUT,
    };
    let mut results: Vec<Option<RunResult>> = slots.iter().map(|_| None).collect();
    let mut objects: Vec<Vec<u8>> = Vec::with_capacity(slots.len());
    for (k, slot) in slots.iter().enumerate() {
        match slot.and_then(|c| c.objects[build].clone()) {
            Some(obj) => objects.push(obj),
            None => match placeholder(b, k) {
                Ok(obj) => objects.push(obj),
                Err(e) => {
                    for (r, s) in results.iter_mut().zip(slots) {
                        *r = s.map(|_| RunResult::Failed(e.clone()));
                    }
                    return results;
                }
            },
        }
    }
    // The provider, then each distinct hasher of the batch's cases, after the cases.
    let provider = slots.len() as u32;
    let mut helper_texts: Vec<&str> = vec![PROVIDER];
    let helpers: Vec<Helpers> = slots
        .iter()
        .map(|slot| {
            let hasher = slot.and_then(|c| c.plan.hasher.as_deref()).map_or(0, |h| {
                let at = helper_texts
                    .iter()
                    .position(|t| *t == h)
                    .unwrap_or_else(|| {
                        helper_texts.push(h);
                        helper_texts.len() - 1
                    });
                provider + at as u32
            });
            Helpers { hasher, provider }
        })
        .collect();
    for (i, text) in helper_texts.iter().enumerate() {
        match compile_helper(b, text, provider as usize + i) {
            Ok(obj) => objects.push(obj),
            Err(e) => {
                for (r, s) in results.iter_mut().zip(slots) {
                    *r = s.map(|_| RunResult::Failed(e.clone()));
                }
                return results;
            }
        }
    }
    let runnable: Vec<usize> = (0..slots.len())
        .filter(|k| slots[*k].is_some_and(|c| c.objects[build].is_some()))
        .collect();
    let mut start = 0;
    while start < runnable.len() {
        let pending = &runnable[start..];
        let mut script = Script::default();
        // Line of the first step of each pending case (lines count from 1).
        let mut first_line = Vec::with_capacity(pending.len() + 1);
        for &k in pending {
            let plan = &slots[k].expect("runnable").plan;
            first_line.push(script.commands.len() as u32 + 1);
            for step in &plan.steps {
                let line = script.commands.len() as u32 + 1;
                script
                    .commands
                    .push((line, step_command(plan, step, k as u32, helpers[k])));
            }
        }
        first_line.push(script.commands.len() as u32 + 1);
        let (stdout, stderr, status) =
            match build_and_run(&target, launcher, &script, &objects, timeout) {
                Ok(r) => r,
                Err(e) => {
                    for &k in pending {
                        results[k] = Some(RunResult::Failed(e.clone()));
                    }
                    break;
                }
            };
        let mut lines: HashMap<u32, Option<&str>> = HashMap::new();
        for l in stdout.lines() {
            if let Some(n) = l.strip_prefix("ok ") {
                if let Ok(n) = n.parse() {
                    lines.insert(n, None);
                }
            } else if let Some(rest) = l.strip_prefix("FAIL ")
                && let Some((n, why)) = rest.split_once(": ")
                && let Ok(n) = n.parse()
            {
                lines.insert(n, Some(why));
            }
        }
        let mut next_start = runnable.len();
        for (j, &k) in pending.iter().enumerate() {
            let plan = &slots[k].expect("runnable").plan;
            let range = first_line[j]..first_line[j + 1];
            if range.clone().all(|l| lines.contains_key(&l)) {
                let obs = plan
                    .steps
                    .iter()
                    .zip(range)
                    .map(|(s, l)| observe(s, lines[&l]))
                    .collect();
                results[k] = Some(RunResult::Observed(normalise(plan, obs)));
                continue;
            }
            // The executable ended during this case.
            let missing = range.clone().find(|l| !lines.contains_key(l)).unwrap_or(0);
            let step = &plan.steps[(missing - first_line[j]) as usize];
            let at = describe_step(plan, step);
            let tail = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| format!("; stderr: {}", one_line(l)))
                .unwrap_or_default();
            results[k] = Some(if status.starts_with("timed out") {
                RunResult::Skipped(format!("{status} at {at}"))
            } else {
                RunResult::Failed(format!("the executable ended at {at}: {status}{tail}"))
            });
            next_start = start + j + 1;
            break;
        }
        start = next_start;
    }
    results
}

/// A helper module ([`hasher`], [`PROVIDER`]) compiled as module `index`.
fn compile_helper(build: &Build, text: &str, index: usize) -> Result<Vec<u8>, String> {
    let wasm = wat::parse_str(text).map_err(|e| format!("helper module: {e}"))?;
    let opts = Options {
        allow_unknown_imports: true,
        ..options(build)
    };
    panics::catch(|| aot::compile_module(&wasm, "<helper>", index, &opts))?
        .map_err(|e| format!("cannot compile a helper module: {e}"))
}

/// An empty module compiled as module `index`, for a batch slot without a case.
fn placeholder(build: &Build, index: usize) -> Result<Vec<u8>, String> {
    const EMPTY: &[u8] = b"\0asm\x01\0\0\0";
    aot::compile_module(EMPTY, "<empty>", index, &options(build))
        .map_err(|e| format!("cannot compile an empty module: {e}"))
}

/// Emits the program, links it with `objects` and runs it. Returns stdout, stderr and how
/// the process ended.
fn build_and_run(
    target: &Target,
    launcher: &Launcher,
    script: &Script,
    objects: &[Vec<u8>],
    timeout: Duration,
) -> Result<(String, String, String), String> {
    let config = script.encode();
    let program = panics::catch(|| {
        aot::program::emit_program(target, ProgramKind::SpecScript, objects.len(), 0, &config)
    })?
    .map_err(|e| format!("cannot emit the program object: {e}"))?;
    let dir = tempfile::Builder::new()
        .prefix("aot-fuzz-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let exe = dir.path().join("fuzz");
    let mut all = Vec::with_capacity(objects.len() + 1);
    all.push(program);
    all.extend(objects.iter().cloned());
    panics::catch(|| aot::link::link(target, &all, &exe, None))?
        .map_err(|e| format!("link failed: {}", one_line(&format!("{e:#}"))))?;
    drop(all);
    let mut command = match launcher {
        Launcher::Native => Command::new(&exe),
        Launcher::Emulator(qemu) => {
            let mut c = Command::new(qemu);
            c.arg(&exe);
            c
        }
    };
    // The rest of the environment goes through (`AOT_GC_STRESS=1`, for one).
    if std::env::var_os("AOT_GC_MAX_HEAP").is_none() {
        command.env("AOT_GC_MAX_HEAP", GC_MAX_HEAP);
    }
    run_with_timeout(&mut command, None, timeout).map(Finished::into_text)
}

// ---------------------------------------------------------------------------------------
// Text: values, steps and the .wast script for wasmtime

fn f32_text(bits: u32) -> String {
    let sign = if bits >> 31 == 1 { "-" } else { "" };
    let exp = (bits >> 23) & 0xff;
    let mant = bits & 0x7f_ffff;
    match exp {
        0xff if mant == 0 => format!("{sign}inf"),
        0xff => format!("{sign}nan:0x{mant:x}"),
        0 => format!("{sign}0x0.{:06x}p-126", mant << 1),
        _ => format!("{sign}0x1.{:06x}p{:+}", mant << 1, exp as i32 - 127),
    }
}

fn f64_text(bits: u64) -> String {
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = (bits >> 52) & 0x7ff;
    let mant = bits & 0xf_ffff_ffff_ffff;
    match exp {
        0x7ff if mant == 0 => format!("{sign}inf"),
        0x7ff => format!("{sign}nan:0x{mant:x}"),
        0 => format!("{sign}0x0.{mant:013x}p-1022"),
        _ => format!("{sign}0x1.{mant:013x}p{:+}", exp as i64 - 1023),
    }
}

/// As integer lanes: an assertion on it compares the bits.
fn v128_text(v: u128) -> String {
    let lanes: Vec<String> = (0..4)
        .map(|i| format!("0x{:08x}", (v >> (32 * i)) as u32))
        .collect();
    format!("(v128.const i32x4 {})", lanes.join(" "))
}

/// A `.wast` string literal.
fn wast_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\{b:02x}");
        }
    }
    s.push('"');
    s
}

fn value_text(v: &Value) -> String {
    match v {
        Value::I32(x) => format!("(i32.const {})", *x as i32),
        Value::I64(x) => format!("(i64.const {})", *x as i64),
        Value::F32(x) => format!("(f32.const {})", f32_text(*x)),
        Value::F64(x) => format!("(f64.const {})", f64_text(*x)),
        Value::NullFuncRef => "(ref.null func)".to_string(),
        Value::NullExternRef => "(ref.null extern)".to_string(),
        Value::NullAnyRef => "(ref.null any)".to_string(),
        Value::NullExnRef => "(ref.null exn)".to_string(),
        Value::ExternRef(n) => format!("(ref.extern {n})"),
        Value::HostRef(n) => format!("(ref.host {n})"),
        Value::V128(x) => v128_text(*x),
    }
}

fn val_text(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("(i32.const {})", *x as i32),
        Val::I64(x) => format!("(i64.const {})", *x as i64),
        Val::F32(x) => format!("(f32.const {})", f32_text(*x)),
        Val::F64(x) => format!("(f64.const {})", f64_text(*x)),
        Val::V128(x) => v128_text(*x),
        Val::FuncRef(true) => "(ref.func)".to_string(),
        Val::FuncRef(false) => "(ref.null func)".to_string(),
        Val::ExternRef(Some(_)) => "(ref.extern)".to_string(),
        Val::ExternRef(None) => "(ref.null extern)".to_string(),
        Val::Null => "(ref.null)".to_string(),
        // Only in descriptions (see `Val::ExnRef`).
        Val::ExnRef => "(ref.exn)".to_string(),
        Val::Any(GcRef::I31(_)) => "(ref.i31)".to_string(),
        Val::Any(GcRef::Struct) => "(ref.struct)".to_string(),
        Val::Any(GcRef::Array) => "(ref.array)".to_string(),
        Val::ExternAny(_) => "(ref.extern)".to_string(),
    }
}

fn invoke_text(plan: &Plan, func: usize, args: &[Value]) -> String {
    let mut s = format!("(invoke {}", wast_string(plan.funcs[func].name.as_bytes()));
    for a in args {
        s.push(' ');
        s.push_str(&value_text(a));
    }
    s.push(')');
    s
}

fn describe_step(plan: &Plan, step: &Step) -> String {
    match step {
        Step::Instantiate => "instantiation".to_string(),
        Step::Call { func, args } => invoke_text(plan, *func, args),
        Step::Get { global } => format!(
            "(get {})",
            wast_string(plan.globals[*global].name.as_bytes())
        ),
        Step::Provider => format!("(module instance {PROVIDER_INSTANCE} $provider)"),
        Step::RegisterEnv => format!("(register \"env\" {PROVIDER_INSTANCE})"),
        Step::Register => "(register \"fuzz\")".to_string(),
        Step::HashInstance => "(module instance $h $hasher)".to_string(),
        Step::Hash => "(invoke \"hash\")".to_string(),
    }
}

/// Where a step is in its case: the call it follows, for a global read.
fn describe_in_context(plan: &Plan, i: usize) -> String {
    let step = &plan.steps[i];
    let call = plan.steps[plan.group[i]..i]
        .iter()
        .find(|s| matches!(s, Step::Call { .. }));
    let what = match step {
        Step::Hash | Step::HashInstance | Step::Register => {
            "the memory hash (the memory's contents)".to_string()
        }
        Step::Provider | Step::RegisterEnv => "instantiating the provider module".to_string(),
        _ => describe_step(plan, step),
    };
    match (step, call) {
        (Step::Call { .. } | Step::Instantiate | Step::Provider | Step::RegisterEnv, _) => what,
        (_, Some(call)) => format!("{what} after {}", describe_step(plan, call)),
        (_, None) => format!("{what} after instantiation"),
    }
}

fn describe_observed(o: &Observed) -> String {
    match o {
        Observed::Done => "done".to_string(),
        Observed::Values(v) => {
            let items: Vec<String> = v.iter().map(val_text).collect();
            format!("[{}]", items.join(" "))
        }
        Observed::Trap(m) => format!("trap `{m}`"),
        Observed::Error(e) => format!("error `{e}`"),
    }
}

/// The `.wast` asserting `obs`, leaving out the steps of the groups in `excluded`. Returns
/// the text and the step of each line.
fn render_wast(
    case: &Case,
    obs: &[Observed],
    excluded: &BTreeSet<usize>,
) -> (String, HashMap<usize, usize>) {
    let plan = &case.plan;
    let mut text = String::new();
    let mut line_step = HashMap::new();
    let mut line = 0;
    let mut emit = |text: &mut String, step: usize, s: String| {
        line += 1;
        line_step.insert(line, step);
        text.push_str(&s);
        text.push('\n');
    };
    emit(
        &mut text,
        0,
        format!("(module definition $m binary {})", wast_string(&case.wasm)),
    );
    for (helper, id, used) in [
        (
            plan.hasher.as_deref().unwrap_or_default(),
            "$hasher",
            plan.steps.iter().any(|s| matches!(s, Step::Hash)),
        ),
        (
            PROVIDER,
            "$provider",
            plan.steps.iter().any(|s| matches!(s, Step::Provider)),
        ),
    ] {
        if used {
            // One line: the line numbers of wasmtime's reports name the directives.
            let one = helper.split_whitespace().collect::<Vec<_>>().join(" ");
            let definition = one.replacen("(module", &format!("(module definition {id}"), 1);
            emit(&mut text, 0, definition);
        }
    }
    for (i, (step, o)) in plan.steps.iter().zip(obs).enumerate() {
        if excluded.contains(&plan.group[i]) {
            continue;
        }
        let s = match (step, o) {
            (Step::Instantiate, Observed::Trap(msg)) => format!(
                "(assert_trap (module binary {}) {})",
                wast_string(&case.wasm),
                wast_string(msg.as_bytes())
            ),
            (Step::Instantiate, _) => "(module instance $i $m)".to_string(),
            (Step::Provider | Step::RegisterEnv | Step::Register | Step::HashInstance, _) => {
                describe_step(plan, step)
            }
            (Step::Call { func, args }, Observed::Values(v)) if v.contains(&Val::ExnRef) => {
                invoke_text(plan, *func, args)
            }
            (Step::Get { .. }, Observed::Values(v)) if v.contains(&Val::ExnRef) => continue,
            (Step::Call { func, args }, Observed::Values(v)) => {
                let results: Vec<String> = v.iter().map(val_text).collect();
                format!(
                    "(assert_return {} {})",
                    invoke_text(plan, *func, args),
                    results.join(" ")
                )
            }
            (Step::Call { func, args }, Observed::Trap(m)) if m == STACK_EXHAUSTED => format!(
                "(assert_exhaustion {} {})",
                invoke_text(plan, *func, args),
                wast_string(m.as_bytes())
            ),
            (Step::Call { func, args }, Observed::Trap(m)) if m == EXCEPTION => {
                format!("(assert_exception {})", invoke_text(plan, *func, args))
            }
            (Step::Call { func, args }, Observed::Trap(m)) => format!(
                "(assert_trap {} {})",
                invoke_text(plan, *func, args),
                wast_string(m.as_bytes())
            ),
            (Step::Get { .. } | Step::Hash, Observed::Values(v)) => {
                let results: Vec<String> = v.iter().map(val_text).collect();
                format!(
                    "(assert_return {} {})",
                    describe_step(plan, step),
                    results.join(" ")
                )
            }
            // Errors are reported before a script is made; nothing else can happen.
            _ => continue,
        };
        emit(&mut text, i, s);
    }
    (text, line_step)
}

// ---------------------------------------------------------------------------------------
// Comparison with wasmtime

/// What a wasmtime check found.
#[derive(Default)]
struct Check {
    /// Differences: (step, description).
    diffs: Vec<(Option<usize>, String)>,
    /// Calls left out, with the reason.
    skipped: Vec<String>,
    /// Why nothing could be compared (the instantiation itself hit an implementation limit).
    not_compared: Option<String>,
    /// The first script checked: all of the case, it shows the first difference.
    script: String,
}

fn run_wasmtime(wasmtime: &Path, script: &str) -> Result<Option<(Option<usize>, String)>, String> {
    let dir = tempfile::Builder::new()
        .prefix("aot-fuzz-wt-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let file = dir.path().join("case.wast");
    std::fs::write(&file, script).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let mut command = Command::new(wasmtime);
    command
        .arg("wast")
        // wasmtime 49 has all these on by default; said anyway, so that a change of
        // defaults cannot turn seeds into validation failures.
        .args([
            "-W",
            "threads=y,shared-memory=y,gc=y,function-references=y,exceptions=y",
        ])
        .arg(&file)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    let (_, stderr, status) =
        run_with_timeout(&mut command, None, WASMTIME_TIMEOUT).map(Finished::into_text)?;
    if status == "exit status 0" {
        return Ok(None);
    }
    // "failed directive on <file>:<line>", then the causes.
    let mut line = None;
    let mut causes = Vec::new();
    let mut after = false;
    for l in stderr.lines() {
        if l.trim_start().starts_with("Stack backtrace") {
            break;
        }
        if let Some(pos) = l.find("failed directive on ") {
            line = l[pos..]
                .rsplit(':')
                .find_map(|p| p.trim().parse::<usize>().ok());
            after = true;
            continue;
        }
        if after && !l.trim().is_empty() && !is_backtrace_frame(l) {
            causes.push(l.trim().to_string());
        }
    }
    let why = if causes.is_empty() {
        format!("wasmtime: {status}; {}", one_line(&stderr))
    } else {
        one_line(&causes.join(" "))
    };
    Ok(Some((line, why)))
}

/// A frame line of a wasm backtrace in wasmtime's messages (`  3:  0x21b - <unknown>!...`):
/// left out, so that the trap message after a deep backtrace stays in the report.
fn is_backtrace_frame(line: &str) -> bool {
    line.trim()
        .split_once(": ")
        .is_some_and(|(n, rest)| n.bytes().all(|b| b.is_ascii_digit()) && rest.contains('!'))
}

fn check_with_wasmtime(wasmtime: &Path, case: &Case, obs: &[Observed]) -> Check {
    let mut check = Check::default();
    let mut excluded = BTreeSet::new();
    loop {
        let (script, line_step) = render_wast(case, obs, &excluded);
        let found = run_wasmtime(wasmtime, &script);
        if check.script.is_empty() {
            check.script = script;
        }
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                check.diffs.push((None, e));
                return check;
            }
        };
        let Some((line, why)) = found else {
            return check;
        };
        let Some(step) = line.and_then(|l| line_step.get(&l).copied()) else {
            check.diffs.push((None, format!("wasmtime: {why}")));
            return check;
        };
        let what = describe_in_context(&case.plan, step);
        let ours = describe_observed(&obs[step]);
        let exhausted = why.contains(STACK_EXHAUSTED)
            || why.contains("stack overflow")
            || obs[step] == Observed::Trap(STACK_EXHAUSTED.to_string());
        let out_of_memory = why.contains(GC_OUT_OF_MEMORY);
        let group = case.plan.group[step];
        if step <= first_instantiation(&case.plan) {
            // The module itself (instantiation) differs: nothing after it is comparable.
            if exhausted || out_of_memory {
                let limit = if exhausted {
                    "stack exhaustion"
                } else {
                    "GC heap out of memory"
                };
                check.not_compared = Some(format!(
                    "{what}: {limit} on one side only (aot {ours}; wasmtime: {why})"
                ));
                return check;
            }
            check
                .diffs
                .push((Some(step), format!("{what}: aot {ours}; wasmtime: {why}")));
            return check;
        }
        if exhausted || out_of_memory {
            let limit = if exhausted {
                "stack exhaustion"
            } else {
                "GC heap out of memory"
            };
            check.skipped.push(format!(
                "{what}: {limit} on one side only (aot {ours}; wasmtime: {why})"
            ));
        } else {
            check
                .diffs
                .push((Some(step), format!("{what}: aot {ours}; wasmtime: {why}")));
            if check.diffs.len() == MAX_DIFFS {
                return check;
            }
        }
        if !excluded.insert(group) {
            check.diffs.push((
                Some(step),
                format!("harness bug: excluded group still failed: {why}"),
            ));
            return check;
        }
    }
}

/// The comparison must be able to fail: the self-check case's observations, corrupted (a
/// global's value, the memory hash, a trap kind), must each be reported by wasmtime.
fn self_check_is_not_blind(wasmtime: &Path, case: &Case, obs: &[Observed]) -> Result<(), String> {
    let steps = &case.plan.steps;
    let find = |pred: &dyn Fn(&Step, &Observed) -> bool| {
        steps.iter().zip(obs).position(|(s, o)| pred(s, o))
    };
    let corruptions = [
        (
            "a changed global value",
            find(&|s, o| matches!((s, o), (Step::Get { .. }, Observed::Values(_)))),
        ),
        (
            "a changed call result",
            find(
                &|s, o| matches!((s, o), (Step::Call { .. }, Observed::Values(v)) if !v.is_empty()),
            ),
        ),
        (
            "a changed memory hash",
            find(&|s, _| matches!(s, Step::Hash)),
        ),
        (
            "a different trap",
            find(
                &|s, o| matches!((s, o), (Step::Call { .. }, Observed::Trap(m)) if m != STACK_EXHAUSTED),
            ),
        ),
    ];
    for (what, step) in corruptions {
        let step = step.ok_or(format!("self-check: nothing to corrupt for {what}"))?;
        let mut bad = obs.to_vec();
        bad[step] = match &obs[step] {
            Observed::Values(v) if !v.is_empty() => {
                let mut v = v.clone();
                v[0] = corrupt(&v[0]);
                Observed::Values(v)
            }
            Observed::Trap(m) if m.contains("divide") => Observed::Trap("integer overflow".into()),
            Observed::Trap(_) => Observed::Trap("integer divide by zero".into()),
            other => return Err(format!("self-check: cannot corrupt {other:?} for {what}")),
        };
        let check = check_with_wasmtime(wasmtime, case, &bad);
        if !check.diffs.iter().any(|(s, _)| *s == Some(step)) {
            return Err(format!(
                "self-check: wasmtime did not notice {what} at {}",
                describe_in_context(&case.plan, step)
            ));
        }
    }
    Ok(())
}

fn corrupt(v: &Val) -> Val {
    match v {
        Val::I32(x) => Val::I32(x ^ 1),
        Val::I64(x) => Val::I64(x ^ 1),
        Val::F32(x) => Val::F32(x ^ 1),
        Val::F64(x) => Val::F64(x ^ 1),
        Val::V128(x) => Val::V128(x ^ (1 << 100)),
        Val::FuncRef(b) => Val::FuncRef(!b),
        Val::ExternRef(r) => Val::ExternRef(if r.is_some() { None } else { Some(0) }),
        Val::Null | Val::ExnRef | Val::ExternAny(_) => Val::ExternRef(Some(0)),
        Val::Any(GcRef::Struct) => Val::Any(GcRef::Array),
        Val::Any(_) => Val::Any(GcRef::Struct),
    }
}

// ---------------------------------------------------------------------------------------
// Driver

/// Maps `f` over `items` on `jobs` threads; results in item order.
fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<R>> = items.iter().map(|_| None).collect();
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(items.len()).max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut d) = done.lock() {
                        d.push((i, r));
                    }
                }
            });
        }
    });
    for (i, r) in done.into_inner().unwrap_or_default() {
        out[i] = Some(r);
    }
    out.into_iter()
        .map(|r| r.expect("every item was mapped"))
        .collect()
}

fn regression_files(filters: &[String]) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wat" || e == "wasm"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.retain(|p| {
        filters.is_empty()
            || filters
                .iter()
                .any(|f| p.to_string_lossy().contains(f.as_str()))
    });
    files
}

/// Per-build counts of what the calls did.
#[derive(Default)]
struct Stats {
    cases: usize,
    calls: usize,
    returned: usize,
    traps: BTreeMap<String, usize>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_args(&args) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let mut sources: Vec<Source> = Vec::new();
    if cfg.seeds.is_empty() && cfg.filters.is_empty() {
        sources.extend((cfg.first..cfg.first + cfg.cases).map(Source::Seed));
    } else {
        sources.extend(cfg.seeds.iter().copied().map(Source::Seed));
    }
    let seed_count = sources.len();
    let files = if cfg.seeds.is_empty() {
        regression_files(&cfg.filters)
    } else {
        Vec::new()
    };
    sources.extend(files.into_iter().map(Source::File));
    sources.push(Source::SelfCheck);

    // Only the first setting counts, and this is the only one.
    let _ = FORCED.set(cfg.forced);
    let every: Vec<u64> = BUILDS
        .iter()
        .map(|b| match cfg.run_every {
            Some(n) if b.run_every > 0 => n,
            _ => b.run_every,
        })
        .collect();
    let launchers: Vec<Result<Launcher, String>> = BUILDS.iter().map(launcher).collect();
    let wasmtime = tools::required("comparing fuzz cases with wasmtime", tools::find_wasmtime());
    let describe: Vec<String> = BUILDS
        .iter()
        .zip(&launchers)
        .zip(&every)
        .zip(&cfg.builds)
        .filter(|(_, selected)| **selected)
        .map(|(((b, l), every), _)| match (*every, l) {
            (0, _) => format!("{} (compile only)", b.name),
            (_, Err(e)) => format!("{} (compile only: {e})", b.name),
            (1, Ok(_)) => format!("{} (run all)", b.name),
            (n, Ok(_)) => format!("{} (run every {n}th seed)", b.name),
        })
        .collect();
    println!(
        "fuzz: {seed_count} seeds from {}, {} regression files, the self-check; builds: {}; wasmtime: {}",
        if cfg.seeds.is_empty() {
            cfg.first.to_string()
        } else {
            "the command line".to_string()
        },
        sources.len() - seed_count - 1,
        describe.join(", "),
        match &wasmtime {
            Ok(p) => p.display().to_string(),
            Err(e) => format!("none ({e})"),
        }
    );
    let mut per_feature: BTreeMap<String, usize> = BTreeMap::new();
    for s in &sources {
        if let Source::Seed(s) = s {
            for f in Features::of_seed(*s).names() {
                *per_feature.entry(f).or_default() += 1;
            }
        }
    }
    let per_feature: Vec<String> = per_feature
        .iter()
        .map(|(f, n)| format!("{f} {n}"))
        .collect();
    let forced = Features(cfg.forced).names();
    println!(
        "seeds using each proposal: {}{}",
        per_feature.join(", "),
        if forced.is_empty() {
            String::new()
        } else {
            format!(" (forced on in every seed: {})", forced.join(", "))
        }
    );

    // Batches, per build that runs: the cases it runs, in chunks; a case's module number
    // is its place in its chunk (fixed before compiling: it names the module's symbol).
    let mut jobs: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut index = vec![vec![0; BUILDS.len()]; sources.len()];
    for (b, build) in BUILDS.iter().enumerate() {
        if !cfg.builds[b] {
            continue;
        }
        let size = match &launchers[b] {
            Ok(Launcher::Native) => NATIVE_BATCH,
            Ok(Launcher::Emulator(_)) => EMULATED_BATCH,
            Err(_) => continue,
        };
        let runnable: Vec<usize> = (0..sources.len())
            .filter(|i| sources[*i].runs_in(build, every[b]))
            .collect();
        for chunk in runnable.chunks(size) {
            for (k, i) in chunk.iter().enumerate() {
                index[*i][b] = k;
            }
            jobs.push((b, chunk.to_vec()));
        }
    }

    // 1. Generate and compile.
    let t = Instant::now();
    let numbered: Vec<(&Source, &[usize])> = sources
        .iter()
        .zip(&index)
        .map(|(s, i)| (s, i.as_slice()))
        .collect();
    let prepared = par_map(&numbered, cfg.jobs, |(s, i)| prepare(s, i, &cfg.builds));
    let compile_time = t.elapsed();
    let mut reports: Vec<CaseReport> = Vec::with_capacity(prepared.len());
    let mut cases: Vec<Option<Case>> = Vec::with_capacity(prepared.len());
    for (c, r) in prepared {
        cases.push(c);
        reports.push(r);
    }
    // A case no build runs (relaxed SIMD without the x86-64-v3 build, a seed between
    // another build's `run_every`, builds left out) is a skip with that reason.
    let mut runs = vec![false; sources.len()];
    for (_, idx) in &jobs {
        idx.iter().for_each(|i| runs[*i] = true);
    }
    for ((report, case), runs) in reports.iter_mut().zip(&cases).zip(runs) {
        if case.is_some() && !runs && report.failures.is_empty() && report.skips.is_empty() {
            report.skips.push(
                "every build: not run by any build that runs here (run_every, relaxed SIMD only \
                 in x86-64-v3, AOT_FUZZ_BUILDS)"
                    .to_string(),
            );
        }
    }

    // 2. Run, per build, in batches.
    let t = Instant::now();
    // observed[case][build]
    let mut observed: Vec<Vec<Option<Vec<Observed>>>> = cases
        .iter()
        .map(|_| BUILDS.iter().map(|_| None).collect())
        .collect();
    let batch_results = par_map(&jobs, cfg.jobs, |(b, idx)| {
        let slots: Vec<Option<&Case>> = idx.iter().map(|i| cases[*i].as_ref()).collect();
        match &launchers[*b] {
            Ok(l) => run_batch(*b, l, &slots),
            Err(_) => Vec::new(),
        }
    });
    let mut stats: Vec<Stats> = BUILDS.iter().map(|_| Stats::default()).collect();
    for ((b, idx), results) in jobs.iter().zip(batch_results) {
        for (i, r) in idx.iter().zip(results) {
            let Some(r) = r else { continue };
            let name = cases[*i]
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default();
            match r {
                RunResult::Observed(obs) => {
                    let plan = &cases[*i].as_ref().expect("ran").plan;
                    stats[*b].cases += 1;
                    for (s, o) in plan.steps.iter().zip(&obs) {
                        match (s, o) {
                            (Step::Call { .. }, Observed::Values(_)) => {
                                stats[*b].calls += 1;
                                stats[*b].returned += 1;
                            }
                            (Step::Call { .. }, Observed::Trap(m))
                            | (Step::Instantiate, Observed::Trap(m)) => {
                                stats[*b].calls += usize::from(matches!(s, Step::Call { .. }));
                                *stats[*b].traps.entry(m.clone()).or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                    let errors: Vec<String> = plan
                        .steps
                        .iter()
                        .enumerate()
                        .zip(&obs)
                        .filter_map(|((si, _), o)| match o {
                            Observed::Error(e) => {
                                Some(format!("{}: {e}", describe_in_context(plan, si)))
                            }
                            _ => None,
                        })
                        .collect();
                    let out_of_memory = obs
                        .iter()
                        .any(|o| *o == Observed::Trap(GC_OUT_OF_MEMORY.to_string()));
                    if out_of_memory {
                        // Whatever else happened (an instantiation of a later call that
                        // failed leaves that call without an instance) is not compared.
                        reports[*i].skips.push(format!(
                            "{}: {GC_OUT_OF_MEMORY} in aot (an implementation limit)",
                            BUILDS[*b].name
                        ));
                    } else if errors.is_empty() {
                        observed[*i][*b] = Some(obs);
                    } else {
                        for e in errors.iter().take(MAX_DIFFS) {
                            reports[*i]
                                .failures
                                .push(format!("{name} [{}]: {e}", BUILDS[*b].name));
                        }
                    }
                }
                RunResult::Failed(why) => reports[*i]
                    .failures
                    .push(format!("{name} [{}]: {why}", BUILDS[*b].name)),
                RunResult::Skipped(why) => reports[*i]
                    .skips
                    .push(format!("{}: {why}", BUILDS[*b].name)),
            }
        }
    }
    let run_time = t.elapsed();

    // 3. Compare with wasmtime: each distinct observation of a case once.
    let t = Instant::now();
    let mut checks: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, per_build) in observed.iter().enumerate() {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (b, o) in per_build.iter().enumerate() {
            let Some(o) = o else { continue };
            match groups
                .iter_mut()
                .find(|g| per_build[g[0]].as_ref() == Some(o))
            {
                Some(g) => g.push(b),
                None => groups.push(vec![b]),
            }
        }
        checks.extend(groups.into_iter().map(|g| (i, g)));
    }
    let mut kept_dir = None;
    match &wasmtime {
        Ok(wt) => {
            let results = par_map(&checks, cfg.jobs, |(i, builds)| {
                let case = cases[*i].as_ref().expect("observed cases exist");
                let obs = observed[*i][builds[0]].as_ref().expect("observed");
                check_with_wasmtime(wt, case, obs)
            });
            for ((i, builds), check) in checks.iter().zip(results) {
                let case = cases[*i].as_ref().expect("observed cases exist");
                let names: Vec<&str> = builds.iter().map(|b| BUILDS[*b].name).collect();
                match &check.not_compared {
                    None => reports[*i].compared = true,
                    Some(why) => reports[*i]
                        .skips
                        .push(format!("{}: {why}", names.join(", "))),
                }
                for (_, d) in &check.diffs {
                    reports[*i]
                        .failures
                        .push(format!("{} [{}]: {d}", case.name, names.join(", ")));
                }
                for s in &check.skipped {
                    reports[*i]
                        .skipped_calls
                        .push(format!("[{}] {s}", names.join(", ")));
                }
                if !check.diffs.is_empty() || cfg.keep {
                    let suffix = builds
                        .iter()
                        .map(|b| BUILDS[*b].name.replace([' ', '-'], ""))
                        .collect::<Vec<_>>()
                        .join("+");
                    kept_dir = keep(case, &check.script, &suffix).or(kept_dir);
                }
            }
        }
        Err(e) => {
            for (i, _) in &checks {
                reports[*i]
                    .skips
                    .push(format!("not compared with wasmtime: {e}"));
            }
        }
    }
    if let Ok(wt) = &wasmtime
        && let Some(i) = sources.iter().position(|s| matches!(s, Source::SelfCheck))
        && let (Some(case), Some(obs)) = (&cases[i], observed[i].iter().flatten().next())
        && let Err(e) = self_check_is_not_blind(wt, case, obs)
    {
        reports[i].failures.push(e);
    }
    let check_time = t.elapsed();

    // Modules of failing cases that never reached wasmtime are kept too.
    for (case, report) in cases.iter().zip(&reports) {
        if let Some(case) = case
            && !report.failures.is_empty()
        {
            kept_dir = kept_dir.or(keep(case, "", ""));
        }
    }

    // 4. Report.
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut skip_reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut call_skips = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        let name = cases[i]
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_else(|| match &sources[i] {
                Source::Seed(s) => format!("seed {s}"),
                Source::File(p) => format!("regression {}", p.display()),
                Source::SelfCheck => "self-check".to_string(),
            });
        let ran = report.compared;
        for f in &report.failures {
            println!("FAIL {f}");
        }
        for s in &report.skips {
            // Group by the reason without the build name, for a short list.
            skip_reasons
                .entry(s.split_once(": ").map_or(s.as_str(), |x| x.1).to_string())
                .or_default()
                .push(format!("{name} [{}]", s.split(':').next().unwrap_or("")));
        }
        for s in &report.skipped_calls {
            call_skips.push(format!("{name} {s}"));
        }
        if !report.failures.is_empty() {
            failed += 1;
        } else if !ran {
            skipped += 1;
        } else {
            passed += 1;
        }
        if cfg.verbose {
            let state = if !report.failures.is_empty() {
                "FAILED"
            } else if !ran {
                "skipped"
            } else {
                "passed"
            };
            let steps = cases[i].as_ref().map_or(0, |c| c.plan.steps.len());
            let size = cases[i].as_ref().map_or(0, |c| c.wasm.len());
            let features = match &sources[i] {
                Source::Seed(s) => match Features::of_seed(*s).names() {
                    n if n.is_empty() => ", base set".to_string(),
                    n => format!(", {}", n.join(" ")),
                },
                _ => String::new(),
            };
            println!("{name}: {state} ({size} bytes, {steps} steps{features})");
        }
    }
    if !skip_reasons.is_empty() {
        println!();
        println!("skipped (case or build not run):");
        for (why, who) in &skip_reasons {
            let shown: Vec<&str> = who.iter().take(8).map(|s| s.as_str()).collect();
            let more = if who.len() > 8 {
                format!(" and {} more", who.len() - 8)
            } else {
                String::new()
            };
            println!("  {} x {why}: {}{more}", who.len(), shown.join(", "));
        }
    }
    if !call_skips.is_empty() {
        println!();
        println!("calls not compared ({}):", call_skips.len());
        for s in call_skips.iter().take(20) {
            println!("  {s}");
        }
        if call_skips.len() > 20 {
            println!("  ... and {} more", call_skips.len() - 20);
        }
    }
    println!();
    for (b, s) in BUILDS.iter().zip(&stats) {
        if s.cases == 0 {
            continue;
        }
        let mut traps: Vec<(&String, &usize)> = s.traps.iter().collect();
        traps.sort_by(|a, b| b.1.cmp(a.1));
        let traps: Vec<String> = traps.iter().map(|(m, n)| format!("{n} `{m}`")).collect();
        println!(
            "{}: {} cases run, {} calls, {} returned; traps: {}",
            b.name,
            s.cases,
            s.calls,
            s.returned,
            if traps.is_empty() {
                "none".to_string()
            } else {
                traps.join(", ")
            }
        );
    }
    if let Some(dir) = &kept_dir {
        println!("modules and scripts of failing cases: {}", dir.display());
    }
    let uses = USES.lock().unwrap_or_else(|e| e.into_inner());
    let uses: Vec<String> = uses.iter().map(|(i, n)| format!("{i} {n}")).collect();
    println!(
        "seeds whose module has: {}; waits: {} generated (timeouts masked), {} made from other atomics",
        uses.join(", "),
        WAITS_BOUNDED.load(Ordering::Relaxed),
        WAITS_CONVERTED.load(Ordering::Relaxed),
    );
    println!(
        "time: generate+compile {:.1} s, link+run {:.1} s, wasmtime {:.1} s ({} checks), wall {:.1} s",
        compile_time.as_secs_f64(),
        run_time.as_secs_f64(),
        check_time.as_secs_f64(),
        checks.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "fuzz: {passed} passed, {failed} failed, {skipped} skipped ({} calls not compared)",
        call_skips.len()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes the module (and the script, if any) of `case` to the directory of kept cases;
/// returns that directory.
fn keep(case: &Case, script: &str, suffix: &str) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join("aot-fuzz");
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join(format!("{}.wasm", case.slug)), &case.wasm).ok()?;
    if !script.is_empty() {
        std::fs::write(dir.join(format!("{}.{suffix}.wast", case.slug)), script).ok()?;
    }
    Some(dir)
}
