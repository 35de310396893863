//! Instances: a compiled module brought to life against resolved imports.
//!
//! [`instantiate`] allocates the module's vmctx (layout from `aot_abi::vmctx`), fills every
//! field the generated code reads, then runs the Wasm 2.0 instantiation steps in order:
//! active element segments, active data segments, the start function. A failure partway
//! leaves the earlier writes in place, as the spec requires.
//!
//! Invariants:
//! - Instances, their vmctx, memories and tables are leaked: they live until the process
//!   exits, so `&'static` references and raw pointers into a vmctx never dangle.
//! - The vmctx never moves, and its offset 8 points back to its [`Instance`].
//! - There is exactly one `VMMemoryDef` per memory that generated code reads: the slot in
//!   the defining instance's vmctx (or, for host memories, the memory's own). Importers
//!   point at it, and memory.grow updates it ([`MemoryRef::grow`]).
//! - Function type ids are interned process-wide ([`intern_type`]), so equal types have
//!   equal ids across modules and host functions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use crate::Locked;

use aot_abi::{
    ABI_VERSION, ArrayCallFn, BoundsMode, ConstExpr, ConstOp, ElemItem, ExternKind, FuncType,
    GlobalType, ImportKind, MemoryType, ModuleDescriptor, ModuleMeta, SegmentMode, TableType,
    TrapKind, VMCTX_INSTANCE, VMCTX_STORE, VMFuncRef, VMFunctionImport, VMGlobal, VMMemoryDef,
    VMOffsets, ValRaw,
};

use crate::memory::{Memory, Placement};
use crate::table::Table;
use crate::trap::{self, Trap};

// ---------------------------------------------------------------------------------------
// Function type interning

/// The process-wide id of a lone final function type `ty` (see [`crate::types`]; ids start
/// at 1; 0 never names a type).
pub fn intern_type(ty: &FuncType) -> u32 {
    crate::types::intern_func(ty)
}

/// The signature of canonical function type `id`.
pub fn type_of_id(id: u32) -> Option<FuncType> {
    crate::types::func_type_of(id)
}

// ---------------------------------------------------------------------------------------
// Module metadata

static METAS: LazyLock<Mutex<HashMap<usize, &'static ModuleMeta>>> =
    LazyLock::new(Default::default);

/// Decodes and checks `desc`'s metadata once per process (later calls return the same
/// leaked value) and registers the module with the trap handler, so that nothing calls
/// into its code before the handler knows its trap sites.
pub fn module_meta(desc: &'static ModuleDescriptor) -> Result<&'static ModuleMeta, String> {
    let mut metas = METAS.lock().unwrap_or_else(|e| e.into_inner());
    let key = desc as *const ModuleDescriptor as usize;
    if let Some(meta) = metas.get(&key) {
        return Ok(meta);
    }
    let meta: &'static ModuleMeta = Box::leak(Box::new(decode_and_check(desc)?));
    trap::register_module(desc, meta);
    metas.insert(key, meta);
    Ok(meta)
}

fn decode_and_check(desc: &'static ModuleDescriptor) -> Result<ModuleMeta, String> {
    if desc.abi_version != ABI_VERSION {
        return Err(format!(
            "module descriptor has ABI version {}, runtime expects {ABI_VERSION}",
            desc.abi_version
        ));
    }
    bounds_mode(desc)?;
    let known = aot_abi::MODULE_FLAG_MEMORY0_FIXED | aot_abi::MODULE_FLAG_MEMORY0_FOLDED;
    if desc.flags & !known != 0
        || desc.flags & aot_abi::MODULE_FLAG_MEMORY0_FOLDED != 0
            && (desc.flags & aot_abi::MODULE_FLAG_MEMORY0_FIXED == 0
                || aot_abi::Arch::NATIVE != aot_abi::Arch::X86_64)
    {
        return Err(format!("unknown module flags {:#x}", desc.flags));
    }
    // SAFETY: the compiler emits `meta_len` bytes at `meta`.
    let bytes = unsafe { crate::raw_slice(desc.meta, desc.meta_len) };
    let meta = ModuleMeta::decode_static(bytes).map_err(|e| e.to_string())?;
    let ntypes = meta.types.len();
    let imported = meta.imported_funcs() as usize;
    let defined = meta
        .funcs
        .len()
        .checked_sub(imported)
        .ok_or("more imported functions than functions")?;
    if desc.num_funcs != defined {
        return Err(format!(
            "descriptor has {} functions, metadata {defined}",
            desc.num_funcs
        ));
    }
    if desc.num_host_imports != imported {
        return Err(format!(
            "descriptor has {} host-import entries, metadata {imported} imported functions",
            desc.num_host_imports
        ));
    }
    if desc.num_trampolines != ntypes {
        return Err(format!(
            "descriptor has {} trampolines, metadata {ntypes} types",
            desc.num_trampolines
        ));
    }
    if !meta.funcref_slots.fits(defined as u32) {
        return Err("funcref slots of functions that do not exist".into());
    }
    // Without early exit or a running maximum, the compare over a large module's 100,000
    // functions vectorises.
    let func_types_ok = !meta
        .funcs
        .iter()
        .fold(false, |bad, &t| bad | (t as usize >= ntypes))
        && meta
            .imports
            .iter()
            .all(|i| !matches!(i.kind, ImportKind::Func(t) if t as usize >= ntypes));
    if !func_types_ok {
        return Err("function type index out of range".into());
    }
    for (i, d) in meta.datas.iter().enumerate() {
        let end = u64::from(d.offset) + u64::from(d.len);
        if end > desc.data_len as u64 {
            return Err(format!(
                "data segment {i} lies outside the descriptor's data"
            ));
        }
    }
    Ok(meta)
}

/// The import numbered `import` (among all of the module's imports) as the runtime
/// provides it, if the compiler resolved it to a host function: the module's host-call
/// trampoline, called with the importing instance's own vmctx.
pub fn host_import(desc: &'static ModuleDescriptor, import: usize) -> Option<Extern> {
    let meta = module_meta(desc).ok()?;
    let i = meta.imports.get(import)?;
    let ImportKind::Func(t) = i.kind else {
        return None;
    };
    let func_index = meta.imports[..import]
        .iter()
        .filter(|i| matches!(i.kind, ImportKind::Func(_)))
        .count();
    // SAFETY: module_meta checked that the compiler emitted one entry per imported function.
    let tramps = unsafe { crate::raw_slice(desc.host_imports, desc.num_host_imports) };
    let code = *tramps.get(func_index)?;
    let type_id = *crate::types::module_ids(meta).get(t as usize)?;
    (!code.is_null()).then_some(Extern::Func(FuncHandle {
        code,
        vmctx: core::ptr::null_mut(),
        type_id,
    }))
}

/// A new memory for import number `import` of `desc`'s module, if it is a memory the
/// runtime provides when the instantiation plan says so (`ImportSource::Host` for a memory:
/// a shared memory no other module provides, see `aot_abi::host::host_provides_memory`).
/// Only plans create one: the spec driver and the linker find memories by name.
pub fn host_memory_import(
    desc: &'static ModuleDescriptor,
    import: usize,
) -> Result<Extern, String> {
    let meta = module_meta(desc)?;
    let i = meta
        .imports
        .get(import)
        .ok_or_else(|| format!("no import {import}"))?;
    match i.kind {
        ImportKind::Memory(ty) if aot_abi::host::host_provides_memory(&ty) => {
            let mode = bounds_mode(desc)?;
            // Memory 0 is the module's first memory import.
            let is_memory0 = !meta.imports[..import]
                .iter()
                .any(|i| matches!(i.kind, ImportKind::Memory(_)));
            let memory = Memory::new_at(&ty, mode, memory0_placement(desc, is_memory0))?;
            Ok(Extern::Memory(MemoryRef::host(memory, mode)))
        }
        _ => Err("the runtime does not provide it".into()),
    }
}

/// Where memory 0 goes, for the memory that is memory 0 of `desc`'s module (`is_memory0`):
/// at the fixed base if the module's code assumes it there. Only the one instance a
/// program makes of such a module creates it (the compiler sets the flag only then; the
/// instances of wasi-threads import the memory the first one's plan created), and a
/// second attempt would fail to reserve the range rather than move the memory.
fn memory0_placement(desc: &ModuleDescriptor, is_memory0: bool) -> Placement {
    if is_memory0 && desc.flags & aot_abi::MODULE_FLAG_MEMORY0_FIXED != 0 {
        Placement::Fixed {
            folded: desc.flags & aot_abi::MODULE_FLAG_MEMORY0_FOLDED != 0,
        }
    } else {
        Placement::Anywhere
    }
}

fn bounds_mode(desc: &ModuleDescriptor) -> Result<BoundsMode, String> {
    BoundsMode::from_u32(desc.bounds_mode)
        .ok_or_else(|| format!("unknown bounds mode {}", desc.bounds_mode))
}

// ---------------------------------------------------------------------------------------
// Externals: what an instance exports and another imports

/// A function as an import sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncHandle {
    pub code: *const u8,
    /// The context to call `code` with; null for a host function, which receives the
    /// importing instance's own vmctx.
    pub vmctx: *mut u8,
    pub type_id: u32,
}

/// A linear memory: the object that owns it and the one `VMMemoryDef` generated code reads.
#[derive(Clone, Copy)]
pub struct MemoryRef {
    memory: &'static Mutex<Memory>,
    def: *mut VMMemoryDef,
    mode: BoundsMode,
}

impl MemoryRef {
    /// A host memory: the memory's own `VMMemoryDef` is the one generated code reads.
    pub fn host(memory: Memory, mode: BoundsMode) -> MemoryRef {
        let def = memory.def();
        MemoryRef {
            memory: Box::leak(Box::new(Mutex::new(memory))),
            def,
            mode,
        }
    }

    pub fn def(&self) -> *mut VMMemoryDef {
        self.def
    }

