//! Linking: turns the objects of a program into a static executable, together with the
//! runtime library, musl's C runtime objects, libc and libunwind, all embedded in `aot`
//! by build.rs (so producing an executable needs no toolchain on the machine).
//!
//! The default linker is libwild, run in-process with every input served from memory and
//! the output captured in memory. `--linker` runs an external linker on the same inputs
//! written to a temporary directory. Either way the executable is written to a temporary
//! file beside the output and renamed into place, so a failed link never leaves a stale
//! or partial output behind. Errors are single lines; a panic inside libwild is caught and
//! reported as an error (the workspace keeps `panic = "unwind"` for this).

use std::collections::HashMap;
use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use anyhow::{Context as _, anyhow, bail};

use crate::Target;
use crate::target::Arch;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The link inputs `aot` carries for one target.
struct Bundle {
    crt1: &'static [u8],
    crti: &'static [u8],
    crtbegin: &'static [u8],
    crtend: &'static [u8],
    crtn: &'static [u8],
    runtime: &'static [u8],
    libunwind: &'static [u8],
    libc: &'static [u8],
}

macro_rules! bundle_of {
    ($m:ident) => {
        Bundle {
            crt1: embedded::$m::CRT1,
            crti: embedded::$m::CRTI,
            crtbegin: embedded::$m::CRTBEGIN,
            crtend: embedded::$m::CRTEND,
            crtn: embedded::$m::CRTN,
            runtime: embedded::$m::RUNTIME,
            libunwind: embedded::$m::LIBUNWIND,
            libc: embedded::$m::LIBC,
        }
    };
}

/// Whether the embedded runtime library for `arch` defines the global symbol `name` (read
/// once per target from the archive's symbol table).
pub fn runtime_defines(arch: Arch, name: &str) -> bool {
    static SYMBOLS: [OnceLock<HashSet<Vec<u8>>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = match arch {
        Arch::X86_64 => &SYMBOLS[0],
        Arch::Aarch64 => &SYMBOLS[1],
    };
    slot.get_or_init(|| {
        let mut set = HashSet::new();
        if let Ok(archive) = object::read::archive::ArchiveFile::parse(bundle(arch).runtime)
            && let Ok(Some(symbols)) = archive.symbols()
        {
            for s in symbols.flatten() {
                set.insert(s.name().to_vec());
            }
        }
        set
    })
    .contains(name.as_bytes())
}

fn bundle(arch: Arch) -> Bundle {
    match arch {
        Arch::X86_64 => bundle_of!(x86_64),
        Arch::Aarch64 => bundle_of!(aarch64),
    }
}

/// The size in bytes of everything embedded for `target` (reported by tests and benches).
pub fn embedded_size(target: &Target) -> usize {
    inputs(target, &[])
        .iter()
        .map(|(_, b)| b.as_slice().len())
        .sum()
}

/// Bytes of one link input: embedded in `aot`, or an object made by this run.
#[derive(Clone)]
enum InputBytes {
    Embedded(&'static [u8]),
    Made(Arc<[u8]>),
}

impl InputBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            InputBytes::Embedded(b) => b,
            InputBytes::Made(b) => b,
        }
    }
}

impl std::fmt::Debug for InputBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InputBytes({} bytes)", self.as_slice().len())
    }
}

/// All inputs in command-line order (the order a static link resolves archives in), by
/// file name. Objects come between the start files and the archives.
fn inputs(target: &Target, objects: &[Vec<u8>]) -> Vec<(String, InputBytes)> {
    let b = bundle(target.arch);
    let e = InputBytes::Embedded;
    let mut v = vec![
        ("crt1.o".to_string(), e(b.crt1)),
        ("crti.o".to_string(), e(b.crti)),
        ("crtbegin.o".to_string(), e(b.crtbegin)),
    ];
    for (i, o) in objects.iter().enumerate() {
        v.push((
            format!("object{i}.o"),
            InputBytes::Made(Arc::from(o.as_slice())),
        ));
    }
    v.extend([
        ("libaot_runtime.a".to_string(), e(b.runtime)),
        ("libunwind.a".to_string(), e(b.libunwind)),
        ("libc.a".to_string(), e(b.libc)),
        ("crtend.o".to_string(), e(b.crtend)),
        ("crtn.o".to_string(), e(b.crtn)),
    ]);
    v
}

