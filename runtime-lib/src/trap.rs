//! Traps: which native code is Wasm, what a faulting instruction means, how a trap gets
//! back to the host, and how it is reported.
//!
//! It owns:
//! - the code registry: every compiled module's function ranges and trap records
//!   ([`register_module`]). It is a list published with atomics and never freed, so the
//!   signal handler can search it without locking or allocating;
//! - the guarded call ([`call_guarded`]): an unwind point that the signal handler
//!   (`signals.rs`) returns to when Wasm code under it traps. The handler's findings go
//!   through a thread-local record of const-initialised cells;
//! - the report (`wasm trap: ...` and `wasm backtrace:`), written by one routine that both
//!   the handler (into a stack buffer, no allocation) and [`format_trap`] use.
//!
//! - the activations: every entry into Wasm ([`call_wasm`]) links a record of the store's
//!   last Wasm-to-host transition at that moment into a per-thread chain, so a backtrace
//!   taken in Wasm code that a host function called back into continues, past the host
//!   frames, in the Wasm frames that called the host ([`WasmFrames`], which backtraces,
//!   throws and the collector's root walk share);
//! - the GC roots in Wasm frames ([`visit_stack_roots`]): each registered module's stack
//!   maps (`aot_abi::StackMapRecord`) name the stack slots holding references at each call
//!   site;
//! - raising a trap from host code ([`raise`]): a host function returns with a pending trap
//!   and its host-call trampoline raises it, unwinding only Wasm frames.
//!
//! Invariant: whatever the signal handler calls from here is async-signal-safe: no
//! allocation, no locks, no lazily initialised thread-locals.

use core::cell::{Cell, RefCell};
use core::fmt::{self, Write as _};
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use aot_abi::{
    HandlerRecord, InlineRecord, ModuleDescriptor, ModuleMeta, StackMapRecord, TrapKind,
    TrapRecord, VMStoreContext,
};

use crate::{arch, signals};

/// The most frames a backtrace records after the trapping PC.
pub const MAX_BACKTRACE_FRAMES: usize = 256;

/// A Wasm trap caught by [`call_guarded`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub kind: TrapKind,
    /// Address of the trapping instruction.
    pub pc: usize,
    /// Innermost first: `pc`, then the return address into each calling Wasm frame.
    pub backtrace: Vec<usize>,
    /// The particular rule a [`TrapKind::ComponentAbi`] or [`TrapKind::ComponentTrap`] trap
    /// broke, in wasmtime's words
    /// (None for every other kind: their message is the kind's).
    pub detail: Option<String>,
}

