//! Parse and validate a Wasm binary into a [`ModuleInfo`]: the module description the
//! translator and the code generator work from.
//!
//! Validation is complete before anything else looks at the module (wasmparser with the
//! feature set of [`Options::features`], by default [`features`]), so later stages may assume a valid module and
//! only report features they do not support yet.
//!
//! The import policy lives here too ([`accepts_import`]): which imports a module may have.

use aot_abi::{
    CompositeType, ConstExpr, ConstOp, DataSegment, DefinedGlobal, DefinedTable, ElemItems,
    ElemSegment, Export, ExternKind, FieldType, FuncType, GlobalType, HeapType, Import, ImportKind,
    MemoryType, ModuleMeta, RefType, SegmentMode, TableType, TypeDef, ValType,
};
use wasmparser::{Parser, Payload, Validator, WasmFeatures};

use crate::{CompileError, Options};

/// A defined function's body, as a slice of the input.
pub struct FuncBody<'a> {
    pub body: wasmparser::FunctionBody<'a>,
}

/// Everything known about a module before its functions are translated.
pub struct ModuleInfo<'a> {
    pub file: String,
    pub meta: ModuleMeta,
    /// Types of all tables, memories and globals, imports first.
    pub tables: Vec<TableType>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<GlobalType>,
    pub num_imported_funcs: u32,
    pub num_imported_tables: u32,
    pub num_imported_memories: u32,
    pub num_imported_globals: u32,
    /// Type index of every tag, imports first.
    pub tags: Vec<u32>,
    pub bodies: Vec<FuncBody<'a>>,
    /// Bytes of all data segments, concatenated; a large active segment is preceded by
    /// padding that lines it up for mapping (`aot_abi::data_image_align`).
    pub data: Vec<u8>,
    /// Whether some segment was lined up, so the blob must be emitted with that alignment.
    pub data_image_aligned: bool,
    /// Per imported function: the runtime symbol implementing it when the runtime provides
    /// it (`aot_abi::host`), else None (another instance provides it).
    pub host_imports: Vec<Option<String>>,
    /// Byte offset of every import, for errors found when wiring them.
    pub import_offsets: Vec<usize>,
    /// Byte offset of the first struct or array type, if any (for errors about GC).
    pub gc_type_offset: Option<usize>,
}

impl ModuleInfo<'_> {
    pub fn func_type(&self, func_index: u32) -> &FuncType {
        &self.meta.types[self.meta.funcs[func_index as usize] as usize]
    }
}

/// What the GC instructions need of the module's own types, by module type index `t` (a
/// valid index: the module is validated). Layouts are `aot_abi::gc`'s, the ones the runtime
/// builds its `VMGcTypeInfo`s from, so generated code and the collector agree; they are
/// computed on each call (a struct's fields once), so a translator that asks often should
/// keep the result.
impl ModuleInfo<'_> {
    /// The composite type of `t` (a Wasm 2.0 module's types are all function types).
    fn composite(&self, t: u32) -> Option<&CompositeType> {
        self.meta.type_defs.get(t as usize).map(|d| &d.composite)
    }

    /// Whether type `t` is a function type (not a struct or array type).
    pub fn is_func_type(&self, t: u32) -> bool {
        matches!(self.composite(t), None | Some(CompositeType::Func))
    }

    /// Whether the module defines any struct or array type.
    pub fn has_gc_types(&self) -> bool {
        self.meta
            .type_defs
            .iter()
            .any(|d| !matches!(d.composite, CompositeType::Func))
    }

    /// The layout of struct type `t` (size with header, each field's offset, the traced
    /// reference fields); None if `t` is not a struct type.
    pub fn struct_layout(&self, t: u32) -> Option<aot_abi::gc::StructLayout> {
        match self.composite(t)? {
            CompositeType::Struct(fields) => {
                Some(aot_abi::gc::struct_layout(fields, |i| self.is_func_type(i)))
            }
            _ => None,
        }
    }

    /// The element type of array type `t`; None if `t` is not an array type.
    pub fn array_elem(&self, t: u32) -> Option<&FieldType> {
        match self.composite(t)? {
            CompositeType::Array(f) => Some(f),
            _ => None,
        }
    }

    /// Bytes of one element of array type `t` (1, 2, 4, 8 or 16); None if `t` is not an
    /// array type. Elements start at `aot_abi::gc::GC_ARRAY_DATA`.
    pub fn array_elem_size(&self, t: u32) -> Option<u32> {
        self.array_elem(t).map(aot_abi::gc::storage_size)
    }

    /// Whether array type `t`'s elements are references the collector traces (not
    /// funcrefs, not numbers); None if `t` is not an array type.
    pub fn array_elem_is_traced(&self, t: u32) -> Option<bool> {
        self.array_elem(t).map(|f| {
            f.packed == 0
                && f.ty
                    .is_some_and(|v| aot_abi::gc::is_traced(&v, |i| self.is_func_type(i)))
        })
    }

    /// Length of `t`'s declared supertype chain (0: no supertype): the index of `t` in the
    /// display of every subtype's `VMGcTypeInfo`. Canonicalisation keeps supertype chains, so
    /// this is the runtime's `VMGcTypeInfo::depth` of `t` too. At most 63 (validation).
    pub fn subtype_depth(&self, t: u32) -> u32 {
        let mut depth = 0;
        let mut at = t;
        // Supertypes have smaller indices (validation), so this ends.
        while let Some(s) = self
            .meta
            .type_defs
            .get(at as usize)
            .and_then(|d| d.supertype)
        {
            depth += 1;
            at = s;
        }
        depth
    }

    /// Whether `t` is final (no type may declare it as a supertype), so that a cast to it
    /// is one header compare rather than a display lookup.
    pub fn is_final(&self, t: u32) -> bool {
        self.meta
            .type_defs
            .get(t as usize)
            .is_none_or(|d| d.is_final)
    }
}

