(component
  (import "wasi:io/streams@0.2.3" (instance $s (export "output-stream" (type (sub resource)))))
  (alias export $s "output-stream" (type $os))
  (core func $drop (canon resource.drop $os))
  (core module $m
    (import "env" "drop" (func $drop (param i32)))
    (func (export "run") (result i32) i32.const 99 call $drop i32.const 0))
  (core instance $i (instantiate $m (with "env" (instance (export "drop" (func $drop))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $ri (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $ri)))
