//! The per-instance context (`vmctx`) that every Wasm function receives as its first
//! argument, and the `#[repr(C)]` records it points to.
//!
//! Layout (all offsets from [`VMOffsets`], never written by hand elsewhere):
//!
//! ```text
//! 0                 store: *const VMStoreContext   the program's store context
//! 8                 instance: *mut ()         runtime-private back pointer
//! imported_funcs    [VMFunctionImport; n]     code + vmctx of each imported function
//! imported_tables   [*mut VMTableDef; n]
//! imported_memories [*mut VMMemoryDef; n]
//! imported_globals  [*mut VMGlobal; n]
//! defined_tables    [VMTableDef; n]
//! defined_memories  [VMMemoryDef; n]
//! defined_globals   [VMGlobal; n]             16-byte aligned
//! type_ids          [u32; ntypes]             runtime-interned id of each module type
//! gc_types          [*const VMGcTypeInfo; ntypes]  8-aligned; the runtime's info of each
//!                                             struct/array type (null for function types)
//! tags              [*const VMTag; ntags]     every tag, imported first; identity = address
//! funcrefs          [VMFuncRef; nslots]       one per imported function (copied) and
//!                                             per defined function something can take a
//!                                             reference to (`meta::FuncrefSlots`)
//! ```
//!
//! Every vmctx of a program points at the same [`VMStoreContext`]: what generated code and
//! the host share beyond one instance (the stack limit of the thread now running Wasm, the
//! last Wasm-to-host transition, a trap a host function asks to raise).
//!
//! Invariants the generated code relies on: a memory's `base` never changes for the life of
//! the instance (memories are reserved once, grow only changes protections), so its load
//! may be hoisted; `VMTableDef::base` may change on table.grow and is reloaded; a
//! funcref is a pointer to a `VMFuncRef` or null.

use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU32, AtomicUsize};

/// What generated code and the host share for one store (one per program today; one per
/// thread's store once threads arrive). Fields are atomics so the struct is `Sync` by
/// construction; generated code reads and writes them with plain aligned word accesses,
/// which is what a relaxed atomic access compiles to on both targets.
#[repr(C)]
#[derive(Debug, Default)]
pub struct VMStoreContext {
    /// The lowest stack pointer Wasm code may use on the thread now running Wasm in this
    /// store; set by the runtime on every entry into Wasm (Cranelift's prologue check
    /// loads it through vmctx).
    pub stack_limit: AtomicUsize,
    /// Frame pointer of the Wasm frame that made the last Wasm-to-host call, written by
    /// the host-call trampoline; with `last_exit_pc` it lets a backtrace or a stack walk
    /// continue past host frames.
    pub last_exit_fp: AtomicUsize,
    /// Return address into that Wasm frame.
    pub last_exit_pc: AtomicUsize,
    /// Nonzero when a host function returns with a trap to raise (a trap in Wasm code it
    /// called back into); the host-call trampoline checks it after every host call and
    /// calls the `raise_pending_trap` builtin.
    pub pending_trap: AtomicU32,
    /// The GC allocation window of this store (see [`crate::gc`]): generated code
    /// allocates an object of `n` bytes at `gc_top` when `gc_top + n <= gc_limit` and
    /// advances `gc_top`; otherwise (or for a large object) it calls the runtime, which
    /// may collect and then moves the window. Both 0 until the first allocation.
    pub gc_top: AtomicUsize,
    pub gc_limit: AtomicUsize,
}

impl VMStoreContext {
    pub const fn new() -> VMStoreContext {
        VMStoreContext {
            stack_limit: AtomicUsize::new(0),
            last_exit_fp: AtomicUsize::new(0),
            last_exit_pc: AtomicUsize::new(0),
            pending_trap: AtomicU32::new(0),
            gc_top: AtomicUsize::new(0),
            gc_limit: AtomicUsize::new(0),
        }
    }
}

pub const VMSTORE_STACK_LIMIT: u32 = offset_of!(VMStoreContext, stack_limit) as u32;
pub const VMSTORE_LAST_EXIT_FP: u32 = offset_of!(VMStoreContext, last_exit_fp) as u32;
pub const VMSTORE_LAST_EXIT_PC: u32 = offset_of!(VMStoreContext, last_exit_pc) as u32;
pub const VMSTORE_PENDING_TRAP: u32 = offset_of!(VMStoreContext, pending_trap) as u32;
pub const VMSTORE_GC_TOP: u32 = offset_of!(VMStoreContext, gc_top) as u32;
pub const VMSTORE_GC_LIMIT: u32 = offset_of!(VMStoreContext, gc_limit) as u32;