/// The import policy: whether a module may import `module::name` as `kind` (`types` are
/// its types so far). With `allow_unknown_imports`, anything: the importer resolves it at
/// instantiation (as the spec driver does from registered modules) and fails there if it
/// cannot. Otherwise what the runtime itself provides ([`host_import_symbol`]) and imports
/// from a module the program provides (`--preload`), which the instantiation plan wires and
/// type-checks, so that an executable never fails to start for a missing import.
pub fn accepts_import(
    opts: &Options,
    module: &str,
    name: &str,
    kind: &ImportKind,
    types: &[FuncType],
) -> bool {
    opts.allow_unknown_imports
        || opts.component
        || opts.provided_modules.iter().any(|m| m == module)
        || host_import_symbol(opts, module, name, kind, types).is_some()
        || host_provides_memory(opts, kind)
}

/// Whether the runtime creates the memory an import of `kind` asks for, when no earlier
/// module provides it (`aot_abi::host::host_provides_memory`: a shared memory).
pub fn host_provides_memory(opts: &Options, kind: &ImportKind) -> bool {
    !opts.component
        && matches!(kind, ImportKind::Memory(m) if aot_abi::host::host_provides_memory(m))
}

/// The runtime symbol implementing an import the runtime provides (`aot_abi::host`: WASI
/// preview 1 by exact signature, and the test host when `opts.test_host`), else None.
pub fn host_import_symbol(
    opts: &Options,
    module: &str,
    name: &str,
    kind: &ImportKind,
    types: &[FuncType],
) -> Option<String> {
    if opts.component {
        return None;
    }
    match kind {
        ImportKind::Func(t) => {
            aot_abi::host::host_import_symbol(module, name, types.get(*t as usize)?, opts.test_host)
        }
        _ => None,
    }
}

/// The feature set `aot` accepts: WebAssembly 2.0 (with SIMD) plus relaxed SIMD,
/// extended-const, tail calls, wide arithmetic, multiple memories, custom page sizes,
/// 64-bit memories, threads (shared memories, atomics, wait/notify; not
/// shared-everything-threads, which the validator refuses by name), typed function
/// references and exception handling (the standard
/// proposal: wasmtime 49 rejects the legacy one, `try`/`delegate`/`rethrow`, and so does the
/// validator without `LEGACY_EXCEPTIONS`).
///
/// and GC (struct and array types, i31 references, casts; the objects live in the runtime's
/// collected heap, `runtime-lib/src/gc.rs`).
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM2
        | WasmFeatures::FUNCTION_REFERENCES
        | WasmFeatures::GC
        | WasmFeatures::EXCEPTIONS
        | WasmFeatures::RELAXED_SIMD
        | WasmFeatures::EXTENDED_CONST
        | WasmFeatures::TAIL_CALL
        | WasmFeatures::WIDE_ARITHMETIC
        | WasmFeatures::MULTI_MEMORY
        | WasmFeatures::CUSTOM_PAGE_SIZES
        | WasmFeatures::MEMORY64
        | WasmFeatures::THREADS
}