/// The ld emulation of `target`. Without `-m` a linker assumes the host architecture.
fn emulation(target: &Target) -> &'static str {
    match target.arch {
        Arch::X86_64 => "elf_x86_64",
        Arch::Aarch64 => "aarch64linux",
    }
}

/// Links `objects` (a program object and module objects) with the runtime for `target`
/// into the executable `output`. `linker` overrides the in-process linker.
pub fn link(
    target: &Target,
    objects: &[Vec<u8>],
    output: &Path,
    linker: Option<&Path>,
) -> anyhow::Result<()> {
    let inputs = inputs(target, objects);
    match linker {
        None => {
            let exe = link_in_process(target, &inputs)?;
            write_output(output, &exe, true)
        }
        Some(linker) => {
            let tmp = temp_beside(output)?;
            link_externally(target, &inputs, tmp.path(), linker)?;
            persist(tmp, output, true)
        }
    }
}

/// Whether the executable at `exe` leaves memory 0's fixed range free when it runs: a
/// fixed-address (non-PIE) executable whose loaded image ends at or below
/// `aot_abi::FIXED_MEMORY0_IMAGE_LIMIT` (see `aot_abi::fixed_memory0_base` for why that is
/// enough). Reads only the ELF and program headers.
pub fn image_allows_fixed_memory0(exe: &Path) -> anyhow::Result<bool> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let fail = |e: std::io::Error| anyhow!("cannot read {}: {e}", exe.display());
    let mut file = File::open(exe).map_err(fail)?;
    let mut header = [0u8; 64];
    file.read_exact(&mut header).map_err(fail)?;
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u64_at =
        |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    const ELFCLASS64: u8 = 2;
    const ELFDATA2LSB: u8 = 1;
    const ET_EXEC: u16 = 2;
    const PT_LOAD: u32 = 1;
    const PHDR_SIZE: usize = 56;
    if header[..4] != *b"\x7fELF"
        || header[4] != ELFCLASS64
        || header[5] != ELFDATA2LSB
        || u16_at(&header, 16) != ET_EXEC
        || usize::from(u16_at(&header, 54)) != PHDR_SIZE
    {
        return Ok(false);
    }
    let (phoff, phnum) = (u64_at(&header, 32), usize::from(u16_at(&header, 56)));
    let mut phdrs = vec![0u8; phnum * PHDR_SIZE];
    file.seek(SeekFrom::Start(phoff)).map_err(fail)?;
    file.read_exact(&mut phdrs).map_err(fail)?;
    let end = phdrs
        .chunks_exact(PHDR_SIZE)
        .filter(|p| u32::from_le_bytes(p[..4].try_into().expect("4 bytes")) == PT_LOAD)
        .map(|p| u64_at(p, 16).checked_add(u64_at(p, 40)))
        .try_fold(0u64, |max, end| end.map(|e| max.max(e)));
    Ok(end.is_some_and(|end| end <= aot_abi::FIXED_MEMORY0_IMAGE_LIMIT))
}

/// Writes `bytes` to `output` through a temporary file in the same directory, so that
/// `output` is either replaced whole or left untouched.
pub fn write_output(output: &Path, bytes: &[u8], executable: bool) -> anyhow::Result<()> {
    let mut tmp = temp_beside(output)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.flush())
        .with_context(|| format!("cannot write {}", output.display()))?;
    persist(tmp, output, executable)
}