impl Trap {
    /// What follows `wasm trap: `.
    pub fn message(&self) -> &str {
        self.detail.as_deref().unwrap_or(self.kind.message())
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Trap {}

/// One registered module. Immutable once published and never freed, so a `&'static` to it
/// is valid in the signal handler at any time.
struct CodeModule {
    desc: &'static ModuleDescriptor,
    meta: &'static ModuleMeta,
    /// Lowest function (or stub) start and highest end: a quick rejection test.
    start: usize,
    end: usize,
    /// Defined functions by ascending start address.
    funcs: Funcs,
    /// The module's stubs (`ModuleDescriptor::stubs`) by ascending start address, indexed
    /// from `num_funcs` as their trap records are.
    stubs: Box<[FuncRange]>,
    /// Sorted by (func, offset), as the compiler emits them.
    traps: &'static [TrapRecord],
    /// Code that came from inlined functions, sorted by (func, offset), and their frames.
    inline_records: &'static [InlineRecord],
    inline_funcs: &'static [u32],
    /// Exception handlers of call sites, sorted by (func, ret_offset).
    handlers: &'static [HandlerRecord],
    /// GC roots of call sites, sorted by (func, ret_offset), and their slot offsets.
    stack_maps: &'static [StackMapRecord],
    stack_map_slots: &'static [u32],
    /// Number of imported functions: defined function `i` is function `imported + i`.
    imported: u32,
    /// The module registered before this one, or null.
    next: *const CodeModule,
}

/// A module's functions by ascending start address, for [`lookup_code`].
enum Funcs {
    /// The descriptor's own arrays, when they are in address order already (the compiler
    /// emits functions in index order into one section, so they are): nothing is built at
    /// start-up, which for a module of 100,000 functions saves megabytes of fresh pages.
    Descriptor {
        code: &'static [*const u8],
        lens: &'static [u32],
    },
    /// Sorted here, for descriptors in any other order.
    Sorted(Box<[FuncRange]>),
}

impl Funcs {
    fn new(code: &'static [*const u8], lens: &'static [u32]) -> Funcs {
        // One pass without early exit: it reads a large module's 100,000 entries at every
        // start-up, and the answer is nearly always yes.
        let next = code.iter().skip(1).map(|c| *c as usize).chain([usize::MAX]);
        let ordered = code.len() == lens.len()
            && code
                .iter()
                .zip(lens)
                .zip(next)
                .fold(true, |ok, ((c, len), next)| {
                    ok & (*len > 0) & ((*c as usize).saturating_add(*len as usize) <= next)
                });
        if ordered {
            return Funcs::Descriptor { code, lens };
        }
        Funcs::Sorted(code_ranges(code, lens, 0).into_boxed_slice())
    }

    /// Lowest start and highest end.
    fn bounds(&self) -> (usize, usize) {
        match self {
            Funcs::Descriptor { code, lens } => match (code.first(), code.last(), lens.last()) {
                (Some(first), Some(last), Some(len)) => {
                    (*first as usize, *last as usize + *len as usize)
                }
                _ => (0, 0),
            },
            Funcs::Sorted(f) => (
                f.first().map_or(0, |f| f.start),
                f.iter().map(|f| f.end).max().unwrap_or(0),
            ),
        }
    }

    /// The function containing `pc`. Async-signal-safe.
    fn find(&self, pc: usize) -> Option<FuncRange> {
        let f = match self {
            Funcs::Descriptor { code, lens } => {
                let i = code.partition_point(|c| *c as usize <= pc).checked_sub(1)?;
                FuncRange {
                    start: code[i] as usize,
                    end: code[i] as usize + lens[i] as usize,
                    index: i as u32,
                }
            }
            Funcs::Sorted(funcs) => {
                let i = funcs.partition_point(|f| f.start <= pc).checked_sub(1)?;
                funcs[i]
            }
        };
        (pc < f.end).then_some(f)
    }
}

#[derive(Clone, Copy, Debug)]
struct FuncRange {
    start: usize,
    end: usize,
    /// Defined-function index (imports not counted), as in `TrapRecord::func`.
    index: u32,
}

/// Head of the registry list; each node points to the previously registered one.
static MODULES: AtomicPtr<CodeModule> = AtomicPtr::new(ptr::null_mut());
/// Serialises registrations (never taken by the signal handler).
static REGISTER_LOCK: Mutex<()> = Mutex::new(());

fn modules() -> impl Iterator<Item = &'static CodeModule> {
    let mut cur = MODULES.load(Ordering::Acquire) as *const CodeModule;
    core::iter::from_fn(move || {
        // SAFETY: nodes are leaked boxes published with Release after being fully written,
        // and are never modified or freed; the Acquire load above (and the chain of `next`
        // pointers written before each publication) makes their contents visible.
        let m = unsafe { cur.as_ref()? };
        cur = m.next;
        Some(m)
    })
}

/// Makes a compiled module's code known to the trap handler. Call it before the first call
/// into the module's code; registering the same descriptor again does nothing.
pub fn register_module(desc: &'static ModuleDescriptor, meta: &'static ModuleMeta) {
    let _guard = REGISTER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if modules().any(|m| ptr::eq(m.desc, desc)) {
        return;
    }
    // SAFETY: a descriptor's arrays are emitted by the compiler next to it with exactly
    // `num_funcs` entries, in the executable's read-only image.
    let (code, lens) = unsafe {
        (
            crate::raw_slice(desc.funcs, desc.num_funcs),
            crate::raw_slice(desc.func_lens, desc.num_funcs),
        )
    };
    let funcs = Funcs::new(code, lens);
    // SAFETY: as above, `num_stubs` entries.
    let (stub_code, stub_lens) = unsafe {
        (
            crate::raw_slice(desc.stubs, desc.num_stubs),
            crate::raw_slice(desc.stub_lens, desc.num_stubs),
        )
    };
    let stubs = code_ranges(stub_code, stub_lens, desc.num_funcs as u32);
    let (start, end) = stubs
        .iter()
        .map(|f| (f.start, f.end))
        .chain(Some(funcs.bounds()).filter(|b| b.1 > b.0))
        .fold((usize::MAX, 0), |(s, e), (fs, fe)| (s.min(fs), e.max(fe)));
    // SAFETY: as above, `num_traps` records.
    let traps = unsafe { crate::raw_slice(desc.traps, desc.num_traps) };
    // SAFETY: as above, with the inline tables' lengths.
    let (inline_records, inline_funcs) = unsafe {
        (
            crate::raw_slice(desc.inline_records, desc.num_inline_records),
            crate::raw_slice(desc.inline_funcs, desc.num_inline_funcs),
        )
    };
    // SAFETY: as above, `num_handlers` records.
    let handlers = unsafe { crate::raw_slice(desc.handlers, desc.num_handlers) };
    // SAFETY: as above, with the stack-map tables' lengths.
    let (stack_maps, stack_map_slots) = unsafe {
        (
            crate::raw_slice(desc.stack_maps, desc.num_stack_maps),
            crate::raw_slice(desc.stack_map_slots, desc.num_stack_map_slots),
        )
    };
    let node = Box::new(CodeModule {
        desc,
        meta,
        start,
        end,
        funcs,
        stubs: stubs.into_boxed_slice(),
        traps,
        inline_records,
        inline_funcs,
        handlers,
        stack_maps,
        stack_map_slots,
        imported: meta.imported_funcs(),
        next: MODULES.load(Ordering::Relaxed),
    });
    MODULES.store(Box::into_raw(node), Ordering::Release);
}

/// The non-empty ranges of `code[i]` with `lens[i]` bytes, numbered from `first`, by
/// ascending start.
fn code_ranges(code: &[*const u8], lens: &[u32], first: u32) -> Vec<FuncRange> {
    let mut ranges: Vec<FuncRange> = code
        .iter()
        .zip(lens)
        .enumerate()
        .filter(|(_, (_, len))| **len > 0)
        .map(|(i, (start, len))| FuncRange {
            start: *start as usize,
            end: *start as usize + *len as usize,
            index: first + i as u32,
        })
        .collect();
    ranges.sort_unstable_by_key(|f| f.start);
    ranges
}

/// Where a code address is: a function of a registered module and the offset in it.
#[derive(Clone, Copy)]
pub(crate) struct CodeLoc {
    module: &'static CodeModule,
    /// Defined-function index.
    func: u32,
    pub(crate) offset: u32,
}

impl CodeLoc {
    /// The kind of the trap record at exactly this instruction, if any.
    pub(crate) fn trap_kind(&self) -> Option<TrapKind> {
        let kind = self.record_kind()?;
        // A folded access that did not wrap is an out-of-bounds access like any other.
        TrapKind::from_u32(kind)
            .or_else(|| aot_abi::folded_access_offset(kind).map(|_| TrapKind::MemoryOutOfBounds))
    }

    /// The static offset of the folded access at exactly this instruction, if it is one
    /// (see `crate::folded`).
    pub(crate) fn folded_offset(&self) -> Option<u32> {
        aot_abi::folded_access_offset(self.record_kind()?)
    }

    /// The raw `TrapRecord::kind` of the trap record at exactly this instruction, if any.
    fn record_kind(&self) -> Option<u32> {
        let key = (self.func, self.offset);
        let i = self
            .module
            .traps
            .binary_search_by_key(&key, |r| (r.func, r.offset))
            .ok()?;
        Some(self.module.traps[i].kind)
    }

    /// The exception handler of the call whose return address is `ret`, when this is the
    /// location of `ret - 1`: (handler address, frame offset).
    pub(crate) fn handler_for_return(&self, ret: usize) -> Option<(usize, u32)> {
        let key = (self.func, self.offset + 1);
        let h = self
            .module
            .handlers
            .binary_search_by_key(&key, |r| (r.func, r.ret_offset))
            .ok()
            .map(|i| self.module.handlers[i])?;
        let func_start = ret - (self.offset as usize + 1);
        Some((func_start + h.handler_offset as usize, h.frame_offset))
    }

