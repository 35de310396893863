//! Stack overflow in executables, on both targets: most Wasm functions check no stack limit
//! (an overflow faults in the guard below each thread's host slack, see
//! `runtime-lib/src/signals.rs`), so these cover what the guard must catch: a frame larger
//! than the guard (probed page by page), recursion through a host import and a builtin at
//! every level (whose checks keep the host slack), and recursion that fits still running.
//! Threads are covered in `threads.rs`.

mod common;

use std::fmt::Write as _;

/// `$big` recurses with 4300 v128 values (67 KiB, more than the 64 KiB guard) live across
/// its recursive call, so each frame spills them.
pub fn big_frame_module() -> String {
    const VALUES: usize = 4300;
    let mut wat =
        String::from("(module\n  (memory 2)\n  (func $big (param $n i64) (result i64)\n    (local");
    for _ in 0..VALUES {
        wat.push_str(" v128");
    }
    wat.push_str(")\n");
    for i in 0..VALUES {
        // Loads before the call: the call may store, so they cannot be redone after it.
        let _ = writeln!(
            wat,
            "    (local.set {} (v128.load (i32.const {})))",
            i + 1,
            i * 16
        );
    }
    wat.push_str("    (local.set 0 (call $big (i64.add (local.get 0) (i64.const 1))))\n");
    for i in 2..=VALUES {
        let _ = writeln!(
            wat,
            "    (local.set 1 (v128.xor (local.get 1) (local.get {i})))"
        );
    }
    wat.push_str(
        "    (i64.add (local.get 0) (i64x2.extract_lane 0 (local.get 1))))\n  \
         (func (export \"_start\") (drop (call $big (i64.const 0)))))\n",
    );
    wat
}

/// Asserts every run trapped with stack overflow and wasmtime's exit status, with a
/// backtrace of `frame` only (257 frames, the most a backtrace keeps, when `full`).
fn assert_overflow(runs: &[(&str, std::process::Output)], frame: &str, full: bool) {
    assert_eq!(runs.len(), common::TRIPLES.len().min(runs.len()));
    for (triple, run) in runs {
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(134), "{triple}: {stderr}");
        let mut lines = stderr.lines();
        assert_eq!(
            lines.next(),
            Some("wasm trap: call stack exhausted"),
            "{triple}"
        );
        assert_eq!(lines.next(), Some("wasm backtrace:"), "{triple}");
        let frames: Vec<&str> = lines.collect();
        assert!(!frames.is_empty(), "{triple}: {stderr}");
        let (last, callers) = frames.split_last().unwrap();
        for (i, line) in callers.iter().enumerate() {
            assert_eq!(*line, format!("    {i}: {frame}"), "{triple}: {stderr}");
        }
        if full {
            assert_eq!(frames.len(), 257, "{triple}: {stderr}");
            assert_eq!(*last, format!("    256: {frame}"), "{triple}");
        } else {
            // The export that started the recursion, unnamed.
            assert!(
                *last == format!("    {}: <wasm function 1>", frames.len() - 1),
                "{triple}: {stderr}"
            );
        }
    }
}

#[test]
fn recursion_of_a_frame_larger_than_the_guard_is_a_stack_overflow() {
    let runs = common::build_and_run("big-frame", &big_frame_module());
    assert_overflow(&runs, "big", false);
}

/// `$rec` calls a host import (an fd_write of nothing: the host-call trampoline checks the
/// limit) or a builtin (`memory.grow`: the function checks it) before recursing.
fn host_call_recursion(call: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (func $rec (param i32) (result i32)
    {call}
    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "_start") (drop (call $rec (i32.const 0)))))"#
    )
}

#[test]
fn recursion_through_a_host_import_or_builtin_at_every_level_traps_cleanly() {
    let runs = common::build_and_run(
        "host-import-recursion",
        &host_call_recursion(
            "(drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 8)))",
        ),
    );
    assert_overflow(&runs, "rec", true);
    let runs = common::build_and_run(
        "builtin-recursion",
        &host_call_recursion("(drop (memory.grow (i32.const 0)))"),
    );
    assert_overflow(&runs, "rec", true);
}

/// Recursion 20000 deep with a few values live per frame fits in the Wasm stack (1 MiB)
/// and returns, as it did with a check in every function.
#[test]
fn deep_recursion_that_fits_still_returns() {
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func $sum (param $n i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (i64.const 0))
      (else (i64.add (local.get $n) (call $sum (i64.sub (local.get $n) (i64.const 1)))))))
  (func (export "_start")
    (call $exit (i32.wrap_i64 (i64.rem_u (call $sum (i64.const 20000)) (i64.const 97))))))"#;
    // 20000 * 20001 / 2 = 200010000, mod 97.
    let want = (200_010_000u64 % 97) as i32;
    for (triple, run) in common::build_and_run("deep-recursion", wat) {
        assert_eq!(
            run.status.code(),
            Some(want),
            "{triple}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
