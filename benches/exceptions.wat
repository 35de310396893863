;; Exception micro-benchmark: N times (`exceptions N`, default 1000000) a call descends
;; DEPTH = 8 frames and throws a tag carrying an i64 from the deepest one; a try_table in the
;; loop catches it by tag and adds the payload to an accumulator. Every other level has a
;; try_table of its own that catches a different tag, so the unwinder passes handlers that do
;; not match. Prints the final accumulator. A WASI command; run by benches/run.sh under aot
;; and wasmtime.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (tag $found (param i64))
  (tag $other (param i32))

  ;; Descends `depth` frames, then throws $found with a value mixed from `seed`.
  (func $descend (param $depth i32) (param $seed i64)
    (if (i32.eqz (local.get $depth))
      (then (throw $found (i64.xor (local.get $seed) (i64.shr_u (local.get $seed) (i64.const 7))))))
    (if (i32.and (local.get $depth) (i32.const 1))
      (then
        ;; A handler on the way that does not match.
        (block $skip (result i32)
          (try_table (catch $other $skip)
            (call $descend (i32.sub (local.get $depth) (i32.const 1))
              (i64.add (local.get $seed) (i64.extend_i32_u (local.get $depth)))))
          (return))
        (drop))
      (else
        (call $descend (i32.sub (local.get $depth) (i32.const 1))
          (i64.mul (local.get $seed) (i64.const 31))))))

  (func $run (param $n i64) (result i64)
    (local $acc i64)
    (local $i i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $acc
          (i64.add (local.get $acc)
            (block $caught (result i64)
              (try_table (catch $found $caught)
                (call $descend (i32.const 8) (local.get $i)))
              (i64.const 0))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $acc))

  ;; argv[1] as an unsigned decimal number, or the default.
  (func $steps (result i64)
    (local $p i32) (local $c i32) (local $n i64)
    ;; argc at 0, buffer size at 4, argv at 16.., strings at 256..
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 2))
      (then (return (i64.const 1000000))))
    (if (i32.gt_u (i32.load (i32.const 4)) (i32.const 4096))
      (then (return (i64.const 1000000))))
    (drop (call $args_get (i32.const 16) (i32.const 256)))
    (local.set $p (i32.load (i32.const 20)))
    (block $end
      (loop $digit
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $end (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $n (i64.add (i64.mul (local.get $n) (i64.const 10)) (i64.extend_i32_u (local.get $c))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $digit)))
    (local.get $n))

  ;; Prints `v` in decimal and a newline.
  (func $print (param $v i64)
    (local $p i32)
    (local.set $p (i32.const 8191))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digit (i64.ne (local.get $v) (i64.const 0))))
    ;; iovec at 8
    (i32.store (i32.const 8) (local.get $p))
    (i32.store (i32.const 12) (i32.sub (i32.const 8192) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 8) (i32.const 1) (i32.const 0))))

  (func (export "_start")
    (call $print (call $run (call $steps)))))
