;; Loops `aot` unrolls by default (compiler/src/translate/unroll.rs: innermost, no
;; parameters or results, ending in `br_if 0` or `br 0`, no calls, at least four
;; local-to-local copies): each is run for trip counts that leave from every copy, and
;; checked against the same loop with a call in it, which `aot` does not unroll.
;; The spec run with AOT_SPEC_UNROLL=every also unrolls the reference loops.

(module
  (memory 1)
  (func $nothing)

  ;; Four locals rotate each round, as SHA-256's working variables do; `n` rounds (at
  ;; least one: the test comes after the body).
  (func $rotate (export "rotate") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $t i32)
    (local.set $a (i32.const 0x6a09e667))
    (local.set $b (i32.const 0xbb67ae85))
    (local.set $c (i32.const 0x3c6ef372))
    (local.set $d (i32.const 0xa54ff53a))
    (loop
      (local.set $t (i32.add (i32.rotl (local.get $a) (i32.const 5))
                             (i32.xor (local.get $b) (local.get $n))))
      local.get $c local.set $d
      local.get $b local.set $c
      local.get $a local.set $b
      local.get $t local.set $a
      (br_if 0 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.xor (i32.xor (local.get $a) (local.get $b)) (i32.xor (local.get $c) (local.get $d))))

  (func $rotate_ref (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $t i32)
    (local.set $a (i32.const 0x6a09e667))
    (local.set $b (i32.const 0xbb67ae85))
    (local.set $c (i32.const 0x3c6ef372))
    (local.set $d (i32.const 0xa54ff53a))
    (loop
      (call $nothing)
      (local.set $t (i32.add (i32.rotl (local.get $a) (i32.const 5))
                             (i32.xor (local.get $b) (local.get $n))))
      local.get $c local.set $d
      local.get $b local.set $c
      local.get $a local.set $b
      local.get $t local.set $a
      (br_if 0 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.xor (i32.xor (local.get $a) (local.get $b)) (i32.xor (local.get $c) (local.get $d))))

  ;; Leaves by a branch out of the middle of the body once the sum passes `limit`, stores
  ;; each round's value, and starts the next round early (`br` to the loop from inside a
  ;; block) on odd rounds; the back edge is `br 0`.
  (func $exits (export "exits") (param $limit i32) (result i32)
    (local $i i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $s i32)
    (local.set $a (i32.const 1))
    (local.set $b (i32.const 2))
    (local.set $c (i32.const 3))
    (block $out
      (loop $next
        local.get $a local.set $s
        local.get $b local.set $a
        local.get $c local.set $b
        local.get $d local.set $c
        (local.set $d (i32.add (local.get $s) (local.get $i)))
        (i32.store (i32.shl (i32.and (local.get $i) (i32.const 63)) (i32.const 2))
                   (local.get $d))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $out (i32.gt_u (local.get $d) (local.get $limit)))
        (block
          (br_if $next (i32.and (local.get $i) (i32.const 1)))
          (local.set $d (i32.add (local.get $d) (local.get $b))))
        (br $next)))
    (i32.add (i32.mul (local.get $i) (i32.const 1000))
             (i32.add (local.get $d) (i32.load (i32.const 8)))))

  (func $exits_ref (param $limit i32) (result i32)
    (local $i i32) (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $s i32)
    (local.set $a (i32.const 1))
    (local.set $b (i32.const 2))
    (local.set $c (i32.const 3))
    (block $out
      (loop $next
        (call $nothing)
        local.get $a local.set $s
        local.get $b local.set $a
        local.get $c local.set $b
        local.get $d local.set $c
        (local.set $d (i32.add (local.get $s) (local.get $i)))
        (i32.store (i32.shl (i32.and (local.get $i) (i32.const 63)) (i32.const 2))
                   (local.get $d))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $out (i32.gt_u (local.get $d) (local.get $limit)))
        (block
          (br_if $next (i32.and (local.get $i) (i32.const 1)))
          (local.set $d (i32.add (local.get $d) (local.get $b))))
        (br $next)))
    (i32.add (i32.mul (local.get $i) (i32.const 1000))
             (i32.add (local.get $d) (i32.load (i32.const 8)))))

  ;; Divides by a rotating value that reaches zero in round `z` (if `z` <= `n`): traps in
  ;; whichever copy that round is; else returns normally. Also returns from inside the
  ;; loop when a round's quotient is 7.
  (func (export "divide") (param $n i32) (param $z i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $q i32)
    (local.set $a (i32.const 100))
    (local.set $b (i32.const 9))
    (local.set $c (i32.const 8))
    (local.set $d (i32.const 5))
    (loop
      (local.set $z (i32.sub (local.get $z) (i32.const 1)))
      (local.set $q (i32.div_u (local.get $a)
                               (select (i32.const 0) (local.get $b) (i32.eqz (local.get $z)))))
      (if (i32.eq (local.get $q) (i32.const 7)) (then (return (i32.const -7))))
      local.get $b local.set $a
      local.get $c local.set $b
      local.get $d local.set $c
      local.get $q local.set $d
      (local.set $a (i32.add (local.get $a) (i32.const 3)))
      (local.set $b (i32.add (local.get $b) (i32.const 11)))
      (br_if 0 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (local.get $a) (i32.mul (local.get $d) (i32.const 256))))

  ;; 1 if the unrolled loops agree with their references for every count up to `max`.
  (func (export "agree") (param $max i32) (result i32)
    (local $n i32)
    (loop $each
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (if (i32.ne (call $rotate (local.get $n)) (call $rotate_ref (local.get $n)))
        (then (return (i32.const 0))))
      (if (i32.ne (call $exits (i32.mul (local.get $n) (local.get $n)))
                  (call $exits_ref (i32.mul (local.get $n) (local.get $n))))
        (then (return (i32.const 0))))
      (br_if $each (i32.lt_u (local.get $n) (local.get $max))))
    (i32.const 1))
)

