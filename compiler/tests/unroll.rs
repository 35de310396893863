//! Unrolled loops (`compiler/src/translate/unroll.rs`) end to end on both targets: a
//! program whose SHA-256-like rounds `aot` unrolls prints, for trip counts that leave from
//! each copy, exactly what it prints with `--no-unroll` and under wasmtime, and a division
//! by zero in a later copy traps with the same message, backtrace and exit code. The
//! unrolled executable is larger, so the loop was unrolled.
//!
//! A tool that is missing (qemu-aarch64) skips the part that needs it with a printed
//! `SKIPPED:` line, unless `CI` is set: then it fails the test.

mod common;

use common::{compile_with_and_without, run_for};

/// `$rounds` has no call and rotates its eight words through seven local-to-local copies:
/// `aot` unrolls it four times. `_start` prints eight hex words, the last of which is
/// never printed: round 6 divides by zero.
const PROGRAM: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; Prints `v` in hex (8 digits) and a newline.
  (func $print (param $v i32)
    (local $i i32) (local $d i32)
    (local.set $i (i32.const 8))
    (loop $digits
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (local.set $d (i32.and (local.get $v) (i32.const 15)))
      (i32.store8 (i32.add (i32.const 100) (local.get $i))
        (i32.add (local.get $d) (select (i32.const 87) (i32.const 48) (i32.gt_u (local.get $d) (i32.const 9)))))
      (local.set $v (i32.shr_u (local.get $v) (i32.const 4)))
      (br_if $digits (local.get $i)))
    (i32.store8 (i32.const 108) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 9))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Eight words rotating each round as in SHA-256, `n` rounds (at least one), mixing in
  ;; the word at memory[4 * (round % 16)]; divides by `d - round` when `d` is non-zero.
  (func $rounds (param $n i32) (param $d i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $e i32)
    (local $f i32) (local $g i32) (local $h i32) (local $k i32) (local $t i32) (local $r i32)
    (local.set $a (i32.const 0x6a09e667)) (local.set $b (i32.const 0xbb67ae85))
    (local.set $c (i32.const 0x3c6ef372)) (local.set $e (i32.const 0xa54ff53a))
    (local.set $f (i32.const 0x510e527f)) (local.set $g (i32.const 0x9b05688c))
    (local.set $h (i32.const 0x1f83d9ab)) (local.set $k (i32.const 0x5be0cd19))
    (loop
      (local.set $t
        (i32.add
          (i32.add (local.get $k) (i32.xor (i32.rotr (local.get $f) (i32.const 6)) (i32.rotr (local.get $f) (i32.const 11))))
          (i32.add (i32.load offset=200 (i32.shl (i32.and (local.get $r) (i32.const 15)) (i32.const 2)))
                   (if (result i32) (local.get $d)
                     (then (i32.div_u (i32.const 1000) (i32.sub (local.get $d) (local.get $r))))
                     (else (local.get $r))))))
      local.get $h local.set $k
      local.get $g local.set $h
      local.get $f local.set $g
      (local.set $f (i32.add (local.get $e) (local.get $t)))
      local.get $c local.set $e
      local.get $b local.set $c
      local.get $a local.set $b
      (local.set $a (i32.add (local.get $t) (i32.rotr (local.get $b) (i32.const 2))))
      (i32.store offset=200 (i32.shl (i32.and (local.get $r) (i32.const 15)) (i32.const 2)) (local.get $a))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get $r) (local.get $n))))
    (i32.xor (i32.xor (i32.xor (local.get $a) (local.get $b)) (i32.xor (local.get $c) (local.get $e)))
             (i32.xor (i32.xor (local.get $f) (local.get $g)) (i32.xor (local.get $h) (local.get $k)))))

  (func (export "_start")
    (call $print (call $rounds (i32.const 1) (i32.const 0)))
    (call $print (call $rounds (i32.const 2) (i32.const 0)))
    (call $print (call $rounds (i32.const 3) (i32.const 0)))
    (call $print (call $rounds (i32.const 4) (i32.const 0)))
    (call $print (call $rounds (i32.const 5) (i32.const 0)))
    (call $print (call $rounds (i32.const 64) (i32.const 0)))
    (call $print (call $rounds (i32.const 100000) (i32.const 0)))
    ;; Divides by zero in round 6 (the second copy of the second pass).
    (call $print (call $rounds (i32.const 64) (i32.const 6)))))
"#;

/// What `wasmtime run` prints for [`PROGRAM`] (stdout), before it traps.
const EXPECTED: &str = "6247dd2b\ndc483248\n972ade52\n3f4dbc7c\ndae838b1\nb23e1bef\nd594b6ab\n";

#[test]
fn unrolled_rounds_behave_as_the_loop() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("rounds.wat");
    std::fs::write(&input, PROGRAM).expect("write the module");
    let built = compile_with_and_without(dir.path(), &input, "--no-unroll");
    for (triple, unrolled, exe) in &built {
        let what = format!("rounds on {triple} (unrolled: {unrolled})");
        let Some(out) = run_for(triple, exe, &[], &what) else {
            continue;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            EXPECTED,
            "{what}: {stderr}"
        );
        assert_eq!(out.status.code(), Some(134), "{what}: {stderr}");
        assert!(
            stderr.starts_with(
                "wasm trap: integer divide by zero\nwasm backtrace:\n    0: rounds\n    1: <wasm function 3>\n"
            ),
            "{what}: {stderr}"
        );
    }
    for (triple, _, exe) in built.iter().filter(|(_, unrolled, _)| *unrolled) {
        let plain = built
            .iter()
            .find(|(t, unrolled, _)| t == triple && !unrolled)
            .map(|(_, _, exe)| exe)
            .expect("both builds of each target");
        let size = |p: &std::path::Path| std::fs::metadata(p).expect("executable").len();
        assert!(
            size(exe) > size(plain),
            "{triple}: unrolling left the executable at {} bytes ({} without)",
            size(exe),
            size(plain)
        );
    }
}
