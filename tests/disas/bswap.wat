;; Byte swaps written out in Wasm operators become one `bswap` (`rolw $8` for 16 bits) on
;; x86_64 and `rev`/`rev16` on aarch64 (compiler/src/translate/bswap.rs): LLVM's rotate form
;; of a 32-bit swap (Rust's `u32::from_be_bytes`, `swap_bytes`), clang's shift form (C's
;; `__builtin_bswap32`, SQLite's get4byte), LLVM's 64-bit form, and the 16-bit forms of
;; `u16::from_be_bytes` (a masked swap of a 16-bit load) and `i16::swap_bytes` (sign
;; extended). The last function is a near miss (rotr by 16 where a swap has 24), computed
;; as written.
(module
  (memory 1)
  (func (export "be32") (param $p i32) (result i32) (local $x i32)
    local.get $p
    i32.load align=1
    local.tee $x
    i32.const 16711935
    i32.and
    i32.const 8
    i32.rotr
    local.get $x
    i32.const 24
    i32.rotr
    i32.const 16711935
    i32.and
    i32.or)
  (func (export "bswap32_shifts") (param $x i32) (result i32)
    (i32.or
      (i32.or (i32.shl (local.get $x) (i32.const 24))
              (i32.shl (i32.and (local.get $x) (i32.const 0xff00)) (i32.const 8)))
      (i32.or (i32.and (i32.shr_u (local.get $x) (i32.const 8)) (i32.const 0xff00))
              (i32.shr_u (local.get $x) (i32.const 24)))))
  (func (export "swap64") (param $x i64) (result i64)
    (i64.or
      (i64.or
        (i64.or (i64.shl (local.get $x) (i64.const 56))
                (i64.shl (i64.and (local.get $x) (i64.const 0xff00)) (i64.const 40)))
        (i64.or (i64.shl (i64.and (local.get $x) (i64.const 0xff0000)) (i64.const 24))
                (i64.shl (i64.and (local.get $x) (i64.const 0xff000000)) (i64.const 8))))
      (i64.or
        (i64.or (i64.and (i64.shr_u (local.get $x) (i64.const 8)) (i64.const 0xff000000))
                (i64.and (i64.shr_u (local.get $x) (i64.const 24)) (i64.const 0xff0000)))
        (i64.or (i64.and (i64.shr_u (local.get $x) (i64.const 40)) (i64.const 0xff00))
                (i64.shr_u (local.get $x) (i64.const 56))))))
  (func (export "be16") (param $p i32) (result i32) (local $x i32)
    local.get $p
    i32.load16_u align=1
    local.tee $x
    i32.const 8
    i32.shl
    local.get $x
    i32.const 8
    i32.shr_u
    i32.or
    i32.const 65535
    i32.and)
  (func (export "swap_i16") (param $x i32) (result i32)
    local.get $x
    i32.const 8
    i32.shl
    local.get $x
    i32.const 65280
    i32.and
    i32.const 8
    i32.shr_u
    i32.or
    i32.extend16_s)
  (func (export "near_miss") (param $x i32) (result i32)
    (i32.or (i32.rotr (i32.and (local.get $x) (i32.const 0xff00ff)) (i32.const 8))
            (i32.and (i32.rotr (local.get $x) (i32.const 16)) (i32.const 0xff00ff)))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq %rsi, %r8
;;     movq 0x10(%rdi), %rsi
;;     movl %r8d, %edi
;;     movl (%rsi, %rdi), %eax
;;     jmp     label1
;;   block1:
;;     bswapl %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     movq %rsi, %rax
;;     bswapl %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 2>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     movq %rsi, %rax
;;     bswapq %rax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 3>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq 0x10(%rdi), %rdi
;;     movl %esi, %r8d
;;     movzwq (%rdi, %r8), %rsi
;;     jmp     label1
;;   block1:
;;     rolw $0x8, %si
;;     movzwl %si, %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 4>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     rolw $0x8, %si
;;     movswl %si, %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 5>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     movq %rsi, %rax
;;     andl $0xff00ff, %eax
;;     rorl $0x8, %eax
;;     rorl $0x10, %esi
;;     andl $0xff00ff, %esi
;;     orl %esi, %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x5, [x2, #16]
;;     ldr w5, [x5, w3, UXTW]
;;     b label1
;;   block1:
;;     rev32 w2, w5
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     rev32 w2, w3
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 2>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     rev64 x2, x3
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 3>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x6, [x2, #16]
;;     ldrh w6, [x6, w3, UXTW]
;;     b label1
;;   block1:
;;     rev16 w7, w6
;;     uxth w2, w7
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 4>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     rev16 w4, w3
;;     sxth w2, w4
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 5>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     and w7, w3, #16711935
;;     extr w7, w7, #8
;;     extr w8, w3, #16
;;     and w8, w8, #16711935
;;     orr w2, w7, w8
;;     ldp fp, lr, [sp], #16
;;     ret
