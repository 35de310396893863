//! A global kept in the pinned register (`aot::scan::register_global`), end to end on
//! both targets: a program that moves its shadow stack pointer in deep recursion, across
//! host calls, through `call_indirect`, around exceptions thrown with frames still taken
//! (the global keeps the value it had at the throw, as globals do), and in wasi-threads'
//! threads (each with its own) prints exactly what it prints with every global in the
//! instance (`--no-global-register`).
//!
//! A tool that is missing (qemu-aarch64) skips the part that needs it with a printed
//! `SKIPPED:` line, unless `CI` is set: then it fails the test.

mod common;

use common::{compile_with_and_without, run_for};

/// `$sp` is used far more than the 8 uses that earn the register. Prints (as decimal
/// lines) a recursion's sum, `$sp` after each part, and the checks' codes.
const PROGRAM: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 4)
  (global $sp (mut i32) (i32.const 262144))
  (global $other (mut i32) (i32.const 0))
  (tag $oops (param i32))
  (type $rec_t (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $rec $rec_indirect)

  ;; Prints `v` in decimal and a newline, from a frame of its own on the shadow stack.
  (func $print (param $v i32)
    (local $fp i32) (local $p i32)
    (local.set $fp (i32.sub (global.get $sp) (i32.const 32)))
    (global.set $sp (local.get $fp))
    (local.set $p (i32.add (local.get $fp) (i32.const 31)))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digits (local.get $v)))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.add (local.get $fp) (i32.const 32)) (local.get $p)))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (global.set $sp (i32.add (local.get $fp) (i32.const 32))))

  ;; sum(1..n), each frame keeping its n on the shadow stack across the recursive call.
  (func $rec (param $n i32) (result i32)
    (local $fp i32) (local $r i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (local.set $fp (i32.sub (global.get $sp) (i32.const 16)))
    (global.set $sp (local.get $fp))
    (i32.store (local.get $fp) (local.get $n))
    (local.set $r (call $rec (i32.sub (local.get $n) (i32.const 1))))
    (local.set $r (i32.add (local.get $r) (i32.load (local.get $fp))))
    (global.set $sp (i32.add (local.get $fp) (i32.const 16)))
    (local.get $r))

  ;; The same through the table, printing at depth 3 (a host call inside the recursion).
  (func $rec_indirect (param $n i32) (result i32)
    (local $fp i32) (local $r i32)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0))))
    (if (i32.eq (local.get $n) (i32.const 3)) (then (call $print (global.get $sp))))
    (local.set $fp (i32.sub (global.get $sp) (i32.const 16)))
    (global.set $sp (local.get $fp))
    (i32.store (local.get $fp) (local.get $n))
    (local.set $r (call_indirect (type $rec_t) (i32.sub (local.get $n) (i32.const 1)) (i32.const 1)))
    (local.set $r (i32.add (local.get $r) (i32.load (local.get $fp))))
    (global.set $sp (i32.add (local.get $fp) (i32.const 16)))
    (local.get $r))

  ;; Takes a frame, then throws from `depth` frames down with every frame still taken.
  (func $throw_deep (param $depth i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 64)))
    (global.set $other (i32.add (global.get $other) (i32.const 1)))
    (if (i32.eqz (local.get $depth)) (then (throw $oops (global.get $sp))))
    (call $throw_deep (i32.sub (local.get $depth) (i32.const 1))))

  ;; Catches: the global holds what it held at the throw; then restores it.
  (func $catcher (result i32)
    (local $saved i32) (local $at_throw i32)
    (local.set $saved (global.get $sp))
    (local.set $at_throw
      (block $h (result i32)
        (try_table (catch $oops $h) (call $throw_deep (i32.const 10)))
        (i32.const -1)))
    (call $print (i32.sub (local.get $saved) (global.get $sp)))
    (call $print (i32.eq (local.get $at_throw) (global.get $sp)))
    (global.set $sp (local.get $saved))
    (i32.sub (local.get $saved) (local.get $at_throw)))

  (func (export "_start")
    (call $print (call $rec (i32.const 5000)))
    (call $print (global.get $sp))
    (call $print (call_indirect (type $rec_t) (i32.const 100) (i32.const 1)))
    (call $print (global.get $sp))
    (call $print (call $catcher))
    (call $print (global.get $sp))
    (call $print (global.get $other))
    (call $exit (i32.and (global.get $sp) (i32.const 0x7f)))))
"#;

/// What `wasmtime run -W exceptions=y` prints: 5000 * 5001 / 2; the stack pointer back at 262144 after each part; at depth 3 of the
/// indirect recursion 97 frames of 16 bytes are taken; 11 frames of 64 bytes at the throw;
/// 11 calls counted; exit code 262144 & 0x7f = 0.
const EXPECTED: &str = "12502500\n262144\n260592\n5050\n262144\n704\n1\n704\n262144\n11\n";

#[test]
fn a_global_in_a_register_behaves_as_in_the_instance() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("sp.wat");
    std::fs::write(&input, PROGRAM).expect("write the module");
    for (triple, register, exe) in
        compile_with_and_without(dir.path(), &input, "--no-global-register")
    {
        let what = format!("sp on {triple} (register: {register})");
        let Some(out) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            EXPECTED,
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{what}");
    }
}
