//! Stack overflow in executables, on both targets: most Wasm functions check no stack limit
//! (an overflow faults in the guard below each thread's host slack, see
//! `runtime-lib/src/signals.rs`), so these cover what the guard must catch: a frame larger
//! than the guard (probed page by page), recursion through a host import and a builtin at
//! every level (whose checks keep the host slack), and recursion that fits still running.
//! Threads are covered in `threads.rs`.

mod common;

/// `$big` (`common::big_frame_func`) recurses with frames larger than the guard.
fn big_frame_module() -> String {
    format!(
        "(module\n(memory 1)\n{}(func (export \"_start\") (drop (call $big (i64.const 0)))))\n",
        common::big_frame_func()
    )
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
