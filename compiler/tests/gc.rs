//! The collector against real programs, on both targets at -O0 and -O2, each executable run
//! normally and with `AOT_GC_STRESS=1` (a collection at every allocation that leaves
//! generated code, from-space unmapped at once, so a reference the stack maps missed faults
//! or reads garbage), its stdout and status compared with `wasmtime run`'s. Every program
//! prints checksums over its objects that would differ if any reference were stale.
//!
//! Covered: roots moving through deep recursion (2000 frames each holding a struct and an
//! array across calls); exceptions whose payloads hold GC references thrown through 1000
//! frames, caught with `catch_ref` every 16 frames, held while collecting and rethrown;
//! exnrefs held in a local, a global and a table across collections; tail calls
//! (`return_call`, `return_call_ref`, `return_call_indirect`) passing references while
//! allocating; `call_indirect`/`call_ref` into a function holding references; and a
//! Wasm -> host -> Wasm boundary (`aot_test::call`; wasmtime gets a Wasm stand-in that
//! calls through a table), with an exception crossing the host frame. And exceptions in a
//! wasi-threads program, where each thread's store has a heap of its own.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{compile, tools};

const STRESS: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "aot_test" "call" (func $host_call (param funcref)))
  (memory (export "memory") 1)
  (type $node (struct (field $v i64) (field $next (ref null $node))))
  (type $arr (array (mut i64)))
  (type $bytes (array (mut i8)))
  (type $holder_t (func (param (ref null $node) i32) (result i64)))
  (type $tc_t (func (param i32 (ref null $node) (ref null $arr)) (result i64)))
  (tag $boom (param (ref null $node) i64 (ref null $arr)))
  (tag $other (param i32))
  (global $held (mut exnref) (ref.null exn))
  (global $kept (mut (ref null $node)) (ref.null $node))
  (table $exns 4 exnref)
  (table $fns 2 funcref)
  (elem (table $fns) (i32.const 0) func $holder $tc_b)
  (elem declare func $tc_a $tc_b $holder $inner_ok $inner_throws)

  ;; Prints `v` in decimal and a newline.
  (func $print (param $v i64)
    (local $p i32) (local $neg i32)
    (local.set $p (i32.const 200))
    (if (i64.lt_s (local.get $v) (i64.const 0))
      (then (local.set $neg (i32.const 1)) (local.set $v (i64.sub (i64.const 0) (local.get $v)))))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $l
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $l (i64.ne (local.get $v) (i64.const 0))))
    (if (local.get $neg)
      (then (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (i32.store8 (local.get $p) (i32.const 45))))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.const 201) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; Garbage: n byte arrays of 4000 bytes (a collection every ~1000 outside stress mode).
  (func $churn (param $n i32)
    (loop $l
      (if (local.get $n)
        (then
          (drop (array.new_default $bytes (i32.const 4000)))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l)))))

  ;; A list of n nodes, values seed*i + i, allocated with garbage in between.
  (func $list (param $n i32) (param $seed i64) (result (ref null $node))
    (local $l (ref null $node))
    (loop $l
      (if (local.get $n)
        (then
          (local.set $l (struct.new $node
            (i64.add (i64.mul (local.get $seed) (i64.extend_i32_u (local.get $n)))
                     (i64.extend_i32_u (local.get $n)))
            (local.get $l)))
          (call $churn (i32.const 1))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $l))))
    (local.get $l))

  ;; Sum of v * position (from 1) over a list.
  (func $sum (param $l (ref null $node)) (result i64)
    (local $acc i64) (local $i i64)
    (block $done
      (loop $next
        (br_if $done (ref.is_null (local.get $l)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (local.set $acc (i64.add (local.get $acc)
          (i64.mul (local.get $i) (struct.get $node $v (local.get $l)))))
        (local.set $l (struct.get $node $next (local.get $l)))
        (br $next)))
    (local.get $acc))

  (func $asum (param $a (ref null $arr)) (result i64)
    (local $i i32) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (array.len (local.get $a))))
        (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 7))
          (array.get $arr (local.get $a) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; 1. Deep recursion: every frame holds a struct and an array across its call.
  (func $deep (param $d i32) (result i64)
    (local $n (ref $node)) (local $a (ref $arr)) (local $r i64)
    (local.set $n (struct.new $node (i64.extend_i32_u (i32.mul (local.get $d) (i32.const 3)))
                                    (global.get $kept)))
    (local.set $a (array.new $arr (i64.extend_i32_u (local.get $d)) (i32.const 3)))
    (call $churn (i32.const 1))
    (if (i32.eqz (local.get $d))
      (then (return (i64.add (struct.get $node $v (local.get $n))
                             (array.get $arr (local.get $a) (i32.const 2))))))
    (local.set $r (call $deep (i32.sub (local.get $d) (i32.const 1))))
    (array.set $arr (local.get $a) (i32.const 1) (local.get $r))
    (i64.add (i64.mul (local.get $r) (i64.const 31))
      (i64.add (struct.get $node $v (local.get $n)) (call $asum (local.get $a)))))

  ;; 2. An exception with GC payloads thrown through d frames; every 16th frame catches it
  ;; with catch_ref, churns, bumps the payload array and rethrows the held exnref.
  (func $thrower (param $d i32) (param $l (ref null $node))
    (local $mine (ref null $node)) (local $e exnref) (local $a (ref null $arr))
    (local.set $mine (struct.new $node (i64.extend_i32_u (local.get $d)) (local.get $l)))
    (call $churn (i32.const 1))
    (if (i32.eqz (local.get $d))
      (then (throw $boom (local.get $mine) (i64.const 12345)
                         (array.new_fixed $arr 3 (i64.const 1) (i64.const 2) (i64.const 3)))))
    (if (i32.and (local.get $d) (i32.const 15))
      (then (call $thrower (i32.sub (local.get $d) (i32.const 1)) (local.get $mine)) (return)))
    (block $h (result (ref null $node) i64 (ref null $arr) exnref)
      (try_table (catch_ref $boom $h)
        (call $thrower (i32.sub (local.get $d) (i32.const 1)) (local.get $mine)))
      (return))
    (local.set $e)
    (local.set $a)
    (drop)
    (drop)
    (call $churn (i32.const 20))
    (array.set $arr (local.get $a) (i32.const 0)
      (i64.add (array.get $arr (local.get $a) (i32.const 0)) (i64.extend_i32_u (local.get $d))))
    ;; The frame's own struct survived the collections too.
    (if (i64.ne (struct.get $node $v (local.get $mine)) (i64.extend_i32_u (local.get $d)))
      (then unreachable))
    (throw_ref (local.get $e)))

  (func $throw_deep (param $d i32) (result i64)
    (local $base (ref null $node)) (local $n (ref null $node)) (local $k i64)
    (local $a (ref null $arr))
    (local.set $base (call $list (i32.const 10) (i64.const 1000)))
    (block $h (result (ref null $node) i64 (ref null $arr))
      (try_table (catch $boom $h) (call $thrower (local.get $d) (local.get $base)))
      (return (i64.const -1)))
    (local.set $a)
    (local.set $k)
    (local.set $n)
    (call $churn (i32.const 5))
    (i64.add (i64.add (call $sum (local.get $n)) (local.get $k))
      (i64.add (call $asum (local.get $a)) (call $sum (local.get $base)))))

  ;; An exception of $boom caught with catch_all_ref: the exnref.
  (func $capture (param $k i64) (result exnref)
    (block $h (result exnref)
      (try_table (catch_all_ref $h)
        (throw $boom (call $list (i32.const 5) (local.get $k)) (local.get $k)
                     (array.new $arr (local.get $k) (i32.const 4))))
      (unreachable)))

  ;; The payload checksum of a held exception, by rethrowing and catching it.
  (func $open (param $e exnref) (result i64)
    (local $n (ref null $node)) (local $k i64) (local $a (ref null $arr))
    (block $o (result i32)
      (block $h (result (ref null $node) i64 (ref null $arr))
        (try_table (catch $other $o) (catch $boom $h) (throw_ref (local.get $e)))
        (unreachable))
      (local.set $a)
      (local.set $k)
      (local.set $n)
      (call $churn (i32.const 3))
      (return (i64.add (i64.mul (call $sum (local.get $n)) (i64.const 3))
        (i64.add (local.get $k) (call $asum (local.get $a))))))
    (drop)
    (i64.const -1))

  ;; 3. exnrefs in a local, a global and a table across collections.
  (func $held_exns (result i64)
    (local $e exnref) (local $i i32) (local $acc i64)
    (global.set $held (call $capture (i64.const 1)))
    (loop $fill
      (table.set $exns (local.get $i) (call $capture (i64.extend_i32_u (i32.add (local.get $i) (i32.const 2)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 4))))
    (local.set $e (call $capture (i64.const 100)))
    (call $churn (i32.const 3000))
    (local.set $acc (call $open (local.get $e)))
    (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 17)) (call $open (global.get $held))))
    (local.set $i (i32.const 0))
    (loop $read
      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 17))
        (call $open (table.get $exns (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $read (i32.lt_u (local.get $i) (i32.const 4))))
    ;; Opening twice reads the same (mutated-by-nobody) payload.
    (i64.add (local.get $acc) (call $open (local.get $e))))

  ;; 4. Tail calls passing references while allocating: $tc_a return_calls $tc_b, which
  ;; return_call_refs $tc_a, which every 7th step return_call_indirects $tc_b.
  (func $tc_a (type $tc_t)
    (local $l (ref null $node)) (local $a (ref null $arr)) (local $n i32)
    (local.set $n (local.get 0)) (local.set $l (local.get 1)) (local.set $a (local.get 2))
    (if (i32.eqz (local.get $n))
      (then (return (i64.add (call $sum (local.get $l)) (call $asum (local.get $a))))))
    (call $churn (i32.const 1))
    (array.set $arr (local.get $a) (i32.rem_u (local.get $n) (i32.const 5))
      (i64.add (array.get $arr (local.get $a) (i32.rem_u (local.get $n) (i32.const 5)))
               (i64.extend_i32_u (local.get $n))))
    (if (i32.eqz (i32.rem_u (local.get $n) (i32.const 7)))
      (then
        (return_call_indirect $fns (type $tc_t)
          (i32.sub (local.get $n) (i32.const 1))
          (struct.new $node (i64.extend_i32_u (local.get $n)) (local.get $l))
          (local.get $a)
          (i32.const 1))))
    (return_call $tc_b (i32.sub (local.get $n) (i32.const 1))
      (struct.new $node (i64.extend_i32_u (local.get $n)) (local.get $l))
      (local.get $a)))
  (func $tc_b (type $tc_t)
    (if (i32.eqz (local.get 0))
      (then (return (i64.add (call $sum (local.get 1)) (call $asum (local.get 2))))))
    (return_call_ref $tc_t (i32.sub (local.get 0) (i32.const 1))
      (struct.new $node (i64.mul (i64.extend_i32_u (local.get 0)) (i64.const 3)) (local.get 1))
      (array.new $arr (call $asum (local.get 2)) (i32.const 5))
      (ref.func $tc_a)))

  ;; 5. call_indirect and call_ref into a function that holds references across calls.
  (func $holder (type $holder_t)
    (local $a (ref $arr))
    (local.set $a (array.new $arr (i64.extend_i32_u (local.get 1)) (i32.const 8)))
    (call $churn (i32.const 4))
    (array.set $arr (local.get $a) (i32.const 7) (call $sum (local.get 0)))
    (call $churn (i32.const 4))
    (i64.add (call $asum (local.get $a)) (call $sum (local.get 0))))
  (func $indirect (result i64)
    (local $i i32) (local $l (ref null $node)) (local $acc i64)
    (loop $next
      (local.set $l (call $list (i32.const 3) (i64.extend_i32_u (local.get $i))))
      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 13))
        (call_indirect $fns (type $holder_t) (local.get $l) (local.get $i) (i32.const 0))))
      (local.set $acc (i64.add (local.get $acc)
        (call_ref $holder_t (local.get $l) (local.get $i) (ref.func $holder))))
      ;; The caller's list is still intact after the callee's collections.
      (local.set $acc (i64.add (local.get $acc) (call $sum (local.get $l))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 60))))
    (local.get $acc))

  ;; 6. Across a host frame (Wasm -> aot_test.call -> Wasm): the outer frames hold a list
  ;; and an exnref while the inner Wasm collects; an exception thrown by the inner Wasm
  ;; crosses the host frame and is caught outside with its payload intact.
  (func $inner_ok
    (global.set $kept (struct.new $node (i64.const 5) (global.get $kept)))
    (call $churn (i32.const 2500)))
  (func $inner_throws
    (call $churn (i32.const 100))
    (throw $boom (call $list (i32.const 6) (i64.const 9)) (i64.const 4242)
                 (array.new $arr (i64.const 6) (i32.const 3))))
  (func $across_host (result i64)
    (local $l (ref null $node)) (local $e exnref) (local $acc i64)
    (local $n (ref null $node)) (local $k i64) (local $a (ref null $arr))
    (local.set $l (call $list (i32.const 20) (i64.const 3)))
    (local.set $e (call $capture (i64.const 55)))
    (call $host_call (ref.func $inner_ok))
    (local.set $acc (i64.add (call $sum (local.get $l)) (call $open (local.get $e))))
    (block $h (result (ref null $node) i64 (ref null $arr))
      (try_table (catch $boom $h) (call $host_call (ref.func $inner_throws)))
      (return (i64.const -1)))
    (local.set $a)
    (local.set $k)
    (local.set $n)
    (call $churn (i32.const 2500))
    (i64.add (i64.mul (local.get $acc) (i64.const 11))
      (i64.add (i64.add (call $sum (local.get $n)) (local.get $k))
        (i64.add (call $asum (local.get $a)) (call $sum (local.get $l))))))

  (func (export "_start")
    (global.set $kept (call $list (i32.const 4) (i64.const 77)))
    (call $print (call $deep (i32.const 2000)))
    (call $print (call $throw_deep (i32.const 1000)))
    (call $print (call $held_exns))
    (call $print (call $tc_a (i32.const 3000) (ref.null $node)
      (array.new $arr (i64.const 1) (i32.const 5))))
    (call $print (call $indirect))
    (call $print (call $across_host))
    (call $print (call $sum (global.get $kept)))))
