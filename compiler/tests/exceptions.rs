//! Exception handling in executables, on both targets, against `wasmtime run`: exceptions
//! caught across functions, instances (an imported function, a `call_indirect` into
//! another instance's table, an imported tag) and rethrows; an uncaught exception ending
//! the program as wasmtime ends it (status 1, `thrown Wasm exception`); and the modules
//! wasmtime 49 rejects (the legacy proposal) rejected with a one-line error. The spec scripts (exceptions, wasm-v3) cover the semantics instruction by
//! instruction.

use std::path::Path;
use std::process::Command;

mod common;

use common::{TRIPLES, aot, compile, run_for, tools};

/// Defines the tag `err` (an i32 code) and throws it from `fail` and from `$deep`, a
/// recursion `n` frames deep whose every frame catches with `catch_all_ref`, counts
/// itself in a global (the "destructor") and rethrows with `throw_ref`.
const LIB: &str = r#"(module
  (tag $err (export "err") (param i32))
  (global $unwound (export "unwound") (mut i32) (i32.const 0))
  (table (export "table") 1 funcref)
  (elem (i32.const 0) $fail)
  (func $fail (export "fail") (param i32) (throw $err (local.get 0)))
  (func $deep (export "deep") (param i32)
    (block $cleanup (result exnref)
      (try_table (catch_all_ref $cleanup)
        (if (i32.eqz (local.get 0))
          (then (throw $err (i32.const 77)))
          (else (call $deep (i32.sub (local.get 0) (i32.const 1))))))
      (return))
    (global.set $unwound (i32.add (global.get $unwound) (i32.const 1)))
    (throw_ref)))
"#;

/// Catches `lib`'s exceptions by its tag through an import, through `call_indirect` into
/// `lib`'s table, and after 1000 frames of cleanups; a tag of its own does not match
/// `lib.err`. Exits with a checksum of everything it caught.
const MAIN: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "lib" "err" (tag $err (param i32)))
  (import "lib" "fail" (func $fail (param i32)))
  (import "lib" "deep" (func $deep (param i32)))
  (import "lib" "unwound" (global $unwound (mut i32)))
  (import "lib" "table" (table 1 funcref))
  (memory (export "memory") 1)
  (tag $mine (param i32))
  (type $fail_t (func (param i32)))
  (func $catch_direct (result i32)
    (block $h (result i32)
      (try_table (catch $mine 0) (catch $err $h) (call $fail (i32.const 5)))
      (i32.const 0)))
  (func $catch_indirect (result i32)
    (block $h (result i32)
      (try_table (catch $err $h)
        (call_indirect (type $fail_t) (i32.const 11) (i32.const 0)))
      (i32.const 0)))
  (func $catch_deep (result i32)
    (block $h (result i32)
      (try_table (catch $err $h) (call $deep (i32.const 1000)))
      (i32.const 0)))
  (func $mine_not_err (result i32)
    (block $outer (result i32)
      (try_table (catch $err $outer)
        (block $inner (result i32)
          (try_table (catch $mine $inner) (call $fail (i32.const 3)))
          (i32.const 100))
        (drop))
      (i32.const 0))
    (i32.add (i32.const 300)))
  (func (export "_start")
    (call $exit
      (i32.rem_u
        (i32.add
          (i32.add (call $catch_direct) (i32.mul (call $catch_indirect) (i32.const 10)))
          (i32.add (call $catch_deep)
            (i32.add (global.get $unwound) (call $mine_not_err))))
        (i32.const 125)))))
"#;

/// 5 + 110 + 77 + 1001 cleanups + (3 + 300), mod 125.
const MAIN_EXIT: i32 = (5 + 110 + 77 + 1001 + 303) % 125;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write input");
    path.to_string_lossy().into_owned()
}

