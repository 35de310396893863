//! Runs the spec suite: for each target and `.wast` file, compiles the modules with `aot`,
//! links one spec-script executable, runs it (natively or under qemu) and reports.
//!
//! This is the only part of the harness that calls the compiler. Files are processed by
//! a small pool of worker threads (the machines have 2 cores); per-file lines are printed
//! in a fixed order as soon as they are known, so runs can be compared line by line.
//! Nothing here may end the suite early on bad input: a compiler panic, a failed link or a
//! crashed executable is a failure of the cases involved.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aot::Target;
use aot::target::Arch;
use aot_abi::ProgramKind;

use crate::convert::{Converted, Outcome, convert};
use crate::known::{CaseKey, CaseResult, KnownFailures, Verdict};
use crate::process::{Finished, run_with_timeout};
use crate::results::{apply, fail_runtime_cases, parse_output};
use crate::suite::{DIRS, SpecDir, SpecFile, files_of, select};
use crate::{one_line, panics};

/// How many failures of each kind are listed before "... and N more".
const LIST_LIMIT: usize = 100;

/// How the executables of a target are started.
#[derive(Clone, Debug)]
enum Launcher {
    Native,
    Emulator(PathBuf),
}

#[derive(Clone, Debug)]
struct TargetRun {
    /// `x86_64` or `aarch64`: the name in reports and the known-failures list.
    name: &'static str,
    target: Target,
    /// Err = the target is skipped, with the reason.
    launcher: Result<Launcher, String>,
}

#[derive(Debug)]
struct Config {
    targets: Vec<TargetRun>,
    /// The directories to run (`AOT_SPEC_DIRS`, `--dir`); all of [`DIRS`] by default.
    dirs: Vec<SpecDir>,
    filters: Vec<String>,
    skips: Vec<String>,
    bless: bool,
    list: bool,
    ignored_only: bool,
    verbose: bool,
    keep: bool,
    jobs: usize,
    timeout: Duration,
    known_path: PathBuf,
    /// How memories are protected in the compiled modules (`AOT_SPEC_BOUNDS=explicit` runs
    /// the suite with explicit bounds checks instead of guard pages).
    bounds: aot::BoundsMode,
    /// The CPU the code is compiled for (`AOT_SPEC_CPU=x86-64-v3` runs the AVX lowerings;
    /// the default is each target's baseline).
    cpu: aot::target::Cpu,
    /// Compile one module per script with its memory 0 at the fixed base, as `aot` compiles
    /// programs that allow it (see [`fix_one_memory0`]); on unless `AOT_SPEC_FIXED_BASE=0`.
    fixed_base: bool,
    /// Which loops to unroll (`AOT_SPEC_UNROLL=every` unrolls every eligible loop, to test
    /// the translation of the copies; the default is `aot`'s choice).
    unroll: aot::Unroll,
}

/// What one (target, file) job produced.
#[derive(Debug, Default)]
struct FileReport {
    target: &'static str,
    dir: &'static str,
    /// Its path, `<dir>/<name>.wast`.
    file: String,
    conv: Converted,
    /// Protocol problems that are not tied to one case.
    errors: Vec<String>,
    compiles: usize,
    compile_time: Duration,
    link_time: Duration,
    run_time: Duration,
}

fn arch_name(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
    }
}

fn parse_target(s: &str) -> Result<Arch, String> {
    match s {
        "x86_64" => Ok(Arch::X86_64),
        "aarch64" => Ok(Arch::Aarch64),
        triple => triple
            .parse::<Target>()
            .map(|t| t.arch)
            .map_err(|e| format!("{e}; or write x86_64 or aarch64")),
    }
}

