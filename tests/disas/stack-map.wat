;; GC roots: an externref live across a call is spilled to a stack slot before it (the
;; slot is in the call's stack map) and reloaded from the slot after it, where a moving
;; collector may have rewritten it. The i32 is not a reference and stays in a register.
(module
  (import "env" "f" (func $f))
  (func (export "keep") (param $r externref) (param $n i32) (result externref i32)
    (call $f)
    (local.get $r)
    (local.get $n)))
