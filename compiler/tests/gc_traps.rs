//! How Wasm GC programs end when something goes wrong, on both targets, against `wasmtime
//! run -W gc=y,function-references=y,exceptions=y`: each GC trap with wasmtime's words and
//! exit 134, an object too large for any heap (a trap), and an exhausted heap (an error,
//! exit 1, also with a smaller `--max-gc-heap`), and GC types in a threaded program
//! refused at compile time. The spec scripts (proposals/gc) cover each instruction's
//! semantics; the examples cover whole programs.

use std::process::Command;

mod common;

use common::{TRIPLES, aot, build_and_run, compile, run_for, tools};

/// Runs `wasmtime run` with GC enabled on `wat`; None (after the missing-tool policy)
/// without wasmtime.
fn wasmtime(dir: &std::path::Path, name: &str, wat: &str) -> Option<std::process::Output> {
    let input = dir.join(format!("{name}.wat"));
    std::fs::write(&input, wat).expect("write the module");
    match tools::find_wasmtime() {
        Ok(wt) => Some(
            Command::new(wt)
                .args(["run", "-W", "gc=y,function-references=y,exceptions=y"])
                .arg(&input)
                .env("RUST_BACKTRACE", "0")
                .output()
                .expect("run wasmtime"),
        ),
        Err(why) => {
            tools::skip_missing(&format!("wasmtime run {name}"), &why);
            None
        }
    }
}

/// (name, module, the message after `wasm trap: ` or `error: `, exit status).
const CASES: &[(&str, &str, &str, i32)] = &[
    (
        "struct_get_null",
        r#"(module (type $s (struct (field i32)))
             (func (export "_start") (drop (struct.get $s 0 (ref.null $s)))))"#,
        "wasm trap: null reference",
        134,
    ),
    (
        "struct_set_null",
        r#"(module (type $s (struct (field (mut i64))))
             (func (export "_start") (struct.set $s 0 (ref.null $s) (i64.const 1))))"#,
        "wasm trap: null reference",
        134,
    ),
    (
        "array_len_null",
        r#"(module (type $a (array (mut i32)))
             (func (export "_start") (drop (array.len (ref.null $a)))))"#,
        "wasm trap: null reference",
        134,
    ),
    (
        "i31_get_null",
        r#"(module (func (export "_start") (drop (i31.get_s (ref.null i31)))))"#,
        "wasm trap: null reference",
        134,
    ),
    (
        "cast_to_sibling",
        r#"(module (type $s (struct (field i32))) (type $t (struct (field i64)))
             (func (export "_start") (drop (ref.cast (ref $t) (struct.new $s (i32.const 1))))))"#,
        "wasm trap: cast failure",
        134,
    ),
    (
        "cast_null_to_non_null",
        r#"(module (type $s (struct (field i32)))
             (func (export "_start") (drop (ref.cast (ref $s) (ref.null any)))))"#,
        "wasm trap: cast failure",
        134,
    ),
    (
        "array_get_at_len",
        r#"(module (type $a (array (mut i32)))
             (func (export "_start")
               (drop (array.get $a (array.new_default $a (i32.const 3)) (i32.const 3)))))"#,
        "wasm trap: out of bounds array access",
        134,
    ),
    (
        "array_copy_past_end",
        r#"(module (type $a (array (mut i32)))
             (func (export "_start") (local $x (ref $a))
               (local.set $x (array.new_default $a (i32.const 3)))
               (array.copy $a $a (local.get $x) (i32.const 1) (local.get $x) (i32.const 0)
                 (i32.const 3))))"#,
        "wasm trap: out of bounds array access",
        134,
    ),
    (
        "array_new_data_past_segment",
        r#"(module (type $a (array i8)) (data $d "abc")
             (func (export "_start") (drop (array.new_data $a $d (i32.const 2) (i32.const 2)))))"#,
        "wasm trap: out of bounds memory access",
        134,
    ),
    (
        "array_of_16_gib",
        r#"(module (type $a (array (mut i64)))
             (func (export "_start") (drop (array.new_default $a (i32.const 0x7fffffff)))))"#,
        "wasm trap: allocation size too large",
        134,
    ),
    (
        "array_of_2_gib",
        r#"(module (type $a (array (mut i8)))
             (func (export "_start") (drop (array.new_default $a (i32.const 0x7fffffff)))))"#,
        "error: GC heap out of memory",
        1,
    ),
];

