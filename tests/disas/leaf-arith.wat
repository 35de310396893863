;; A leaf function: prologue with the stack-limit check, integer division traps.
(module
  (func (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq %rsi, %rax
;;     movq %rdx, %r11
;;     cltd  ;; implicit: %edx, %eax
;;     testl %r11d, %r11d
;;     jz #trap=int_divz
;;     idivl %r11d ;; implicit: %eax, %edx, trap=252
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     cbz w4, #trap=int_divz
;;     adds wzr, w4, #1
;;     ccmp w3, #1, #nzcv, eq
;;     b.vs #trap=int_ovf
;;     sdiv w2, w3, w4
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
