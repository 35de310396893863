//! End-to-end tests: the example programs of examples/ (Rust for wasm32-wasip1, and C
//! through wasi-libc) compiled by `aot` and run as native executables, compared with the
//! expected results in examples/expected/, which come from `wasmtime run` (the reference).
//!
//! `cargo test -p aot-tests --test examples [-- <case filter>...]`; env:
//! `AOT_EXAMPLES_RUNNERS=wasmtime,x86_64,aarch64` (default: all), `AOT_EXAMPLES_BLESS=1`
//! (rewrite examples/expected/ from wasmtime's results, then compare as usual),
//! `AOT_EXAMPLES_JOBS=<n>`, `AOT_EXAMPLES_TIMEOUT=<s>` (per run, default 120),
//! `AOT_EXAMPLES_KEEP=1` (keep the executables and case directories), `AOT_WASMTIME=<path>`,
//! `AOT_WASMTIME46=<path>` (the reference for the threaded programs), `AOT_KOTLIN=<dir>`
//! (Kotlin/Wasm's home, default target/toolchains/kotlin).
//!
//! Per case and runner: a fresh directory ROOT (the "fixture" lays out files in it; the
//! preopen is ROOT/data, seen by the guest as /data), then the program runs with the
//! case's arguments, environment and stdin, with ROOT as working directory. Compared:
//! exit status, stdout, stderr and, for cases with a fixture, the tree under ROOT (names,
//! types, sizes, content digests, symlink targets). The runners:
//! - `wasmtime`: `wasmtime run --dir ROOT/data::/data --env K=V [-S http] app.wasm ARGS` (the real
//!   binary from the pip package, found as in /work/shared/TOOLCHAIN.md, or on PATH); for
//!   the wasm32-wasip1-threads programs wasmtime 46 instead (target/toolchains/wasmtime46,
//!   which scripts/setup.sh installs) with `-W threads=y -W shared-memory=y -S threads=y`,
//!   since wasmtime 47 and later have no wasi-threads; the Wasm GC programs (Kotlin, and
//!   the WAT ones marked `.gc()`) with `-W gc=y,function-references=y,exceptions=y`;
//! - `x86_64`, `aarch64`: the library calls the `aot` CLI makes (`aot::compile_module`,
//!   `program::emit_program` with the same `CommandConfig`, `link::link`), so the build is
//!   always the current one; the grants are baked in at compile time, so an executable is
//!   built per distinct (program, grants). A target that is not the host runs under
//!   `qemu-<arch>`; without that emulator (or without wasmtime) its cases are skipped,
//!   with the reason shown, or fail when `CI` is set (see `aot_tests::tools`).
//!
//! Normalisations (documented in examples/README.md too):
//! - stderr of a trap: wasmtime ends with `Error: failed to run main module ...` and a
//!   report holding `wasm trap: <message>`; `aot` executables end with
//!   `wasm trap: <message>`, `wasm backtrace:` and frame lines. Both become the guest's own
//!   stderr followed by the one line `wasm trap: <message>`: backtraces are not compared
//!   (wasmtime names frames with offsets, `aot` with function names).
//! - stdout larger than 16 KiB is stored as `bytes=N fnv1a64=H` in `<case>.stdout-digest`.
//! - argv[0] differs between runners; the programs print only whether it is non-empty.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use aot::target::Arch;
use aot::{Options, Target, link};
use aot_abi::{CommandConfig, DirGrant};
use aot_tests::process::{self, End};
use aot_tests::tools;

/// Where the preopened directory appears to the guest.
const GUEST_DIR: &str = "/data";
/// Larger expected stdout is stored as a digest.
const MAX_STORED_STDOUT: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Lang {
    /// Rust for wasm32-wasip1: a core module.
    Rust,
    /// The same Rust program for wasm32-wasip2: a component importing WASI 0.2.
    RustP2,
    /// Rust for wasm32-wasip1-threads (examples/threads/<program>): a core module importing
    /// a shared `env.memory` and `wasi.thread-spawn`. Its reference is wasmtime 46 with
    /// wasi-threads enabled (wasmtime 47 and later dropped wasi-threads), not wasmtime 49.
    RustThreads,
    C,
    /// C with POSIX threads for wasm32-wasip1-threads (examples/c/threads/<program>.c):
    /// clang-19 with wasi-libc's headers (from the ziglang package: Debian's wasi-libc has
    /// no threads) and the threads libc.a of the Rust toolchain. Reference: wasmtime 46.
    CThreads,
    /// The same C program made a component with the preview 1 command adapter (as
    /// `wasm-tools component new --adapt`): WASI 0.2 underneath wasi-libc's preview 1.
    CP2,
    /// Components composed into one (`wasm-tools compose`): examples/compose/<program>-app
    /// with <program>-lib plugged into its import, so calls cross fused adapters.
    Composed,
    /// examples/wat/<program>.wat: hand-written text, for what no toolchain here emits
    /// (exception handling: clang-19 emits only the legacy proposal, and Debian's wasm32
    /// libc++abi has no exception support).
    Wat,
    /// examples/python/<program>.py made a component by componentize-py.
    Python,
    /// examples/kotlin/<program>/*.kt (with examples/kotlin/common/*.kt) by Kotlin/Wasm for
    /// WASI: a core module using GC, typed function references and exception handling.
    Kotlin,
    /// examples/js/<program>.js made a component by componentize-js (it imports
    /// wasi:http, so wasmtime runs it with `-S http`).
    JavaScript,
    /// examples/js/qjs/<program>.js made a component by componentize-qjs `--sync` (QuickJS;
    /// two components composed).
    QuickJs,
    /// The same by componentize-qjs's default, which also imports the component model's
    /// task and waitable builtins (its async support), unused by a synchronous program.
    QuickJsDefault,
}

#[derive(Clone, Copy)]
enum Stdin {
    Empty,
    Text(&'static str),
    /// That many bytes of generated text (see [`generated_text`]).
    Generated(usize),
}

/// What ROOT holds before the run. Every fixture creates ROOT/data, granted as /data.
#[derive(Clone, Copy)]
enum Fixture {
    /// No directory is granted.
    None,
    /// An empty ROOT/data.
    EmptyDir,
    /// examples/fixtures/<name>/ copied to ROOT/data.
    Copy(&'static str),
    /// ROOT/secret.txt outside the preopen; in ROOT/data: inside.txt, sub/,
    /// up -> ../secret.txt, abs -> ROOT/secret.txt. See examples/rust/sandbox-escape.
    Sandbox,
}

#[derive(Clone, Copy)]
struct Case {
    lang: Lang,
    program: &'static str,
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    stdin: Stdin,
    fixture: Fixture,
    /// Sockets allowed: `wasmtime run -S inherit-network`, `aot --inherit-network`.
    network: bool,
    /// Name lookups allowed: `-S allow-ip-name-lookup`, `aot --allow-ip-name-lookup`.
    lookup: bool,
    /// Imports wasi:http: wasmtime runs it with `-S http`.
    http: bool,
    /// Uses Wasm GC: wasmtime runs it with `-W gc=y,function-references=y,exceptions=y`.
    gc: bool,
}

impl Case {
    fn id(&self) -> String {
        match self.prefix() {
            Some(prefix) => format!("{prefix}:{}.{}", self.program, self.name),
            None => format!("{}.{}", self.program, self.name),
        }
    }

    /// A wasm32-wasip1-threads program, whose reference is wasmtime 46.
    fn is_threaded(&self) -> bool {
        matches!(self.lang, Lang::RustThreads | Lang::CThreads)
    }

    /// What tells a component case apart from the core-module case of the same program.
    fn prefix(&self) -> Option<&'static str> {
        match self.lang {
            Lang::Rust | Lang::C | Lang::Wat => None,
            Lang::RustP2 | Lang::CP2 | Lang::Composed => Some("p2"),
            Lang::RustThreads | Lang::CThreads => Some("threads"),
            Lang::Python => Some("py"),
            Lang::Kotlin => Some("kt"),
            Lang::JavaScript => Some("js"),
            Lang::QuickJs => Some("qjs"),
            Lang::QuickJsDefault => Some("qjs-default"),
        }
    }
}

/// Every case: those of [`CASES`], then each again with the program as a component: Rust
/// built for wasm32-wasip2, C through the preview 1 adapter. Their expected results are
/// recorded separately (examples/expected-p2).
fn all_cases() -> Vec<Case> {
    let p2 = CASES
        .iter()
        .filter(|c| matches!(c.lang, Lang::Rust | Lang::C))
        .map(|c| Case {
            lang: match c.lang {
                Lang::C => Lang::CP2,
                _ => Lang::RustP2,
            },
            ..*c
        });
    CASES.iter().copied().chain(p2).collect()
}

const fn case(
    lang: Lang,
    program: &'static str,
    name: &'static str,
    args: &'static [&'static str],
) -> Case {
    Case {
        lang,
        program,
        name,
        args,
        env: &[],
        stdin: Stdin::Empty,
        fixture: Fixture::None,
        network: false,
        lookup: false,
        http: false,
        gc: false,
    }
}

