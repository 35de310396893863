;; A shadow stack pointer kept in the pinned register (x86_64 %r15, aarch64 x21; see
;; compiler/src/scan.rs): the frame is taken and given back without a load or store of
;; the vmctx. The global is used 8 times, the least that earns the register.
;; option: global-in-register
(module
  (global $sp (mut i32) (i32.const 65536))
  (memory 1)
  (func $leaf (param i32) (result i32)
    (local $fp i32)
    (global.set $sp (local.tee $fp (i32.sub (global.get $sp) (i32.const 16))))
    (i32.store (local.get $fp) (local.get 0))
    (global.set $sp (i32.add (local.get $fp) (i32.const 16)))
    (i32.load (local.get $fp)))
  (func (export "f") (param i32) (result i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 32)))
    (local.set 0 (call $leaf (local.get 0)))
    (global.set $sp (i32.add (global.get $sp) (i32.const 32)))
    (local.get 0))
  (func (export "g") (result i32) (drop (global.get $sp)) (global.get $sp)))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu leaf
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq %rdi, %r11
;;     movq    %r15, %rdi
;;     movq %rdi, %r8
;;     subl $0x10, %r8d
;;     movq    %r8, %r15
;;     movq 0x10(%r11), %r9
;;     movl %esi, (%r9, %r8)
;;     movl %edi, %r8d
;;     movq    %r8, %r15
;;     jmp     label1
;;   block1:
;;     movq %rsi, %rax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq    %r15, %r8
;;     subl $0x20, %r8d
;;     movq    %r8, %r15
;;     call    User(userextname0)
;;     movq    %r15, %r8
;;     leal 0x20(%r8), %r8d
;;     movq    %r8, %r15
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 2>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movq    %r15, %rax
;;     jmp     label1
;;   block1:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; aarch64-unknown-linux-gnu leaf
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     mov x7, x21
;;     sub w8, w7, #16
;;     mov w9, w8
;;     mov x21, x9
;;     ldr x9, [x2, #16]
;;     str w3, [x9, w8, UXTW]
;;     mov w9, w7
;;     mov x21, x9
;;     b label1
;;   block1:
;;     mov x2, x3
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     mov x9, x21
;;     sub w9, w9, #32
;;     mov w9, w9
;;     mov x21, x9
;;     bl 0
;;     mov x10, x21
;;     add w10, w10, #32
;;     mov w10, w10
;;     mov x21, x10
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 2>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     mov x2, x21
;;     b label1
;;   block1:
;;     ldp fp, lr, [sp], #16
;;     ret