/// A linear memory as generated code sees it.
#[repr(C)]
#[derive(Debug)]
pub struct VMMemoryDef {
    /// Start of the reservation; constant for the life of the memory.
    pub base: *mut u8,
    /// Accessible size in bytes (a multiple of the page size).
    pub current_length: u64,
}

/// A table as generated code sees it: `current_elements` pointer-sized slots at `base`.
/// A funcref slot holds a `*const VMFuncRef` (null = ref.null), an externref slot an
/// opaque non-zero value (0 = ref.null).
#[repr(C)]
#[derive(Debug)]
pub struct VMTableDef {
    pub base: *mut usize,
    pub current_elements: u64,
}

/// The storage of a global: 16 bytes, value little-endian from byte 0, like [`crate::ValRaw`].
#[repr(C, align(16))]
#[derive(Debug, Default, Clone, Copy)]
pub struct VMGlobal {
    pub bytes: [u8; 16],
}

/// A function reference: everything needed to call a function from anywhere.
#[repr(C)]
#[derive(Debug)]
pub struct VMFuncRef {
    /// Native code; called as `code(vmctx, params...)` in the Wasm calling convention
    /// (Cranelift's `tail`, so that tail calls can reach it), which only generated code
    /// speaks: host code calls it through an array-call trampoline.
    pub code: *const u8,
    /// The context to pass as the first argument.
    pub vmctx: *mut u8,
    /// Runtime-interned signature id, compared by call_indirect.
    pub type_id: u32,
}

/// A tag of the exception-handling proposal. Two tags are the same tag exactly when their
/// `VMTag`s are at the same address: each instance allocates one per defined tag (so two
/// instantiations of a module define distinct tags) and an import copies the exporter's
/// pointer into its vmctx slot.
#[repr(C)]
#[derive(Debug)]
pub struct VMTag {
    /// Runtime-interned signature id of the tag's function type (no results).
    pub type_id: u32,
    /// The header of this tag's exceptions: a [`crate::gc::VMGcTypeInfo`] of kind
    /// [`crate::gc::GC_KIND_EXN`] whose size is the whole exception's and whose reference
    /// offsets are the payload slots the collector traces. Shared by every tag of the same
    /// function type, never freed.
    pub gc_info: *const crate::gc::VMGcTypeInfo,
}

/// Offset of [`VMTag::gc_info`].
pub const VMTAG_GC_INFO: u32 = offset_of!(VMTag, gc_info) as u32;

/// A thrown exception, as generated code sees it: an `exnref` is a pointer to one (null =
/// `ref.null exn`). It is a GC object (`crate::gc`, kind [`crate::gc::GC_KIND_EXN`]):
/// generated code allocates it like a struct, with its tag's [`VMTag::gc_info`] as header
/// and [`exn_size`] bytes, writes the tag and the payload at [`VMEXN_VALUES`] (one 16-byte
/// slot per value of the tag's parameters, little-endian from the slot's first byte, like
/// [`crate::ValRaw`]), and a catching handler reads them back. The collector traces the
/// slots of reference type and frees the exception when no `exnref` is left. The object
/// is only 8-aligned, so a v128 slot is accessed without an alignment claim.
#[repr(C)]
#[derive(Debug)]
pub struct VMException {
    /// The GC header: the tag's `gc_info` (a forwarding address during a collection).
    pub header: u64,
    /// The tag it was thrown with.
    pub tag: *const VMTag,
}

/// Offset of the tag pointer in a [`VMException`].
pub const VMEXN_TAG: u32 = offset_of!(VMException, tag) as u32;
/// Offset of the first payload slot of an exception.
pub const VMEXN_VALUES: u32 = size_of::<VMException>() as u32;
/// Bytes of one payload slot.
pub const VMEXN_SLOT_SIZE: u32 = 16;

/// Bytes of an exception with `num_values` payload slots, header included (a multiple
/// of `crate::gc::GC_ALIGN`).
pub const fn exn_size(num_values: u32) -> u32 {
    VMEXN_VALUES + num_values * VMEXN_SLOT_SIZE
}

/// An imported function: the code to call and the context to call it with.
#[repr(C)]
#[derive(Debug)]
pub struct VMFunctionImport {
    pub code: *const u8,
    pub vmctx: *mut u8,
}