/// A Kotlin program's case: Kotlin/Wasm always needs GC.
const fn kotlin(program: &'static str, name: &'static str, args: &'static [&'static str]) -> Case {
    case(Lang::Kotlin, program, name, args).gc()
}

const fn rust(program: &'static str, name: &'static str, args: &'static [&'static str]) -> Case {
    case(Lang::Rust, program, name, args)
}

/// A Rust program for wasm32-wasip1-threads (examples/threads/<program>).
const fn threads(program: &'static str, name: &'static str, args: &'static [&'static str]) -> Case {
    case(Lang::RustThreads, program, name, args)
}

/// A Rust program that only makes sense as a wasm32-wasip2 component.
const fn rust_p2(program: &'static str, name: &'static str, args: &'static [&'static str]) -> Case {
    case(Lang::RustP2, program, name, args)
}

impl Case {
    const fn env(mut self, env: &'static [(&'static str, &'static str)]) -> Case {
        self.env = env;
        self
    }
    const fn stdin(mut self, stdin: Stdin) -> Case {
        self.stdin = stdin;
        self
    }
    const fn network(mut self) -> Case {
        self.network = true;
        self
    }
    const fn lookup(mut self) -> Case {
        self.lookup = true;
        self
    }
    const fn fixture(mut self, fixture: Fixture) -> Case {
        self.fixture = fixture;
        self
    }
    const fn http(mut self) -> Case {
        self.http = true;
        self
    }

    const fn gc(mut self) -> Case {
        self.gc = true;
        self
    }
}

const WC_TEXT: &str = "hello world\nthe quick brown fox jumps\n\n  extraordinarily   long words\tand\ttabs\nno newline at the end";

/// Every case, in report order.
const CASES: &[Case] = &[
    rust("hello", "default", &[]),
    rust("args-env", "nothing", &[]),
    rust(
        "args-env",
        "args",
        &["one", "two words", "", "ünïcödé ✓", "--flag=value"],
    ),
    rust("args-env", "env", &["x"]).env(&[
        ("GREETING", "hello there"),
        ("EMPTY", ""),
        ("UNICODE", "ça va ✓"),
        ("WITH_EQUALS", "a=b=c"),
    ]),
    rust("stream", "upper-small", &["upper"]).stdin(Stdin::Text(
        "hello, world\nsecond line\nno newline at the end",
    )),
    rust("stream", "upper-200k", &["upper"]).stdin(Stdin::Generated(200_000)),
    rust("stream", "stats-1mib", &["stats"]).stdin(Stdin::Generated(1 << 20)),
    rust("stream", "stats-empty", &["stats"]),
    rust("stream", "bad-mode", &["sideways"]),
    rust("files", "preopen", &[]).fixture(Fixture::Copy("files")),
    rust("files", "no-preopen", &[]),
    rust("fs-ops", "default", &[]).fixture(Fixture::EmptyDir),
    rust("exit-codes", "zero", &["0"]),
    rust("exit-codes", "one", &["1"]),
    rust("exit-codes", "forty-two", &["42"]),
    rust("exit-codes", "125", &["125"]),
    rust("exit-codes", "main-err", &["err"]),
    rust("exit-codes", "usage", &[]),
    // Two Rust components composed: strings, lists, records, variants, resources across.
    case(Lang::Composed, "compose", "default", &[]),
    // Python and JavaScript toolchains (13-19 MB components, built by the test).
    case(Lang::Python, "hello", "args", &["one", "two words"]).env(&[("LANG_TEST", "py")]),
    case(Lang::Python, "hello", "dir", &[]).fixture(Fixture::EmptyDir),
    case(Lang::JavaScript, "hello", "default", &[]),
    case(Lang::QuickJs, "hello", "default", &[]),
    case(Lang::QuickJsDefault, "hello", "default", &[]),
    // Sockets on loopback (std::net, and wasi:sockets called directly), with the network
    // granted and without (every socket denied).
    rust_p2("net", "network", &[]).network(),
    rust_p2("net", "default", &[]),
    rust_p2("net-wasi", "network", &[]).network(),
    rust_p2("net-wasi", "lookup", &[]).network().lookup(),
    rust_p2("net-wasi", "default", &[]),
    // WASI 0.2 called directly (the `wasip2` crate): components only.
    rust_p2("wasi-p2", "surface", &["surface", "x"]).env(&[("B", "2"), ("A", "1")]),
    rust_p2("wasi-p2", "stdin", &["stdin"]).stdin(Stdin::Text("hello world, this is stdin\n")),
    rust_p2("wasi-p2", "exit-ok", &["exit-ok"]),
    rust_p2("wasi-p2", "exit-err", &["exit-err"]),
    rust_p2("wasi-p2", "exit-code-7", &["exit-code", "7"]),
    rust_p2("wasi-p2", "exit-code-0", &["exit-code", "0"]),
    // wasi:http called directly; requests go to localhost:1, where nothing listens.
    rust_p2("wasi-http", "types", &["types"]).http(),
    rust_p2("wasi-http", "setters", &["setters"]).http(),
    rust_p2("wasi-http", "handle", &["handle"]).http(),
    rust_p2(
        "wasi-http",
        "drop-body-with-stream",
        &["drop-body-with-stream"],
    )
    .http(),
    rust_p2(
        "wasi-http",
        "finish-body-with-stream",
        &["finish-body-with-stream"],
    )
    .http(),
    rust_p2(
        "wasi-http",
        "drop-future-with-pollable",
        &["drop-future-with-pollable"],
    )
    .http(),
    rust_p2("wasi-http", "fields-over-budget", &["fields-over-budget"]).http(),
    rust("panic", "panic", &["panic"]),
    rust("panic", "out-of-bounds", &["oob"]),
    rust("panic", "stack-exhausted", &["recurse"]),
    rust("clocks-random", "default", &[]),
    rust("sandbox-escape", "default", &[]).fixture(Fixture::Sandbox),
    rust("hash", "selftest", &["selftest"]),
    rust("hash", "2mib", &["2"]),
    rust("nbody", "1000", &["1000"]),
    rust("nbody", "100000", &["100000"]),
    rust("json", "selftest", &["selftest"]),
    rust("json", "64k-x2", &["64", "2"]),
    case(Lang::C, "wc", "text", &[]).stdin(Stdin::Text(WC_TEXT)),
    case(Lang::C, "wc", "300k", &[]).stdin(Stdin::Generated(300_000)),
    case(Lang::C, "wc", "empty", &[]),
    case(Lang::C, "fileenv", "dir", &["/data", "alpha", "beta gamma"])
        .env(&[("GREETING", "bonjour")])
        .fixture(Fixture::EmptyDir),
    case(Lang::C, "fileenv", "usage", &[]),
    // Threads (wasm32-wasip1-threads, compared with wasmtime 46): std's primitives, rayon,
    // stress tests; every printed result is independent of scheduling.
    threads("threads", "spawn-join", &["spawn-join"]),
    threads("threads", "mutex", &["mutex"]),
    threads("threads", "condvar", &["condvar"]),
    threads("threads", "mpsc", &["mpsc"]),
    threads("threads", "scoped", &["scoped"]),
    threads("threads", "rwlock", &["rwlock"]),
    threads("threads", "barrier", &["barrier"]),
    threads("threads", "atomics", &["atomics"]),
    threads("threads", "tls", &["tls"]),
    threads("threads", "park", &["park"]),
    threads("threads", "panic", &["panic"]),
    threads("threads", "exit-7", &["exit", "7"]),
    threads("rayon-work", "sum", &["sum", "10000000"]),
    threads("rayon-work", "sort", &["sort", "2000000"]),
    threads("rayon-work", "mixed", &["mixed"]),
    threads("threads-stress", "counters", &["counters"]),
    threads("threads-stress", "message-passing", &["message-passing"]),
    threads(
        "threads-stress",
        "store-buffering",
        &["store-buffering", "1000000"],
    ),
    threads("threads-stress", "ping-pong", &["ping-pong", "1000000"]),
    threads("threads-stress", "wait-pong", &["wait-pong", "20000"]),
    case(Lang::CThreads, "pthreads", "create-join", &["create-join"]),
    case(Lang::CThreads, "pthreads", "mutex", &["mutex"]),
    case(Lang::CThreads, "pthreads", "condvar", &["condvar"]),
    case(
        Lang::CThreads,
        "pthreads",
        "rwlock-barrier",
        &["rwlock-barrier"],
    ),
    case(Lang::CThreads, "pthreads", "tls", &["tls"]),
    case(Lang::CThreads, "pthreads", "atomics", &["atomics"]),
    case(
        Lang::CThreads,
        "pthreads",
        "wait-pong",
        &["wait-pong", "1000000"],
    ),
    case(
        Lang::CThreads,
        "pthreads",
        "futex-pong",
        &["futex-pong", "20000"],
    ),
    case(Lang::CThreads, "pthreads", "exit-5", &["exit", "5"]),
    case(Lang::Wat, "exceptions", "sum", &["1", "2", "30000000000"]),
    case(
        Lang::Wat,
        "exceptions",
        "bad-byte",
        &["10", "20", "x3", "4"],
    ),
    case(
        Lang::Wat,
        "exceptions",
        "overflow",
        &["1", "99999999999999", "2"],
    ),
    // Wasm GC. Every size here runs in well under a second on wasmtime; benches/gc.sh runs
    // the same programs with bigger arguments.
    case(Lang::Wat, "gc-binary-trees", "10", &["10"]).gc(),
    case(Lang::Wat, "gc-binary-trees", "16", &["16"]).gc(),
    // About 1 GB of arrays and 2M dead two-struct cycles, with a 64-slot live set.
    case(Lang::Wat, "gc-churn", "2000", &["2000"]).gc(),
    case(Lang::Wat, "gc-list", "1000", &["1000"]).gc(),
    case(Lang::Wat, "gc-list", "1000000", &["1000000"]).gc(),
    kotlin("binary-trees", "10", &["10"]),
    kotlin("binary-trees", "16", &["16"]),
    kotlin("collections", "list", &["list", "1000"]),
    kotlin("collections", "map", &["map", "1000"]),
    kotlin("collections", "sort", &["sort", "1000"]),
    kotlin("collections", "seq", &["seq", "1000"]),
    kotlin("collections", "strings", &["strings", "1000"]),
    // Each well over 100 MB of allocation in total with a small live set.
    kotlin("churn", "arrays", &["arrays", "1000"]),
    kotlin("churn", "objects", &["objects", "100"]),
    kotlin("churn", "cycles", &["cycles", "300"]),
    kotlin("exceptions", "catch", &["catch"]),
    // What ends a Kotlin/Wasm program: every error below but `stack` is a Kotlin exception
    // (the compiler checks indices, nulls, casts and divisors itself), which, uncaught,
    // leaves Wasm as an exception: wasmtime prints nothing of it but `thrown Wasm
    // exception` (status 1). Unbounded recursion is a trap.
    kotlin("exceptions", "uncaught", &["uncaught"]),
    kotlin("exceptions", "index", &["index"]),
    kotlin("exceptions", "null", &["null"]),
    kotlin("exceptions", "cast", &["cast"]),
    kotlin("exceptions", "div", &["div"]),
    kotlin("exceptions", "stack", &["stack"]),
];