    /// The memory object, for the bulk operations (which keep this ref's `def` valid: they
    /// change contents, not the length).
    pub fn memory(&self) -> &'static Mutex<Memory> {
        self.memory
    }

    pub fn mode(&self) -> BoundsMode {
        self.mode
    }

    pub fn base(&self) -> *mut u8 {
        // SAFETY: `def` lives as long as the memory, i.e. forever.
        unsafe { (*self.def).base }
    }

    /// Accessible bytes.
    pub fn len_bytes(&self) -> u64 {
        // SAFETY: as in `base`.
        unsafe { crate::memory::load_length(self.def) }
    }

    pub fn size_pages(&self) -> u64 {
        self.memory.locked().size_pages()
    }

    /// The declared type.
    pub fn ty(&self) -> MemoryType {
        *self.memory.locked().ty()
    }

    /// The type for import matching: the current size as minimum.
    pub fn current_type(&self) -> MemoryType {
        MemoryType {
            min: self.size_pages(),
            ..self.ty()
        }
    }

    /// memory.copy from `src` (possibly this same memory, ranges possibly overlapping)
    /// without either memory's lock: the bounds checks read the current lengths (which only
    /// ever grow) and the bytes are copied in place, so threads copying within a shared
    /// memory at once do not serialise on its lock, any more than their stores do. Nothing
    /// is written when a range is out of bounds.
    pub fn copy_from(
        &self,
        src: &MemoryRef,
        dst: u64,
        from: u64,
        len: u64,
    ) -> Result<(), TrapKind> {
        let d = crate::memory::checked_range(dst, len, self.len_bytes())?.start;
        let s = crate::memory::checked_range(from, len, src.len_bytes())?.start;
        // SAFETY: both ranges lie within the accessible bytes at the bases, which stay
        // accessible for the memories' lives (memories never shrink or move); `ptr::copy`
        // is a memmove, right for overlapping ranges of one memory.
        unsafe { core::ptr::copy(src.base().add(s), self.base().add(d), len as usize) };
        Ok(())
    }

    /// memory.grow: returns the old size in pages, or None.
    pub fn grow(&self, delta_pages: u64) -> Option<u64> {
        let mut memory = self.memory.locked();
        let old = memory.grow(delta_pages)?;
        // The vmctx slot generated code reads may be a copy of the memory's own def (see the
        // module docs); for host memories they are the same. Still under the memory's lock,
        // so growths publish their lengths in order.
        // SAFETY: both defs live as long as the memory, i.e. forever.
        unsafe { crate::memory::store_length(self.def, crate::memory::load_length(memory.def())) };
        Some(old)
    }
}

/// A global: its storage and type.
#[derive(Clone, Copy, Debug)]
pub struct GlobalRef {
    ptr: *mut VMGlobal,
    ty: GlobalType,
}

impl GlobalRef {
    /// A host global with its own (leaked) storage.
    pub fn host(ty: GlobalType, value: ValRaw) -> GlobalRef {
        let ptr = Box::into_raw(Box::new(VMGlobal { bytes: value.0 }));
        GlobalRef { ptr, ty }
    }

    pub fn ty(&self) -> GlobalType {
        self.ty
    }

    pub fn ptr(&self) -> *mut VMGlobal {
        self.ptr
    }

    pub fn get(&self) -> ValRaw {
        // SAFETY: global storage lives forever (leaked host box or a leaked vmctx slot).
        ValRaw(unsafe { (*self.ptr).bytes })
    }

    pub fn set(&self, value: ValRaw) {
        // SAFETY: as in `get`.
        unsafe { (*self.ptr).bytes = value.0 }
    }
}

pub type TableRef = &'static Mutex<Table>;

// SAFETY (the four impls below): these handles are addresses of storage that is leaked and
// never freed (vmctx slots, host boxes, code in the executable's image), so sending or
// sharing them never lets one outlive its target. Every mutation behind them goes through a
// lock (memories, tables, segments) or is made by Wasm code of the store that owns the
// instance, which one thread runs at a time; what the handles read without a lock (a
// global's value) is only ever read by that same thread, and a memory's current length,
// which threads sharing a memory read while one grows it, is an atomic
// (`memory::load_length`).
unsafe impl Send for FuncHandle {}
unsafe impl Sync for FuncHandle {}
unsafe impl Send for MemoryRef {}
unsafe impl Sync for MemoryRef {}
unsafe impl Send for GlobalRef {}
unsafe impl Sync for GlobalRef {}
// SAFETY: as above: an Instance owns no memory of its own beyond its leaked vmctx, its
// interior mutability is behind Mutexes and atomics (segments), and its raw pointers are
// the addresses of leaked storage.
unsafe impl Send for Instance {}
unsafe impl Sync for Instance {}

/// The runtime objects threads will share are `Send + Sync`.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Instance>();
    shared::<Extern>();
    shared::<MemoryRef>();
    shared::<TableRef>();
    shared::<GlobalRef>();
    shared::<FuncHandle>();
    shared::<crate::store::Store>();
};

/// Anything an instance can export and another can import.
#[derive(Clone, Copy)]
pub enum Extern {
    Func(FuncHandle),
    Table(TableRef),
    Memory(MemoryRef),
    Global(GlobalRef),
    Tag(crate::exceptions::TagRef),
}

// ---------------------------------------------------------------------------------------
// Instantiation

/// Why [`instantiate`] failed.
pub enum InstantiateError {
    /// An import is missing or has the wrong type (the spec's assert_unlinkable).
    Link(String),
    /// A segment did not fit or the start function trapped (assert_uninstantiable).
    Trap(Trap),
    /// The module descriptor is malformed or a resource could not be allocated.
    Other(String),
}

impl core::fmt::Display for InstantiateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InstantiateError::Link(m) | InstantiateError::Other(m) => f.write_str(m),
            InstantiateError::Trap(t) => write!(f, "wasm trap: {}", t.message()),
        }
    }
}

fn trap_of(kind: TrapKind) -> InstantiateError {
    InstantiateError::Trap(Trap {
        kind,
        pc: 0,
        backtrace: Vec::new(),
        detail: None,
    })
}

pub struct Instance {
    desc: &'static ModuleDescriptor,
    meta: &'static ModuleMeta,
    offsets: VMOffsets,
    vmctx: *mut u8,
    /// Memories, tables and globals in the module's index spaces (imports first).
    memories: Vec<MemoryRef>,
    tables: Vec<TableRef>,
    globals: Vec<GlobalRef>,
    /// Tags in the module's index space (imports first).
    tags: Vec<crate::exceptions::TagRef>,
    /// Element segments, evaluated at instantiation; dropped ones are empty.
    elems: Vec<Mutex<Vec<usize>>>,
    dropped_datas: Vec<AtomicBool>,
    /// What the instance was instantiated with, for the instances of new threads
    /// (wasi-threads instantiates the same module with the same imports).
    imports: Vec<Extern>,
}

/// Instantiates `desc` with `imports` (one per import of the module, in order, already
/// found by name; their types are checked here) in the program's store.
pub fn instantiate(
    desc: &'static ModuleDescriptor,
    imports: &[Extern],
) -> Result<&'static Instance, InstantiateError> {
    instantiate_in(desc, imports, crate::store::store())
}