(assert_return (invoke "agree" (i32.const 70)) (i32.const 1))
(assert_return (invoke "rotate" (i32.const 1)) (i32.const 0x11a4c0e1))
(assert_return (invoke "rotate" (i32.const 2)) (i32.const 0xd3536693))
(assert_return (invoke "rotate" (i32.const 3)) (i32.const 0xa7fbd1e1))
(assert_return (invoke "rotate" (i32.const 4)) (i32.const 0x358bfd7d))
(assert_return (invoke "rotate" (i32.const 5)) (i32.const 0x17d65d3d))
(assert_return (invoke "rotate" (i32.const 9)) (i32.const 0x1a55f6c8))
(assert_return (invoke "rotate" (i32.const 1000)) (i32.const 0xe2f6fdb9))
(assert_return (invoke "exits" (i32.const 0)) (i32.const 0x3ee))
(assert_return (invoke "exits" (i32.const 5)) (i32.const 0x177d))
(assert_return (invoke "exits" (i32.const 40)) (i32.const 0x36f4))
(assert_return (invoke "exits" (i32.const 1000)) (i32.const 0x6a20))
(assert_return (invoke "divide" (i32.const 1) (i32.const 9)) (i32.const 0xb0c))
(assert_trap (invoke "divide" (i32.const 3) (i32.const 1)) "integer divide by zero")
(assert_trap (invoke "divide" (i32.const 3) (i32.const 2)) "integer divide by zero")
(assert_trap (invoke "divide" (i32.const 6) (i32.const 3)) "integer divide by zero")
(assert_trap (invoke "divide" (i32.const 6) (i32.const 4)) "integer divide by zero")
(assert_trap (invoke "divide" (i32.const 9) (i32.const 5)) "integer divide by zero")
(assert_return (invoke "divide" (i32.const 4) (i32.const 5)) (i32.const 0x19))
