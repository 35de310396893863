//! GC roots in Wasm frames, end to end on both targets: references live across calls are
//! found by the runtime's stack walk (`trap::visit_stack_roots`, through the test host's
//! `aot_test::gc_roots`) in every Wasm frame from the caller outwards, across a host frame
//! (Wasm -> `aot_test::call` -> Wasm), each slot once; and a slot the walk rewrites is what
//! the Wasm code reads after the call, as a moving collector needs. Producers covered:
//! params, locals, call results, `global.get`, `table.get`, a block result, typed `select`,
//! `br_on_non_null`'s branch value.

mod common;

use common::{TRIPLES, compile, run_for};

/// Every host reference `n` the walk sees becomes `n + 10`; each `print_i32` shows what
/// the code reads after the walk.
const WAT: &str = r#"(module
  (import "aot_test" "host_ref" (func $ref (param i32) (result externref)))
  (import "aot_test" "host_ref_number" (func $num (param externref) (result i32)))
  (import "aot_test" "gc_roots" (func $roots (result i32)))
  (import "aot_test" "call" (func $call (param funcref)))
  (import "aot_test" "print_i32" (func $print (param i32)))
  (type $void (func))
  (global $g (mut externref) (ref.null extern))
  (global $count (mut i32) (i32.const 0))
  (table $t 1 externref)
  (elem declare func $via_host)

  ;; Innermost: a param and a local live across the walk.
  (func $inner (param $a externref)
    (local $b externref)
    (local.set $b (call $ref (i32.const 3)))
    (global.set $count (call $roots))
    (call $print (call $num (local.get $a)))
    (call $print (call $num (local.get $b))))

  ;; Called by the host: nothing of its own is live across its call.
  (func $via_host (type $void)
    (call $inner (call $ref (i32.const 4))))

  ;; A param and a local live across the host call.
  (func $middle (param $x externref) (result externref)
    (local $y externref)
    (local.set $y (call $ref (i32.const 2)))
    (call $call (ref.func $via_host))
    (call $print (global.get $count))
    (call $print (call $num (local.get $x)))
    (call $print (call $num (local.get $y)))
    (local.get $x))

  (func $show (param externref externref externref externref externref i32)
    (call $print (call $num (local.get 0)))
    (call $print (call $num (local.get 1)))
    (call $print (call $num (local.get 2)))
    (call $print (call $num (local.get 3)))
    (call $print (call $num (local.get 4)))
    (call $print (local.get 5)))

  (func (export "_start")
    (local $z externref)
    (local.set $z (call $ref (i32.const 1)))
    (drop (call $middle (local.get $z)))
    (call $print (call $num (local.get $z)))
    (global.set $g (call $ref (i32.const 6)))
    (table.set $t (i32.const 0) (call $ref (i32.const 5)))
    ;; Operand-stack values live across the second walk.
    (call $show
      (global.get $g)
      (table.get $t (i32.const 0))
      (block (result externref) (call $ref (i32.const 7)))
      (select (result externref) (call $ref (i32.const 8)) (ref.null extern) (i32.const 1))
      (block $b (result externref)
        (br_on_non_null $b (call $ref (i32.const 9)))
        (ref.null extern))
      (call $roots))
    ;; The walk rewrote $z's slot again.
    (call $print (call $num (local.get $z)))))
"#;

/// What the program prints: the first walk sees $inner's a (4) and b (3), $middle's x (1)
/// and y (2) across the host frame, and $_start's z (1) — each once; the second sees
/// z (now 11) and the five operand-stack values.
const EXPECTED: &str = "\
spectest: roots 1 1 2 3 4
spectest: 14: i32
spectest: 13: i32
spectest: 5: i32
spectest: 11: i32
spectest: 12: i32
spectest: 11: i32
spectest: roots 5 6 7 8 9 11
spectest: 16: i32
spectest: 15: i32
spectest: 17: i32
spectest: 18: i32
spectest: 19: i32
spectest: 6: i32
spectest: 21: i32
";

#[test]
fn roots_are_found_in_every_wasm_frame_and_rewritable() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("roots.wat");
    std::fs::write(&input, WAT).expect("write the module");
    let input = input.to_str().expect("utf-8 path");
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("roots-{triple}-O{opt}"));
            let exe_s = exe.to_str().expect("utf-8 path");
            compile(&[
                input,
                "-o",
                exe_s,
                "--target",
                triple,
                "--test-host",
                "-O",
                opt,
            ]);
            let what = format!("roots on {triple} -O{opt}");
            let Some(out) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{what}: {:?}\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(stdout, EXPECTED, "{what}");
        }
    }
}
