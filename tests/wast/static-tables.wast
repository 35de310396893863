;; call_indirect through tables whose contents are fixed at compile time (a read-only copy
;; with a type key per element, compiler/src/static_tables.rs), and through tables that
;; only look fixed until something writes them. Every path's result and trap must be what
;; the general path gives.

(module $host
  (func (export "add100") (param i32) (result i32) (i32.add (local.get 0) (i32.const 100)))
  (func (export "nop")))
(register "host" $host)

;; A table nothing writes after instantiation: defined funcs of several types (two of them
;; equal under different indices), an imported function, nulls, overlapping segments
;; (the later wins), offsets from immutable globals and extended constants.
(module
  (import "host" "add100" (func $add100 (param i32) (result i32)))
  (import "host" "nop" (func $hnop))
  (type $ii (func (param i32) (result i32)))
  (type $ii_again (func (param i32) (result i32)))
  (type $v (func))
  (type $ll (func (param i64) (result i64)))
  (global $two i32 (i32.const 2))
  (global $base i32 (global.get $two))
  (table 12 funcref)
  (elem (i32.const 0) $inc $dbl $nop $neg64 $inc)
  (elem (global.get $base) func $sq)                                  ;; 2: $sq over $nop
  (elem (offset (i32.add (global.get $two) (i32.const 5))) $add100 $hnop)  ;; 7, 8: imported
  (elem (i32.const 9) funcref (ref.null func) (ref.func $dbl))       ;; 9: null, 10: $dbl
  (elem declare func $unused)
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $ii_again) (i32.mul (local.get 0) (i32.const 2)))
  (func $sq (type $ii) (i32.mul (local.get 0) (local.get 0)))
  (func $nop (type $v))
  (func $neg64 (type $ll) (i64.sub (i64.const 0) (local.get 0)))
  (func $unused (type $v))
  (func (export "ii") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $ii) (local.get $x) (local.get $i)))
  (func (export "ii_again") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $ii_again) (local.get $x) (local.get $i)))
  (func (export "v") (param $i i32)
    (call_indirect (type $v) (local.get $i)))
  (func (export "ll") (param $i i32) (param $x i64) (result i64)
    (call_indirect (type $ll) (local.get $x) (local.get $i)))
  (func (export "tail") (param $i i32) (param $x i32) (result i32)
    (return_call_indirect (type $ii) (local.get $x) (local.get $i)))
  ;; A loop of calls through the table, as an interpreter's dispatch does.
  (func (export "chain") (param $n i32) (param $x i32) (result i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $x
          (call_indirect (type $ii) (local.get $x) (i32.rem_u (local.get $n) (i32.const 2))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $x)))

(assert_return (invoke "ii" (i32.const 0) (i32.const 41)) (i32.const 42))
(assert_return (invoke "ii" (i32.const 1) (i32.const 21)) (i32.const 42))
(assert_return (invoke "ii_again" (i32.const 0) (i32.const 1)) (i32.const 2))
(assert_return (invoke "ii_again" (i32.const 1) (i32.const 4)) (i32.const 8))
(assert_return (invoke "ii" (i32.const 2) (i32.const 7)) (i32.const 49))
(assert_return (invoke "ii" (i32.const 4) (i32.const 9)) (i32.const 10))
(assert_return (invoke "ii" (i32.const 7) (i32.const 1)) (i32.const 101))
(assert_return (invoke "ii_again" (i32.const 7) (i32.const 2)) (i32.const 102))
(assert_return (invoke "ii" (i32.const 10) (i32.const 5)) (i32.const 10))
(assert_return (invoke "ll" (i32.const 3) (i64.const 5)) (i64.const -5))
(assert_return (invoke "tail" (i32.const 2) (i32.const 3)) (i32.const 9))
(assert_return (invoke "tail" (i32.const 7) (i32.const 3)) (i32.const 103))
(assert_return (invoke "chain" (i32.const 10) (i32.const 0)) (i32.const 62))
(assert_trap (invoke "ii" (i32.const 3) (i32.const 0)) "indirect call type mismatch")
(assert_trap (invoke "v" (i32.const 0)) "indirect call type mismatch")
(assert_trap (invoke "ll" (i32.const 0) (i64.const 0)) "indirect call type mismatch")
(assert_trap (invoke "ii" (i32.const 5) (i32.const 0)) "uninitialized element")
(assert_trap (invoke "ii" (i32.const 9) (i32.const 0)) "uninitialized element")
(assert_trap (invoke "ii" (i32.const 11) (i32.const 0)) "uninitialized element")
(assert_trap (invoke "ii" (i32.const 12) (i32.const 0)) "undefined element")
(assert_trap (invoke "ii" (i32.const -1) (i32.const 0)) "undefined element")
(assert_trap (invoke "tail" (i32.const 12) (i32.const 0)) "undefined element")
(assert_trap (invoke "tail" (i32.const 3) (i32.const 0)) "indirect call type mismatch")
(assert_return (invoke "v" (i32.const 8)) )
(assert_trap (invoke "v" (i32.const 6)) "uninitialized element")