/// [`instantiate`] in `store`: the instance's Wasm code runs with `store`'s context (the
/// thread that runs it, its stack limit and pending trap), as the instances of a thread
/// other than the main one do.
pub fn instantiate_in(
    desc: &'static ModuleDescriptor,
    imports: &[Extern],
    store: &'static crate::store::Store,
) -> Result<&'static Instance, InstantiateError> {
    let meta = module_meta(desc).map_err(InstantiateError::Other)?;
    let mode = bounds_mode(desc).map_err(InstantiateError::Other)?;
    if imports.len() != meta.imports.len() {
        return Err(InstantiateError::Other(format!(
            "{} imports given for a module with {}",
            imports.len(),
            meta.imports.len()
        )));
    }
    let type_ids = crate::types::module_ids(meta);
    for (import, ext) in meta.imports.iter().zip(imports) {
        crate::imports::check_import(import, ext, type_ids, mode)
            .map_err(InstantiateError::Link)?;
    }

    let offsets = VMOffsets::new(meta.counts());
    let vmctx = alloc_vmctx(offsets.size).map_err(InstantiateError::Other)?;
    let ctx = VmctxWriter { vmctx, offsets };
    ctx.write(
        VMCTX_STORE,
        store.context() as *const aot_abi::VMStoreContext,
    );

    for (i, &id) in type_ids.iter().enumerate() {
        ctx.write(offsets.type_id(i as u32), id);
        ctx.write(offsets.gc_type(i as u32), crate::types::gc_type_info(id));
    }

    let mut memories =
        Vec::with_capacity(meta.counts().imported_memories as usize + meta.memories.len());
    let mut tables: Vec<TableRef> = Vec::new();
    let mut globals = Vec::new();
    let mut tags = Vec::with_capacity(offsets.counts.tags as usize);
    let mut nfuncs = 0u32;
    for ext in imports {
        match *ext {
            Extern::Func(f) => {
                let callee_vmctx = if f.vmctx.is_null() { vmctx } else { f.vmctx };
                let import = VMFunctionImport {
                    code: f.code,
                    vmctx: callee_vmctx,
                };
                let funcref = VMFuncRef {
                    code: f.code,
                    vmctx: callee_vmctx,
                    type_id: f.type_id,
                };
                ctx.write(offsets.imported_func(nfuncs), import);
                ctx.write(offsets.funcref(nfuncs), funcref);
                nfuncs += 1;
            }
            Extern::Table(t) => {
                ctx.write(
                    offsets.imported_table(tables.len() as u32),
                    t.locked().def(),
                );
                tables.push(t);
            }
            Extern::Memory(m) => {
                ctx.write(offsets.imported_memory(memories.len() as u32), m.def());
                memories.push(m);
            }
            Extern::Global(g) => {
                ctx.write(offsets.imported_global(globals.len() as u32), g.ptr());
                globals.push(g);
            }
            Extern::Tag(t) => {
                ctx.write(offsets.tag(tags.len() as u32), t.ptr());
                tags.push(t);
            }
        }
    }
    for &t in &meta.tags {
        // A fresh tag per instantiation: its address is its identity.
        let tag = crate::exceptions::TagRef::new(type_ids[t as usize]);
        ctx.write(offsets.tag(tags.len() as u32), tag.ptr());
        tags.push(tag);
    }

    // Only the defined functions something can reference have a VMFuncRef slot
    // (`FuncrefSlots`); each is written when a constant expression evaluated below
    // (element segments, globals, table initialisers) or an export names it.
    // SAFETY: the compiler emits `num_funcs` code pointers (count checked in module_meta).
    let code = unsafe { crate::raw_slice(desc.funcs, desc.num_funcs) };
    let imported_funcs = nfuncs;
    let write_funcref = |index: u32, slot: u32| {
        if let Some(&code) = index
            .checked_sub(imported_funcs)
            .and_then(|i| code.get(i as usize))
        {
            let type_id = type_ids[meta.funcs[index as usize] as usize];
            ctx.write(
                offsets.funcref(slot),
                VMFuncRef {
                    code,
                    vmctx,
                    type_id,
                },
            );
        }
    };
    let funcref_slot = |index: u32| meta.funcref_slots.slot(imported_funcs, index);
    for e in &meta.exports {
        if e.kind == ExternKind::Func
            && let Some(slot) = funcref_slot(e.index)
        {
            write_funcref(e.index, slot);
        }
    }

    let imported_memories = memories.len() as u32;
    for (i, ty) in meta.memories.iter().enumerate() {
        let placement = memory0_placement(desc, imported_memories == 0 && i == 0);
        let memory = Memory::new_at(ty, mode, placement).map_err(InstantiateError::Other)?;
        let own = memory.def();
        // SAFETY: `memory.def()` is valid while the memory lives.
        let (base, current_length) = unsafe { ((*own).base, (*own).current_length) };
        // The copy makes the vmctx slot the authoritative def (see the module docs).
        let slot = ctx.write(
            offsets.defined_memory(i as u32),
            VMMemoryDef {
                base,
                current_length,
            },
        );
        memories.push(MemoryRef {
            memory: Box::leak(Box::new(Mutex::new(memory))),
            def: slot,
            mode,
        });
    }
    debug_assert_eq!(
        memories.len() as u32,
        imported_memories + meta.memories.len() as u32
    );
    // Code compiled for a fixed memory 0 must never run against a memory elsewhere (an
    // imported one the plan did not create at the fixed base, say): refuse the instance.
    if desc.flags & aot_abi::MODULE_FLAG_MEMORY0_FIXED != 0
        && memories.first().map(|m| m.base() as usize) != Some(crate::memory::fixed_memory0_base())
    {
        return Err(InstantiateError::Other(format!(
            "the module's code assumes memory 0 at {:#x}, and it is not there",
            crate::memory::fixed_memory0_base()
        )));
    }

    let funcref_addr = |i: u32| {
        funcref_slot(i).map(|slot| {
            write_funcref(i, slot);
            vmctx as usize + offsets.funcref(slot) as usize
        })
    };
    let bad_const = |what: String, fail: ConstFail| match fail {
        ConstFail::Malformed(why) => {
            InstantiateError::Other(format!("malformed constant expression in {what}: {why}"))
        }
        ConstFail::Trap(kind) => trap_of(kind),
    };
    let traced = |t: aot_abi::ValType| aot_abi::gc::is_traced(&t, crate::types::is_func);
    // The roots registered below go if instantiation fails (their storage may go with it).
    let roots_guard = crate::gc::RootsGuard::new(store);
    for (i, g) in meta.globals.iter().enumerate() {
        let env = ConstEnv {
            globals: &globals,
            funcref: &funcref_addr,
            meta,
            type_ids,
            store,
        };
        let value =
            eval_const_in(&g.init, &env).map_err(|e| bad_const(format!("global {i}"), e))?;
        let slot = ctx.write(
            offsets.defined_global(i as u32),
            VMGlobal { bytes: value.0 },
        );
        let ty = crate::types::canonical_val(g.ty.ty, type_ids);
        if traced(ty) {
            store.gc().add_root(crate::gc::Root::Global(slot));
        }
        globals.push(GlobalRef {
            ptr: slot,
            ty: GlobalType {
                ty,
                mutable: g.ty.mutable,
            },
        });
    }

    for (i, t) in meta.tables.iter().enumerate() {
        let env = ConstEnv {
            globals: &globals,
            funcref: &funcref_addr,
            meta,
            type_ids,
            store,
        };
        let init = match &t.init {
            Some(e) => eval_const_in(e, &env).map_err(|e| bad_const(format!("table {i}"), e))?,
            None => ValRaw::default(),
        };
        let slot = ctx.slot(offsets.defined_table(i as u32));
        let ty = TableType {
            elem: crate::types::canonical_val(t.ty.elem, type_ids),
            ..t.ty
        };
        // SAFETY: the slot lives forever and only this table (and generated code) writes it.
        let table = unsafe { Table::with_def(ty, init.u64() as usize, slot) }
            .map_err(InstantiateError::Other)?;
        if traced(ty.elem) {
            store.gc().add_root(crate::gc::Root::Table(slot));
        }
        tables.push(Box::leak(Box::new(Mutex::new(table))));
    }

    // Sized up front so that the segments registered as roots below never move.
    let mut elems: Vec<Mutex<Vec<usize>>> = Vec::with_capacity(meta.elems.len());
    for (i, seg) in meta.elems.iter().enumerate() {
        let env = ConstEnv {
            globals: &globals,
            funcref: &funcref_addr,
            meta,
            type_ids,
            store,
        };
        let seg_traced = traced(crate::types::canonical_val(seg.ty, type_ids));
        // Sized up front: growing by reallocation churns musl's allocator (see eval_const).
        let mut items = Vec::with_capacity(seg.items.len());
        let held = store.gc().host_roots().len();
        for item in seg.items.iter() {
            let v = match item {
                ElemItem::Func(f) => funcref_addr(f)
                    .map(|a| ValRaw::from_u64(a as u64))
                    .ok_or_else(|| ConstFail::Malformed(format!("ref.func {f} out of range"))),
                ElemItem::Expr(e) => eval_const_in(e, &env),
            };
            let v = v.map_err(|e| {
                // The items held so far go with the failed instantiation.
                store.gc().host_roots().truncate(held);
                bad_const(format!("element segment {i}"), e)
            })?;
            if seg_traced {
                // Held by the heap until the segment is whole, as a later item may collect.
                store.gc().host_roots().push(v.u64());
            } else {
                items.push(v.u64() as usize);
            }
        }
        if seg_traced {
            let mut heap = store.gc();
            let at = heap.host_roots().len() - seg.items.len();
            items.extend(heap.host_roots().drain(at..).map(|w| w as usize));
        }
        elems.push(Mutex::new(items));
        if seg_traced {
            let last = elems.last().expect("pushed above") as *const Mutex<Vec<usize>>;
            store.gc().add_root(crate::gc::Root::Segment(last));
        }
    }

    let instance: &'static Instance = Box::leak(Box::new(Instance {
        desc,
        meta,
        offsets,
        vmctx,
        memories,
        tables,
        globals,
        tags,
        elems,
        dropped_datas: meta.datas.iter().map(|_| AtomicBool::new(false)).collect(),
        imports: imports.to_vec(),
    }));
    ctx.write(VMCTX_INSTANCE, instance as *const Instance);
    instance.initialize()?;
    roots_guard.keep();
    Ok(instance)
}

/// Whether an instance of `meta` can be freed once the thread it was made for has finished:
/// only when nothing of it can have escaped to another thread. Its funcrefs and exception
/// tags can leave it only through an imported table or an imported reference global (its
/// exports are reachable by no one: a thread's instance is never linked to), and nothing
/// the host keeps refers to an instance.
pub(crate) fn freeable_after_thread(meta: &ModuleMeta) -> bool {
    meta.imports.iter().all(|i| match i.kind {
        ImportKind::Table(_) => false,
        ImportKind::Global(g) => !matches!(g.ty, aot_abi::ValType::Ref(_)),
        _ => true,
    })
}

/// Frees `instance`, which [`instantiate_in`] made for a thread that has finished, with
/// the tables and memories it defines and the `store` it ran in.
///
/// # Safety
/// No code runs in, and nothing refers to, `instance` or `store` any more: the thread that
/// used them has returned from its last call, and [`freeable_after_thread`] holds for the
/// instance's module. (Its tags are left alone: they are tiny, and an exception object
/// made by a failed call may still name one.)
pub(crate) unsafe fn free_thread_instance(
    instance: &'static Instance,
    store: &'static crate::store::Store,
) {
    let counts = instance.meta.counts();
    let ptr = instance as *const Instance as *mut Instance;
    // SAFETY: per the contract the instance is no longer used; it came from Box::leak in
    // `instantiate_in`, as did each defined table and memory (indices past the imported
    // ones), and its vmctx from `alloc_vmctx` with the same size. None is freed twice: the
    // instance is unreachable after this.
    unsafe {
        let instance = Box::from_raw(ptr);
        for t in &instance.tables[counts.imported_tables as usize..] {
            drop(Box::from_raw(
                *t as *const Mutex<Table> as *mut Mutex<Table>,
            ));
        }
        for m in &instance.memories[counts.imported_memories as usize..] {
            drop(Box::from_raw(
                m.memory as *const Mutex<Memory> as *mut Mutex<Memory>,
            ));
        }
        let layout = std::alloc::Layout::from_size_align(instance.offsets.size as usize, 16)
            .expect("the layout alloc_vmctx used");
        std::alloc::dealloc(instance.vmctx, layout);
        drop(instance);
        crate::store::Store::free_thread_store(store);
    }
}

