//! Everything that differs between x86_64 and aarch64 in trap handling: the two assembly
//! routines that let a signal handler abandon the Wasm frames of a guarded call, and the
//! reading and rewriting of the interrupted register state in a signal's `ucontext_t`.
//!
//! `aot_rt_call_guarded(buf, f, arg)` saves the callee-saved registers on its own frame,
//! stores that frame's stack pointer in `*buf`, calls `f(arg)` and returns 0.
//! `aot_rt_unwind(buf)` is never called: the signal handler makes the interrupted thread
//! resume there (PC rewritten, first argument register set to `buf`) and returns, so the
//! kernel's sigreturn restores the signal mask and the alternate-stack state. It reloads the
//! saved stack pointer, restores the callee-saved registers and returns 1 from
//! `aot_rt_call_guarded`. Frames between the two are dropped without running anything.
//!
//! Nothing here allocates or locks; the register accessors are called from the handler.

use core::ffi::c_void;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".text",
    ".globl aot_rt_call_guarded",
    ".hidden aot_rt_call_guarded",
    ".type aot_rt_call_guarded,@function",
    ".p2align 4",
    "aot_rt_call_guarded:",
    ".cfi_startproc",
    "push rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset rbp, 0",
    "mov rbp, rsp",
    "push rbx",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset rbx, 0",
    "push r12",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset r12, 0",
    "push r13",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset r13, 0",
    "push r14",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset r14, 0",
    "push r15",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_rel_offset r15, 0",
    // Entry rsp is 8 mod 16; six pushes leave it 0 mod 16 after this extra slot, as the
    // call below requires.
    "sub rsp, 8",
    ".cfi_adjust_cfa_offset 8",
    "mov [rdi], rsp",
    "mov rax, rsi",
    "mov rdi, rdx",
    "call rax",
    "xor eax, eax",
    ".Laot_rt_restore:",
    "add rsp, 8",
    ".cfi_adjust_cfa_offset -8",
    "pop r15",
    ".cfi_adjust_cfa_offset -8",
    "pop r14",
    ".cfi_adjust_cfa_offset -8",
    "pop r13",
    ".cfi_adjust_cfa_offset -8",
    "pop r12",
    ".cfi_adjust_cfa_offset -8",
    "pop rbx",
    ".cfi_adjust_cfa_offset -8",
    "pop rbp",
    ".cfi_adjust_cfa_offset -8",
    "ret",
    ".cfi_endproc",
    ".size aot_rt_call_guarded, . - aot_rt_call_guarded",
    "",
    ".globl aot_rt_unwind",
    ".hidden aot_rt_unwind",
    ".type aot_rt_unwind,@function",
    ".p2align 4",
    "aot_rt_unwind:",
    "mov rsp, [rdi]",
    "mov eax, 1",
    "jmp .Laot_rt_restore",
    ".size aot_rt_unwind, . - aot_rt_unwind",
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".text",
    ".globl aot_rt_call_guarded",
    ".hidden aot_rt_call_guarded",
    ".type aot_rt_call_guarded,%function",
    ".p2align 4",
    "aot_rt_call_guarded:",
    ".cfi_startproc",
    "stp x29, x30, [sp, #-160]!",
    ".cfi_def_cfa_offset 160",
    ".cfi_offset x29, -160",
    ".cfi_offset x30, -152",
    "mov x29, sp",
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    ".cfi_offset x19, -144",
    ".cfi_offset x20, -136",
    ".cfi_offset x21, -128",
    ".cfi_offset x22, -120",
    ".cfi_offset x23, -112",
    ".cfi_offset x24, -104",
    ".cfi_offset x25, -96",
    ".cfi_offset x26, -88",
    ".cfi_offset x27, -80",
    ".cfi_offset x28, -72",
    ".cfi_offset d8, -64",
    ".cfi_offset d9, -56",
    ".cfi_offset d10, -48",
    ".cfi_offset d11, -40",
    ".cfi_offset d12, -32",
    ".cfi_offset d13, -24",
    ".cfi_offset d14, -16",
    ".cfi_offset d15, -8",
    "mov x9, sp",
    "str x9, [x0]",
    "mov x9, x1",
    "mov x0, x2",
    "blr x9",
    "mov w0, #0",
    ".Laot_rt_restore:",
    "ldp d14, d15, [sp, #144]",
    "ldp d12, d13, [sp, #128]",
    "ldp d10, d11, [sp, #112]",
    "ldp d8, d9, [sp, #96]",
    "ldp x27, x28, [sp, #80]",
    "ldp x25, x26, [sp, #64]",
    "ldp x23, x24, [sp, #48]",
    "ldp x21, x22, [sp, #32]",
    "ldp x19, x20, [sp, #16]",
    "ldp x29, x30, [sp], #160",
    ".cfi_def_cfa_offset 0",
    "ret",
    ".cfi_endproc",
    ".size aot_rt_call_guarded, . - aot_rt_call_guarded",
    "",
    ".globl aot_rt_unwind",
    ".hidden aot_rt_unwind",
    ".type aot_rt_unwind,%function",
    ".p2align 4",
    "aot_rt_unwind:",
    "ldr x9, [x0]",
    "mov sp, x9",
    "mov w0, #1",
    "b .Laot_rt_restore",
    ".size aot_rt_unwind, . - aot_rt_unwind",
);

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("aot-runtime supports x86_64 and aarch64 only");