fn temp_beside(output: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = output
        .file_name()
        .ok_or_else(|| anyhow!("cannot write {}: not a file name", output.display()))?;
    tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write {}", output.display()))
}

fn persist(tmp: tempfile::NamedTempFile, output: &Path, executable: bool) -> anyhow::Result<()> {
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot write {}", output.display()))?;
    tmp.persist(output)
        .map_err(|e| anyhow!("cannot write {}: {}", output.display(), e.error))?;
    Ok(())
}

/// Weak functions of `crtbegin.o` and Rust's std that musl defines in `libc.a` members
/// nothing else pulls in (a weak reference does not). Undefined, they would have address 0,
/// which an aarch64 branch from code more than 128 MiB into the image cannot reach (wild
/// does not resolve such a branch to the next instruction, as lld does). The weak functions
/// musl lacks, the runtime defines (`runtime-lib/src/libc_glue.rs`).
const PULLED_FROM_LIBC: [&str; 2] = ["getrandom", "__cxa_finalize"];

/// Runs libwild on `inputs` and returns the executable's bytes.
fn link_in_process(target: &Target, inputs: &[(String, InputBytes)]) -> anyhow::Result<Vec<u8>> {
    const OUTPUT: &str = "a.out";
    let mut argv: Vec<String> = [
        "ld",
        "-m",
        emulation(target),
        "-static",
        "--eh-frame-hdr",
        // Backtraces come from aot's own metadata, not from ELF symbols: strip them.
        // (wild drops unreferenced sections by default, as --gc-sections asks of others.)
        "--strip-all",
        "-o",
        OUTPUT,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for symbol in PULLED_FROM_LIBC {
        argv.extend(["-u".to_string(), symbol.to_string()]);
    }
    argv.extend(inputs.iter().map(|(name, _)| name.clone()));

    let fs = MemoryFileSystem {
        files: inputs
            .iter()
            .map(|(n, b)| (PathBuf::from(n), b.clone()))
            .collect(),
        output: Arc::new(Mutex::new(None)),
    };
    let output = Arc::clone(&fs.output);
    let run = || -> Result<(), String> {
        let get = || argv.iter().map(String::as_str);
        let mut args = libwild::Args::new(get).map_err(|e| e.to_string())?;
        args.on_warning(Box::new(|w| {
            eprintln!("aot: warning: linker: {}", w.warning())
        }));
        args.parse(get).map_err(|e| e.to_string())?;
        // Runs in the caller's rayon pool (rayon's global one unless the caller installed
        // another): libwild's own pool would size itself from MAKEFLAGS' jobserver.
        let linker = libwild::Linker::with_file_system(fs);
        linker.run(&args).map(drop).map_err(|e| e.to_string())
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(())) => {}
        Ok(Err(message)) => bail!("linking failed: {}", one_line(&message)),
        Err(payload) => bail!(
            "linking failed: internal error in the linker: {}",
            one_line(&panic_message(&*payload))
        ),
    }
    lock(&output)
        .take()
        .ok_or_else(|| anyhow!("linking failed: the linker produced no output"))
}