/// The hand-written text programs (examples/wat/<name>.wat), run as they are.
const WAT_PROGRAMS: &[&str] = &["exceptions", "gc-binary-trees", "gc-churn", "gc-list"];

/// What wasmtime 49 needs to run a Wasm GC program (Kotlin/Wasm also throws exceptions).
const WASMTIME_GC: &[&str] = &["-W", "gc=y,function-references=y,exceptions=y"];

/// The C programs (examples/c/<name>.c).
const C_PROGRAMS: &[&str] = &["wc", "fileenv"];

/// The C programs with threads (examples/c/threads/<name>.c).
const C_THREADS_PROGRAMS: &[&str] = &["pthreads"];

#[derive(Clone, Debug)]
enum Launcher {
    Native,
    Emulator(PathBuf),
}

#[derive(Clone, Debug)]
enum Runner {
    Wasmtime(PathBuf),
    Aot { arch: Arch, launcher: Launcher },
}

#[derive(Clone, Debug)]
struct RunnerSlot {
    name: &'static str,
    /// Err = skipped, with the reason.
    runner: Result<Runner, String>,
}

/// Exit status, stdout, stderr (normalised) and the tree, as compared.
#[derive(Debug)]
struct Outcome {
    code: String,
    stdout: Vec<u8>,
    stderr: String,
    tree: Option<String>,
}

