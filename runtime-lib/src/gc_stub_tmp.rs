//! TEMPORARY stand-in for the garbage collector (`runtime-lib/src/gc.rs`, being written in
//! parallel): the entry point the `gc_alloc` builtin calls, with the collector's signature,
//! allocating every object with calloc and never freeing it. It walks the stack roots
//! on every call (and discards what it sees) so that the frame walk runs wherever
//! allocations do. Delete this file and include the real `gc.rs` instead (see lib.rs).

use aot_abi::TrapKind;
use aot_abi::gc::{GC_MAX_OBJECT_BYTES, VMGcTypeInfo};

use crate::trap::StackStart;

/// Allocates an object of `size` bytes (header included) described by `info`: zeroed, its
/// header set to `info`. `start` is the Wasm frame that called the GC stub: the stack
/// roots are its frame's and its callers' ([`crate::trap::visit_stack_roots`]).
///
/// # Safety
/// As `crate::trap::visit_stack_roots` for `start`; `info` is a runtime type info.
pub(crate) unsafe fn alloc_slow(
    _vmctx: *mut u8,
    start: StackStart,
    info: *const VMGcTypeInfo,
    size: u64,
) -> Result<*mut u8, TrapKind> {
    if size > GC_MAX_OBJECT_BYTES {
        return Err(TrapKind::AllocationTooLarge);
    }
    let mut roots = 0usize;
    // SAFETY: per this function's contract.
    unsafe { crate::trap::visit_stack_roots(start, |_| roots += 1) };
    let size = (size as usize).max(8);
    // SAFETY: calloc of a nonzero size; the result is checked for null.
    let obj = unsafe { libc::calloc(1, size) } as *mut u8;
    if obj.is_null() {
        return Err(TrapKind::GcHeapOutOfMemory);
    }
    // SAFETY: a fresh 8-aligned block of at least 8 bytes.
    unsafe { (obj as *mut *const VMGcTypeInfo).write(info) };
    Ok(obj)
}