fn alloc_vmctx(size: u32) -> Result<*mut u8, String> {
    let layout =
        std::alloc::Layout::from_size_align(size as usize, 16).map_err(|e| e.to_string())?;
    // SAFETY: the layout's size is at least the 16-byte header, so nonzero.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(format!("cannot allocate a vmctx of {size} bytes"));
    }
    Ok(ptr)
}

/// Typed, bounds-checked access to a vmctx being built (a fresh allocation of
/// `offsets.size` bytes, 16-aligned, that nothing else refers to yet).
struct VmctxWriter {
    vmctx: *mut u8,
    offsets: VMOffsets,
}

impl VmctxWriter {
    /// The field of type `T` at `offset`. Panics if it does not fit or is misaligned: that
    /// would be a bug in VMOffsets, not something input can cause.
    fn slot<T>(&self, offset: u32) -> *mut T {
        let offset = offset as usize;
        assert!(
            offset + size_of::<T>() <= self.offsets.size as usize,
            "vmctx field out of bounds"
        );
        assert_eq!(offset % align_of::<T>(), 0, "misaligned vmctx field");
        self.vmctx.wrapping_add(offset).cast()
    }

    /// Writes `value` into the field at `offset` and returns the field's address.
    fn write<T>(&self, offset: u32, value: T) -> *mut T {
        let slot = self.slot::<T>(offset);
        // SAFETY: `slot` checked the field lies inside the allocation and is aligned (the
        // allocation is 16-aligned), and nothing holds a reference into the vmctx.
        unsafe { slot.write(value) };
        slot
    }
}

/// A constant expression of the one instruction `op` (one that pushes a value).
fn eval_single(
    op: ConstOp,
    globals: &[GlobalRef],
    funcref: &dyn Fn(u32) -> Option<usize>,
) -> Result<ValRaw, String> {
    Ok(match op {
        ConstOp::I32Const(v) => ValRaw::from_u32(v as u32),
        ConstOp::I64Const(v) => ValRaw::from_u64(v as u64),
        ConstOp::F32Const(bits) => ValRaw::from_u32(bits),
        ConstOp::F64Const(bits) => ValRaw::from_u64(bits),
        ConstOp::V128Const(v) => ValRaw(v.to_le_bytes()),
        ConstOp::RefNull(_) => ValRaw::default(),
        ConstOp::RefFunc(i) => {
            ValRaw::from_u64(funcref(i).ok_or_else(|| format!("ref.func {i} out of range"))? as u64)
        }
        ConstOp::GlobalGet(i) => globals
            .get(i as usize)
            .ok_or_else(|| format!("global.get {i} out of range"))?
            .get(),
        ConstOp::I32Add
        | ConstOp::I32Sub
        | ConstOp::I32Mul
        | ConstOp::I64Add
        | ConstOp::I64Sub
        | ConstOp::I64Mul => return Err("operand stack underflow".into()),
        gc => {
            debug_assert!(gc.is_gc());
            return Err("a GC instruction outside an instance's initialisation".into());
        }
    })
}

/// What a constant expression of an instance being made may use beyond globals and
/// function references: GC's allocating instructions need the module's types and the
/// store's heap.
pub(crate) struct ConstEnv<'a> {
    pub globals: &'a [GlobalRef],
    pub funcref: &'a dyn Fn(u32) -> Option<usize>,
    pub meta: &'a ModuleMeta,
    pub type_ids: &'a [u32],
    pub store: &'a crate::store::Store,
}

/// Why a constant expression gave no value.
pub(crate) enum ConstFail {
    /// The expression is malformed (a descriptor the compiler did not make).
    Malformed(String),
    /// An allocation failed (`allocation size too large`, `GC heap out of memory`): the
    /// instantiation fails with that trap, as in wasmtime.
    Trap(TrapKind),
}

impl From<String> for ConstFail {
    fn from(why: String) -> ConstFail {
        ConstFail::Malformed(why)
    }
}

/// [`eval_const`] with GC's constant instructions.
pub(crate) fn eval_const_in(expr: &ConstExpr, env: &ConstEnv) -> Result<ValRaw, ConstFail> {
    if !expr.0.iter().any(ConstOp::is_gc) {
        return Ok(eval_const(expr, env.globals, env.funcref)?);
    }
    crate::gc::eval_gc_const(expr, env)
}

/// Evaluates a constant expression. `funcref(i)` is the address of function `i`'s
/// `VMFuncRef`; `global.get` reads the globals given (imported and earlier defined ones).
/// The value of arithmetic operator `op` on `a` and `b` (wrapping, as Wasm's).
pub(crate) fn binop(op: ConstOp, a: ValRaw, b: ValRaw) -> ValRaw {
    let (a32, b32, a64, b64) = (a.u32(), b.u32(), a.u64(), b.u64());
    match op {
        ConstOp::I32Add => ValRaw::from_u32(a32.wrapping_add(b32)),
        ConstOp::I32Sub => ValRaw::from_u32(a32.wrapping_sub(b32)),
        ConstOp::I32Mul => ValRaw::from_u32(a32.wrapping_mul(b32)),
        ConstOp::I64Add => ValRaw::from_u64(a64.wrapping_add(b64)),
        ConstOp::I64Sub => ValRaw::from_u64(a64.wrapping_sub(b64)),
        ConstOp::I64Mul => ValRaw::from_u64(a64.wrapping_mul(b64)),
        _ => unreachable!("binop of a non-arithmetic operator"),
    }
}

pub fn eval_const(
    expr: &ConstExpr,
    globals: &[GlobalRef],
    funcref: &dyn Fn(u32) -> Option<usize>,
) -> Result<ValRaw, String> {
    // Nearly every constant expression is one instruction (an element's ref.func, a
    // segment's i32.const). They are evaluated without allocating: a segment of many
    // elements would otherwise allocate and free once per element, and musl's allocator
    // may map and unmap a page each time.
    if let [op] = expr.0.as_slice() {
        return eval_single(*op, globals, funcref);
    }
    let mut stack: Vec<ValRaw> = Vec::with_capacity(expr.0.len());
    let pop = |stack: &mut Vec<ValRaw>| {
        stack
            .pop()
            .ok_or_else(|| "operand stack underflow".to_string())
    };
    for op in &expr.0 {
        let value = match *op {
            ConstOp::I32Add
            | ConstOp::I32Sub
            | ConstOp::I32Mul
            | ConstOp::I64Add
            | ConstOp::I64Sub
            | ConstOp::I64Mul => {
                let b = pop(&mut stack)?;
                let a = pop(&mut stack)?;
                binop(*op, a, b)
            }
            push => eval_single(push, globals, funcref)?,
        };
        stack.push(value);
    }
    match stack.as_slice() {
        [v] => Ok(*v),
        s => Err(format!("leaves {} values instead of 1", s.len())),
    }
}

impl Instance {
    /// The instance whose vmctx is `vmctx`.
    ///
    /// # Safety
    /// `vmctx` must be the vmctx of an instance made by [`instantiate`] (as every builtin
    /// and host function receives).
    pub unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a Instance {
        // SAFETY: offset 8 of a live vmctx holds its leaked, never-freed Instance.
        unsafe {
            &*vmctx
                .add(VMCTX_INSTANCE as usize)
                .cast::<*const Instance>()
                .read()
        }
    }

    pub fn vmctx(&self) -> *mut u8 {
        self.vmctx
    }

