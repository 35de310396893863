//! The runtime functions that generated code calls directly: one `aot_builtin_<name>`
//! symbol per entry of `aot_abi::foreach_builtin!`, with exactly the signature listed there
//! (checked at compile time below).
//!
//! Builtins never trap themselves (except `gc_alloc`, see there): the ones that can fail
//! return 0 or a `TrapKind` value and the generated code raises the trap, so no trap
//! unwinds through these frames. Each is
//! a shim: it decodes its arguments (indices in the calling module's index spaces, which
//! the calling [`Instance`] maps to the memory, table or segment objects, its own or an
//! exporter's), calls the operation on [`Memory`](crate::memory::Memory) or [`Table`], which own the spec
//! semantics, and encodes the result.

use aot_abi::TrapKind;

use crate::Locked;
use crate::instance::{Instance, MemoryRef, TableRef};
use crate::table::Table;

/// Status value of a builtin: 0 for success, else the trap to raise.
fn status(r: Result<(), TrapKind>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(kind) => kind as i32,
    }
}

/// Generated code only passes indices that validation proved exist; anything else is a
/// compiler bug, reported loudly rather than turned into a wrong result.
fn bad_index(what: &str, index: u32) -> ! {
    eprintln!(
        "aot runtime: internal error: generated code passed {what} index {index}, which does not exist"
    );
    std::process::abort()
}

fn memory(instance: &Instance, index: u32) -> MemoryRef {
    instance
        .memory(index)
        .unwrap_or_else(|| bad_index("memory", index))
}

fn table(instance: &Instance, index: u32) -> TableRef {
    instance
        .table(index)
        .unwrap_or_else(|| bad_index("table", index))
}

/// memory.init in `instance`'s index spaces (also used for active segments).
pub(crate) fn memory_init(
    instance: &Instance,
    mem: u32,
    data: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), TrapKind> {
    let seg = instance
        .data_segment(data)
        .unwrap_or_else(|| bad_index("data segment", data));
    memory(instance, mem)
        .memory()
        .locked()
        .init(dst, seg, src, len)
}

/// table.init in `instance`'s index spaces (also used for active segments).
pub(crate) fn table_init(
    instance: &Instance,
    table_index: u32,
    elem: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), TrapKind> {
    let t = table(instance, table_index);
    let seg = instance
        .elem_segment(elem)
        .unwrap_or_else(|| bad_index("element segment", elem));
    t.locked().init(dst, &seg.locked(), src, len)
}

/// Grows memory `mem` by `delta` pages; returns the old size in pages, or -1.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_grow(vmctx: *mut u8, mem: i32, delta: i64) -> i64 {
    // SAFETY (here and in every builtin): generated code passes its own instance's vmctx.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    memory(instance, mem as u32)
        .grow(delta as u64)
        .map_or(-1, |old| old as i64)
}

/// memory.copy between memories `dst_mem` and `src_mem`; returns a trap status.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_copy(
    vmctx: *mut u8,
    dst_mem: i32,
    src_mem: i32,
    dst: i64,
    src: i64,
    len: i64,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let (to, from) = (
        memory(instance, dst_mem as u32),
        memory(instance, src_mem as u32),
    );
    status(to.copy_from(&from, dst as u64, src as u64, len as u64))
}

/// memory.init from data segment `data`; returns a trap status.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_init(
    vmctx: *mut u8,
    mem: i32,
    data: i32,
    dst: i64,
    src: i32,
    len: i32,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    status(memory_init(
        instance,
        mem as u32,
        data as u32,
        dst as u64,
        u64::from(src as u32),
        u64::from(len as u32),
    ))
}