/// Writes `inputs` into a temporary directory and runs `linker` on them, writing `output`.
fn link_externally(
    target: &Target,
    inputs: &[(String, InputBytes)],
    output: &Path,
    linker: &Path,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()
        .context("cannot create a temporary directory for the linker's inputs")?;
    let mut paths = Vec::new();
    for (name, bytes) in inputs {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes.as_slice())
            .with_context(|| format!("cannot write {}", p.display()))?;
        paths.push(p);
    }
    let name = linker
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = Command::new(linker);
    if is_compiler_driver(&name) {
        // As the built-in link: drop unreferenced sections (the run function and the host
        // functions a program does not use) and strip (backtraces use aot's metadata).
        cmd.args([
            "-nostdlib",
            "-nostartfiles",
            "-static",
            "-Wl,--eh-frame-hdr",
            "-Wl,--gc-sections",
            "-s",
        ]);
        if name.contains("clang") {
            // clang links for the host unless told the target, and only lld links every target.
            cmd.arg(format!("--target={}", target.musl_triple()))
                .arg("-fuse-ld=lld");
        }
    } else {
        if name.starts_with("rust-lld") {
            cmd.args(["-flavor", "gnu"]);
        }
        cmd.args([
            "-m",
            emulation(target),
            "-static",
            "--eh-frame-hdr",
            "--gc-sections",
            "--strip-all",
        ]);
    }
    // GNU ld searches each archive once, in order, but libc.a needs compiler builtins
    // (long double arithmetic) from the runtime archive before it: group the archives.
    let (group, driver_group) = (
        ["--start-group", "--end-group"],
        ["-Wl,--start-group", "-Wl,--end-group"],
    );
    let [start, end] = if is_compiler_driver(&name) {
        driver_group
    } else {
        group
    };
    for symbol in PULLED_FROM_LIBC {
        if is_compiler_driver(&name) {
            cmd.arg(format!("-Wl,-u,{symbol}"));
        } else {
            cmd.args(["-u", symbol]);
        }
    }
    cmd.arg("-o").arg(output);
    for (path, (file, _)) in paths.iter().zip(inputs) {
        if file == "libaot_runtime.a" {
            cmd.arg(start);
        }
        cmd.arg(path);
        if file == "libc.a" {
            cmd.arg(end);
        }
    }
    let result = cmd.output();
    let out = match result {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{}", missing_linker_message(linker, &name))
        }
        Err(e) => bail!("cannot run linker `{}`: {e}", linker.display()),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let text = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        bail!(
            "linker `{}` failed ({}): {}",
            linker.display(),
            out.status,
            first_lines(&text, 8)
        );
    }
    Ok(())
}

/// Compiler drivers take linker flags through `-Wl,` and add start files and libraries
/// unless told not to; ld-style linkers take the flags directly.
fn is_compiler_driver(name: &str) -> bool {
    name.contains("gcc")
        || name.contains("clang")
        || name == "cc"
        || name == "c++"
        || name.contains("g++")
}

/// "linker `X` not found", with the Debian package that provides it when we know one.
fn missing_linker_message(linker: &Path, name: &str) -> String {
    let version = |prefix: &str| {
        name.strip_prefix(prefix)
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
    };
    let package = if let Some(triple) = name.strip_suffix("-gcc") {
        if triple == "x86_64-linux-gnu" {
            Some("gcc-x86-64-linux-gnu".to_string())
        } else if triple.contains("linux") {
            Some(format!("gcc-{triple}"))
        } else {
            None
        }
    } else if name == "gcc" || name == "cc" {
        Some("gcc".to_string())
    } else if let Some(v) = version("clang-") {
        Some(format!("clang-{v}"))
    } else if name == "clang" {
        Some("clang".to_string())
    } else if let Some(v) = version("ld.lld-") {
        Some(format!("lld-{v}"))
    } else if name == "ld.lld" {
        Some("lld".to_string())
    } else if name == "ld" || name == "ld.bfd" || name == "ld.gold" {
        Some("binutils".to_string())
    } else if let Some(triple) = name.strip_suffix("-ld") {
        Some(format!("binutils-{triple}"))
    } else if name == "mold" {
        Some("mold".to_string())
    } else {
        None
    };
    match package {
        Some(p) => format!(
            "linker `{}` not found: install Debian package {p}",
            linker.display()
        ),
        None if name == "rust-lld" => format!(
            "linker `{}` not found: it ships with the Rust toolchain, in $(rustc --print sysroot)/lib/rustlib/<host>/bin",
            linker.display()
        ),
        None => format!("linker `{}` not found", linker.display()),
    }
}