    /// The GC roots of the call whose return address is `ret`, when this is the location
    /// of `ret - 1` (so the record is keyed by this location's offset plus one; `ret`
    /// itself is not needed to find it): (span, slot offsets), the frame's stack pointer
    /// during the call being its frame pointer minus span. None: no reference is live
    /// across that call.
    pub(crate) fn stack_map_for_return(&self, _ret: usize) -> Option<(u32, &'static [u32])> {
        let key = (self.func, self.offset + 1);
        let m = self.module;
        let r = m
            .stack_maps
            .binary_search_by_key(&key, |r| (r.func, r.ret_offset))
            .ok()
            .map(|i| m.stack_maps[i])?;
        let slots = m
            .stack_map_slots
            .get(r.start as usize..(r.start as usize).saturating_add(r.len as usize))?;
        Some((r.span, slots))
    }

    /// Writes the function's name as `ModuleMeta::func_display_name` spells it, without
    /// allocating.
    fn write_name(&self, w: &mut dyn fmt::Write) -> fmt::Result {
        self.write_func_name(w, self.module.imported + self.func)
    }

    fn write_func_name(&self, w: &mut dyn fmt::Write, index: u32) -> fmt::Result {
        match self.module.meta.func_names.get(index) {
            Some(name) if !name.is_empty() => w.write_str(name),
            _ => write!(w, "<wasm function {index}>"),
        }
    }

    /// The functions inlined at `offset` of this function, innermost first (module
    /// function indices); empty for code of the function itself.
    fn inlined_at(&self, offset: u32) -> &'static [u32] {
        let m = self.module;
        let Ok(i) = m
            .inline_records
            .binary_search_by_key(&(self.func, offset), |r| (r.func, r.offset))
        else {
            return &[];
        };
        let r = m.inline_records[i];
        m.inline_funcs
            .get(r.start as usize..(r.start as usize).saturating_add(r.len as usize))
            .unwrap_or(&[])
    }
}

/// Finds the registered function containing `pc`. Async-signal-safe.
pub(crate) fn lookup_code(pc: usize) -> Option<CodeLoc> {
    lookup_in(pc, |m, pc| m.funcs.find(pc))
}

/// Where `pc` is, if it is in a module's stub (a host-call trampoline, the throw or the GC
/// stub): only its trap records are known (`CodeLoc::trap_kind`); it is not a Wasm
/// function. Async-signal-safe.
pub(crate) fn lookup_stub(pc: usize) -> Option<CodeLoc> {
    lookup_in(pc, |m, pc| {
        let i = m.stubs.partition_point(|f| f.start <= pc).checked_sub(1)?;
        let f = m.stubs[i];
        (pc < f.end).then_some(f)
    })
}

fn lookup_in(pc: usize, find: fn(&CodeModule, usize) -> Option<FuncRange>) -> Option<CodeLoc> {
    modules().find_map(|module| {
        if pc < module.start || pc >= module.end {
            return None;
        }
        let f = find(module, pc)?;
        Some(CodeLoc {
            module,
            func: f.index,
            offset: (pc - f.start) as u32,
        })
    })
}

/// Is `pc` inside registered Wasm code? For a return address pass `ret - 1`: a call may be
/// the last instruction of a function.
pub(crate) fn is_wasm_code(pc: usize) -> bool {
    lookup_code(pc).is_some()
}

/// A backtrace being captured in the signal handler: fixed capacity, on the stack.
pub(crate) struct Frames {
    pcs: [usize; MAX_BACKTRACE_FRAMES + 1],
    len: usize,
}

impl Frames {
    pub(crate) const fn new() -> Frames {
        Frames {
            pcs: [0; MAX_BACKTRACE_FRAMES + 1],
            len: 0,
        }
    }