/// (program, arch name, encoded CommandConfig).
type ExeKey = (String, &'static str, Vec<u8>);
/// The executable's path once built, or why it could not be built.
type ExeCell = OnceLock<Result<PathBuf, String>>;

struct Setup {
    workspace: PathBuf,
    /// The .wasm of every program, or why it could not be built.
    wasm: HashMap<(Lang, &'static str), Result<PathBuf, String>>,
    scratch: PathBuf,
    timeout: Duration,
    /// wasmtime 46, the reference for [`Lang::RustThreads`], or why it is missing.
    wasmtime46: Result<PathBuf, String>,
    /// Kotlin/Wasm's home, or why it is missing (its cases are then skipped).
    kotlin: Result<PathBuf, String>,
    /// Executables by (program, arch, encoded config).
    exes: Mutex<HashMap<ExeKey, Arc<ExeCell>>>,
    exe_counter: AtomicUsize,
}

enum Verdict {
    Ok,
    Fail(String),
    Skipped(String),
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            println!("examples: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    self_check()?;
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let bless = env_flag("AOT_EXAMPLES_BLESS");
    let keep = env_flag("AOT_EXAMPLES_KEEP");
    let timeout = Duration::from_secs(
        std::env::var("AOT_EXAMPLES_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let jobs = std::env::var("AOT_EXAMPLES_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("tests/ has no parent directory")?
        .to_path_buf();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    let build_dir = target_dir.join("examples");
    let scratch_dir = tempfile::Builder::new()
        .prefix("aot-examples-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let scratch = scratch_dir.path().to_path_buf();

    let all = all_cases();
    let cases: Vec<&Case> = all
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.id().contains(f.as_str())))
        .collect();
    let runners = runners()?;
    let reference = match runners.first().map(|r| &r.runner) {
        Some(Ok(r @ Runner::Wasmtime(_))) => Some(r.clone()),
        _ => None,
    };
    if bless && reference.is_none() {
        return Err("AOT_EXAMPLES_BLESS=1 needs the wasmtime runner (the reference), which is not available".into());
    }

    let mut wasm = build_rust(&workspace, &build_dir, Lang::Rust);
    wasm.extend(build_rust(&workspace, &build_dir, Lang::RustP2));
    wasm.extend(build_rust(&workspace, &build_dir, Lang::RustThreads));
    wasm.extend(build_c_threads(&workspace, &build_dir));
    wasm.extend(compose(&wasm, &build_dir));
    wasm.extend(build_scripts(&workspace, &build_dir));
    wasm.extend(build_wat(&workspace, &build_dir));
    // Only looked for when a Kotlin case is selected: each build is seconds of JVM.
    let kotlin = if cases.iter().any(|c| c.lang == Lang::Kotlin) {
        tools::required("the Kotlin examples", tools::find_kotlin(&workspace))
    } else {
        Err("not needed".to_string())
    };
    wasm.extend(build_kotlin(&workspace, &build_dir, &kotlin, &cases));
    let c = build_c(&workspace, &build_dir);
    wasm.extend(componentize_c(&c, &build_dir));
    wasm.extend(c);
    // Only looked for when a threads case is to run on wasmtime, so that a setup without it
    // (or CI) does not miss it elsewhere.
    let wants_wasmtime46 = reference.is_some() && cases.iter().any(|c| c.is_threaded());
    let wasmtime46 = if wants_wasmtime46 {
        tools::required(
            "the threaded examples on wasmtime 46 (their reference)",
            tools::find_wasmtime46(&workspace),
        )
    } else {
        Err("not needed".to_string())
    };
    if let Ok(p) = &wasmtime46 {
        println!(
            "threads reference: {} run {}",
            p.display(),
            WASMTIME46_THREADS.join(" ")
        );
    }
    let setup = Setup {
        workspace,
        wasm,
        scratch: scratch.clone(),
        timeout,
        wasmtime46,
        kotlin,
        exes: Mutex::new(HashMap::new()),
        exe_counter: AtomicUsize::new(0),
    };
    for r in &runners {
        match &r.runner {
            Ok(runner) => println!("runner {}: {}", r.name, describe_runner(runner)),
            Err(why) => println!("runner {}: skipped: {why}", r.name),
        }
    }

    if let (true, Some(runner)) = (bless, &reference) {
        for c in &cases {
            match run_case(&setup, c, runner, "bless").and_then(|o| write_expected(&setup, c, &o)) {
                Ok(()) => println!("blessed {}", c.id()),
                Err(e) => println!("bless FAILED {}: {e}", c.id()),
            }
        }
    }

    // Every (case, runner) pair, run by a small pool; lines are printed in table order.
    let jobs_list: Vec<(&Case, &RunnerSlot)> = cases
        .iter()
        .flat_map(|c| runners.iter().map(move |r| (*c, r)))
        .collect();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Verdict)>();
    let known = read_known_failures(&setup.workspace)?;
    let (mut ok, mut failed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    let (mut known_failed, mut now_passing) = (Vec::new(), Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(jobs_list.len()) {
            let tx = tx.clone();
            let (next, jobs_list, setup) = (&next, &jobs_list, &setup);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((c, r)) = jobs_list.get(i) else {
                        break;
                    };
                    let verdict = aot_tests::panics::catch(|| check(setup, c, r, i))
                        .unwrap_or_else(|e| Verdict::Fail(format!("test harness {e}")));
                    if tx.send((i, verdict)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: HashMap<usize, Verdict> = HashMap::new();
        let mut printed = 0;
        for (i, v) in rx {
            pending.insert(i, v);
            while let Some(v) = pending.remove(&printed) {
                let (c, r) = jobs_list[printed];
                let label = format!("{:<8} {}", r.name, c.id());
                let listed = known.get(&(r.name.to_string(), c.id()));
                match (v, listed) {
                    (Verdict::Ok, None) => {
                        println!("ok      {label}");
                        ok.push(label);
                    }
                    (Verdict::Ok, Some(_)) => {
                        println!(
                            "FAIL    {label}: passes but is listed in {KNOWN_FAILURES}; remove it"
                        );
                        now_passing.push(label);
                    }
                    (Verdict::Fail(why), Some(reason)) => {
                        println!("known   {label}: {reason} ({why})");
                        known_failed.push(label);
                    }
                    (Verdict::Fail(why), None) => {
                        println!("FAIL    {label}: {why}");
                        failed.push(label);
                    }
                    (Verdict::Skipped(why), _) => {
                        println!("skipped {label}: {why}");
                        skipped.push(format!("{label}: {why}"));
                    }
                }
                printed += 1;
            }
        }
    });

    if keep {
        let kept = scratch_dir.keep();
        println!(
            "kept executables and case directories in {}",
            kept.display()
        );
    }
    if !failed.is_empty() {
        println!("failed:");
        for f in &failed {
            println!("  {f}");
        }
    }
    if !skipped.is_empty() {
        println!("skipped:");
        for s in &skipped {
            println!("  {s}");
        }
    }
    if !now_passing.is_empty() {
        println!("listed in {KNOWN_FAILURES} but passing:");
        for f in &now_passing {
            println!("  {f}");
        }
    }
    println!(
        "examples: {} ok, {} failed, {} known failures, {} skipped (of {} case runs: {} cases x {} runners)",
        ok.len(),
        failed.len() + now_passing.len(),
        known_failed.len(),
        skipped.len(),
        jobs_list.len(),
        cases.len(),
        runners.len()
    );
    Ok(failed.is_empty() && now_passing.is_empty())
}

/// Cases known to fail while a capability grows: `<runner> <case id> <reason>` per line,
/// `#` comments. A listed case that passes fails the run, so the list only shrinks.
const KNOWN_FAILURES: &str = "examples/known-failures.txt";

fn read_known_failures(workspace: &Path) -> Result<HashMap<(String, String), String>, String> {
    let path = workspace.join(KNOWN_FAILURES);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut known = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(runner), Some(id), Some(reason)) if !reason.trim().is_empty() => {
                known.insert(
                    (runner.to_string(), id.to_string()),
                    reason.trim().to_string(),
                );
            }
            _ => {
                return Err(format!(
                    "{KNOWN_FAILURES}:{}: expected `<runner> <case id> <reason>`",
                    n + 1
                ));
            }
        }
    }
    Ok(known)
}

/// The normalisations on known inputs (this binary has no #[test] harness), so that a
/// broken one fails the run instead of hiding differences.
fn self_check() -> Result<(), String> {
    let wasmtime = "guest line\nError: failed to run main module `x.wasm`\n\nCaused by:\n    0: failed to invoke command default\n    \
                    1: error while executing at wasm backtrace:\n    0:   0x5c81 - x.wasm!abort\n    \
                    2: memory fault at wasm address 0xc0000000\n    3: wasm trap: out of bounds memory access\n\nStack backtrace:\n   0: x\n";
    let aot = "guest line\nwasm trap: out of bounds memory access\nwasm backtrace:\n    0: abort\n    1: main\n";
    let want = "guest line\nwasm trap: out of bounds memory access\n";
    let checks = [
        (normalise_wasmtime_stderr(wasmtime), want),
        (normalise_aot_stderr(aot), want),
        (normalise_aot_stderr("wasm trap: x\n"), "wasm trap: x\n"),
        // Not a trap report: left alone.
        (
            normalise_wasmtime_stderr("Error: failed to run main module `x`\nunknown import\n"),
            "Error: failed to run main module `x`\nunknown import\n",
        ),
        // Something other than a backtrace after the trap line stays visible.
        (
            normalise_aot_stderr("wasm trap: x\nextra\n"),
            "wasm trap: x\nextra\n",
        ),
        (normalise_aot_stderr("a\nb\n"), "a\nb\n"),
        // An error a host function raised: the report's last cause, and aot's first line.
        (
            normalise_wasmtime_stderr(
                "g\nError: failed to run main module `x.wasm`\n\nCaused by:\n    0: failed to invoke `run` function\n    \
                 1: error while executing at wasm backtrace:\n    0:   0x72a1 - x.wasm!f\n    2: resource has children\n",
            ),
            "g\nerror: resource has children\n",
        ),
        (
            normalise_aot_stderr("g\nerror: resource has children\nwasm backtrace:\n    0: f\n"),
            "g\nerror: resource has children\n",
        ),
        (normalise_aot_stderr("error: x\n"), "error: x\n"),
        (
            normalise_wasmtime_stderr(
                "g\nError: error while executing at wasm backtrace:\n    0:  0x269b8 - t.wasm!abort\n\n\
                 Caused by:\n    wasm trap: wasm `unreachable` instruction executed\n\nStack backtrace:\n   0: x\n",
            ),
            "g\nwasm trap: wasm `unreachable` instruction executed\n",
        ),
        (
            strip_threads_warning("WARNING: the `-Sthreads` flag will be ...\n   \nguest\n")
                .to_string(),
            "guest\n",
        ),
        (strip_threads_warning("guest\n").to_string(), "guest\n"),
    ];
    for (i, (got, want)) in checks.iter().enumerate() {
        if got != want {
            return Err(format!(
                "self-check {i} of the stderr normalisation: expected {want:?}, got {got:?}"
            ));
        }
    }
    if first_difference(b"a\nb\n", b"a\nc\n").as_deref()
        != Some("line 2: expected \"b\\n\", got \"c\\n\"")
    {
        return Err("self-check of first_difference failed".into());
    }
    Ok(())
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn describe_runner(r: &Runner) -> String {
    match r {
        Runner::Wasmtime(p) => format!("{} run", p.display()),
        Runner::Aot {
            launcher: Launcher::Native,
            ..
        } => "aot executables, run natively".into(),
        Runner::Aot {
            launcher: Launcher::Emulator(q),
            ..
        } => format!("aot executables, run under {}", q.display()),
    }
}

/// wasmtime first (bless uses it), then the two targets.
fn runners() -> Result<Vec<RunnerSlot>, String> {
    let wanted: Option<Vec<String>> = std::env::var("AOT_EXAMPLES_RUNNERS").ok().map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    });
    let known = ["wasmtime", "x86_64", "aarch64"];
    if let Some(w) = &wanted
        && let Some(bad) = w.iter().find(|x| !known.contains(&x.as_str()))
    {
        return Err(format!(
            "AOT_EXAMPLES_RUNNERS: unknown runner `{bad}` (known: {})",
            known.join(", ")
        ));
    }
    let is_wanted = |name: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == name));
    let mut out = Vec::new();
    if is_wanted("wasmtime") {
        out.push(RunnerSlot {
            name: "wasmtime",
            runner: tools::required(
                "the examples on wasmtime (the reference)",
                tools::find_wasmtime(),
            )
            .map(Runner::Wasmtime),
        });
    }
    for (name, arch) in [("x86_64", Arch::X86_64), ("aarch64", Arch::Aarch64)] {
        if !is_wanted(name) {
            continue;
        }
        let launcher = if Target::for_arch(arch).is_host() {
            Ok(Launcher::Native)
        } else {
            tools::required(&format!("the examples on {name}"), tools::find_qemu(name))
                .map(Launcher::Emulator)
                .map_err(|why| format!("not the host and {why}"))
        };
        out.push(RunnerSlot {
            name,
            runner: launcher.map(|launcher| Runner::Aot { arch, launcher }),
        });
    }
    Ok(out)
}