"#;

/// What wasmtime runs in place of the test host's `aot_test::call`.
const STANDIN: &str = r#"(module
  (type $void (func))
  (table $t 1 funcref)
  (func (export "call") (param funcref)
    (table.set $t (i32.const 0) (local.get 0))
    (call_indirect $t (type $void) (i32.const 0))))
"#;

/// The smallest program that lost an exception's payload when exceptions lived outside
/// the GC heap: an exnref held in a local across collections, then rethrown and caught,
/// and a field of its payload's struct read. Exits with 7.
const HELD_EXNREF: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (type $box (struct (field (mut i64)) (field (ref null $box))))
  (type $bytes (array (mut i8)))
  (tag $t (param (ref null $box)))
  (memory (export "memory") 1)
  (func $churn (param $n i32)
    (loop $l
      (drop (array.new_default $bytes (i32.const 1000)))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func $main (result i32)
    (local $e exnref)
    (local.set $e (call $get_ref))
    (call $churn (i32.const 10000))
    (block $h (result (ref null $box))
      (try_table (catch $t $h) (throw_ref (local.get $e)))
      unreachable)
    (struct.get $box 1)
    (struct.get $box 0)
    (i32.wrap_i64))
  (func $get_ref (result exnref)
    (block $h (result (ref null $box) exnref)
      (try_table (catch_ref $t $h)
        (throw $t (struct.new $box (i64.const 42) (struct.new $box (i64.const 7) (ref.null $box)))))
      unreachable)
    (return))
  (func (export "_start") (call $exit (call $main))))
