//! The fault handler and the per-thread stack setup it relies on.
//!
//! [`init`] installs one process-wide handler for SIGSEGV, SIGBUS, SIGILL and SIGFPE
//! (`SA_SIGINFO | SA_ONSTACK`), and one for SIGTRAP, which only ends the single step of a
//! folded access whose address sum wrapped (`crate::folded`, asked first about every
//! SIGSEGV at such an access), gives the calling thread an alternate signal stack (so a
//! stack overflow can still be handled) and computes the thread's stack bounds and the
//! Wasm stack limit ([`stack_limit`]), and places the thread's stack guard.
//!
//! The stack of a thread that runs Wasm, from its entry downwards:
//!
//! ```text
//! entry SP ─ Wasm frames ─ limit ─ host slack (HOST_STACK_SLACK) ─ guard (STACK_GUARD_SIZE)
//! ```
//!
//! Most Wasm functions have no stack-limit check: they may run on into the host slack,
//! and an overflow faults in the guard, a PROT_NONE region (stores of a frame larger than a
//! page are probed page by page, so no frame steps over it). What checks `limit` is
//! whatever enters host code: the Wasm functions that call builtins, the host-call
//! trampolines and the throw and GC stubs, so host code always starts with the slack
//! below it. Where no guard can be placed ([`place_guard`]) the stack's own end guards it
//! instead: the kernel's guard gap below the main thread's stack, a pthread's guard page.
//!
//! The handler turns a fault at a trap site of registered Wasm code into a [`TrapKind`]
//! (from the trap record, or stack overflow for an unrecorded fault next to SP), captures
//! the Wasm frames by walking the frame-pointer chain, and then either resumes the thread
//! in the unwind stub of the innermost guarded call (`trap::call_guarded`) or, with no
//! guarded call active, prints the trap report and exits with `TRAP_EXIT_CODE`. Faults
//! outside Wasm code are fatal.
//!
//! The handler must never allocate, lock, or touch a lazily initialised thread-local: it
//! may run in the middle of `malloc`. It only reads the code registry, const-initialised
//! thread-locals, the stack, and writes with `libc::write`.

use core::cell::Cell;
use core::ffi::{c_int, c_void};
use core::fmt::{self, Write as _};
use core::{mem, ptr};
use std::cell::RefCell;
use std::sync::Once;

use aot_abi::TrapKind;
use aot_abi::trap::TRAP_EXIT_CODE;

use crate::arch::{self, Regs};
use crate::trap::{self, Frames};

/// The most stack Wasm code may use below the point where its thread called [`init`].
pub const MAX_WASM_STACK: usize = 1 << 20;
/// Stack kept free below the Wasm limit for host functions called from the deepest Wasm
/// frame and for the runtime itself.
pub const HOST_STACK_SLACK: usize = 256 << 10;
/// Size of the PROT_NONE region each thread gets below its host slack. Larger than any
/// frame Wasm code allocates without probing (Cranelift probes every 4 KiB page of a larger
/// one) plus a call's pushes.
pub const STACK_GUARD_SIZE: usize = 64 << 10;
/// An unrecorded fault in Wasm code this close to SP is a stack overflow (a prologue
/// push or a frame store hitting the guard page).
const OVERFLOW_SP_WINDOW: usize = 64 << 10;
/// Size of each thread's alternate signal stack.
const ALT_STACK_SIZE: usize = 64 << 10;
/// Main-thread stack size assumed when RLIMIT_STACK is unlimited.
const DEFAULT_MAIN_STACK: usize = 8 << 20;
/// How far below the lowest usable stack address a fault still counts as a host stack
/// overflow (the kernel's stack guard gap is 1 MiB; pthread guards are smaller).
const GUARD_ZONE_BELOW: usize = 1 << 20;
/// How far above it, for a fault reported at the start of a guard page crossed by a store.
const GUARD_ZONE_ABOVE: usize = 64 << 10;

const SIGNALS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// This thread's stack facts, read by the signal handler: const-initialised cells only.
struct ThreadStack {
    ready: Cell<bool>,
    /// Lowest usable stack address and one past the highest; 0 when unknown.
    low: Cell<usize>,
    high: Cell<usize>,
    limit: Cell<usize>,
    /// This thread's guard region [guard_low, guard_high); 0, 0 when it has none.
    guard_low: Cell<usize>,
    guard_high: Cell<usize>,
}