/// The Rust programs built for `lang`: every program for wasm32-wasip2, the ones with
/// preview 1 cases for wasm32-wasip1.
fn rust_programs(lang: Lang) -> Vec<&'static str> {
    let mut v: Vec<&str> = CASES
        .iter()
        .filter(|c| match lang {
            Lang::RustThreads => c.lang == Lang::RustThreads,
            _ => c.lang == Lang::Rust || (lang == Lang::RustP2 && c.lang == Lang::RustP2),
        })
        .map(|c| c.program)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Builds the examples workspace for wasm32-wasip1 (`Lang::Rust`) or wasm32-wasip2
/// (`Lang::RustP2`), or its threaded programs (not default members) for
/// wasm32-wasip1-threads (`Lang::RustThreads`), one cargo call for all programs.
fn build_rust(
    workspace: &Path,
    build_dir: &Path,
    lang: Lang,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let triple = match lang {
        Lang::RustP2 => "wasm32-wasip2",
        Lang::RustThreads => "wasm32-wasip1-threads",
        _ => "wasm32-wasip1",
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "--release",
        "--target",
        triple,
        "--manifest-path",
    ])
    .arg(workspace.join("examples/Cargo.toml"))
    .arg("--target-dir")
    .arg(build_dir);
    if lang == Lang::RustThreads {
        for p in rust_programs(lang) {
            cmd.args(["-p", p]);
        }
    }
    for v in tools::CLEARED_CARGO_ENV {
        cmd.env_remove(v);
    }
    let result = match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "cargo build of examples/ failed: {}",
            aot_tests::one_line(&String::from_utf8_lossy(&o.stderr))
        )),
        Err(e) => Err(format!("cannot run cargo: {e}")),
    };
    rust_programs(lang)
        .into_iter()
        .map(|p| {
            let wasm = build_dir
                .join(format!("{triple}/release"))
                .join(format!("{p}.wasm"));
            let r = result.clone().and_then(|()| {
                if wasm.is_file() {
                    Ok(wasm)
                } else {
                    Err(format!("{} was not built", wasm.display()))
                }
            });
            ((lang, p), r)
        })
        .collect()
}

/// examples/wat/<p>.wat assembled into `<build>/wat/<p>.wasm`.
fn build_wat(
    workspace: &Path,
    build_dir: &Path,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let out_dir = build_dir.join("wat");
    WAT_PROGRAMS
        .iter()
        .map(|&p| {
            let src = workspace.join("examples/wat").join(format!("{p}.wat"));
            let out = out_dir.join(format!("{p}.wasm"));
            let r = wat::parse_file(&src)
                .map_err(|e| format!("cannot assemble {}: {e}", src.display()))
                .and_then(|bytes| {
                    std::fs::create_dir_all(&out_dir)
                        .and_then(|()| std::fs::write(&out, bytes))
                        .map_err(|e| format!("cannot write {}: {e}", out.display()))
                })
                .map(|()| out);
            ((Lang::Wat, p), r)
        })
        .collect()
}

/// The selected Kotlin programs with kotlinc-wasm for WASI (examples/README.md): the
/// program's sources and examples/kotlin/common/ compiled to a klib, which is then linked
/// with the WASI standard library, dead code eliminated, into `<build>/kotlin/<p>.wasm`.
/// A .wasm newer than its sources and the compiler is kept: each build is about 15 s of
/// JVM. The programs build in parallel.
fn build_kotlin(
    workspace: &Path,
    build_dir: &Path,
    kotlin: &Result<PathBuf, String>,
    cases: &[&Case],
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let mut programs: Vec<&'static str> = cases
        .iter()
        .filter(|c| c.lang == Lang::Kotlin)
        .map(|c| c.program)
        .collect();
    programs.sort_unstable();
    programs.dedup();
    let src = workspace.join("examples/kotlin");
    let build = |home: &Path, p: &str| -> Result<PathBuf, String> {
        let dir = build_dir.join("kotlin").join(p);
        let out = dir.join(format!("{p}.wasm"));
        let mut sources = kotlin_sources(&src.join("common"))?;
        sources.extend(kotlin_sources(&src.join(p))?);
        let version = home.join("build.txt");
        let inputs: Vec<&Path> = sources
            .iter()
            .map(PathBuf::as_path)
            .chain([version.as_path()])
            .collect();
        if is_newer_than(&out, &inputs) {
            return Ok(out);
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let kotlinc = |args: &mut Command, what: &str| -> Result<(), String> {
            let o = args
                .output()
                .map_err(|e| format!("cannot run kotlinc-wasm: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                let text = String::from_utf8_lossy(&o.stderr);
                let first = text
                    .lines()
                    .find(|l| l.contains("error"))
                    .unwrap_or_else(|| text.lines().next().unwrap_or("no output"));
                Err(format!("kotlinc-wasm {what} failed: {first}"))
            }
        };
        let stdlib = home.join("lib/kotlin-stdlib-wasm-wasi.klib");
        let new = || {
            let mut cmd = Command::new(home.join("bin/kotlinc-wasm"));
            cmd.arg("-Xwasm-target=wasm-wasi")
                .arg("-libraries")
                .arg(&stdlib);
            cmd
        };
        let klib_dir = dir.join("klib");
        kotlinc(
            new()
                .arg("-ir-output-dir")
                .arg(&klib_dir)
                .args(["-ir-output-name", p])
                .args(&sources),
            &format!("compiling {p}"),
        )?;
        kotlinc(
            new()
                .arg(format!(
                    "-Xinclude={}",
                    klib_dir.join(format!("{p}.klib")).display()
                ))
                .args(["-Xir-dce", "-ir-output-dir"])
                .arg(&dir)
                .args(["-ir-output-name", p]),
            &format!("linking {p}"),
        )?;
        if out.is_file() {
            Ok(out)
        } else {
            Err(format!("kotlinc-wasm did not write {}", out.display()))
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = programs
            .iter()
            .map(|&p| {
                let build = &build;
                s.spawn(move || {
                    let r = kotlin.clone().and_then(|home| build(&home, p));
                    ((Lang::Kotlin, p), r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| ((Lang::Kotlin, "?"), Err("build panicked".into())))
            })
            .collect()
    })
}

/// The .kt files directly in `dir`, sorted.
fn kotlin_sources(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kt"))
        .collect();
    v.sort();
    Ok(v)
}

/// Whether `out` exists and was modified after every one of `inputs`.
fn is_newer_than(out: &Path, inputs: &[&Path]) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(out) else {
        return false;
    };
    inputs
        .iter()
        .all(|p| modified(p).is_some_and(|t| t < built))
}

/// `clang-19 --target=wasm32-wasi -O2 prog.c -o prog.wasm` (TOOLCHAIN.md §4).
fn build_c(
    workspace: &Path,
    build_dir: &Path,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let out_dir = build_dir.join("c");
    C_PROGRAMS
        .iter()
        .map(|&p| {
            let out = out_dir.join(format!("{p}.wasm"));
            let r = std::fs::create_dir_all(&out_dir)
                .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))
                .and_then(|()| {
                    Command::new("clang-19")
                        .args(["--target=wasm32-wasi", "-O2", "-Wall", "-Werror"])
                        .arg(workspace.join("examples/c").join(format!("{p}.c")))
                        .arg("-o")
                        .arg(&out)
                        .output()
                        .map_err(|e| {
                            format!("cannot run clang-19 (needed for the C examples): {e}")
                        })
                })
                .and_then(|o| {
                    if o.status.success() {
                        Ok(out.clone())
                    } else {
                        Err(format!(
                            "clang-19 failed on {p}.c: {}",
                            aot_tests::one_line(&String::from_utf8_lossy(&o.stderr))
                        ))
                    }
                });
            ((Lang::C, p), r)
        })
        .collect()
}

/// The pthreads programs for wasm32-wasip1-threads: clang-19 compiles against wasi-libc's
/// headers (the ziglang package's copy) and links, with wasm-ld's shared-memory flags as
/// Rust's wasm32-wasip1-threads target uses them, the threads build of wasi-libc that the
/// Rust toolchain ships (crt1-command.o, libc.a) and Debian's compiler-rt builtins.
fn build_c_threads(
    workspace: &Path,
    build_dir: &Path,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let out_dir = build_dir.join("c-threads");
    let found = tools::required(
        "the C pthreads examples",
        tools::find_wasi_threads_headers(workspace),
    )
    .and_then(|h| {
        tools::required(
            "the C pthreads examples",
            tools::find_wasi_threads_libc(workspace),
        )
        .map(|libc| (h, libc))
    });
    let clang = |args: &[std::ffi::OsString], what: &str| -> Result<(), String> {
        let o = Command::new("clang-19")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run clang-19 (needed for the C examples): {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "clang-19 failed on {what}: {}",
                aot_tests::one_line(&String::from_utf8_lossy(&o.stderr))
            ))
        }
    };
    C_THREADS_PROGRAMS
        .iter()
        .map(|&p| {
            let r = found.clone().and_then(|([own, musl], libc)| {
                std::fs::create_dir_all(&out_dir)
                    .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
                let object = out_dir.join(format!("{p}.o"));
                let out = out_dir.join(format!("{p}.wasm"));
                let src = workspace.join("examples/c/threads").join(format!("{p}.c"));
                // No sysroot: Debian's (wasm32-wasi, without threads) must not be found.
                let mut compile: Vec<std::ffi::OsString> = [
                    "--target=wasm32-wasip1-threads",
                    "-pthread",
                    "-O2",
                    "-Wall",
                    "-Werror",
                    "--sysroot=/nonexistent",
                    "-isystem",
                ]
                .map(Into::into)
                .to_vec();
                compile.push(own.into());
                // After clang's own headers, whose stddef.h and stdint.h it must use.
                compile.push("-idirafter".into());
                compile.push(musl.into());
                compile.extend(["-c".into(), src.into(), "-o".into(), object.clone().into()]);
                clang(&compile, &format!("{p}.c"))?;
                let mut link: Vec<std::ffi::OsString> = [
                    "--target=wasm32-wasip1-threads",
                    "-nostdlib",
                    "-Wl,--shared-memory,--import-memory,--export-memory,--max-memory=1073741824",
                ]
                .map(Into::into)
                .to_vec();
                link.extend([
                    object.into(),
                    libc.join("crt1-command.o").into(),
                    libc.join("libc.a").into(),
                    "/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a".into(),
                    "-o".into(),
                    out.clone().into(),
                ]);
                clang(&link, &format!("linking {p}"))?;
                Ok(out)
            });
            ((Lang::CThreads, p), r)
        })
        .collect()
}