/// array.new_data / array.init_data (see `foreach_builtin!`).
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance; `dst`, unless null, must be the address
/// of `bytes` writable bytes of a GC array (generated code checked the array's range).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_array_init_data(
    vmctx: *mut u8,
    dst: *mut u8,
    data: i32,
    src: i64,
    bytes: i64,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let seg = instance
        .data_segment(data as u32)
        .unwrap_or_else(|| bad_index("data segment", data as u32));
    let range = match crate::memory::checked_range(src as u64, bytes as u64, seg.len() as u64) {
        Ok(r) => r,
        Err(_) => return TrapKind::MemoryOutOfBounds as i32,
    };
    if !dst.is_null() {
        // SAFETY: per the contract, `dst` has room for the range's bytes; a data segment
        // never overlaps a GC object.
        unsafe { core::ptr::copy_nonoverlapping(seg[range].as_ptr(), dst, bytes as usize) };
    }
    0
}

/// array.new_elem / array.init_elem (see `foreach_builtin!`).
///
/// # Safety
/// As [`aot_builtin_array_init_data`], for `len` 8-byte elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_array_init_elem(
    vmctx: *mut u8,
    dst: *mut u8,
    elem: i32,
    src: i64,
    len: i64,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let seg = instance
        .elem_segment(elem as u32)
        .unwrap_or_else(|| bad_index("element segment", elem as u32));
    let items = seg.locked();
    let range = match crate::memory::checked_range(src as u64, len as u64, items.len() as u64) {
        Ok(r) => r,
        Err(_) => return TrapKind::TableOutOfBounds as i32,
    };
    if !dst.is_null() {
        // SAFETY: per the contract, `dst` has room for `len` words; a segment's storage
        // never overlaps a GC object.
        unsafe {
            core::ptr::copy_nonoverlapping(items[range].as_ptr(), dst.cast::<usize>(), len as usize)
        };
    }
    0
}

/// array.copy's move (see `foreach_builtin!`).
///
/// # Safety
/// `dst` and `src` must each be `bytes` bytes of GC array elements, checked by generated
/// code.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_gc_memmove(
    _vmctx: *mut u8,
    dst: *mut u8,
    src: *mut u8,
    bytes: i64,
) {
    // SAFETY: per the contract; the ranges may overlap (the same array).
    unsafe { core::ptr::copy(src, dst, bytes as usize) };
}

/// array.new / array.fill of elements of 1 to 8 bytes (see `foreach_builtin!`).
///
/// # Safety
/// `dst` must be `count` elements of `size` bytes of a GC array, checked by generated code.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_gc_fill(
    _vmctx: *mut u8,
    dst: *mut u8,
    value: i64,
    count: i64,
    size: i32,
) {
    let n = count as usize;
    // SAFETY: per the contract; elements are naturally aligned (array data starts at an
    // 8-aligned offset of an 8-aligned object).
    unsafe {
        match size {
            1 => core::ptr::write_bytes(dst, value as u8, n),
            2 => core::slice::from_raw_parts_mut(dst.cast::<u16>(), n).fill(value as u16),
            4 => core::slice::from_raw_parts_mut(dst.cast::<u32>(), n).fill(value as u32),
            _ => core::slice::from_raw_parts_mut(dst.cast::<u64>(), n).fill(value as u64),
        }
    }
}

/// data.drop.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_data_drop(vmctx: *mut u8, data: i32) {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    instance.drop_data(data as u32);
}

/// table.grow with `init` as the new elements' value; returns the old size or -1.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_grow(
    vmctx: *mut u8,
    table_index: i32,
    delta: i64,
    init: *mut u8,
) -> i64 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let grown = table(instance, table_index as u32)
        .locked()
        .grow(delta as u64, init as usize);
    grown.map_or(-1, |old| old as i64)
}

/// table.fill; returns a trap status.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_fill(
    vmctx: *mut u8,
    table_index: i32,
    dst: i64,
    val: *mut u8,
    len: i64,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let t = table(instance, table_index as u32);
    let filled = t.locked().fill(dst as u64, val as usize, len as u64);
    status(filled)
}

