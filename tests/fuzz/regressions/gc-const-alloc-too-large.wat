;; An allocation in a constant expression that cannot be made (an array of 0x7fffffff i64s:
;; over 4 GiB, "allocation size too large") made aot's instantiation fail with an error
;; ("malformed constant expression in global 0: allocation size too large") instead of
;; trapping, as wasmtime does; every build. Found by seeds 264 and 285 once the fuzz test
;; generated GC.
(module
  (type $a (array (mut i64)))
  (global (export "g") (ref null $a) (array.new_default $a (i32.const 0x7fffffff)))
  (func (export "f") (result i32) (i32.const 1)))