thread_local! {
    static STACK: ThreadStack = const {
        ThreadStack {
            ready: Cell::new(false),
            low: Cell::new(0),
            high: Cell::new(0),
            limit: Cell::new(0),
            guard_low: Cell::new(0),
            guard_high: Cell::new(0),
        }
    };
    /// Owns this thread's alternate signal stack; never touched by the handler.
    static ALT_STACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
    /// Owns this thread's stack guard; never touched by the handler.
    static GUARD: RefCell<Option<StackGuard>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Installs the signal handlers (once per process) and prepares the calling thread
/// (alternate signal stack, stack bounds, Wasm stack limit). Cheap after the first call on
/// a thread; call it on every thread before it runs Wasm code.
pub fn init() {
    if STACK.with(|s| s.ready.get()) {
        return;
    }
    init_thread();
    INSTALL.call_once(install_handlers);
}

/// The value for the store context's `stack_limit` while this thread runs Wasm: the lowest SP that Wasm
/// code may use. Initialises the thread first if needed.
pub fn stack_limit() -> usize {
    init();
    STACK.with(|s| s.limit.get())
}

#[inline(never)]
fn approximate_sp() -> usize {
    let marker = 0u8;
    core::hint::black_box(&marker) as *const u8 as usize
}

fn init_thread() {
    install_alt_stack();
    let sp = approximate_sp();
    let bounds = thread_stack_bounds();
    let mut limit = sp.saturating_sub(MAX_WASM_STACK);
    if let Some((low, _)) = bounds {
        limit = limit.max(low.saturating_add(HOST_STACK_SLACK)).min(sp);
    }
    let guard = bounds.and_then(|(low, _)| place_guard(low, limit));
    STACK.with(|s| {
        let (low, high) = bounds.unwrap_or((0, 0));
        s.low.set(low);
        s.high.set(high);
        s.limit.set(limit);
        let (g_low, g_high) = guard.as_ref().map_or((0, 0), |g| (g.low, g.low + g.len));
        s.guard_low.set(g_low);
        s.guard_high.set(g_high);
        s.ready.set(true);
    });
    if let Some(guard) = guard {
        GUARD.with(|g| *g.borrow_mut() = Some(guard));
    }
}

/// A thread's stack guard: `len` bytes at `low` made inaccessible, either a mapping of
/// our own in the not yet grown part of the main thread's stack, or part of the thread's
/// stack mapping protected (restored when the thread exits, as pthread implementations
/// reuse the stacks of exited threads).
struct StackGuard {
    low: usize,
    len: usize,
    mapped: bool,
}

impl Drop for StackGuard {
    fn drop(&mut self) {
        // SAFETY: the thread is exiting and runs no more Wasm; the region is the guard this
        // thread placed (our own mapping, or part of its stack that was read-write before).
        unsafe {
            if self.mapped {
                libc::munmap(self.low as *mut c_void, self.len);
            } else {
                libc::mprotect(
                    self.low as *mut c_void,
                    self.len,
                    libc::PROT_READ | libc::PROT_WRITE,
                );
            }
        }
    }
}

/// Makes the `STACK_GUARD_SIZE` bytes below the host slack under `limit` inaccessible, in
/// the thread's stack whose lowest usable address is `low`; None if they do not fit in it
/// or the system refuses. Without a guard the executable stays safe, only with the
/// stack's own end as the guard: Wasm code may then use the stack down to it (an overflow
/// faults there and is still a stack overflow trap), while the functions that check
/// `limit` keep the host slack as before.
fn place_guard(low: usize, limit: usize) -> Option<StackGuard> {
    let page = crate::memory::page_size();
    let high = limit.checked_sub(HOST_STACK_SLACK)? & !(page - 1);
    let guard_low = high.checked_sub(STACK_GUARD_SIZE)?;
    if guard_low < low {
        return None;
    }
    let len = high - guard_low;
    if is_main_thread() {
        // The main thread's stack grows on demand: map the guard in the part not grown
        // yet (the kernel grows a stack right up to an inaccessible mapping). Where that
        // part is already mapped (an emulator maps the whole stack up front), protect it
        // as for other threads.
        if crate::memory::reserve_fixed(guard_low, len).is_ok() {
            return Some(StackGuard {
                low: guard_low,
                len,
                mapped: true,
            });
        }
    }
    // SAFETY: the range lies in this thread's stack (checked above against its lowest
    // address, and it is below `limit`, itself below SP), in the part below SP that holds
    // nothing: signal frames go to the alternate stack.
    let rc = unsafe { libc::mprotect(guard_low as *mut c_void, len, libc::PROT_NONE) };
    (rc == 0).then_some(StackGuard {
        low: guard_low,
        len,
        mapped: false,
    })
}

fn is_main_thread() -> bool {
    // SAFETY: getpid and gettid have no preconditions.
    unsafe { libc::getpid() == libc::gettid() }
}

/// (lowest usable address, one past the highest) of the calling thread's stack.
fn thread_stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: pthread_attr_t is plain data that pthread_getattr_np fills in; it is
    // destroyed only after a successful getattr.
    let (addr, size) = unsafe {
        let mut attr: libc::pthread_attr_t = mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut c_void = ptr::null_mut();
        let mut size: usize = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return None;
        }
        (addr as usize, size)
    };
    let high = addr + size;
    if !is_main_thread() {
        return Some((addr, high));
    }
    // The main thread's stack grows on demand up to RLIMIT_STACK; musl reports only the
    // part mapped so far.
    // SAFETY: getrlimit writes into the struct we pass.
    let mut rl: libc::rlimit = unsafe { mem::zeroed() };
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut rl) } == 0
        && rl.rlim_cur != libc::RLIM_INFINITY
    {
        rl.rlim_cur as usize
    } else {
        DEFAULT_MAIN_STACK
    };
    Some((high.saturating_sub(max.max(size)), high))
}

