;; call_indirect through a table fixed at compile time (compiler/src/static_tables.rs): the
;; index against the constant length, the element's type key (at 8 in its 16 bytes)
;; against the expected type's (0 here), then a call of its code with the caller's vmctx;
;; any other key goes to the general path (cold, at the end). The table's address is
;; shown as `load_ext_name` (a GOT load in PIC code); `aot` rewrites that load into a
;; `lea`/`adrp+add` after codegen (`codegen::relax_local_data_got`).
(module
  (type $t (func (param i32) (result i32)))
  (table 3 funcref)
  (elem (i32.const 0) $inc $inc)
  (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
  (func (export "dispatch") (param $i i32) (param $x i32) (result i32)
    (call_indirect (type $t) (local.get $x) (local.get $i))))

;; ---- generated code below (AOT_TEST_BLESS=1 to update) ----
;; x86_64-unknown-linux-gnu inc
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     jmp     label1
;;   block1:
;;     leal 1(%rsi), %eax
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;; x86_64-unknown-linux-gnu <wasm function 1>
;;     pushq %rbp
;;     movq %rsp, %rbp
;;   block0:
;;     movl %esi, %eax
;;     cmpq $0x3, %rax
;;     jnb #trap=user4
;;     load_ext_name userextname0+0, %rcx
;;     movq %rax, %rsi
;;     shlq $0x4, %rsi
;;     movl 8(%rcx, %rsi), %r8d
;;     movq (%rcx, %rsi), %r10
;;     testl %r8d, %r8d
;;     jz      label1; j label2
;;   block1:
;;     movq %rdx, %rsi
;;     jmp     label3
;;   block3:
;;     call    *%r10
;;     jmp     label4
;;   block4:
;;     movq %rbp, %rsp
;;     popq %rbp
;;     retq
;;   block2:
;;     cmpq 0x18(%rdi), %rax
;;     jnb #trap=user4
;;     movq 0x10(%rdi), %rcx
;;     movq (%rcx, %rax, 8), %rax
;;     movl 0x10(%rax), %ecx
;;     cmpl 0x20(%rdi), %ecx
;;     jnz #trap=user6
;;     movq (%rax), %r10
;;     movq 8(%rax), %rdi
;;     movq %rdx, %rsi
;;     jmp     label3
;; aarch64-unknown-linux-gnu inc
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     b label1
;;   block1:
;;     add w2, w3, #1
;;     ldp fp, lr, [sp], #16
;;     ret
;; aarch64-unknown-linux-gnu <wasm function 1>
;;     stp fp, lr, [sp, #-16]!
;;     mov fp, sp
;;   block0:
;;     mov w0, w3
;;     subs xzr, x0, #3
;;     b.hs #trap=user4
;;     load_ext_name_got x1, User(userextname0)
;;     lsl x5, x0, #4
;;     add x6, x1, x0, LSL 4
;;     ldr w6, [x6, #8]
;;     ldr x11, [x1, x5]
;;     cbz w6, label1 ; b label2
;;   block1:
;;     mov x3, x4
;;     b label3
;;   block3:
;;     blr x11
;;     b label4
;;   block4:
;;     ldp fp, lr, [sp], #16
;;     ret
;;   block2:
;;     ldr x1, [x2, #24]
;;     subs xzr, x0, x1
;;     b.hs #trap=user4
;;     ldr x0, [x2, #16]
;;     ldr x0, [x0, w3, UXTW #3]
;;     ldr w1, [x0, #16]
;;     ldr w2, [x2, #32]
;;     subs wzr, w1, w2
;;     b.ne #trap=user6
;;     ldr x11, [x0]
;;     ldr x2, [x0, #8]
;;     mov x3, x4
;;     b label3
