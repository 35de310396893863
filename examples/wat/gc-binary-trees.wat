;; The Benchmarks Game's binary-trees with Wasm GC structs: many short-lived complete binary
;; trees of `$node` (two nullable child references) next to one long-lived tree. Argument:
;; the maximum depth (default 10). Output as the Benchmarks Game's (and the Kotlin
;; binary-trees example's).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..8: argc, argv_buf_size; 16..24: iovec; 32..64: number text; 1024..: argv;
  ;; 4096..: argv buffer; 200..: the program's text.

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))

  ;; Writes `n` in decimal (unsigned).
  (func $write_u64 (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 64))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p) (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $p) (i32.sub (i32.const 64) (local.get $p))))

  (func $write_u32 (param $n i32) (call $write_u64 (i64.extend_i32_u (local.get $n))))

  ;; Argument 1 as a decimal number, or `default` without one.
  (func $arg1 (param $default i32) (result i32)
    (local $p i32) (local $c i32) (local $v i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 2)) (then (return (local.get $default))))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (local.set $p (i32.load (i32.const 1028)))
    (block $done
      (loop $next
        (local.set $c (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $c) (i32.const 9)))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $v))

  (data (i32.const 200) "stretch tree of depth ")
  (data (i32.const 230) "\09 check: ")
  (data (i32.const 240) "\09 trees of depth ")
  (data (i32.const 260) "long lived tree of depth ")
  (data (i32.const 290) "\n")

  (type $node (struct (field $left (ref null $node)) (field $right (ref null $node))))

  (func $bottom_up (param $depth i32) (result (ref $node))
    (if (result (ref $node)) (i32.gt_s (local.get $depth) (i32.const 0))
      (then
        (struct.new $node
          (call $bottom_up (i32.sub (local.get $depth) (i32.const 1)))
          (call $bottom_up (i32.sub (local.get $depth) (i32.const 1)))))
      (else (struct.new $node (ref.null $node) (ref.null $node)))))

  (func $check (param $n (ref null $node)) (result i32)
    (if (result i32) (ref.is_null (local.get $n))
      (then (i32.const 0))
      (else
        (i32.add (i32.const 1)
          (i32.add (call $check (struct.get $node $left (local.get $n)))
                   (call $check (struct.get $node $right (local.get $n))))))))

  ;; `<text>D\t check: C\n`
  (func $line (param $text i32) (param $len i32) (param $d i32) (param $c i32)
    (call $write (local.get $text) (local.get $len))
    (call $write_u32 (local.get $d))
    (call $write (i32.const 230) (i32.const 9))
    (call $write_u32 (local.get $c))
    (call $write (i32.const 290) (i32.const 1)))

  (func (export "_start")
    (local $max i32) (local $depth i32) (local $iterations i32) (local $i i32) (local $sum i32)
    (local $long (ref null $node))
    (local.set $max (call $arg1 (i32.const 10)))
    (if (i32.lt_s (local.get $max) (i32.const 6)) (then (local.set $max (i32.const 6))))
    (call $line (i32.const 200) (i32.const 22) (i32.add (local.get $max) (i32.const 1))
      (call $check (call $bottom_up (i32.add (local.get $max) (i32.const 1)))))
    (local.set $long (call $bottom_up (local.get $max)))
    (local.set $depth (i32.const 4))
    (loop $depths
      (local.set $iterations
        (i32.shl (i32.const 1) (i32.add (i32.sub (local.get $max) (local.get $depth)) (i32.const 4))))
      (local.set $sum (i32.const 0))
      (local.set $i (i32.const 0))
      (loop $trees
        (local.set $sum (i32.add (local.get $sum) (call $check (call $bottom_up (local.get $depth)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $trees (i32.lt_u (local.get $i) (local.get $iterations))))
      (call $write_u32 (local.get $iterations))
      (call $line (i32.const 240) (i32.const 17) (local.get $depth) (local.get $sum))
      (local.set $depth (i32.add (local.get $depth) (i32.const 2)))
      (br_if $depths (i32.le_s (local.get $depth) (local.get $max))))
    (call $line (i32.const 260) (i32.const 25) (local.get $max) (call $check (local.get $long))))
)