fn target_run(arch: Arch) -> TargetRun {
    let target = Target::for_arch(arch);
    let name = arch_name(arch);
    let launcher = if target.is_host() {
        Ok(Launcher::Native)
    } else {
        crate::tools::required(
            &format!("the spec suite on {name}"),
            crate::tools::find_qemu(name),
        )
        .map(Launcher::Emulator)
    };
    TargetRun {
        name,
        target,
        launcher,
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn parse_dir(name: &str) -> Result<SpecDir, String> {
    SpecDir::named(name.trim()).ok_or_else(|| {
        let all: Vec<&str> = DIRS.iter().map(|d| d.name).collect();
        format!("no spec directory `{name}`; there are {}", all.join(", "))
    })
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut arches: Vec<Arch> = Vec::new();
    let mut dirs: Vec<SpecDir> = Vec::new();
    if let Ok(list) = std::env::var("AOT_SPEC_DIRS") {
        for d in list.split(',').filter(|d| !d.trim().is_empty()) {
            dirs.push(parse_dir(d).map_err(|e| format!("AOT_SPEC_DIRS: {e}"))?);
        }
    }
    if let Ok(list) = std::env::var("AOT_SPEC_TARGET") {
        for t in list.split(',').filter(|t| !t.trim().is_empty()) {
            arches.push(parse_target(t.trim()).map_err(|e| format!("AOT_SPEC_TARGET: {e}"))?);
        }
    }
    let timeout_secs = match std::env::var("AOT_SPEC_TIMEOUT") {
        Ok(s) => s.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!(
            "AOT_SPEC_TIMEOUT: not a positive number of seconds: `{s}`"
        ))?,
        Err(_) => 60,
    };
    let jobs = match std::env::var("AOT_SPEC_JOBS") {
        Ok(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(format!("AOT_SPEC_JOBS: not a positive number: `{s}`"))?,
        Err(_) => 2,
    };
    let bounds = match std::env::var("AOT_SPEC_BOUNDS").as_deref() {
        Err(_) | Ok("") | Ok("guard") => aot::BoundsMode::GuardPages,
        Ok("explicit") => aot::BoundsMode::Explicit,
        Ok(other) => {
            return Err(format!(
                "AOT_SPEC_BOUNDS: `{other}` is neither `guard` nor `explicit`"
            ));
        }
    };
    let cpu = match std::env::var("AOT_SPEC_CPU") {
        Err(_) => aot::target::Cpu::Default,
        Ok(s) => s.parse().map_err(|e| format!("AOT_SPEC_CPU: {e}"))?,
    };
    let unroll = match std::env::var("AOT_SPEC_UNROLL").as_deref() {
        Err(_) | Ok("") | Ok("chosen") => aot::Unroll::Chosen,
        Ok("every") => aot::Unroll::Every,
        Ok("off") => aot::Unroll::Off,
        Ok(other) => {
            return Err(format!(
                "AOT_SPEC_UNROLL: `{other}` is none of `chosen`, `every`, `off`"
            ));
        }
    };
    let mut cfg = Config {
        bounds,
        cpu,
        unroll,
        fixed_base: std::env::var("AOT_SPEC_FIXED_BASE").map_or(true, |v| v != "0"),
        targets: Vec::new(),
        dirs: Vec::new(),
        filters: Vec::new(),
        skips: Vec::new(),
        bless: env_flag("AOT_SPEC_BLESS"),
        list: false,
        ignored_only: false,
        verbose: env_flag("AOT_SPEC_VERBOSE"),
        keep: env_flag("AOT_SPEC_KEEP"),
        jobs,
        timeout: Duration::from_secs(timeout_secs),
        known_path: Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/known-failures.txt"),
    };
    let mut cli_arches = Vec::new();
    let mut cli_dirs = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{what} needs a value"))
        };
        match flag {
            "--target" => cli_arches.push(parse_target(&value("--target")?)?),
            "--dir" => cli_dirs.push(parse_dir(&value("--dir")?)?),
            "--bless" => cfg.bless = true,
            "--list" => cfg.list = true,
            // The suite is not an ignored test, so a run of only the ignored tests skips it.
            "--ignored" => cfg.ignored_only = true,
            "--verbose" | "-v" => cfg.verbose = true,
            "--skip" => cfg.skips.push(value("--skip")?),
            // libtest options that `cargo test -- ...` passes to every test binary.
            "--nocapture" | "--show-output" | "--quiet" | "-q" | "--exact"
            | "--include-ignored" => {}
            "--test-threads" | "--color" | "--format" | "--logfile" | "-Z" => {
                value(flag)?;
            }
            f if f.starts_with('-') => eprintln!("spec: ignoring unknown option `{arg}`"),
            filter => cfg.filters.push(filter.to_string()),
        }
    }
    // The command line wins over the environment.
    if !cli_arches.is_empty() {
        arches = cli_arches;
    }
    if !cli_dirs.is_empty() {
        dirs = cli_dirs;
    }
    for d in dirs {
        if !cfg.dirs.iter().any(|e: &SpecDir| e.name == d.name) {
            cfg.dirs.push(d);
        }
    }
    if arches.is_empty() {
        arches = vec![Arch::X86_64, Arch::Aarch64];
    }
    let mut unique = Vec::new();
    for a in arches {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    cfg.targets = unique.into_iter().map(target_run).collect();
    Ok(cfg)
}

/// Entry point of `tests/tests/spec.rs`; `args` excludes the program name.
pub fn main(args: Vec<String>) -> ExitCode {
    let cfg = match parse_args(&args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    let all = files_of(&cfg.dirs);
    let files: Vec<&SpecFile> = select(&all, &cfg.filters)
        .into_iter()
        .filter(|f| !cfg.skips.iter().any(|s| f.path().contains(s.as_str())))
        .collect();
    if cfg.ignored_only {
        println!("spec: not an ignored test, nothing to run");
        return ExitCode::SUCCESS;
    }
    if cfg.list {
        for f in &files {
            println!("{}: test", f.path());
        }
        return ExitCode::SUCCESS;
    }
    let known = match std::fs::read_to_string(&cfg.known_path) {
        Ok(text) => KnownFailures::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KnownFailures::default()),
        Err(e) => Err(format!("cannot read {}: {e}", cfg.known_path.display())),
    };
    let mut known = match known {
        Ok(k) => k,
        Err(e) => {
            eprintln!("spec: {e}");
            return ExitCode::FAILURE;
        }
    };
    run(&cfg, &files, all.len(), &mut known)
}

fn run(cfg: &Config, files: &[&SpecFile], num_all: usize, known: &mut KnownFailures) -> ExitCode {
    let started = Instant::now();
    let runnable: Vec<&TargetRun> = cfg.targets.iter().filter(|t| t.launcher.is_ok()).collect();
    let describe: Vec<String> = cfg
        .targets
        .iter()
        .map(|t| match &t.launcher {
            Ok(Launcher::Native) => format!("{} (native)", t.name),
            Ok(Launcher::Emulator(p)) => format!("{} ({})", t.name, p.display()),
            Err(_) => format!("{} (skipped)", t.name),
        })
        .collect();
    let dirs: Vec<&str> = if cfg.dirs.is_empty() { DIRS } else { &cfg.dirs }
        .iter()
        .map(|d| d.name)
        .collect();
    println!(
        "spec: {}; {} of {num_all} files, targets {}, memories {}{}, cpu {:?}, loops unrolled: {:?}, {} workers, {} s timeout per executable",
        dirs.join(", "),
        files.len(),
        describe.join(", "),
        match cfg.bounds {
            aot::BoundsMode::GuardPages => "guard pages",
            aot::BoundsMode::Explicit => "explicit bounds checks",
        },
        if cfg.fixed_base {
            " (one module's memory 0 per script at the fixed base)"
        } else {
            ""
        },
        cfg.cpu,
        cfg.unroll,
        cfg.jobs,
        cfg.timeout.as_secs()
    );

    let jobs: Vec<(&TargetRun, &SpecFile)> = runnable
        .iter()
        .flat_map(|t| files.iter().map(move |f| (*t, *f)))
        .collect();
    let reports = run_jobs(cfg, &jobs, known);

    // Results, per target.
    let mut results = Vec::new();
    let mut ran = BTreeSet::new();
    for r in &reports {
        ran.insert((r.target.to_string(), r.file.clone()));
        for case in &r.conv.cases {
            let failure = match &case.outcome {
                Outcome::Pass => None,
                Outcome::Fail(why) => Some(why.clone()),
                Outcome::Runtime => Some("harness bug: the case was never decided".to_string()),
            };
            results.push(CaseResult {
                key: CaseKey {
                    target: r.target.to_string(),
                    file: r.file.clone(),
                    id: case.id,
                },
                failure,
                rejected: case.rejected,
            });
        }
    }
    if cfg.bless {
        known.bless(&results, &ran);
        match std::fs::write(&cfg.known_path, known.render()) {
            Ok(()) => println!(
                "blessed {}: {} entries",
                cfg.known_path.display(),
                known.len()
            ),
            Err(e) => {
                eprintln!("spec: cannot write {}: {e}", cfg.known_path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let verdict = known.verdict(&results, &ran);
    let harness_errors: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.errors
                .iter()
                .map(move |e| format!("{} {}: {e}", r.target, r.file))
        })
        .collect();

    print_totals(cfg, &reports, &results, known);
    print_problems(cfg, &verdict, &harness_errors);

    let compiles: usize = reports.iter().map(|r| r.compiles).sum();
    let sum =
        |f: fn(&FileReport) -> Duration| reports.iter().map(f).sum::<Duration>().as_secs_f64();
    println!(
        "time: compile {:.1} s ({compiles} compile_module calls), link {:.1} s, run {:.1} s, summed over workers; wall {:.1} s",
        sum(|r| r.compile_time),
        sum(|r| r.link_time),
        sum(|r| r.run_time),
        started.elapsed().as_secs_f64()
    );
    let passed = results.iter().filter(|r| r.failure.is_none()).count();
    let failed = verdict.problems() + harness_errors.len();
    println!("spec: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs every job on `cfg.jobs` threads; prints each file's line in job order.
fn run_jobs(
    cfg: &Config,
    jobs: &[(&TargetRun, &SpecFile)],
    known: &KnownFailures,
) -> Vec<FileReport> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, FileReport)>();
    let mut slots: Vec<Option<FileReport>> = jobs.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        for _ in 0..cfg.jobs.min(jobs.len()) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((target, file)) = jobs.get(i) else {
                        break;
                    };
                    let report = run_file(cfg, target, file);
                    if tx.send((i, report)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut printed = 0;
        for (i, report) in rx {
            slots[i] = Some(report);
            while let Some(Some(r)) = slots.get(printed) {
                print_file_line(r, known);
                printed += 1;
            }
        }
    });
    slots.into_iter().flatten().collect()
}

/// Counts of one file, or of several added up.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    files: usize,
    passed: usize,
    /// Failures not on the list.
    failed: usize,
    /// Failures on the list (their own entry or their script's).
    listed: usize,
    /// Cases listed on their own that pass.
    fixed: usize,
    /// Files listed as a whole.
    listed_scripts: usize,
    time: Duration,
}

impl Counts {
    fn of(r: &FileReport, known: &KnownFailures) -> Counts {
        let mut c = Counts {
            files: 1,
            listed_scripts: usize::from(known.lists_script(r.target, &r.file)),
            time: r.compile_time + r.link_time + r.run_time,
            ..Counts::default()
        };
        for case in &r.conv.cases {
            let key = CaseKey {
                target: r.target.to_string(),
                file: r.file.clone(),
                id: case.id,
            };
            match (case.outcome == Outcome::Pass, known.accepts(&key)) {
                (true, listed) => {
                    c.passed += 1;
                    c.fixed += usize::from(listed && known.contains(&key));
                }
                (false, false) => c.failed += 1,
                (false, true) => c.listed += 1,
            }
        }
        c
    }

    fn add(&mut self, o: &Counts) {
        self.files += o.files;
        self.passed += o.passed;
        self.failed += o.failed;
        self.listed += o.listed;
        self.fixed += o.fixed;
        self.listed_scripts += o.listed_scripts;
        self.time += o.time;
    }

    fn assertions(&self) -> usize {
        self.passed + self.failed + self.listed
    }
}

/// One line per file: passed, failed (not on the list), known-failing.
fn print_file_line(r: &FileReport, known: &KnownFailures) {
    let c = Counts::of(r, known);
    let mut notes = String::new();
    if c.listed_scripts > 0 {
        notes.push_str("  (listed as a whole script)");
    }
    if c.fixed > 0 {
        notes.push_str(&format!("  ({} listed cases pass now)", c.fixed));
    }
    if !r.errors.is_empty() {
        notes.push_str(&format!("  ({} harness errors)", r.errors.len()));
    }
    println!(
        "{:<8} {:<46} passed {:>5}  failed {:>5}  known-failing {:>5}{notes}",
        r.target, r.file, c.passed, c.failed, c.listed
    );
}

fn print_totals(
    cfg: &Config,
    reports: &[FileReport],
    results: &[CaseResult],
    known: &KnownFailures,
) {
    println!();
    for t in &cfg.targets {
        if let Err(why) = &t.launcher {
            println!("{}: skipped: {why}", t.name);
            continue;
        }
        let mut total = Counts::default();
        let mut per_dir: Vec<(&str, Counts)> = Vec::new();
        for r in reports.iter().filter(|r| r.target == t.name) {
            let c = Counts::of(r, known);
            total.add(&c);
            match per_dir.iter_mut().find(|(d, _)| *d == r.dir) {
                Some((_, sum)) => sum.add(&c),
                None => per_dir.push((r.dir, c)),
            }
        }
        let line = |what: &str, c: &Counts| {
            println!(
                "{what}: {} files, {} assertions: {} passed, {} failed ({} known, {} unexpected){}; {:.1} s",
                c.files,
                c.assertions(),
                c.passed,
                c.failed + c.listed,
                c.listed,
                c.failed,
                if c.listed_scripts > 0 {
                    format!(", {} scripts listed whole", c.listed_scripts)
                } else {
                    String::new()
                },
                c.time.as_secs_f64()
            )
        };
        line(t.name, &total);
        for (dir, c) in &per_dir {
            line(&format!("  {:<8} {dir:<20}", t.name), c);
        }
    }
    // Every case of the run was counted once above.
    debug_assert_eq!(
        results.len(),
        reports.iter().map(|r| r.conv.cases.len()).sum::<usize>()
    );
}

fn print_problems(cfg: &Config, v: &Verdict, harness_errors: &[String]) {
    let limit = if cfg.verbose { usize::MAX } else { LIST_LIMIT };
    let section = |title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        println!();
        println!("{title} ({}):", items.len());
        for item in items.iter().take(limit) {
            println!("  {item}");
        }
        if items.len() > limit {
            println!(
                "  ... and {} more (AOT_SPEC_VERBOSE=1 lists all)",
                items.len() - limit
            );
        }
    };
    section(
        "FAILURES not in tests/spec/known-failures.txt",
        v.unexpected
            .iter()
            .map(|(k, why)| format!("{k}: {why}"))
            .collect(),
    );
    section(
        "PASSING NOW but listed in tests/spec/known-failures.txt (remove them, or run with AOT_SPEC_BLESS=1)",
        v.now_passing.iter().map(|k| k.to_string()).collect(),
    );
    section(
        "LISTED in tests/spec/known-failures.txt but no such command (remove them)",
        v.stale.iter().map(|k| k.to_string()).collect(),
    );
    section(
        "COMPILING NOW but listed as a whole script in tests/spec/known-failures.txt (list its failures case by case: AOT_SPEC_BLESS=1)",
        v.scripts_compiling
            .iter()
            .map(|(t, f)| format!("{t} {f}"))
            .collect(),
    );
    section("HARNESS ERRORS", harness_errors.to_vec());
}

