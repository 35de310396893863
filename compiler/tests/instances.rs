//! Programs of several instances and host functions that call back into Wasm, end to end:
//! `aot --preload NAME=lib.wasm` compared with `wasmtime run --preload` (a shared memory,
//! table and global, v128 values across instances, one module preloaded under two names,
//! `_initialize` before `_start`),
//! and the test host's `aot_test::call`, whose callee traps through the host frame. Every
//! executable is built for x86_64 and aarch64 and run natively or under qemu-aarch64.
//!
//! A tool that is missing (wasmtime, qemu-aarch64) skips the part that needs it with a
//! printed `SKIPPED:` line, unless `CI` is set: then it fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{TRIPLES, aot, aot_in, run_for, tools};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes the named WAT files into a fresh directory.
fn files(wats: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, wat) in wats {
        std::fs::write(dir.path().join(name), wat).expect("write wat");
    }
    dir
}

/// Compiles `main` with `flags` for `triple` in `dir`; panics with aot's error if it fails.
fn build(dir: &Path, triple: &str, main: &str, flags: &[&str], out: &str) -> PathBuf {
    let exe = dir.join(format!("{out}-{triple}"));
    let mut args = vec![
        main,
        "-o",
        exe.to_str().expect("utf-8 path"),
        "--target",
        triple,
    ];
    args.extend_from_slice(flags);
    let result = aot_in(dir, &args);
    assert!(
        result.status.success(),
        "aot {args:?}: {}",
        text(&result.stderr)
    );
    exe
}

/// Runs `wasmtime run <flags> <main>` in `dir` and the aot executables of `main` with the
/// same flags on both targets; their stdout and exit code must be `expected` (checked
/// against wasmtime too, so the expectation is wasmtime's behaviour, not ours).
fn check_against_wasmtime(dir: &Path, main: &str, flags: &[&str], expected: (&str, i32)) {
    let what = format!("wasmtime run {} {main}", flags.join(" "));
    match tools::find_wasmtime() {
        Ok(wt) => {
            let out = Command::new(wt)
                .arg("run")
                .args(flags)
                .arg(main)
                .current_dir(dir)
                .output()
                .expect("run wasmtime");
            assert_eq!(
                (text(&out.stdout).as_str(), out.status.code().unwrap_or(-1)),
                expected,
                "{what}; stderr: {}",
                text(&out.stderr)
            );
        }
        Err(why) => tools::skip_missing(&what, &why),
    }
    for triple in TRIPLES {
        let exe = build(dir, triple, main, flags, "app");
        let what = format!("aot {} {main} for {triple}", flags.join(" "));
        let Some(out) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        assert_eq!(
            (text(&out.stdout).as_str(), out.status.code().unwrap_or(-1)),
            expected,
            "{what}; stderr: {}",
            text(&out.stderr)
        );
    }
}

/// A library: a memory with a data segment, a funcref table with `seven` at 0, a mutable
/// global counter, `bump` (count += 1, returns it), `say(ptr, len)` (writes to stdout from
/// its memory) and an `_initialize` that announces itself.
const LIB: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table (export "table") 2 funcref)
  (global $count (export "count") (mut i32) (i32.const 0))
  (data (i32.const 100) "lib data\n")
  (data (i32.const 120) "lib init\n")
  (func $seven (result i32) (i32.const 7))
  (elem (i32.const 0) $seven)
  (func (export "bump") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func $say (export "say") (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_initialize") (call $say (i32.const 120) (i32.const 9))))
"#;

/// Imports the library's memory, table, global and functions: reads the library's data
/// through the shared memory, calls through the shared table (the library's element and
/// its own), and sees one global from both sides.
const SHARES: &str = r#"(module
  (import "lib" "memory" (memory 1))
  (import "lib" "table" (table 2 funcref))
  (import "lib" "count" (global $count (mut i32)))
  (import "lib" "bump" (func $bump (result i32)))
  (import "lib" "say" (func $say (param i32 i32)))
  (type $ret_i32 (func (result i32)))
  (func $eight (result i32) (i32.const 8))
  (elem (i32.const 1) $eight)
  (func $digit (param $at i32) (param $v i32)
    (i32.store8 (local.get $at) (i32.add (i32.const 48) (local.get $v))))
  (func (export "_start")
    (call $say (i32.const 100) (i32.const 9))
    (drop (call $bump))
    (drop (call $bump))
    (call $digit (i32.const 200) (global.get $count))
    (call $digit (i32.const 201) (call_indirect (type $ret_i32) (i32.const 0)))
    (call $digit (i32.const 202) (call_indirect (type $ret_i32) (i32.const 1)))
    (global.set $count (i32.const 5))
    (call $digit (i32.const 203) (call $bump))
    (i32.store8 (i32.const 204) (i32.const 10))
    (call $say (i32.const 200) (i32.const 5))))
"#;

/// The library twice, as `a` and `b`: two instances with a memory and a counter each.
const TWICE: &str = r#"(module
  (import "a" "bump" (func $abump (result i32)))
  (import "b" "bump" (func $bbump (result i32)))
  (import "a" "memory" (memory 1))
  (import "a" "say" (func $say (param i32 i32)))
  (import "b" "count" (global $bcount (mut i32)))
  (func (export "_start")
    (drop (call $abump))
    (drop (call $abump))
    (drop (call $abump))
    (drop (call $bbump))
    (i32.store8 (i32.const 300) (i32.add (i32.const 48) (call $abump)))
    (i32.store8 (i32.const 301) (i32.add (i32.const 48) (global.get $bcount)))
    (i32.store8 (i32.const 302) (i32.const 10))
    (call $say (i32.const 300) (i32.const 3))))
