;; Representative SIMD lowerings on the baseline CPUs (x86-64-v2: SSE4.2, no AVX; ARMv8.0
;; NEON): a v128 load/add/store loop body, a dot product (pmaddwd / smull+addp), the
;; saturating f64x2 -> i32x4 truncation, a shuffle and a lane extraction; then two relaxed
;; instructions as each target computes them natively (pshufb / tbl, and madd unfused on
;; x86-64-v2, which has no FMA, fused fmla on aarch64).
(module
  (memory 1)
  (func (export "add_store") (param $dst i32) (param $a i32) (param $b i32)
    (v128.store (local.get $dst)
      (i32x4.add (v128.load (local.get $a)) (v128.load offset=16 (local.get $b)))))
  (func (export "dot") (param v128 v128) (result v128)
    (i32x4.dot_i16x8_s (local.get 0) (local.get 1)))
  (func (export "trunc_sat_zero") (param v128) (result v128)
    (i32x4.trunc_sat_f64x2_s_zero (local.get 0)))
  (func (export "interleave") (param v128 v128) (result v128)
    (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23 (local.get 0) (local.get 1)))
  (func (export "lane") (param v128) (result i32)
    (i8x16.extract_lane_s 15 (local.get 0)))
  (func (export "relaxed_swizzle") (param v128 v128) (result v128)
    (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))
  (func (export "relaxed_madd") (param v128 v128 v128) (result v128)
    (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq 0x10(%rdi), %r11
;;     movl %edx, %eax
;;     movdqu (%r11, %rax), %xmm0
;;     movl %ecx, %eax
;;     movdqu 0x10(%r11, %rax), %xmm1
;;     paddd %xmm1, %xmm0
;;     movl %esi, %eax
;;     movdqu %xmm0, (%r11, %rax)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     pmaddwd %xmm1, %xmm0
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 2>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     movdqa %xmm0, %xmm4
;;     cmpeqpd %xmm0, %xmm4
;;     andps (%rip), %xmm4
;;     minpd %xmm4, %xmm0
;;     cvttpd2dq %xmm0, %xmm0
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 3>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     punpcklbw %xmm1, %xmm0
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 4>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     pextrb $0xf, %xmm0, %esi
;;     movsbl %sil, %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 5>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     pshufb %xmm1, %xmm0
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 6>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     mulps %xmm1, %xmm0
;;     addps %xmm2, %xmm0
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x9, [x2, #16]
;;     ldr q16, [x9, w4, UXTW]
;;     add x10, x9, x5, UXTW
;;     ldr q17, [x10, #16]
;;     add v16.4s, v16.4s, v17.4s
;;     str q16, [x9, w3, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     smull v6.4s, v0.4h, v1.4h
;;     smull2 v7.4s, v0.8h, v1.8h
;;     addp v0.4s, v6.4s, v7.4s
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 2>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     fcvtzs v4.2d, v0.2d
;;     sqxtn v0.2s, v4.2d
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 3>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     zip1 v0.16b, v0.16b, v1.16b
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 4>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     smov w2, v0.b[15]
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 5>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     tbl v0.16b, { v0.16b }, v1.16b
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 6>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     mov v6.16b, v0.16b
;;     mov v0.16b, v2.16b
;;     fmla v0.4s, v0.4s, v6.4s, v1.4s
;;     ldp fp, lr, [sp], #16
;;     ret
