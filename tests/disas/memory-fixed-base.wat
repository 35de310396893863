;; Memory 0 at the fixed base (aot_abi::fixed_memory0_base), as `aot` compiles a
;; program whose only instance owns memory 0: no base load from the vmctx. On x86_64
;; (base 0x60000000) the base and the static offset fold into the access's displacement,
;; so no register holds the base; a static offset too large for that (1.5 GiB here) takes
;; part of the constant through a register instead. On aarch64 (base 4 GiB) the base is one
;; `movz` in the block that uses it, the base register of `[base, index, UXTW]`. Memory 1
;; keeps the load from its VMMemoryDef.
;; option: memory0-fixed
(module
  (memory 1)
  (memory 1)
  (func (export "copy_word") (param $dst i32) (param $src i32)
    (i32.store offset=8 (local.get $dst) (i32.load offset=4 (local.get $src))))
  (func (export "sum") (param $p i32) (param $n i32) (result i32)
    (local $s i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $s))
  (func (export "far") (param $p i32) (result i32)
    (i32.load offset=0x60000000 (local.get $p)))
  (func (export "other_memory") (param $p i32) (result i32)
    (i32.load 1 offset=4 (local.get $p))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu <wasm function 0>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %edx, %edi
;;     movl 0x60000004(%rdi), %edi
;;     movl %esi, %esi
;;     movl %edi, 0x60000008(%rsi)
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     uninit  %rax
;;     xorl %eax, %eax
;;     jmp     label1
;;   block1:
;;     testl %edx, %edx
;;     jz      label3; j label2
;;   block2:
;;     movl %esi, %ecx
;;     subl $0x1, %edx
;;     addl 0x60000000(%rcx), %eax
;;     leal 4(%rsi), %esi
;;     jmp     label1
;;   block3:
;;     jmp     label4
;;   block4:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 2>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %esi
;;     movl $0x60000000, %edi
;;     movl 0x60000000(%rsi, %rdi), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 3>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq %rsi, %r8
;;     movq 0x20(%rdi), %rsi
;;     movq %r8, %rdi
;;     movl %edi, %edi
;;     movl 4(%rsi, %rdi), %eax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu <wasm function 0>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     movz x6, #1, LSL #32
;;     add x7, x6, x4, UXTW
;;     ldr w7, [x7, #4]
;;     add x6, x6, x3, UXTW
;;     str w7, [x6, #8]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     movz w2, #0
;;     b label1
;;   block1:
;;     cbz w4, label3 ; b label2
;;   block2:
;;     movz x14, #1, LSL #32
;;     ldr w14, [x14, w3, UXTW]
;;     sub w4, w4, #1
;;     add w2, w2, w14
;;     add w3, w3, #4
;;     b label1
;;   block3:
;;     b label4
;;   block4:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 2>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     movz x5, #1, LSL #32
;;     movz x4, #24576, LSL #16
;;     add x5, x5, x4
;;     ldr w2, [x5, w3, UXTW]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 3>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     ldr x5, [x2, #32]
;;     add x5, x5, x3, UXTW
;;     ldr w2, [x5, #4]
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