/// Runs `wasmtime run` with `args`; None (after the missing-tool policy) without wasmtime.
fn wasmtime(args: &[&str], what: &str) -> Option<std::process::Output> {
    match tools::find_wasmtime() {
        Ok(wt) => Some(
            Command::new(wt)
                .arg("run")
                .args(args)
                .env("RUST_BACKTRACE", "0")
                .output()
                .expect("run wasmtime"),
        ),
        Err(why) => {
            tools::skip_missing(what, &why);
            None
        }
    }
}

#[test]
fn exceptions_are_caught_across_instances_and_cleanups() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = write(dir.path(), "lib.wat", LIB);
    let main = write(dir.path(), "main.wat", MAIN);
    let preload = format!("lib={lib}");
    if let Some(out) = wasmtime(&["--preload", &preload, &main], "wasmtime run main.wat") {
        assert_eq!(
            out.status.code(),
            Some(MAIN_EXIT),
            "wasmtime: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("main-{triple}-{opt}"));
            let exe_s = exe.to_str().expect("utf-8");
            compile(&[
                &main,
                "--preload",
                &preload,
                "-o",
                exe_s,
                "--target",
                triple,
                "-O",
                opt,
            ]);
            let what = format!("exceptions across instances, {triple} -O{opt}");
            let Some(run) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            assert_eq!(
                run.status.code(),
                Some(MAIN_EXIT),
                "{what}: {}",
                String::from_utf8_lossy(&run.stderr)
            );
        }
    }
}

/// `lib` instantiated twice (as `one` and `two`) defines two distinct tags `err`: a
/// handler for `one.err` does not catch what `two.fail` throws, a catch-all does.
const TWO_INSTANCES: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "one" "err" (tag $one_err (param i32)))
  (import "two" "err" (tag $two_err (param i32)))
  (import "one" "fail" (func $one_fail (param i32)))
  (import "two" "fail" (func $two_fail (param i32)))
  (memory (export "memory") 1)
  (func $catch_one (param i32) (result i32)
    (block $all
      (block $h (result i32)
        (try_table (catch $one_err $h) (catch_all $all)
          (if (local.get 0)
            (then (call $two_fail (i32.const 2)))
            (else (call $one_fail (i32.const 1)))))
        (return (i32.const 0)))
      (return))
    (i32.const 50))
  (func $catch_two (result i32)
    (block $h (result i32)
      (try_table (catch $two_err $h) (call $two_fail (i32.const 4)))
      (i32.const 0)))
  (func (export "_start")
    (call $exit (i32.add (i32.add (call $catch_one (i32.const 0)) (call $catch_one (i32.const 1)))
                         (call $catch_two)))))
"#;

#[test]
fn two_instances_of_a_module_define_distinct_tags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = write(dir.path(), "lib.wat", LIB);
    let main = write(dir.path(), "two.wat", TWO_INSTANCES);
    let (one, two) = (format!("one={lib}"), format!("two={lib}"));
    // one.err caught with its payload (1), two's exception only by the catch-all (50),
    // two.err caught with its payload (4).
    let expected = 1 + 50 + 4;
    let args = ["--preload", &one, "--preload", &two, &main];
    if let Some(out) = wasmtime(&args, "wasmtime run two.wat") {
        assert_eq!(
            out.status.code(),
            Some(expected),
            "wasmtime: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for triple in TRIPLES {
        let exe = dir.path().join(format!("two-{triple}"));
        let exe_s = exe.to_str().expect("utf-8");
        compile(&[
            &main,
            "--preload",
            &one,
            "--preload",
            &two,
            "-o",
            exe_s,
            "--target",
            triple,
        ]);
        let what = format!("two instances' tags, {triple}");
        let Some(run) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        assert_eq!(
            run.status.code(),
            Some(expected),
            "{what}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

const UNCAUGHT: &str = r#"(module
  (tag $e (param i32))
  (func $thrower (param i32)
    (if (local.get 0) (then (throw $e (local.get 0)))))
  (func $middle
    (block $h
      (try_table (catch_all $h) (call $thrower (i32.const 0))))
    (call $thrower (i32.const 9)))
  (func $start (export "_start") (call $middle)))
"#;

#[test]
fn an_uncaught_exception_ends_the_program_as_in_wasmtime() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(dir.path(), "uncaught.wat", UNCAUGHT);
    if let Some(out) = wasmtime(&[&input], "wasmtime run uncaught.wat") {
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("thrown Wasm exception"),
            "wasmtime: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("uncaught-{triple}-{opt}"));
            let exe_s = exe.to_str().expect("utf-8");
            compile(&[&input, "-o", exe_s, "--target", triple, "-O", opt]);
            let what = format!("uncaught exception, {triple} -O{opt}");
            let Some(run) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            assert_eq!(run.status.code(), Some(1), "{what}");
            assert_eq!(
                String::from_utf8_lossy(&run.stderr),
                "error: thrown Wasm exception\nwasm backtrace:\n    0: thrower\n    1: middle\n    2: start\n",
                "{what}"
            );
        }
    }
}

