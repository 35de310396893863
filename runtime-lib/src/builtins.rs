//! The runtime functions that generated code calls directly: one `aot_builtin_<name>`
//! symbol per entry of `aot_abi::foreach_builtin!`, with exactly the signature listed there
//! (checked at compile time below).
//!
//! Builtins never trap themselves: the ones that can fail return 0 or a `TrapKind` value
//! and the generated code raises the trap, so no trap unwinds through these frames. Bulk
//! operations follow the spec: every bound is checked before anything is written, a
//! zero-length operation at exactly the end is fine, overlapping copies behave like
//! memmove, and a dropped segment behaves as if it had length 0.
//!
//! Memory, table, data and element indices are in the calling module's index spaces; the
//! calling [`Instance`] maps them to the memory or table objects (its own or an exporter's).

use aot_abi::TrapKind;

use crate::instance::{Instance, MemoryRef, TableRef};

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

/// Checks that `start..start+len` lies within `0..size`.
fn check_bounds(start: u64, len: u64, size: u64, trap: TrapKind) -> Result<(), TrapKind> {
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(trap),
    }
}

pub(crate) fn memory_copy(
    instance: &Instance,
    dst_mem: u32,
    src_mem: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), TrapKind> {
    let d = memory(instance, dst_mem);
    let s = memory(instance, src_mem);
    check_bounds(dst, len, d.len_bytes(), TrapKind::MemoryOutOfBounds)?;
    check_bounds(src, len, s.len_bytes(), TrapKind::MemoryOutOfBounds)?;
    // SAFETY: both ranges lie within the accessible part of their memories (checked
    // above); `copy` allows overlap.
    unsafe {
        core::ptr::copy(
            s.base().add(src as usize),
            d.base().add(dst as usize),
            len as usize,
        )
    };
    Ok(())
}

pub(crate) fn memory_fill(
    instance: &Instance,
    mem: u32,
    dst: u64,
    val: u8,
    len: u64,
) -> Result<(), TrapKind> {
    let m = memory(instance, mem);
    check_bounds(dst, len, m.len_bytes(), TrapKind::MemoryOutOfBounds)?;
    // SAFETY: the range lies within the accessible part of the memory (checked above).
    unsafe { core::ptr::write_bytes(m.base().add(dst as usize), val, len as usize) };
    Ok(())
}

pub(crate) fn memory_init(
    instance: &Instance,
    mem: u32,
    data: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), TrapKind> {
    let m = memory(instance, mem);
    let seg = instance
        .data_segment(data)
        .unwrap_or_else(|| bad_index("data segment", data));
    check_bounds(src, len, seg.len() as u64, TrapKind::MemoryOutOfBounds)?;
    check_bounds(dst, len, m.len_bytes(), TrapKind::MemoryOutOfBounds)?;
    // SAFETY: both ranges are in bounds (checked above), and segment bytes live in the
    // executable's read-only image, never inside a linear memory.
    unsafe {
        core::ptr::copy_nonoverlapping(
            seg.as_ptr().add(src as usize),
            m.base().add(dst as usize),
            len as usize,
        )
    };
    Ok(())
}

pub(crate) fn table_copy(
    instance: &Instance,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), TrapKind> {
    let d = table(instance, dst_table);
    let s = table(instance, src_table);
    // A module may import the same table twice, so two indices can name one table.
    if core::ptr::eq(d, s) {
        d.borrow_mut().copy_within(dst, src, len)
    } else {
        d.borrow_mut().copy_from(&s.borrow(), dst, src, len)
    }
}

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
    t.borrow_mut().init(dst, &seg.borrow(), src, len)
}

/// Grows memory `mem` by `delta` pages; returns the old size in pages, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_grow(vmctx: *mut u8, mem: i32, delta: i64) -> i64 {
    // SAFETY (here and in every builtin): generated code passes its own instance's vmctx.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    memory(instance, mem as u32)
        .grow(delta as u64)
        .map_or(-1, |old| old as i64)
}