    /// Appends `pc`; false when full.
    pub(crate) fn push(&mut self, pc: usize) -> bool {
        match self.pcs.get_mut(self.len) {
            Some(slot) => {
                *slot = pc;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn as_slice(&self) -> &[usize] {
        &self.pcs[..self.len]
    }
}

/// Per-thread trap state shared with the signal handler. Only `Cell`s, const-initialised
/// and without destructors, so the handler's accesses never allocate or initialise lazily.
struct TrapState {
    /// Unwind buffer of the innermost active [`call_guarded`]; null when none.
    jmp_buf: Cell<*mut usize>,
    /// The innermost active entry into Wasm on this thread; null when none.
    activation: Cell<*const Activation>,
    kind: Cell<TrapKind>,
    /// The detail of a raised [`TrapKind::ComponentAbi`] (or GC heap exhaustion) trap. Touched only by `raise`
    /// and `take_trap`, never by the signal handler (which raises no such trap).
    detail: RefCell<Option<String>>,
    pc: Cell<usize>,
    len: Cell<usize>,
    frames: [Cell<usize>; MAX_BACKTRACE_FRAMES + 1],
}

thread_local! {
    static STATE: TrapState = const {
        TrapState {
            jmp_buf: Cell::new(ptr::null_mut()),
            activation: Cell::new(ptr::null()),
            kind: Cell::new(TrapKind::UnreachableCodeReached),
            detail: RefCell::new(None),
            pc: Cell::new(0),
            len: Cell::new(0),
            frames: [const { Cell::new(0) }; MAX_BACKTRACE_FRAMES + 1],
        }
    };
}

/// The unwind buffer of the innermost active guarded call on this thread, or null.
/// Async-signal-safe.
pub(crate) fn active_unwind_buffer() -> *mut usize {
    STATE.with(|s| s.jmp_buf.get())
}

/// Stores a trap for the guarded call about to be unwound. Async-signal-safe.
pub(crate) fn record_trap(kind: TrapKind, pc: usize, frames: &[usize]) {
    STATE.with(|s| {
        s.kind.set(kind);
        s.pc.set(pc);
        let n = frames.len().min(s.frames.len());
        for (cell, pc) in s.frames.iter().zip(&frames[..n]) {
            cell.set(*pc);
        }
        s.len.set(n);
    });
}

fn take_trap() -> Trap {
    STATE.with(|s| {
        let kind = s.kind.get();
        let detail = s.detail.borrow_mut().take();
        Trap {
            kind,
            pc: s.pc.get(),
            backtrace: s.frames[..s.len.get()].iter().map(Cell::get).collect(),
            detail: detail.filter(|_| {
                matches!(
                    kind,
                    TrapKind::ComponentAbi | TrapKind::ComponentTrap | TrapKind::GcHeapOutOfMemory
                )
            }),
        }
    })
}

/// Runs `f`; if Wasm code called from within `f` traps, returns `Err` with the trap.
///
/// Guarded calls nest: the innermost active one catches. A panic in `f` is carried across
/// the assembly frame and resumed here.
///
/// When a trap unwinds, every frame between this call and the trapping Wasm code (including
/// `f`'s own body) is discarded without running destructors. So `f` must not hold a value
/// with a destructor (a `Vec`, a `String`, a lock guard, ...) across a call into Wasm:
/// keep it a thin shim that calls generated code and stores the results into memory that
/// outlives the call. `f` itself (its captures) is dropped normally.
pub fn call_guarded<F: FnMut()>(f: F) -> Result<(), Trap> {
    struct Call<F> {
        f: F,
        panic: Option<Box<dyn Any + Send>>,
    }

    unsafe extern "C" fn shim<F: FnMut()>(arg: *mut u8) {
        // SAFETY: `arg` is the `&mut Call<F>` that `call_guarded` passed and that outlives
        // this call; nothing else accesses it meanwhile.
        let call = unsafe { &mut *(arg as *mut Call<F>) };
        // A panic must not unwind into the assembly frame (it has no landing pad and this
        // function is `extern "C"`), so it is carried across and resumed by the caller.
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| (call.f)())) {
            call.panic = Some(payload);
        }
    }

    signals::init();
    let mut call = Call { f, panic: None };
    let mut buf: usize = 0;
    let buf_ptr: *mut usize = &mut buf;
    let outer = STATE.with(|s| s.jmp_buf.replace(buf_ptr));
    // SAFETY: `buf` and `call` live on this frame until the call returns. A trap discards
    // only frames below this one: `shim`, `f`'s body and the Wasm frames, which per this
    // function's documented contract own nothing that needs dropping.
    let trapped = unsafe {
        arch::call_with_unwind_point(buf_ptr, shim::<F>, &mut call as *mut Call<F> as *mut u8)
    };
    STATE.with(|s| s.jmp_buf.set(outer));
    if let Some(payload) = call.panic {
        panic::resume_unwind(payload);
    }
    if trapped { Err(take_trap()) } else { Ok(()) }
}

/// One entry into Wasm: the store's last Wasm-to-host transition when it began (zero for an
/// entry from outside Wasm), i.e. the Wasm frame whose host call led to this entry.
pub(crate) struct Activation {
    exit_fp: usize,
    exit_pc: usize,
    prev: *const Activation,
}

/// Runs `f`, which calls Wasm code of the store whose context is `store`, as one entry
/// into Wasm: sets the store's stack limit to this thread's, links an activation so
/// backtraces can cross the host frames below it, and catches traps as [`call_guarded`]
/// does (whose contract `f` must keep). Entries nest: a host function called from Wasm
/// may call this again.
pub fn call_wasm<F: FnMut()>(store: &VMStoreContext, f: F) -> Result<(), Trap> {
    signals::init();
    let activation = Activation {
        exit_fp: store.last_exit_fp.load(Ordering::Relaxed),
        exit_pc: store.last_exit_pc.load(Ordering::Relaxed),
        prev: STATE.with(|s| s.activation.get()),
    };
    let limit = store
        .stack_limit
        .swap(signals::stack_limit(), Ordering::Relaxed);
    STATE.with(|s| s.activation.set(&activation));
    let result = call_guarded(f);
    STATE.with(|s| s.activation.set(activation.prev));
    // Host calls made by the Wasm code that just returned overwrote the transition; the
    // caller's (if it is a host function called from Wasm) is the one saved here.
    store.stack_limit.store(limit, Ordering::Relaxed);
    store
        .last_exit_fp
        .store(activation.exit_fp, Ordering::Relaxed);
    store
        .last_exit_pc
        .store(activation.exit_pc, Ordering::Relaxed);
    result
}

/// Can the frame record at `fp` (saved fp, return address) be read? Supplied by the caller
/// of [`walk_wasm_frames`]: the signal handler checks against the thread's stack bounds.
pub(crate) type FrameCheck = fn(usize) -> bool;

/// A Wasm frame to start a stack walk at: `fp` is its frame pointer and `ret` the return
/// address into it, of the call in progress there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StackStart {
    pub(crate) fp: usize,
    pub(crate) ret: usize,
}

impl StackStart {
    /// The Wasm frame that called the function whose frame record is at `record` (a stub
    /// with a frame pointer: the throw and GC stubs pass theirs): the record holds that
    /// frame's pointer and the return address into it. None if it cannot be read.
    pub(crate) fn caller_of(record: usize, readable: FrameCheck) -> Option<StackStart> {
        if !readable(record) {
            return None;
        }
        // SAFETY: `readable` checked that both words of the record lie in this thread's
        // stack.
        let (fp, ret) = unsafe { (*(record as *const usize), *((record + 8) as *const usize)) };
        Some(StackStart { fp, ret })
    }
}

/// The Wasm frames of this thread from a starting one outwards, as (return address into
/// the frame, its frame pointer): up the frame-pointer chain while return addresses are
/// in Wasm code, then, with `cross_hosts`, on past host frames through the activations
/// (where the chain leaves Wasm code, the innermost remaining activation's transition
/// gives the Wasm frame that called the host), as backtraces and the collector need;
/// without, it ends at the first host frame, as a throw does. Async-signal-safe.
pub(crate) struct WasmFrames {
    next: Option<(usize, usize)>,
    activation: *const Activation,
    readable: FrameCheck,
    cross_hosts: bool,
}

impl WasmFrames {
    /// The frames from `start` (assumed a Wasm frame) outwards.
    pub(crate) fn new(start: StackStart, readable: FrameCheck, cross_hosts: bool) -> WasmFrames {
        WasmFrames {
            next: Some((start.ret, start.fp)),
            activation: STATE.with(|s| s.activation.get()),
            readable,
            cross_hosts,
        }
    }

    /// The frames that called the one whose frame record is at `fp` (the innermost Wasm
    /// frame, or the frame that made the call into it), outwards.
    pub(crate) fn above(fp: usize, readable: FrameCheck, cross_hosts: bool) -> WasmFrames {
        let mut w = WasmFrames {
            next: None,
            activation: STATE.with(|s| s.activation.get()),
            readable,
            cross_hosts,
        };
        w.next = w.step(fp);
        w
    }