;; A table with an initial value for every element, and a 64-bit table.
(module
  (type $ii (func (param i32) (result i32)))
  (table $t 3 funcref (ref.func $inc))
  (table $u i64 4 funcref)
  (elem (table $t) (i32.const 1) func $dbl)
  (elem (table $u) (i64.const 2) func $dbl $inc)
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "t") (param $i i32) (param $x i32) (result i32)
    (call_indirect $t (type $ii) (local.get $x) (local.get $i)))
  (func (export "u") (param $i i64) (param $x i32) (result i32)
    (call_indirect $u (type $ii) (local.get $x) (local.get $i))))

(assert_return (invoke "t" (i32.const 0) (i32.const 5)) (i32.const 6))
(assert_return (invoke "t" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_return (invoke "t" (i32.const 2) (i32.const 5)) (i32.const 6))
(assert_trap (invoke "t" (i32.const 3) (i32.const 5)) "undefined element")
(assert_return (invoke "u" (i64.const 2) (i32.const 5)) (i32.const 10))
(assert_return (invoke "u" (i64.const 3) (i32.const 5)) (i32.const 6))
(assert_trap (invoke "u" (i64.const 1) (i32.const 5)) "uninitialized element")
(assert_trap (invoke "u" (i64.const 4) (i32.const 5)) "undefined element")
(assert_trap (invoke "u" (i64.const 0x1_0000_0002) (i32.const 5)) "undefined element")

;; Tables something writes: table.set, table.grow, table.fill, table.copy into it,
;; table.init into it, and an exported table. Each call must see the writes.
(module
  (type $ii (func (param i32) (result i32)))
  (table $set 2 funcref)
  (table $grow 1 funcref)
  (table $fill 2 funcref)
  (table $copy 2 funcref)
  (table $init 2 funcref)
  (table $src 2 funcref)
  (table $exp (export "exp-table") 2 funcref)
  (elem (table $set) (i32.const 0) func $inc)
  (elem (table $grow) (i32.const 0) func $inc)
  (elem (table $fill) (i32.const 0) func $inc $inc)
  (elem (table $copy) (i32.const 0) func $inc $inc)
  (elem (table $init) (i32.const 0) func $inc $inc)
  (elem (table $src) (i32.const 0) func $dbl $dbl)
  (elem (table $exp) (i32.const 0) func $inc $inc)
  (elem $passive func $dbl $dbl)
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func (export "write")
    (table.set $set (i32.const 1) (ref.func $dbl))
    (drop (table.grow $grow (ref.func $dbl) (i32.const 1)))
    (table.fill $fill (i32.const 1) (ref.func $dbl) (i32.const 1))
    (table.copy $copy $src (i32.const 1) (i32.const 0) (i32.const 1))
    (table.init $init $passive (i32.const 1) (i32.const 0) (i32.const 1))
    (table.set $exp (i32.const 1) (ref.func $dbl)))
  (func (export "set") (param $i i32) (param $x i32) (result i32)
    (call_indirect $set (type $ii) (local.get $x) (local.get $i)))
  (func (export "grow") (param $i i32) (param $x i32) (result i32)
    (call_indirect $grow (type $ii) (local.get $x) (local.get $i)))
  (func (export "fill") (param $i i32) (param $x i32) (result i32)
    (call_indirect $fill (type $ii) (local.get $x) (local.get $i)))
  (func (export "copy") (param $i i32) (param $x i32) (result i32)
    (call_indirect $copy (type $ii) (local.get $x) (local.get $i)))
  (func (export "init") (param $i i32) (param $x i32) (result i32)
    (call_indirect $init (type $ii) (local.get $x) (local.get $i)))
  (func (export "src") (param $i i32) (param $x i32) (result i32)
    (call_indirect $src (type $ii) (local.get $x) (local.get $i)))
  (func (export "exp") (param $i i32) (param $x i32) (result i32)
    (call_indirect $exp (type $ii) (local.get $x) (local.get $i))))