/// `_start` → host `aot_test::call` → `cb`, which throws: the exception crosses the host
/// frame (as a wasmtime host function returning the `ThrownException` error hands it on)
/// and `_start` catches it; with no argument nothing catches it and the program ends with
/// the report of an uncaught exception, `cb`'s frame first.
const THROUGH_HOST: &str = r#"(module
  (import "aot_test" "call" (func $call (param funcref)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (tag $e (param i32))
  (func $cb (throw $e (i32.const 21)))
  (elem declare func $cb)
  (func $start (export "_start")
    (drop (call $args (i32.const 0) (i32.const 4)))
    (if (i32.eq (i32.load (i32.const 0)) (i32.const 1))
      (then (call $call (ref.func $cb))))
    (block $h (result i32)
      (try_table (catch $e $h) (call $call (ref.func $cb)))
      (i32.const 0))
    (call $exit)))
"#;

#[test]
fn exceptions_cross_host_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(dir.path(), "host.wat", THROUGH_HOST);
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("host-{triple}-{opt}"));
            let exe_s = exe.to_str().expect("utf-8");
            compile(&[
                &input,
                "--test-host",
                "-o",
                exe_s,
                "--target",
                triple,
                "-O",
                opt,
            ]);
            let what = format!("exception through a host frame, {triple} -O{opt}");
            let Some(caught) = run_for(triple, &exe, &["x"], &what) else {
                continue;
            };
            assert_eq!(
                caught.status.code(),
                Some(21),
                "{what}: {}",
                String::from_utf8_lossy(&caught.stderr)
            );
            let Some(uncaught) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            assert_eq!(uncaught.status.code(), Some(1), "{what}");
            assert_eq!(
                String::from_utf8_lossy(&uncaught.stderr),
                "error: thrown Wasm exception\nwasm backtrace:\n    0: cb\n    1: start\n",
                "{what}"
            );
        }
    }
}

/// wasmtime 49 runs no module of the legacy proposal (no `-W` flag enables it), so aot
/// rejects them too, at the offending instruction.
#[test]
fn the_legacy_exceptions_proposal_is_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    // (tag $e) (func try throw $e catch $e end): `try` is opcode 0x06 at byte 0x1c.
    let wasm: &[u8] = &[
        0, b'a', b's', b'm', 1, 0, 0, 0, // header
        1, 4, 1, 0x60, 0, 0, // type section: () -> ()
        3, 2, 1, 0, // function section
        13, 3, 1, 0, 0, // tag section: one tag of type 0
        10, 11, 1, 9, 0, 0x06, 0x40, 0x08, 0, 0x07, 0, 0x0b, 0x0b, // code
    ];
    let input = dir.path().join("legacy.wasm");
    std::fs::write(&input, wasm).expect("write input");
    let input = input.to_string_lossy().into_owned();
    let out = aot(&[&input, "-o", "out"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&input)
            && err.contains("byte 0x1c")
            && err.contains("legacy_exceptions feature required for try instruction"),
        "{err}"
    );
}