#[test]
fn gc_traps_end_the_program_as_wasmtime_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    for &(name, wat, message, code) in CASES {
        if let Some(out) = wasmtime(dir.path(), name, wat) {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "wasmtime {name}: {err}");
            // wasmtime words the cause after its own prefix.
            let cause = message
                .trim_start_matches("wasm trap: ")
                .trim_start_matches("error: ");
            assert!(err.contains(cause), "wasmtime {name}: {err}");
        }
        for (triple, out) in build_and_run(name, wat) {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{name} on {triple}: {err}");
            assert!(err.starts_with(message), "{name} on {triple}: {err}");
            assert!(
                err.contains("wasm backtrace:"),
                "{name} on {triple}: a backtrace: {err}"
            );
        }
    }
}

/// Keeps a chain of arrays live until the heap cannot hold it: with `--max-gc-heap 64M`
/// the program ends with wasmtime's words and status 1 after a few MB of collections.
#[test]
fn an_exhausted_heap_is_an_error_within_the_maximum() {
    let wat = r#"(module (type $a (array (mut (ref null $a))))
      (func (export "_start") (local $i i32) (local $x (ref null $a))
        (loop $l
          (local.set $x (array.new $a (local.get $x) (i32.const 1000)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (i32.const 10000000))))))"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("live.wat");
    std::fs::write(&input, wat).expect("write");
    for triple in TRIPLES {
        let exe = dir.path().join(format!("live-{triple}"));
        let (input_s, exe_s) = (input.to_str().expect("utf-8"), exe.to_str().expect("utf-8"));
        compile(&[
            input_s,
            "-o",
            exe_s,
            "--target",
            triple,
            "--max-gc-heap",
            "64M",
        ]);
        let Some(out) = run_for(triple, &exe, &[], &format!("live on {triple}")) else {
            continue;
        };
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{triple}: {err}");
        assert!(
            err.starts_with(
                "error: GC heap out of memory: no capacity for allocation of 8016 bytes\n"
            ),
            "{triple}: {err}"
        );
    }
    // A bad size is refused before anything is built.
    let out = aot(&[
        input.to_str().expect("utf-8"),
        "--max-gc-heap",
        "12X",
        "-o",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-gc-heap 12X"), "{err}");
}

/// A subtype's fields extend its supertype's: reading an inherited field through the
/// supertype's type must find it wherever the subtype keeps it (here after a field of a
/// different size, where a layout that sorted fields by size would move it).
#[test]
fn inherited_fields_are_read_through_the_supertype() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (type $base (sub (struct (field i8) (field (mut i32)))))
      (type $derived (sub final $base (struct (field i8) (field (mut i32)) (field i64) (field f64))))
      (func $get (param (ref $base)) (result i32)
        (i32.add (struct.get_u $base 0 (local.get 0)) (struct.get $base 1 (local.get 0))))
      (func (export "_start")
        (local $d (ref $derived))
        (local.set $d (struct.new $derived (i32.const 7) (i32.const 30) (i64.const -1) (f64.const 2)))
        (struct.set $base 1 (local.get $d) (i32.const 35))
        (call $exit (i32.add (call $get (local.get $d))
                             (i32.wrap_i64 (i64.add (i64.const 1) (struct.get $derived 2 (local.get $d))))))))"#;
    let dir = tempfile::tempdir().expect("temp dir");
    if let Some(out) = wasmtime(dir.path(), "inherited", wat) {
        assert_eq!(out.status.code(), Some(42));
    }
    for (triple, out) in build_and_run("inherited", wat) {
        assert_eq!(
            out.status.code(),
            Some(42),
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
