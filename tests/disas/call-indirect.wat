;; call_indirect through a table that can change (here: exported): table bounds check,
;; null funcref (trapping load), signature check.
(module
  (type $t (func (param i32) (result i32)))
  (table (export "t") 2 funcref)
  (func (export "dispatch") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $t) (local.get $x) (local.get $i))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %r10d
;;     cmpq 0x18(%rdi), %r10
;;     jnb #trap=user4
;;     movq 0x10(%rdi), %rax
;;     movq (%rax, %r10, 8), %rax
;;     movl 0x10(%rax), %ecx
;;     cmpl 0x20(%rdi), %ecx
;;     jnz #trap=user6
;;     movq (%rax), %rcx
;;     movq 8(%rax), %rdi
;;     movq %rdx, %rsi
;;     call    *%rcx
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x12, [x2, #24]
;;     mov w13, w3
;;     subs xzr, x13, x12
;;     b.hs #trap=user4
;;     ldr x14, [x2, #16]
;;     ldr x14, [x14, w3, UXTW #3]
;;     ldr w15, [x14, #16]
;;     ldr w0, [x2, #32]
;;     subs wzr, w15, w0
;;     b.ne #trap=user6
;;     ldr x0, [x14]
;;     ldr x2, [x14, #8]
;;     mov x3, x4
;;     blr x0
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
