//! Hand-written components at the edges of the canonical ABI, end to end: each is run by
//! `wasmtime run` and, compiled by `aot`, on x86_64 and aarch64 (natively or under
//! qemu-aarch64); the exit status and the last line of wasmtime's report must be what the
//! case expects, and the aot executable must end the same way with the same words.
//! (Real programs — Rust for wasm32-wasip2, C with the preview 1 adapter — are compared
//! with wasmtime by tests/tests/examples.rs.)
//!
//! A tool that is missing (wasmtime, qemu-aarch64) skips the part that needs it with a
//! printed `SKIPPED:` line, unless `CI` is set: then it fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{aot, run_for, tools};

const TRIPLES: [&str; 2] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

fn case_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/components")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs case `name` under wasmtime and aot; both must exit with `code` and report `words`.
fn check(name: &str, code: i32, words: &str) {
    let input = case_path(name);
    let input_s = input.to_string_lossy().into_owned();
    let what = format!("wasmtime run {name}");
    match tools::find_wasmtime() {
        Ok(wt) => {
            let out = Command::new(wt)
                .arg("run")
                .arg(&input)
                .output()
                .expect("run wasmtime");
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{what}: {err}");
            assert!(err.contains(words), "{what}: expected {words:?} in {err}");
        }
        Err(why) => tools::skip_missing(&what, &why),
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for triple in TRIPLES {
        let exe = dir.path().join(format!("app-{triple}"));
        let out = aot(&[
            &input_s,
            "--target",
            triple,
            "-o",
            exe.to_str().expect("utf-8"),
        ]);
        assert!(
            out.status.success(),
            "aot {name} for {triple}: {}",
            text(&out.stderr)
        );
        let what = format!("{name} compiled by aot for {triple}");
        let Some(run) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        let err = text(&run.stderr);
        assert_eq!(run.status.code(), Some(code), "{what}: {err}");
        let first = err.lines().next().unwrap_or_default();
        let expected_first = if code == 134 {
            format!("wasm trap: {words}")
        } else {
            format!("error: {words}")
        };
        assert_eq!(first, expected_first, "{what}: {err}");
        assert!(err.contains("wasm backtrace:"), "{what}: {err}");
    }
}

/// The host's call of the guest's `realloc` (to return `get-arguments`' list) calls a
/// lowered import: the component may not leave then, a trap.
#[test]
fn calling_out_of_realloc_traps() {
    check(
        "realloc-calls-out.wat",
        134,
        "cannot leave component instance",
    );
}

/// `resource.drop` of a handle the table does not hold: an error of the call (status 1).
#[test]
fn dropping_an_unknown_handle_is_an_error() {
    check("drop-unknown-handle.wat", 1, "unknown handle index 99");
}