    /// The frame that called the one whose frame pointer is `fp`.
    fn step(&mut self, fp: usize) -> Option<(usize, usize)> {
        if (self.readable)(fp) {
            // SAFETY: `readable` checked that both words of the frame record at fp lie in
            // this thread's stack.
            let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            if is_wasm_code(ret.wrapping_sub(1)) {
                // Frames only grow upwards: anything else is a broken chain.
                return (next > fp).then_some((ret, next));
            }
        }
        if !self.cross_hosts {
            return None;
        }
        // SAFETY: activations are linked by `call_wasm` frames that are still running on
        // this thread (each unlinks its own before returning), so every pointer in the
        // chain is to a live `Activation`.
        let a = unsafe { self.activation.as_ref() }?;
        if a.exit_pc == 0 || !is_wasm_code(a.exit_pc.wrapping_sub(1)) {
            return None;
        }
        self.activation = a.prev;
        Some((a.exit_pc, a.exit_fp))
    }
}

impl Iterator for WasmFrames {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let cur = self.next?;
        self.next = self.step(cur.1);
        Some(cur)
    }
}

/// Appends to `frames` the return address into each Wasm frame, walking the frame-pointer
/// chain from `fp` (the frame record of the innermost Wasm frame, or of the frame that
/// made the call into it), and continuing past host frames through the activations of
/// this thread ([`WasmFrames`]). Async-signal-safe.
pub(crate) fn walk_wasm_frames(fp: usize, readable: FrameCheck, frames: &mut Frames) {
    for (ret, _) in WasmFrames::above(fp, readable, true) {
        if !frames.push(ret) {
            return;
        }
    }
}

/// Calls `visit` with the address of every GC root slot of the Wasm frames of this thread,
/// from `start` outwards across host activations: for each frame, the slots of the stack
/// map of its call in progress ([`CodeLoc::stack_map_for_return`]), each exactly once.
/// Each slot holds a reference word (`aot_abi::gc`: null, i31, host reference or object
/// pointer) that `visit` may overwrite; the Wasm code reloads it when the call returns.
///
/// # Safety
/// `start` must be a live Wasm frame of this thread whose call in progress leads (through
/// runtime frames only, which hold no references) to this call, e.g. the frame that called
/// a GC stub (`StackStart::caller_of` the stub's frame record), and no Wasm frame may run
/// until the visit is over.
pub(crate) unsafe fn visit_stack_roots(start: StackStart, visit: impl FnMut(*mut u64)) {
    // SAFETY: as this function's contract.
    unsafe { visit_roots_checked(start, signals::frame_readable, visit) }
}

/// [`visit_stack_roots`] with the frame-record check `readable`.
///
/// # Safety
/// As [`visit_stack_roots`].
unsafe fn visit_roots_checked(
    start: StackStart,
    readable: FrameCheck,
    mut visit: impl FnMut(*mut u64),
) {
    for (ret, fp) in WasmFrames::new(start, readable, true) {
        let Some(loc) = lookup_code(ret.wrapping_sub(1)) else {
            continue;
        };
        let Some((span, slots)) = loc.stack_map_for_return(ret) else {
            continue;
        };
        let sp = fp - span as usize;
        for off in slots {
            visit((sp + *off as usize) as *mut u64);
        }
    }
}

/// The trap `kind` raised by a runtime function that a Wasm frame called through a stub:
/// its backtrace starts at the call site in `start`, the first frame of a report being an
/// instruction, not a return address.
pub(crate) fn trap_at(kind: TrapKind, start: StackStart) -> Trap {
    let mut frames = Frames::new();
    let pc = start.ret.saturating_sub(1);
    if frames.push(pc) {
        walk_wasm_frames(start.fp, signals::frame_readable, &mut frames);
    }
    Trap {
        kind,
        pc,
        backtrace: frames.as_slice().to_vec(),
        detail: None,
    }
}

/// A trap of `kind` raised by host code called from Wasm: its backtrace starts at the
/// Wasm frame that made the store's last Wasm-to-host transition.
pub fn host_trap(store: &VMStoreContext, kind: TrapKind, readable: FrameCheck) -> Trap {
    let mut frames = Frames::new();
    let ret = store.last_exit_pc.load(Ordering::Relaxed);
    // The first frame of a report is a faulting instruction, not a return address: name
    // the call instruction instead (a call may be a function's last instruction).
    let pc = ret.saturating_sub(1);
    if ret != 0 && frames.push(pc) {
        walk_wasm_frames(
            store.last_exit_fp.load(Ordering::Relaxed),
            readable,
            &mut frames,
        );
    }
    Trap {
        kind,
        pc,
        backtrace: frames.as_slice().to_vec(),
        detail: None,
    }
}

/// Unwinds to the innermost active guarded call with `trap`, or, with none, prints the
/// report and ends the process as an uncaught trap does. Called by the `raise_pending_trap`
/// builtin, whose only callers are host-call trampolines, so the frames unwound are Wasm
/// frames and this function's own.
pub(crate) fn raise(trap: Trap) -> ! {
    record_trap(trap.kind, trap.pc, &trap.backtrace);
    STATE.with(|s| *s.detail.borrow_mut() = trap.detail.clone());
    let buf = active_unwind_buffer();
    if buf.is_null() {
        let report = format_trap(&trap);
        signals::exit_with_report(&report);
    }
    drop(trap);
    // SAFETY: buf belongs to a guarded call active on this thread, below the frames of the
    // trampoline that called us; everything between owns nothing needing a drop (`trap`
    // was dropped above).
    unsafe { arch::unwind_to(buf) }
}

/// Writes `wasm trap: <message>` and the backtrace. Allocation-free as long as `w` is.
pub(crate) fn write_report(
    w: &mut dyn fmt::Write,
    kind: TrapKind,
    frames: &[usize],
) -> fmt::Result {
    writeln!(w, "wasm trap: {}", kind.message())?;
    write_backtrace(w, frames)
}

