;; A linked list of Wasm GC structs: N cells built by prepending, a weighted sum, reversed in
;; place by relinking (and passed through anyref and cast back), a new list of the squares
;; (the old cells become garbage), then copied into an i64 array that is shifted by one
;; with an overlapping array.copy and hashed. Argument: N (default 100000).
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

  (data (i32.const 200) "length ")
  (data (i32.const 210) ", weighted sum ")
  (data (i32.const 230) ", head ")
  (data (i32.const 240) "reversed: head ")
  (data (i32.const 260) ", second ")
  (data (i32.const 270) "squares: sum ")
  (data (i32.const 290) "\n")
  (data (i32.const 300) "array: checksum ")

  (type $cell (struct (field $value i64) (field $next (mut (ref null $cell)))))
  (type $vec (array (mut i64)))

  ;; Cells n, n-1, ..., 1 (built by prepending 1..n).
  (func $build (param $n i32) (result (ref null $cell))
    (local $head (ref null $cell)) (local $i i32)
    (loop $next
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $head (struct.new $cell (i64.extend_i32_u (local.get $i)) (local.get $head)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $head))

  ;; Sum of value * (index % 7 + 1).
  (func $weighted (param $c (ref null $cell)) (result i64)
    (local $sum i64) (local $i i64)
    (block $end
      (loop $next
        (br_if $end (ref.is_null (local.get $c)))
        (local.set $sum (i64.add (local.get $sum)
          (i64.mul (struct.get $cell $value (local.get $c))
                   (i64.add (i64.rem_u (local.get $i) (i64.const 7)) (i64.const 1)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (local.set $c (struct.get $cell $next (local.get $c)))
        (br $next)))
    (local.get $sum))

  (func $length (param $c (ref null $cell)) (result i32)
    (local $n i32)
    (block $end
      (loop $next
        (br_if $end (ref.is_null (local.get $c)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $c (struct.get $cell $next (local.get $c)))
        (br $next)))
    (local.get $n))

  ;; In place, by relinking.
  (func $reverse (param $c (ref null $cell)) (result (ref null $cell))
    (local $out (ref null $cell)) (local $next (ref null $cell))
    (block $end
      (loop $step
        (br_if $end (ref.is_null (local.get $c)))
        (local.set $next (struct.get $cell $next (local.get $c)))
        (struct.set $cell $next (local.get $c) (local.get $out))
        (local.set $out (local.get $c))
        (local.set $c (local.get $next))
        (br $step)))
    (local.get $out))

  ;; A new list of the squares (in reverse order), the old one left to the collector.
  (func $squares (param $c (ref null $cell)) (result (ref null $cell))
    (local $out (ref null $cell))
    (block $end
      (loop $step
        (br_if $end (ref.is_null (local.get $c)))
        (local.set $out (struct.new $cell
          (i64.mul (struct.get $cell $value (local.get $c)) (struct.get $cell $value (local.get $c)))
          (local.get $out)))
        (local.set $c (struct.get $cell $next (local.get $c)))
        (br $step)))
    (local.get $out))

  (func $text (param $ptr i32) (param $len i32) (param $n i64)
    (call $write (local.get $ptr) (local.get $len))
    (call $write_u64 (local.get $n)))

  (func (export "_start")
    (local $n i32) (local $i i32) (local $list (ref null $cell)) (local $any anyref)
    (local $v (ref null $vec)) (local $sum i64)
    (local.set $n (call $arg1 (i32.const 100000)))
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (local.set $n (i32.const 2))))
    (local.set $list (call $build (local.get $n)))
    (call $text (i32.const 200) (i32.const 7) (i64.extend_i32_u (call $length (local.get $list))))
    (call $text (i32.const 210) (i32.const 15) (call $weighted (local.get $list)))
    (call $text (i32.const 230) (i32.const 7) (struct.get $cell $value (local.get $list)))
    (call $write (i32.const 290) (i32.const 1))
    ;; Through anyref and back, as a generic container would hold it.
    (local.set $any (call $reverse (local.get $list)))
    (local.set $list (ref.cast (ref null $cell) (local.get $any)))
    (call $text (i32.const 240) (i32.const 15) (struct.get $cell $value (local.get $list)))
    (call $text (i32.const 260) (i32.const 9)
      (struct.get $cell $value (struct.get $cell $next (local.get $list))))
    (call $write (i32.const 290) (i32.const 1))
    (local.set $list (call $squares (local.get $list)))
    (call $text (i32.const 270) (i32.const 13) (call $weighted (local.get $list)))
    (call $write (i32.const 290) (i32.const 1))
    ;; Into an array, shifted by one with an overlapping array.copy, then summed.
    (local.set $v (array.new_default $vec (local.get $n)))
    (block $end
      (loop $fill
        (br_if $end (ref.is_null (local.get $list)))
        (array.set $vec (local.get $v) (local.get $i) (struct.get $cell $value (local.get $list)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $list (struct.get $cell $next (local.get $list)))
        (br $fill)))
    (array.copy $vec $vec (local.get $v) (i32.const 1) (local.get $v) (i32.const 0)
      (i32.sub (local.get $n) (i32.const 1)))
    (local.set $i (i32.const 0))
    (loop $add
      (local.set $sum (i64.add (i64.mul (local.get $sum) (i64.const 31))
        (array.get $vec (local.get $v) (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $add (i32.lt_u (local.get $i) (local.get $n))))
    (call $text (i32.const 300) (i32.const 16) (local.get $sum))
    (call $write (i32.const 290) (i32.const 1)))
)
