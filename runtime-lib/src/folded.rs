//! Folded accesses whose 32-bit address sum wrapped (`aot_abi::MODULE_FLAG_MEMORY0_FOLDED`).
//!
//! Such an access computes `base + x + (y << k) + offset` in 64 bits where Wasm wraps
//! `x + (y << k)` at 4 GiB, so it faults `carry * 4 GiB` above the true address, in memory
//! 0's inaccessible reservation. The fault handler asks [`on_fault`] first. It maps a
//! private copy of the true page at the faulting page, sets the trap flag and lets the
//! thread run the one instruction against the copy; the single-step trap ([`on_step`])
//! writes the copy back when the instruction changed it and makes the page inaccessible
//! again. An access that straddles two pages faults twice before it completes; both pages
//! are mapped the same way. No instruction-set knowledge is needed: whatever instruction
//! Cranelift chose (a load folded into arithmetic, a store, a vector move), it runs
//! unchanged.
//!
//! Wraps are rare in real code (a pointer plus an index that is negative as a signed
//! number), so the two signals and four mappings each costs stay off the hot path.
//!
//! State lives in const-initialised thread-local cells, as the handler requires (see
//! `crate::signals`); the memory is never shared, so no other thread can touch the page
//! while it is copied.

use core::cell::Cell;
use core::ffi::c_void;

/// What the fault handler should do with a fault at a folded access.
pub(crate) enum Fault {
    /// The instruction will run against the true page: return from the handler.
    Resume,
    /// An out-of-bounds access: report the trap (the step state is cleared).
    Trap,
}

const PAGE: usize = 4096;
const FOUR_GIB: usize = 1 << 32;

/// The pages mapped for the instruction being stepped.
struct Step {
    /// The instruction being stepped; 0 when none is.
    pc: Cell<usize>,
    /// Folded address minus true address: a multiple of 4 GiB.
    delta: Cell<usize>,
    pages: [Cell<usize>; 2],
    count: Cell<usize>,
}

thread_local! {
    static STEP: Step = const {
        Step {
            pc: Cell::new(0),
            delta: Cell::new(0),
            pages: [Cell::new(0), Cell::new(0)],
            count: Cell::new(0),
        }
    };
}

/// A fault at `fault_addr` by the instruction at `pc`, a folded access with static offset
/// `offset` (its trap record). `ctx` is the handler's ucontext. Async-signal-safe.
///
/// # Safety
/// `ctx` must be the `ucontext_t` of the SIGSEGV being handled on this thread.
pub(crate) unsafe fn on_fault(
    ctx: *mut c_void,
    pc: usize,
    fault_addr: usize,
    offset: u32,
) -> Fault {
    let Some((base, len)) = crate::memory::folded_memory() else {
        return abandon(ctx);
    };
    let page = fault_addr & !(PAGE - 1);
    let delta = if STEP.with(|s| s.pc.get()) != 0 {
        // The second page of a straddling access: the same carry as the first. Anything
        // else (a fault that is no page fault reports address 0) is a trap.
        let next_page = STEP
            .with(|s| s.pc.get() == pc && s.count.get() == 1 && s.pages[0].get() + PAGE == page);
        if !next_page {
            return abandon(ctx);
        }
        STEP.with(|s| s.delta.get())
    } else {
        // The first fault of the instruction is at its first byte: every page above the
        // first 4 GiB is inaccessible, and below it only the memory, which stays under
        // 4 GiB. So the folded sum is exactly `fault - base - offset`.
        let Some(sum) = fault_addr
            .checked_sub(base)
            .and_then(|r| r.checked_sub(offset as usize))
        else {
            return abandon(ctx);
        };
        if sum < FOUR_GIB || sum as u64 >= aot_abi::FOLDED_RESERVATION {
            // No carry: an access past the end (of memory, or of the index space).
            return abandon(ctx);
        }
        sum & !(FOUR_GIB - 1)
    };
    let true_page = page - delta;
    // The true page must lie in bounds, as the whole access must (the length is a multiple
    // of 64 KiB, so a page is all in or all out).
    if true_page < base || (true_page - base) as u64 >= len {
        return abandon(ctx);
    }
    // SAFETY: `page` is inside memory 0's reservation (above its first 4 GiB, where nothing
    // else is ever mapped) and `true_page` is an accessible page of the memory; the new
    // page is private to this thread's step until `on_step` or `abandon` removes it.
    if !unsafe { map_copy(page, true_page) } {
        return abandon(ctx);
    }
    STEP.with(|s| {
        let n = s.count.get();
        s.pages[n].set(page);
        s.count.set(n + 1);
        s.pc.set(pc);
        s.delta.set(delta);
    });
    // SAFETY: per the contract.
    unsafe { set_trap_flag(ctx, true) };
    Fault::Resume
}

