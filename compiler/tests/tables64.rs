//! 64-bit tables (the memory64 proposal's `table64`) in executables, on both targets: every
//! table instruction and `call_indirect` with i64 indices, and an index past 2^32 that
//! would wrap to a valid one in 32 bits trapping as out of bounds. No spec script of the
//! gate uses a 64-bit table, so this is their test; wasmtime 49 (`-W memory64`) exits 21 and
//! traps the same way on the same programs.

mod common;

use common::build_and_run;

/// Exits with 21 (1 + 100 + 10 + 10 + 100 - 200: one call through each slot, filled by an
/// active segment, table.grow, table.init + table.copy, table.fill and table.set) plus
/// `$probe`'s result, which instead traps: its index is 2^32.
const TABLE64: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (type $r (func (result i32)))
  (table $t i64 2 funcref)
  (table $u i64 4 funcref)
  (elem (table $t) (i64.const 0) func $one)
  (elem $seg func $ten $hundred)
  (func $one (result i32) (i32.const 1))
  (func $ten (result i32) (i32.const 10))
  (func $hundred (result i32) (i32.const 100))
  (func (export "_start")
    (local $sum i32)
    ;; grow by 3 with $ten: old size 2 as an i64
    (if (i64.ne (table.grow $t (ref.func $ten) (i64.const 3)) (i64.const 2)) (then unreachable))
    (if (i64.ne (table.size $t) (i64.const 5)) (then unreachable))
    ;; table.init $u[1..3] from the passive segment, copy $u[2] to $t[4], fill $t[1] with $hundred
    (table.init $u $seg (i64.const 1) (i32.const 0) (i32.const 2))
    (table.copy $t $u (i64.const 4) (i64.const 2) (i64.const 1))
    (table.fill $t (i64.const 1) (ref.func $hundred) (i64.const 1))
    (table.set $t (i64.const 2) (table.get $u (i64.const 1)))
    ;; 1 + 100 + 10 + 10 (grown) + 100 (copied)
    (local.set $sum
      (i32.add
        (i32.add (call_indirect $t (type $r) (i64.const 0))
                 (call_indirect $t (type $r) (i64.const 1)))
        (i32.add (i32.add (call_indirect $t (type $r) (i64.const 2))
                          (call_indirect $t (type $r) (i64.const 3)))
                 (call_indirect $t (type $r) (i64.const 4)))))
    ;; an index past 2^32 that would wrap to 0 in 32 bits must be out of bounds
    (call $exit (i32.add (i32.sub (local.get $sum) (i32.const 200)) (call $probe (i64.const 0x100000000)))))
  (func $probe (param i64) (result i32)
    (call_indirect $t (type $r) (local.get 0))))
"#;

#[test]
fn every_table_instruction_takes_i64_indices() {
    let in_bounds = TABLE64.replace("(call $probe (i64.const 0x100000000))", "(i32.const 0)");
    assert_ne!(in_bounds, TABLE64);
    for (triple, out) in build_and_run("table64", &in_bounds) {
        assert_eq!(
            out.status.code(),
            Some(21),
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn an_index_past_4_gib_is_out_of_bounds() {
    for (triple, out) in build_and_run("table64_oob", TABLE64) {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(134), "{triple}: {err}");
        assert!(
            err.starts_with("wasm trap: undefined element: out of bounds table access\n"),
            "{triple}: {err}"
        );
    }
}
