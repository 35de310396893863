;; A counted loop summing memory words: the inner loop should be tight.
(module
  (memory 1)
  (func (export "sum") (param $p i32) (param $n i32) (result i32)
    (local $s i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $s)))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     uninit  %rax
;;     xorl %eax, %eax
;;     movq 0x10(%rdi), %rcx
;;     jmp     label1
;;   block1:
;;     testl %edx, %edx
;;     jz      label3; j label2
;;   block2:
;;     movl %esi, %edi
;;     subl $0x1, %edx
;;     addl (%rcx, %rdi), %eax
;;     leal 4(%rsi), %esi
;;     jmp     label1
;;   block3:
;;     jmp     label4
;;   block4:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     movz w7, #0
;;     ldr x13, [x2, #16]
;;     b label1
;;   block1:
;;     cbz w4, label3 ; b label2
;;   block2:
;;     ldr w15, [x13, w3, UXTW]
;;     sub w4, w4, #1
;;     mov x2, x7
;;     add w2, w2, w15
;;     add w3, w3, #4
;;     mov x7, x2
;;     b label1
;;   block3:
;;     mov x2, x7
;;     b label4
;;   block4:
;;     ldp fp, lr, [sp], #16
;;     ret