/// An alternate signal stack mapping with a guard page below it.
struct AltStack {
    map: *mut c_void,
    map_len: usize,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: the thread is exiting and runs no more Wasm; the altstack is disabled
        // before the mapping that backs it is unmapped.
        unsafe {
            libc::sigaltstack(&disable, ptr::null_mut());
            libc::munmap(self.map, self.map_len);
        }
    }
}

fn install_alt_stack() {
    // SAFETY: sigaltstack with a null new stack only reads the current setting.
    let mut old: libc::stack_t = unsafe { mem::zeroed() };
    if unsafe { libc::sigaltstack(ptr::null(), &mut old) } == 0
        && old.ss_flags & libc::SS_DISABLE == 0
        && old.ss_size >= ALT_STACK_SIZE
    {
        return;
    }
    let page = crate::memory::page_size();
    let map_len = ALT_STACK_SIZE + page;
    // SAFETY: a fresh anonymous mapping; the first page becomes the guard, the rest is
    // installed as this thread's alternate stack and owned by ALT_STACK until thread exit.
    unsafe {
        let map = libc::mmap(
            ptr::null_mut(),
            map_len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if map == libc::MAP_FAILED {
            fatal_message("aot runtime: cannot allocate the signal stack\n");
        }
        let stack = (map as *mut u8).add(page) as *mut c_void;
        if libc::mprotect(stack, ALT_STACK_SIZE, libc::PROT_READ | libc::PROT_WRITE) != 0 {
            fatal_message("aot runtime: cannot allocate the signal stack\n");
        }
        let new = libc::stack_t {
            ss_sp: stack,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        if libc::sigaltstack(&new, ptr::null_mut()) != 0 {
            fatal_message("aot runtime: cannot install the signal stack\n");
        }
        ALT_STACK.with(|a| *a.borrow_mut() = Some(AltStack { map, map_len }));
    }
}

fn install_handlers() {
    let step: [(c_int, usize); 1] = [(libc::SIGTRAP, handle_step as *const () as usize)];
    let faults = SIGNALS.map(|sig| (sig, handle_signal as *const () as usize));
    for (sig, handler) in faults.into_iter().chain(step) {
        // SAFETY: `handle_signal` has the SA_SIGINFO signature; the sigaction struct is
        // fully initialised (zeroed, then mask and flags set).
        unsafe {
            let mut sa: libc::sigaction = mem::zeroed();
            sa.sa_sigaction = handler;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // Nothing else may interrupt the handler; sigreturn restores the old mask.
            libc::sigfillset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, ptr::null_mut()) != 0 {
                fatal_message("aot runtime: cannot install the signal handlers\n");
            }
        }
    }
}

/// Is `addr` a fault on this thread's host stack guard, i.e. a stack overflow outside
/// Wasm code?
fn in_stack_guard_zone(addr: usize) -> bool {
    let low = STACK.with(|s| s.low.get());
    in_thread_guard(addr)
        || low != 0
            && addr >= low.saturating_sub(GUARD_ZONE_BELOW)
            && addr < low.saturating_add(GUARD_ZONE_ABOVE)
}

/// Is `addr` in this thread's stack guard?
fn in_thread_guard(addr: usize) -> bool {
    let (low, high) = STACK.with(|s| (s.guard_low.get(), s.guard_high.get()));
    addr >= low && addr < high
}

/// Can the frame record at `fp` (saved fp, return address) be read?
pub(crate) fn frame_readable(fp: usize) -> bool {
    let (low, high) = STACK.with(|s| (s.low.get(), s.high.get()));
    low != 0
        && fp.is_multiple_of(8)
        && fp >= low
        && fp.checked_add(16).is_some_and(|end| end <= high)
}

/// What trap a fault is, or None if it is not a Wasm trap. Faults in a module's stubs
/// (host-call trampolines, throw and GC stubs) count: they hold no host state, so they
/// unwind like Wasm code.
fn classify(signo: c_int, regs: &Regs, fault_addr: usize) -> Option<TrapKind> {
    let loc = trap::lookup_code(regs.pc).or_else(|| trap::lookup_stub(regs.pc))?;
    if let Some(kind) = loc.trap_kind() {
        return Some(kind);
    }
    // An unrecorded memory fault is a stack access: a frame store or push next to SP, or
    // a probe of a large frame, which may be far below SP but lands in the guard (or, with
    // no guard, below the stack's end).
    let memory_fault = signo == libc::SIGSEGV || signo == libc::SIGBUS;
    (memory_fault
        && (fault_addr.abs_diff(regs.sp) <= OVERFLOW_SP_WINDOW || in_stack_guard_zone(fault_addr)))
    .then_some(TrapKind::StackOverflow)
}

/// The trapping PC, then the return address into each calling Wasm frame, following the
/// frame-pointer chain (Cranelift keeps frame pointers in every function) and, past host
/// frames, the thread's activations (`trap::walk_wasm_frames`).
fn capture_backtrace(regs: &Regs, frames: &mut Frames) {
    if trap::lookup_stub(regs.pc).is_some() {
        capture_stub_backtrace(regs, frames);
        return;
    }
    frames.push(regs.pc);
    if trap::lookup_code(regs.pc).is_some_and(|loc| loc.offset == 0) {
        // Faulted on the prologue's first instruction: this function's frame record is not
        // pushed yet and fp is still the caller's.
        // SAFETY: the thread stopped on the first instruction of a Wasm function, which
        // is only ever entered by a call.
        let ret = unsafe { arch::entry_return_address(regs) };
        if !trap::is_wasm_code(ret.wrapping_sub(1)) || !frames.push(ret) {
            return;
        }
    }
    trap::walk_wasm_frames(regs.fp, frame_readable, frames);
}

/// The backtrace of a trap in a stub (its stack-limit check, or its frame push at the
/// guard): the stub is no Wasm function, so the trap is reported at the call in its Wasm
/// caller, as the check in the caller's own prologue used to report it.
fn capture_stub_backtrace(regs: &Regs, frames: &mut Frames) {
    let at_entry = trap::lookup_stub(regs.pc).is_some_and(|loc| loc.offset == 0);
    let (caller_fp, ret) = if at_entry {
        // SAFETY: the thread stopped on the first instruction of a stub, which is only
        // ever entered by a call.
        (regs.fp, unsafe { arch::entry_return_address(regs) })
    } else {
        match trap::StackStart::caller_of(regs.fp, frame_readable) {
            Some(start) => (start.fp, start.ret),
            None => return,
        }
    };
    // An address inside the call instruction: frame 0 is looked up as a trapping PC.
    let call = ret.wrapping_sub(1);
    if !trap::is_wasm_code(call) || !frames.push(call) {
        return;
    }
    trap::walk_wasm_frames(caller_fp, frame_readable, frames);
}

extern "C" fn handle_signal(signo: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes this signal's ucontext_t to an SA_SIGINFO handler.
    let regs = unsafe { arch::read_regs(ctx) };
    let fault_addr = if signo == libc::SIGSEGV || signo == libc::SIGBUS {
        // SAFETY: info is the kernel's siginfo_t; si_addr is valid for these signals.
        unsafe { (*info).si_addr() as usize }
    } else {
        0
    };
    if signo == libc::SIGSEGV
        && let Some(offset) = trap::lookup_code(regs.pc).and_then(|loc| loc.folded_offset())
    {
        // SAFETY: ctx is this SIGSEGV's ucontext.
        if let crate::folded::Fault::Resume =
            unsafe { crate::folded::on_fault(ctx, regs.pc, fault_addr, offset) }
        {
            return;
        }
    }
    let Some(kind) = classify(signo, &regs, fault_addr) else {
        fatal_fault(signo, regs.pc, fault_addr);
    };
    let mut frames = Frames::new();
    capture_backtrace(&regs, &mut frames);
    let buf = trap::active_unwind_buffer();
    if buf.is_null() {
        let mut out = FdWriter::stderr();
        let _ = trap::write_report(&mut out, kind, frames.as_slice());
        out.flush();
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(TRAP_EXIT_CODE) };
    }
    trap::record_trap(kind, regs.pc, frames.as_slice());
    // SAFETY: buf belongs to a guarded call active on this thread, which is below the
    // trapping Wasm frames; when the handler returns the thread resumes in its unwind stub.
    unsafe { arch::redirect_to_unwind(ctx, buf) };
}

