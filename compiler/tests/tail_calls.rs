//! Tail calls (`return_call`, `return_call_indirect`) in executables, on both targets: they
//! run in constant stack (ten million deep on a normal 8 MiB stack, which a real call of
//! even 16 bytes per frame would overflow twenty times over), pass arguments that do not
//! fit in registers, cross instances and host functions, and leave backtraces that show the
//! frames a tail call replaced as gone. The spec scripts (tail-call, wasm-v3
//! return_call*.wast) cover the semantics; this covers what only a deep run shows.

mod common;

use common::{TRIPLES, compile, run_for};

const DEPTH: u64 = 10_000_000;

/// `even`/`odd` by direct tail calls, then `narrow` (2 parameters) and `wide` (12, so some
/// are passed on the stack on both targets) calling each other by tail calls, `wide`
/// through the table. The program exits with `narrow`'s sum mod 251, through a tail call
/// of the host function `proc_exit`.
const MUTUAL: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $wide (func (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)))
  (table funcref (elem $wide))
  (func $even (param $n i64) (result i32)
    (if (result i32) (i64.eqz (local.get $n))
      (then (i32.const 1))
      (else (return_call $odd (i64.sub (local.get $n) (i64.const 1))))))
  (func $odd (param $n i64) (result i32)
    (if (result i32) (i64.eqz (local.get $n))
      (then (i32.const 0))
      (else (return_call $even (i64.sub (local.get $n) (i64.const 1))))))
  (func $narrow (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call_indirect (type $wide)
        (local.get $n) (local.get $acc)
        (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5)
        (i64.const 6) (i64.const 7) (i64.const 8) (i64.const 9) (i64.const 10)
        (i32.const 0)))))
  ;; acc + sum of k * (k-th extra parameter): wrong positions would change the sum.
  (func $wide (type $wide)
    (return_call $narrow
      (i64.sub (local.get 0) (i64.const 1))
      (i64.add (local.get 1)
        (i64.add (i64.add (i64.add (i64.mul (local.get 2) (i64.const 1))
                                   (i64.mul (local.get 3) (i64.const 2)))
                          (i64.add (i64.mul (local.get 4) (i64.const 3))
                                   (i64.mul (local.get 5) (i64.const 4))))
                 (i64.add (i64.add (i64.add (i64.mul (local.get 6) (i64.const 5))
                                            (i64.mul (local.get 7) (i64.const 6)))
                                   (i64.add (i64.mul (local.get 8) (i64.const 7))
                                            (i64.mul (local.get 9) (i64.const 8))))
                          (i64.add (i64.mul (local.get 10) (i64.const 9))
                                   (i64.mul (local.get 11) (i64.const 10))))))))
  (func (export "_start")
    (if (i32.ne (call $even (i64.const 10000000)) (i32.const 1)) (then unreachable))
    (return_call $exit
      (i32.wrap_i64 (i64.rem_u (call $narrow (i64.const 10000000) (i64.const 0))
                               (i64.const 251))))))
"#;

/// `narrow`'s result for [`DEPTH`]: each round adds 1*1 + 2*2 + ... + 10*10.
fn mutual_exit_code() -> i32 {
    let per_round: u64 = (1..=10).map(|k| k * k).sum();
    ((per_round * DEPTH) % 251) as i32
}

#[test]
fn ten_million_deep_mutual_tail_recursion_runs_in_constant_stack() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mutual.wat");
    std::fs::write(&input, MUTUAL).unwrap();
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("mutual-{triple}-{opt}"));
            let (input, exe_s) = (input.to_str().unwrap(), exe.to_str().unwrap());
            compile(&[input, "-o", exe_s, "--target", triple, "-O", opt]);
            let what = format!("mutual tail recursion, {triple} -O{opt}");
            let Some(run) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            assert_eq!(
                run.status.code(),
                Some(mutual_exit_code()),
                "{what}: {}",
                String::from_utf8_lossy(&run.stderr)
            );
        }
    }
}

/// `lib.pong` tail-calls through its own table, where `main` put its `ping`, and `ping`
/// tail-calls the import `lib.pong`: every call switches instances.
const LIB: &str = r#"(module
  (type $step (func (param i64 i64) (result i64)))
  (table (export "table") 1 funcref)
  (func (export "pong") (type $step)
    (return_call_indirect (type $step)
      (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 3))
      (i32.const 0))))
"#;

const MAIN: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $step (func (param i64 i64) (result i64)))
  (import "lib" "pong" (func $pong (type $step)))
  (import "lib" "table" (table 1 funcref))
  (elem (table 0) (i32.const 0) func $ping)
  (func $ping (type $step)
    (if (result i64) (i64.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call $pong (local.get 0) (i64.add (local.get 1) (i64.const 2))))))
  (func (export "_start")
    (call $exit
      (i32.wrap_i64 (i64.rem_u (call $ping (i64.const 10000000) (i64.const 0))
                               (i64.const 251))))))
"#;

#[test]
fn tail_calls_across_instances_run_in_constant_stack() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib.wat");
    let main = dir.path().join("main.wat");
    std::fs::write(&lib, LIB).unwrap();
    std::fs::write(&main, MAIN).unwrap();
    let preload = format!("lib={}", lib.display());
    // Each of the ten million rounds adds 2 in ping and 3 in pong.
    let expected = ((DEPTH * 5) % 251) as i32;
    for triple in TRIPLES {
        let exe = dir.path().join(format!("pingpong-{triple}"));
        let (main, exe_s) = (main.to_str().unwrap(), exe.to_str().unwrap());
        compile(&[main, "--preload", &preload, "-o", exe_s, "--target", triple]);
        let what = format!("tail calls across instances, {triple}");
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

/// `start` calls `caller`, whose frame `middle` replaces by a tail call; `middle` calls
/// `inner`, which traps. `inner` is too big to be inlined at -O2.
const REPLACED_FRAME: &str = r#"(module
  (func $inner (param i32) (result i32)
    (i32.div_u (i32.const 1) (local.get 0)) (i32.const 7) (i32.add) (i32.const 3) (i32.mul)
    (i32.const 5) (i32.xor) (i32.const 9) (i32.sub) (i32.const 2) (i32.shl) (i32.const 1)
    (i32.or) (i32.const 11) (i32.add) (i32.const 13) (i32.mul) (i32.const 17) (i32.xor)
    (i32.const 19) (i32.sub) (i32.const 23) (i32.add) (i32.const 29) (i32.mul))
  (func $middle (param i32) (result i32) (i32.add (call $inner (local.get 0)) (i32.const 1)))
  (func $caller (result i32) (return_call $middle (i32.const 0)))
  (func $start (export "_start") (drop (call $caller))))
"#;

#[test]
fn backtraces_leave_out_the_frames_tail_calls_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("replaced.wat");
    std::fs::write(&input, REPLACED_FRAME).unwrap();
    for triple in TRIPLES {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("replaced-{triple}-{opt}"));
            let (input, exe_s) = (input.to_str().unwrap(), exe.to_str().unwrap());
            compile(&[input, "-o", exe_s, "--target", triple, "-O", opt]);
            let what = format!("trap after a tail call, {triple} -O{opt}");
            let Some(run) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            assert_eq!(run.status.code(), Some(134), "{what}");
            // As in wasmtime: `caller` is gone, `middle` returns straight to `start`.
            assert_eq!(
                String::from_utf8_lossy(&run.stderr),
                "wasm trap: integer divide by zero\nwasm backtrace:\n    0: inner\n    1: middle\n    2: start\n",
                "{what}"
            );
        }
    }
}
