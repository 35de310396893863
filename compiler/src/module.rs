//! Parse and validate a Wasm binary into a [`ModuleInfo`]: the module description the
//! translator and the code generator work from.
//!
//! Validation is complete before anything else looks at the module (wasmparser with the
//! feature set of [`Options::features`], by default [`features`]), so later stages may assume a valid module and
//! only report features they do not support yet.
//!
//! The import policy lives here too ([`accepts_import`]): which imports a module may have.

use aot_abi::{
    CompositeType, ConstExpr, ConstOp, DataSegment, DefinedGlobal, DefinedTable, ElemSegment,
    Export, ExternKind, FieldType, FuncType, GlobalType, HeapType, Import, ImportKind, MemoryType,
    ModuleMeta, RefType, SegmentMode, TableType, TypeDef, ValType,
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
    /// Bytes of all data segments, concatenated.
    pub data: Vec<u8>,
    /// Per imported function: the runtime symbol implementing it when the runtime provides
    /// it (`aot_abi::host`), else None (another instance provides it).
    pub host_imports: Vec<Option<String>>,
    /// Byte offset of every import, for errors found when wiring them.
    pub import_offsets: Vec<usize>,
}

impl ModuleInfo<'_> {
    pub fn func_type(&self, func_index: u32) -> &FuncType {
        &self.meta.types[self.meta.funcs[func_index as usize] as usize]
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
/// GC is on for validation only, because wasmparser gates parts of Wasm 3.0 that are not
/// GC on it (rec groups and iso-recursive types, the abstract heap types such as `anyref`,
/// `global.get` of defined globals in constant expressions); struct and array types may be
/// defined (they matter to type identity), but every GC instruction is refused by the
/// translator ("... is not supported yet (GC)"), so no GC object ever exists.
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
        host_imports: Vec::new(),
        import_offsets: Vec::new(),
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
                            info.meta.funcs.push(t);
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
                    info.meta.funcs.push(t.map_err(perr)?);
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
                            let mut items = Vec::new();
                            for f in r {
                                items.push(ConstExpr(vec![ConstOp::RefFunc(f.map_err(perr)?)]));
                            }
                            (ValType::FuncRef, items)
                        }
                        wasmparser::ElementItems::Expressions(rt, r) => {
                            let mut items = Vec::new();
                            for x in r {
                                items.push(const_expr(file, &x.map_err(perr)?)?);
                            }
                            (reftype(file, rt)?, items)
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
                    let offset = info.data.len() as u32;
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

    info.meta.func_names = vec![String::new(); info.meta.funcs.len()];
    for (i, n) in names {
        if let Some(slot) = info.meta.func_names.get_mut(i as usize) {
            *slot = n;
        }
    }
    Ok(info)
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
            O::End => continue,
            // Validation admits only constant instructions: what is left is GC's
            // (`struct.new`, `array.new_fixed`, `ref.i31`, ...), named as in function bodies.
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
}