/// A single-step trap: the stepped instruction has completed. Returns false if no step
/// was in progress (the trap is not ours). Async-signal-safe.
///
/// # Safety
/// `ctx` must be the `ucontext_t` of the SIGTRAP being handled on this thread.
pub(crate) unsafe fn on_step(ctx: *mut c_void) -> bool {
    if STEP.with(|s| s.pc.get()) == 0 {
        return false;
    }
    let delta = STEP.with(|s| s.delta.get());
    for i in 0..STEP.with(|s| s.count.get()) {
        let page = STEP.with(|s| s.pages[i].get());
        // SAFETY: both pages are mapped read-write (the copy by `on_fault`, the true page
        // as accessible memory) and distinct.
        unsafe {
            let copy = page as *const u8;
            let true_page = (page - delta) as *mut u8;
            if libc::memcmp(copy.cast(), true_page.cast(), PAGE) != 0 {
                core::ptr::copy_nonoverlapping(copy, true_page, PAGE);
            }
        }
    }
    clear();
    // SAFETY: per the contract.
    unsafe { set_trap_flag(ctx, false) };
    true
}

/// Gives up the step in progress, if any (the instruction did not complete, so the copies
/// hold nothing to write back), and says to trap.
fn abandon(ctx: *mut c_void) -> Fault {
    clear();
    // SAFETY: `ctx` is the handler's ucontext (the callers' contract).
    unsafe { set_trap_flag(ctx, false) };
    Fault::Trap
}

/// Makes the stepped pages inaccessible again and forgets them.
fn clear() {
    STEP.with(|s| {
        for i in 0..s.count.get() {
            // SAFETY: the page was mapped by `on_fault` inside memory 0's reservation,
            // which is inaccessible there; this restores that.
            unsafe { unmap_copy(s.pages[i].get()) };
        }
        s.count.set(0);
        s.pc.set(0);
    });
}

/// Maps a read-write copy of `true_page` at `page`. False if the kernel refuses.
///
/// # Safety
/// `page` must be an inaccessible page of memory 0's reservation, `true_page` an
/// accessible one.
unsafe fn map_copy(page: usize, true_page: usize) -> bool {
    // SAFETY: MAP_FIXED replaces only the caller's reserved page.
    let p = unsafe {
        libc::mmap(
            page as *mut c_void,
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    // SAFETY: both pages are mapped and distinct.
    unsafe { core::ptr::copy_nonoverlapping(true_page as *const u8, page as *mut u8, PAGE) };
    true
}

/// Turns `page` back into reserved, inaccessible, uncommitted address space.
///
/// # Safety
/// `page` must be a page of memory 0's reservation mapped by [`map_copy`].
unsafe fn unmap_copy(page: usize) {
    // SAFETY: MAP_FIXED replaces only that page; a failure leaves the copy mapped, which
    // the next folded fault there would then not see, so end the process instead.
    let p = unsafe {
        libc::mmap(
            page as *mut c_void,
            PAGE,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        crate::signals::exit_with_report("aot runtime: cannot restore a memory guard page\n");
    }
}

/// Sets or clears the trap flag (single-step) in the interrupted context.
///
/// # Safety
/// `ctx` must be the `ucontext_t` of a signal being handled on this thread.
unsafe fn set_trap_flag(ctx: *mut c_void, on: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        const TF: i64 = 0x100;
        // SAFETY: per the contract, ctx is the kernel-written ucontext_t, restored by
        // sigreturn.
        let g = unsafe { &mut (*(ctx as *mut libc::ucontext_t)).uc_mcontext.gregs };
        let efl = &mut g[libc::REG_EFL as usize];
        *efl = if on { *efl | TF } else { *efl & !TF };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ctx, on);
}