/// The features a component is validated with: the component model over the core
/// features, with its async feature for the task builtins synchronous components import
/// (componentize-qjs); everything truly asynchronous is refused by the flattener.
pub fn component_features() -> WasmFeatures {
    features() | WasmFeatures::COMPONENT_MODEL | WasmFeatures::CM_ASYNC
}

/// Validates a component: the component model over the core features aot accepts, so that
/// a malformed or invalid component gets the same file-and-offset error as a core module
/// before anything else is said about it.
pub fn validate_component(wasm: &[u8], file: &str) -> Result<(), CompileError> {
    let mut validator = Validator::new_with_features(component_features());
    validator
        .validate_all(wasm)
        .map(drop)
        .map_err(|e| CompileError::from_wasmparser(file, &e))
}

/// True if `bytes` starts like a component rather than a core module.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Parses `wat` for a unit test: x86_64, imports the runtime does not provide allowed.
#[cfg(test)]
pub(crate) fn parse_test_wat(wat: &str) -> ModuleInfo<'static> {
    let wasm: &'static [u8] = wat::parse_str(wat).expect("test wat").leak();
    let opts = crate::Options {
        allow_unknown_imports: true,
        ..crate::Options::new(crate::Target::for_arch(crate::target::Arch::X86_64))
    };
    parse(wasm, "test.wasm", &opts).expect("parses")
}

