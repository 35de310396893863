//! What the `aot` command's end-to-end tests share: running `aot`, and running what it
//! builds for either target (natively, or under qemu-aarch64), with the project's one
//! policy for missing tools.

#![allow(dead_code, reason = "each test file uses a part")]

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

// The policy for missing tools of the other end-to-end tests; included by path because a
// dev-dependency on aot-tests (which depends on this crate) would build the compiler twice.
#[path = "../../../tests/src/tools.rs"]
pub mod tools;

/// The targets every end-to-end test builds for.
pub const TRIPLES: [&str; 2] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

/// Runs `aot` with `args` in the current directory.
pub fn aot(args: &[&str]) -> Output {
    aot_command(args).output().expect("run aot")
}

/// Runs `aot` with `args` in `dir`.
pub fn aot_in(dir: &Path, args: &[&str]) -> Output {
    aot_command(args)
        .current_dir(dir)
        .output()
        .expect("run aot")
}

fn aot_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aot"));
    // With AOT_BACKTRACE set, aot shows panics in full on purpose (to debug aot).
    cmd.args(args).env_remove("AOT_BACKTRACE");
    cmd
}

/// Runs an executable built for `triple` with `args` (see `tools::run_built_for`).
pub fn run_for(triple: &str, exe: &Path, args: &[&str], what: &str) -> Option<Output> {
    let arch = triple.split('-').next().unwrap_or(triple);
    tools::run_built_for(arch, exe, args, what)
}

/// The command that runs an executable built for `triple` (see `tools::command_built_for`).
pub fn command_for(triple: &str, exe: &Path, what: &str) -> Option<Command> {
    let arch = triple.split('-').next().unwrap_or(triple);
    tools::command_built_for(arch, exe, what)
}

/// Runs `aot` with `args` and fails the test unless it succeeds.
pub fn compile(args: &[&str]) {
    let out = aot(args);
    assert!(
        out.status.success(),
        "aot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `input` for every target in [`TRIPLES`], once as `aot` chooses and once with
/// `flag` (a hidden flag that turns one of its choices off), into `dir`; returns (triple,
/// whether `flag` was left out, executable) of each.
pub fn compile_with_and_without(
    dir: &Path,
    input: &Path,
    flag: &str,
) -> Vec<(&'static str, bool, std::path::PathBuf)> {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut built = Vec::new();
    for triple in TRIPLES {
        for chosen in [true, false] {
            let exe = dir.join(format!("{stem}-{triple}-{chosen}"));
            let mut args = vec![
                input.to_str().expect("utf-8 path"),
                "-o",
                exe.to_str().expect("utf-8 path"),
                "--target",
                triple,
            ];
            if !chosen {
                args.push(flag);
            }
            compile(&args);
            built.push((triple, chosen, exe));
        }
    }
    built
}

/// Compiles the module `wat` for every target in [`TRIPLES`] and runs it without
/// arguments; returns (triple, output) of each run (a target whose runner is missing is
/// left out by [`run_for`]'s policy).
pub fn build_and_run(name: &str, wat: &str) -> Vec<(&'static str, Output)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join(format!("{name}.wat"));
    std::fs::write(&input, wat).expect("write the module");
    let mut runs = Vec::new();
    for triple in TRIPLES {
        let exe = dir.path().join(format!("{name}-{triple}"));
        let (input_s, exe_s) = (
            input.to_str().expect("utf-8 path"),
            exe.to_str().expect("utf-8 path"),
        );
        compile(&[input_s, "-o", exe_s, "--target", triple]);
        if let Some(out) = run_for(triple, &exe, &[], &format!("{name} on {triple}")) {
            runs.push((triple, out));
        }
    }
    runs
}

/// `(func $big (param $n i64) (result i64) ...)`, for stack overflow tests: recurses
/// forever with 4300 v128 values (67 KiB, more than the 64 KiB stack guard) live across its
/// recursive call, so each frame spills them. It loads them before the call (the call may
/// store, so they cannot be loaded again after it) from distinct addresses (so that none is
/// merged with another), all in the first 64 KiB: a memory of one page will do.
pub fn big_frame_func() -> String {
    const VALUES: usize = 4300;
    let mut wat = String::from("(func $big (param $n i64) (result i64)\n  (local");
    for _ in 0..VALUES {
        wat.push_str(" v128");
    }
    wat.push_str(")\n");
    for i in 0..VALUES {
        let _ = writeln!(
            wat,
            "  (local.set {} (v128.load (i32.const {})))",
            i + 1,
            i * 15
        );
    }
    wat.push_str("  (local.set 0 (call $big (i64.add (local.get 0) (i64.const 1))))\n");
    for i in 2..=VALUES {
        let _ = writeln!(
            wat,
            "  (local.set 1 (v128.xor (local.get 1) (local.get {i})))"
        );
    }
    wat.push_str("  (i64.add (local.get 0) (i64x2.extract_lane 0 (local.get 1))))\n");
    wat
}