/// Joins the non-empty lines of a multi-line message, so every error stays on one line. A
/// line ending in `:` or `by` (libwild's "Caused by:", "referenced by") runs on into the
/// next; other lines are separated by `; `.
fn one_line(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') || out.ends_with(" by") {
                " "
            } else {
                "; "
            });
        }
        out.push_str(line);
    }
    out
}

/// The first `n` non-empty lines of a linker's output on one line: enough to see what
/// went wrong without one error line running to pages.
fn first_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let mut text = lines.iter().take(n).copied().collect::<Vec<_>>().join("; ");
    if lines.len() > n {
        text.push_str(&format!("; ... ({} more lines)", lines.len() - n));
    }
    text
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// A poisoned lock only means another linker thread panicked; the data is still whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What libwild reads and writes: the inputs by name, and one output kept in memory.
struct MemoryFileSystem {
    files: HashMap<PathBuf, InputBytes>,
    output: Arc<Mutex<Option<Vec<u8>>>>,
}

#[derive(Debug)]
struct MemoryInput(InputBytes);

impl libwild::InputFileData for MemoryInput {
    fn bytes(&self) -> &[u8] {
        self.0.as_slice()
    }
}

struct MemoryOutput {
    bytes: Vec<u8>,
    sink: Arc<Mutex<Option<Vec<u8>>>>,
}

impl libwild::OutputFileData for MemoryOutput {
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    fn finish(self) -> libwild::error::Result {
        *lock(&self.sink) = Some(self.bytes);
        Ok(())
    }
}

fn not_found(path: &Path) -> libwild::error::Error {
    libwild::error::Error::with_message(format!("no input named `{}`", path.display()))
}

impl libwild::FileSystem for MemoryFileSystem {
    type Input = MemoryInput;
    type Output = MemoryOutput;

    fn open_input(
        &self,
        path: &Path,
        _prepopulate: bool,
    ) -> libwild::error::Result<(MemoryInput, Option<Arc<File>>)> {
        let bytes = self.files.get(path).ok_or_else(|| not_found(path))?;
        Ok((MemoryInput(bytes.clone()), None))
    }

    fn file_type(&self, path: &Path) -> libwild::error::Result<libwild::FileType> {
        if self.files.contains_key(path) {
            Ok(libwild::FileType::File)
        } else {
            Err(not_found(path))
        }
    }

    fn canonicalize(&self, path: &Path) -> libwild::error::Result<PathBuf> {
        Ok(path.to_path_buf())
    }

    fn remove_file(&self, path: &Path) -> libwild::error::Result<()> {
        Err(not_found(path))
    }

    fn rename_file(&self, path: &Path, _new_path: &Path) -> libwild::error::Result<()> {
        Err(not_found(path))
    }

    fn create_output(
        &self,
        _path: Arc<Path>,
        options: libwild::OutputOptions,
    ) -> libwild::error::Result<MemoryOutput> {
        let size = usize::try_from(options.size)
            .map_err(|_| libwild::error::Error::with_message("output is too large".to_string()))?;
        Ok(MemoryOutput {
            bytes: vec![0; size],
            sink: Arc::clone(&self.output),
        })
    }