"#;

/// wasi-threads with exceptions: each of 7 threads (main and 6 spawned) throws and catches
/// 10000 exceptions (with a reference slot in their payload). Every thread has a store, so a
/// heap, of its own: its exceptions are allocated and collected there, with only its own
/// frames as roots. Exits with the sum of the caught payloads mod 113.
const THREADS: &str = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (export "memory" (memory 0))
  (tag $e (param i32 i64 externref))
  (func $thrower (param $i i32)
    (throw $e (local.get $i) (i64.extend_i32_u (local.get $i)) (ref.null extern)))
  (func $work (param $n i32) (result i32)
    (local $acc i32) (local $i i32)
    (loop $l
      (block $h (result i32 i64 externref)
        (try_table (catch $e $h) (call $thrower (local.get $i)))
        (unreachable))
      (drop)
      (i32.wrap_i64)
      (i32.add (local.get $acc))
      (local.set $acc)
      (drop)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
    (drop (i32.atomic.rmw.add (i32.const 0) (call $work (i32.const 10000))))
    (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
    (drop (memory.atomic.notify (i32.const 4) (i32.const 1))))
  (func (export "_start")
    (local $i i32) (local $n i32)
    (loop $l
      (drop (call $spawn (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 6))))
    (drop (i32.atomic.rmw.add (i32.const 0) (call $work (i32.const 10000))))
    (loop $w
      (local.set $n (i32.atomic.load (i32.const 4)))
      (if (i32.lt_u (local.get $n) (i32.const 6))
        (then
          (drop (memory.atomic.wait32 (i32.const 4) (local.get $n) (i64.const -1)))
          (br $w))))
    ;; 7 * sum(0..10000) = 349965000, mod 113 (a WASI exit status is below 126)
    (call $exit (i32.rem_u (i32.atomic.load (i32.const 0)) (i32.const 113)))))
"#;

/// 7 * (0 + 1 + ... + 9999) mod 113.
const THREADS_EXIT: i32 = (7 * 49_995_000) % 113;

const WASMTIME_FEATURES: &str = "gc=y,function-references=y,exceptions=y,tail-call=y";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write input");
    path.to_string_lossy().into_owned()
}