"#;

/// Has `_initialize` and `_start`, and no import from the library but its `say`.
const INITIALIZES: &str = r#"(module
  (import "lib" "say" (func $say (param i32 i32)))
  (import "lib" "memory" (memory 1))
  (data (i32.const 400) "main init\nstart\n")
  (func (export "_initialize") (call $say (i32.const 400) (i32.const 10)))
  (func (export "_start") (call $say (i32.const 410) (i32.const 6))))
"#;

/// A library of v128 entities: a mutable v128 global, a table holding a v128 function,
/// `mix` (nine v128 parameters, so some are passed on the stack, and two results) and
/// `acc_plus_one`, which reads the global from the library's side.
const VLIB: &str = r#"(module
  (global $acc (export "acc") (mut v128) (v128.const i64x2 0 0))
  (table (export "table") 1 funcref)
  (elem (i32.const 0) $shift)
  (func $shift (param v128) (result v128)
    (i8x16.add (local.get 0) (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)))
  (func (export "mix")
    (param $a v128) (param v128 v128 v128 v128 v128 v128 v128) (param $i v128) (param $k i32)
    (result v128 i32)
    (i8x16.add (local.get $a) (local.get $i))
    (i32.add (local.get $k) (i32.const 1)))
  (func (export "acc_plus_one") (result v128) (call $shift (global.get $acc))))
"#;

/// Passes v128 values to and from the library (directly, through its table, through its
/// global) and prints them as text: the lanes are ASCII letters.
const VMAIN: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "vlib" "mix" (func $mix (param v128 v128 v128 v128 v128 v128 v128 v128 v128 i32)
                                  (result v128 i32)))
  (import "vlib" "acc" (global $acc (mut v128)))
  (import "vlib" "table" (table 1 funcref))
  (import "vlib" "acc_plus_one" (func $acc_plus_one (result v128)))
  (memory (export "memory") 1)
  (type $v_v (func (param v128) (result v128)))
  (func (export "_start") (local $r v128) (local $n i32)
    (call $mix (v128.const i8x16 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112)
      (v128.const i64x2 -1 -1) (v128.const i64x2 -1 -1) (v128.const i64x2 -1 -1)
      (v128.const i64x2 -1 -1) (v128.const i64x2 -1 -1) (v128.const i64x2 -1 -1)
      (v128.const i64x2 -1 -1)
      (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)
      (i32.const 4))
    (local.set $n)
    (local.set $r)
    (local.set $r (call_indirect (type $v_v) (local.get $r) (i32.const 0)))
    (global.set $acc (local.get $r))
    (v128.store (i32.const 100) (global.get $acc))
    (i32.store8 (i32.const 116) (i32.add (i32.const 48) (local.get $n)))
    (i32.store8 (i32.const 117) (i32.const 10))
    (v128.store (i32.const 118) (call $acc_plus_one))
    (i32.store8 (i32.const 134) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 35))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"#;

#[test]
fn v128_values_cross_instances() {
    let dir = files(&[("vlib.wat", VLIB), ("main.wat", VMAIN)]);
    check_against_wasmtime(
        dir.path(),
        "main.wat",
        &["--preload", "vlib=vlib.wat"],
        ("cdefghijklmnopqr5\ndefghijklmnopqrs\n", 0),
    );
}

#[test]
fn preloaded_module_shares_memory_table_and_globals() {
    let dir = files(&[("lib.wat", LIB), ("main.wat", SHARES)]);
    check_against_wasmtime(
        dir.path(),
        "main.wat",
        &["--preload", "lib=lib.wat"],
        ("lib init\nlib data\n2786\n", 0),
    );
}

#[test]
fn a_module_preloaded_under_two_names_is_two_instances() {
    let dir = files(&[("lib.wat", LIB), ("main.wat", TWICE)]);
    check_against_wasmtime(
        dir.path(),
        "main.wat",
        &["--preload", "a=lib.wat", "--preload", "b=lib.wat"],
        ("lib init\nlib init\n41\n", 0),
    );
}

#[test]
fn initialize_runs_before_start() {
    let dir = files(&[("lib.wat", LIB), ("main.wat", INITIALIZES)]);
    check_against_wasmtime(
        dir.path(),
        "main.wat",
        &["--preload", "lib=lib.wat"],
        ("lib init\nmain init\nstart\n", 0),
    );
}