pub fn parse<'a>(
    wasm: &'a [u8],
    file: &str,
    opts: &Options,
) -> Result<ModuleInfo<'a>, CompileError> {
    if is_component(wasm) {
        validate_component(wasm, file)?;
        return Err(CompileError::new(
            file,
            None,
            "components are not supported yet",
        ));
    }
    let mut validator = Validator::new_with_features(opts.features);
    validator
        .validate_all(wasm)
        .map_err(|e| CompileError::from_wasmparser(file, &e))?;

    let perr = |e: wasmparser::BinaryReaderError| CompileError::from_wasmparser(file, &e);
    let image_align = aot_abi::data_image_align(opts.target.abi_arch());
    let mut info = ModuleInfo {
        file: file.to_string(),
        meta: ModuleMeta::default(),
        tables: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
        num_imported_funcs: 0,
        num_imported_tables: 0,
        num_imported_memories: 0,
        num_imported_globals: 0,
        tags: Vec::new(),
        bodies: Vec::new(),
        data: Vec::new(),
        data_image_aligned: false,
        host_imports: Vec::new(),
        import_offsets: Vec::new(),
        gc_type_offset: None,
    };
    let mut names: Vec<(u32, String)> = Vec::new();

    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(perr)? {
            Payload::TypeSection(r) => {
                for group in r {
                    let group = group.map_err(perr)?;
                    let rec_start = info.meta.types.len() as u32;
                    let rec_len = group.types().len() as u32;
                    for (offset, sub) in group.into_types_and_offsets() {
                        let (ty, def) = type_def(file, offset as usize, sub, rec_start, rec_len)?;
                        if !matches!(def.composite, CompositeType::Func) {
                            info.gc_type_offset.get_or_insert(offset as usize);
                        }
                        info.meta.types.push(ty);
                        info.meta.type_defs.push(def);
                    }
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports_with_offsets() {
                    let (offset, imp) = imp.map_err(perr)?;
                    let kind = match imp.ty {
                        wasmparser::TypeRef::Func(t) | wasmparser::TypeRef::FuncExact(t) => {
                            info.meta.funcs.to_mut().push(t);
                            info.num_imported_funcs += 1;
                            ImportKind::Func(t)
                        }
                        wasmparser::TypeRef::Table(t) => {
                            let t = table_type(file, &t)?;
                            info.tables.push(t);
                            info.num_imported_tables += 1;
                            ImportKind::Table(t)
                        }
                        wasmparser::TypeRef::Memory(m) => {
                            let m = memory_type(&m);
                            info.memories.push(m);
                            info.num_imported_memories += 1;
                            ImportKind::Memory(m)
                        }
                        wasmparser::TypeRef::Global(g) => {
                            let g = global_type(file, &g)?;
                            info.globals.push(g);
                            info.num_imported_globals += 1;
                            ImportKind::Global(g)
                        }
                        wasmparser::TypeRef::Tag(t) => {
                            info.tags.push(t.func_type_idx);
                            ImportKind::Tag(t.func_type_idx)
                        }
                    };
                    let host =
                        host_import_symbol(opts, imp.module, imp.name, &kind, &info.meta.types);
                    if host.is_none()
                        && !accepts_import(opts, imp.module, imp.name, &kind, &info.meta.types)
                    {
                        return Err(CompileError::new(
                            file,
                            Some(offset as usize),
                            format!(
                                "unknown import `{}::{}`: the runtime does not provide it",
                                imp.module, imp.name
                            ),
                        ));
                    }
                    if matches!(kind, ImportKind::Func(_)) {
                        info.host_imports.push(host);
                    }
                    info.import_offsets.push(offset as usize);
                    info.meta.imports.push(Import {
                        module: imp.module.to_string(),
                        name: imp.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    info.meta.funcs.to_mut().push(t.map_err(perr)?);
                }
            }
            Payload::TableSection(r) => {
                for t in r {
                    let t = t.map_err(perr)?;
                    let ty = table_type(file, &t.ty)?;
                    let init = match t.init {
                        wasmparser::TableInit::RefNull => None,
                        wasmparser::TableInit::Expr(e) => Some(const_expr(file, &e)?),
                    };
                    info.tables.push(ty);
                    info.meta.tables.push(DefinedTable { ty, init });
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    let m = memory_type(&m.map_err(perr)?);
                    info.memories.push(m);
                    info.meta.memories.push(m);
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    let g = g.map_err(perr)?;
                    let ty = global_type(file, &g.ty)?;
                    info.globals.push(ty);
                    info.meta.globals.push(DefinedGlobal {
                        ty,
                        init: const_expr(file, &g.init_expr)?,
                    });
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.map_err(perr)?;
                    let kind = match e.kind {
                        wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                            ExternKind::Func
                        }
                        wasmparser::ExternalKind::Table => ExternKind::Table,
                        wasmparser::ExternalKind::Memory => ExternKind::Memory,
                        wasmparser::ExternalKind::Global => ExternKind::Global,
                        wasmparser::ExternalKind::Tag => ExternKind::Tag,
                    };
                    info.meta.exports.push(Export {
                        name: e.name.to_string(),
                        kind,
                        index: e.index,
                    });
                }
            }
            Payload::TagSection(r) => {
                for t in r {
                    let t = t.map_err(perr)?;
                    info.tags.push(t.func_type_idx);
                    info.meta.tags.push(t.func_type_idx);
                }
            }
            Payload::StartSection { func, .. } => info.meta.start = Some(func),
            Payload::ElementSection(r) => {
                for e in r {
                    let e = e.map_err(perr)?;
                    let mode = match e.kind {
                        wasmparser::ElementKind::Passive => SegmentMode::Passive,
                        wasmparser::ElementKind::Declared => SegmentMode::Declared,
                        wasmparser::ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: table_index.unwrap_or(0),
                            offset: const_expr(file, &offset_expr)?,
                        },
                    };
                    let (ty, items) = match e.items {
                        wasmparser::ElementItems::Functions(r) => {
                            let mut funcs = Vec::new();
                            for f in r {
                                funcs.push(f.map_err(perr)?);
                            }
                            (ValType::FuncRef, ElemItems::Funcs(funcs))
                        }
                        wasmparser::ElementItems::Expressions(rt, r) => {
                            let mut items = Vec::new();
                            for x in r {
                                items.push(const_expr(file, &x.map_err(perr)?)?);
                            }
                            (reftype(file, rt)?, ElemItems::from_exprs(items))
                        }
                    };
                    info.meta.elems.push(ElemSegment { mode, ty, items });
                }
            }
            Payload::DataSection(r) => {
                for d in r {
                    let d = d.map_err(perr)?;
                    let mode = match d.kind {
                        wasmparser::DataKind::Passive => SegmentMode::Passive,
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: memory_index,
                            offset: const_expr(file, &offset_expr)?,
                        },
                    };
                    if let Some(dst) = image_destination(&mode, d.data.len()) {
                        let pad = dst.wrapping_sub(info.data.len() as u64) % image_align;
                        info.data.resize(info.data.len() + pad as usize, 0);
                        info.data_image_aligned = true;
                    }
                    let offset = u32::try_from(info.data.len()).map_err(|_| {
                        CompileError::new(file, None, "data segments larger than 4 GiB")
                    })?;
                    info.data.extend_from_slice(d.data);
                    info.meta.datas.push(DataSegment {
                        mode,
                        offset,
                        len: d.data.len() as u32,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => info.bodies.push(FuncBody { body }),
            Payload::CustomSection(c) => {
                if let wasmparser::KnownCustom::Name(r) = c.as_known() {
                    // A malformed name section is ignored, as engines do: names are debug info.
                    for n in r.into_iter().flatten() {
                        match n {
                            wasmparser::Name::Module { name, .. } => {
                                info.meta.name = Some(name.to_string())
                            }
                            wasmparser::Name::Function(map) => {
                                for naming in map.into_iter().flatten() {
                                    names.push((naming.index, naming.name.to_string()));
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }

    let mut func_names = vec![String::new(); info.meta.funcs.len()];
    for (i, n) in names {
        if let Some(slot) = func_names.get_mut(i as usize) {
            *slot = n;
        }
    }
    info.meta.func_names = aot_abi::meta::FuncNames::Owned(func_names);
    info.meta.funcref_slots = aot_abi::FuncrefSlots::of(&info.meta);
    check_gc_without_threads(&info)?;
    Ok(info)
}

/// Why module `info` runs Wasm on more than one thread, if it may: a shared memory
/// (defined or imported) or an import of `wasi::thread-spawn`.
pub fn threading(info: &ModuleInfo) -> Option<&'static str> {
    if imports_thread_spawn(info) {
        Some("imports `wasi::thread-spawn`")
    } else if info.memories.iter().any(|m| m.shared) {
        Some("has a shared memory")
    } else {
        None
    }
}

/// Whether the module imports `wasi::thread-spawn` (each thread it starts runs a new
/// instance of it).
pub fn imports_thread_spawn(info: &ModuleInfo) -> bool {
    info.meta.imports.iter().any(|i| {
        matches!(i.kind, ImportKind::Func(t)
            if info.meta.types.get(t as usize)
                .is_some_and(|ty| aot_abi::wasi::is_thread_spawn(&i.module, &i.name, ty)))
    })
}

/// Refuses struct and array types in a module that may run on several threads: the GC heap
/// and its allocation window are one per process (`VMStoreContext` is a single static), so
/// two threads would allocate in and collect the same heap without synchronisation.
/// (Shared GC types, of shared-everything-threads, are already refused by validation.)
fn check_gc_without_threads(info: &ModuleInfo) -> Result<(), CompileError> {
    match (info.gc_type_offset, threading(info)) {
        (Some(at), Some(why)) => Err(CompileError::new(
            &info.file,
            Some(at),
            format!(
                "GC types (struct and array types) in a threaded program are not supported: \
                 the module {why}"
            ),
        )),
        _ => Ok(()),
    }
}

pub fn valtype(file: &str, v: wasmparser::ValType) -> Result<ValType, CompileError> {
    valtype_at(file, None, v)
}

/// A value type as `aot_abi` spells it; `offset` locates errors when known.
pub fn valtype_at(
    file: &str,
    offset: Option<usize>,
    v: wasmparser::ValType,
) -> Result<ValType, CompileError> {
    Ok(match v {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => reftype_at(file, offset, r)?,
    })
}

/// One type of the type section: its signature (empty for struct and array types) and its
/// definition. Indices in rec groups are module type indices (`rec_start` is the group's
/// first).
fn type_def(
    file: &str,
    offset: usize,
    sub: wasmparser::SubType,
    rec_start: u32,
    rec_len: u32,
) -> Result<(FuncType, TypeDef), CompileError> {
    let err =
        |what: &str| CompileError::new(file, Some(offset), format!("{what} are not supported yet"));
    if sub.composite_type.shared {
        return Err(err("shared types"));
    }
    if sub.composite_type.descriptor_idx.is_some() || sub.composite_type.describes_idx.is_some() {
        return Err(err("custom descriptors"));
    }
    let index = |p: wasmparser::PackedIndex| -> Result<u32, CompileError> {
        match p.unpack() {
            wasmparser::UnpackedIndex::Module(i) => Ok(i),
            wasmparser::UnpackedIndex::RecGroup(i) => Ok(rec_start + i),
            wasmparser::UnpackedIndex::Id(_) => Err(err("canonicalised type indices")),
        }
    };
    let supertype = match sub.supertype_idxs.first() {
        Some(p) => Some(index(*p)?),
        None => None,
    };
    let field = |f: &wasmparser::FieldType| -> Result<FieldType, CompileError> {
        Ok(match f.element_type {
            wasmparser::StorageType::I8 => FieldType {
                mutable: f.mutable,
                ty: None,
                packed: 8,
            },
            wasmparser::StorageType::I16 => FieldType {
                mutable: f.mutable,
                ty: None,
                packed: 16,
            },
            wasmparser::StorageType::Val(v) => FieldType {
                mutable: f.mutable,
                ty: Some(valtype_at(file, Some(offset), v)?),
                packed: 0,
            },
        })
    };
    let (ty, composite) = match &sub.composite_type.inner {
        wasmparser::CompositeInnerType::Func(t) => {
            let vals = |v: &[wasmparser::ValType]| {
                v.iter()
                    .map(|v| valtype_at(file, Some(offset), *v))
                    .collect::<Result<Vec<_>, _>>()
            };
            (
                FuncType {
                    params: vals(t.params())?,
                    results: vals(t.results())?,
                },
                CompositeType::Func,
            )
        }
        wasmparser::CompositeInnerType::Struct(t) => (
            FuncType {
                params: vec![],
                results: vec![],
            },
            CompositeType::Struct(t.fields.iter().map(field).collect::<Result<_, _>>()?),
        ),
        wasmparser::CompositeInnerType::Array(t) => (
            FuncType {
                params: vec![],
                results: vec![],
            },
            CompositeType::Array(field(&t.0)?),
        ),
        wasmparser::CompositeInnerType::Cont(_) => return Err(err("continuation types")),
    };
    Ok((
        ty,
        TypeDef {
            rec_start,
            rec_len,
            is_final: sub.is_final,
            supertype,
            composite,
        },
    ))
}

fn reftype(file: &str, r: wasmparser::RefType) -> Result<ValType, CompileError> {
    reftype_at(file, None, r)
}

/// A reference type as `aot_abi` spells it; `offset` locates errors when known.
pub fn reftype_at(
    file: &str,
    offset: Option<usize>,
    r: wasmparser::RefType,
) -> Result<ValType, CompileError> {
    use wasmparser::AbstractHeapType as A;
    let unsupported =
        |what: String| CompileError::new(file, offset, format!("{what} is not supported yet"));
    let heap = match r.heap_type() {
        wasmparser::HeapType::Abstract { shared: true, .. } => {
            return Err(unsupported(format!("shared reference type {r}")));
        }
        wasmparser::HeapType::Abstract { ty, .. } => match ty {
            A::Func => HeapType::Func,
            A::NoFunc => HeapType::NoFunc,
            A::Extern => HeapType::Extern,
            A::NoExtern => HeapType::NoExtern,
            A::Any => HeapType::Any,
            A::Eq => HeapType::Eq,
            A::I31 => HeapType::I31,
            A::Struct => HeapType::Struct,
            A::Array => HeapType::Array,
            A::None => HeapType::None,
            A::Exn => HeapType::Exn,
            A::NoExn => HeapType::NoExn,
            A::Cont | A::NoCont => {
                return Err(unsupported(format!("reference type {r} (stack switching)")));
            }
        },
        wasmparser::HeapType::Concrete(i) => match i.as_module_index() {
            Some(i) => HeapType::Concrete(i),
            None => return Err(unsupported(format!("reference type {r}"))),
        },
        wasmparser::HeapType::Exact(_) => {
            return Err(unsupported(format!(
                "exact reference type {r} (custom descriptors)"
            )));
        }
    };
    Ok(ValType::from_ref(RefType {
        nullable: r.is_nullable(),
        heap,
    }))
}

fn table_type(file: &str, t: &wasmparser::TableType) -> Result<TableType, CompileError> {
    Ok(TableType {
        elem: reftype(file, t.element_type)?,
        min: t.initial,
        max: t.maximum,
        table64: t.table64,
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        min: m.initial,
        max: m.maximum,
        shared: m.shared,
        memory64: m.memory64,
        // The validator admits only the page sizes aot supports (1 and 64 KiB).
        page_size_log2: m.page_size_log2.unwrap_or(16) as u8,
    }
}

fn global_type(file: &str, g: &wasmparser::GlobalType) -> Result<GlobalType, CompileError> {
    Ok(GlobalType {
        ty: valtype(file, g.content_type)?,
        mutable: g.mutable,
    })
}

/// The destination offset of an active data segment of `len` bytes worth laying out for
/// mapping (`aot_abi::data_image_align`): a large one at a constant offset. An offset that
/// depends on an imported global is known only at run time, where it is copied.
fn image_destination(mode: &SegmentMode, len: usize) -> Option<u64> {
    let SegmentMode::Active { offset, .. } = mode else {
        return None;
    };
    if (len as u64) < aot_abi::DATA_IMAGE_MIN_LEN {
        return None;
    }
    match offset.0.as_slice() {
        // Offsets into a 32-bit memory are zero-extended.
        [ConstOp::I32Const(v)] => Some(u64::from(*v as u32)),
        [ConstOp::I64Const(v)] => Some(*v as u64),
        _ => None,
    }
}

fn const_expr(file: &str, e: &wasmparser::ConstExpr) -> Result<ConstExpr, CompileError> {
    let mut ops = Vec::new();
    let mut r = e.get_operators_reader();
    while !r.eof() {
        let offset = r.original_position();
        let op = r
            .read()
            .map_err(|e| CompileError::from_wasmparser(file, &e))?;
        use wasmparser::Operator as O;
        ops.push(match op {
            O::I32Const { value } => ConstOp::I32Const(value),
            O::I64Const { value } => ConstOp::I64Const(value),
            O::F32Const { value } => ConstOp::F32Const(value.bits()),
            O::F64Const { value } => ConstOp::F64Const(value.bits()),
            O::V128Const { value } => ConstOp::V128Const(u128::from_le_bytes(*value.bytes())),
            O::RefNull { hty } => ConstOp::RefNull(reftype_at(
                file,
                Some(offset as usize),
                wasmparser::RefType::new(true, hty).ok_or_else(|| {
                    CompileError::new(
                        file,
                        Some(offset as usize),
                        "reference type index too large",
                    )
                })?,
            )?),
            O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            O::I32Add => ConstOp::I32Add,
            O::I32Sub => ConstOp::I32Sub,
            O::I32Mul => ConstOp::I32Mul,
            O::I64Add => ConstOp::I64Add,
            O::I64Sub => ConstOp::I64Sub,
            O::I64Mul => ConstOp::I64Mul,
            O::StructNew { struct_type_index } => ConstOp::StructNew(struct_type_index),
            O::StructNewDefault { struct_type_index } => {
                ConstOp::StructNewDefault(struct_type_index)
            }
            O::ArrayNew { array_type_index } => ConstOp::ArrayNew(array_type_index),
            O::ArrayNewDefault { array_type_index } => ConstOp::ArrayNewDefault(array_type_index),
            O::ArrayNewFixed {
                array_type_index,
                array_size,
            } => ConstOp::ArrayNewFixed(array_type_index, array_size),
            O::RefI31 => ConstOp::RefI31,
            O::AnyConvertExtern => ConstOp::AnyConvertExtern,
            O::ExternConvertAny => ConstOp::ExternConvertAny,
            O::End => continue,
            // Validation admits only constant instructions: what is left is unsupported
            // (shared-everything's), named as in function bodies.
            other => return Err(crate::translate::unsupported(file, offset as usize, &other)),
        });
    }
    Ok(ConstExpr(ops))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_wasi_p1_by_signature_unless_any_are_allowed() {
        let opts = Options::new(crate::Target::for_arch(crate::target::Arch::X86_64));
        let fd_close = FuncType {
            params: vec![ValType::I32],
            results: vec![ValType::I32],
        };
        let wrong = FuncType {
            params: vec![ValType::I64],
            results: vec![ValType::I32],
        };
        let types = [fd_close, wrong];
        let wasi = aot_abi::wasi::WASI_P1_MODULE;
        let func = |t| ImportKind::Func(t);
        assert!(accepts_import(&opts, wasi, "fd_close", &func(0), &types));
        assert!(!accepts_import(&opts, wasi, "fd_close", &func(1), &types));
        assert!(
            !accepts_import(&opts, wasi, "fd_close", &func(2), &types),
            "no such type"
        );
        assert!(!accepts_import(&opts, wasi, "nope", &func(0), &types));
        assert!(!accepts_import(&opts, "env", "fd_close", &func(0), &types));
        let memory = ImportKind::Memory(MemoryType {
            min: 1,
            max: None,
            shared: false,
            memory64: false,
            page_size_log2: 16,
        });
        assert!(!accepts_import(&opts, wasi, "memory", &memory, &types));
        let any = Options {
            allow_unknown_imports: true,
            ..opts
        };
        assert!(accepts_import(&any, "env", "anything", &memory, &types));
        assert!(accepts_import(&any, wasi, "fd_close", &func(1), &types));
    }

    fn parse_wat(wat: &str) -> Result<ModuleInfo<'static>, CompileError> {
        let wasm: &'static [u8] = wat::parse_str(wat).expect("test wat").leak();
        let opts = Options::new(crate::Target::for_arch(crate::target::Arch::X86_64));
        parse(wasm, "t.wasm", &opts)
    }

    #[test]
    fn gc_layout_accessors_follow_the_abi_layout() {
        let info = parse_wat(
            r#"(module
  (type $f (func))
  (type $a (sub (struct (field i8) (field (ref null $f)) (field v128) (field anyref) (field (mut i16)))))
  (type $b (sub $a (struct (field i8) (field (ref null $f)) (field v128) (field anyref) (field (mut i16)) (field externref))))
  (type $c (sub final $b (struct (field i8) (field (ref null $f)) (field v128) (field anyref) (field (mut i16)) (field externref))))
  (type $refs (array (mut (ref null $a))))
  (type $bytes (array i8))
  (type $funcs (array funcref)))"#,
        )
        .expect("valid module");
        assert!(info.has_gc_types());
        assert!(info.is_func_type(0) && !info.is_func_type(1) && !info.is_func_type(5));
        let a = info.struct_layout(1).expect("struct");
        // Declaration order, each field aligned to its size (at most 8): i8 8, funcref 16,
        // v128 24, anyref 40, i16 48.
        assert_eq!(a.offsets, vec![8, 16, 24, 40, 48]);
        assert_eq!(a.size, 56);
        assert_eq!(
            a.ref_offsets,
            vec![40],
            "a function reference is not traced"
        );
        let c = info.struct_layout(3).expect("struct");
        assert_eq!(c.offsets[..5], a.offsets[..], "inherited fields stay put");
        assert_eq!(c.ref_offsets, vec![40, 56]);
        assert_eq!(info.struct_layout(0), None);
        assert_eq!(info.struct_layout(4), None);
        assert_eq!(
            [4, 5, 6].map(|t| info.array_elem_size(t)),
            [Some(8), Some(1), Some(8)]
        );
        assert_eq!(
            [4, 5, 6].map(|t| info.array_elem_is_traced(t)),
            [Some(true), Some(false), Some(false)]
        );
        assert_eq!(info.array_elem_size(1), None);
        assert_eq!([1, 2, 3, 4].map(|t| info.subtype_depth(t)), [0, 1, 2, 0]);
        assert_eq!(
            [0, 1, 2, 3, 4].map(|t| info.is_final(t)),
            [true, false, false, true, true]
        );
        assert!(info.gc_type_offset.is_some());
        let plain = parse_wat("(module (type (func)) (func))").expect("valid");
        assert!(!plain.has_gc_types() && plain.gc_type_offset.is_none());
        assert!(plain.is_final(0) && plain.subtype_depth(0) == 0);
    }

    #[test]
    fn gc_types_with_threads_are_refused() {
        let shared = parse_wat("(module (type (struct)) (memory 1 1 shared))")
            .err()
            .expect("refused");
        assert_eq!(shared.offset, Some(11), "at the struct type: {shared}");
        assert!(
            shared
                .to_string()
                .starts_with("t.wasm: byte 0xb: GC types (struct and array types) in a threaded program are not supported: the module has a shared memory"),
            "{shared}"
        );
        let spawn = parse_wat(
            r#"(module (type (array i8))
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func (param i32) (result i32))))"#,
        )
        .err()
        .expect("refused");
        assert!(
            spawn
                .message
                .ends_with("the module imports `wasi::thread-spawn`"),
            "{spawn}"
        );
        let imported =
            parse_wat(r#"(module (type (struct)) (import "env" "memory" (memory 1 1 shared)))"#);
        assert!(imported.is_err(), "an imported shared memory counts too");
        // Function types alone are fine with threads.
        assert!(parse_wat("(module (type (func)) (memory 1 1 shared))").is_ok());
    }

    #[test]
    fn shared_gc_types_are_refused_by_validation() {
        let e = parse_wat("(module (type (shared (struct))))")
            .err()
            .expect("refused");
        assert!(e.message.contains("shared-everything-threads"), "{e}");
        assert!(e.offset.is_some());
    }
}
