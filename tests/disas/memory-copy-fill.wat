;; memory.copy within one memory and memory.fill check their bounds inline (dst + len, and
;; src + len, against the memory's current length, before anything is written). A constant
;; length of up to 128 bytes (copy) or 256 (fill) is then done inline in pieces of up to 16
;; bytes, a copy loading everything into registers before any store (the ranges may
;; overlap); a variable-length copy of up to 32 bytes takes an inline path; any other
;; length is a direct call of the runtime's memmove (aot_memmove) or libc's memset on the
;; host addresses. On a 64-bit
;; memory the end is computed with an overflow trap.
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
    (memory.copy $m64 $m64 (local.get $dst) (local.get $src) (local.get $len)))
  (func (export "copy128") (param $dst i32) (param $src i32)
    (memory.copy (local.get $dst) (local.get $src) (i32.const 128)))
  (func (export "fill192") (param $dst i32) (param $val i32)
    (memory.fill (local.get $dst) (local.get $val) (i32.const 192))))

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
;;     movq 0x18(%rdi), %r8
;;     movl %esi, %eax
;;     movl %ecx, %esi
;;     movq %rcx, %r9
;;     movq %rsi, %rcx
;;     leaq (%rax, %rcx), %rsi
;;     movq %rcx, %r10
;;     cmpq %r8, %rsi
;;     jnbe #trap=heap_oob
;;     movl %edx, %ecx
;;     movq %r10, %rdx
;;     leaq (%rcx, %rdx), %rsi
;;     cmpq %r8, %rsi
;;     jnbe #trap=heap_oob
;;     cmpq $0x20, %rdx
;;     jnbe    label10; j label1
;;   block1:
;;     cmpq $0x10, %rdx
;;     jnb     label9; j label2
;;   block2:
;;     cmpq $0x8, %rdx
;;     jnb     label8; j label3
;;   block3:
;;     cmpq $0x4, %rdx
;;     jnb     label7; j label4
;;   block4:
;;     movq %r9, %rsi
;;     testl %esi, %esi
;;     jnz     label6; j label5
;;   block5:
;;     jmp     label11
;;   block6:
;;     movq 0x10(%rdi), %rsi
;;     leaq (%rsi, %rcx), %r8
;;     movzbq (%rsi, %rcx), %rcx
;;     movq %rdx, %rdi
;;     shrq $1, %rdi
;;     movzbq (%r8, %rdi), %r9
;;     movzbq -1(%r8, %rdx), %r8
;;     leaq (%rsi, %rax), %r10
;;     movb %cl, (%rsi, %rax)
;;     movb %r9b, (%r10, %rdi)
;;     movb %r8b, -1(%r10, %rdx)
;;     jmp     label11
;;   block7:
;;     movq 0x10(%rdi), %rsi
;;     leaq (%rsi, %rcx), %rdi
;;     movl (%rsi, %rcx), %ecx
;;     movl -4(%rdi, %rdx), %edi
;;     leaq (%rsi, %rax), %r8
;;     movl %ecx, (%rsi, %rax)
;;     movl %edi, -4(%r8, %rdx)
;;     jmp     label11
;;   block8:
;;     movq 0x10(%rdi), %rsi
;;     leaq (%rsi, %rcx), %rdi
;;     movq (%rsi, %rcx), %rcx
;;     movq -8(%rdi, %rdx), %rdi
;;     leaq (%rsi, %rax), %r8
;;     movq %rcx, (%rsi, %rax)
;;     movq %rdi, -8(%r8, %rdx)
;;     jmp     label11
;;   block9:
;;     movq 0x10(%rdi), %rsi
;;     leaq (%rsi, %rcx), %rdi
;;     movdqu (%rsi, %rcx), %xmm0
;;     movdqu -0x10(%rdi, %rdx), %xmm1
;;     leaq (%rsi, %rax), %rcx
;;     movdqu %xmm0, (%rsi, %rax)
;;     movdqu %xmm1, -0x10(%rcx, %rdx)
;;     jmp     label11
;;   block10:
;;     movq 0x10(%rdi), %rsi
;;     leaq (%rsi, %rax), %rdi
;;     leaq (%rsi, %rcx), %rsi
;;     call    User(userextname0)
;;     jmp     label11
;;   block11:
;;     jmp     label12
;;   block12:
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
;;     movq 0x28(%rdi), %rax
;;     movq %rsi, %r8
;;     addq %rcx, %r8
;;     jb #trap=heap_oob
;;     cmpq %rax, %r8
;;     jnbe #trap=heap_oob
;;     movq %rdx, %r8
;;     addq %rcx, %r8
;;     jb #trap=heap_oob
;;     cmpq %rax, %r8
;;     jnbe #trap=heap_oob
;;     cmpq $0x20, %rcx
;;     jnbe    label10; j label1
;;   block1:
;;     cmpq $0x10, %rcx
;;     jnb     label9; j label2
;;   block2:
;;     cmpq $0x8, %rcx
;;     jnb     label8; j label3
;;   block3:
;;     cmpq $0x4, %rcx
;;     jnb     label7; j label4
;;   block4:
;;     testq %rcx, %rcx
;;     jnz     label6; j label5
;;   block5:
;;     jmp     label11
;;   block6:
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rdx), %r8
;;     movzbq (%rax, %rdx), %rdx
;;     movq %rcx, %rdi
;;     shrq $1, %rdi
;;     movzbq (%r8, %rdi), %r9
;;     movzbq -1(%r8, %rcx), %r8
;;     leaq (%rax, %rsi), %r10
;;     movb %dl, (%rax, %rsi)
;;     movb %r9b, (%r10, %rdi)
;;     movb %r8b, -1(%r10, %rcx)
;;     jmp     label11
;;   block7:
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rdx), %rdi
;;     movl (%rax, %rdx), %edx
;;     movl -4(%rdi, %rcx), %edi
;;     leaq (%rax, %rsi), %r8
;;     movl %edx, (%rax, %rsi)
;;     movl %edi, -4(%r8, %rcx)
;;     jmp     label11
;;   block8:
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rdx), %rdi
;;     movq (%rax, %rdx), %rdx
;;     movq -8(%rdi, %rcx), %rdi
;;     leaq (%rax, %rsi), %r8
;;     movq %rdx, (%rax, %rsi)
;;     movq %rdi, -8(%r8, %rcx)
;;     jmp     label11
;;   block9:
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rdx), %rdi
;;     movdqu (%rax, %rdx), %xmm0
;;     movdqu -0x10(%rdi, %rcx), %xmm1
;;     leaq (%rax, %rsi), %rdx
;;     movdqu %xmm0, (%rax, %rsi)
;;     movdqu %xmm1, -0x10(%rdx, %rcx)
;;     jmp     label11
;;   block10:
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rsi), %rdi
;;     leaq (%rax, %rdx), %rsi
;;     movq %rcx, %rdx
;;     call    User(userextname0)
;;     jmp     label11
;;   block11:
;;     jmp     label12
;;   block12:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 5>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq 0x18(%rdi), %rcx
;;     movl %esi, %eax
;;     leaq 0x80(%rax), %rsi
;;     cmpq %rcx, %rsi
;;     jnbe #trap=heap_oob
;;     movl %edx, %edx
;;     leaq 0x80(%rdx), %rsi
;;     cmpq %rcx, %rsi
;;     jnbe #trap=heap_oob
;;     movq 0x10(%rdi), %rcx
;;     movdqu (%rcx, %rdx), %xmm0
;;     movdqu 0x10(%rcx, %rdx), %xmm1
;;     movdqu 0x20(%rcx, %rdx), %xmm2
;;     movdqu 0x30(%rcx, %rdx), %xmm3
;;     movdqu 0x40(%rcx, %rdx), %xmm4
;;     movdqu 0x50(%rcx, %rdx), %xmm5
;;     movdqu 0x60(%rcx, %rdx), %xmm6
;;     movdqu 0x70(%rcx, %rdx), %xmm7
;;     movdqu %xmm0, (%rcx, %rax)
;;     movdqu %xmm1, 0x10(%rcx, %rax)
;;     movdqu %xmm2, 0x20(%rcx, %rax)
;;     movdqu %xmm3, 0x30(%rcx, %rax)
;;     movdqu %xmm4, 0x40(%rcx, %rax)
;;     movdqu %xmm5, 0x50(%rcx, %rax)
;;     movdqu %xmm6, 0x60(%rcx, %rax)
;;     movdqu %xmm7, 0x70(%rcx, %rax)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 6>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %r10d
;;     leaq 0xc0(%r10), %r11
;;     cmpq 0x18(%rdi), %r11
;;     jnbe #trap=heap_oob
;;     movd %edx, %xmm0
;;     uninit  %xmm1
;;     pxor %xmm1, %xmm1
;;     pshufb %xmm1, %xmm0
;;     movq 0x10(%rdi), %rax
;;     movdqu %xmm0, (%rax, %r10)
;;     movdqu %xmm0, 0x10(%rax, %r10)
;;     movdqu %xmm0, 0x20(%rax, %r10)
;;     movdqu %xmm0, 0x30(%rax, %r10)
;;     movdqu %xmm0, 0x40(%rax, %r10)
;;     movdqu %xmm0, 0x50(%rax, %r10)
;;     movdqu %xmm0, 0x60(%rax, %r10)
;;     movdqu %xmm0, 0x70(%rax, %r10)
;;     movdqu %xmm0, 0x80(%rax, %r10)
;;     movdqu %xmm0, 0x90(%rax, %r10)
;;     movdqu %xmm0, 0xa0(%rax, %r10)
;;     movdqu %xmm0, 0xb0(%rax, %r10)
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
;;     ldr x0, [x2, #24]
;;     mov x6, x2
;;     mov w2, w5
;;     add x1, x2, x3, UXTW
;;     subs xzr, x1, x0
;;     b.hi #trap=heap_oob
;;     add x1, x2, x4, UXTW
;;     subs xzr, x1, x0
;;     b.hi #trap=heap_oob
;;     subs xzr, x2, #32
;;     b.hi label10 ; b label1
;;   block1:
;;     subs xzr, x2, #16
;;     b.hs label9 ; b label2
;;   block2:
;;     subs xzr, x2, #8
;;     b.hs label8 ; b label3
;;   block3:
;;     subs xzr, x2, #4
;;     b.hs label7 ; b label4
;;   block4:
;;     cbnz w5, label6 ; b label5
;;   block5:
;;     b label11
;;   block6:
;;     ldr x1, [x6, #16]
;;     add x7, x1, x4, UXTW
;;     ldrb w4, [x1, w4, UXTW]
;;     lsr x2, x2, #1
;;     ldrb w6, [x7, x2]
;;     movn x0, #0
;;     add x7, x7, x0
;;     ldrb w7, [x7, w5, UXTW]
;;     add x8, x1, x3, UXTW
;;     strb w4, [x1, w3, UXTW]
;;     strb w6, [x8, x2]
;;     movn x2, #0
;;     add x4, x8, x2
;;     strb w7, [x4, w5, UXTW]
;;     b label11
;;   block7:
;;     ldr x6, [x6, #16]
;;     add x8, x6, x4, UXTW
;;     ldr w7, [x6, w4, UXTW]
;;     movn x4, #3
;;     add x8, x8, x4
;;     ldr w8, [x8, w5, UXTW]
;;     add x9, x6, x3, UXTW
;;     str w7, [x6, w3, UXTW]
;;     movn x6, #3
;;     add x7, x9, x6
;;     str w8, [x7, w5, UXTW]
;;     b label11
;;   block8:
;;     ldr x8, [x6, #16]
;;     add x10, x8, x4, UXTW
;;     ldr x9, [x8, w4, UXTW]
;;     movn x6, #7
;;     add x10, x10, x6
;;     ldr x10, [x10, w5, UXTW]
;;     add x11, x8, x3, UXTW
;;     str x9, [x8, w3, UXTW]
;;     movn x8, #7
;;     add x11, x11, x8
;;     str x10, [x11, w5, UXTW]
;;     b label11
;;   block9:
;;     ldr x11, [x6, #16]
;;     add x12, x11, x4, UXTW
;;     ldr q16, [x11, w4, UXTW]
;;     movn x9, #15
;;     add x12, x12, x9
;;     ldr q17, [x12, w5, UXTW]
;;     add x12, x11, x3, UXTW
;;     str q16, [x11, w3, UXTW]
;;     movn x11, #15
;;     add x13, x12, x11
;;     str q17, [x13, w5, UXTW]
;;     b label11
;;   block10:
;;     ldr x14, [x6, #16]
;;     add x0, x14, x3, UXTW
;;     add x1, x14, x4, UXTW
;;     bl 0
;;     b label11
;;   block11:
;;     b label12
;;   block12:
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
;;     ldr x0, [x2, #40]
;;     adds x1, x3, x5
;;     b.hs #trap=heap_oob
;;     subs xzr, x1, x0
;;     b.hi #trap=heap_oob
;;     adds x1, x4, x5
;;     b.hs #trap=heap_oob
;;     subs xzr, x1, x0
;;     b.hi #trap=heap_oob
;;     subs xzr, x5, #32
;;     b.hi label10 ; b label1
;;   block1:
;;     subs xzr, x5, #16
;;     b.hs label9 ; b label2
;;   block2:
;;     subs xzr, x5, #8
;;     b.hs label8 ; b label3
;;   block3:
;;     subs xzr, x5, #4
;;     b.hs label7 ; b label4
;;   block4:
;;     cbnz x5, label6 ; b label5
;;   block5:
;;     b label11
;;   block6:
;;     ldr x2, [x2, #32]
;;     add x8, x2, x4
;;     ldrb w4, [x2, x4]
;;     lsr x6, x5, #1
;;     ldrb w7, [x8, x6]
;;     movn x0, #0
;;     add x8, x8, x0
;;     ldrb w8, [x8, x5]
;;     add x9, x2, x3
;;     strb w4, [x2, x3]
;;     strb w7, [x9, x6]
;;     movn x3, #0
;;     add x6, x9, x3
;;     strb w8, [x6, x5]
;;     b label11
;;   block7:
;;     ldr x6, [x2, #32]
;;     add x8, x6, x4
;;     ldr w7, [x6, x4]
;;     movn x4, #3
;;     add x8, x8, x4
;;     ldr w8, [x8, x5]
;;     add x9, x6, x3
;;     str w7, [x6, x3]
;;     movn x6, #3
;;     add x9, x9, x6
;;     str w8, [x9, x5]
;;     b label11
;;   block8:
;;     ldr x9, [x2, #32]
;;     add x11, x9, x4
;;     ldr x10, [x9, x4]
;;     movn x7, #7
;;     add x11, x11, x7
;;     ldr x11, [x11, x5]
;;     add x12, x9, x3
;;     str x10, [x9, x3]
;;     movn x9, #7
;;     add x12, x12, x9
;;     str x11, [x12, x5]
;;     b label11
;;   block9:
;;     ldr x12, [x2, #32]
;;     add x13, x12, x4
;;     ldr q16, [x12, x4]
;;     movn x10, #15
;;     add x13, x13, x10
;;     ldr q17, [x13, x5]
;;     add x13, x12, x3
;;     str q16, [x12, x3]
;;     movn x12, #15
;;     add x14, x13, x12
;;     str q17, [x14, x5]
;;     b label11
;;   block10:
;;     ldr x15, [x2, #32]
;;     add x0, x15, x3
;;     add x1, x15, x4
;;     mov x2, x5
;;     bl 0
;;     b label11
;;   block11:
;;     b label12
;;   block12:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 5>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x0, [x2, #24]
;;     mov w1, w3
;;     add x1, x1, #128
;;     subs xzr, x1, x0
;;     b.hi #trap=heap_oob
;;     mov w1, w4
;;     add x1, x1, #128
;;     subs xzr, x1, x0
;;     b.hi #trap=heap_oob
;;     ldr x0, [x2, #16]
;;     add x1, x0, x4, UXTW
;;     ldr q23, [x0, w4, UXTW]
;;     ldr q24, [x1, #16]
;;     ldr q25, [x1, #32]
;;     ldr q26, [x1, #48]
;;     ldr q27, [x1, #64]
;;     ldr q28, [x1, #80]
;;     ldr q29, [x1, #96]
;;     ldr q30, [x1, #112]
;;     add x1, x0, x3, UXTW
;;     str q23, [x0, w3, UXTW]
;;     str q24, [x1, #16]
;;     str q25, [x1, #32]
;;     str q26, [x1, #48]
;;     str q27, [x1, #64]
;;     str q28, [x1, #80]
;;     str q29, [x1, #96]
;;     str q30, [x1, #112]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 6>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x9, [x2, #24]
;;     mov w10, w3
;;     add x10, x10, #192
;;     subs xzr, x10, x9
;;     b.hi #trap=heap_oob
;;     dup v16.16b, w4
;;     ldr x12, [x2, #16]
;;     add x11, x12, x3, UXTW
;;     str q16, [x12, w3, UXTW]
;;     str q16, [x11, #16]
;;     str q16, [x11, #32]
;;     str q16, [x11, #48]
;;     str q16, [x11, #64]
;;     str q16, [x11, #80]
;;     str q16, [x11, #96]
;;     str q16, [x11, #112]
;;     str q16, [x11, #128]
;;     str q16, [x11, #144]
;;     str q16, [x11, #160]
;;     str q16, [x11, #176]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