#[test]
fn preload_errors_name_the_import() {
    let dir = files(&[
        ("lib.wat", LIB),
        ("main.wat", SHARES),
        (
            "wrong.wat",
            r#"(module (import "lib" "bump" (func (param i32))) (import "lib" "nope" (func)))"#,
        ),
        ("missing.wat", r#"(module (import "lib" "nope" (func)))"#),
    ]);
    let d = dir.path();
    let p = |name: &str| d.join(name).to_string_lossy().into_owned();
    let out_path = p("out");
    let cases: [(Vec<String>, &str); 5] = [
        (
            vec![p("main.wat")],
            "unknown import `lib::memory`: the runtime does not provide it",
        ),
        (
            vec![
                p("missing.wat"),
                "--preload".into(),
                format!("lib={}", p("lib.wat")),
            ],
            "import `lib::nope`: module `lib`",
        ),
        (
            vec![
                p("wrong.wat"),
                "--preload".into(),
                format!("lib={}", p("lib.wat")),
            ],
            "import `lib::bump`: incompatible import type",
        ),
        (
            vec![
                p("main.wat"),
                "--preload".into(),
                format!("lib={}", p("lib.wat")),
                "--preload".into(),
                format!("lib={}", p("lib.wat")),
            ],
            "the name `lib` is preloaded twice",
        ),
        (
            vec![p("main.wat"), "--preload".into(), "lib".into()],
            "invalid --preload `lib`: expected NAME=PATH",
        ),
    ];
    for (args, needle) in cases {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["-o", out_path.as_str()]);
        let out = aot(&all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{all:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{all:?}: {err}");
        assert!(
            err.starts_with("aot: error: ") && err.contains(needle),
            "{all:?}: {err}"
        );
        assert!(!Path::new(&out_path).exists(), "{all:?} wrote an output");
    }
}

/// `_start` → `run` → host `aot_test::call` → `cb` → (call_indirect, never inlined)
/// `inner`, which traps; `ok_cb` returns normally, and the later trap in `after` must not
/// show frames of that finished callback; `null` hands the host a null funcref, a trap the
/// host raises itself. The scenario is picked by the number of arguments.
const CALLBACK: &str = r#"(module
  (import "aot_test" "call" (func $call (param funcref)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table 3 funcref)
  (global $zero (mut i32) (i32.const 0))
  (data (i32.const 16) "in callback\n")
  (type $v (func))
  (func $inner unreachable)
  (elem (i32.const 0) $inner $null $after)
  (func $say
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $cb (call $say) (call_indirect (type $v) (i32.const 0)))
  (func $ok_cb (call $say))
  (func $run (call $call (ref.func $cb)))
  (func $after (drop (i32.div_u (i32.const 1) (global.get $zero))))
  (func $null (call $call (ref.null func)))
  (func $argc (result i32)
    (drop (call $args (i32.const 64) (i32.const 68)))
    (i32.load (i32.const 64)))
  (func $start (export "_start")
    (block $b3 (block $b2 (block $b1
      (br_table $b1 $b2 $b3 (i32.sub (call $argc) (i32.const 1))))
      ;; no arguments (argc 1)
      (call $run) (return))
      ;; one argument
      (call $call (ref.func $ok_cb)) (call_indirect (type $v) (i32.const 2)) (return))
    (call_indirect (type $v) (i32.const 1)))
  (elem declare func $cb $ok_cb))
"#;

#[test]
fn a_trap_in_wasm_called_back_from_the_host_unwinds_through_the_host_frame() {
    let dir = files(&[("cb.wat", CALLBACK)]);
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &[],
            "in callback\n",
            "wasm trap: wasm `unreachable` instruction executed\nwasm backtrace:\n    0: inner\n    1: cb\n    2: run\n    3: start\n",
        ),
        (
            &["x"],
            "in callback\n",
            "wasm trap: integer divide by zero\nwasm backtrace:\n    0: after\n    1: start\n",
        ),
        (
            &["x", "y"],
            "",
            "wasm trap: uninitialized element\nwasm backtrace:\n    0: null\n    1: start\n",
        ),
    ];
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = build(
                dir.path(),
                triple,
                "cb.wat",
                &["--test-host", "-O", opt],
                "cb",
            );
            for (args, stdout, stderr) in cases {
                let what = format!("callback {args:?}, {triple} -O{opt}");
                let Some(out) = run_for(triple, &exe, args, &what) else {
                    continue;
                };
                assert_eq!(
                    out.status.code(),
                    Some(134),
                    "{what}: {}",
                    text(&out.stderr)
                );
                assert_eq!(text(&out.stdout), stdout, "{what}");
                assert_eq!(text(&out.stderr), stderr, "{what}");
            }
        }
    }
}

#[test]
fn the_test_host_is_only_offered_when_asked_for() {
    let dir = files(&[("cb.wat", CALLBACK)]);
    let input = dir.path().join("cb.wat");
    let exe = dir.path().join("cb");
    let out = aot(&[
        input.to_str().expect("utf-8"),
        "-o",
        exe.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("unknown import `aot_test::call`"),
        "{}",
        text(&out.stderr)
    );
}
