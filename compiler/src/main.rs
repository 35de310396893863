//! The `aot` command: reads a WebAssembly module (binary or text), compiles it and links it
//! into a static executable (or writes the module's object with `--emit obj`).
//!
//! Every failure is one line on stderr, `aot: error: <what>: <why>`, naming the file and,
//! where there is one, the byte offset or line and column, and exits with status 1. A panic
//! anywhere is caught and reported as an internal error, never as a panic message.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{Context as _, anyhow, bail};
use aot::{BoundsMode, Options, Target, link};
use aot_abi::{CommandConfig, DirGrant};
use clap::{Parser, ValueEnum};

/// Compile a WebAssembly module ahead of time into a standalone static Linux executable.
///
/// The executable behaves like `wasmtime run INPUT`: it runs the module's `_start` with
/// WASI, with the directories and environment variables granted here at compile time.
#[derive(Parser, Debug)]
#[command(name = "aot", version, max_term_width = 100)]
struct Cli {
    /// The WebAssembly module to compile: a binary (.wasm) or text (.wat) module.
    #[arg(value_name = "INPUT")]
    input: PathBuf,

    /// Where to write the executable (or the object file, with --emit obj).
    #[arg(short = 'o', long = "output", value_name = "OUTPUT")]
    output: PathBuf,

    /// The target to compile for: x86_64-unknown-linux-gnu or aarch64-unknown-linux-gnu
    /// (the -musl spellings mean the same). Default: the host.
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,

    /// What to write: a linked executable, or the module's object file alone.
    #[arg(long, value_enum, value_name = "KIND", default_value_t = Emit::Exe)]
    emit: Emit,

    /// Optimisation level: 0 = none (fastest compile), 1 = speed and size, 2 = speed
    /// (with inlining of tiny functions).
    #[arg(short = 'O', value_name = "LEVEL", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    opt_level: u8,

    /// Link with this external linker (an ld-style linker such as ld.lld, or a compiler
    /// driver such as aarch64-linux-gnu-gcc or clang) instead of the built-in one.
    #[arg(long, value_name = "PATH")]
    linker: Option<PathBuf>,

    /// Check every memory access explicitly instead of relying on guard pages (for hosts
    /// where reserving 6 GiB of address space per memory is impossible or costly).
    #[arg(long)]
    bounds_checks: bool,

    /// The CPU the executable may assume: x86-64-v2 (the default on x86_64: SSE4.2 and
    /// POPCNT), x86-64-v3 (adds AVX2, BMI and FMA), or native (the machine running aot;
    /// only when compiling for the host).
    #[arg(long, value_name = "CPU", default_value = "x86-64-v2")]
    cpu: String,

    /// Grant the program the host directory HOST, seen by it as GUEST; `--dir PATH` means
    /// PATH::PATH. Repeatable.
    #[arg(long = "dir", value_name = "HOST::GUEST")]
    dirs: Vec<String>,

    /// Set the environment variable NAME to VALUE in the program; `--env NAME` copies
    /// NAME's value from the environment the executable runs in. Repeatable.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    envs: Vec<String>,

    /// Give the program the whole environment the executable runs in.
    #[arg(long)]
    inherit_env: bool,

    /// Let a component use the network (TCP, UDP, name lookup), as `wasmtime run -S
    /// inherit-network`; without it every socket operation is denied.
    #[arg(long)]
    inherit_network: bool,

    /// Let a component resolve host names (`wasi:sockets/ip-name-lookup`), as `wasmtime
    /// run -S allow-ip-name-lookup`; without it every lookup fails.
    #[arg(long)]
    allow_ip_name_lookup: bool,

    /// Link the module at PATH into the executable, instantiated before INPUT, whose
    /// imports from module NAME its exports satisfy (as `wasmtime run --preload`).
    /// Repeatable; a later preload may import from an earlier one.
    #[arg(long = "preload", value_name = "NAME=PATH")]
    preloads: Vec<String>,

    /// The most memory the program's GC heap (Wasm GC objects) may take, in bytes or with
    /// a K, M or G suffix (powers of 1024); past it an allocation ends the program with
    /// "GC heap out of memory". Default: 2G.
    #[arg(long, value_name = "SIZE")]
    max_gc_heap: Option<String>,

    /// Offer the test host's imports (`aot_test`); for aot's own tests.
    #[arg(long, hide = true)]
    test_host: bool,

    /// Keep memory 0 wherever the kernel puts it, its base loaded from the instance, even
    /// where the program allows the fixed address (for comparing and testing).
    #[arg(long, hide = true)]
    no_fixed_memory_base: bool,

    /// Keep every global in the instance, none in a register, even where the program allows
    /// it (for comparing and testing).
    #[arg(long, hide = true)]
    no_global_register: bool,

    /// Unroll no loop (for comparing and testing).
    #[arg(long, hide = true)]
    no_unroll: bool,

    /// Compute every 32-bit address sum apart from its access (for comparing and testing).
    #[arg(long, hide = true)]
    no_address_fold: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// A static executable.
    Exe,
    /// The module's relocatable object file (defines aot_module_0), for linking by hand.
    Obj,
}

