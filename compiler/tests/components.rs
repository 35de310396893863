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

use common::{TRIPLES, aot, run_for, tools};

fn case_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/components")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs case `name` under wasmtime and aot; both must exit with `code` and report `words`
/// (with `code` 0: exit cleanly, saying nothing).
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
        if code == 0 {
            assert_eq!(err, "", "{what}");
            continue;
        }
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

// Fused adapters between two components (a nested component's lifted function lowered
// into its parent): the checks their generated code makes, each with wasmtime's words.

/// The callee returns 0xD800 as a `char`.
#[test]
fn adapter_checks_chars() {
    check("adapter-bad-char.wat", 134, "invalid `char` bit pattern");
}

/// The callee returns `option<u8>` (through memory) with discriminant 2.
#[test]
fn adapter_checks_discriminants_in_memory() {
    check(
        "adapter-bad-discriminant.wat",
        134,
        "invalid variant discriminant",
    );
}

/// The caller passes a flat `option<u32>` with discriminant 2.
#[test]
fn adapter_checks_flat_discriminants() {
    check(
        "adapter-bad-option-param.wat",
        134,
        "invalid variant discriminant",
    );
}

/// The caller passes a `list<u32>` at an odd address.
#[test]
fn adapter_checks_list_alignment() {
    check("adapter-unaligned-list.wat", 134, "unaligned pointer");
}

/// The caller passes a `list<u64>` of 65536 elements in a one-page memory.
#[test]
fn adapter_checks_list_bounds() {
    check(
        "adapter-list-out-of-bounds.wat",
        134,
        "list content out-of-bounds",
    );
}

/// The callee's realloc returns a misaligned pointer for a `list<u32>`.
#[test]
fn adapter_checks_what_realloc_returns() {
    check("adapter-realloc-unaligned.wat", 134, "unaligned pointer");
}

/// The caller passes a string that is not UTF-8: an error of the call, as wasmtime's
/// transcoder reports it.
#[test]
fn adapter_checks_utf8() {
    check("adapter-bad-utf8.wat", 1, "invalid utf8 encoding");
}

/// A child component calling back into its parent, which called it: allowed (wasmtime 49
/// runs it too).
#[test]
fn adapter_calls_back_into_the_parent() {
    check("adapter-reenter.wat", 0, "");
}