/// The composed programs: `<p>-app` with `<p>-lib` plugged in (`wasm-tools compose`), both
/// built for wasm32-wasip2 with the other Rust programs.
fn compose(
    built: &HashMap<(Lang, &'static str), Result<PathBuf, String>>,
    build_dir: &Path,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let programs: Vec<&'static str> = CASES
        .iter()
        .filter(|c| c.lang == Lang::Composed)
        .map(|c| c.program)
        .collect();
    let release = build_dir.join("wasm32-wasip2/release");
    programs
        .into_iter()
        .map(|p| {
            let r = built
                .values()
                .find_map(|r| r.as_ref().err().cloned())
                .map_or(Ok(()), Err)
                .and_then(|()| tools::required("composing components", tools::find_wasm_tools()))
                .and_then(|wasm_tools| {
                    let dir = build_dir.join("composed");
                    std::fs::create_dir_all(&dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                    // The plugged component's file name names its instance: kebab case.
                    let lib = dir.join("lib.wasm");
                    std::fs::copy(release.join(format!("{p}_lib.wasm")), &lib)
                        .map_err(|e| format!("{p}_lib.wasm was not built: {e}"))?;
                    let out = dir.join(format!("{p}.wasm"));
                    let o = Command::new(wasm_tools)
                        .arg("compose")
                        .arg(release.join(format!("{p}-app.wasm")))
                        .arg("-d")
                        .arg(&lib)
                        .arg("-o")
                        .arg(&out)
                        .output()
                        .map_err(|e| format!("cannot run wasm-tools: {e}"))?;
                    if !o.status.success() {
                        return Err(format!(
                            "wasm-tools compose failed: {}",
                            aot_tests::one_line(&String::from_utf8_lossy(&o.stderr))
                        ));
                    }
                    Ok(out)
                });
            ((Lang::Composed, p), r)
        })
        .collect()
}

/// The Python and JavaScript programs as components, built with the tools setup.sh installs
/// (componentize-py from pip; componentize-js and componentize-qjs under
/// target/toolchains/node) against a world that includes `wasi:cli/command@0.2.12`.
fn build_scripts(
    workspace: &Path,
    build_dir: &Path,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    let wit = build_dir.join("wit-command");
    let made = (|| -> Result<(), String> {
        let deps = wit.join("deps");
        std::fs::create_dir_all(&deps)
            .map_err(|e| format!("cannot create {}: {e}", deps.display()))?;
        let vendored = workspace.join("compiler/wit/wasi-0.2.12/deps");
        for entry in
            std::fs::read_dir(&vendored).map_err(|e| format!("{}: {e}", vendored.display()))?
        {
            let entry = entry.map_err(|e| e.to_string())?;
            std::fs::copy(entry.path(), deps.join(entry.file_name())).map_err(|e| e.to_string())?;
        }
        std::fs::write(
            wit.join("world.wit"),
            "package aot:examples;\n\nworld app {\n  include wasi:cli/command@0.2.12;\n}\n",
        )
        .map_err(|e| e.to_string())
    })();
    let node_bin = workspace.join("target/toolchains/node/node_modules/.bin");
    let out_dir = build_dir.join("scripts");
    let _ = std::fs::create_dir_all(&out_dir);
    let run = |mut cmd: Command, what: &str| -> Result<(), String> {
        let o = cmd
            .output()
            .map_err(|e| format!("cannot run {what}: {e} (scripts/setup.sh installs it)"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed: {}",
                aot_tests::one_line(&String::from_utf8_lossy(&o.stderr))
            ))
        }
    };
    CASES
        .iter()
        .filter(|c| {
            matches!(
                c.lang,
                Lang::Python | Lang::JavaScript | Lang::QuickJs | Lang::QuickJsDefault
            )
        })
        .map(|c| (c.lang, c.program))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|(lang, p)| {
            let out = out_dir.join(format!("{lang:?}-{p}.wasm"));
            let r = made.clone().and_then(|()| match lang {
                Lang::Python => {
                    let py = tools::find_pip_script("componentize-py")?;
                    let mut cmd = Command::new(py);
                    // No bytecode cache in the source tree.
                    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
                    cmd.arg("-d").arg(&wit).args(["-w", "app", "componentize"]);
                    cmd.arg("-p").arg(workspace.join("examples/python")).arg(p);
                    cmd.arg("-o").arg(&out);
                    run(cmd, "componentize-py")
                }
                Lang::JavaScript => {
                    let mut cmd = Command::new(node_bin.join("componentize-js"));
                    cmd.arg(workspace.join(format!("examples/js/{p}.js")));
                    cmd.arg("--wit").arg(&wit).args(["--world-name", "app"]);
                    cmd.arg("-o").arg(&out);
                    run(cmd, "componentize-js")
                }
                _ => {
                    let mut cmd = Command::new(node_bin.join("componentize-qjs"));
                    if lang == Lang::QuickJs {
                        cmd.arg("--sync");
                    }
                    cmd.arg("--wit").arg(&wit).args(["--world", "app"]);
                    cmd.arg("--js")
                        .arg(workspace.join(format!("examples/js/qjs/{p}.js")));
                    cmd.arg("-o").arg(&out);
                    run(cmd, "componentize-qjs")
                }
            });
            ((lang, p), r.map(|()| out.clone()))
        })
        .collect()
}