pub const VMMEMORY_BASE: u32 = offset_of!(VMMemoryDef, base) as u32;
pub const VMMEMORY_LENGTH: u32 = offset_of!(VMMemoryDef, current_length) as u32;
pub const VMTABLE_BASE: u32 = offset_of!(VMTableDef, base) as u32;
pub const VMTABLE_LENGTH: u32 = offset_of!(VMTableDef, current_elements) as u32;
pub const VMFUNCREF_CODE: u32 = offset_of!(VMFuncRef, code) as u32;
pub const VMFUNCREF_VMCTX: u32 = offset_of!(VMFuncRef, vmctx) as u32;
pub const VMFUNCREF_TYPE_ID: u32 = offset_of!(VMFuncRef, type_id) as u32;
const VMFUNCREF_SIZE: u32 = size_of::<VMFuncRef>() as u32;
pub const VMIMPORT_CODE: u32 = offset_of!(VMFunctionImport, code) as u32;
pub const VMIMPORT_VMCTX: u32 = offset_of!(VMFunctionImport, vmctx) as u32;

/// How many of each entity a module has: all [`VMOffsets`] needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VMCounts {
    pub imported_funcs: u32,
    pub imported_tables: u32,
    pub imported_memories: u32,
    pub imported_globals: u32,
    pub defined_tables: u32,
    pub defined_memories: u32,
    pub defined_globals: u32,
    pub types: u32,
    /// All tags, imported and defined.
    pub tags: u32,
    /// `VMFuncRef` slots: every imported function, then the defined functions of
    /// [`crate::meta::FuncrefSlots`].
    pub funcref_slots: u32,
}

/// Byte offsets of every field of a module's vmctx.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMOffsets {
    pub counts: VMCounts,
    pub imported_funcs: u32,
    pub imported_tables: u32,
    pub imported_memories: u32,
    pub imported_globals: u32,
    pub defined_tables: u32,
    pub defined_memories: u32,
    pub defined_globals: u32,
    pub type_ids: u32,
    pub gc_types: u32,
    pub tags: u32,
    pub funcrefs: u32,
    pub size: u32,
}

/// Offset of the pointer to the program's [`VMStoreContext`], fixed so Cranelift's stack
/// check is two loads from vmctx.
pub const VMCTX_STORE: u32 = 0;
/// Offset of the runtime's back pointer to its instance.
pub const VMCTX_INSTANCE: u32 = crate::POINTER_SIZE;
const VMCTX_HEADER: u32 = 16;

fn align(x: u32, a: u32) -> u32 {
    x.div_ceil(a) * a
}

impl VMOffsets {
    pub fn new(c: VMCounts) -> VMOffsets {
        let ptr = crate::POINTER_SIZE;
        let imported_funcs = VMCTX_HEADER;
        let imported_tables =
            imported_funcs + c.imported_funcs * size_of::<VMFunctionImport>() as u32;
        let imported_memories = imported_tables + c.imported_tables * ptr;
        let imported_globals = imported_memories + c.imported_memories * ptr;
        let defined_tables = imported_globals + c.imported_globals * ptr;
        let defined_memories = defined_tables + c.defined_tables * size_of::<VMTableDef>() as u32;
        let defined_globals = align(
            defined_memories + c.defined_memories * size_of::<VMMemoryDef>() as u32,
            16,
        );
        let type_ids = defined_globals + c.defined_globals * size_of::<VMGlobal>() as u32;
        let gc_types = align(type_ids + c.types * 4, 8);
        let tags = gc_types + c.types * ptr;
        let funcrefs = tags + c.tags * ptr;
        let size = align(funcrefs + c.funcref_slots * VMFUNCREF_SIZE, 16);
        VMOffsets {
            counts: c,
            imported_funcs,
            imported_tables,
            imported_memories,
            imported_globals,
            defined_tables,
            defined_memories,
            defined_globals,
            type_ids,
            gc_types,
            tags,
            funcrefs,
            size,
        }
    }