/// `wasmtime run` with `args`; None (after the missing-tool policy) without wasmtime.
fn wasmtime(args: &[&str], what: &str) -> Option<Output> {
    match tools::find_wasmtime() {
        Ok(wt) => Some(
            Command::new(wt)
                .args(["run", "-W", WASMTIME_FEATURES])
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

/// Runs `exe`, built for `triple`, with `AOT_GC_STRESS` set to `stress` (natively or under
/// qemu, with the missing-tool policy of `tools::run_built_for`).
fn run(triple: &str, exe: &Path, stress: bool, what: &str) -> Option<Output> {
    let arch = triple.split('-').next().unwrap_or(triple);
    let mut cmd = if arch == std::env::consts::ARCH {
        Command::new(exe)
    } else {
        match tools::find_qemu(arch) {
            Ok(qemu) => {
                let mut c = Command::new(qemu);
                c.arg(exe);
                c
            }
            Err(why) => {
                tools::skip_missing(what, &why);
                return None;
            }
        }
    };
    cmd.env("AOT_GC_STRESS", if stress { "1" } else { "0" });
    Some(cmd.output().expect("run the executable"))
}

/// Compiles `input` (with `extra` flags) for `triple` at -O0 and -O2 and runs each both
/// ways, asserting stdout and status equal `expected`'s.
fn check(dir: &Path, input: &str, extra: &[&str], triple: &str, expected: &Output) {
    for opt in ["0", "2"] {
        let exe = dir.join(format!("prog-{triple}-O{opt}"));
        let exe_s = exe.to_str().expect("utf-8 path");
        let mut args = vec![input, "-o", exe_s, "--target", triple, "-O", opt];
        args.extend_from_slice(extra);
        compile(&args);
        for stress in [false, true] {
            let what = format!(
                "{input} on {triple} -O{opt}, AOT_GC_STRESS={}",
                stress as u8
            );
            let Some(out) = run(triple, &exe, stress, &what) else {
                continue;
            };
            assert_eq!(
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout).into_owned()
                ),
                (
                    expected.status.code(),
                    String::from_utf8_lossy(&expected.stdout).into_owned()
                ),
                "{what}: stderr {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn stress_program(triple: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(dir.path(), "stress.wat", STRESS);
    let standin = write(dir.path(), "standin.wat", STANDIN);
    let preload = format!("aot_test={standin}");
    let Some(expected) = wasmtime(&["--preload", &preload, &input], "wasmtime run stress.wat")
    else {
        return;
    };
    assert!(
        expected.status.success() && expected.stdout.split(|&b| b == b'\n').count() == 8,
        "wasmtime: {expected:?}"
    );
    check(dir.path(), &input, &["--test-host"], triple, &expected);
}

#[test]
fn references_survive_collections_in_frames_exceptions_tail_calls_and_host_calls_x86_64() {
    stress_program(common::TRIPLES[0]);
}

#[test]
fn references_survive_collections_in_frames_exceptions_tail_calls_and_host_calls_aarch64() {
    stress_program(common::TRIPLES[1]);
}

#[test]
fn a_held_exnref_keeps_its_payload_across_collections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(dir.path(), "held.wat", HELD_EXNREF);
    let Some(expected) = wasmtime(&[&input], "wasmtime run held.wat") else {
        return;
    };
    assert_eq!(expected.status.code(), Some(7), "wasmtime: {expected:?}");
    for triple in common::TRIPLES {
        check(dir.path(), &input, &[], triple, &expected);
    }
}

#[test]
fn exceptions_in_wasi_threads_live_in_each_threads_own_heap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = write(dir.path(), "threads.wat", THREADS);
    for triple in common::TRIPLES {
        let exe = dir.path().join(format!("threads-{triple}"));
        let exe_s = exe.to_str().expect("utf-8 path");
        compile(&[&input, "-o", exe_s, "--target", triple, "-O", "2"]);
        for stress in [false, true] {
            let what = format!("threads on {triple}, AOT_GC_STRESS={}", stress as u8);
            let Some(out) = run(triple, &exe, stress, &what) else {
                continue;
            };
            assert_eq!(
                out.status.code(),
                Some(THREADS_EXIT),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
