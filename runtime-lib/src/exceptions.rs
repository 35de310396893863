//! Exception handling (the standard proposal): tags, exception objects, and throwing.
//!
//! It owns:
//! - tags ([`TagRef`]): one leaked `VMTag` per defined tag per instance; a tag's address
//!   is its identity, so an imported tag is the exporter's tag and two instantiations of a
//!   module define distinct tags;
//! - the collector's view of exceptions: a tag's `gc_info` ([`exn_type_info`]), the header
//!   of its exceptions, which generated code allocates in the GC heap (`crate::gc`) like
//!   structs; the collector traces their reference payload slots, moves them and frees
//!   them when no `exnref` is left;
//! - the throw (`throw_ref`): a walk of the frame-pointer chain from the module's throw
//!   stub outwards, over Wasm frames only, looking each return address up in the handler
//!   records the compiler emitted (`aot_abi::HandlerRecord`). At the first record it
//!   resumes in that frame's landing pad (`arch::resume_at_handler`), which matches the
//!   tag itself (`compiler/src/translate/exceptions.rs`). When the walk reaches a frame
//!   that is not Wasm code (the host that entered Wasm, or a host function Wasm called),
//!   the exception is uncaught: the entry into Wasm ends with
//!   [`TrapKind::UncaughtException`], as wasmtime ends the call with an error. The frames
//!   dropped on the way (Wasm frames and this module's own) own nothing that needs a drop.
//! - the crossing of host frames: a host function that called back into Wasm and got an
//!   uncaught exception hands it on as its pending trap (as a wasmtime host function
//!   returns the `ThrownException` error), and its host-call trampoline throws the same
//!   exception again in the Wasm frame that called the host ([`rethrow_from_host`]), where
//!   a `try_table` may catch it. The exception travels in a per-thread cell beside the
//!   trap, set when the walk gives up. That cell is a GC root ([`visit_roots`]), so the
//!   exception stays valid (and is updated if it moves) until it is taken.

use core::cell::Cell;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use aot_abi::gc::{GC_KIND_EXN, VMGcTypeInfo, is_traced};
use aot_abi::{TrapKind, VMEXN_SLOT_SIZE, VMEXN_VALUES, VMTag, exn_size};

use crate::trap::{self, Trap};

thread_local! {
    /// The exception of the last uncaught-exception trap on this thread (0 when none or
    /// taken): what a host-call trampoline rethrows.
    static UNCAUGHT: Cell<usize> = const { Cell::new(0) };
}

/// A tag: the address of its `VMTag`, which lives for the rest of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagRef {
    tag: *const VMTag,
}

// SAFETY: a VMTag is immutable once created and never freed.
unsafe impl Send for TagRef {}
unsafe impl Sync for TagRef {}

impl TagRef {
    /// A new tag, distinct from every other, of the function type interned as `type_id`.
    pub fn new(type_id: u32) -> TagRef {
        TagRef {
            tag: Box::leak(Box::new(VMTag {
                type_id,
                gc_info: exn_type_info(type_id),
            })),
        }
    }

    pub fn ptr(self) -> *const VMTag {
        self.tag
    }

    /// The interned id of the tag's function type.
    pub fn type_id(self) -> u32 {
        // SAFETY: `tag` points to a leaked, never-modified VMTag.
        unsafe { (*self.tag).type_id }
    }
}

/// The `VMGcTypeInfo` of the exceptions of tags of canonical function type `type_id`:
/// kind `GC_KIND_EXN`, the whole exception's size, and the offsets of the payload slots
/// whose values the collector traces. Made once per type and never freed.
fn exn_type_info(type_id: u32) -> *const VMGcTypeInfo {
    static INFOS: LazyLock<Mutex<HashMap<u32, usize>>> = LazyLock::new(Default::default);
    let mut infos = INFOS.lock().unwrap_or_else(|e| e.into_inner());
    let info = *infos.entry(type_id).or_insert_with(|| {
        let params = crate::types::func_type_of(type_id)
            .map(|f| f.params)
            .unwrap_or_default();
        let ref_offsets: Vec<u32> = params
            .iter()
            .enumerate()
            .filter(|(_, p)| is_traced(p, crate::types::is_func))
            .map(|(i, _)| VMEXN_VALUES + i as u32 * VMEXN_SLOT_SIZE)
            .collect();
        let ref_offsets = Vec::leak(ref_offsets);
        let info = Box::leak(Box::new(VMGcTypeInfo {
            kind: GC_KIND_EXN,
            type_id,
            depth: 0,
            size: exn_size(params.len() as u32),
            num_ref_offsets: ref_offsets.len() as u32,
            elem_is_ref: 0,
            ref_offsets: ref_offsets.as_ptr(),
            display: core::ptr::null(),
        }));
        info as *const VMGcTypeInfo as usize
    });
    info as *const VMGcTypeInfo
}

