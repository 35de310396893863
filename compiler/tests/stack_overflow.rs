//! Stack overflow in executables, on both targets: most Wasm functions check no stack limit
//! (an overflow faults in the guard below each thread's host slack, see
//! `runtime-lib/src/signals.rs`), so these cover what the guard must catch: a frame larger
//! than the guard (probed page by page), recursion through a host import and a builtin at
//! every level (whose checks keep the host slack), overflows inside the `memory.copy`
//! helper (a stub), and recursion that fits still running. Threads are covered in
//! `threads.rs`.

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

/// `$rec` copies `len` bytes within memory at every level before it recurses; `len` is its
/// parameter, a variable length, so the module's copy helper does the copy. `_start`
/// reaches `$rec` through `shifts` frames of `$shift` (called indirectly, so that it is not
/// inlined), which moves where the recursion's frames fall against the stack guard.
fn copy_recursion(len: u32, shifts: u32) -> String {
    format!(
        r#"(module
  (memory 1)
  (type $shift (func (param i32 i32 i32) (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $shift)
  (func $rec (param $len i32) (result i32)
    (memory.copy (i32.const 4096) (i32.const 8192) (local.get $len))
    (i32.add (call $rec (local.get $len)) (i32.const 1)))
  (func $shift (param $n i32) (param i32 i32) (result i32)
    (if (result i32) (local.get $n)
      (then
        (i32.add
          (call_indirect (type $shift)
            (i32.sub (local.get $n) (i32.const 1)) (local.get 1) (local.get 2) (i32.const 0))
          (i32.add (local.get $n) (i32.add (local.get 1) (local.get 2)))))
      (else (call $rec (i32.const {len})))))
  (func (export "_start")
    (drop (call_indirect (type $shift)
      (i32.const {shifts}) (i32.const 2) (i32.const 3) (i32.const 0)))))"#
    )
}

/// A copy longer than the helper copies itself: the helper checks the stack limit before
/// `memmove` (its callers check nothing), so the recursion traps there as soon as it passes
/// the limit, and the trap, in the helper, is reported at the call in `$rec`. With the
/// helper not registered as a stub this was a crash (SIGILL on its trap instruction).
#[test]
fn overflow_at_the_copy_helpers_check_is_a_stack_overflow() {
    let runs = common::build_and_run("copy-helper-check", &copy_recursion(100, 0));
    assert_overflow(&runs, "rec", true);
}

/// Short copies: the helper checks nothing, so the recursion runs through the host slack
/// into the guard. On aarch64 the helper stores its own frame record just below `$rec`'s
/// frame, before the next level stores there, so when the guard begins right below a
/// `$rec` frame the helper's prologue faults. `$rec`'s frames are 32 bytes (frame record,
/// two saved registers) and `$shift`'s 48, so whatever the stack's start, one of the two
/// runs meets the guard that way: with the helper not registered as a stub, that run's
/// report had no backtrace. (If a code-generation change alters those frame sizes, check
/// that again.) On x86_64 the call's push of the return address, in `$rec`, faults first.
#[test]
fn overflow_in_the_copy_helpers_prologue_is_a_stack_overflow() {
    for shifts in [0, 1] {
        let runs = common::build_and_run(
            &format!("copy-helper-prologue-{shifts}"),
            &copy_recursion(16, shifts),
        );
        assert_overflow(&runs, "rec", true);
    }
}
