;; Memory 0 at the fixed base on x86_64 folds a Wasm address sum into the access
;; (aot_abi::MODULE_FLAG_MEMORY0_FOLDED): `x + (y << k)` becomes `0x60000000(x, y, 2^k)`,
;; and `x + y` does when one term is small (a byte load here); `y << k` alone does not (no
;; base register to save). A wrapped sum faults above the memory's first 4 GiB and the
;; runtime completes the access (runtime-lib/src/folded.rs). Sums that look like negative
;; indices (`x + ((y ^ m) << 3)`) and of two unbounded terms keep their 32-bit add. aarch64
;; never folds.
;; option: memory0-fixed
(module
  (memory 1)
  (func (export "scaled") (param $p i32) (param $i i32) (result i32)
    (i32.load offset=8 (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))))
  (func (export "shift_only") (param $i i32) (result i64)
    (i64.load offset=1024 (i32.shl (local.get $i) (i32.const 3))))
  (func (export "small_term") (param $p i32) (param $q i32) (result i32)
    (i32.load16_u (i32.add (local.get $p) (i32.load8_u (local.get $q)))))
  (func (export "negated") (param $p i32) (param $i i32) (result i64)
    (i64.load (i32.add (local.get $p)
                       (i32.shl (i32.xor (local.get $i) (i32.const 0x1ffffffe)) (i32.const 3)))))
  (func (export "unbounded") (param $p i32) (param $i i32) (result i32)
    (i32.load (i32.add (local.get $p) (local.get $i)))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %esi
;;     movl %edx, %edi
;;     movl 0x60000008(%rsi, %rdi, 4), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     shll $0x3, %esi
;;     movq 0x60000400(%rsi), %rax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 2>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %edx, %edi
;;     movzbq 0x60000000(%rdi), %rdi
;;     movl %esi, %r8d
;;     movl %edi, %edi
;;     movzwq 0x60000000(%r8, %rdi), %rax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 3>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     xorl $0x1ffffffe, %edx
;;     leal (%rsi, %rdx, 8), %esi
;;     movq 0x60000000(%rsi), %rax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 4>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     leal (%rsi, %rdx), %esi
;;     movl 0x60000000(%rsi), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     add w6, w3, w4, LSL 2
;;     movz x7, #1, LSL #32
;;     add x6, x7, x6, UXTW
;;     ldr w2, [x6, #8]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     lsl w5, w3, #3
;;     movz x6, #1, LSL #32
;;     add x5, x6, x5, UXTW
;;     ldr x2, [x5, #1024]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 2>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     movz x6, #1, LSL #32
;;     ldrb w7, [x6, w4, UXTW]
;;     add w7, w3, w7
;;     ldrh w2, [x6, w7, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 3>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     eor w6, w4, #536870910
;;     add w6, w3, w6, LSL 3
;;     movz x7, #1, LSL #32
;;     ldr x2, [x7, w6, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 4>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     add w5, w3, w4
;;     movz x6, #1, LSL #32
;;     ldr w2, [x6, w5, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
