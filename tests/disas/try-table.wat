;; try_table: the call inside is a try_call whose normal path is a plain call and a jump
;; (nothing is checked for exceptions); the landing pad, out of line, compares the thrown
;; tag with this instance's and loads the payload, or rethrows through the stub. The one
;; cost is per function, not per call: a try_call clobbers every register on its
;; exceptional edge (Cranelift's exception ABI), so the prologue saves the callee-saved
;; registers the function's caller expects kept, and values live across the call are
;; spilled (here vmctx).
(module
  (tag $e (param i32))
  (func $f (param i32) (result i32) (local.get 0))
  (func (export "catch") (param $x i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h) (call $f (local.get $x))))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu f
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     movq %rsi, %rax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     subq $0x40, %rsp
;;     movq %rbx, 0x10(%rsp)
;;     movq %r12, 0x18(%rsp)
;;     movq %r13, 0x20(%rsp)
;;     movq %r14, 0x28(%rsp)
;;     movq %r15, 0x30(%rsp)
;;   block0:
;;     movq %rdi, <offset:1>+(%rsp)
;;     call    User(userextname0); jmp MachLabel(1); catch [default: MachLabel(3)]
;;   block1:
;;     jmp     label2
;;   block2:
;;     jmp     label6
;;   block3:
;;     movq %rax, %rsi
;;     movq 8(%rsi), %rax
;;     movq <offset:1>+(%rsp), %rdi
;;     movq 0x28(%rdi), %rcx
;;     cmpq %rcx, %rax
;;     jz      label5; j label4
;;   block5:
;;     movl 0x10(%rsi), %eax
;;     jmp     label6
;;   block6:
;;     jmp     label7
;;   block7:
;;     movq 0x10(%rsp), %rbx
;;     movq 0x18(%rsp), %r12
;;     movq 0x20(%rsp), %r13
;;     movq 0x28(%rsp), %r14
;;     movq 0x30(%rsp), %r15
;;     addq $0x40, %rsp
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block4:
;;     call    User(userextname1)
;;     ud2
;; aarch64-unknown-linux-gnu f
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     mov x2, x3
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     stp x27, x28, [sp, #-16]!
;;     stp x25, x26, [sp, #-16]!
;;     stp x23, x24, [sp, #-16]!
;;     stp x21, x22, [sp, #-16]!
;;     stp x19, x20, [sp, #-16]!
;;     stp d14, d15, [sp, #-16]!
;;     stp d12, d13, [sp, #-16]!
;;     stp d10, d11, [sp, #-16]!
;;     stp d8, d9, [sp, #-16]!
;;     sub sp, sp, #16
;;   block0:
;;     str x2, [sp]
;;     bl 0; b MachLabel(1); catch [default: MachLabel(3)]
;;   block1:
;;     b label2
;;   block2:
;;     b label6
;;   block3:
;;     mov x3, x0
;;     ldr x0, [x3, #8]
;;     ldr x2, [sp]
;;     ldr x1, [x2, #40]
;;     subs xzr, x0, x1
;;     b.eq label5 ; b label4
;;   block5:
;;     ldr w2, [x3, #16]
;;     b label6
;;   block6:
;;     b label7
;;   block7:
;;     add sp, sp, #16
;;     ldp d8, d9, [sp], #16
;;     ldp d10, d11, [sp], #16
;;     ldp d12, d13, [sp], #16
;;     ldp d14, d15, [sp], #16
;;     ldp x19, x20, [sp], #16
;;     ldp x21, x22, [sp], #16
;;     ldp x23, x24, [sp], #16
;;     ldp x25, x26, [sp], #16
;;     ldp x27, x28, [sp], #16
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block4:
;;     bl 0
;;     udf #0xc11f
