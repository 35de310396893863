;; Atomic stores: to a shared memory, aarch64 uses an exchange (ldaxr/stlxr) rather than
;; stlr, so that qemu-user on x86_64 hosts keeps it before a later ldar (see
;; compiler/src/translate/atomics.rs); to an unshared memory, stlr. x86_64 is the same
;; for both.
(module
  (memory $shared 1 1 shared)
  (memory $private 1)
  (func (export "shared") (param i32 i32) (result i32)
    (i32.atomic.store $shared (local.get 0) (i32.const 1))
    (i32.atomic.load $shared (local.get 1)))
  (func (export "private") (param i32 i32)
    (i32.atomic.store $private (local.get 0) (local.get 1))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %r10d
;;     testq $0x3, %r10
;;     jnz #trap=user3
;;     leaq 4(%r10), %rax
;;     cmpq 0x18(%rdi), %rax
;;     jnbe #trap=heap_oob
;;     movl $0x1, %ecx
;;     movq 0x10(%rdi), %rax
;;     movl %ecx, (%rax, %r10)
;;     mfence
;;     movl %edx, %ecx
;;     testq $0x3, %rcx
;;     jnz #trap=user3
;;     leaq 4(%rcx), %rdx
;;     cmpq 0x18(%rdi), %rdx
;;     jnbe #trap=heap_oob
;;     movl (%rax, %rcx), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %esi
;;     testq $0x3, %rsi
;;     jnz #trap=user3
;;     leaq 4(%rsi), %r8
;;     cmpq 0x28(%rdi), %r8
;;     jnbe #trap=heap_oob
;;     movq 0x20(%rdi), %r10
;;     movl %edx, (%r10, %rsi)
;;     mfence
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     stp x26, x27, [sp, #-16]!
;;     stp x24, x25, [sp, #-16]!
;;   block0:
;;     mov w0, w3
;;     and x1, x0, #3
;;     cbnz x1, #trap=user3
;;     ldr x1, [x2, #24]
;;     add x0, x0, #4
;;     subs xzr, x0, x1
;;     b.hi #trap=heap_oob
;;     ldr x0, [x2, #16]
;;     add x25, x0, x3, UXTW
;;     movz w26, #1
;;     atomic_rmw_loop_xchg_32 addr=x25 operand=x26 oldval=x27 scratch1=x24 scratch2=%v223
;;     mov w1, w4
;;     and x3, x1, #3
;;     cbnz x3, #trap=user3
;;     ldr x2, [x2, #24]
;;     add x1, x1, #4
;;     subs xzr, x1, x2
;;     b.hi #trap=heap_oob
;;     add x0, x0, x4, UXTW
;;     ldar w2, [x0]
;;     b label1
;;   block1:
;;     ldp x24, x25, [sp], #16
;;     ldp x26, x27, [sp], #16
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     mov w9, w3
;;     and x10, x9, #3
;;     cbnz x10, #trap=user3
;;     ldr x10, [x2, #40]
;;     add x11, x9, #4
;;     subs xzr, x11, x10
;;     b.hi #trap=heap_oob
;;     ldr x12, [x2, #32]
;;     add x12, x12, x3, UXTW
;;     stlr w4, [x12]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
