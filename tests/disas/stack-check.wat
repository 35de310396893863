;; Stack-limit checks: none in a function that calls only Wasm code (an overflow faults in
;; the guard below the stack); one in a function that calls a builtin (memory.grow), which
;; is host code and needs the slack below the limit.
(module
  (memory 1)
  (func $wasm_only (param i32) (result i32)
    (call $wasm_only (i32.add (local.get 0) (i32.const 1))))
  (func $calls_builtin (param i32) (result i32)
    (memory.grow (local.get 0))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu wasm_only
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     leal 1(%rsi), %esi
;;     call    User(userextname0)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu calls_builtin
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     movq (%rdi), %r10
;;     movq (%r10), %r10
;;     addq $0x10, %r10
;;     cmpq %rsp, %r10
;;     jnbe #trap=stk_ovf
;;   block0:
;;     movq %rsi, %r9
;;     uninit  %rsi
;;     xorl %esi, %esi
;;     movl %r9d, %edx
;;     call    User(userextname0)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu wasm_only
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     add w3, w3, #1
;;     bl 0
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu calls_builtin
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     ldr x16, [x2]
;;     ldr x16, [x16]
;;     add x16, x16, #16
;;     subs xzr, sp, x16, UXTX
;;     b.lo #trap=stk_ovf
;;   block0:
;;     mov x0, x2
;;     movz w1, #0
;;     mov w2, w3
;;     bl 0
;;     b label1
;;   block1:
;;     mov x2, x0
;;     ldp fp, lr, [sp], #16
;;     ret
