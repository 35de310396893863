;; A load from a memory with one-byte pages: even with guard pages it is checked
;; explicitly, because its end need not be at a host page boundary.
(module
  (memory 1 (pagesize 1))
  (func (export "load_byte") (param $addr i32) (result i32)
    (i32.load8_u (local.get $addr))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %esi
;;     leaq 1(%rsi), %r8
;;     cmpq 0x18(%rdi), %r8
;;     jnbe #trap=heap_oob
;;     movq 0x10(%rdi), %r8
;;     movzbq (%r8, %rsi), %rax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x7, [x2, #24]
;;     mov w8, w3
;;     add x8, x8, #1
;;     subs xzr, x8, x7
;;     b.hi #trap=heap_oob
;;     ldr x9, [x2, #16]
;;     ldrb w2, [x9, w3, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