/// The C programs as components: each core module with the preview 1 command adapter.
fn componentize_c(
    core: &HashMap<(Lang, &'static str), Result<PathBuf, String>>,
    build_dir: &Path,
) -> HashMap<(Lang, &'static str), Result<PathBuf, String>> {
    C_PROGRAMS
        .iter()
        .map(|&p| {
            let r = core
                .get(&(Lang::C, p))
                .cloned()
                .unwrap_or_else(|| Err(format!("{p} was not built")))
                .and_then(|path| {
                    let bytes = std::fs::read(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let component = wit_component::ComponentEncoder::default()
                        .module(&bytes)
                        .and_then(|e| {
                            e.adapter(
                                "wasi_snapshot_preview1",
                                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
                            )
                        })
                        .and_then(|e| e.validate(true).encode())
                        .map_err(|e| format!("making {p} a component: {e:#}"))?;
                    let out = build_dir.join("c").join(format!("{p}.component.wasm"));
                    std::fs::write(&out, component)
                        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
                    Ok(out)
                });
            ((Lang::CP2, p), r)
        })
        .collect()
}

/// Runs one case on one runner and compares with the expected results.
fn check(setup: &Setup, c: &Case, slot: &RunnerSlot, job: usize) -> Verdict {
    let runner = match &slot.runner {
        Ok(r) => r,
        Err(why) => return Verdict::Skipped(why.clone()),
    };
    if let (Runner::Wasmtime(_), true, Err(why)) = (runner, c.is_threaded(), &setup.wasmtime46) {
        return Verdict::Skipped(why.clone());
    }
    if let (Lang::Kotlin, Err(why)) = (c.lang, &setup.kotlin) {
        return Verdict::Skipped(why.clone());
    }
    let expected = match read_expected(setup, c) {
        Ok(e) => e,
        Err(e) => return Verdict::Fail(e),
    };
    match run_case(setup, c, runner, &format!("job{job}")) {
        Ok(got) => match compare(&expected, &got) {
            None => Verdict::Ok,
            Some(diff) => Verdict::Fail(diff),
        },
        Err(e) => Verdict::Fail(e),
    }
}

/// Prepares ROOT, runs the program there and collects what is compared.
fn run_case(setup: &Setup, c: &Case, runner: &Runner, tag: &str) -> Result<Outcome, String> {
    let wasm = setup
        .wasm
        .get(&(c.lang, c.program))
        .ok_or("program not built")?
        .clone()?;
    let root = setup.scratch.join(format!("{}-{tag}", c.id()));
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    make_fixture(setup, c.fixture, &root)?;
    let data = root.join("data");
    let has_dir = !matches!(c.fixture, Fixture::None);

    let mut cmd = match runner {
        Runner::Wasmtime(wt) => {
            let mut cmd = if c.is_threaded() {
                let mut cmd = Command::new(setup.wasmtime46.as_ref().map_err(Clone::clone)?);
                cmd.arg("run").args(WASMTIME46_THREADS);
                cmd
            } else {
                let mut cmd = Command::new(wt);
                cmd.arg("run");
                cmd
            };
            if has_dir {
                cmd.arg("--dir")
                    .arg(format!("{}::{GUEST_DIR}", data.display()));
            }
            for (k, v) in c.env {
                cmd.arg("--env").arg(format!("{k}={v}"));
            }
            if c.network {
                cmd.args(["-S", "inherit-network"]);
            }
            if c.lookup {
                cmd.args(["-S", "allow-ip-name-lookup"]);
            }
            // componentize-js imports wasi:http even for a command.
            if c.http || c.lang == Lang::JavaScript {
                cmd.args(["-S", "http"]);
            }
            if c.gc {
                cmd.args(WASMTIME_GC);
            }
            cmd.arg(&wasm);
            // Its own error reports would grow a host backtrace.
            cmd.env_remove("RUST_BACKTRACE");
            cmd
        }
        Runner::Aot { arch, launcher } => {
            let config = CommandConfig {
                dirs: if has_dir {
                    vec![DirGrant {
                        host: data.display().to_string(),
                        guest: GUEST_DIR.to_string(),
                    }]
                } else {
                    Vec::new()
                },
                env: c
                    .env
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                    .collect(),
                inherit_env: false,
                inherit_network: c.network,
                allow_ip_name_lookup: c.lookup,
                ..CommandConfig::default()
            };
            let exe = executable(setup, c, &wasm, *arch, &config)?;
            match launcher {
                Launcher::Native => Command::new(exe),
                Launcher::Emulator(q) => {
                    let mut cmd = Command::new(q);
                    cmd.arg(exe);
                    cmd
                }
            }
        }
    };
    cmd.args(c.args).current_dir(&root);
    let stdin = match c.stdin {
        Stdin::Empty => Vec::new(),
        Stdin::Text(t) => t.as_bytes().to_vec(),
        Stdin::Generated(n) => generated_text(n),
    };
    let (status, stdout, stderr) = run_with_timeout(cmd, stdin, setup.timeout)?;
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let stderr = match runner {
        Runner::Wasmtime(_) if c.is_threaded() => {
            normalise_wasmtime_stderr(strip_threads_warning(&stderr))
        }
        Runner::Wasmtime(_) => normalise_wasmtime_stderr(&stderr),
        Runner::Aot { .. } => normalise_aot_stderr(&stderr),
    };
    let tree = if has_dir { Some(tree(&root)?) } else { None };
    Ok(Outcome {
        code: status,
        stdout,
        stderr,
        tree,
    })
}

/// Compiles and links `wasm` for `arch` with `config`, as `aot app.wasm -o app --dir ...
/// --env ...` does, once per distinct (program, arch, config).
fn executable(
    setup: &Setup,
    c: &Case,
    wasm: &Path,
    arch: Arch,
    config: &CommandConfig,
) -> Result<PathBuf, String> {
    let arch_name = match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    };
    let encoded = config.encode();
    let cell = {
        let mut exes = setup.exes.lock().map_err(|_| "executable cache poisoned")?;
        exes.entry((c.id(), arch_name, encoded.clone()))
            .or_default()
            .clone()
    };
    cell.get_or_init(|| {
        let n = setup.exe_counter.fetch_add(1, Ordering::SeqCst);
        let out = setup.scratch.join(format!("{}-{arch_name}-{n}", c.program));
        let file = wasm.display().to_string();
        aot_tests::panics::catch(|| -> Result<PathBuf, String> {
            let bytes = std::fs::read(wasm).map_err(|e| format!("cannot read {file}: {e}"))?;
            let target = Target::for_arch(arch);
            let opts = Options::new(target.clone());
            let objects = if aot::module::is_component(&bytes) {
                aot::compile_component(&bytes, &file, config.clone(), &opts)
            } else {
                let program = aot::CommandModule {
                    name: None,
                    file: &file,
                    wasm: &bytes,
                };
                aot::compile_command(&[program], config.clone(), &opts)
            }
            .map_err(|e| format!("aot compile: {e}"))?;
            link::link(&target, &objects, &out, None)
                .map_err(|e| format!("aot link: {}", aot_tests::one_line(&format!("{e:#}"))))?;
            Ok(out.clone())
        })
        .unwrap_or_else(|e| Err(format!("aot {e}")))
    })
    .clone()
}

/// Runs `cmd` with `stdin`; kills it after `timeout`. Returns the exit status as text (`N`,
/// or `signal N`: the form of examples/expected/), stdout and stderr.
fn run_with_timeout(
    mut cmd: Command,
    stdin: Vec<u8>,
    timeout: Duration,
) -> Result<(String, Vec<u8>, Vec<u8>), String> {
    let done = process::run_with_timeout(&mut cmd, Some(stdin), timeout)?;
    let code = match &done.end {
        End::Exited(status) => match (status.code(), status.signal()) {
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "unknown".to_string(),
        },
        End::TimedOut(t) => return Err(format!("timed out after {} s", t.as_secs())),
        End::Lost(e) => return Err(format!("waiting for the program: {e}")),
    };
    Ok((code, done.stdout, done.stderr))
}

/// Deterministic text: numbered lines of words from a fixed generator, `len` bytes.
fn generated_text(len: usize) -> Vec<u8> {
    const WORDS: [&str; 10] = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "élit",
        "sed",
        "do",
    ];
    let mut out = Vec::with_capacity(len + 64);
    let mut x: u32 = 12345;
    let mut line = 0;
    while out.len() < len {
        line += 1;
        let _ = write!(Wrapper(&mut out), "{line:06}:");
        for _ in 0..(x % 9 + 1) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.push(b' ');
            out.extend_from_slice(WORDS[(x >> 16) as usize % WORDS.len()].as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

/// fmt::Write into a byte vector.
struct Wrapper<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Wrapper<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn make_fixture(setup: &Setup, fixture: Fixture, root: &Path) -> Result<(), String> {
    let data = root.join("data");
    let io = |what: &str, r: std::io::Result<()>| r.map_err(|e| format!("fixture: {what}: {e}"));
    match fixture {
        Fixture::None => Ok(()),
        Fixture::EmptyDir => io("mkdir data", std::fs::create_dir(&data)),
        Fixture::Copy(name) => {
            copy_tree(&setup.workspace.join("examples/fixtures").join(name), &data)
        }
        Fixture::Sandbox => {
            io("mkdir data/sub", std::fs::create_dir_all(data.join("sub")))?;
            io(
                "secret.txt",
                std::fs::write(root.join("secret.txt"), "the secret outside the preopen\n"),
            )?;
            io(
                "inside.txt",
                std::fs::write(data.join("inside.txt"), "inside\n"),
            )?;
            io("symlink up", symlink("../secret.txt", data.join("up")))?;
            io(
                "symlink abs",
                symlink(root.join("secret.txt"), data.join("abs")),
            )
        }
    }
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("fixture: mkdir {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("fixture: {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("fixture: {}: {e}", from.display()))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)
                .map_err(|e| format!("fixture: copy {}: {e}", src.display()))?;
        }
    }
    Ok(())
}

/// Every entry under `root`, sorted: `dir P`, `file P SIZE fnv1a64=H`, `link P -> TARGET`
/// (ROOT in a target written as `$ROOT`).
fn tree(root: &Path) -> Result<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("tree: {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("tree: {}: {e}", dir.display()))?
                .path();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|e| format!("tree: {}: {e}", path.display()))?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)
                    .map_err(|e| format!("tree: {}: {e}", path.display()))?;
                let target = target
                    .display()
                    .to_string()
                    .replace(&root.display().to_string(), "$ROOT");
                out.push(format!("link {rel} -> {target}"));
            } else if meta.is_dir() {
                out.push(format!("dir {rel}"));
                walk(root, &path, out)?;
            } else {
                let bytes =
                    std::fs::read(&path).map_err(|e| format!("tree: {}: {e}", path.display()))?;
                out.push(format!(
                    "file {rel} {} fnv1a64={:016x}",
                    bytes.len(),
                    fnv1a64(&bytes)
                ));
            }
        }
        Ok(())
    }
    let mut lines = Vec::new();
    walk(root, root, &mut lines)?;
    lines.sort();
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn digest(bytes: &[u8]) -> String {
    format!("bytes={} fnv1a64={:016x}\n", bytes.len(), fnv1a64(bytes))
}