/// table.copy; returns a trap status.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_copy(
    vmctx: *mut u8,
    dst_table: i32,
    src_table: i32,
    dst: i64,
    src: i64,
    len: i64,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    status(Table::copy(
        table(instance, dst_table as u32),
        table(instance, src_table as u32),
        dst as u64,
        src as u64,
        len as u64,
    ))
}

/// table.init from element segment `elem`; returns a trap status.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_init(
    vmctx: *mut u8,
    table_index: i32,
    elem: i32,
    dst: i64,
    src: i32,
    len: i32,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    status(table_init(
        instance,
        table_index as u32,
        elem as u32,
        dst as u64,
        u64::from(src as u32),
        u64::from(len as u32),
    ))
}

/// elem.drop.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (generated code passes its own).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_elem_drop(vmctx: *mut u8, elem: i32) {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    instance.drop_elem(elem as u32);
}

/// Whether canonical type `actual` is `expected` or a declared (transitive) subtype of it:
/// 1 or 0. Generated code calls it only when the ids differ and `expected` is not final.
///
/// # Safety
/// None beyond the ABI: it reads no memory through its arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_func_subtype(
    _vmctx: *mut u8,
    actual: i32,
    expected: i32,
) -> i32 {
    i32::from(crate::types::is_subtype(actual as u32, expected as u32))
}

/// Raises the trap a host function left pending in the store. Only host-call trampolines
/// call it, right after the host function returned, so the frames it unwinds are Wasm
/// frames.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance; the caller must be a host-call trampoline.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_raise_pending_trap(vmctx: *mut u8) {
    // SAFETY: see aot_builtin_memory_grow.
    let store = unsafe { crate::store::Store::from_vmctx(vmctx) };
    let trap = store.take_pending_trap().unwrap_or_else(|| {
        // The flag without a trap: a host function set the flag by hand. Report it as the
        // host's own unreachable, which is what it is.
        store.host_trap(TrapKind::UnreachableCodeReached)
    });
    if trap.kind == TrapKind::UncaughtException
        && let Some(exn) = crate::exceptions::take_uncaught()
    {
        let ctx = store.context();
        let ret = ctx.last_exit_pc.load(core::sync::atomic::Ordering::Relaxed);
        let fp = ctx.last_exit_fp.load(core::sync::atomic::Ordering::Relaxed);
        crate::exceptions::rethrow_from_host(ret, fp, exn, trap);
    }
    crate::trap::raise(trap)
}

/// Allocates a GC object, collecting if need be; see `aot_abi::foreach_builtin!`. The one
/// builtin that raises its own trap (as `throw_ref` does): by the time the allocation has
/// failed the collector's frames are gone, so the frames the trap unwinds are this one's
/// (holding nothing to drop), the GC stub's and Wasm frames.
///
/// # Safety
/// Called only by a module's GC stub, from Wasm code, with `fp` the stub's own frame
/// record, `vmctx` the calling instance's and `info` a `VMGcTypeInfo` of the runtime.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_gc_alloc(
    vmctx: *mut u8,
    fp: *mut u8,
    info: *mut u8,
    size: i64,
) -> *mut u8 {
    let Some(start) =
        crate::trap::StackStart::caller_of(fp as usize, crate::signals::frame_readable)
    else {
        eprintln!("aot runtime: internal error: gc_alloc called without a readable stub frame");
        std::process::abort();
    };
    let info = info as *const aot_abi::gc::VMGcTypeInfo;
    // SAFETY: per this function's contract: the frames from `start` outwards are the
    // Wasm frames of this thread, stopped at calls with stack maps.
    match unsafe { crate::gc::alloc_slow(vmctx, start, info, size as u64) } {
        Ok(obj) => obj,
        Err(kind) => {
            let mut trap = crate::trap::trap_at(kind, start);
            if kind == TrapKind::GcHeapOutOfMemory {
                // wasmtime's words, with the request's size.
                trap.detail = Some(format!(
                    "GC heap out of memory: no capacity for allocation of {size} bytes"
                ));
            }
            crate::trap::raise(trap)
        }
    }
}

