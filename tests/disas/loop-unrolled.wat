;; A loop carrying four values around (four local-to-local copies, no call): translated
;; four times in a row, each copy ending in the loop's exit test, with one back edge
;; (compiler/src/translate/unroll.rs). The rotation costs no moves inside the copies.
(module
  (func (export "rotate") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $t i32)
    (local.set $a (i32.const 1))
    (local.set $b (i32.const 2))
    (local.set $c (i32.const 3))
    (local.set $d (i32.const 4))
    (loop
      (local.set $t (i32.add (i32.rotl (local.get $a) (i32.const 5))
                             (i32.xor (local.get $b) (local.get $n))))
      local.get $c local.set $d
      local.get $b local.set $c
      local.get $a local.set $b
      local.get $t local.set $a
      (br_if 0 (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.xor (i32.xor (local.get $a) (local.get $b)) (i32.xor (local.get $c) (local.get $d)))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl $0x1, %edi
;;     movl $0x2, %ecx
;;     movl $0x3, %r11d
;;     jmp     label1
;;   block1:
;;     movq %rsi, %rax
;;     subl $0x1, %eax
;;     movq %rdi, %rdx
;;     roll $0x5, %edx
;;     movq %rcx, %r8
;;     xorl %esi, %r8d
;;     leal (%rdx, %r8), %edx
;;     testl %eax, %eax
;;     jnz     label3; j label2
;;   block2:
;;     movq %rdx, %rax
;;     jmp     label10
;;   block3:
;;     movq %rsi, %r8
;;     subl $0x2, %r8d
;;     movq %rdx, %r9
;;     roll $0x5, %r9d
;;     movq %rdi, %r10
;;     xorl %eax, %r10d
;;     leal (%r9, %r10), %r11d
;;     testl %r8d, %r8d
;;     jnz     label5; j label4
;;   block4:
;;     movq %r11, %rax
;;     movq %rcx, %r11
;;     movq %rdi, %rcx
;;     movq %rdx, %rdi
;;     jmp     label10
;;   block5:
;;     movq %rsi, %rcx
;;     subl $0x3, %ecx
;;     movq %r11, %rax
;;     roll $0x5, %eax
;;     movq %rdx, %r9
;;     xorl %r8d, %r9d
;;     leal (%rax, %r9), %eax
;;     testl %ecx, %ecx
;;     jnz     label7; j label6
;;   block6:
;;     movq %rdi, %rsi
;;     movq %r11, %rdi
;;     movq %rsi, %r11
;;     movq %rdx, %rcx
;;     jmp     label10
;;   block7:
;;     subl $0x4, %esi
;;     movq %rax, %rdi
;;     roll $0x5, %edi
;;     movq %r11, %r8
;;     xorl %ecx, %r8d
;;     leal (%rdi, %r8), %edi
;;     testl %esi, %esi
;;     jnz     label8; j label9
;;   block8:
;;     movq %rax, %rcx
;;     jmp     label1
;;   block9:
;;     movq %r11, %rcx
;;     movq %rdx, %r11
;;     movq %rax, %rsi
;;     movq %rdi, %rax
;;     movq %rsi, %rdi
;;     jmp     label10
;;   block10:
;;     jmp     label11
;;   block11:
;;     xorl %edi, %eax
;;     xorl %r11d, %ecx
;;     xorl %ecx, %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     movz w7, #1
;;     movz w9, #2
;;     movz w11, #3
;;     b label1
;;   block1:
;;     sub w1, w3, #1
;;     extr w0, w7, #27
;;     eor w2, w9, w3
;;     add w0, w0, w2
;;     cbnz w1, label3 ; b label2
;;   block2:
;;     mov x1, x0
;;     b label10
;;   block3:
;;     sub w2, w3, #2
;;     extr w4, w0, #27
;;     eor w1, w7, w1
;;     add w11, w4, w1
;;     cbnz w2, label5 ; b label4
;;   block4:
;;     mov x1, x11
;;     mov x11, x9
;;     mov x9, x7
;;     mov x7, x0
;;     b label10
;;   block5:
;;     sub w4, w3, #3
;;     extr w1, w11, #27
;;     eor w2, w0, w2
;;     add w1, w1, w2
;;     cbnz w4, label7 ; b label6
;;   block6:
;;     mov x9, x0
;;     mov x2, x7
;;     mov x7, x11
;;     mov x11, x2
;;     b label10
;;   block7:
;;     sub w3, w3, #4
;;     extr w2, w1, #27
;;     eor w4, w11, w4
;;     add w7, w2, w4
;;     cbnz w3, label8 ; b label9
;;   block8:
;;     mov x9, x1
;;     b label1
;;   block9:
;;     mov x9, x11
;;     mov x11, x0
;;     mov x2, x1
;;     mov x1, x7
;;     mov x7, x2
;;     b label10
;;   block10:
;;     b label11
;;   block11:
;;     eor w0, w1, w7
;;     eor w1, w9, w11
;;     eor w2, w0, w1
;;     ldp fp, lr, [sp], #16
;;     ret