fn run_file(cfg: &Config, t: &TargetRun, file: &SpecFile) -> FileReport {
    let mut report = FileReport {
        target: t.name,
        dir: file.dir,
        file: file.path(),
        ..FileReport::default()
    };
    let mut opts = aot::Options::new(t.target.clone());
    opts.bounds = cfg.bounds;
    opts.cpu = cfg.cpu;
    opts.unroll = cfg.unroll;
    opts.features = file.features();
    // Spec modules import from each other; the runtime links them when instantiating.
    opts.allow_unknown_imports = true;
    let (mut compiles, mut compile_time) = (0, Duration::ZERO);
    // Each module's binary by module number, for `fix_one_memory0`.
    let mut wasms: Vec<Vec<u8>> = Vec::new();
    report.conv = convert(
        &file.path(),
        file.text,
        |wasm: &[u8], name: &str, index: usize| {
            if cfg.fixed_base {
                if wasms.len() <= index {
                    wasms.resize(index + 1, Vec::new());
                }
                // A module the script expects rejected may have taken this number first.
                wasms[index] = wasm.to_vec();
            }
            let start = Instant::now();
            let result = aot::compile_module(wasm, name, index, &opts).map_err(|e| e.to_string());
            compile_time += start.elapsed();
            compiles += 1;
            result
        },
    );
    if cfg.fixed_base {
        let start = Instant::now();
        compiles += fix_one_memory0(&mut report.conv, &wasms, &opts, &file.path());
        compile_time += start.elapsed();
    }
    report.compiles = compiles;
    report.compile_time = compile_time;
    if report.conv.script.commands.is_empty() {
        return report;
    }
    // The spec suite's `spectest` host module is a Wasm module over the test host, compiled
    // beside the script's modules; the driver instantiates it first.
    let index = report.conv.objects.len();
    let spectest = wat::parse_str(aot_abi::host::SPECTEST_WAT)
        .map_err(|e| e.to_string())
        .and_then(|wasm| {
            let mut opts = opts.clone();
            opts.test_host = true;
            // Its second memory (`shared_memory`) needs multi-memory and threads, which
            // some scripts' own feature sets leave out.
            opts.features = aot::module::features();
            aot::compile_module(&wasm, "<spectest>", index, &opts).map_err(|e| e.to_string())
        });
    match spectest {
        Ok(object) => {
            report.conv.objects.push(object);
            report.conv.script.spectest = Some(index as u32);
        }
        Err(why) => {
            fail_runtime_cases(&mut report.conv, &format!("spectest module: {why}"));
            return report;
        }
    }
    match build_and_run(cfg, t, file, &mut report) {
        Ok((stdout, no_result)) => {
            let output = parse_output(&stdout);
            report.errors = apply(&mut report.conv, &output, &no_result);
        }
        Err(why) => fail_runtime_cases(&mut report.conv, &why),
    }
    report
}