/// The single-step trap of a wrapped folded access (`crate::folded`); any other SIGTRAP
/// is fatal, as it would be without a handler.
extern "C" fn handle_step(signo: c_int, _info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes this signal's ucontext_t to an SA_SIGINFO handler.
    if !unsafe { crate::folded::on_step(ctx) } {
        // SAFETY: as above.
        let regs = unsafe { arch::read_regs(ctx) };
        fatal_fault(signo, regs.pc, 0);
    }
}

fn fatal_fault(signo: c_int, pc: usize, fault_addr: usize) -> ! {
    let mut out = FdWriter::stderr();
    if (signo == libc::SIGSEGV || signo == libc::SIGBUS) && in_stack_guard_zone(fault_addr) {
        let _ = writeln!(out, "wasm trap: {}", TrapKind::StackOverflow.message());
        out.flush();
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(TRAP_EXIT_CODE) };
    }
    let _ = write!(out, "aot runtime: fatal signal {signo} at pc {pc:#x}");
    if signo == libc::SIGSEGV || signo == libc::SIGBUS {
        let _ = write!(out, " (address {fault_addr:#x})");
    }
    let _ = out.write_str("\n");
    out.flush();
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(128 + signo) };
}

/// Writes `report` to stderr and ends the process with `TRAP_EXIT_CODE`, as an uncaught
/// trap does.
pub(crate) fn exit_with_report(report: &str) -> ! {
    let mut out = FdWriter::stderr();
    let _ = out.write_str(report);
    out.flush();
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(TRAP_EXIT_CODE) };
}