/// Where the panic hook leaves the message and location of a panic for `main` to report.
static PANIC_REPORT: Mutex<Option<String>> = Mutex::new(None);

fn main() -> ExitCode {
    install_panic_hook();
    match std::panic::catch_unwind(|| run(std::env::args_os())) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            eprintln!("aot: error: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
        Err(_) => {
            let report = PANIC_REPORT
                .lock()
                .ok()
                .and_then(|mut r| r.take())
                .unwrap_or_else(|| "unknown".into());
            eprintln!(
                "aot: error: internal error ({}); please report it",
                one_line(&report)
            );
            ExitCode::FAILURE
        }
    }
}

/// Replaces the default hook, which prints "thread 'main' panicked at ..." (several lines,
/// possibly from a linker thread), with one that records the message for `main`.
/// AOT_BACKTRACE=1 keeps the default output too, for debugging aot itself (not RUST_BACKTRACE,
/// which many users set for their own programs).
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut r) = PANIC_REPORT.lock() {
            r.get_or_insert(format!("{message}{at}"));
        }
        if std::env::var_os("AOT_BACKTRACE").is_some_and(|v| v != "0") {
            default(info);
        }
    }));
}

fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                // Help and version go to stdout and are not errors.
                e.print().context("writing to stdout")?;
                return Ok(ExitCode::SUCCESS);
            }
            bail!("{}", clap_error_line(&e));
        }
    };
    compile(&cli)?;
    Ok(ExitCode::SUCCESS)
}

/// clap's message without its usage block, on one line.
fn clap_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = lines.join("; ");
    let message = joined.strip_prefix("error: ").unwrap_or(&joined);
    format!("{message} (see `aot --help`)")
}

fn compile(cli: &Cli) -> anyhow::Result<()> {
    let target = match &cli.target {
        Some(t) => t.parse::<Target>().map_err(|e| anyhow!("{e}"))?,
        None => Target::host(),
    };
    if cli.emit == Emit::Obj
        && (cli.linker.is_some()
            || !cli.dirs.is_empty()
            || !cli.envs.is_empty()
            || cli.inherit_env
            || !cli.preloads.is_empty())
    {
        bail!(
            "--linker, --dir, --env, --inherit-env and --preload apply to executables only, not to --emit obj"
        );
    }
    let config = CommandConfig {
        dirs: cli
            .dirs
            .iter()
            .map(|d| parse_dir(d))
            .collect::<anyhow::Result<_>>()?,
        env: cli
            .envs
            .iter()
            .map(|e| parse_env(e))
            .collect::<anyhow::Result<_>>()?,
        inherit_env: cli.inherit_env,
        plan: Vec::new(),
        component: None,
        inherit_network: cli.inherit_network,
        allow_ip_name_lookup: cli.allow_ip_name_lookup,
        max_gc_heap: match &cli.max_gc_heap {
            Some(s) => parse_size(s).with_context(|| format!("--max-gc-heap {s}"))?,
            None => 0,
        },
    };

    let mut opts = Options::new(target.clone());
    opts.opt_level = cli.opt_level;
    opts.cpu = cli.cpu.parse().map_err(|e: String| anyhow!(e))?;
    opts.bounds = if cli.bounds_checks {
        BoundsMode::Explicit
    } else {
        BoundsMode::GuardPages
    };
    opts.test_host = cli.test_host;
    opts.fixed_memory_base = !cli.no_fixed_memory_base;
    opts.global_register = !cli.no_global_register;
    if cli.no_unroll {
        opts.unroll = aot::Unroll::Off;
    }
    opts.fold_addresses = !cli.no_address_fold;

    // The instances: the preloads in order, then the program.
    let mut sources: Vec<(Option<String>, String, Vec<u8>)> = Vec::new();
    for p in &cli.preloads {
        let (name, path) = parse_preload(p)?;
        if sources
            .iter()
            .any(|(n, _, _)| n.as_deref() == Some(name.as_str()))
        {
            bail!("--preload `{p}`: the name `{name}` is preloaded twice");
        }
        let file = path.display().to_string();
        let wasm = read_module(&path, &file)?;
        if aot::module::is_component(&wasm) {
            bail!("--preload `{p}`: {file} is a component; only core modules can be preloaded");
        }
        sources.push((Some(name), file, wasm));
    }
    let file = cli.input.display().to_string();
    let wasm = read_module(&cli.input, &file)?;
    if aot::module::is_component(&wasm) {
        if cli.emit == Emit::Obj {
            bail!(
                "{file}: --emit obj compiles core modules only; a component becomes an executable"
            );
        }
        if !cli.preloads.is_empty() {
            bail!("{file}: --preload applies to core modules, not to a component");
        }
        let objects = aot::compile_component(&wasm, &file, config, &opts)?;
        return link::link(&target, &objects, &cli.output, cli.linker.as_deref());
    }
    sources.push((None, file, wasm));

    match cli.emit {
        Emit::Obj => {
            let (_, file, wasm) = &sources[0];
            let module = aot::compile_module(wasm, file, 0, &opts)?;
            link::write_output(&cli.output, &module, false)
        }
        Emit::Exe => {
            let modules: Vec<aot::CommandModule> = sources
                .iter()
                .map(|(name, file, wasm)| aot::CommandModule {
                    name: name.as_deref(),
                    file,
                    wasm,
                })
                .collect();
            let objects = aot::compile_command(&modules, config.clone(), &opts)?;
            link::link(&target, &objects, &cli.output, cli.linker.as_deref())?;
            if !opts.fixed_memory_base || link::image_allows_fixed_memory0(&cli.output)? {
                return Ok(());
            }
            // The image could reach memory 0's fixed range (or is not at a fixed address):
            // the code may assume that range, so build it again without.
            opts.fixed_memory_base = false;
            let objects = aot::compile_command(&modules, config, &opts)?;
            link::link(&target, &objects, &cli.output, cli.linker.as_deref())
        }
    }
}

