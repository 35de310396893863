//! TEMPORARY home of the collector's entry point for the `gc_alloc` builtin, until
//! `gc.rs` (not this branch's file) has it: move [`alloc_slow`] into `gc.rs` as is, make
//! `builtins::aot_builtin_gc_alloc` call `crate::gc::alloc_slow`, and delete this file and
//! its `mod gc_entry` line in lib.rs.

use aot_abi::TrapKind;
use aot_abi::gc::VMGcTypeInfo;

use crate::trap::StackStart;

/// Allocates an object of `size` bytes (header included) described by `info` in the
/// store's heap, collecting if need be: zeroed, its header set to `info`. `start` is the
/// Wasm frame that called the GC stub: the stack roots are its frame's and its callers'
/// ([`crate::trap::visit_stack_roots`]).
///
/// # Safety
/// `vmctx` is the calling instance's; as `crate::trap::visit_stack_roots` for `start`;
/// `info` is a runtime type info.
pub(crate) unsafe fn alloc_slow(
    vmctx: *mut u8,
    start: StackStart,
    info: *const VMGcTypeInfo,
    size: u64,
) -> Result<*mut u8, TrapKind> {
    // SAFETY: per the contract, vmctx is a live instance's.
    let store = unsafe { crate::store::Store::from_vmctx(vmctx) };
    let mut stack = |visit: crate::gc::SlotVisitor| {
        // SAFETY: per this function's contract; the collector runs no Wasm code.
        unsafe { crate::trap::visit_stack_roots(start, visit) }
    };
    // SAFETY: the heap is this store's; the stack slots hold reference words (the
    // compiler maps only traced references).
    unsafe { store.gc().alloc(store.context(), info, size, &mut stack) }
}
