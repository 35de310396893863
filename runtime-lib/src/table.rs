//! Wasm tables: the element storage behind a [`VMTableDef`] and the spec semantics of
//! table.grow/get/set/fill/copy/init.
//!
//! A table owns its elements (one pointer-sized slot each: a `*const VMFuncRef` or an
//! opaque externref, 0 = null) and keeps the `VMTableDef` that generated code reads in sync
//! with them. For a table a module defines, that `VMTableDef` is the slot in the module's
//! vmctx; for host tables the table owns a boxed one. Either way its address never changes,
//! while `base` may move on grow (generated code reloads it).
//!
//! Every bulk operation checks all its bounds before writing anything, as the spec requires.

use std::sync::Mutex;

use aot_abi::{TableType, TrapKind, VMTableDef};

use crate::Locked;

/// Implementation limit on the number of elements (80 MB of slots): above it table.grow
/// fails (returns -1) and instantiation reports an error, as wasmtime does with its
/// resource limits. The spec allows grow to fail at any size.
pub const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

pub struct Table {
    /// Stable for the life of the table; see the module docs.
    def: *mut VMTableDef,
    /// Whether `def` came from `Box::into_raw` in [`Table::new`].
    owns_def: bool,
    /// Accessed only through `as_ptr`/`as_mut_ptr`, so that the pointer published in `def`
    /// (which generated code writes through) stays valid for Rust's aliasing rules.
    elements: Vec<usize>,
    ty: TableType,
}

// SAFETY: a Table exclusively owns its elements and (when `owns_def`) its VMTableDef; a
// borrowed def is a vmctx slot that lives forever. The raw pointer is only their address,
// so moving the owner to another thread is sound; shared access goes through a Mutex.
unsafe impl Send for Table {}

impl Table {
    /// A table with its own `VMTableDef` (host tables).
    pub fn new(ty: TableType, init: usize) -> Result<Table, String> {
        let def = Box::into_raw(Box::new(VMTableDef {
            base: core::ptr::null_mut(),
            current_elements: 0,
        }));
        // SAFETY: `def` is a fresh allocation that only this table uses; Drop frees it.
        let table = unsafe { Table::with_def(ty, init, def) };
        if table.is_err() {
            // SAFETY: `def` came from Box::into_raw above and nothing else refers to it.
            drop(unsafe { Box::from_raw(def) });
        }
        table.map(|mut t| {
            t.owns_def = true;
            t
        })
    }

    /// A table whose `VMTableDef` lives at `def` (a vmctx slot), with `ty.min` elements set
    /// to `init`.
    ///
    /// # Safety
    /// `def` must be valid for writes for as long as the table lives, and nothing but this
    /// table and generated code may write to it.
    pub unsafe fn with_def(
        ty: TableType,
        init: usize,
        def: *mut VMTableDef,
    ) -> Result<Table, String> {
        if ty.min > MAX_TABLE_ELEMENTS {
            return Err(format!(
                "table of {} elements exceeds the runtime limit of {MAX_TABLE_ELEMENTS}",
                ty.min
            ));
        }
        let mut elements = Vec::new();
        elements
            .try_reserve_exact(ty.min as usize)
            .map_err(|_| format!("cannot allocate a table of {} elements", ty.min))?;
        elements.resize(ty.min as usize, init);
        let mut table = Table {
            def,
            owns_def: false,
            elements,
            ty,
        };
        table.sync_def();
        Ok(table)
    }

    /// The declared type (its `min` is the declared minimum, not the current size).
    pub fn ty(&self) -> &TableType {
        &self.ty
    }

    /// The type this table has now, for import matching: the current size as minimum.
    pub fn current_type(&self) -> TableType {
        TableType {
            min: self.size(),
            ..self.ty
        }
    }

    pub fn size(&self) -> u64 {
        self.elements.len() as u64
    }

    /// The `VMTableDef` generated code reads.
    pub fn def(&self) -> *mut VMTableDef {
        self.def
    }

