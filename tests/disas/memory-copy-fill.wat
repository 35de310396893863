;; memory.copy within one memory and memory.fill check their bounds inline (dst + len, and
;; src + len, against the memory's current length, before anything is written). A small
;; constant length is then loaded whole into registers before any store (the ranges may
;; overlap); any other length is a direct call of libc's memmove / memset on the host
;; addresses. On a 64-bit memory the end is computed with an overflow trap.
(module
  (memory 1)
  (memory $m64 i64 1)
  (func (export "copy13") (param $dst i32) (param $src i32)
    (memory.copy (local.get $dst) (local.get $src) (i32.const 13)))
  (func (export "fill24") (param $dst i32) (param $val i32)
    (memory.fill (local.get $dst) (local.get $val) (i32.const 24)))
  (func (export "copy") (param $dst i32) (param $src i32) (param $len i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len)))
  (func (export "fill") (param $dst i32) (param $val i32) (param $len i32)
    (memory.fill (local.get $dst) (local.get $val) (local.get $len)))
  (func (export "copy64") (param $dst i64) (param $src i64) (param $len i64)
    (memory.copy $m64 $m64 (local.get $dst) (local.get $src) (local.get $len))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq 0x18(%rdi), %rax
;;     movl %esi, %r11d
;;     leaq 0xd(%r11), %rcx
;;     cmpq %rax, %rcx
;;     jnbe #trap=heap_oob
;;     movl %edx, %ecx
;;     leaq 0xd(%rcx), %rdx
;;     cmpq %rax, %rdx
;;     jnbe #trap=heap_oob
;;     movq 0x10(%rdi), %rax
;;     movq (%rax, %rcx), %rdx
;;     movq 5(%rax, %rcx), %rcx
;;     movq %rdx, (%rax, %r11)
;;     movq %rcx, 5(%rax, %r11)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %r10d
;;     leaq 0x18(%r10), %r11
;;     cmpq 0x18(%rdi), %r11
;;     jnbe #trap=heap_oob
;;     movd %edx, %xmm0
;;     uninit  %xmm1
;;     pxor %xmm1, %xmm1
;;     pshufb %xmm1, %xmm0
;;     movq 0x10(%rdi), %rax
;;     movdqu %xmm0, (%rax, %r10)
;;     movdqu %xmm0, 8(%rax, %r10)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 2>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     movq (%rdi), %r10
;;     movq (%r10), %r10
;;     addq $0x10, %r10
;;     cmpq %rsp, %r10
;;     jnbe #trap=stk_ovf
;;   block0:
;;     movq %rdx, %r9
;;     movq 0x18(%rdi), %r8
;;     movl %esi, %eax
;;     movl %ecx, %edx
;;     leaq (%rax, %rdx), %rcx
;;     cmpq %r8, %rcx
;;     jnbe #trap=heap_oob
;;     movq %r9, %rcx
;;     movl %ecx, %esi
;;     leaq (%rsi, %rdx), %rcx
;;     cmpq %r8, %rcx
;;     jnbe #trap=heap_oob
;;     movq 0x10(%rdi), %rcx
;;     leaq (%rcx, %rax), %rdi
;;     leaq (%rcx, %rsi), %rsi
;;     call    User(userextname0)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 3>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     movq (%rdi), %r10
;;     movq (%r10), %r10
;;     addq $0x10, %r10
;;     cmpq %rsp, %r10
;;     jnbe #trap=stk_ovf
;;   block0:
;;     movq %rdx, %r8
;;     movq %rdi, %r11
;;     movl %esi, %edi
;;     movl %ecx, %edx
;;     leaq (%rdi, %rdx), %r9
;;     movq %r11, %rax
;;     cmpq 0x18(%rax), %r9
;;     jnbe #trap=heap_oob
;;     addq 0x10(%rax), %rdi
;;     movq %r8, %rsi
;;     call    User(userextname0)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 4>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;     movq (%rdi), %r10
;;     movq (%r10), %r10
;;     addq $0x10, %r10
;;     cmpq %rsp, %r10
;;     jnbe #trap=stk_ovf
;;   block0:
;;     movq 0x28(%rdi), %r11
;;     movq %rsi, %rax
;;     addq %rcx, %rax
;;     jb #trap=heap_oob
;;     cmpq %r11, %rax
;;     jnbe #trap=heap_oob
;;     movq %rdx, %rax
;;     addq %rcx, %rax
;;     jb #trap=heap_oob
;;     cmpq %r11, %rax
;;     jnbe #trap=heap_oob
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rsi), %rdi
;;     leaq (%rax, %rdx), %rsi
;;     movq %rcx, %rdx
;;     call    User(userextname0)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x13, [x2, #24]
;;     mov w14, w3
;;     add x14, x14, #13
;;     subs xzr, x14, x13
;;     b.hi #trap=heap_oob
;;     mov w15, w4
;;     add x15, x15, #13
;;     subs xzr, x15, x13
;;     b.hi #trap=heap_oob
;;     ldr x0, [x2, #16]
;;     ldr x1, [x0, w4, UXTW]
;;     add x2, x0, #5
;;     ldr x2, [x2, w4, UXTW]
;;     str x1, [x0, w3, UXTW]
;;     add x0, x0, #5
;;     str x2, [x0, w3, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x9, [x2, #24]
;;     mov w10, w3
;;     add x10, x10, #24
;;     subs xzr, x10, x9
;;     b.hi #trap=heap_oob
;;     dup v16.16b, w4
;;     ldr x11, [x2, #16]
;;     str q16, [x11, w3, UXTW]
;;     add x12, x11, #8
;;     str q16, [x12, w3, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 2>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     ldr x16, [x2]
;;     ldr x16, [x16]
;;     add x16, x16, #16
;;     subs xzr, sp, x16, UXTX
;;     b.lo #trap=stk_ovf
;;   block0:
;;     ldr x12, [x2, #24]
;;     mov x0, x2
;;     mov w2, w5
;;     add x13, x2, x3, UXTW
;;     subs xzr, x13, x12
;;     b.hi #trap=heap_oob
;;     add x14, x2, x4, UXTW
;;     subs xzr, x14, x12
;;     b.hi #trap=heap_oob
;;     ldr x0, [x0, #16]
;;     add x3, x0, x3, UXTW
;;     add x1, x0, x4, UXTW
;;     mov x0, x3
;;     bl 0
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 3>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     ldr x16, [x2]
;;     ldr x16, [x16]
;;     add x16, x16, #16
;;     subs xzr, sp, x16, UXTX
;;     b.lo #trap=stk_ovf
;;   block0:
;;     ldr x10, [x2, #24]
;;     mov x0, x2
;;     mov w2, w5
;;     add x11, x2, x3, UXTW
;;     subs xzr, x11, x10
;;     b.hi #trap=heap_oob
;;     ldr x12, [x0, #16]
;;     add x0, x12, x3, UXTW
;;     mov x1, x4
;;     bl 0
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 4>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;     ldr x16, [x2]
;;     ldr x16, [x16]
;;     add x16, x16, #16
;;     subs xzr, sp, x16, UXTX
;;     b.lo #trap=stk_ovf
;;   block0:
;;     ldr x11, [x2, #40]
;;     adds x12, x3, x5
;;     b.hs #trap=heap_oob
;;     subs xzr, x12, x11
;;     b.hi #trap=heap_oob
;;     adds x14, x4, x5
;;     b.hs #trap=heap_oob
;;     subs xzr, x14, x11
;;     b.hi #trap=heap_oob
;;     ldr x0, [x2, #32]
;;     add x2, x0, x3
;;     add x1, x0, x4
;;     mov x0, x2
;;     mov x2, x5
;;     bl 0
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