fn fatal_message(msg: &str) -> ! {
    let mut out = FdWriter::stderr();
    let _ = out.write_str(msg);
    out.flush();
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(TRAP_EXIT_CODE) };
}

/// Buffered writes to a file descriptor with a fixed stack buffer: usable in the signal
/// handler.
struct FdWriter {
    fd: c_int,
    buf: [u8; 256],
    len: usize,
}

impl FdWriter {
    fn stderr() -> FdWriter {
        FdWriter {
            fd: 2,
            buf: [0; 256],
            len: 0,
        }
    }

    fn flush(&mut self) {
        let mut done = 0;
        while done < self.len {
            // SAFETY: writes initialised bytes of our own buffer.
            let n = unsafe {
                libc::write(
                    self.fd,
                    self.buf[done..].as_ptr() as *const c_void,
                    self.len - done,
                )
            };
            if n > 0 {
                done += n as usize;
            } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            } else {
                break;
            }
        }
        self.len = 0;
    }
}

impl fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::test_code::*;
    use crate::trap::tests::{RECURSE, RECURSE_UNCHECKED, fake_module, func_start, trap_pc};
    use crate::trap::{MAX_BACKTRACE_FRAMES, call_guarded, format_trap};
    use std::process::Command;

    #[test]
    fn stack_limit_is_below_sp_and_within_the_stack() {
        let limit = stack_limit();
        let sp = approximate_sp();
        assert!(limit < sp);
        assert!(sp - limit <= MAX_WASM_STACK + 4096, "{sp:#x} {limit:#x}");
        let (low, high) = STACK.with(|s| (s.low.get(), s.high.get()));
        assert!(low != 0 && low < sp && sp < high);
        assert!(limit >= low + HOST_STACK_SLACK);
        assert_eq!(stack_limit(), limit, "stable across calls");
        // The alternate stack is ours (or at least as large).
        // SAFETY: stack_t is plain data; sigaltstack with a null new stack only queries.
        let mut cur: libc::stack_t = unsafe { mem::zeroed() };
        assert_eq!(unsafe { libc::sigaltstack(ptr::null(), &mut cur) }, 0);
        assert_eq!(cur.ss_flags & libc::SS_DISABLE, 0);
        assert!(cur.ss_size >= ALT_STACK_SIZE);
    }

    #[test]
    fn stack_limit_check_traps_as_stack_overflow() {
        let desc = fake_module();
        for _ in 0..2 {
            let mut vmctx = [stack_limit(), 0];
            let vmctx_ptr = vmctx.as_mut_ptr() as *mut u8;
            let trap = call_guarded(|| {
                // SAFETY: test code; recursion stops at the limit stored in vmctx[0].
                unsafe { aot_rt_test_recurse(vmctx_ptr) }
            })
            .unwrap_err();
            assert_eq!(trap.kind, TrapKind::StackOverflow);
            assert_eq!(trap.pc, trap_pc(desc, RECURSE));
            assert_eq!(trap.backtrace.len(), MAX_BACKTRACE_FRAMES + 1);
            assert!(
                trap.backtrace[1..]
                    .iter()
                    .all(|&r| trap::lookup_code(r - 1).is_some())
            );
            let report = format_trap(&trap);
            assert!(
                report.starts_with(
                    "wasm trap: call stack exhausted\nwasm backtrace:\n    0: recurse\n"
                )
            );
            assert!(report.ends_with(&format!("    {MAX_BACKTRACE_FRAMES}: recurse\n")));
        }
    }

    #[test]
    fn guard_page_overflow_in_wasm_is_stack_overflow() {
        let desc = fake_module();
        // Run on a thread with a small stack so the recursion is short; too small for a
        // guard of ours (`place_guard`), so this is the fallback: the pthread's guard.
        let t = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                call_guarded(|| {
                    // SAFETY: test code; the recursion ends on the thread's guard page,
                    // and the handler runs on the alternate stack.
                    unsafe { aot_rt_test_recurse_unchecked(ptr::null_mut()) }
                })
            })
            .unwrap();
        let trap = t.join().unwrap().unwrap_err();
        assert_eq!(trap.kind, TrapKind::StackOverflow);
        let loc = trap::lookup_code(trap.pc).unwrap();
        assert_eq!(
            trap.pc - loc.offset as usize,
            func_start(desc, RECURSE_UNCHECKED)
        );
        assert!(trap.backtrace.len() > 2);
    }

    /// The guard of a thread whose stack has room for it lies right below the host slack
    /// and is inaccessible; a Wasm overflow there is a stack overflow trap.
    #[test]
    fn guard_is_placed_below_the_host_slack_and_catches_overflow() {
        let desc = fake_module();
        let t = std::thread::Builder::new()
            .stack_size(4 << 20)
            .spawn(move || {
                let limit = stack_limit();
                let (g_low, g_high) = STACK.with(|s| (s.guard_low.get(), s.guard_high.get()));
                let page = crate::memory::page_size();
                assert_eq!(g_high, (limit - HOST_STACK_SLACK) & !(page - 1));
                assert_eq!(g_high - g_low, STACK_GUARD_SIZE);
                let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
                let protected = maps.lines().any(|l| {
                    let (range, rest) = l.split_once(' ').unwrap();
                    let (a, b) = range.split_once('-').unwrap();
                    let (a, b) = (
                        usize::from_str_radix(a, 16).unwrap(),
                        usize::from_str_radix(b, 16).unwrap(),
                    );
                    a <= g_low && g_high <= b && rest.starts_with("---p")
                });
                assert!(protected, "{g_low:#x}-{g_high:#x} not PROT_NONE:\n{maps}");
                let trap = call_guarded(|| {
                    // SAFETY: test code; the recursion ends in this thread's guard, and the
                    // handler runs on the alternate stack.
                    unsafe { aot_rt_test_recurse_unchecked(ptr::null_mut()) }
                })
                .unwrap_err();
                (trap, g_low)
            })
            .unwrap();
        let (trap, _) = t.join().unwrap();
        assert_eq!(trap.kind, TrapKind::StackOverflow);
        let loc = trap::lookup_code(trap.pc).unwrap();
        assert_eq!(
            trap.pc - loc.offset as usize,
            func_start(desc, RECURSE_UNCHECKED)
        );
    }

    /// Re-runs this test binary on one test with `AOT_RT_CHILD` set, returning (exit code,
    /// stderr). Under an emulator, set `AOT_TEST_RUNNER` (e.g. `qemu-aarch64`) so the
    /// child can be started.
    fn run_child(test: &str, mode: &str) -> (i32, String) {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match std::env::var("AOT_TEST_RUNNER") {
            Ok(runner) if !runner.is_empty() => {
                let mut c = Command::new(runner);
                c.arg(exe);
                c
            }
            _ => Command::new(exe),
        };
        let out = cmd
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env("AOT_RT_CHILD", mode)
            .output()
            .expect("start the test binary (under an emulator set AOT_TEST_RUNNER)");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn child_mode() -> Option<String> {
        std::env::var("AOT_RT_CHILD").ok()
    }

    /// Recurses until the thread's stack is exhausted (the depth is opaque to the compiler).
    #[inline(never)]
    fn host_recursion(n: u64) -> u64 {
        let pad = [n; 64];
        core::hint::black_box(&pad);
        if core::hint::black_box(n) == u64::MAX {
            return 0;
        }
        host_recursion(n + 1) + core::hint::black_box(pad[3])
    }

    #[test]
    fn unguarded_faults_end_the_process() {
        if let Some(mode) = child_mode() {
            init();
            let desc = fake_module();
            match mode.as_str() {
                // SAFETY: test code that executes ud2/udf via a second function.
                "trap" => unsafe { aot_rt_test_call_unreachable(ptr::null_mut()) },
                "host-fault" => {
                    // SAFETY: deliberately faults outside Wasm code.
                    unsafe { ptr::read_volatile(16 as *const u64) };
                }
                "host-overflow" => {
                    host_recursion(0);
                }
                _ => {}
            }
            let _ = desc;
            std::process::exit(3);
        }
        let name = "signals::tests::unguarded_faults_end_the_process";
        let (code, err) = run_child(name, "trap");
        assert_eq!(code, TRAP_EXIT_CODE, "{err}");
        assert!(
            err.contains(
                "wasm trap: wasm `unreachable` instruction executed\nwasm backtrace:\n    0: unreachable\n    1: call_unreachable\n"
            ),
            "{err}"
        );
        let (code, err) = run_child(name, "host-fault");
        assert_eq!(code, 128 + libc::SIGSEGV, "{err}");
        assert!(
            err.contains("aot runtime: fatal signal 11 at pc 0x"),
            "{err}"
        );
        assert!(err.contains("(address 0x10)"), "{err}");
        let (code, err) = run_child(name, "host-overflow");
        assert_eq!(code, TRAP_EXIT_CODE, "{err}");
        assert!(err.contains("wasm trap: call stack exhausted\n"), "{err}");
    }

    #[test]
    fn fd_writer_delivers_long_output_in_order() {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let mut w = FdWriter {
            fd: fds[1],
            buf: [0; 256],
            len: 0,
        };
        let text: String = (0..300).map(|i| format!("{i},")).collect();
        write!(w, "{text}").unwrap();
        w.write_str("end").unwrap();
        w.flush();
        let mut got = vec![0u8; text.len() + 16];
        // SAFETY: reads into our buffer, then closes the descriptors we created; the
        // output is far below the pipe's capacity, so it is all there.
        let n = unsafe {
            let n = libc::read(fds[0], got.as_mut_ptr() as *mut c_void, got.len());
            libc::close(fds[0]);
            libc::close(fds[1]);
            n
        };
        got.truncate(n.max(0) as usize);
        assert_eq!(String::from_utf8(got).unwrap(), format!("{text}end"));
    }
}
