(component
  (component $callee
    (core module $m
      (memory (export "mem") 1)
      (global $bump (mut i32) (i32.const 1024))
      (func (export "realloc") (param i32 i32 i32 i32) (result i32)
        global.get $bump global.get $bump local.get 3 i32.add global.set $bump)
      (func (export "f")  (result i32) (i32.store8 (i32.const 16) (i32.const 2)) i32.const 16))
    (core instance $i (instantiate $m))
    (func (export "f") (result (option u8)) (canon lift (core func $i "f") (memory (core memory $i "mem")) (realloc (core func $i "realloc")))))
  (instance $c (instantiate $callee))
  (core module $mm (memory (export "mem") 1))
  (core instance $mmi (instantiate $mm))
  (core func $f (canon lower (func $c "f") (memory (core memory $mmi "mem"))))
  (core module $main
    (import "m" "mem" (memory 1))
    (import "c" "f" (func $f (param i32)))
    (data (i32.const 64) "")
    (func (export "run") (result i32) i32.const 32 call $f i32.const 0))
  (core instance $mi (instantiate $main (with "m" (instance $mmi)) (with "c" (instance (export "f" (func $f))))))
  (func $run (result (result)) (canon lift (core func $mi "run")))
  (instance $ri (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $ri)))