    /// table.grow: returns the old size, or None when the new size would exceed the
    /// declared maximum, the index space (2^32-1 for a 32-bit table), or
    /// [`MAX_TABLE_ELEMENTS`], or cannot be allocated.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        let index_max = if self.ty.table64 {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let max = self.ty.max.unwrap_or(index_max).min(index_max);
        if new > max || new > MAX_TABLE_ELEMENTS {
            return None;
        }
        self.elements.try_reserve_exact(delta as usize).ok()?;
        self.elements.resize(new as usize, init);
        self.sync_def();
        Some(old)
    }

    pub fn get(&self, index: u64) -> Option<usize> {
        self.slots().get(usize::try_from(index).ok()?).copied()
    }

    pub fn set(&mut self, index: u64, value: usize) -> Result<(), TrapKind> {
        let range = self.range(index, 1)?;
        self.slots_mut()[range.start] = value;
        Ok(())
    }

    /// table.fill.
    pub fn fill(&mut self, dst: u64, value: usize, len: u64) -> Result<(), TrapKind> {
        let range = self.range(dst, len)?;
        self.slots_mut()[range].fill(value);
        Ok(())
    }

    /// table.copy within this table (the ranges may overlap).
    pub fn copy_within(&mut self, dst: u64, src: u64, len: u64) -> Result<(), TrapKind> {
        let d = self.range(dst, len)?;
        let s = self.range(src, len)?;
        self.slots_mut().copy_within(s, d.start);
        Ok(())
    }

    /// table.copy from another table.
    pub fn copy_from(
        &mut self,
        src_table: &Table,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapKind> {
        let d = self.range(dst, len)?;
        let s = src_table.range(src, len)?;
        self.slots_mut()[d].copy_from_slice(&src_table.slots()[s]);
        Ok(())
    }

    /// table.copy between tables that may be one and the same: a module can import one
    /// table twice, or name its own table as both source and destination.
    pub fn copy(
        dst_table: &Mutex<Table>,
        src_table: &Mutex<Table>,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapKind> {
        if core::ptr::eq(dst_table, src_table) {
            return dst_table.locked().copy_within(dst, src, len);
        }
        let (mut d, s) = crate::lock_pair(dst_table, src_table);
        d.copy_from(&s, dst, src, len)
    }

    /// table.init from the (already evaluated) elements of a segment.
    pub fn init(
        &mut self,
        dst: u64,
        segment: &[usize],
        src: u64,
        len: u64,
    ) -> Result<(), TrapKind> {
        let d = self.range(dst, len)?;
        let s = checked_range(src, len, segment.len() as u64)?;
        self.slots_mut()[d].copy_from_slice(&segment[s]);
        Ok(())
    }

    fn range(&self, start: u64, len: u64) -> Result<core::ops::Range<usize>, TrapKind> {
        checked_range(start, len, self.size())
    }

    fn slots(&self) -> &[usize] {
        // SAFETY: as_ptr points to `len` initialised elements; see the field's docs for why
        // not to index the Vec directly.
        unsafe { core::slice::from_raw_parts(self.elements.as_ptr(), self.elements.len()) }
    }

    fn slots_mut(&mut self) -> &mut [usize] {
        // SAFETY: as for `slots`, and `&mut self` makes this the only Rust access.
        unsafe { core::slice::from_raw_parts_mut(self.elements.as_mut_ptr(), self.elements.len()) }
    }

    fn sync_def(&mut self) {
        let base = self.elements.as_mut_ptr();
        let len = self.size();
        // SAFETY: `def` is valid for writes for the table's life (constructor contract).
        unsafe {
            (*self.def).base = base;
            (*self.def).current_elements = len;
        }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if self.owns_def {
            // SAFETY: an owned `def` came from Box::into_raw in `new` and is freed only here.
            drop(unsafe { Box::from_raw(self.def) });
        }
    }
}

/// `start..start+len` if it lies within `0..size`, else a TableOutOfBounds trap.
fn checked_range(start: u64, len: u64, size: u64) -> Result<core::ops::Range<usize>, TrapKind> {
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start as usize..end as usize),
        _ => Err(TrapKind::TableOutOfBounds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aot_abi::ValType;

    fn table(min: u64, max: Option<u64>) -> Table {
        Table::new(
            TableType {
                elem: ValType::FuncRef,
                min,
                max,
                table64: false,
            },
            0,
        )
        .expect("small table")
    }

    fn contents(t: &Table) -> Vec<usize> {
        (0..t.size())
            .map(|i| t.get(i).expect("in bounds"))
            .collect()
    }

    fn def_of(t: &Table) -> (usize, u64) {
        // SAFETY: the table's def is valid while the table lives.
        unsafe { ((*t.def()).base as usize, (*t.def()).current_elements) }
    }

    #[test]
    fn new_sets_min_elements_and_def() {
        let t = Table::new(
            TableType {
                elem: ValType::ExternRef,
                min: 3,
                max: None,
                table64: false,
            },
            7,
        )
        .expect("small table");
        assert_eq!(contents(&t), vec![7, 7, 7]);
        assert_eq!(def_of(&t), (t.elements.as_ptr() as usize, 3));
    }

    #[test]
    fn grow_respects_max_and_index_space() {
        let mut t = table(1, Some(3));
        assert_eq!(t.grow(0, 0), Some(1));
        assert_eq!(t.grow(2, 9), Some(1));
        assert_eq!(contents(&t), vec![0, 9, 9]);
        assert_eq!(def_of(&t).1, 3);
        assert_eq!(t.grow(1, 0), None);
        assert_eq!(t.grow(0, 0), Some(3));

        let mut u = table(0x10, None);
        assert_eq!(u.grow(0xffff_fff0, 0), None, "past 2^32-1");
        assert_eq!(u.grow(u64::MAX, 0), None, "overflow");
        assert_eq!(u.size(), 0x10);
        let mut big = table(0, Some(u64::from(u32::MAX)));
        assert_eq!(
            big.grow(MAX_TABLE_ELEMENTS + 1, 0),
            None,
            "implementation limit"
        );
    }

    #[test]
    fn grow_moves_base_and_def_follows() {
        let mut t = table(1, None);
        t.set(0, 5).expect("in bounds");
        assert_eq!(t.grow(1000, 1), Some(1));
        assert_eq!(def_of(&t), (t.elements.as_ptr() as usize, 1001));
        assert_eq!(t.get(0), Some(5));
        assert_eq!(t.get(1000), Some(1));
        assert_eq!(t.get(1001), None);
    }

    #[test]
    fn fill_checks_bounds_before_writing() {
        let mut t = table(4, None);
        assert_eq!(t.fill(1, 8, 3), Ok(()));
        assert_eq!(contents(&t), vec![0, 8, 8, 8]);
        assert_eq!(t.fill(2, 5, 3), Err(TrapKind::TableOutOfBounds));
        assert_eq!(contents(&t), vec![0, 8, 8, 8], "nothing written on a trap");
        assert_eq!(t.fill(4, 5, 0), Ok(()), "zero length at the end");
        assert_eq!(
            t.fill(5, 5, 0),
            Err(TrapKind::TableOutOfBounds),
            "zero length past the end"
        );
        assert_eq!(t.fill(u64::MAX, 5, 2), Err(TrapKind::TableOutOfBounds));
    }

    #[test]
    fn copy_within_is_a_memmove() {
        let mut t = table(5, None);
        for i in 0..5 {
            t.set(i, i as usize + 1).expect("in bounds");
        }
        t.copy_within(1, 0, 3).expect("in bounds");
        assert_eq!(contents(&t), vec![1, 1, 2, 3, 5]);
        t.copy_within(0, 2, 3).expect("in bounds");
        assert_eq!(contents(&t), vec![2, 3, 5, 3, 5]);
        assert_eq!(t.copy_within(3, 0, 3), Err(TrapKind::TableOutOfBounds));
        assert_eq!(t.copy_within(0, 3, 3), Err(TrapKind::TableOutOfBounds));
        assert_eq!(t.copy_within(5, 5, 0), Ok(()));
        assert_eq!(t.copy_within(6, 0, 0), Err(TrapKind::TableOutOfBounds));
    }

    #[test]
    fn copy_handles_one_table_under_two_names() {
        let a = Mutex::new(table(3, None));
        let b = Mutex::new(table(2, None));
        b.locked().set(1, 11).expect("in bounds");
        assert_eq!(Table::copy(&a, &b, 0, 1, 1), Ok(()));
        assert_eq!(Table::copy(&a, &a, 1, 0, 2), Ok(()), "no double borrow");
        assert_eq!(contents(&a.locked()), vec![11, 11, 0]);
        assert_eq!(
            Table::copy(&a, &b, 2, 0, 2),
            Err(TrapKind::TableOutOfBounds)
        );
        assert_eq!(contents(&a.locked()), vec![11, 11, 0]);
    }

    #[test]
    fn copy_from_other_table() {
        let mut a = table(3, None);
        let mut b = table(2, None);
        b.set(0, 10).expect("in bounds");
        b.set(1, 11).expect("in bounds");
        a.copy_from(&b, 1, 0, 2).expect("in bounds");
        assert_eq!(contents(&a), vec![0, 10, 11]);
        assert_eq!(a.copy_from(&b, 0, 1, 2), Err(TrapKind::TableOutOfBounds));
        assert_eq!(a.copy_from(&b, 2, 0, 2), Err(TrapKind::TableOutOfBounds));
        assert_eq!(contents(&a), vec![0, 10, 11]);
    }

    #[test]
    fn init_checks_segment_and_table_bounds() {
        let mut t = table(4, None);
        let seg = [21, 22, 23];
        t.init(1, &seg, 1, 2).expect("in bounds");
        assert_eq!(contents(&t), vec![0, 22, 23, 0]);
        assert_eq!(
            t.init(0, &seg, 2, 2),
            Err(TrapKind::TableOutOfBounds),
            "past segment end"
        );
        assert_eq!(
            t.init(3, &seg, 0, 2),
            Err(TrapKind::TableOutOfBounds),
            "past table end"
        );
        assert_eq!(t.init(4, &seg, 3, 0), Ok(()), "zero length at both ends");
        assert_eq!(
            t.init(0, &[], 1, 0),
            Err(TrapKind::TableOutOfBounds),
            "dropped segment"
        );
        assert_eq!(contents(&t), vec![0, 22, 23, 0]);
    }

    #[test]
    fn current_type_reports_size() {
        let mut t = table(2, Some(9));
        t.grow(3, 0);
        assert_eq!(
            t.current_type(),
            TableType {
                elem: ValType::FuncRef,
                min: 5,
                max: Some(9),
                table64: false,
            }
        );
        assert_eq!(t.ty().min, 2);
    }
}