    pub fn imported_func(&self, i: u32) -> u32 {
        self.imported_funcs + i * size_of::<VMFunctionImport>() as u32
    }
    pub fn imported_table(&self, i: u32) -> u32 {
        self.imported_tables + i * crate::POINTER_SIZE
    }
    pub fn imported_memory(&self, i: u32) -> u32 {
        self.imported_memories + i * crate::POINTER_SIZE
    }
    pub fn imported_global(&self, i: u32) -> u32 {
        self.imported_globals + i * crate::POINTER_SIZE
    }
    pub fn defined_table(&self, i: u32) -> u32 {
        self.defined_tables + i * size_of::<VMTableDef>() as u32
    }
    pub fn defined_memory(&self, i: u32) -> u32 {
        self.defined_memories + i * size_of::<VMMemoryDef>() as u32
    }
    pub fn defined_global(&self, i: u32) -> u32 {
        self.defined_globals + i * size_of::<VMGlobal>() as u32
    }
    pub fn type_id(&self, i: u32) -> u32 {
        self.type_ids + i * 4
    }
    /// The `*const VMGcTypeInfo` of module type `i` (null when `i` is a function type):
    /// what an object of that type has as its header, compared by casts.
    pub fn gc_type(&self, i: u32) -> u32 {
        self.gc_types + i * crate::POINTER_SIZE
    }
    pub fn tag(&self, i: u32) -> u32 {
        self.tags + i * crate::POINTER_SIZE
    }
    /// The `VMFuncRef` of funcref slot `slot` (see [`crate::meta::FuncrefSlots::slot`]).
    pub fn funcref(&self, slot: u32) -> u32 {
        self.funcrefs + slot * VMFUNCREF_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_is_what_generated_code_assumes() {
        assert_eq!(size_of::<VMMemoryDef>(), 16);
        assert_eq!(size_of::<VMTableDef>(), 16);
        assert_eq!(size_of::<VMGlobal>(), 16);
        assert_eq!(size_of::<VMFuncRef>(), 24);
        assert_eq!(VMFUNCREF_TYPE_ID, 16);
        assert_eq!([VMEXN_TAG, VMEXN_VALUES, VMTAG_GC_INFO], [8, 16, 8]);
        assert_eq!(exn_size(2), 48);
    }

    /// Generated code addresses these fields with the constants above, computed on the
    /// compiler's host: they must be these numbers for every 64-bit target.
    #[test]
    fn record_field_offsets_are_fixed() {
        assert_eq!([VMMEMORY_BASE, VMMEMORY_LENGTH], [0, 8]);
        assert_eq!([VMTABLE_BASE, VMTABLE_LENGTH], [0, 8]);
        assert_eq!(
            [VMFUNCREF_CODE, VMFUNCREF_VMCTX, VMFUNCREF_TYPE_ID],
            [0, 8, 16]
        );
        assert_eq!([VMIMPORT_CODE, VMIMPORT_VMCTX], [0, 8]);
        assert_eq!(offset_of!(VMGlobal, bytes), 0);
        assert_eq!([VMCTX_STORE, VMCTX_INSTANCE], [0, 8]);
        assert_eq!(size_of::<*const u8>(), crate::POINTER_SIZE as usize);
        assert_eq!(size_of::<usize>(), crate::TABLE_SLOT_SIZE as usize);
    }

    #[test]
    fn store_context_fields_are_where_generated_code_reads_them() {
        assert_eq!(VMCTX_STORE, 0);
        assert_eq!(VMCTX_INSTANCE, 8);
        assert_eq!(VMSTORE_STACK_LIMIT, 0);
        assert_eq!(VMSTORE_LAST_EXIT_FP, 8);
        assert_eq!(VMSTORE_LAST_EXIT_PC, 16);
        assert_eq!(VMSTORE_PENDING_TRAP, 24);
        assert_eq!(VMSTORE_GC_TOP, 32);
        assert_eq!(VMSTORE_GC_LIMIT, 40);
        assert_eq!(size_of::<VMStoreContext>(), 48);
        fn is_sync<T: Send + Sync>() {}
        is_sync::<VMStoreContext>();
    }

    #[test]
    fn regions_do_not_overlap_and_are_aligned() {
        let o = VMOffsets::new(VMCounts {
            imported_funcs: 3,
            imported_tables: 1,
            imported_memories: 1,
            imported_globals: 2,
            defined_tables: 2,
            defined_memories: 1,
            defined_globals: 5,
            types: 7,
            tags: 2,
            funcref_slots: 9,
        });
        assert_eq!(o.imported_func(0), 16);
        assert_eq!(o.imported_tables, 16 + 3 * 16);
        assert_eq!(o.defined_globals % 16, 0);
        assert!(o.type_ids >= o.defined_global(5));
        assert_eq!(o.funcrefs % 8, 0);
        assert!(o.gc_types >= o.type_id(7));
        assert_eq!(o.gc_types % 8, 0);
        assert!(o.tags >= o.gc_type(7));
        assert!(o.funcrefs >= o.tag(0));
        assert_eq!(o.size, align(o.funcref(9), 16));
    }
}
