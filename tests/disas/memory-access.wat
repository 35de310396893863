;; A load and a store through the guard-page memory: no explicit bounds check, the base
;; load from vmctx, and the address arithmetic.
(module
  (memory 1)
  (func (export "copy_word") (param $dst i32) (param $src i32)
    (i32.store offset=8 (local.get $dst) (i32.load offset=4 (local.get $src)))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq 0x10(%rdi), %rdi
;;     movl %edx, %r8d
;;     movl 4(%rdi, %r8), %r8d
;;     movl %esi, %r9d
;;     movl %r8d, 8(%rdi, %r9)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x7, [x2, #16]
;;     add x8, x7, x4, UXTW
;;     ldr w8, [x8, #4]
;;     add x7, x7, x3, UXTW
;;     str w8, [x7, #8]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