unsafe extern "C" {
    fn aot_rt_call_guarded(buf: *mut usize, f: unsafe extern "C" fn(*mut u8), arg: *mut u8) -> u32;
    fn aot_rt_unwind(buf: *mut usize);
}

/// Calls `f(arg)` with an unwind point recorded in `*buf`. Returns false when `f` returned
/// normally, true when a signal handler redirected the thread to [`redirect_to_unwind`]
/// with this `buf`.
///
/// # Safety
/// `buf` must stay valid until this returns. `f(arg)` must be sound to call. If the call is
/// abandoned, every frame below this one is discarded without running destructors, so those
/// frames must own nothing that needs dropping.
pub(crate) unsafe fn call_with_unwind_point(
    buf: *mut usize,
    f: unsafe extern "C" fn(*mut u8),
    arg: *mut u8,
) -> bool {
    // SAFETY: the routine follows the C ABI, saves and restores every callee-saved register
    // on both of its return paths, and only writes `*buf` (valid per the caller's contract).
    unsafe { aot_rt_call_guarded(buf, f, arg) != 0 }
}

/// Abandons every frame below the guarded call whose buffer is `buf`, making it return as
/// if a trap had been redirected there.
///
/// # Safety
/// `buf` must be the buffer of a [`call_with_unwind_point`] active on this thread, and the
/// frames between it and the caller must own nothing that needs dropping.
pub(crate) unsafe fn unwind_to(buf: *mut usize) -> ! {
    // SAFETY: per the contract; the stub restores the guarded call's saved registers and
    // returns from it, so control never comes back here.
    unsafe { aot_rt_unwind(buf) };
    unreachable!("aot_rt_unwind returns from the guarded call, not to its caller")
}

/// Resumes at an exception handler of Cranelift-generated code: sets the stack and frame
/// pointers of the handler's frame and jumps to `pc` with `exn` in the first exception
/// payload register of Cranelift's exception ABI (rax / x0; the second, rdx / x1, is 0).
/// Every other register is garbage to the handler: a `try_call` clobbers them all on its
/// exceptional edge.
///
/// # Safety
/// `pc`, `sp` and `fp` must be a handler of a call site in a frame that is live on this
/// thread's stack, below every frame that is discarded; those frames must own nothing that
/// needs dropping.
pub(crate) unsafe fn resume_at_handler(pc: usize, sp: usize, fp: usize, exn: usize) -> ! {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: per the contract; nothing here returns.
    unsafe {
        core::arch::asm!(
            "mov rsp, rcx",
            "mov rbp, rsi",
            "jmp rdi",
            in("rax") exn,
            in("rdx") 0usize,
            in("rcx") sp,
            in("rsi") fp,
            in("rdi") pc,
            options(nostack, noreturn),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: per the contract; nothing here returns.
    unsafe {
        core::arch::asm!(
            "mov sp, x2",
            "mov x29, x3",
            "br x4",
            in("x0") exn,
            in("x1") 0usize,
            in("x2") sp,
            in("x3") fp,
            in("x4") pc,
            options(nostack, noreturn),
        );
    }
}

/// The interrupted thread's registers that trap handling needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Regs {
    pub pc: usize,
    pub sp: usize,
    /// Frame pointer (rbp / x29).
    pub fp: usize,
    /// Link register (x30); x86_64 keeps return addresses on the stack.
    #[cfg(target_arch = "aarch64")]
    pub lr: usize,
}

/// # Safety
/// `ctx` must be the `ucontext_t` pointer passed to an `SA_SIGINFO` handler.
pub(crate) unsafe fn read_regs(ctx: *mut c_void) -> Regs {
    // SAFETY: per the contract, ctx points to the kernel-written ucontext_t of this signal.
    let uc = unsafe { &*(ctx as *const libc::ucontext_t) };
    #[cfg(target_arch = "x86_64")]
    {
        let g = &uc.uc_mcontext.gregs;
        Regs {
            pc: g[libc::REG_RIP as usize] as usize,
            sp: g[libc::REG_RSP as usize] as usize,
            fp: g[libc::REG_RBP as usize] as usize,
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let m = &uc.uc_mcontext;
        Regs {
            pc: m.pc as usize,
            sp: m.sp as usize,
            fp: m.regs[29] as usize,
            lr: m.regs[30] as usize,
        }
    }
}

/// The return address of a function interrupted on its first instruction, before it has
/// pushed a frame record (a guard-page fault on the prologue's own push).
///
/// # Safety
/// `regs` must come from a thread stopped on the first instruction of a function entered by
/// a call, so that on x86_64 `[sp]` holds the return address the call pushed.
pub(crate) unsafe fn entry_return_address(regs: &Regs) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: per the contract, sp points at the return address the call just wrote.
        unsafe { *(regs.sp as *const usize) }
    }
    #[cfg(target_arch = "aarch64")]
    {
        regs.lr
    }
}

