;; return_call: the frame is torn down and the callee jumped to, arguments moved into place
;; (here more than fit in registers, so some go on the stack the caller was called with).
(module
  (func $callee (param i64 i64 i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    (local.get 9))
  (func (export "caller") (param $x i64) (result i64)
    (return_call $callee
      (local.get $x) (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4)
      (i64.const 5) (i64.const 6) (i64.const 7) (i64.const 8) (local.get $x))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu callee
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq <offset:0>+-0x10(%rbp), %rax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq $0x30
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     subq $0x30, %rsp
;;     movq %rsp, %rbp
;;     movq 0x30(%rsp), %r11
;;     movq %r11, (%rsp)
;;     movq 0x38(%rsp), %r11
;;     movq %r11, 8(%rsp)
;;     subq $0x10, %rsp
;;     movq %r12, (%rsp)
;;   block0:
;;     movl $0x1, %edx
;;     movl $0x2, %ecx
;;     movl $0x3, %r8d
;;     movl $0x4, %r9d
;;     movl $0x5, %r11d
;;     movl $0x6, %eax
;;     movl $0x7, %r10d
;;     movl $0x8, %r12d
;;     movq %r11, <offset:0>+-0x30(%rbp)
;;     movq %rax, <offset:0>+-0x28(%rbp)
;;     movq %r10, <offset:0>+-0x20(%rbp)
;;     movq %r12, <offset:0>+-0x18(%rbp)
;;     movq %rsi, <offset:0>+-0x10(%rbp)
;;     return_call_known User(userextname0) (48) tmp=%r11 %rdi=%rdi %rsi=%rsi %rdx=%rdx %rcx=%rcx %r8=%r8 %r9=%r9
;; aarch64-unknown-linux-gnu callee
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x2, [sp, #48]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     add sp, sp, #48
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     sub sp, sp, #48
;;     ldr fp, [sp, #48]
;;     stp fp, lr, [sp]
;;     mov fp, sp
;;   block0:
;;     movz x4, #1
;;     movz x5, #2
;;     movz x6, #3
;;     movz x7, #4
;;     movz x10, #5
;;     movz x11, #6
;;     movz x12, #7
;;     movz x13, #8
;;     str x10, [sp, #16]
;;     str x11, [sp, #24]
;;     str x12, [sp, #32]
;;     str x13, [sp, #40]
;;     str x3, [sp, #48]
;;     return_call User(userextname0) new_stack_arg_size:48 x2=x2 x3=x3 x4=x4 x5=x5 x6=x6 x7=x7
