;; memory.copy within one memory and memory.fill check their bounds inline (dst + len, and
;; src + len, against the memory's current length, before anything is written). A constant
;; length of up to 128 bytes (copy) or 256 (fill) is then done inline in pieces of up to 16
;; bytes, a copy loading everything into registers before any store (the ranges may
;; overlap). Any other copy is a call of the module's copy helper (shown last) on the host
;; addresses, with no stack-limit check in the caller: the helper copies up to 32 bytes
;; itself, two accesses of the widest size that fits, and checks the limit only before it
;; calls memmove for more. Any other fill is a direct call of libc's memset. On a 64-bit
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
;;   block0:
;;     movq %rdx, %r8
;;     movq 0x18(%rdi), %rdx
;;     movl %esi, %eax
;;     movl %ecx, %ecx
;;     leaq (%rax, %rcx), %rsi
;;     cmpq %rdx, %rsi
;;     jnbe #trap=heap_oob
;;     movq %r8, %rsi
;;     movl %esi, %r8d
;;     leaq (%r8, %rcx), %rsi
;;     cmpq %rdx, %rsi
;;     jnbe #trap=heap_oob
;;     movq 0x10(%rdi), %rdx
;;     leaq (%rdx, %rax), %rsi
;;     leaq (%rdx, %r8), %rdx
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
;;   block0:
;;     movq 0x28(%rdi), %r10
;;     movq %rsi, %r11
;;     addq %rcx, %r11
;;     jb #trap=heap_oob
;;     cmpq %r10, %r11
;;     jnbe #trap=heap_oob
;;     movq %rdx, %rax
;;     addq %rcx, %rax
;;     jb #trap=heap_oob
;;     cmpq %r10, %rax
;;     jnbe #trap=heap_oob
;;     movq 0x20(%rdi), %rax
;;     leaq (%rax, %rsi), %rsi
;;     leaq (%rax, %rdx), %rdx
;;     call    User(userextname0)
;;     jmp     label1
;;   block1:
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
;; x86_64-unknown-linux-gnu <copy helper>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
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
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block6:
;;     movzbq (%rdx), %rax
;;     movq %rcx, %rdi
;;     shrq $1, %rdi
;;     movzbq (%rdx, %rdi), %r8
;;     movzbq -1(%rdx, %rcx), %rdx
;;     movb %al, (%rsi)
;;     movb %r8b, (%rsi, %rdi)
;;     movb %dl, -1(%rsi, %rcx)
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block7:
;;     movl (%rdx), %eax
;;     movl -4(%rdx, %rcx), %edx
;;     movl %eax, (%rsi)
;;     movl %edx, -4(%rsi, %rcx)
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block8:
;;     movq (%rdx), %rax
;;     movq -8(%rdx, %rcx), %rdx
;;     movq %rax, (%rsi)
;;     movq %rdx, -8(%rsi, %rcx)
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block9:
;;     movdqu (%rdx), %xmm0
;;     movdqu -0x10(%rdx, %rcx), %xmm1
;;     movdqu %xmm0, (%rsi)
;;     movdqu %xmm1, -0x10(%rsi, %rcx)
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block10:
;;     movq %rdx, %r8
;;     movq %rcx, %rdx
;;     movq (%rdi), %rax
;;     movq    %rsp, %rcx
;;     cmpq (%rax), %rcx
;;     jb #trap=stk_ovf
;;     movq %rsi, %rdi
;;     movq %r8, %rsi
;;     call    User(userextname0)
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
;;   block0:
;;     ldr x11, [x2, #24]
;;     mov w5, w5
;;     add x12, x5, x3, UXTW
;;     subs xzr, x12, x11
;;     b.hi #trap=heap_oob
;;     add x13, x5, x4, UXTW
;;     subs xzr, x13, x11
;;     b.hi #trap=heap_oob
;;     ldr x15, [x2, #16]
;;     add x3, x15, x3, UXTW
;;     add x4, x15, x4, UXTW
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
;;   block0:
;;     ldr x10, [x2, #40]
;;     adds x11, x3, x5
;;     b.hs #trap=heap_oob
;;     subs xzr, x11, x10
;;     b.hi #trap=heap_oob
;;     adds x13, x4, x5
;;     b.hs #trap=heap_oob
;;     subs xzr, x13, x10
;;     b.hi #trap=heap_oob
;;     ldr x0, [x2, #32]
;;     add x3, x0, x3
;;     add x4, x0, x4
;;     bl 0
;;     b label1
;;   block1:
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
;; aarch64-unknown-linux-gnu <copy helper>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
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
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block6:
;;     ldrb w0, [x4]
;;     lsr x1, x5, #1
;;     ldrb w2, [x4, x1]
;;     movn x6, #0
;;     add x4, x4, x6
;;     ldrb w4, [x4, x5]
;;     strb w0, [x3]
;;     strb w2, [x3, x1]
;;     movn x0, #0
;;     add x0, x3, x0
;;     strb w4, [x0, x5]
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block7:
;;     ldr w0, [x4]
;;     movn x1, #3
;;     add x1, x4, x1
;;     ldr w1, [x1, x5]
;;     str w0, [x3]
;;     movn x0, #3
;;     add x0, x3, x0
;;     str w1, [x0, x5]
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block8:
;;     ldr x0, [x4]
;;     movn x1, #7
;;     add x1, x4, x1
;;     ldr x1, [x1, x5]
;;     str x0, [x3]
;;     movn x0, #7
;;     add x0, x3, x0
;;     str x1, [x0, x5]
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block9:
;;     ldr q0, [x4]
;;     movn x0, #15
;;     add x0, x4, x0
;;     ldr q1, [x0, x5]
;;     str q0, [x3]
;;     movn x0, #15
;;     add x0, x3, x0
;;     str q1, [x0, x5]
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block10:
;;     mov x0, x3
;;     mov x3, x5
;;     mov x5, x4
;;     mov x4, x0
;;     ldr x0, [x2]
;;     ldr x0, [x0]
;;     mov x1, sp
;;     subs xzr, x1, x0
;;     b.lo #trap=stk_ovf
;;     mov x0, x4
;;     mov x1, x5
;;     mov x2, x3
;;     bl 0
;;     ldp fp, lr, [sp], #16
;;     ret