/// Compiles again, with its memory 0 at the fixed base (`aot_abi::fixed_memory0_base`), the
/// first module of the script that defines its memory 0 as a guarded memory and that the
/// script instantiates once: `aot` compiles a program that allows it so, and the address
/// can hold one memory per process (the other modules, and the `spectest` memory, stay
/// where the kernel puts them). Returns the number of compiles (0 or 1).
fn fix_one_memory0(
    conv: &mut Converted,
    wasms: &[Vec<u8>],
    opts: &aot::Options,
    file: &str,
) -> usize {
    use aot_abi::script::Command as C;
    let mut instantiations = vec![0u32; conv.objects.len()];
    for (_, command) in &conv.script.commands {
        if let C::Module { module, .. }
        | C::AssertUninstantiable { module, .. }
        | C::AssertUnlinkable { module, .. } = command
            && let Some(n) = instantiations.get_mut(*module as usize)
        {
            *n += 1;
        }
    }
    let name = format!("{file} (fixed memory 0)");
    let chosen = (0..conv.objects.len()).find(|&i| {
        instantiations[i] == 1
            && wasms.get(i).is_some_and(|wasm| {
                aot::module::parse(wasm, &name, opts).is_ok_and(|info| {
                    info.num_imported_memories == 0
                        && info
                            .memories
                            .first()
                            .is_some_and(|t| opts.bounds.guarded(t))
                })
            })
    });
    let Some(i) = chosen else {
        return 0;
    };
    let fixed = aot::Options {
        memory0_fixed: true,
        ..opts.clone()
    };
    // A module that compiled once compiles again; should it not, it keeps its first object.
    if let Ok(Ok(object)) = panics::catch(|| aot::compile_module(&wasms[i], &name, i, &fixed)) {
        conv.objects[i] = object;
    }
    1
}