    pub fn meta(&self) -> &'static ModuleMeta {
        self.meta
    }

    /// The imports the instance was created with, in the module's import order.
    pub fn imports(&self) -> &[Extern] {
        &self.imports
    }

    pub fn descriptor(&self) -> &'static ModuleDescriptor {
        self.desc
    }

    /// Memory `index` in the module's index space (imports first).
    pub fn memory(&self, index: u32) -> Option<MemoryRef> {
        self.memories.get(index as usize).copied()
    }

    pub fn table(&self, index: u32) -> Option<TableRef> {
        self.tables.get(index as usize).copied()
    }

    pub fn global(&self, index: u32) -> Option<GlobalRef> {
        self.globals.get(index as usize).copied()
    }

    /// The evaluated elements of segment `index` (empty once dropped).
    pub fn elem_segment(&self, index: u32) -> Option<&Mutex<Vec<usize>>> {
        self.elems.get(index as usize)
    }

    /// The bytes of data segment `index` (empty once dropped).
    pub fn data_segment(&self, index: u32) -> Option<&'static [u8]> {
        let seg = self.meta.datas.get(index as usize)?;
        if self.dropped_datas[index as usize].load(Ordering::Acquire) {
            return Some(&[]);
        }
        // SAFETY: the descriptor holds `data_len` bytes at `data`, which outlive the
        // process image; module_meta checked that every segment lies within them.
        let data = unsafe { crate::raw_slice(self.desc.data, self.desc.data_len) };
        Some(&data[seg.offset as usize..][..seg.len as usize])
    }

    pub fn drop_data(&self, index: u32) {
        if let Some(d) = self.dropped_datas.get(index as usize) {
            d.store(true, Ordering::Release);
        }
    }

    pub fn drop_elem(&self, index: u32) {
        if let Some(e) = self.elems.get(index as usize) {
            *e.locked() = Vec::new();
        }
    }

    /// The type of function `index`.
    pub fn func_type(&self, index: u32) -> Option<&'static FuncType> {
        let t = *self.meta.funcs.get(index as usize)?;
        self.meta.types.get(t as usize)
    }

    /// The module's array-call trampoline for functions whose interned type id is
    /// `type_id`, if the module declares that type. Host code calls Wasm code only through
    /// one of these (generated code uses its own calling convention).
    pub fn array_trampoline(&self, type_id: u32) -> Option<ArrayCallFn> {
        let t = crate::types::module_ids(self.meta)
            .iter()
            .position(|id| *id == type_id)?;
        // SAFETY: module_meta checked that there is one trampoline per type.
        let trampolines =
            unsafe { crate::raw_slice(self.desc.trampolines, self.desc.num_trampolines) };
        trampolines.get(t).copied()
    }

    /// The `VMFuncRef` of function `index` (the pointer a funcref value holds), written at
    /// instantiation. Imported and exported functions and those constant expressions name
    /// have one (all that Wasm code can take a reference to); any other has none.
    pub fn funcref(&self, index: u32) -> Option<*const VMFuncRef> {
        let slot = self
            .meta
            .funcref_slots
            .slot(self.offsets.counts.imported_funcs, index)?;
        Some(self.vmctx.wrapping_add(self.offsets.funcref(slot) as usize) as *const VMFuncRef)
    }

    /// The export called `name`.
    pub fn export(&self, name: &str) -> Option<Extern> {
        let index = self.meta.exports.iter().position(|e| e.name == name)?;
        self.export_by_index(index as u32)
    }

    /// Export number `index` (in the module's export section order).
    pub fn export_by_index(&self, index: u32) -> Option<Extern> {
        let e = self.meta.exports.get(index as usize)?;
        match e.kind {
            ExternKind::Func => {
                let f = self.funcref(e.index)?;
                // SAFETY: funcrefs in the vmctx were all written at instantiation.
                let (code, vmctx, type_id) = unsafe { ((*f).code, (*f).vmctx, (*f).type_id) };
                Some(Extern::Func(FuncHandle {
                    code,
                    vmctx,
                    type_id,
                }))
            }
            ExternKind::Table => self.table(e.index).map(Extern::Table),
            ExternKind::Memory => self.memory(e.index).map(Extern::Memory),
            ExternKind::Global => self.global(e.index).map(Extern::Global),
            ExternKind::Tag => self.tags.get(e.index as usize).copied().map(Extern::Tag),
        }
    }

    /// The index of the function exported as `name`.
    pub fn exported_func(&self, name: &str) -> Option<u32> {
        self.meta
            .exports
            .iter()
            .find(|e| e.name == name && e.kind == ExternKind::Func)
            .map(|e| e.index)
    }

    /// The code and context to call function `index` (a valid index) with: the import's
    /// slot for an imported function (written at instantiation), the code and this
    /// instance's context for a defined one (whose funcref may not be written).
    fn callee(&self, index: u32) -> (*const u8, *mut u8) {
        let imported = self.offsets.counts.imported_funcs;
        match index.checked_sub(imported) {
            None => {
                let slot = self
                    .vmctx
                    .wrapping_add(self.offsets.imported_func(index) as usize)
                    as *const VMFunctionImport;
                // SAFETY: every imported function's slot was written at instantiation.
                unsafe { ((*slot).code, (*slot).vmctx) }
            }
            Some(defined) => {
                // SAFETY: module_meta checked that the compiler emitted `num_funcs` pointers.
                let code = unsafe { crate::raw_slice(self.desc.funcs, self.desc.num_funcs) };
                (code[defined as usize], self.vmctx)
            }
        }
    }

    /// Calls function `index` with `args` through the module's array trampoline for its
    /// type, catching any trap.
    ///
    /// # Panics
    /// If `index` is not a function of this module or `args` does not have one value per
    /// parameter: callers check both against [`Instance::func_type`].
    pub fn call(&self, index: u32, args: &[ValRaw]) -> Result<Vec<ValRaw>, Trap> {
        let type_index = self.meta.funcs[index as usize];
        let ty = &self.meta.types[type_index as usize];
        assert_eq!(
            args.len(),
            ty.params.len(),
            "wrong number of arguments for function {index}"
        );
        // SAFETY: module_meta checked that there is one trampoline per type.
        let trampolines =
            unsafe { crate::raw_slice(self.desc.trampolines, self.desc.num_trampolines) };
        let trampoline: ArrayCallFn = trampolines[type_index as usize];
        let (code, vmctx) = self.callee(index);
        let mut values = vec![ValRaw::default(); args.len().max(ty.results.len()).max(1)];
        values[..args.len()].copy_from_slice(args);
        let values_ptr = values.as_mut_ptr();
        // SAFETY: this instance's vmctx is live (instances are never freed).
        let store = unsafe { crate::store::Store::from_vmctx(self.vmctx) };
        store.call_wasm(|| {
            // SAFETY: the trampoline for the function's own type reads its params from and
            // writes its results to `values`, which has room for both.
            unsafe { trampoline(code, vmctx, values_ptr) }
        })?;
        values.truncate(ty.results.len());
        Ok(values)
    }

    /// Wasm 2.0 instantiation after the vmctx is filled: element segments, data segments,
    /// start function.
    fn initialize(&self) -> Result<(), InstantiateError> {
        for (i, seg) in self.meta.elems.iter().enumerate() {
            match &seg.mode {
                SegmentMode::Active { index, offset } => {
                    let table64 = self.table(*index).is_some_and(|t| t.locked().ty().table64);
                    let dst = self.eval_offset(offset, table64)?;
                    let len = self.elems[i].locked().len() as u64;
                    crate::builtins::table_init(self, *index, i as u32, dst, 0, len)
                        .map_err(trap_of)?;
                    self.drop_elem(i as u32);
                }
                SegmentMode::Declared => self.drop_elem(i as u32),
                SegmentMode::Passive => {}
            }
        }
        for (i, seg) in self.meta.datas.iter().enumerate() {
            if let SegmentMode::Active { index, offset } = &seg.mode {
                let memory64 = self.memory(*index).is_some_and(|m| m.ty().memory64);
                let dst = self.eval_offset(offset, memory64)?;
                let bytes = self
                    .data_segment(i as u32)
                    .expect("an index of the module's own segments");
                self.memory(*index)
                    .ok_or_else(|| InstantiateError::Other(format!("no memory {index}")))?
                    .memory()
                    .locked()
                    .init_active(dst, bytes)
                    .map_err(trap_of)?;
                self.drop_data(i as u32);
            }
        }
        if let Some(start) = self.meta.start {
            if self.func_type(start).is_none_or(|t| !t.params.is_empty()) {
                return Err(InstantiateError::Other(format!(
                    "start function {start} is not a function of type [] -> []"
                )));
            }
            self.call(start, &[]).map_err(InstantiateError::Trap)?;
        }
        Ok(())
    }

    /// A segment offset: an i32 (zero-extended) or, for 64-bit memories, an i64.
    fn eval_offset(&self, expr: &ConstExpr, is64: bool) -> Result<u64, InstantiateError> {
        let v = eval_const(expr, &self.globals, &|i| {
            self.funcref(i).map(|p| p as usize)
        })
        .map_err(|e| InstantiateError::Other(format!("malformed segment offset: {e}")))?;
        Ok(if is64 { v.u64() } else { u64::from(v.u32()) })
    }
}

