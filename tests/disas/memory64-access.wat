;; A load from a 64-bit memory: the i64 index is used as is and always checked against the
;; current length (no guard region can cover a 64-bit index), with an overflow trap on
;; index + offset + size.
(module
  (memory i64 1)
  (func (export "load_word") (param $addr i64) (result i32)
    (i32.load offset=4 (local.get $addr))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq 0x18(%rdi), %r8
;;     movq %rsi, %r9
;;     addq $0x8, %r9
;;     jb #trap=heap_oob
;;     cmpq %r8, %r9
;;     jnbe #trap=heap_oob
;;     movq 0x10(%rdi), %r9
;;     movl 4(%r9, %rsi), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x8, [x2, #24]
;;     movz x9, #8
;;     adds x9, x3, x9
;;     b.hs #trap=heap_oob
;;     subs xzr, x9, x8
;;     b.hi #trap=heap_oob
;;     ldr x11, [x2, #16]
;;     add x11, x11, x3
;;     ldr w2, [x11, #4]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