/// Makes the interrupted thread resume in `aot_rt_unwind(buf)` when the handler returns.
///
/// # Safety
/// `ctx` must be the handler's `ucontext_t`; `buf` must be the buffer of a
/// [`call_with_unwind_point`] that is active on the interrupted thread.
pub(crate) unsafe fn redirect_to_unwind(ctx: *mut c_void, buf: *mut usize) {
    // SAFETY: per the contract ctx is this signal's ucontext_t, which sigreturn reloads.
    let uc = unsafe { &mut *(ctx as *mut libc::ucontext_t) };
    let stub = aot_rt_unwind as *const () as usize;
    #[cfg(target_arch = "x86_64")]
    {
        uc.uc_mcontext.gregs[libc::REG_RIP as usize] = stub as i64;
        uc.uc_mcontext.gregs[libc::REG_RDI as usize] = buf as i64;
    }
    #[cfg(target_arch = "aarch64")]
    {
        uc.uc_mcontext.pc = stub as _;
        uc.uc_mcontext.regs[0] = buf as _;
    }
}

/// Hand-written stand-ins for generated code, used by the unit tests of this crate: each
/// function keeps a frame pointer like Cranelift's output and exports labels for its length
/// (`<name>_end`) and trap site (`<name>_trap`), so tests can build a module descriptor.
#[cfg(test)]
pub(crate) mod test_code {
    #[cfg(target_arch = "x86_64")]
    core::arch::global_asm!(
        ".text",
        ".p2align 4",
        // load32(vmctx, addr) -> u32: *addr
        ".globl aot_rt_test_load32",
        "aot_rt_test_load32:",
        "push rbp",
        "mov rbp, rsp",
        ".globl aot_rt_test_load32_trap",
        "aot_rt_test_load32_trap:",
        "mov eax, dword ptr [rsi]",
        "pop rbp",
        "ret",
        ".globl aot_rt_test_load32_end",
        "aot_rt_test_load32_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_unreachable",
        "aot_rt_test_unreachable:",
        "push rbp",
        "mov rbp, rsp",
        ".globl aot_rt_test_unreachable_trap",
        "aot_rt_test_unreachable_trap:",
        "ud2",
        ".globl aot_rt_test_unreachable_end",
        "aot_rt_test_unreachable_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_call_unreachable",
        "aot_rt_test_call_unreachable:",
        "push rbp",
        "mov rbp, rsp",
        "call aot_rt_test_unreachable",
        "pop rbp",
        "ret",
        ".globl aot_rt_test_call_unreachable_end",
        "aot_rt_test_call_unreachable_end:",
        "",
        // call_host(vmctx, f, arg): f(arg), like Wasm calling an imported host function.
        ".p2align 4",
        ".globl aot_rt_test_call_host",
        "aot_rt_test_call_host:",
        "push rbp",
        "mov rbp, rsp",
        "mov rax, rsi",
        "mov rdi, rdx",
        "call rax",
        "pop rbp",
        "ret",
        ".globl aot_rt_test_call_host_end",
        "aot_rt_test_call_host_end:",
        "",
        // recurse(vmctx): endless recursion with Cranelift's stack-limit check (vmctx[0]).
        ".p2align 4",
        ".globl aot_rt_test_recurse",
        "aot_rt_test_recurse:",
        "push rbp",
        "mov rbp, rsp",
        "cmp rsp, [rdi]",
        "jb aot_rt_test_recurse_trap",
        "call aot_rt_test_recurse",
        "pop rbp",
        "ret",
        ".globl aot_rt_test_recurse_trap",
        "aot_rt_test_recurse_trap:",
        "ud2",
        ".globl aot_rt_test_recurse_end",
        "aot_rt_test_recurse_end:",
        "",
        // recurse_unchecked(vmctx): endless recursion until the guard page below the stack.
        ".p2align 4",
        ".globl aot_rt_test_recurse_unchecked",
        "aot_rt_test_recurse_unchecked:",
        "push rbp",
        "mov rbp, rsp",
        "call aot_rt_test_recurse_unchecked",
        "pop rbp",
        "ret",
        ".globl aot_rt_test_recurse_unchecked_end",
        "aot_rt_test_recurse_unchecked_end:",
        "",
        // div(vmctx, a, b) -> a / b (unsigned 32-bit); b = 0 raises SIGFPE.
        ".p2align 4",
        ".globl aot_rt_test_div",
        "aot_rt_test_div:",
        "push rbp",
        "mov rbp, rsp",
        "mov eax, esi",
        "mov ecx, edx",
        "xor edx, edx",
        ".globl aot_rt_test_div_trap",
        "aot_rt_test_div_trap:",
        "div ecx",
        "pop rbp",
        "ret",
        ".globl aot_rt_test_div_end",
        "aot_rt_test_div_end:",
    );