/// Hand-built modules for the unit tests: descriptors made from a `ModuleMeta`, whose
/// "compiled code" is Rust functions that read the vmctx exactly as generated code does.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use aot_abi::{
        DataSegment, DefinedGlobal, DefinedTable, ElemItems, ElemSegment, Export, Import,
        TableType, VMTableDef, ValType,
    };

    pub fn ft(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType {
            params: params.to_vec(),
            results: results.to_vec(),
        }
    }

    pub fn i32c(v: i32) -> ConstExpr {
        ConstExpr(vec![ConstOp::I32Const(v)])
    }

    pub fn import(module: &str, name: &str, kind: ImportKind) -> Import {
        Import {
            module: module.into(),
            name: name.into(),
            kind,
        }
    }

    pub fn export(name: &str, kind: ExternKind, index: u32) -> Export {
        Export {
            name: name.into(),
            kind,
            index,
        }
    }

    pub fn memory_type(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            min,
            max,
            shared: false,
            memory64: false,
            page_size_log2: 16,
        }
    }

    pub fn funcref_table(min: u64, max: Option<u64>) -> DefinedTable {
        DefinedTable {
            ty: TableType {
                elem: ValType::FuncRef,
                min,
                max,
                table64: false,
            },
            init: None,
        }
    }

    pub fn global(ty: ValType, mutable: bool, init: ConstExpr) -> DefinedGlobal {
        DefinedGlobal {
            ty: GlobalType { ty, mutable },
            init,
        }
    }

    /// An element segment of `ref.func` items (`None` = ref.null).
    pub fn elem(mode: SegmentMode, funcs: &[Option<u32>]) -> ElemSegment {
        ElemSegment {
            mode,
            ty: ValType::FuncRef,
            items: ElemItems::from_exprs(
                funcs
                    .iter()
                    .map(|f| {
                        ConstExpr(vec![match f {
                            Some(i) => ConstOp::RefFunc(*i),
                            None => ConstOp::RefNull(ValType::FuncRef),
                        }])
                    })
                    .collect(),
            ),
        }
    }

    pub fn active(index: u32, offset: i32) -> SegmentMode {
        SegmentMode::Active {
            index,
            offset: i32c(offset),
        }
    }

    pub fn data(mode: SegmentMode, offset: u32, len: u32) -> DataSegment {
        DataSegment { mode, offset, len }
    }

    /// A leaked descriptor for `meta` with data blob `data` and one code pointer per defined
    /// function. Function lengths are 0, so the trap handler never takes Rust code for Wasm.
    pub fn descriptor(
        meta: &ModuleMeta,
        data: &[u8],
        code: &[*const u8],
    ) -> &'static ModuleDescriptor {
        // What the compiler sets once a module is parsed.
        let meta = ModuleMeta {
            funcref_slots: aot_abi::FuncrefSlots::of(meta),
            ..meta.clone()
        };
        let meta_bytes = meta.encode().leak();
        let data = data.to_vec().leak();
        let code = code.to_vec().leak();
        let lens = vec![0u32; code.len()].leak();
        let trampolines: &'static [ArrayCallFn] = meta
            .types
            .iter()
            .map(trampoline_for)
            .collect::<Vec<_>>()
            .leak();
        Box::leak(Box::new(ModuleDescriptor {
            abi_version: ABI_VERSION,
            bounds_mode: BoundsMode::Explicit as u32,
            meta: meta_bytes.as_ptr(),
            meta_len: meta_bytes.len(),
            data: data.as_ptr(),
            data_len: data.len(),
            funcs: code.as_ptr(),
            func_lens: lens.as_ptr(),
            num_funcs: code.len(),
            trampolines: trampolines.as_ptr(),
            num_trampolines: trampolines.len(),
            traps: core::ptr::null(),
            num_traps: 0,
            inline_records: core::ptr::null(),
            num_inline_records: 0,
            inline_funcs: core::ptr::null(),
            num_inline_funcs: 0,
            handlers: core::ptr::null(),
            num_handlers: 0,
            host_imports: vec![core::ptr::null(); meta.imported_funcs() as usize]
                .leak()
                .as_ptr(),
            num_host_imports: meta.imported_funcs() as usize,
            stack_maps: std::ptr::null(),
            num_stack_maps: 0,
            stack_map_slots: std::ptr::null(),
            num_stack_map_slots: 0,
            stubs: std::ptr::null(),
            stub_lens: std::ptr::null(),
            num_stubs: 0,
            flags: 0,
        }))
    }

    fn trampoline_for(ty: &FuncType) -> ArrayCallFn {
        use ValType::I32;
        match (ty.params.as_slice(), ty.results.as_slice()) {
            ([], []) => tramp_v_v,
            ([], [I32]) => tramp_v_i32,
            ([I32], []) => tramp_i32_v,
            ([I32], [I32]) => tramp_i32_i32,
            _ => tramp_unsupported,
        }
    }

    unsafe extern "C" fn tramp_v_v(code: *const u8, vmctx: *mut u8, _values: *mut ValRaw) {
        // SAFETY: the trampoline of type [] -> [] is only used for such functions.
        let f: unsafe extern "C" fn(*mut u8) = unsafe { core::mem::transmute(code) };
        unsafe { f(vmctx) }
    }

    unsafe extern "C" fn tramp_v_i32(code: *const u8, vmctx: *mut u8, values: *mut ValRaw) {
        // SAFETY: as above, for [] -> [i32]; `values` has one slot.
        let f: unsafe extern "C" fn(*mut u8) -> i32 = unsafe { core::mem::transmute(code) };
        unsafe { values.write(ValRaw::from_u32(f(vmctx) as u32)) }
    }

    unsafe extern "C" fn tramp_i32_v(code: *const u8, vmctx: *mut u8, values: *mut ValRaw) {
        // SAFETY: as above, for [i32] -> [].
        let f: unsafe extern "C" fn(*mut u8, i32) = unsafe { core::mem::transmute(code) };
        unsafe { f(vmctx, (*values).u32() as i32) }
    }

    unsafe extern "C" fn tramp_i32_i32(code: *const u8, vmctx: *mut u8, values: *mut ValRaw) {
        // SAFETY: as above, for [i32] -> [i32].
        let f: unsafe extern "C" fn(*mut u8, i32) -> i32 = unsafe { core::mem::transmute(code) };
        unsafe { values.write(ValRaw::from_u32(f(vmctx, (*values).u32() as i32) as u32)) }
    }

    unsafe extern "C" fn tramp_unsupported(_: *const u8, _: *mut u8, _: *mut ValRaw) {
        eprintln!("test trampoline for an unsupported signature called");
        std::process::abort();
    }

    // --- "generated code": reads the vmctx through VMOffsets only -------------------------

    fn offsets(vmctx: *mut u8) -> VMOffsets {
        // SAFETY: only called with the vmctx of a live instance.
        VMOffsets::new(unsafe { Instance::from_vmctx(vmctx) }.meta().counts())
    }

    /// # Safety
    /// `offset` must be a field of type `T` in `vmctx`.
    pub unsafe fn field<T>(vmctx: *mut u8, offset: u32) -> T {
        // SAFETY: guaranteed by the caller.
        unsafe { vmctx.add(offset as usize).cast::<T>().read() }
    }

    fn memory0(vmctx: *mut u8) -> *mut VMMemoryDef {
        let o = offsets(vmctx);
        if o.counts.imported_memories > 0 {
            // SAFETY: the field exists when the count is nonzero.
            unsafe { field(vmctx, o.imported_memory(0)) }
        } else {
            vmctx.wrapping_add(o.defined_memory(0) as usize).cast()
        }
    }

    fn table0(vmctx: *mut u8) -> *mut VMTableDef {
        let o = offsets(vmctx);
        if o.counts.imported_tables > 0 {
            // SAFETY: as above.
            unsafe { field(vmctx, o.imported_table(0)) }
        } else {
            vmctx.wrapping_add(o.defined_table(0) as usize).cast()
        }
    }

    pub unsafe extern "C" fn forty_two(_vmctx: *mut u8) -> i32 {
        42
    }

    /// Global 0 of the calling module as an i32.
    pub unsafe extern "C" fn read_global0(vmctx: *mut u8) -> i32 {
        let o = offsets(vmctx);
        let g: *const VMGlobal = if o.counts.imported_globals > 0 {
            // SAFETY: as above.
            unsafe { field(vmctx, o.imported_global(0)) }
        } else {
            vmctx.wrapping_add(o.defined_global(0) as usize).cast()
        };
        // SAFETY: globals live as long as their instance.
        ValRaw(unsafe { (*g).bytes }).u32() as i32
    }

    /// Byte `addr` of memory 0, or -1 when out of bounds (an explicit bounds check).
    pub unsafe extern "C" fn load8(vmctx: *mut u8, addr: i32) -> i32 {
        let def = memory0(vmctx);
        // SAFETY: the def and the accessible bytes it describes live as long as the memory.
        unsafe {
            if addr as u32 as u64 >= (*def).current_length {
                return -1;
            }
            i32::from(*(*def).base.add(addr as u32 as usize))
        }
    }

    /// Stores 0x55 at address 0 of memory 0.
    pub unsafe extern "C" fn store_at_0(vmctx: *mut u8) {
        // SAFETY: the memory has at least one page in every test that uses this.
        unsafe { *(*memory0(vmctx)).base = 0x55 }
    }

    /// call_indirect through table 0 to a function of the caller's type 0 ([] -> [i32]):
    /// -1 out of bounds, -2 null, -3 signature mismatch, else the callee's result.
    pub unsafe extern "C" fn call_indirect0(vmctx: *mut u8, index: i32) -> i32 {
        let table = table0(vmctx);
        let o = offsets(vmctx);
        // SAFETY: tables and funcrefs live as long as their instances.
        unsafe {
            if index as u32 as u64 >= (*table).current_elements {
                return -1;
            }
            let funcref = *(*table).base.add(index as u32 as usize) as *const VMFuncRef;
            if funcref.is_null() {
                return -2;
            }
            if (*funcref).type_id != field::<u32>(vmctx, o.type_id(0)) {
                return -3;
            }
            let f: unsafe extern "C" fn(*mut u8) -> i32 = core::mem::transmute((*funcref).code);
            f((*funcref).vmctx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::linker::Linker;
    use aot_abi::{DefinedGlobal, ElemItems, ElemSegment, VMTableDef, ValType};

    fn host_global(ty: ValType, v: u64) -> GlobalRef {
        GlobalRef::host(GlobalType { ty, mutable: false }, ValRaw::from_u64(v))
    }

    fn instantiate_with(linker: &Linker, desc: &'static ModuleDescriptor) -> &'static Instance {
        match linker.instantiate(desc) {
            Ok(i) => i,
            Err(e) => panic!("instantiation failed: {e}"),
        }
    }

    fn spectest_linker() -> Linker {
        let mut linker = Linker::new();
        linker.register_host(
            "spectest",
            crate::host::spectest(BoundsMode::Explicit).expect("spectest"),
        );
        linker
    }

    #[test]
    fn const_exprs_evaluate_like_wasm() {
        use ConstOp::*;
        let globals = [
            host_global(ValType::I32, 666),
            host_global(ValType::I64, u64::MAX),
        ];
        let funcref = |i: u32| (i < 3).then_some(0x1000 + 24 * i as usize);
        let eval = |ops: Vec<ConstOp>| eval_const(&ConstExpr(ops), &globals, &funcref);
        assert_eq!(eval(vec![I32Const(-1)]), Ok(ValRaw::from_u32(u32::MAX)));
        assert_eq!(
            eval(vec![I32Const(i32::MAX), I32Const(1), I32Add]),
            Ok(ValRaw::from_u32(0x8000_0000))
        );
        assert_eq!(
            eval(vec![I32Const(1), I32Const(2), I32Sub]),
            Ok(ValRaw::from_u32(u32::MAX))
        );
        assert_eq!(
            eval(vec![I32Const(0x10000), I32Const(0x10000), I32Mul]),
            Ok(ValRaw::from_u32(0))
        );
        assert_eq!(
            eval(vec![GlobalGet(0), I32Const(1), I32Add]),
            Ok(ValRaw::from_u32(667))
        );
        assert_eq!(
            eval(vec![GlobalGet(1), I64Const(2), I64Add]),
            Ok(ValRaw::from_u64(1))
        );
        assert_eq!(
            eval(vec![I64Const(3), I64Const(5), I64Sub]),
            Ok(ValRaw::from_u64(-2i64 as u64))
        );
        assert_eq!(
            eval(vec![I64Const(1 << 40), I64Const(1 << 30), I64Mul]),
            Ok(ValRaw::from_u64(0))
        );
        assert_eq!(
            eval(vec![F32Const(0x7fc0_0001)]),
            Ok(ValRaw::from_u32(0x7fc0_0001))
        );
        assert_eq!(
            eval(vec![F64Const(0x8000_0000_0000_0000)]),
            Ok(ValRaw::from_u64(1 << 63))
        );
        assert_eq!(
            eval(vec![V128Const(u128::MAX - 1)]),
            Ok(ValRaw((u128::MAX - 1).to_le_bytes()))
        );
        assert_eq!(eval(vec![RefNull(ValType::FuncRef)]), Ok(ValRaw::default()));
        assert_eq!(eval(vec![RefFunc(2)]), Ok(ValRaw::from_u64(0x1000 + 48)));
        assert!(eval(vec![RefFunc(3)]).is_err());
        assert!(eval(vec![GlobalGet(2)]).is_err());
        assert!(eval(vec![I32Add]).is_err());
        assert!(eval(vec![]).is_err());
        assert!(eval(vec![I32Const(1), I32Const(2)]).is_err());
    }

    #[test]
    fn type_ids_are_interned_process_wide() {
        let a = intern_type(&ft(&[ValType::F64, ValType::ExternRef], &[ValType::I64]));
        let b = intern_type(&ft(&[ValType::F64, ValType::ExternRef], &[ValType::I64]));
        let c = intern_type(&ft(&[ValType::F64], &[ValType::ExternRef, ValType::I64]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a >= 1 && c >= 1);
        assert_eq!(
            type_of_id(c),
            Some(ft(&[ValType::F64], &[ValType::ExternRef, ValType::I64]))
        );
        assert_eq!(type_of_id(0), None);
    }

    /// A module defining f (42), a memory with "hi" at 10, a mutable global (7) and a table
    /// with f at slot 1, exporting all four.
    fn exporter() -> &'static ModuleDescriptor {
        let meta = ModuleMeta {
            types: vec![ft(&[], &[ValType::I32])],
            funcs: vec![0].into(),
            memories: vec![memory_type(1, Some(3))],
            globals: vec![global(ValType::I32, true, i32c(7))],
            tables: vec![funcref_table(2, None)],
            exports: vec![
                export("f", ExternKind::Func, 0),
                export("mem", ExternKind::Memory, 0),
                export("g", ExternKind::Global, 0),
                export("tab", ExternKind::Table, 0),
            ],
            elems: vec![elem(active(0, 1), &[Some(0)])],
            datas: vec![data(active(0, 10), 0, 2)],
            ..ModuleMeta::default()
        };
        descriptor(&meta, b"hi", &[forty_two as *const u8])
    }

    #[test]
    fn defined_entities_fill_the_vmctx_as_documented() {
        let e = instantiate_with(&Linker::new(), exporter());
        let vmctx = e.vmctx();
        let o = VMOffsets::new(e.meta().counts());
        // SAFETY (field reads below): offsets from VMOffsets of this module.
        unsafe {
            assert_eq!(
                field::<usize>(vmctx, VMCTX_STORE),
                crate::store::store().context() as *const aot_abi::VMStoreContext as usize,
                "every vmctx points at the program's store"
            );
            assert_eq!(
                field::<usize>(vmctx, VMCTX_INSTANCE),
                e as *const Instance as usize
            );
            let t0 = intern_type(&ft(&[], &[ValType::I32]));
            assert_eq!(field::<u32>(vmctx, o.type_id(0)), t0);

            let f = vmctx.add(o.funcref(0) as usize) as *const VMFuncRef;
            assert_eq!((*f).code, forty_two as *const u8);
            assert_eq!((*f).vmctx, vmctx);
            assert_eq!((*f).type_id, t0);

            let mem = vmctx.add(o.defined_memory(0) as usize) as *const VMMemoryDef;
            assert_eq!((*mem).current_length, 65536);
            assert_eq!(
                mem as *mut VMMemoryDef,
                e.memory(0).expect("memory 0").def()
            );
            assert_eq!(
                core::slice::from_raw_parts((*mem).base.add(9), 4),
                b"\0hi\0"
            );

            let g = vmctx.add(o.defined_global(0) as usize) as *const VMGlobal;
            assert_eq!(ValRaw((*g).bytes).u32(), 7);

            let t = vmctx.add(o.defined_table(0) as usize) as *const VMTableDef;
            assert_eq!((*t).current_elements, 2);
            assert_eq!(*(*t).base, 0, "slot 0 stays null");
            assert_eq!(*(*t).base.add(1), f as usize, "slot 1 holds f's funcref");
        }
        assert_eq!(
            e.elem_segment(0).map(|s| s.locked().len()),
            Some(0),
            "active segments are dropped"
        );
        assert_eq!(
            e.data_segment(0),
            Some(&b""[..]),
            "active data segments are dropped"
        );
        assert_eq!(
            e.call(0, &[]).map_err(|t| t.kind),
            Ok(vec![ValRaw::from_u32(42)])
        );
    }

    /// vmctx's `gc_types[t]` is the runtime's info of struct/array type `t` (the header of
    /// its objects), null for a function type.
    #[test]
    fn gc_types_region_points_at_the_type_infos() {
        use aot_abi::gc::{GC_KIND_ARRAY, GC_KIND_STRUCT, VMGcTypeInfo};
        use aot_abi::{CompositeType, FieldType, TypeDef};
        let lone = |i, composite| TypeDef {
            rec_start: i,
            rec_len: 1,
            is_final: true,
            supertype: None,
            composite,
        };
        let i32_field = FieldType {
            mutable: true,
            ty: Some(ValType::I32),
            packed: 0,
        };
        let meta = ModuleMeta {
            types: vec![ft(&[], &[ValType::I32]), ft(&[], &[]), ft(&[], &[])],
            type_defs: vec![
                lone(0, CompositeType::Func),
                lone(1, CompositeType::Struct(vec![i32_field])),
                lone(2, CompositeType::Array(i32_field)),
            ],
            funcs: vec![0].into(),
            ..ModuleMeta::default()
        };
        let e = instantiate_with(
            &Linker::new(),
            descriptor(&meta, b"", &[forty_two as *const u8]),
        );
        let vmctx = e.vmctx();
        let o = VMOffsets::new(e.meta().counts());
        // SAFETY (field reads and info derefs below): offsets from VMOffsets of this module;
        // non-null infos are leaked.
        unsafe {
            assert!(field::<*const VMGcTypeInfo>(vmctx, o.gc_type(0)).is_null());
            for (t, kind) in [(1, GC_KIND_STRUCT), (2, GC_KIND_ARRAY)] {
                let info = field::<*const VMGcTypeInfo>(vmctx, o.gc_type(t));
                let id = field::<u32>(vmctx, o.type_id(t));
                assert_eq!(info, crate::types::gc_type_info(id));
                assert_eq!(
                    ((*info).kind, (*info).type_id, (*info).size),
                    (kind, id, if t == 1 { 16 } else { 4 })
                );
            }
        }
    }

    #[test]
    fn imports_point_at_the_exporters_storage() {
        let e = instantiate_with(&Linker::new(), exporter());
        let mut linker = spectest_linker();
        linker.register_instance("E", e);
        let (i32_, t0, t1, t2) = (ValType::I32, 0, 1, 2);
        let meta = ModuleMeta {
            types: vec![ft(&[], &[i32_]), ft(&[i32_], &[]), ft(&[i32_], &[i32_])],
            imports: vec![
                import("E", "f", ImportKind::Func(t0)),
                import("E", "mem", ImportKind::Memory(memory_type(1, None))),
                import(
                    "E",
                    "g",
                    ImportKind::Global(GlobalType {
                        ty: i32_,
                        mutable: true,
                    }),
                ),
                import("E", "tab", ImportKind::Table(funcref_table(2, None).ty)),
                import("spectest", "print_i32", ImportKind::Func(t1)),
                import(
                    "spectest",
                    "global_i32",
                    ImportKind::Global(GlobalType {
                        ty: i32_,
                        mutable: false,
                    }),
                ),
            ],
            funcs: vec![t0, t1, t0, t2, t2].into(),
            globals: vec![DefinedGlobal {
                ty: GlobalType {
                    ty: i32_,
                    mutable: false,
                },
                init: ConstExpr(vec![
                    ConstOp::GlobalGet(1),
                    ConstOp::I32Const(1),
                    ConstOp::I32Add,
                ]),
            }],
            exports: vec![
                export("f_again", ExternKind::Func, 0),
                export("print", ExternKind::Func, 1),
                export("read_global", ExternKind::Func, 2),
                export("load", ExternKind::Func, 3),
                export("call_indirect", ExternKind::Func, 4),
                export("g2", ExternKind::Global, 2),
            ],
            ..ModuleMeta::default()
        };
        let code = [
            read_global0 as *const u8,
            load8 as *const u8,
            call_indirect0 as *const u8,
        ];
        let i = instantiate_with(&linker, descriptor(&meta, &[], &code));
        let (vmctx, o) = (i.vmctx(), VMOffsets::new(i.meta().counts()));
        let eo = VMOffsets::new(e.meta().counts());
        let Some(Extern::Global(spectest_global)) = linker.lookup("spectest", "global_i32") else {
            panic!("spectest exports global_i32");
        };
        // SAFETY (field reads): offsets from VMOffsets of the module read.
        unsafe {
            let f = field::<VMFunctionImport>(vmctx, o.imported_func(0));
            assert_eq!((f.code, f.vmctx), (forty_two as *const u8, e.vmctx()));
            let fr = field::<VMFuncRef>(vmctx, o.funcref(0));
            assert_eq!(
                (fr.code, fr.vmctx, fr.type_id),
                (f.code, f.vmctx, field::<u32>(vmctx, o.type_id(t0)))
            );
            let print = field::<VMFunctionImport>(vmctx, o.imported_func(1));
            assert_eq!(
                print.vmctx, vmctx,
                "host functions get the importer's vmctx"
            );
            let mem = field::<*mut VMMemoryDef>(vmctx, o.imported_memory(0));
            assert_eq!(
                mem as usize,
                e.vmctx() as usize + eo.defined_memory(0) as usize
            );
            let g = field::<*mut VMGlobal>(vmctx, o.imported_global(0));
            assert_eq!(
                g as usize,
                e.vmctx() as usize + eo.defined_global(0) as usize
            );
            assert_eq!(
                field::<*mut VMGlobal>(vmctx, o.imported_global(1)),
                spectest_global.ptr()
            );
            let t = field::<*mut VMTableDef>(vmctx, o.imported_table(0));
            assert_eq!(
                t as usize,
                e.vmctx() as usize + eo.defined_table(0) as usize
            );
            let g2 = field::<VMGlobal>(vmctx, o.defined_global(0));
            assert_eq!(
                ValRaw(g2.bytes).u32(),
                667,
                "global.get of an imported global"
            );
        }
        let call = |name: &str, args: &[ValRaw]| {
            let index = i.exported_func(name).expect("export exists");
            i.call(index, args)
                .map_err(|t| t.kind)
                .map(|v| v.iter().map(ValRaw::u32).collect::<Vec<_>>())
        };
        assert_eq!(call("read_global", &[]), Ok(vec![7]));
        e.global(0).expect("global 0").set(ValRaw::from_u32(9));
        assert_eq!(
            call("read_global", &[]),
            Ok(vec![9]),
            "one storage for an imported global"
        );
        assert_eq!(
            call("load", &[ValRaw::from_u32(11)]),
            Ok(vec![u32::from(b'i')])
        );
        assert_eq!(call("load", &[ValRaw::from_u32(65536)]), Ok(vec![u32::MAX]));
        assert_eq!(call("call_indirect", &[ValRaw::from_u32(1)]), Ok(vec![42]));
        assert_eq!(
            call("call_indirect", &[ValRaw::from_u32(0)]),
            Ok(vec![-2i32 as u32])
        );
        assert_eq!(
            call("call_indirect", &[ValRaw::from_u32(2)]),
            Ok(vec![u32::MAX])
        );
        assert_eq!(
            call("f_again", &[]),
            Ok(vec![42]),
            "a re-exported import is callable"
        );
        assert_eq!(
            call("print", &[ValRaw::from_u32(5)]),
            Ok(vec![]),
            "a re-exported host function"
        );
        let Some(Extern::Func(again)) = i.export("f_again") else {
            panic!("f_again is a function");
        };
        assert_eq!(again.vmctx, e.vmctx());
        assert!(matches!(i.export("g2"), Some(Extern::Global(g)) if g.get().u32() == 667));
        assert!(i.export("nope").is_none());
    }

    fn expect_trap(result: Result<&'static Instance, InstantiateError>) -> TrapKind {
        match result {
            Err(InstantiateError::Trap(t)) => t.kind,
            Err(e) => panic!("expected a trap, got: {e}"),
            Ok(_) => panic!("expected a trap, instantiation succeeded"),
        }
    }

    #[test]
    fn segment_failures_keep_earlier_writes() {
        let linker = spectest_linker();
        let Some(Extern::Table(table)) = linker.lookup("spectest", "table") else {
            panic!("spectest exports a table");
        };
        let Some(Extern::Memory(memory)) = linker.lookup("spectest", "memory") else {
            panic!("spectest exports a memory");
        };
        // The elements fit in slot 7, then the second segment does not fit: a trap, with
        // slot 7 written, slot 8 untouched and no data segment applied.
        let meta = ModuleMeta {
            types: vec![ft(&[], &[ValType::I32])],
            imports: vec![
                import(
                    "spectest",
                    "table",
                    ImportKind::Table(funcref_table(10, None).ty),
                ),
                import(
                    "spectest",
                    "memory",
                    ImportKind::Memory(memory_type(1, None)),
                ),
            ],
            funcs: vec![0].into(),
            elems: vec![
                elem(active(0, 7), &[Some(0)]),
                elem(active(0, 8), &[Some(0); 5]),
            ],
            datas: vec![data(active(0, 0), 0, 1)],
            ..ModuleMeta::default()
        };
        let desc = descriptor(&meta, b"x", &[forty_two as *const u8]);
        assert_eq!(
            expect_trap(linker.instantiate(desc)),
            TrapKind::TableOutOfBounds
        );
        let slot7 = table.locked().get(7).expect("in bounds") as *const VMFuncRef;
        assert!(!slot7.is_null());
        // SAFETY: the failed instance's funcrefs stay alive (instances are never freed).
        assert_eq!(unsafe { (*slot7).code }, forty_two as *const u8);
        assert_eq!(table.locked().get(8), Some(0));
        // SAFETY: the spectest memory has one accessible page.
        assert_eq!(
            unsafe { *memory.base() },
            0,
            "data segments come after element segments"
        );

        // Data: the first segment lands, the second does not fit, the start function never runs.
        let meta = ModuleMeta {
            types: vec![ft(&[], &[])],
            imports: vec![import(
                "spectest",
                "memory",
                ImportKind::Memory(memory_type(1, None)),
            )],
            funcs: vec![0].into(),
            datas: vec![data(active(0, 100), 0, 2), data(active(0, 65535), 2, 2)],
            start: Some(0),
            ..ModuleMeta::default()
        };
        let desc = descriptor(&meta, b"abcd", &[store_at_0 as *const u8]);
        assert_eq!(
            expect_trap(linker.instantiate(desc)),
            TrapKind::MemoryOutOfBounds
        );
        // SAFETY: within the spectest memory's first page.
        unsafe {
            assert_eq!(
                core::slice::from_raw_parts(memory.base().add(100), 2),
                b"ab"
            );
            assert_eq!(*memory.base(), 0, "the start function did not run");
        }

        // Unlinkable: nothing is written at all.
        let meta = ModuleMeta {
            types: vec![ft(&[], &[ValType::I32])],
            imports: vec![
                import(
                    "spectest",
                    "table",
                    ImportKind::Table(funcref_table(10, None).ty),
                ),
                import(
                    "spectest",
                    "nonexistent",
                    ImportKind::Memory(memory_type(1, None)),
                ),
            ],
            funcs: vec![0].into(),
            elems: vec![elem(active(0, 9), &[Some(0)])],
            ..ModuleMeta::default()
        };
        let desc = descriptor(&meta, &[], &[forty_two as *const u8]);
        match linker.instantiate(desc) {
            Err(InstantiateError::Link(m)) => {
                assert_eq!(m, "unknown import: `spectest::nonexistent`")
            }
            _ => panic!("expected a link error"),
        }
        assert_eq!(table.locked().get(9), Some(0));
    }

    #[test]
    fn start_function_runs_after_segments() {
        let meta = ModuleMeta {
            types: vec![ft(&[], &[]), ft(&[ValType::I32], &[ValType::I32])],
            funcs: vec![0, 1].into(),
            memories: vec![memory_type(1, Some(1))],
            datas: vec![data(active(0, 0), 0, 2)],
            start: Some(0),
            exports: vec![export("load", ExternKind::Func, 1)],
            ..ModuleMeta::default()
        };
        let desc = descriptor(
            &meta,
            b"\x01\x02",
            &[store_at_0 as *const u8, load8 as *const u8],
        );
        let i = instantiate_with(&Linker::new(), desc);
        let load = |addr: u32| {
            i.call(1, &[ValRaw::from_u32(addr)])
                .map(|v| v[0].u32())
                .map_err(|t| t.kind)
        };
        assert_eq!(load(0), Ok(0x55), "start overwrote the data segment's byte");
        assert_eq!(load(1), Ok(2));
    }

    #[test]
    fn traps_in_start_and_calls_are_reported() {
        use crate::arch::test_code::aot_rt_test_unreachable;
        // Registers the hand-written assembly with the trap handler.
        crate::trap::tests::fake_module();
        let meta = ModuleMeta {
            types: vec![ft(&[], &[])],
            funcs: vec![0].into(),
            exports: vec![export("boom", ExternKind::Func, 0)],
            ..ModuleMeta::default()
        };
        let code = [aot_rt_test_unreachable as *const u8];
        let i = instantiate_with(&Linker::new(), descriptor(&meta, &[], &code));
        for _ in 0..2 {
            assert_eq!(
                i.call(0, &[]).map_err(|t| t.kind),
                Err(TrapKind::UnreachableCodeReached)
            );
        }
        let with_start = ModuleMeta {
            start: Some(0),
            ..meta
        };
        let desc = descriptor(&with_start, &[], &code);
        assert_eq!(
            expect_trap(Linker::new().instantiate(desc)),
            TrapKind::UnreachableCodeReached
        );
    }

    #[test]
    fn malformed_descriptors_are_errors() {
        let meta = ModuleMeta {
            types: vec![ft(&[], &[])],
            funcs: vec![0].into(),
            ..ModuleMeta::default()
        };
        let other = |desc: &'static ModuleDescriptor| match Linker::new().instantiate(desc) {
            Err(InstantiateError::Other(m)) => m,
            Err(e) => panic!("expected a descriptor error, got: {e}"),
            Ok(_) => panic!("expected a descriptor error"),
        };
        let no_code = descriptor(&meta, &[], &[]);
        assert!(other(no_code).contains("0 functions"), "{}", other(no_code));
        let good = descriptor(&meta, &[], &[forty_two as *const u8]);
        let wrong_abi: &'static ModuleDescriptor = Box::leak(Box::new(ModuleDescriptor {
            abi_version: ABI_VERSION + 1,
            ..*good
        }));
        assert!(other(wrong_abi).contains("ABI version"));
        let bad_meta: &'static ModuleDescriptor = Box::leak(Box::new(ModuleDescriptor {
            meta_len: good.meta_len - 1,
            ..*good
        }));
        assert!(other(bad_meta).contains("malformed metadata"));
        let data_outside = ModuleMeta {
            memories: vec![memory_type(1, None)],
            datas: vec![data(SegmentMode::Passive, 2, 4)],
            ..meta.clone()
        };
        let desc = descriptor(&data_outside, b"12345", &[forty_two as *const u8]);
        assert!(other(desc).contains("data segment 0"));
        let elem_bad_ref = ModuleMeta {
            elems: vec![ElemSegment {
                mode: SegmentMode::Passive,
                ty: ValType::FuncRef,
                items: ElemItems::Funcs(vec![7]),
            }],
            ..meta
        };
        let desc = descriptor(&elem_bad_ref, &[], &[forty_two as *const u8]);
        assert!(other(desc).contains("element segment 0"));
    }
}
