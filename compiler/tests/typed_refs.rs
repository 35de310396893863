//! Typed function references and Wasm 3.0's type system in executables, on both targets:
//! `call_ref` through typed tables and locals, the `null reference` traps, `call_indirect`
//! to a declared function subtype (iso-recursive canonical types, which the spec scripts of
//! the gate do not exercise with `sub`). GC's own traps are in gc_traps.rs.

mod common;

use common::{aot, build_and_run};

/// Exits with status 42 = 40 (from $forty through a typed table and call_ref) + 2 (from a
/// subtype's function through call_indirect of its supertype).
const CALLS: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (type $ii (func (param i32) (result i32)))
  (type $base (sub (func (result i32))))
  (type $derived (sub final $base (func (result i32))))
  (table $typed 2 (ref null $ii) (ref.func $forty))
  (table $any 1 funcref)
  (elem (table $any) (i32.const 0) func $two)
  (elem declare func $forty $two)
  (func $forty (type $ii) (i32.add (local.get 0) (i32.const 39)))
  (func $two (type $derived) (i32.const 2))
  (func $via_local (param $f (ref $ii)) (result i32)
    (local $g (ref $ii))
    (local.set $g (local.get $f))
    (call_ref $ii (i32.const 1) (local.get $g)))
  (func (export "_start")
    (return_call $exit
      (i32.add
        (call $via_local (ref.as_non_null (table.get $typed (i32.const 1))))
        (call_indirect $any (type $base) (i32.const 0))))))
"#;

#[test]
fn call_ref_and_call_indirect_to_a_subtype_run() {
    for (triple, out) in build_and_run("calls", CALLS) {
        assert_eq!(
            out.status.code(),
            Some(42),
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A function of the supertype called through call_indirect of the subtype: a mismatch.
const SUPER_AS_SUB: &str = r#"(module
  (type $base (sub (func)))
  (type $derived (sub $base (func)))
  (table funcref (elem $f))
  (func $f (type $base))
  (func (export "_start") (call_indirect (type $derived) (i32.const 0))))
"#;

/// call_ref of a null function reference.
const NULL_CALL_REF: &str = r#"(module
  (type $t (func))
  (func $callee (param $f (ref null $t)) (call_ref $t (local.get $f)))
  (func (export "_start") (call $callee (ref.null $t))))
"#;

/// ref.as_non_null of null.
const NULL_AS_NON_NULL: &str = r#"(module
  (func (export "_start") (drop (ref.as_non_null (ref.null func)))))
"#;

#[test]
fn traps_are_wasmtimes() {
    for (name, wat, message) in [
        ("super_as_sub", SUPER_AS_SUB, "indirect call type mismatch"),
        ("null_call_ref", NULL_CALL_REF, "null reference"),
        ("null_as_non_null", NULL_AS_NON_NULL, "null reference"),
    ] {
        for (triple, out) in build_and_run(name, wat) {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(134), "{name} on {triple}: {err}");
            assert!(
                err.starts_with(&format!("wasm trap: {message}\n")),
                "{name} on {triple}: {err}"
            );
        }
    }
}