/// memory.atomic.notify on a shared memory; see `aot_abi::foreach_builtin!`.
///
/// # Safety
/// `addr` must be a checked, 4-aligned address inside a shared memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_atomic_notify(
    _vmctx: *mut u8,
    addr: *mut u8,
    count: i32,
) -> i32 {
    crate::waitqueue::notify(addr as usize, count as u32) as i32
}

/// memory.atomic.wait32 on a shared memory; see `aot_abi::foreach_builtin!`.
///
/// # Safety
/// `addr` must be a checked, 4-aligned address inside a shared memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_atomic_wait32(
    _vmctx: *mut u8,
    addr: *mut u8,
    expected: i32,
    timeout: i64,
) -> i32 {
    // SAFETY: generated code passes an in-bounds, 4-aligned address of a shared memory,
    // which stays mapped while code runs and is only ever accessed atomically there.
    let cell = unsafe { &*addr.cast::<core::sync::atomic::AtomicI32>() };
    crate::waitqueue::wait32(cell, expected, timeout)
}

/// memory.atomic.wait64 on a shared memory; see `aot_abi::foreach_builtin!`.
///
/// # Safety
/// `addr` must be a checked, 8-aligned address inside a shared memory.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_atomic_wait64(
    _vmctx: *mut u8,
    addr: *mut u8,
    expected: i64,
    timeout: i64,
) -> i32 {
    // SAFETY: as in aot_builtin_memory_atomic_wait32, 8-aligned.
    let cell = unsafe { &*addr.cast::<core::sync::atomic::AtomicI64>() };
    crate::waitqueue::wait64(cell, expected, timeout)
}

/// Each builtin under its contract name, for the signature check below. A builtin added to
/// the contract without an entry here fails to compile.
mod by_contract_name {
    pub use super::aot_builtin_array_init_data as array_init_data;
    pub use super::aot_builtin_array_init_elem as array_init_elem;
    pub use super::aot_builtin_data_drop as data_drop;
    pub use super::aot_builtin_elem_drop as elem_drop;
    pub use super::aot_builtin_func_subtype as func_subtype;
    pub use super::aot_builtin_gc_alloc as gc_alloc;
    pub use super::aot_builtin_gc_fill as gc_fill;
    pub use super::aot_builtin_gc_memmove as gc_memmove;
    pub use super::aot_builtin_memory_atomic_notify as memory_atomic_notify;
    pub use super::aot_builtin_memory_atomic_wait32 as memory_atomic_wait32;
    pub use super::aot_builtin_memory_atomic_wait64 as memory_atomic_wait64;
    pub use super::aot_builtin_memory_copy as memory_copy;
    pub use super::aot_builtin_memory_grow as memory_grow;
    pub use super::aot_builtin_memory_init as memory_init;
    pub use super::aot_builtin_raise_pending_trap as raise_pending_trap;
    pub use super::aot_builtin_table_copy as table_copy;
    pub use super::aot_builtin_table_fill as table_fill;
    pub use super::aot_builtin_table_grow as table_grow;
    pub use super::aot_builtin_table_init as table_init;
    pub use crate::exceptions::aot_builtin_throw_ref as throw_ref;
}

macro_rules! builtin_type {
    (ptr) => { *mut u8 };
    (i32) => { i32 };
    (i64) => { i64 };
}

