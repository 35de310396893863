;; Tail-call micro-benchmark: a state machine of four states that pass control to each
;; other with `return_call` (direct) and `return_call_indirect` (through a table), N steps
;; in all (`tailcall N`, default 100000000), in constant stack. Prints the final
;; accumulator. A WASI command; run by benches/run.sh under aot and wasmtime.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get"
    (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (type $state (func (param i64 i64) (result i64)))
  (table 4 funcref)
  (elem (i32.const 0) func $even $odd $mix $skip)

  ;; Each state: (steps left, accumulator) -> final accumulator.
  (func $even (type $state)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $odd
      (i64.sub (local.get 0) (i64.const 1))
      (i64.add (i64.mul (local.get 1) (i64.const 6364136223846793005)) (i64.const 1442695040888963407))))
  (func $odd (type $state)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    ;; The next state from the steps left: any of the four, through the table.
    (return_call_indirect (type $state)
      (i64.sub (local.get 0) (i64.const 1))
      (i64.xor (local.get 1) (i64.shr_u (local.get 1) (i64.const 29)))
      (i32.wrap_i64 (i64.and (local.get 0) (i64.const 3)))))
  (func $mix (type $state)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $even
      (i64.sub (local.get 0) (i64.const 1))
      (i64.add (i64.rotl (local.get 1) (i64.const 17)) (local.get 0))))
  (func $skip (type $state)
    (if (i64.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $mix
      (i64.sub (local.get 0) (i64.const 1))
      (i64.add (local.get 1) (i64.mul (local.get 0) (i64.const 3)))))

  ;; argv[1] as an unsigned decimal number, or the default.
  (func $steps (result i64)
    (local $p i32) (local $c i32) (local $n i64)
    ;; argc at 0, buffer size at 4, argv at 16.., strings at 256..
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 2))
      (then (return (i64.const 100000000))))
    (if (i32.gt_u (i32.load (i32.const 4)) (i32.const 4096))
      (then (return (i64.const 100000000))))
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
    (call $print (call $even (call $steps) (i64.const 1)))))