    fn write_auxiliary(&self, path: &Path, _bytes: &[u8]) -> libwild::error::Result {
        Err(libwild::error::Error::with_message(format!(
            "unexpected auxiliary output `{}`",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF header and program headers with the given type and PT_LOAD (vaddr, memsz).
    fn elf(e_type: u16, loads: &[(u64, u64)]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&e_type.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&((loads.len() + 1) as u16).to_le_bytes());
        // A PT_GNU_STACK first, which has no place in memory.
        let mut stack = vec![0u8; 56];
        stack[..4].copy_from_slice(&0x6474_e551u32.to_le_bytes());
        stack[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        b.extend(stack);
        for &(vaddr, memsz) in loads {
            let mut p = vec![0u8; 56];
            p[..4].copy_from_slice(&1u32.to_le_bytes());
            p[16..24].copy_from_slice(&vaddr.to_le_bytes());
            p[40..48].copy_from_slice(&memsz.to_le_bytes());
            b.extend(p);
        }
        b
    }

    #[test]
    fn only_a_fixed_address_image_below_the_limit_allows_the_fixed_memory0() {
        let dir = tempfile::tempdir().unwrap();
        let limit = aot_abi::FIXED_MEMORY0_IMAGE_LIMIT;
        let cases = [
            (
                "small",
                elf(2, &[(0x40_0000, 0x1000), (0x40_1000, 0x10_0000)]),
                true,
            ),
            (
                "at the limit",
                elf(2, &[(0x40_0000, limit - 0x40_0000)]),
                true,
            ),
            (
                "past the limit",
                elf(2, &[(0x40_0000, 0x1000), (limit, 1)]),
                false,
            ),
            ("position-independent", elf(3, &[(0, 0x1000)]), false),
            ("overflowing", elf(2, &[(u64::MAX, 2)]), false),
            ("not ELF", b"#!/bin/sh\n".repeat(10), false),
        ];
        for (what, bytes, allowed) in cases {
            let path = dir.path().join("exe");
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(
                image_allows_fixed_memory0(&path).unwrap(),
                allowed,
                "{what}"
            );
        }
        std::fs::write(dir.path().join("short"), b"\x7fELF").unwrap();
        assert!(image_allows_fixed_memory0(&dir.path().join("short")).is_err());
    }

    use cranelift_codegen::ir::{AbiParam, InstBuilder, types};
    use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
    use cranelift_module::{DataDescription, Linkage, Module};
    use cranelift_object::{ObjectBuilder, ObjectModule};
    use object::read::elf::{ElfFile64, ProgramHeader as _};
    use std::process::Output;

    const GREETING: &[u8] = b"hello from a linked object\n";

    /// An object defining C `main`, which writes GREETING to stdout through libc and returns
    /// 42, optionally after calling `undefined` (which nothing defines). It needs crt1, libc
    /// and nothing from the runtime, so it links whatever state the runtime is in.
    fn main_object(target: &Target, undefined: Option<&str>) -> Vec<u8> {
        let isa = target.isa(2).expect("isa");
        let builder = ObjectBuilder::new(isa, "test", cranelift_module::default_libcall_names())
            .expect("builder");
        let mut m = ObjectModule::new(builder);
        let data = m
            .declare_data("greeting", Linkage::Local, false, false)
            .unwrap();
        let mut d = DataDescription::new();
        d.define(GREETING.to_vec().into_boxed_slice());
        m.define_data(data, &d).unwrap();

        let mut write_sig = m.make_signature();
        write_sig.params.extend([
            AbiParam::new(types::I32),
            AbiParam::new(types::I64),
            AbiParam::new(types::I64),
        ]);
        write_sig.returns.push(AbiParam::new(types::I64));
        let write = m
            .declare_function("write", Linkage::Import, &write_sig)
            .unwrap();
        let missing = undefined.map(|name| {
            m.declare_function(name, Linkage::Import, &m.make_signature())
                .unwrap()
        });

        let mut sig = m.make_signature();
        sig.params
            .extend([AbiParam::new(types::I32), AbiParam::new(types::I64)]);
        sig.returns.push(AbiParam::new(types::I32));
        let main = m.declare_function("main", Linkage::Export, &sig).unwrap();
        let mut ctx = m.make_context();
        ctx.func.signature = sig;
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let write_ref = m.declare_func_in_func(write, b.func);
        let gv = m.declare_data_in_func(data, b.func);
        let addr = b.ins().symbol_value(types::I64, gv);
        let fd = b.ins().iconst(types::I32, 1);
        let len = b.ins().iconst(types::I64, GREETING.len() as i64);
        b.ins().call(write_ref, &[fd, addr, len]);
        if let Some(f) = missing {
            let r = m.declare_func_in_func(f, b.func);
            b.ins().call(r, &[]);
        }
        let ret = b.ins().iconst(types::I32, 42);
        b.ins().return_(&[ret]);
        b.finalize(m.isa().frontend_config());
        m.define_function(main, &mut ctx).unwrap();
        m.finish().emit().unwrap()
    }

    use crate::test_tools as tools;

    /// Runs an executable for `target` (see `tools::run_built_for`).
    fn run(target: &Target, exe: &Path, what: &str) -> Option<Output> {
        let arch = match target.arch {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        };
        tools::run_built_for(arch, exe, &[], what)
    }

    /// A static, non-PIE executable for the right machine, with an eh_frame_hdr (needed for
    /// unwinding in the runtime), executable by its owner.
    fn check_executable(target: &Target, path: &Path) {
        let bytes = std::fs::read(path).expect("read output");
        let elf = ElfFile64::<object::Endianness>::parse(&*bytes).expect("ELF");
        use object::Object as _;
        let machine = match target.arch {
            Arch::X86_64 => object::Architecture::X86_64,
            Arch::Aarch64 => object::Architecture::Aarch64,
        };
        assert_eq!(elf.architecture(), machine);
        assert_eq!(elf.kind(), object::ObjectKind::Executable);
        let types: Vec<u32> = elf
            .elf_program_headers()
            .iter()
            .map(|p| p.p_type(elf.endian()))
            .collect();
        assert!(
            !types.contains(&object::elf::PT_INTERP),
            "statically linked"
        );
        assert!(
            types.contains(&object::elf::PT_GNU_EH_FRAME),
            "has --eh-frame-hdr"
        );
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o100, 0o100, "executable bit");
    }

    fn both_arches() -> [Target; 2] {
        [
            Target::for_arch(Arch::X86_64),
            Target::for_arch(Arch::Aarch64),
        ]
    }

    #[test]
    fn links_and_runs_in_process_on_both_arches() {
        let dir = tempfile::tempdir().unwrap();
        for target in both_arches() {
            let exe = dir.path().join(format!("hello-{:?}", target.arch));
            let start = std::time::Instant::now();
            link(&target, &[main_object(&target, None)], &exe, None).expect("link");
            let took = start.elapsed();
            check_executable(&target, &exe);
            let size = std::fs::metadata(&exe).unwrap().len();
            let _ = writeln!(
                std::io::stderr(),
                "linked {target} in {took:?}: {size} bytes"
            );
            if let Some(out) = run(
                &target,
                &exe,
                &format!("running the {target} test executable"),
            ) {
                assert_eq!(out.status.code(), Some(42), "{out:?}");
                assert_eq!(out.stdout, GREETING);
            }
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn every_target_embeds_the_runtime_and_libc() {
        for target in both_arches() {
            let b = bundle(target.arch);
            for (name, bytes) in [
                ("runtime", b.runtime),
                ("libunwind", b.libunwind),
                ("libc", b.libc),
            ] {
                assert!(
                    bytes.starts_with(b"!<arch>\n"),
                    "{name} for {target} is an archive"
                );
            }
            for (name, bytes) in [
                ("crt1", b.crt1),
                ("crti", b.crti),
                ("crtbegin", b.crtbegin),
                ("crtend", b.crtend),
                ("crtn", b.crtn),
            ] {
                let file = object::File::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                use object::Object as _;
                let want = match target.arch {
                    Arch::X86_64 => object::Architecture::X86_64,
                    Arch::Aarch64 => object::Architecture::Aarch64,
                };
                assert_eq!(file.architecture(), want, "{name} for {target}");
            }
            assert!(embedded_size(&target) > 1_000_000);
        }
    }

    #[test]
    fn a_failed_link_is_an_error_and_leaves_the_old_output_alone() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("app");
        std::fs::write(&exe, b"previous").unwrap();
        for target in both_arches() {
            let obj = main_object(&target, Some("aot_test_undefined_symbol"));
            let err = link(&target, &[obj], &exe, None)
                .expect_err("undefined symbol")
                .to_string();
            assert!(err.contains("aot_test_undefined_symbol"), "{err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        assert_eq!(std::fs::read(&exe).unwrap(), b"previous");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary files left"
        );
    }

    #[test]
    fn objects_of_the_wrong_architecture_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let x86 = Target::for_arch(Arch::X86_64);
        let arm = Target::for_arch(Arch::Aarch64);
        let err = link(
            &arm,
            &[main_object(&x86, None)],
            &dir.path().join("app"),
            None,
        )
        .expect_err("mixed arches");
        assert!(err.to_string().contains("object0.o"), "{err}");
    }

    #[test]
    fn an_unwritable_output_is_an_error_naming_it() {
        let target = Target::host();
        let obj = main_object(&target, None);
        let err = link(
            &target,
            std::slice::from_ref(&obj),
            Path::new("/nonexistent-aot-dir/app"),
            None,
        )
        .expect_err("no dir");
        assert!(
            format!("{err:#}").contains("cannot write /nonexistent-aot-dir/app"),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = link(&target, &[obj], dir.path(), None).expect_err("a directory");
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
    }

    #[test]
    fn external_linkers_get_the_same_inputs() {
        // (linker, arch it can link); a compiler driver for the host and one cross driver.
        let cases = [
            ("ld.lld-19", Arch::X86_64),
            ("ld.lld-19", Arch::Aarch64),
            ("aarch64-linux-gnu-gcc", Arch::Aarch64),
            ("clang-19", Arch::Aarch64),
            ("gcc", Arch::X86_64),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (name, arch) in cases {
            let target = Target::for_arch(arch);
            let what = format!("linking {target} with {name}");
            let Some(linker) = tools::find_on_path(name) else {
                let why = format!("{name} is not on PATH");
                // scripts/setup.sh installs lld-19 and clang-19, not the gcc toolchains.
                if name.contains("gcc") {
                    tools::skip(&what, &why);
                } else {
                    tools::skip_missing(&what, &why);
                }
                continue;
            };
            if name == "gcc" && !Target::host().arch.eq(&Arch::X86_64) {
                tools::skip(&what, "the host gcc does not target x86_64");
                continue;
            }
            let exe = dir.path().join(format!("{name}-{arch:?}"));
            link(&target, &[main_object(&target, None)], &exe, Some(&linker))
                .unwrap_or_else(|e| panic!("{what}: {e:#}"));
            check_executable(&target, &exe);
            if let Some(out) = run(&target, &exe, &what) {
                assert_eq!(out.status.code(), Some(42), "{what}: {out:?}");
                assert_eq!(out.stdout, GREETING, "{what}");
            }
        }
    }

    #[test]
    fn a_missing_external_linker_names_the_package() {
        let target = Target::for_arch(Arch::Aarch64);
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("app");
        for (linker, package) in [
            (
                "/nonexistent/aarch64-linux-gnu-gcc",
                "gcc-aarch64-linux-gnu",
            ),
            ("/nonexistent/ld.lld-19", "lld-19"),
            ("/nonexistent/clang-19", "clang-19"),
        ] {
            let err = link(&target, &[], &exe, Some(Path::new(linker)))
                .expect_err("missing")
                .to_string();
            assert!(
                err.contains(&format!(
                    "linker `{linker}` not found: install Debian package {package}"
                )),
                "{err}"
            );
        }
        assert!(!exe.exists());
    }

    #[test]
    fn messages_become_one_line() {
        assert_eq!(
            one_line("Failed to link\n  Caused by:\n    y\n    z"),
            "Failed to link; Caused by: y; z"
        );
        assert_eq!(
            one_line("Undefined symbol main, referenced by \n    crt1.o"),
            "Undefined symbol main, referenced by crt1.o"
        );
    }
}
