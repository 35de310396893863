;; Sums its decimal arguments, with exception handling (the standard proposal) for errors:
;; `parse` throws $bad (argument index, offending byte) or $overflow (argument index) from
;; deep inside a recursion whose every frame has a cleanup (a `catch_all_ref` that counts
;; the frame in $unwound and rethrows with `throw_ref`), and `_start` catches both by tag.
;; Output: `sum N`, or `bad byte B in argument I (K frames unwound)` and status 2, or
;; `argument I overflows (K frames unwound)` and status 3.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0..8: argc, argv_buf_size; 16..24: iovec; 32..64: number text; 1024..: argv; 4096..: argv buffer.
  (data (i32.const 200) "sum ")
  (data (i32.const 210) "bad byte ")
  (data (i32.const 220) " in argument ")
  (data (i32.const 240) " frames unwound)\n")
  (data (i32.const 260) "argument ")
  (data (i32.const 270) " overflows (")
  (data (i32.const 290) " (")
  (data (i32.const 300) "\n")
  (tag $bad (param i32 i32))
  (tag $overflow (param i32))
  (global $unwound (mut i32) (i32.const 0))

  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 16) (local.get $ptr))
    (i32.store (i32.const 20) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24))))

  ;; Writes `n` in decimal.
  (func $write_u64 (param $n i64)
    (local $p i32)
    (local.set $p (i32.const 64))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i64.store8 (local.get $p) (i64.add (i64.const 48) (i64.rem_u (local.get $n) (i64.const 10))))
      (local.set $n (i64.div_u (local.get $n) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $n) (i64.const 0))))
    (call $write (local.get $p) (i32.sub (i32.const 64) (local.get $p))))

  ;; The NUL-terminated decimal at `ptr`, argument `index`.
  (func $parse (param $ptr i32) (param $index i32) (result i64)
    (local $c i32) (local $v i64)
    (block $done
      (loop $next
        (local.set $c (i32.load8_u (local.get $ptr)))
        (br_if $done (i32.eqz (local.get $c)))
        (if (i32.gt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 9))
          (then (throw $bad (local.get $index) (local.get $c))))
        (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10))
                               (i64.extend_i32_u (i32.sub (local.get $c) (i32.const 48)))))
        (if (i64.gt_u (local.get $v) (i64.const 1000000000000))
          (then (throw $overflow (local.get $index))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next)))
    (local.get $v))

  ;; Sum of arguments i..argc-1, one frame per argument, each with a cleanup.
  (func $sum_from (param $i i32) (param $argc i32) (result i64)
    (block $cleanup (result exnref)
      (try_table (result i64) (catch_all_ref $cleanup)
        (if (result i64) (i32.ge_u (local.get $i) (local.get $argc))
          (then (i64.const 0))
          (else
            (i64.add
              (call $parse (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2))))
                           (local.get $i))
              (call $sum_from (i32.add (local.get $i) (i32.const 1)) (local.get $argc))))))
      (return))
    (global.set $unwound (i32.add (global.get $unwound) (i32.const 1)))
    (throw_ref))

  (func $unwound_tail
    (call $write (i32.const 290) (i32.const 2))
    (call $write_u64 (i64.extend_i32_u (global.get $unwound)))
    (call $write (i32.const 240) (i32.const 17)))

  (func (export "_start")
    (local $index i32) (local $byte i32) (local $sum i64)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (block $overflowed (result i32)
      (block $bad_byte (result i32 i32)
        (try_table (catch $bad $bad_byte) (catch $overflow $overflowed)
          (local.set $sum (call $sum_from (i32.const 1) (i32.load (i32.const 0)))))
        (call $write (i32.const 200) (i32.const 4))
        (call $write_u64 (local.get $sum))
        (call $write (i32.const 300) (i32.const 1))
        (return))
      (local.set $byte)
      (local.set $index)
      (call $write (i32.const 210) (i32.const 9))
      (call $write_u64 (i64.extend_i32_u (local.get $byte)))
      (call $write (i32.const 220) (i32.const 13))
      (call $write_u64 (i64.extend_i32_u (local.get $index)))
      (call $unwound_tail)
      (call $proc_exit (i32.const 2))
      (unreachable))
    (local.set $index)
    (call $write (i32.const 260) (i32.const 9))
    (call $write_u64 (i64.extend_i32_u (local.get $index)))
    (call $write (i32.const 270) (i32.const 12))
    (call $write_u64 (i64.extend_i32_u (global.get $unwound)))
    (call $write (i32.const 240) (i32.const 17))
    (call $proc_exit (i32.const 3))))