/// How wasmtime 46 runs a wasi-threads program: threads and shared memories in the
/// engine, `wasi::thread-spawn` in the host.
const WASMTIME46_THREADS: &[&str] = &[
    "-W",
    "threads=y",
    "-W",
    "shared-memory=y",
    "-S",
    "threads=y",
];

/// wasmtime 46's stderr without the deprecation warning `-S threads` prints first (a line,
/// then one of spaces).
fn strip_threads_warning(s: &str) -> &str {
    let Some(rest) = s.strip_prefix("WARNING: the `-Sthreads` flag") else {
        return s;
    };
    let mut rest = rest.split_once('\n').map_or("", |(_, r)| r);
    if let Some((line, after)) = rest.split_once('\n')
        && line.trim().is_empty()
    {
        rest = after;
    }
    rest
}

/// Guest stderr, then `wasm trap: MSG` if wasmtime reported a trap. The report starts with
/// `Error: failed to run main module`, or, for a trap in a thread that
/// `wasi::thread-spawn` started (wasmtime 46), directly with `Error: error while
/// executing at wasm backtrace:`.
fn normalise_wasmtime_stderr(s: &str) -> String {
    let at_line_start = |needle: &str| {
        s.match_indices(needle)
            .map(|(i, _)| i)
            .find(|&i| i == 0 || s.as_bytes()[i - 1] == b'\n')
    };
    let Some(at) = at_line_start("Error: failed to run main module")
        .or_else(|| at_line_start("Error: error while executing at wasm backtrace:"))
    else {
        return s.to_string();
    };
    let (guest, report) = s.split_at(at);
    match report
        .lines()
        .find_map(|l| l.split_once("wasm trap: ").map(|(_, m)| m.trim()))
    {
        Some(msg) => format!("{guest}wasm trap: {msg}\n"),
        None => match call_error(report) {
            Some(msg) => format!("{guest}error: {msg}\n"),
            None => s.to_string(),
        },
    }
}

/// The error a host function raised during the call (a broken canonical ABI rule, such as
/// `resource has children`): the last cause of a report that says Wasm was executing.
fn call_error(report: &str) -> Option<&str> {
    if !report.contains("error while executing at wasm backtrace:") {
        return None;
    }
    let chain = report.split("\nStack backtrace:").next()?;
    let last = chain.lines().rev().find(|l| !l.trim().is_empty())?;
    let (n, msg) = last.trim().split_once(": ")?;
    n.parse::<u32>().ok().map(|_| msg)
}

/// Guest stderr, then `wasm trap: MSG` (or, for an error a host function raised,
/// `error: MSG`) without the backtrace that follows it. Anything after that line that is
/// not the backtrace is kept, so it shows up as a difference.
fn normalise_aot_stderr(s: &str) -> String {
    let line_start = |prefix: &str| {
        if s.starts_with(prefix) {
            Some(0)
        } else {
            s.find(&format!("\n{prefix}")).map(|i| i + 1)
        }
    };
    let at = line_start("wasm trap: ").or_else(|| {
        line_start("error: ").filter(|&i| s[i..].lines().nth(1) == Some("wasm backtrace:"))
    });
    let Some(at) = at else { return s.to_string() };
    let (guest, report) = s.split_at(at);
    let mut lines = report.lines();
    let trap = lines.next().unwrap_or_default();
    let rest: Vec<&str> = lines.collect();
    let is_backtrace = rest.first().is_some_and(|l| *l == "wasm backtrace:")
        && rest[1..].iter().all(|l| {
            let t = l.trim_start();
            l.len() > t.len()
                && t.split_once(": ")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        });
    if rest.is_empty() || is_backtrace {
        format!("{guest}{trap}\n")
    } else {
        s.to_string()
    }
}

fn expected_dir(setup: &Setup, c: &Case) -> PathBuf {
    match c.prefix() {
        None | Some("threads") => setup.workspace.join("examples/expected").join(c.program),
        Some("kt") => setup
            .workspace
            .join("examples/expected")
            .join(format!("kt-{}", c.program)),
        Some("p2") => setup.workspace.join("examples/expected-p2").join(c.program),
        Some(prefix) => setup
            .workspace
            .join("examples/expected-p2")
            .join(format!("{prefix}-{}", c.program)),
    }
}

fn read_expected(setup: &Setup, c: &Case) -> Result<Outcome, String> {
    let dir = expected_dir(setup, c);
    let read = |ext: &str| std::fs::read(dir.join(format!("{}.{ext}", c.name)));
    let missing = |ext: &str, e: std::io::Error| {
        format!(
            "no expected {ext} ({}/{}.{ext}: {e}; AOT_EXAMPLES_BLESS=1 writes it from wasmtime)",
            dir.display(),
            c.name
        )
    };
    let text = |ext: &str| -> Result<String, String> {
        read(ext)
            .map_err(|e| missing(ext, e))
            .and_then(|b| String::from_utf8(b).map_err(|_| format!("expected {ext} is not UTF-8")))
    };
    let stdout = match read("stdout") {
        Ok(b) => b,
        Err(_) => text("stdout-digest")?.into_bytes(),
    };
    Ok(Outcome {
        code: text("code")?.trim().to_string(),
        stdout,
        stderr: text("stderr")?,
        tree: if matches!(c.fixture, Fixture::None) {
            None
        } else {
            Some(text("tree")?)
        },
    })
}

fn write_expected(setup: &Setup, c: &Case, o: &Outcome) -> Result<(), String> {
    let dir = expected_dir(setup, c);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |ext: &str, bytes: &[u8]| {
        let p = dir.join(format!("{}.{ext}", c.name));
        std::fs::write(&p, bytes).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    let remove = |ext: &str| {
        let _ = std::fs::remove_file(dir.join(format!("{}.{ext}", c.name)));
    };
    if o.stdout.len() > MAX_STORED_STDOUT {
        remove("stdout");
        write("stdout-digest", digest(&o.stdout).as_bytes())?;
    } else {
        remove("stdout-digest");
        write("stdout", &o.stdout)?;
    }
    write("stderr", o.stderr.as_bytes())?;
    write("code", format!("{}\n", o.code).as_bytes())?;
    match &o.tree {
        Some(t) => write("tree", t.as_bytes()),
        None => {
            remove("tree");
            Ok(())
        }
    }
}

/// The first difference, described on one line; None if all agree.
fn compare(expected: &Outcome, got: &Outcome) -> Option<String> {
    let mut diffs = Vec::new();
    if expected.code != got.code {
        diffs.push(format!(
            "exit status {} (expected {})",
            got.code, expected.code
        ));
    }
    let expected_is_digest =
        expected.stdout.starts_with(b"bytes=") && got.stdout.len() > MAX_STORED_STDOUT;
    if expected_is_digest {
        let d = digest(&got.stdout);
        if d.as_bytes() != expected.stdout.as_slice() {
            diffs.push(format!(
                "stdout {} (expected {})",
                d.trim(),
                String::from_utf8_lossy(&expected.stdout).trim()
            ));
        }
    } else if let Some(d) = first_difference(&expected.stdout, &got.stdout) {
        diffs.push(format!("stdout {d}"));
    }
    if let Some(d) = first_difference(expected.stderr.as_bytes(), got.stderr.as_bytes()) {
        diffs.push(format!("stderr {d}"));
    }
    if let (Some(e), Some(g)) = (&expected.tree, &got.tree)
        && let Some(d) = first_difference(e.as_bytes(), g.as_bytes())
    {
        diffs.push(format!("files {d}"));
    }
    if diffs.is_empty() {
        None
    } else {
        Some(diffs.join("; "))
    }
}

/// `line N: expected "...", got "..."`, or None when equal.
fn first_difference(expected: &[u8], got: &[u8]) -> Option<String> {
    if expected == got {
        return None;
    }
    let e = String::from_utf8_lossy(expected);
    let g = String::from_utf8_lossy(got);
    let (el, gl): (Vec<&str>, Vec<&str>) = (
        e.split_inclusive('\n').collect(),
        g.split_inclusive('\n').collect(),
    );
    let i = el.iter().zip(&gl).take_while(|(a, b)| a == b).count();
    let show = |l: Option<&&str>| match l {
        Some(l) => format!("{:?}", cut(l)),
        None => "end of output".to_string(),
    };
    Some(format!(
        "line {}: expected {}, got {}",
        i + 1,
        show(el.get(i)),
        show(gl.get(i))
    ))
}

fn cut(s: &str) -> String {
    const MAX: usize = 160;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
