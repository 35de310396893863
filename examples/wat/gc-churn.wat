;; Allocation churn with Wasm GC: per round 64 i32 arrays of 1..4096 elements (about 512 KB),
;; each referenced from an anyref array that also holds itself and an i31, and 1000 cycles
;; of two structs (one with a 4-element payload array) kept in a global until the next one
;; replaces it; one array per round goes into a 64-slot live set checked at the end.
;; Argument: rounds (default 100). Prints a checksum; needs a collector that frees cycles.
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

  (data (i32.const 200) "churn: rounds ")
  (data (i32.const 220) ", arrays ")
  (data (i32.const 230) ", pairs ")
  (data (i32.const 240) ", checksum ")
  (data (i32.const 290) "\n")

  (type $ints (array (mut i32)))
  (type $refs (array (mut anyref)))
  (type $pair (struct (field $other (mut (ref null $pair))) (field $id i64)
                      (field $payload (mut (ref null $ints)))))
  ;; The live set: 64 slots, one overwritten per round.
  (global $live (mut (ref null $refs)) (ref.null $refs))
  ;; The last cycle, dropped when the next one replaces it.
  (global $keep (mut (ref null $pair)) (ref.null $pair))

  ;; One round: 64 i32 arrays of 1..4096 elements, each referenced from a 16-slot anyref array
  ;; that also holds itself and an i31; then 1000 dead two-struct cycles.
  (func $round (param $r i32) (param $seed i32) (result i64 i32)
    (local $i i32) (local $len i32) (local $sum i64)
    (local $a (ref null $ints)) (local $refs (ref null $refs)) (local $p (ref null $pair))
    (local $q (ref null $pair))
    (loop $arrays
      (local.set $seed (i32.add (i32.mul (local.get $seed) (i32.const 1103515245)) (i32.const 12345)))
      (local.set $len (i32.add (i32.const 1) (i32.and (i32.shr_u (local.get $seed) (i32.const 8)) (i32.const 4095))))
      (local.set $a (array.new $ints (i32.xor (local.get $i) (local.get $r)) (local.get $len)))
      (array.set $ints (local.get $a) (i32.sub (local.get $len) (i32.const 1)) (local.get $r))
      (local.set $refs (array.new_default $refs (i32.const 16)))
      (array.set $refs (local.get $refs) (i32.and (local.get $i) (i32.const 7)) (local.get $a))
      (array.set $refs (local.get $refs) (i32.const 14) (ref.i31 (i32.add (local.get $i) (local.get $r))))
      (array.set $refs (local.get $refs) (i32.const 15) (local.get $refs))
      (local.set $a (ref.cast (ref $ints)
        (array.get $refs (local.get $refs) (i32.and (local.get $i) (i32.const 7)))))
      (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (i32.add
        (i32.add (array.get $ints (local.get $a) (i32.shr_u (local.get $len) (i32.const 1)))
                 (array.get $ints (local.get $a) (i32.sub (local.get $len) (i32.const 1))))
        (i32.add (array.len (local.get $a))
                 (i31.get_u (ref.cast (ref i31) (array.get $refs
                   (ref.cast (ref $refs) (array.get $refs (local.get $refs) (i32.const 15)))
                   (i32.const 14)))))))))
      (if (i32.eqz (local.get $i))
        (then (array.set $refs (global.get $live) (i32.and (local.get $r) (i32.const 63)) (local.get $a))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $arrays (i32.lt_u (local.get $i) (i32.const 64))))
    (local.set $i (i32.const 0))
    (loop $cycles
      (local.set $p (struct.new $pair (ref.null $pair) (i64.extend_i32_u (local.get $i)) (ref.null $ints)))
      (local.set $q (struct.new $pair (local.get $p) (i64.extend_i32_u (local.get $r))
        (array.new $ints (local.get $i) (i32.const 4))))
      (struct.set $pair $other (local.get $p) (local.get $q))
      (global.set $keep (local.get $p))
      (local.set $sum (i64.add (local.get $sum)
        (i64.add (struct.get $pair $id (struct.get $pair $other (struct.get $pair $other (global.get $keep))))
          (i64.add (struct.get $pair $id (struct.get $pair $other (global.get $keep)))
            (i64.extend_i32_u (array.get $ints
              (struct.get $pair $payload (struct.get $pair $other (global.get $keep))) (i32.const 3)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $cycles (i32.lt_u (local.get $i) (i32.const 1000))))
    (local.get $sum) (local.get $seed))

  (func (export "_start")
    (local $rounds i32) (local $r i32) (local $seed i32) (local $sum i64) (local $part i64)
    (local $x anyref)
    (local.set $rounds (call $arg1 (i32.const 100)))
    (global.set $live (array.new_default $refs (i32.const 64)))
    (local.set $seed (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $r) (local.get $rounds)))
        (call $round (local.get $r) (local.get $seed))
        (local.set $seed)
        (local.set $part)
        (local.set $sum (i64.add (local.get $sum) (local.get $part)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next)))
    ;; The live set survived every collection intact.
    (local.set $r (i32.const 0))
    (loop $slots
      (local.set $x (array.get $refs (global.get $live) (local.get $r)))
      (if (ref.test (ref $ints) (local.get $x))
        (then (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u
          (array.len (ref.cast (ref $ints) (local.get $x))))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $slots (i32.lt_u (local.get $r) (i32.const 64))))
    (call $write (i32.const 200) (i32.const 14))
    (call $write_u32 (local.get $rounds))
    (call $write (i32.const 220) (i32.const 9))
    (call $write_u32 (i32.mul (local.get $rounds) (i32.const 64)))
    (call $write (i32.const 230) (i32.const 8))
    (call $write_u32 (i32.mul (local.get $rounds) (i32.const 1000)))
    (call $write (i32.const 240) (i32.const 11))
    (call $write_u64 (local.get $sum))
    (call $write (i32.const 290) (i32.const 1)))
)
