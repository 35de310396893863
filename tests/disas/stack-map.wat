;; GC roots: an externref live across a call is spilled to a stack slot before it (the
;; slot is in the call's stack map) and reloaded from the slot after it, where a moving
;; collector may have rewritten it. The i32 is not a reference and stays in a register.
(module
  (import "env" "f" (func $f))
  (func (export "keep") (param $r externref) (param $n i32) (result externref i32)
    (call $f)
    (local.get $r)
    (local.get $n)))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     subq $0x20, %rsp
;;     movq %r12, 0x10(%rsp)
;;   block0:
;;     movq %rdx, %r12
;;     movq %rsi, <offset:1>+(%rsp)
;;     movq 0x10(%rdi), %r8
;;     movq 0x18(%rdi), %rdi
;;     call    *%r8
;;     ; UserStackMap { by_type: [(types::I64, CompoundBitSet {0})], sp_to_sized_stack_slots: None }
;;     movq <offset:1>+(%rsp), %rax
;;     jmp     label1
;;   block1:
;;     movq %r12, %rcx
;;     movq 0x10(%rsp), %r12
;;     addq $0x20, %rsp
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     str x19, [sp, #-16]!
;;     sub sp, sp, #16
;;   block0:
;;     mov x19, x4
;;     str x3, [sp]
;;     ldr x7, [x2, #16]
;;     ldr x2, [x2, #24]
;;     blr x7
;;     ; UserStackMap { by_type: [(types::I64, CompoundBitSet {0})], sp_to_sized_stack_slots: None }
;;     ldr x2, [sp]
;;     b label1
;;   block1:
;;     mov x3, x19
;;     add sp, sp, #16
;;     ldr x19, [sp], #16
;;     ldp fp, lr, [sp], #16
;;     ret