fn write_backtrace(w: &mut dyn fmt::Write, frames: &[usize]) -> fmt::Result {
    w.write_str("wasm backtrace:\n")?;
    let mut n = 0;
    for (i, &pc) in frames.iter().enumerate() {
        // Return addresses may point just past a function ending in a call.
        let probe = if i == 0 { pc } else { pc.wrapping_sub(1) };
        if let Some(loc) = lookup_code(probe) {
            // Functions inlined here are frames of their own, innermost first. Records are
            // kept for return addresses only (calls carry the tags), so the trapping
            // instruction, which may sit at the same offset as a call's return address,
            // is never looked up: it names the function it was inlined into.
            let inlined = if i == 0 {
                &[][..]
            } else {
                loc.inlined_at(loc.offset + 1)
            };
            for &f in inlined {
                write!(w, "    {n}: ")?;
                loc.write_func_name(w, f)?;
                w.write_str("\n")?;
                n += 1;
            }
            write!(w, "    {n}: ")?;
            loc.write_name(w)?;
            w.write_str("\n")?;
            n += 1;
        }
    }
    Ok(())
}

/// `wasm backtrace:` and one `    N: <name>` line per Wasm frame of `trap`.
pub fn format_backtrace(trap: &Trap) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_backtrace(&mut s, &trap.backtrace);
    s
}