macro_rules! assert_builtin_signatures {
    ($( $(#[$attr:meta])* $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        $(
            const _: unsafe extern "C" fn($(builtin_type!($ty)),*) $(-> builtin_type!($ret))? =
                by_contract_name::$name;
        )*
    };
}

aot_abi::foreach_builtin!(assert_builtin_signatures);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::test_support::*;
    use crate::instance::{Extern, Instance};
    use crate::linker::Linker;
    use aot_abi::{
        ExternKind, ImportKind, ModuleMeta, SegmentMode, VMFuncRef, ValType, WASM_PAGE_SIZE,
    };

    const OOB: i32 = TrapKind::MemoryOutOfBounds as i32;
    const TOOB: i32 = TrapKind::TableOutOfBounds as i32;

    fn instantiate(
        linker: &Linker,
        meta: &ModuleMeta,
        data: &[u8],
        code: &[*const u8],
    ) -> &'static Instance {
        match linker.instantiate(descriptor(meta, data, code)) {
            Ok(i) => i,
            Err(e) => panic!("instantiation failed: {e}"),
        }
    }

    /// A module with a 1..3-page memory exported as "mem" and two passive data segments.
    fn memory_module() -> &'static Instance {
        let meta = ModuleMeta {
            memories: vec![memory_type(1, Some(3))],
            datas: vec![
                data(SegmentMode::Passive, 0, 4),
                data(SegmentMode::Passive, 4, 2),
            ],
            exports: vec![export("mem", ExternKind::Memory, 0)],
            ..ModuleMeta::default()
        };
        instantiate(&Linker::new(), &meta, b"wxyzAB", &[])
    }

    fn bytes(i: &Instance, at: usize, len: usize) -> Vec<u8> {
        let m = i.memory(0).expect("memory 0");
        assert!(at + len <= m.len_bytes() as usize);
        // SAFETY: in bounds of the accessible memory (checked above).
        unsafe { core::slice::from_raw_parts(m.base().add(at), len).to_vec() }
    }

    fn set_bytes(i: &Instance, at: usize, data: &[u8]) {
        let m = i.memory(0).expect("memory 0");
        assert!(at + data.len() <= m.len_bytes() as usize);
        // SAFETY: in bounds of the accessible memory (checked above); no Wasm code runs.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), m.base().add(at), data.len()) };
    }

    fn def_len(def: *mut aot_abi::VMMemoryDef) -> u64 {
        // SAFETY: defs live as long as their memories.
        unsafe { (*def).current_length }
    }

    #[test]
    fn memory_grow_updates_the_one_def_that_importers_read() {
        let e = memory_module();
        let mut linker = Linker::new();
        linker.register_instance("E", e);
        let meta = ModuleMeta {
            imports: vec![import("E", "mem", ImportKind::Memory(memory_type(1, None)))],
            ..ModuleMeta::default()
        };
        let i = instantiate(&linker, &meta, &[], &[]);
        let def = e.memory(0).expect("memory").def();
        assert_eq!(i.memory(0).expect("imported memory").def(), def);
        // SAFETY: both vmctxs belong to live instances.
        unsafe {
            assert_eq!(aot_builtin_memory_grow(e.vmctx(), 0, 1), 1);
            assert_eq!(def_len(def), 2 * WASM_PAGE_SIZE);
            assert_eq!(
                aot_builtin_memory_grow(i.vmctx(), 0, 1),
                2,
                "grow through the importer"
            );
            assert_eq!(def_len(def), 3 * WASM_PAGE_SIZE);
            assert_eq!(
                aot_builtin_memory_grow(e.vmctx(), 0, 1),
                -1,
                "past the maximum"
            );
            assert_eq!(aot_builtin_memory_grow(e.vmctx(), 0, u32::MAX as i64), -1);
            assert_eq!(aot_builtin_memory_grow(e.vmctx(), 0, 0), 3);
        }
        assert_eq!(
            bytes(e, 3 * WASM_PAGE_SIZE as usize - 1, 1),
            [0],
            "new pages are accessible"
        );
    }

    #[test]
    fn memory_copy_checks_bounds_first() {
        let i = memory_module();
        let vmctx = i.vmctx();
        let end = WASM_PAGE_SIZE as i64;
        set_bytes(i, 10, &[1, 2, 3, 4, 5]);
        // SAFETY: vmctx belongs to a live instance.
        unsafe {
            assert_eq!(aot_builtin_memory_copy(vmctx, 0, 0, 11, 10, 4), 0);
            assert_eq!(bytes(i, 10, 5), [1, 1, 2, 3, 4], "overlapping forward copy");
            assert_eq!(aot_builtin_memory_copy(vmctx, 0, 0, 10, 11, 4), 0);
            assert_eq!(
                bytes(i, 10, 5),
                [1, 2, 3, 4, 4],
                "overlapping backward copy"
            );
            assert_eq!(aot_builtin_memory_copy(vmctx, 0, 0, end - 2, 10, 3), OOB);
            assert_eq!(
                bytes(i, end as usize - 2, 2),
                [0, 0],
                "nothing written on a trap"
            );
            assert_eq!(aot_builtin_memory_copy(vmctx, 0, 0, 10, end - 2, 3), OOB);
            assert_eq!(aot_builtin_memory_copy(vmctx, 0, 0, end, end, 0), 0);
            assert_eq!(aot_builtin_memory_copy(vmctx, 0, 0, 0, i64::MAX, 2), OOB);
            assert_eq!(bytes(i, 10, 5), [1, 2, 3, 4, 4]);
        }
    }

    #[test]
    fn memory_init_reads_segments_and_respects_drops() {
        let i = memory_module();
        let vmctx = i.vmctx();
        // SAFETY: vmctx belongs to a live instance.
        unsafe {
            assert_eq!(aot_builtin_memory_init(vmctx, 0, 0, 100, 1, 3), 0);
            assert_eq!(bytes(i, 100, 3), *b"xyz");
            assert_eq!(aot_builtin_memory_init(vmctx, 0, 1, 200, 0, 2), 0);
            assert_eq!(bytes(i, 200, 2), *b"AB");
            assert_eq!(
                aot_builtin_memory_init(vmctx, 0, 0, 0, 2, 3),
                OOB,
                "past the segment"
            );
            let end = WASM_PAGE_SIZE as i64;
            assert_eq!(
                aot_builtin_memory_init(vmctx, 0, 0, end - 1, 0, 2),
                OOB,
                "past the memory"
            );
            assert_eq!(
                aot_builtin_memory_init(vmctx, 0, 0, end, 4, 0),
                0,
                "zero length at both ends"
            );
            assert_eq!(
                aot_builtin_memory_init(vmctx, 0, 0, 0, -1, 1),
                OOB,
                "src is unsigned"
            );
            aot_builtin_data_drop(vmctx, 0);
            assert_eq!(aot_builtin_memory_init(vmctx, 0, 0, 0, 0, 0), 0);
            assert_eq!(
                aot_builtin_memory_init(vmctx, 0, 0, 0, 0, 1),
                OOB,
                "dropped = length 0"
            );
            assert_eq!(
                aot_builtin_memory_init(vmctx, 0, 1, 300, 1, 1),
                0,
                "other segments stay"
            );
            assert_eq!(bytes(i, 0, 1), [0]);
        }
    }

    #[test]
    fn table_builtins_follow_the_spec() {
        let mut linker = Linker::new();
        linker.register_host(
            "spectest",
            crate::host::spectest(aot_abi::BoundsMode::Explicit).expect("spectest"),
        );
        let spectest_table = ImportKind::Table(funcref_table(10, None).ty);
        let meta = ModuleMeta {
            types: vec![ft(&[], &[ValType::I32])],
            imports: vec![
                import("spectest", "table", spectest_table.clone()),
                import("spectest", "table", spectest_table),
            ],
            funcs: vec![0].into(),
            tables: vec![funcref_table(3, Some(5))],
            elems: vec![
                elem(SegmentMode::Passive, &[Some(0), None, Some(0)]),
                elem(SegmentMode::Declared, &[Some(0)]),
            ],
            ..ModuleMeta::default()
        };
        let i = instantiate(&linker, &meta, &[], &[forty_two as *const u8]);
        let vmctx = i.vmctx();
        let f = i.funcref(0).expect("function 0") as *mut u8;
        let own = i.table(2).expect("defined table");
        let get = |t: u32, k: u64| i.table(t).expect("table").locked().get(k);
        let Some(Extern::Table(spectest)) = linker.lookup("spectest", "table") else {
            panic!("spectest exports a table");
        };
        // SAFETY: vmctx belongs to a live instance.
        unsafe {
            assert_eq!(aot_builtin_table_grow(vmctx, 2, 2, f), 3);
            assert_eq!(own.locked().size(), 5);
            assert_eq!((get(2, 3), get(2, 4)), (Some(f as usize), Some(f as usize)));
            assert_eq!(
                aot_builtin_table_grow(vmctx, 2, 1, f),
                -1,
                "past the maximum"
            );
            assert_eq!(
                aot_builtin_table_grow(vmctx, 2, -1, f),
                -1,
                "delta is unsigned"
            );
            assert_eq!(aot_builtin_table_grow(vmctx, 2, 0, f), 5);

            assert_eq!(
                aot_builtin_table_fill(vmctx, 2, 0, core::ptr::null_mut(), 5),
                0
            );
            assert_eq!(get(2, 4), Some(0));
            assert_eq!(aot_builtin_table_fill(vmctx, 2, 4, f, 2), TOOB);
            assert_eq!(get(2, 4), Some(0), "nothing written on a trap");
            assert_eq!(aot_builtin_table_fill(vmctx, 2, 5, f, 0), 0);

            assert_eq!(aot_builtin_table_init(vmctx, 2, 0, 1, 0, 3), 0);
            assert_eq!(
                (get(2, 1), get(2, 2), get(2, 3)),
                (Some(f as usize), Some(0), Some(f as usize))
            );
            assert_eq!(
                aot_builtin_table_init(vmctx, 2, 0, 0, 1, 3),
                TOOB,
                "past the segment"
            );
            assert_eq!(
                aot_builtin_table_init(vmctx, 2, 0, 3, 0, 3),
                TOOB,
                "past the table"
            );
            assert_eq!(
                aot_builtin_table_init(vmctx, 2, 1, 0, 0, 1),
                TOOB,
                "declared segments are dropped"
            );
            aot_builtin_elem_drop(vmctx, 0);
            assert_eq!(aot_builtin_table_init(vmctx, 2, 0, 0, 0, 0), 0);
            assert_eq!(
                aot_builtin_table_init(vmctx, 2, 0, 0, 0, 1),
                TOOB,
                "dropped = length 0"
            );

            // Tables 0 and 1 are the same spectest table imported twice.
            assert_eq!(
                aot_builtin_table_copy(vmctx, 0, 2, 0, 1, 3),
                0,
                "between tables"
            );
            assert_eq!(
                (get(0, 0), get(0, 1), get(0, 2)),
                (Some(f as usize), Some(0), Some(f as usize))
            );
            assert_eq!(
                aot_builtin_table_copy(vmctx, 1, 0, 1, 0, 3),
                0,
                "one table under two indices"
            );
            assert_eq!(
                (0..4).map(|k| spectest.locked().get(k)).collect::<Vec<_>>(),
                [
                    Some(f as usize),
                    Some(f as usize),
                    Some(0),
                    Some(f as usize)
                ]
            );
            assert_eq!(aot_builtin_table_copy(vmctx, 2, 0, 4, 0, 2), TOOB);
            assert_eq!(aot_builtin_table_copy(vmctx, 0, 2, 9, 5, 1), TOOB);
            assert_eq!(aot_builtin_table_copy(vmctx, 0, 2, 10, 5, 0), 0);
        }
        // SAFETY: f is this instance's funcref for function 0.
        assert_eq!(
            unsafe { (*(f as *const VMFuncRef)).code },
            forty_two as *const u8
        );
    }

    #[test]
    fn status_is_zero_or_the_trap_kind() {
        assert_eq!(
            status(Err(TrapKind::TableOutOfBounds)),
            TrapKind::TableOutOfBounds as i32
        );
        assert_eq!(status(Ok(())), 0);
    }
}