(assert_trap (invoke "set" (i32.const 1) (i32.const 5)) "uninitialized element")
(assert_trap (invoke "grow" (i32.const 1) (i32.const 5)) "undefined element")
(assert_return (invoke "fill" (i32.const 1) (i32.const 5)) (i32.const 6))
(assert_return (invoke "copy" (i32.const 1) (i32.const 5)) (i32.const 6))
(assert_return (invoke "init" (i32.const 1) (i32.const 5)) (i32.const 6))
(assert_return (invoke "exp" (i32.const 1) (i32.const 5)) (i32.const 6))
(invoke "write")
(assert_return (invoke "set" (i32.const 0) (i32.const 5)) (i32.const 6))
(assert_return (invoke "set" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_return (invoke "grow" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_trap (invoke "grow" (i32.const 2) (i32.const 5)) "undefined element")
(assert_return (invoke "fill" (i32.const 0) (i32.const 5)) (i32.const 6))
(assert_return (invoke "fill" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_return (invoke "copy" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_return (invoke "init" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_return (invoke "src" (i32.const 1) (i32.const 5)) (i32.const 10))
(assert_return (invoke "exp" (i32.const 1) (i32.const 5)) (i32.const 10))

;; An exported table another module writes.
(module $owner
  (type $ii (func (param i32) (result i32)))
  (table (export "t") 2 funcref)
  (elem (i32.const 0) func $inc $inc)
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func (export "call") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $ii) (local.get $x) (local.get $i))))
(register "owner" $owner)
(module
  (type $ii (func (param i32) (result i32)))
  (import "owner" "t" (table $t 2 funcref))
  (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (elem declare func $dbl)
  (func (export "write") (table.set $t (i32.const 1) (ref.func $dbl))))
(assert_return (invoke $owner "call" (i32.const 1) (i32.const 5)) (i32.const 6))
(invoke "write")
(assert_return (invoke $owner "call" (i32.const 1) (i32.const 5)) (i32.const 10))

;; Subtyping: a function of a declared subtype in a fixed table matches a call of its
;; supertype (the keys differ, so the general path decides), and not the other way.
(module
  (type $sup (sub (func (param i32) (result i32))))
  (type $sub (sub $sup (func (param i32) (result i32))))
  (type $other (func (param i32) (result i32)))  ;; final: not $sup
  (table 3 funcref)
  (elem (i32.const 0) func $f $g $h)
  (func $f (type $sub) (i32.add (local.get 0) (i32.const 1)))
  (func $g (type $sup) (i32.add (local.get 0) (i32.const 2)))
  (func $h (type $other) (i32.add (local.get 0) (i32.const 3)))
  (func (export "sup") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $sup) (local.get $x) (local.get $i)))
  (func (export "sub") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $sub) (local.get $x) (local.get $i))))

(assert_return (invoke "sup" (i32.const 0) (i32.const 10)) (i32.const 11))
(assert_return (invoke "sup" (i32.const 1) (i32.const 10)) (i32.const 12))
(assert_trap (invoke "sup" (i32.const 2) (i32.const 10)) "indirect call type mismatch")
(assert_return (invoke "sub" (i32.const 0) (i32.const 10)) (i32.const 11))
(assert_trap (invoke "sub" (i32.const 1) (i32.const 10)) "indirect call type mismatch")

;; A segment that does not fit: instantiation fails (and the table is never used).
(assert_trap
  (module
    (table 2 funcref)
    (elem (i32.const 1) func $f $f)
    (func $f))
  "out of bounds table access")