/// Visits the GC references the exception machinery holds outside Wasm frames: the
/// uncaught exception waiting for a host-call trampoline to rethrow it.
pub(crate) fn visit_roots(visit: &mut dyn FnMut(*mut u64)) {
    UNCAUGHT.with(|u| {
        let mut w = u.get() as u64;
        visit(&mut w);
        u.set(w as usize);
    });
}

/// Throws `exn`; see the module docs. `fp` is the frame pointer of the throw stub.
///
/// # Safety
/// Called only by a module's throw stub, from Wasm code, with a non-null exception (a GC
/// object of kind `GC_KIND_EXN`), and `fp` the stub's own frame record. Nothing here
/// allocates, so no collection moves `exn` during the walk.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_throw_ref(_vmctx: *mut u8, exn: *mut u8, fp: *mut u8) {
    let start = trap::StackStart::caller_of(fp as usize, crate::signals::frame_readable);
    if let Some(start) = start
        && let Some((pc, sp, fp)) = find_handler(start.ret, start.fp)
    {
        // SAFETY: a handler of a live Wasm frame; the frames below it (Wasm frames,
        // the stub, this function) own nothing that needs a drop.
        unsafe { crate::arch::resume_at_handler(pc, sp, fp, exn as usize) };
    }
    UNCAUGHT.with(|u| u.set(exn as usize));
    trap::raise(uncaught(start))
}

/// Throws `exn` again in the Wasm frame whose call of a host function returned with the
/// uncaught exception `trap` (which [`take_uncaught`] gave): `ret` is the return address
/// into that frame and `fp` its frame pointer (the store's last Wasm-to-host transition).
/// Without a handler there, raises `trap`, whose backtrace already continues into the
/// frames of the host's caller.
pub(crate) fn rethrow_from_host(ret: usize, fp: usize, exn: usize, trap: Trap) -> ! {
    if let Some((pc, sp, fp)) = find_handler(ret, fp) {
        drop(trap);
        // SAFETY: a handler of a live Wasm frame; below it are the host-call trampoline's
        // frame and the `raise_pending_trap` builtin's, which owns nothing left to drop.
        unsafe { crate::arch::resume_at_handler(pc, sp, fp, exn) };
    }
    UNCAUGHT.with(|u| u.set(exn));
    trap::raise(trap)
}

/// The exception of an uncaught-exception trap just taken from a host function.
pub(crate) fn take_uncaught() -> Option<usize> {
    let exn = UNCAUGHT.with(|u| u.replace(0));
    (exn != 0).then_some(exn)
}

/// The first handler from the call site returning to `ret` in the frame at `fp` outwards,
/// over Wasm frames, as (handler address, stack pointer, frame pointer) to resume with;
/// None when the walk reaches a frame that is not Wasm code. `fp` must be a frame of this
/// thread's stack and `ret` the return address into its function.
fn find_handler(ret: usize, fp: usize) -> Option<(usize, usize, usize)> {
    let start = trap::StackStart { fp, ret };
    for (ret, fp) in trap::WasmFrames::new(start, crate::signals::frame_readable, false) {
        let loc = trap::lookup_code(ret.wrapping_sub(1))?;
        if let Some((handler, frame_offset)) = loc.handler_for_return(ret) {
            return Some((handler, fp - frame_offset as usize, fp));
        }
    }
    None
}

/// The trap that ends the entry into Wasm when no handler caught an exception: its
/// backtrace starts at the throwing call site (in `start`, when the stub's frame record
/// could be read).
fn uncaught(start: Option<trap::StackStart>) -> Trap {
    match start {
        Some(start) => trap::trap_at(TrapKind::UncaughtException, start),
        None => Trap {
            kind: TrapKind::UncaughtException,
            pc: 0,
            backtrace: Vec::new(),
            detail: None,
        },
    }
}