    #[cfg(target_arch = "aarch64")]
    core::arch::global_asm!(
        ".text",
        ".p2align 4",
        ".globl aot_rt_test_load32",
        "aot_rt_test_load32:",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        ".globl aot_rt_test_load32_trap",
        "aot_rt_test_load32_trap:",
        "ldr w0, [x1]",
        "ldp x29, x30, [sp], #16",
        "ret",
        ".globl aot_rt_test_load32_end",
        "aot_rt_test_load32_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_unreachable",
        "aot_rt_test_unreachable:",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        ".globl aot_rt_test_unreachable_trap",
        "aot_rt_test_unreachable_trap:",
        "udf #0",
        ".globl aot_rt_test_unreachable_end",
        "aot_rt_test_unreachable_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_call_unreachable",
        "aot_rt_test_call_unreachable:",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "bl aot_rt_test_unreachable",
        "ldp x29, x30, [sp], #16",
        "ret",
        ".globl aot_rt_test_call_unreachable_end",
        "aot_rt_test_call_unreachable_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_call_host",
        "aot_rt_test_call_host:",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "mov x9, x1",
        "mov x0, x2",
        "blr x9",
        "ldp x29, x30, [sp], #16",
        "ret",
        ".globl aot_rt_test_call_host_end",
        "aot_rt_test_call_host_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_recurse",
        "aot_rt_test_recurse:",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "ldr x16, [x0]",
        "mov x17, sp",
        "cmp x17, x16",
        "b.lo aot_rt_test_recurse_trap",
        "bl aot_rt_test_recurse",
        "ldp x29, x30, [sp], #16",
        "ret",
        ".globl aot_rt_test_recurse_trap",
        "aot_rt_test_recurse_trap:",
        "udf #0",
        ".globl aot_rt_test_recurse_end",
        "aot_rt_test_recurse_end:",
        "",
        ".p2align 4",
        ".globl aot_rt_test_recurse_unchecked",
        "aot_rt_test_recurse_unchecked:",
        "stp x29, x30, [sp, #-16]!",
        "mov x29, sp",
        "bl aot_rt_test_recurse_unchecked",
        "ldp x29, x30, [sp], #16",
        "ret",
        ".globl aot_rt_test_recurse_unchecked_end",
        "aot_rt_test_recurse_unchecked_end:",
    );

    unsafe extern "C" {
        pub fn aot_rt_test_load32(vmctx: *mut u8, addr: *const u8) -> u32;
        pub fn aot_rt_test_load32_trap();
        pub fn aot_rt_test_load32_end();
        pub fn aot_rt_test_unreachable(vmctx: *mut u8);
        pub fn aot_rt_test_unreachable_trap();
        pub fn aot_rt_test_unreachable_end();
        pub fn aot_rt_test_call_unreachable(vmctx: *mut u8);
        pub fn aot_rt_test_call_unreachable_end();
        pub fn aot_rt_test_call_host(
            vmctx: *mut u8,
            f: unsafe extern "C" fn(*mut u8),
            arg: *mut u8,
        );
        pub fn aot_rt_test_call_host_end();
        pub fn aot_rt_test_recurse(vmctx: *mut u8);
        pub fn aot_rt_test_recurse_trap();
        pub fn aot_rt_test_recurse_end();
        pub fn aot_rt_test_recurse_unchecked(vmctx: *mut u8);
        pub fn aot_rt_test_recurse_unchecked_end();
    }

    #[cfg(target_arch = "x86_64")]
    unsafe extern "C" {
        pub fn aot_rt_test_div(vmctx: *mut u8, a: u32, b: u32) -> u32;
        pub fn aot_rt_test_div_trap();
        pub fn aot_rt_test_div_end();
    }
}