/// Emits the program object, links the executable and runs it. Returns its stdout and the
/// reason for commands without a result line.
fn build_and_run(
    cfg: &Config,
    t: &TargetRun,
    file: &SpecFile,
    report: &mut FileReport,
) -> Result<(String, String), String> {
    let start = Instant::now();
    let config = report.conv.script.encode();
    let num_modules = report.conv.objects.len();
    let program = panics::catch(|| {
        aot::program::emit_program(&t.target, ProgramKind::SpecScript, num_modules, 0, &config)
    })?
    .map_err(|e| {
        format!(
            "cannot emit the program object: {}",
            one_line(&e.to_string())
        )
    })?;
    let dir = tempfile::Builder::new()
        .prefix(&format!(
            "aot-spec-{}-{}-{}-",
            t.name,
            file.dir,
            file.stem()
        ))
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let exe = dir.path().join(file.stem());
    let mut objects = Vec::with_capacity(num_modules + 1);
    objects.push(program);
    objects.append(&mut report.conv.objects);
    let linked = panics::catch(|| aot::link::link(&t.target, &objects, &exe, None));
    report.link_time = start.elapsed();
    linked?.map_err(|e| format!("link failed: {}", one_line(&format!("{e:#}"))))?;
    drop(objects);

    let start = Instant::now();
    let mut command = match t.launcher.as_ref() {
        Ok(Launcher::Native) => Command::new(&exe),
        Ok(Launcher::Emulator(qemu)) => {
            let mut c = Command::new(qemu);
            c.arg(&exe);
            c
        }
        Err(why) => return Err(why.clone()),
    };
    let run = run_with_timeout(&mut command, None, cfg.timeout).map(Finished::into_text);
    report.run_time = start.elapsed();
    if cfg.keep {
        let kept = dir.keep();
        eprintln!("spec: kept {}", kept.join(file.stem()).display());
    }
    let (stdout, stderr, status) = run?;
    let tail = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| format!("; stderr: {}", one_line(l)));
    Ok((
        stdout,
        format!("no result ({status}{})", tail.unwrap_or_default()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases that must fail do fail through the real pipeline (compile, link, run), so a
    /// runtime or harness that reports `ok` for everything cannot pass the suite.
    #[test]
    fn wrong_expectations_fail_end_to_end() {
        const SCRIPT: &str = r#"(module
  (func (export "one") (result i32) (i32.const 1))
  (func (export "trap") unreachable))
(assert_return (invoke "one") (i32.const 2))
(assert_return (invoke "one") (i32.const 1))
(assert_trap (invoke "one") "unreachable")
(assert_trap (invoke "trap") "unreachable")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_invalid (module (func (result i32) (i32.const 0))) "accepted")
(invoke "missing")
(assert_return (invoke "trap"))
"#;
        let cfg = parse_args(&[
            "--target".to_string(),
            arch_name(Target::host().arch).to_string(),
        ])
        .unwrap();
        let file = SpecFile {
            dir: "self-test",
            name: "harness-self-test.wast".to_string(),
            text: SCRIPT,
        };
        let report = run_file(&cfg, &cfg.targets[0], &file);
        let passed: Vec<String> = report
            .conv
            .cases
            .iter()
            .map(|c| format!("{}:{}", c.id, c.outcome == Outcome::Pass))
            .collect();
        assert_eq!(
            passed,
            [
                "1:true", "4:false", "5:true", "6:false", "7:true", "8:true", "9:false",
                "10:false", "11:false"
            ],
            "{:#?}",
            report.conv.cases
        );
        assert!(report.errors.is_empty(), "{:?}", report.errors);
    }

    #[test]
    fn targets_parse_by_name_or_triple() {
        assert_eq!(parse_target("x86_64"), Ok(Arch::X86_64));
        assert_eq!(
            parse_target("aarch64-unknown-linux-musl"),
            Ok(Arch::Aarch64)
        );
        assert!(parse_target("riscv64").is_err());
    }
}