/// `NAME=PATH`, as `wasmtime run --preload`.
fn parse_preload(arg: &str) -> anyhow::Result<(String, PathBuf)> {
    match arg.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => bail!("invalid --preload `{arg}`: expected NAME=PATH"),
    }
}

/// `HOST::GUEST`, or `PATH` for `PATH::PATH` (as `wasmtime run --dir`).
fn parse_dir(arg: &str) -> anyhow::Result<DirGrant> {
    let (host, guest) = arg.split_once("::").unwrap_or((arg, arg));
    if host.is_empty() || guest.is_empty() {
        bail!("invalid --dir `{arg}`: expected HOST::GUEST or PATH");
    }
    Ok(DirGrant {
        host: host.to_string(),
        guest: guest.to_string(),
    })
}

/// A byte count: digits with an optional K, M or G suffix (powers of 1024).
fn parse_size(arg: &str) -> anyhow::Result<u64> {
    let (digits, unit) = match arg.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&arg[..i], c.to_ascii_uppercase()),
        _ => (arg, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => bail!("unknown size unit `{unit}` (use K, M or G)"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| anyhow!("not a size: `{arg}` (e.g. 512M)"))?;
    let bytes = n
        .checked_shl(shift)
        .filter(|b| b >> shift == n)
        .ok_or_else(|| anyhow!("size `{arg}` is too large"))?;
    if bytes == 0 {
        bail!("the size must be more than 0");
    }
    Ok(bytes)
}

/// `NAME=VALUE`, or `NAME` to copy the value at run time.
fn parse_env(arg: &str) -> anyhow::Result<(String, Option<String>)> {
    let (name, value) = match arg.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (arg, None),
    };
    if name.is_empty() {
        bail!("invalid --env `{arg}`: expected NAME=VALUE or NAME");
    }
    Ok((name.to_string(), value))
}

/// Reads INPUT and returns its binary (a core module or a component): text is parsed
/// (errors carry file:line:column).
fn read_module(path: &Path, file: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| anyhow!("cannot read {file}: {e}"))?;
    let is_text = match path.extension().and_then(|e| e.to_str()) {
        Some("wasm") => false,
        Some("wat") | Some("wast") => true,
        _ => !bytes.starts_with(b"\0asm") && std::str::from_utf8(&bytes).is_ok(),
    };
    let binary = if is_text {
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            anyhow!(
                "{file}: byte 0x{:x}: text is not valid UTF-8",
                e.valid_up_to()
            )
        })?;
        parse_text(text, file)?
    } else {
        bytes
    };
    Ok(binary)
}

fn parse_text(text: &str, file: &str) -> anyhow::Result<Vec<u8>> {
    let located = |e: wast::Error| {
        let (line, col) = e.span().linecol_in(text);
        anyhow!("{file}:{}:{}: {}", line + 1, col + 1, e.message())
    };
    let buf = wast::parser::ParseBuffer::new(text).map_err(located)?;
    let mut wat: wast::Wat = wast::parser::parse(&buf).map_err(located)?;
    // A component is encoded like a module and then validated and refused by the caller.
    wat.encode().map_err(located)
}

/// Some messages (wasmparser's bad-magic one, for instance) span lines; the error line
/// must not.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_parse_like_wasmtime() {
        let d = parse_dir("/tmp/x::/data").unwrap();
        assert_eq!((d.host.as_str(), d.guest.as_str()), ("/tmp/x", "/data"));
        let d = parse_dir("data").unwrap();
        assert_eq!((d.host.as_str(), d.guest.as_str()), ("data", "data"));
        assert!(parse_dir("::/x").is_err());
        assert!(parse_dir("/x::").is_err());
        assert_eq!(
            parse_env("A=1=2").unwrap(),
            ("A".to_string(), Some("1=2".to_string()))
        );
        assert_eq!(parse_env("HOME").unwrap(), ("HOME".to_string(), None));
        assert_eq!(
            parse_env("A=").unwrap(),
            ("A".to_string(), Some(String::new()))
        );
        assert!(parse_env("=x").is_err());
    }
}
