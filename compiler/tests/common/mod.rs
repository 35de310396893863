//! What the `aot` command's end-to-end tests share: running `aot`, and running what it
//! builds for either target (natively, or under qemu-aarch64), with the project's one
//! policy for missing tools.

#![allow(dead_code, reason = "each test file uses a part")]

use std::path::Path;
use std::process::{Command, Output};

// The policy for missing tools of the other end-to-end tests; included by path because a
// dev-dependency on aot-tests (which depends on this crate) would build the compiler twice.
#[path = "../../../tests/src/tools.rs"]
pub mod tools;

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