/// The report a command program prints when it ends in a trap.
pub fn format_trap(trap: &Trap) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "wasm trap: {}", trap.message());
    let _ = write_backtrace(&mut s, &trap.backtrace);
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::arch::test_code::*;
    use aot_abi::{ABI_VERSION, FuncType, Import, ImportKind};
    use std::sync::OnceLock;

    /// Defined-function indices of the hand-written test functions in the fake module.
    pub const LOAD32: u32 = 0;
    pub const UNREACHABLE: u32 = 1;
    pub const CALL_UNREACHABLE: u32 = 2;
    pub const CALL_HOST: u32 = 3;
    pub const RECURSE: u32 = 4;
    pub const RECURSE_UNCHECKED: u32 = 5;
    #[cfg(target_arch = "x86_64")]
    pub const DIV: u32 = 6;

    /// The return offset in CALL_HOST that the fake module has a stack map for (span 32,
    /// slots at sp+0 and sp+16).
    const FAKE_MAP_RET: u32 = 3;

    fn addr(f: unsafe extern "C" fn()) -> usize {
        f as *const () as usize
    }

    #[test]
    fn functions_are_found_in_ordered_and_unordered_descriptors() {
        let at = |a: usize| a as *const u8;
        let ordered: &'static [*const u8] = vec![at(0x100), at(0x180), at(0x200)].leak();
        let unordered: &'static [*const u8] = vec![at(0x200), at(0x100), at(0x180)].leak();
        let lens: &'static [u32] = vec![0x80, 0x40, 0x10].leak();
        let f = Funcs::new(ordered, lens);
        assert!(matches!(f, Funcs::Descriptor { .. }), "used as is");
        assert_eq!(f.bounds(), (0x100, 0x210));
        let g = Funcs::new(unordered, lens);
        assert!(matches!(g, Funcs::Sorted(_)), "sorted");
        // Unordered: 1 at 0x100..0x140, 2 at 0x180..0x190, 0 at 0x200..0x280.
        assert_eq!(g.bounds(), (0x100, 0x280));
        for (pc, ordered_hit, unordered_hit) in [
            (0x0ff, None, None),
            (0x100, Some((0, 0x100)), Some((1, 0x100))),
            (0x17f, Some((0, 0x100)), None),
            (0x18f, Some((1, 0x180)), Some((2, 0x180))),
            (0x1c0, None, None),
            (0x20f, Some((2, 0x200)), Some((0, 0x200))),
            (0x210, None, Some((0, 0x200))),
        ] {
            let hit = |f: &Funcs| f.find(pc).map(|r| (r.index, r.start));
            assert_eq!(hit(&f), ordered_hit, "ordered, pc {pc:#x}");
            assert_eq!(hit(&g), unordered_hit, "unordered, pc {pc:#x}");
        }
        // A zero-length function makes the descriptor unusable as is.
        let zero: &'static [u32] = vec![0x80, 0, 0x10].leak();
        assert!(matches!(Funcs::new(ordered, zero), Funcs::Sorted(_)));
    }

    /// Registers (once) a module whose "compiled code" is the assembly in
    /// `arch::test_code`, with one imported function so name indices are shifted by one.
    pub fn fake_module() -> &'static ModuleDescriptor {
        static DESC: OnceLock<usize> = OnceLock::new();
        let p = *DESC.get_or_init(|| {
            #[allow(unused_mut)]
            let mut funcs: Vec<(usize, usize)> = vec![
                (
                    aot_rt_test_load32 as *const () as usize,
                    addr(aot_rt_test_load32_end),
                ),
                (
                    aot_rt_test_unreachable as *const () as usize,
                    addr(aot_rt_test_unreachable_end),
                ),
                (
                    aot_rt_test_call_unreachable as *const () as usize,
                    addr(aot_rt_test_call_unreachable_end),
                ),
                (
                    aot_rt_test_call_host as *const () as usize,
                    addr(aot_rt_test_call_host_end),
                ),
                (
                    aot_rt_test_recurse as *const () as usize,
                    addr(aot_rt_test_recurse_end),
                ),
                (
                    aot_rt_test_recurse_unchecked as *const () as usize,
                    addr(aot_rt_test_recurse_unchecked_end),
                ),
            ];
            #[allow(unused_mut)]
            let mut traps = vec![
                (
                    LOAD32,
                    addr(aot_rt_test_load32_trap),
                    TrapKind::MemoryOutOfBounds,
                ),
                (
                    UNREACHABLE,
                    addr(aot_rt_test_unreachable_trap),
                    TrapKind::UnreachableCodeReached,
                ),
                (
                    RECURSE,
                    addr(aot_rt_test_recurse_trap),
                    TrapKind::StackOverflow,
                ),
            ];
            #[cfg(target_arch = "x86_64")]
            {
                funcs.push((
                    aot_rt_test_div as *const () as usize,
                    addr(aot_rt_test_div_end),
                ));
                traps.push((
                    DIV,
                    addr(aot_rt_test_div_trap),
                    TrapKind::IntegerDivisionByZero,
                ));
            }
            let code: Vec<*const u8> = funcs.iter().map(|f| f.0 as *const u8).collect();
            let lens: Vec<u32> = funcs.iter().map(|f| (f.1 - f.0) as u32).collect();
            let records: Vec<TrapRecord> = traps
                .iter()
                .map(|&(func, at, kind)| TrapRecord {
                    func,
                    offset: (at - funcs[func as usize].0) as u32,
                    kind: kind as u32,
                })
                .collect();
            let mut names = vec![String::new(); funcs.len() + 1];
            names[1 + LOAD32 as usize] = "load32".into();
            names[1 + UNREACHABLE as usize] = "unreachable".into();
            names[1 + CALL_UNREACHABLE as usize] = "call_unreachable".into();
            // CALL_HOST stays unnamed: "<wasm function 4>".
            names[1 + RECURSE as usize] = "recurse".into();
            let meta: &'static ModuleMeta = Box::leak(Box::new(ModuleMeta {
                types: vec![FuncType {
                    params: vec![],
                    results: vec![],
                }],
                imports: vec![Import {
                    module: "env".into(),
                    name: "f".into(),
                    kind: ImportKind::Func(0),
                }],
                funcs: vec![0; funcs.len() + 1].into(),
                func_names: aot_abi::meta::FuncNames::Owned(names),
                ..ModuleMeta::default()
            }));
            let desc: &'static ModuleDescriptor = Box::leak(Box::new(ModuleDescriptor {
                abi_version: ABI_VERSION,
                bounds_mode: 0,
                meta: ptr::null(),
                meta_len: 0,
                data: ptr::null(),
                data_len: 0,
                num_funcs: code.len(),
                funcs: code.leak().as_ptr(),
                func_lens: lens.leak().as_ptr(),
                trampolines: ptr::null(),
                num_trampolines: 0,
                num_traps: records.len(),
                inline_records: core::ptr::null(),
                num_inline_records: 0,
                inline_funcs: core::ptr::null(),
                num_inline_funcs: 0,
                handlers: ptr::null(),
                num_handlers: 0,
                host_imports: core::ptr::null(),
                num_host_imports: 0,
                num_stack_maps: 1,
                stack_maps: vec![StackMapRecord {
                    func: CALL_HOST,
                    ret_offset: FAKE_MAP_RET,
                    span: 32,
                    start: 0,
                    len: 2,
                }]
                .leak()
                .as_ptr(),
                num_stack_map_slots: 2,
                stack_map_slots: vec![0u32, 16].leak().as_ptr(),
                traps: records.leak().as_ptr(),
                stubs: ptr::null(),
                stub_lens: ptr::null(),
                num_stubs: 0,
                flags: 0,
            }));
            register_module(desc, meta);
            register_module(desc, meta); // idempotent
            desc as *const ModuleDescriptor as usize
        });
        // SAFETY: the pointer is the leaked descriptor above.
        unsafe { &*(p as *const ModuleDescriptor) }
    }

    pub fn func_start(desc: &ModuleDescriptor, index: u32) -> usize {
        // SAFETY: the fake descriptor's arrays are leaked vectors of num_funcs entries.
        unsafe { *desc.funcs.add(index as usize) as usize }
    }

    pub fn trap_pc(desc: &ModuleDescriptor, func: u32) -> usize {
        // SAFETY: as above.
        let traps = unsafe { crate::raw_slice(desc.traps, desc.num_traps) };
        let r = traps
            .iter()
            .find(|r| r.func == func)
            .expect("test function has a trap site");
        func_start(desc, func) + r.offset as usize
    }

    #[test]
    fn registration_is_idempotent_and_lookup_finds_functions() {
        let desc = fake_module();
        assert_eq!(modules().filter(|m| ptr::eq(m.desc, desc)).count(), 1);
        for i in 0..desc.num_funcs as u32 {
            let start = func_start(desc, i);
            let loc = lookup_code(start).expect("function start is wasm code");
            assert_eq!((loc.func, loc.offset), (i, 0));
            // SAFETY: fake descriptor arrays, as above.
            let len = unsafe { *desc.func_lens.add(i as usize) } as usize;
            assert!(is_wasm_code(start + len - 1));
        }
        assert!(!is_wasm_code(
            registration_is_idempotent_and_lookup_finds_functions as *const () as usize
        ));
        let loc = lookup_code(trap_pc(desc, UNREACHABLE)).unwrap();
        assert_eq!(loc.trap_kind(), Some(TrapKind::UnreachableCodeReached));
        let not_a_site = lookup_code(func_start(desc, UNREACHABLE)).unwrap();
        assert_eq!(not_a_site.trap_kind(), None);
    }

    #[test]
    fn names_match_func_display_name() {
        let desc = fake_module();
        let module = modules().find(|m| ptr::eq(m.desc, desc)).unwrap();
        for i in 0..desc.num_funcs as u32 {
            let loc = lookup_code(func_start(desc, i)).unwrap();
            let mut s = String::new();
            loc.write_name(&mut s).unwrap();
            assert_eq!(s, module.meta.func_display_name(i + 1));
        }
        let loc = lookup_code(func_start(desc, CALL_HOST)).unwrap();
        let mut s = String::new();
        loc.write_name(&mut s).unwrap();
        assert_eq!(s, "<wasm function 4>");
    }

    #[test]
    fn unreachable_is_caught_with_kind_pc_and_backtrace() {
        let desc = fake_module();
        let r = call_guarded(|| {
            // SAFETY: test code that only executes ud2/udf.
            unsafe { aot_rt_test_call_unreachable(ptr::null_mut()) }
        });
        let trap = r.expect_err("unreachable traps");
        assert_eq!(trap.kind, TrapKind::UnreachableCodeReached);
        assert_eq!(trap.pc, trap_pc(desc, UNREACHABLE));
        assert_eq!(trap.backtrace.len(), 2, "{:x?}", trap.backtrace);
        assert_eq!(trap.backtrace[0], trap.pc);
        let caller = lookup_code(trap.backtrace[1] - 1).unwrap();
        assert_eq!(caller.func, CALL_UNREACHABLE);
        assert_eq!(
            format_trap(&trap),
            "wasm trap: wasm `unreachable` instruction executed\n\
             wasm backtrace:\n    0: unreachable\n    1: call_unreachable\n"
        );
        assert_eq!(
            format_backtrace(&trap),
            "wasm backtrace:\n    0: unreachable\n    1: call_unreachable\n"
        );
    }

    #[test]
    fn addresses_outside_wasm_are_skipped_in_backtraces() {
        let desc = fake_module();
        let trap = Trap {
            kind: TrapKind::IntegerOverflow,
            pc: trap_pc(desc, UNREACHABLE),
            backtrace: vec![
                trap_pc(desc, UNREACHABLE),
                16,
                func_start(desc, CALL_HOST) + 2,
            ],
            detail: None,
        };
        assert_eq!(
            format_trap(&trap),
            "wasm trap: integer overflow\nwasm backtrace:\n    0: unreachable\n    1: <wasm function 4>\n"
        );
    }

    #[test]
    fn two_traps_in_a_row_and_a_normal_call_after() {
        let desc = fake_module();
        for _ in 0..3 {
            let trap = call_guarded(|| {
                // SAFETY: test code that only executes ud2/udf.
                unsafe { aot_rt_test_unreachable(ptr::null_mut()) }
            })
            .unwrap_err();
            assert_eq!(trap.pc, trap_pc(desc, UNREACHABLE));
            assert_eq!(trap.backtrace, vec![trap.pc]);
        }
        let word = 0x1234_5678u32;
        let mut got = 0;
        call_guarded(|| {
            // SAFETY: loads from a live local.
            got = unsafe { aot_rt_test_load32(ptr::null_mut(), &word as *const u32 as *const u8) }
        })
        .unwrap();
        assert_eq!(got, word);
        assert!(active_unwind_buffer().is_null());
    }

    /// Host function called from "Wasm" that makes its own guarded call, which traps.
    unsafe extern "C" fn host_nested(arg: *mut u8) {
        // SAFETY: arg is the &mut Option<Trap> the test passes.
        let out = unsafe { &mut *(arg as *mut Option<Trap>) };
        *out = call_guarded(|| {
            // SAFETY: test code that only executes ud2/udf.
            unsafe { aot_rt_test_unreachable(ptr::null_mut()) }
        })
        .err();
    }

    #[test]
    fn nested_guarded_calls_catch_innermost_first() {
        let desc = fake_module();
        let mut inner: Option<Trap> = None;
        let inner_ptr = &mut inner as *mut Option<Trap> as *mut u8;
        let outer = call_guarded(|| {
            // SAFETY: test code calling a host function with the pointer it expects, then
            // a faulting load (caught by this outer guarded call).
            unsafe {
                aot_rt_test_call_host(ptr::null_mut(), host_nested, inner_ptr);
                aot_rt_test_load32(ptr::null_mut(), ptr::null());
            }
        });
        let inner = inner.expect("inner call trapped");
        assert_eq!(inner.kind, TrapKind::UnreachableCodeReached);
        // The inner trap's frame walk stops at the host frame.
        assert_eq!(inner.backtrace.len(), 1);
        let outer = outer.unwrap_err();
        assert_eq!(outer.kind, TrapKind::MemoryOutOfBounds);
        assert_eq!(outer.pc, trap_pc(desc, LOAD32));
    }

    /// The fake frames of `stack_roots_are_visited_per_frame`: readable words for the walk.
    static FAKE_STACK: [core::sync::atomic::AtomicUsize; 2] =
        [const { core::sync::atomic::AtomicUsize::new(0) }; 2];

    fn fake_readable(fp: usize) -> bool {
        let (lo, hi) = (
            FAKE_STACK[0].load(Ordering::Relaxed),
            FAKE_STACK[1].load(Ordering::Relaxed),
        );
        fp >= lo && fp + 16 <= hi
    }

    #[test]
    fn stack_roots_are_visited_per_frame() {
        let desc = fake_module();
        let mapped = func_start(desc, CALL_HOST) + FAKE_MAP_RET as usize;
        let unmapped = func_start(desc, CALL_UNREACHABLE) + 1;
        // Three Wasm frames A (innermost), B, C, and a host caller, as frame records
        // [saved fp, return address] at buf[8], buf[16], buf[24]; A and C stopped at the
        // mapped call, B at a call without a map.
        let buf: &'static mut [usize; 32] = Box::leak(Box::new([0usize; 32]));
        let base = buf.as_ptr() as usize;
        let at = |i: usize| base + 8 * i;
        let (fp_a, fp_b, fp_c) = (at(8), at(16), at(24));
        FAKE_STACK[0].store(at(0), Ordering::Relaxed);
        FAKE_STACK[1].store(at(32), Ordering::Relaxed);
        buf[8] = fp_c - 64; // B's frame pointer: fp_b
        buf[9] = unmapped;
        buf[16] = fp_c;
        buf[17] = mapped;
        buf[24] = 0;
        buf[25] = 16; // not Wasm code: the walk ends
        assert_eq!(buf[8], fp_b);
        let start = StackStart {
            fp: fp_a,
            ret: mapped,
        };
        let frames: Vec<_> = WasmFrames::new(start, fake_readable, true).collect();
        assert_eq!(
            frames,
            vec![(mapped, fp_a), (unmapped, fp_b), (mapped, fp_c)]
        );
        let mut seen = Vec::new();
        // SAFETY: the fake frames and the slots the maps name are all inside `buf`.
        unsafe { visit_roots_checked(start, fake_readable, |slot| seen.push(slot as usize)) };
        // sp = fp - 32; slots sp+0 and sp+16, once per mapped frame, innermost first.
        assert_eq!(seen, vec![at(4), at(6), at(20), at(22)]);
        // The lookup is by return address: one byte after the call, as for handlers.
        let loc = lookup_code(mapped - 1).unwrap();
        assert_eq!(
            loc.stack_map_for_return(mapped),
            Some((32, &[0u32, 16][..]))
        );
        let loc = lookup_code(unmapped - 1).unwrap();
        assert_eq!(loc.stack_map_for_return(unmapped), None);
    }

    #[test]
    fn panics_cross_guarded_calls() {
        let r = panic::catch_unwind(|| {
            let _ = call_guarded(|| panic!("boom"));
        });
        let payload = r.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
        assert!(active_unwind_buffer().is_null());
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn division_fault_uses_its_record() {
        let desc = fake_module();
        let mut q = 0;
        call_guarded(|| {
            // SAFETY: test code; divisor nonzero.
            q = unsafe { aot_rt_test_div(ptr::null_mut(), 7, 2) }
        })
        .unwrap();
        assert_eq!(q, 3);
        let trap = call_guarded(|| {
            // SAFETY: test code; division by zero raises SIGFPE at the recorded site.
            q = unsafe { aot_rt_test_div(ptr::null_mut(), 7, 0) }
        })
        .unwrap_err();
        assert_eq!(trap.kind, TrapKind::IntegerDivisionByZero);
        assert_eq!(trap.pc, trap_pc(desc, DIV));
    }
}
