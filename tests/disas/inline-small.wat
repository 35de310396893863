;; At -O2 a tiny callee is inlined into its caller: `get` disappears from `use`, and
;; recursion (`fac`) is never inlined into itself.
(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $get (result i32) (i32.load (global.get $g)))
  (func (export "use") (result i32) (i32.add (call $get) (call $get)))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1))))))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu get
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl 0x20(%rdi), %esi
;;     movq 0x10(%rdi), %rdi
;;     movl %esi, %esi
;;     movl (%rdi, %rsi), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     movl 0x20(%rdi), %r8d
;;     movq 0x10(%rdi), %rdi
;;     movl %r8d, %r8d
;;     movl (%rdi, %r8), %edi
;;     jmp     label2
;;   block2:
;;     jmp     label3
;;   block3:
;;     jmp     label4
;;   block4:
;;     jmp     label5
;;   block5:
;;     jmp     label6
;;   block6:
;;     jmp     label7
;;   block7:
;;     leal (%rdi, %rdi), %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu fac
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     subq $0x10, %rsp
;;     movq %r12, (%rsp)
;;   block0:
;;     testq %rsi, %rsi
;;     movq %rsi, %r12
;;     jz      label2; j label1
;;   block1:
;;     movq %r12, %rax
;;     movq %rax, %rsi
;;     subq $0x1, %rsi
;;     call    User(userextname0)
;;     movq %r12, %rsi
;;     imulq %rax, %rsi
;;     movq %rsi, %rax
;;     jmp     label3
;;   block2:
;;     movl $0x1, %eax
;;     jmp     label3
;;   block3:
;;     jmp     label4
;;   block4:
;;     movq (%rsp), %r12
;;     addq $0x10, %rsp
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu get
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr w4, [x2, #32]
;;     ldr x5, [x2, #16]
;;     ldr w2, [x5, w4, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     ldr w6, [x2, #32]
;;     ldr x7, [x2, #16]
;;     ldr w6, [x7, w6, UXTW]
;;     b label2
;;   block2:
;;     b label3
;;   block3:
;;     b label4
;;   block4:
;;     b label5
;;   block5:
;;     b label6
;;   block6:
;;     b label7
;;   block7:
;;     add w2, w6, w6
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu fac
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     str x19, [sp, #-16]!
;;   block0:
;;     cbz x3, label2 ; b label1
;;   block1:
;;     mov x12, x3
;;     sub x3, x12, #1
;;     mov x19, x12
;;     bl 0
;;     mov x3, x19
;;     madd x2, x3, x2, xzr
;;     b label3
;;   block2:
;;     movz x2, #1
;;     b label3
;;   block3:
;;     b label4
;;   block4:
;;     ldr x19, [sp], #16
;;     ldp fp, lr, [sp], #16
;;     ret