/// memory.copy between memories `dst_mem` and `src_mem`; returns a trap status.
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
    status(memory_copy(
        instance,
        dst_mem as u32,
        src_mem as u32,
        dst as u64,
        src as u64,
        len as u64,
    ))
}

/// memory.fill; returns a trap status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_memory_fill(
    vmctx: *mut u8,
    mem: i32,
    dst: i64,
    val: i32,
    len: i64,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    status(memory_fill(
        instance, mem as u32, dst as u64, val as u8, len as u64,
    ))
}

/// memory.init from data segment `data`; returns a trap status.
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

/// data.drop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_data_drop(vmctx: *mut u8, data: i32) {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    instance.drop_data(data as u32);
}

/// table.grow with `init` as the new elements' value; returns the old size or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_grow(
    vmctx: *mut u8,
    table_index: i32,
    delta: i32,
    init: *mut u8,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let grown = table(instance, table_index as u32)
        .borrow_mut()
        .grow(u64::from(delta as u32), init as usize);
    grown.map_or(-1, |old| old as i32)
}

/// table.fill; returns a trap status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_fill(
    vmctx: *mut u8,
    table_index: i32,
    dst: i32,
    val: *mut u8,
    len: i32,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    let t = table(instance, table_index as u32);
    let filled = t
        .borrow_mut()
        .fill(u64::from(dst as u32), val as usize, u64::from(len as u32));
    status(filled)
}

/// table.copy; returns a trap status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_copy(
    vmctx: *mut u8,
    dst_table: i32,
    src_table: i32,
    dst: i32,
    src: i32,
    len: i32,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    status(table_copy(
        instance,
        dst_table as u32,
        src_table as u32,
        u64::from(dst as u32),
        u64::from(src as u32),
        u64::from(len as u32),
    ))
}

/// table.init from element segment `elem`; returns a trap status.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_table_init(
    vmctx: *mut u8,
    table_index: i32,
    elem: i32,
    dst: i32,
    src: i32,
    len: i32,
) -> i32 {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    status(table_init(
        instance,
        table_index as u32,
        elem as u32,
        u64::from(dst as u32),
        u64::from(src as u32),
        u64::from(len as u32),
    ))
}

/// elem.drop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_builtin_elem_drop(vmctx: *mut u8, elem: i32) {
    // SAFETY: see aot_builtin_memory_grow.
    let instance = unsafe { Instance::from_vmctx(vmctx) };
    instance.drop_elem(elem as u32);
}

/// Each builtin under its contract name, for the signature check below. A builtin added to
/// the contract without an entry here fails to compile.
mod by_contract_name {
    pub use super::aot_builtin_data_drop as data_drop;
    pub use super::aot_builtin_elem_drop as elem_drop;
    pub use super::aot_builtin_memory_copy as memory_copy;
    pub use super::aot_builtin_memory_fill as memory_fill;
    pub use super::aot_builtin_memory_grow as memory_grow;
    pub use super::aot_builtin_memory_init as memory_init;
    pub use super::aot_builtin_table_copy as table_copy;
    pub use super::aot_builtin_table_fill as table_fill;
    pub use super::aot_builtin_table_grow as table_grow;
    pub use super::aot_builtin_table_init as table_init;
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

    #[test]
    fn bounds_allow_zero_length_at_the_end_only() {
        let oob = TrapKind::MemoryOutOfBounds;
        assert_eq!(check_bounds(0, 10, 10, oob), Ok(()));
        assert_eq!(check_bounds(10, 0, 10, oob), Ok(()));
        assert_eq!(check_bounds(11, 0, 10, oob), Err(oob));
        assert_eq!(check_bounds(5, 6, 10, oob), Err(oob));
        assert_eq!(check_bounds(u64::MAX, 2, 10, oob), Err(oob));
        assert_eq!(
            status(Err(TrapKind::TableOutOfBounds)),
            TrapKind::TableOutOfBounds as i32
        );
        assert_eq!(status(Ok(())), 0);
    }
}
