//! What the runtime needs to know about a compiled module to instantiate it: its types,
//! imports, exports, memories, tables, globals, segments, start function and names.
//!
//! The compiler builds a [`ModuleMeta`] from the validated Wasm and writes
//! [`ModuleMeta::encode`] into the object; the runtime reads it back with
//! [`ModuleMeta::decode_static`], leaving the function names and types in place. Function
//! bodies are not here: they are native code.

use std::borrow::Cow;

use crate::codec::{DecodeError, DecodeResult, Reader, Writer, le_u32s};
use crate::vmctx::VMCounts;
use crate::{HeapType, RefType, ValType};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// What a type definition is beyond its signature (Wasm 3.0's type section): its
/// recursion group, finality, declared supertype and kind. The runtime canonicalises types
/// from these (iso-recursive equivalence: two types are the same when their whole rec
/// groups are, position included), so that `call_indirect`, function imports and typed
/// references agree across modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDef {
    /// Module type index of the first type of its rec group, and the group's length.
    pub rec_start: u32,
    pub rec_len: u32,
    pub is_final: bool,
    /// Declared supertype, a module type index.
    pub supertype: Option<u32>,
    pub composite: CompositeType,
}

/// The kind of a defined type. A function type's signature is `ModuleMeta::types[i]`;
/// struct and array types (definable, though no instruction of aot may use them yet) have
/// an empty signature there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompositeType {
    Func,
    Struct(Vec<FieldType>),
    Array(FieldType),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldType {
    pub mutable: bool,
    /// None for the packed i8 and i16 storage types: `Some(ValType::I32)` otherwise
    /// would be ambiguous, so packed types use `packed`.
    pub ty: Option<ValType>,
    /// 8 or 16 for a packed field, 0 otherwise.
    pub packed: u8,
}

impl TypeDef {
    /// The definition of a lone final function type (a Wasm 2.0 type, or a host's).
    pub fn lone_func(index: u32) -> TypeDef {
        TypeDef {
            rec_start: index,
            rec_len: 1,
            is_final: true,
            supertype: None,
            composite: CompositeType::Func,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// A reference type: `ValType::FuncRef`, `ValType::ExternRef` or a `ValType::Ref`.
    pub elem: ValType,
    pub min: u64,
    pub max: Option<u64>,
    /// i64 indices (the memory64 proposal's 64-bit tables).
    pub table64: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// In pages.
    pub min: u64,
    pub max: Option<u64>,
    pub shared: bool,
    pub memory64: bool,
    /// log2 of the page size in bytes: 16 (64 KiB, the default) or 0 (one byte, the custom
    /// page sizes proposal; the sizes wasmtime supports).
    pub page_size_log2: u8,
}

/// Limits subtyping (the spec's import matching): at least the expected minimum, and a
/// maximum no larger than the expected one when one is expected.
pub fn limits_match(
    actual_min: u64,
    actual_max: Option<u64>,
    expected_min: u64,
    expected_max: Option<u64>,
) -> bool {
    actual_min >= expected_min
        && match expected_max {
            None => true,
            Some(em) => actual_max.is_some_and(|am| am <= em),
        }
}

impl TableType {
    /// Whether a table of this type may satisfy an import of type `expected`.
    pub fn matches(&self, expected: &TableType) -> bool {
        self.elem == expected.elem
            && self.table64 == expected.table64
            && limits_match(self.min, self.max, expected.min, expected.max)
    }
}

impl MemoryType {
    /// Bytes per page.
    pub fn page_size(&self) -> u64 {
        1 << self.page_size_log2
    }

    /// The most pages the index space allows: 4 GiB of 32-bit addresses, or 2^64 bytes
    /// (which no reservation reaches) for a 64-bit memory.
    pub fn max_index_pages(&self) -> u64 {
        if self.memory64 {
            u64::MAX >> self.page_size_log2
        } else {
            (1u64 << 32) >> self.page_size_log2
        }
    }

    /// Whether a memory of this type may satisfy an import of type `expected`.
    pub fn matches(&self, expected: &MemoryType) -> bool {
        self.shared == expected.shared
            && self.memory64 == expected.memory64
            && self.page_size_log2 == expected.page_size_log2
            && limits_match(self.min, self.max, expected.min, expected.max)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    pub ty: ValType,
    pub mutable: bool,
}

/// A constant expression (global initialisers, segment offsets and elements).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConstExpr(pub Vec<ConstOp>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstOp {
    I32Const(i32),
    I64Const(i64),
    F32Const(u32),
    F64Const(u64),
    V128Const(u128),
    RefNull(ValType),
    RefFunc(u32),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
    /// GC's constant instructions; type indices are the module's.
    StructNew(u32),
    StructNewDefault(u32),
    ArrayNew(u32),
    ArrayNewDefault(u32),
    ArrayNewFixed(u32, u32),
    RefI31,
    AnyConvertExtern,
    ExternConvertAny,
}

impl ConstOp {
    /// Whether it is one of GC's constant instructions (which the runtime evaluates with
    /// the module's types and the store's heap).
    pub fn is_gc(&self) -> bool {
        matches!(
            self,
            ConstOp::StructNew(_)
                | ConstOp::StructNewDefault(_)
                | ConstOp::ArrayNew(_)
                | ConstOp::ArrayNewDefault(_)
                | ConstOp::ArrayNewFixed(..)
                | ConstOp::RefI31
                | ConstOp::AnyConvertExtern
                | ConstOp::ExternConvertAny
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
    /// A tag (exception handling) of this function type index (no results).
    Tag(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    Func = 0,
    Table = 1,
    Memory = 2,
    Global = 3,
    Tag = 4,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub kind: ExternKind,
    /// Index in the module's space of that kind (imports first).
    pub index: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinedTable {
    pub ty: TableType,
    /// Initial value of every element; None means null.
    pub init: Option<ConstExpr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinedGlobal {
    pub ty: GlobalType,
    pub init: ConstExpr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentMode {
    Passive,
    Active {
        index: u32,
        offset: ConstExpr,
    },
    /// Element segments only: dropped right after instantiation.
    Declared,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElemSegment {
    pub mode: SegmentMode,
    pub ty: ValType,
    pub items: ElemItems,
}

/// An element segment's items.
///
/// Nearly every segment a toolchain emits lists only functions (`ref.func i` each). Those
/// are held as plain indices: decoding a constant expression per element costs an
/// allocation each, and a large program's start-up paid one per element of its function
/// table (clang.wasm: 40,000).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElemItems {
    /// Item `k` is `ref.func funcs[k]`.
    Funcs(Vec<u32>),
    /// Any other items: `ref.null`, `global.get`, GC constants, extended constants.
    Exprs(Vec<ConstExpr>),
}

/// One item of an [`ElemItems`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElemItem<'a> {
    Func(u32),
    Expr(&'a ConstExpr),
}

impl ElemItems {
    /// The items `exprs` lists, as plain function indices when each is one `ref.func`.
    pub fn from_exprs(exprs: Vec<ConstExpr>) -> ElemItems {
        let funcs: Option<Vec<u32>> = exprs
            .iter()
            .map(|e| match e.0.as_slice() {
                [ConstOp::RefFunc(f)] => Some(*f),
                _ => None,
            })
            .collect();
        match funcs {
            Some(funcs) => ElemItems::Funcs(funcs),
            None => ElemItems::Exprs(exprs),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ElemItems::Funcs(f) => f.len(),
            ElemItems::Exprs(e) => e.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = ElemItem<'_>> {
        let (funcs, exprs) = match self {
            ElemItems::Funcs(f) => (f.as_slice(), &[][..]),
            ElemItems::Exprs(e) => (&[][..], e.as_slice()),
        };
        funcs
            .iter()
            .map(|&f| ElemItem::Func(f))
            .chain(exprs.iter().map(ElemItem::Expr))
    }
}

impl ElemItem<'_> {
    /// The function this item names, when it is `ref.func` alone.
    pub fn func(self) -> Option<u32> {
        match self {
            ElemItem::Func(f) => Some(f),
            ElemItem::Expr(e) => match e.0.as_slice() {
                [ConstOp::RefFunc(f)] => Some(*f),
                _ => None,
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSegment {
    pub mode: SegmentMode,
    /// Byte range in the module descriptor's data blob.
    pub offset: u32,
    pub len: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModuleMeta {
    pub name: Option<String>,
    pub types: Vec<FuncType>,
    /// Per type (parallel to `types`): its rec group, finality, supertype and kind. Empty
    /// means every type is a lone final function type.
    pub type_defs: Vec<TypeDef>,
    pub imports: Vec<Import>,
    /// Type index of every function, imported first. The runtime reads them in place from
    /// the executable's metadata (a large module has 100,000 of them).
    pub funcs: Cow<'static, [u32]>,
    pub tables: Vec<DefinedTable>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<DefinedGlobal>,
    /// Type index of every defined tag (imported tags are in `imports`).
    pub tags: Vec<u32>,
    pub exports: Vec<Export>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSegment>,
    pub datas: Vec<DataSegment>,
    /// Name of every function from the name section, by function index; empty = unnamed.
    pub func_names: FuncNames,
    /// The defined functions with a `VMFuncRef` slot: [`FuncrefSlots::of`] this module,
    /// which the compiler sets once the module is parsed.
    pub funcref_slots: FuncrefSlots,
}

/// Which defined functions have a `VMFuncRef` in the vmctx, numbered densely after the
/// imported functions (each of which has one).
///
/// A function needs one only if something can take a reference to it: an export, an
/// element segment, a global's or a table's initialiser names it. That is the module's
/// C.refs, so validation allows `ref.func` in code for these functions only. clang.wasm
/// has 133,000 functions, 40,000 of them in its table: with a slot for every function its
/// vmctx held 3 MB of them, and writing the referenced ones at start-up faulted in nearly
/// every page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FuncrefSlots {
    /// Bit `d % 64` of word `d / 64` is set when defined function `d` has a slot.
    words: Vec<u64>,
    /// Per word, the slots of the words before it.
    before: Vec<u32>,
}

impl FuncrefSlots {
    /// The slots `meta` needs (its C.refs among its defined functions).
    pub fn of(meta: &ModuleMeta) -> FuncrefSlots {
        let imported = meta.imported_funcs();
        let defined = (meta.funcs.len() as u32).saturating_sub(imported);
        let mut words = vec![0u64; defined.div_ceil(64) as usize];
        let ref_funcs = |e: &ConstExpr| -> Vec<u32> {
            e.0.iter()
                .filter_map(|op| match op {
                    ConstOp::RefFunc(f) => Some(*f),
                    _ => None,
                })
                .collect()
        };
        let exported = meta
            .exports
            .iter()
            .filter(|e| e.kind == ExternKind::Func)
            .map(|e| e.index);
        let initialisers = meta
            .globals
            .iter()
            .map(|g| &g.init)
            .chain(meta.tables.iter().filter_map(|t| t.init.as_ref()))
            .flat_map(ref_funcs);
        let elements = meta.elems.iter().flat_map(|seg| match &seg.items {
            ElemItems::Funcs(fs) => fs.clone(),
            ElemItems::Exprs(es) => es.iter().flat_map(ref_funcs).collect(),
        });
        for f in exported.chain(initialisers).chain(elements) {
            if let Some(d) = f.checked_sub(imported).filter(|d| *d < defined) {
                words[(d / 64) as usize] |= 1 << (d % 64);
            }
        }
        FuncrefSlots::from_words(words)
    }

    fn from_words(words: Vec<u64>) -> FuncrefSlots {
        let before = words
            .iter()
            .scan(0u32, |n, w| {
                let at = *n;
                *n += w.count_ones();
                Some(at)
            })
            .collect();
        FuncrefSlots { words, before }
    }

    /// The defined functions with a slot.
    pub fn count(&self) -> u32 {
        match (self.before.last(), self.words.last()) {
            (Some(n), Some(w)) => n + w.count_ones(),
            _ => 0,
        }
    }

    /// The slot of function `index` of a module with `imported` imported functions, if it
    /// has one: its own index for an imported function, `imported` plus its rank among the
    /// defined functions with a slot for a defined one.
    pub fn slot(&self, imported: u32, index: u32) -> Option<u32> {
        let Some(d) = index.checked_sub(imported) else {
            return Some(index);
        };
        let (w, bit) = ((d / 64) as usize, d % 64);
        let word = *self.words.get(w)?;
        (word >> bit & 1 == 1)
            .then(|| imported + self.before[w] + (word & ((1u64 << bit) - 1)).count_ones())
    }

    /// Whether every marked function is one of `defined` defined functions.
    pub fn fits(&self, defined: u32) -> bool {
        self.words.len() == defined.div_ceil(64) as usize
            && self
                .words
                .last()
                .is_none_or(|w| defined.is_multiple_of(64) || w >> (defined % 64) == 0)
    }
}

/// The function names of a module, by function index ("" = unnamed). Encoded as a count,
/// `count + 1` u32 offsets into a blob, and the blob, so that a name is found without
/// decoding the others: clang's 130,000 names took an eighth of its start-up when every
/// one was decoded into a `String`, and only a backtrace reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuncNames {
    /// Built by the compiler, or decoded from bytes that do not outlive the decode.
    Owned(Vec<String>),
    /// Read in place from metadata that lives as long as the process (the executable's
    /// image): `offsets` holds the `count + 1` little-endian u32 offsets into `blob`.
    /// A lookup checks its offsets and its UTF-8, and allocates nothing.
    Static {
        offsets: &'static [u8],
        blob: &'static [u8],
    },
}

/// A name table's encoded offsets and blob (see [`FuncNames`]).
type NameParts<'a> = (&'a [u8], &'a [u8]);

/// How many names an encoded table's offsets delimit.
fn name_count(offsets: &[u8]) -> usize {
    (offsets.len() / 4).saturating_sub(1)
}

/// Name `i` of an encoded table: None when its offsets are missing, out of order, past
/// the blob, or enclose bytes that are not UTF-8.
fn name_in<'a>(offsets: &'a [u8], blob: &'a [u8], i: usize) -> Option<&'a str> {
    let at = |i: usize| -> Option<usize> {
        let b = offsets.get(i.checked_mul(4)?..i.checked_mul(4)?.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let bytes = blob.get(at(i)?..at(i.checked_add(1)?)?)?;
    core::str::from_utf8(bytes).ok()
}

impl Default for FuncNames {
    fn default() -> FuncNames {
        FuncNames::Owned(Vec::new())
    }
}

impl FuncNames {
    /// The name of function `index`: None past the last function or for malformed bytes,
    /// "" for an unnamed one.
    pub fn get(&self, index: u32) -> Option<&str> {
        match self {
            FuncNames::Owned(v) => v.get(index as usize).map(String::as_str),
            FuncNames::Static { offsets, blob } => name_in(offsets, blob, index as usize),
        }
    }

    fn encode(&self, w: &mut Writer) {
        let count = match self {
            FuncNames::Owned(v) => v.len(),
            FuncNames::Static { offsets, .. } => name_count(offsets),
        };
        let names: Vec<&str> = (0..count as u32)
            .map(|i| self.get(i).unwrap_or(""))
            .collect();
        w.u32(count as u32);
        let mut end = 0u32;
        w.u32(0);
        for n in &names {
            end += n.len() as u32;
            w.u32(end);
        }
        for n in &names {
            w.raw(n.as_bytes());
        }
    }

    /// The count, the offsets and the blob, as [`FuncNames::encode`] lays them out.
    fn decode_parts<'a>(r: &mut Reader<'a>) -> DecodeResult<NameParts<'a>> {
        let count = r.u32()? as usize;
        let offsets = r.take(
            count
                .checked_add(1)
                .and_then(|n| n.checked_mul(4))
                .ok_or(DecodeError("length overflow"))?,
        )?;
        let last = &offsets[count * 4..];
        let len = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as usize;
        Ok((offsets, r.take(len)?))
    }
}

impl ModuleMeta {
    pub fn imported_funcs(&self) -> u32 {
        self.imports
            .iter()
            .filter(|i| matches!(i.kind, ImportKind::Func(_)))
            .count() as u32
    }

    pub fn counts(&self) -> VMCounts {
        let count =
            |f: fn(&ImportKind) -> bool| self.imports.iter().filter(|i| f(&i.kind)).count() as u32;
        let imported_funcs = count(|k| matches!(k, ImportKind::Func(_)));
        VMCounts {
            imported_funcs,
            imported_tables: count(|k| matches!(k, ImportKind::Table(_))),
            imported_memories: count(|k| matches!(k, ImportKind::Memory(_))),
            imported_globals: count(|k| matches!(k, ImportKind::Global(_))),
            tags: count(|k| matches!(k, ImportKind::Tag(_))) + self.tags.len() as u32,
            defined_tables: self.tables.len() as u32,
            defined_memories: self.memories.len() as u32,
            defined_globals: self.globals.len() as u32,
            types: self.types.len() as u32,
            funcref_slots: imported_funcs + self.funcref_slots.count(),
        }
    }

    /// The definition of type `index` (see [`ModuleMeta::type_defs`]).
    pub fn type_def(&self, index: u32) -> TypeDef {
        match self.type_defs.get(index as usize) {
            Some(d) => d.clone(),
            None => TypeDef::lone_func(index),
        }
    }

    /// The name to show in a backtrace for function `index`.
    pub fn func_display_name(&self, index: u32) -> String {
        match self.func_names.get(index) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => format!("<wasm function {index}>"),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(META_MAGIC);
        w.opt_str(self.name.as_deref());
        w.seq(&self.types, |w, t| {
            w.seq(&t.params, |w, v| enc_valtype(w, *v));
            w.seq(&t.results, |w, v| enc_valtype(w, *v));
        });
        w.seq(&self.type_defs, |w, d| {
            w.u32(d.rec_start);
            w.u32(d.rec_len);
            w.bool(d.is_final);
            w.opt_u64(d.supertype.map(u64::from));
            let field = |w: &mut Writer, f: &FieldType| {
                w.bool(f.mutable);
                w.u8(f.packed);
                match f.ty {
                    Some(t) => {
                        w.u8(1);
                        enc_valtype(w, t);
                    }
                    None => w.u8(0),
                }
            };
            match &d.composite {
                CompositeType::Func => w.u8(0),
                CompositeType::Struct(fields) => {
                    w.u8(1);
                    w.seq(fields, field);
                }
                CompositeType::Array(f) => {
                    w.u8(2);
                    field(w, f);
                }
            }
        });
        w.seq(&self.imports, |w, i| {
            w.str(&i.module);
            w.str(&i.name);
            match &i.kind {
                ImportKind::Func(t) => {
                    w.u8(0);
                    w.u32(*t);
                }
                ImportKind::Table(t) => {
                    w.u8(1);
                    enc_table(w, t);
                }
                ImportKind::Memory(m) => {
                    w.u8(2);
                    enc_memory(w, m);
                }
                ImportKind::Global(g) => {
                    w.u8(3);
                    enc_global_type(w, g);
                }
                ImportKind::Tag(t) => {
                    w.u8(4);
                    w.u32(*t);
                }
            }
        });
        // Aligned, so that the runtime can read them in place.
        w.u32(self.funcs.len() as u32);
        w.align(4);
        self.funcs.iter().for_each(|t| w.u32(*t));
        w.seq(&self.tables, |w, t| {
            enc_table(w, &t.ty);
            match &t.init {
                Some(e) => {
                    w.u8(1);
                    enc_expr(w, e);
                }
                None => w.u8(0),
            }
        });
        w.seq(&self.memories, enc_memory);
        w.seq(&self.globals, |w, g| {
            enc_global_type(w, &g.ty);
            enc_expr(w, &g.init);
        });
        w.seq(&self.tags, |w, t| w.u32(*t));
        w.seq(&self.exports, |w, e| {
            w.str(&e.name);
            w.u8(e.kind as u8);
            w.u32(e.index);
        });
        w.opt_u64(self.start.map(u64::from));
        w.seq(&self.elems, |w, e| {
            enc_mode(w, &e.mode);
            enc_valtype(w, e.ty);
            match &e.items {
                ElemItems::Funcs(f) => {
                    w.u8(0);
                    w.seq(f, |w, i| w.u32(*i));
                }
                ElemItems::Exprs(x) => {
                    w.u8(1);
                    w.seq(x, enc_expr);
                }
            }
        });
        w.seq(&self.datas, |w, d| {
            enc_mode(w, &d.mode);
            w.u32(d.offset);
            w.u32(d.len);
        });
        w.seq(&self.funcref_slots.words, |w, b| w.u64(*b));
        self.func_names.encode(&mut w);
        w.buf
    }

    /// Decodes metadata, the function names included (each into a `String`), from bytes
    /// that need not outlive it: the round-trip tests' decode. The runtime decodes with
    /// [`ModuleMeta::decode_static`].
    #[cfg(test)]
    pub fn decode(data: &[u8]) -> DecodeResult<ModuleMeta> {
        let (mut meta, (offsets, blob), funcs) = ModuleMeta::decode_parts(data)?;
        meta.funcs = Cow::Owned(le_u32s(funcs));
        let count = name_count(offsets);
        let lookup = |i: usize| -> DecodeResult<String> {
            name_in(offsets, blob, i)
                .map(str::to_string)
                .ok_or(DecodeError("bad function name"))
        };
        meta.func_names = FuncNames::Owned((0..count).map(lookup).collect::<DecodeResult<_>>()?);
        Ok(meta)
    }

    /// Decodes metadata that lives as long as the process, leaving the function names in
    /// place ([`FuncNames::Static`]).
    pub fn decode_static(data: &'static [u8]) -> DecodeResult<ModuleMeta> {
        let (mut meta, (offsets, blob), funcs) = ModuleMeta::decode_parts(data)?;
        meta.func_names = FuncNames::Static { offsets, blob };
        meta.funcs = u32s_in_place(funcs);
        Ok(meta)
    }

    /// Everything but the names, which it returns as [`FuncNames::decode_parts`] does, and
    /// the function types, which it returns as their encoded bytes.
    fn decode_parts(data: &[u8]) -> DecodeResult<(ModuleMeta, NameParts<'_>, &[u8])> {
        let mut r = Reader::new(data);
        if r.u32()? != META_MAGIC {
            return Err(DecodeError("bad magic or ABI version"));
        }
        let name = r.opt_string()?;
        let types = r.seq(|r| {
            Ok(FuncType {
                params: r.seq(dec_valtype)?,
                results: r.seq(dec_valtype)?,
            })
        })?;
        let type_defs = r.seq(|r| {
            let rec_start = r.u32()?;
            let rec_len = r.u32()?;
            let is_final = r.bool()?;
            let supertype = r
                .opt_u64()?
                .map(|s| u32::try_from(s).map_err(|_| DecodeError("bad supertype")))
                .transpose()?;
            let field = |r: &mut Reader| -> DecodeResult<FieldType> {
                let mutable = r.bool()?;
                let packed = r.u8()?;
                let ty = if r.bool()? {
                    Some(dec_valtype(r)?)
                } else {
                    None
                };
                Ok(FieldType {
                    mutable,
                    ty,
                    packed,
                })
            };
            let composite = match r.u8()? {
                0 => CompositeType::Func,
                1 => CompositeType::Struct(r.seq(field)?),
                2 => CompositeType::Array(field(r)?),
                _ => return Err(DecodeError("bad composite type")),
            };
            Ok(TypeDef {
                rec_start,
                rec_len,
                is_final,
                supertype,
                composite,
            })
        })?;
        let imports = r.seq(|r| {
            let module = r.string()?;
            let name = r.string()?;
            let kind = match r.u8()? {
                0 => ImportKind::Func(r.u32()?),
                1 => ImportKind::Table(dec_table(r)?),
                2 => ImportKind::Memory(dec_memory(r)?),
                3 => ImportKind::Global(dec_global_type(r)?),
                4 => ImportKind::Tag(r.u32()?),
                _ => return Err(DecodeError("bad import kind")),
            };
            Ok(Import { module, name, kind })
        })?;
        let nfuncs = r.u32()? as usize;
        r.align(4)?;
        let funcs = r.take(
            nfuncs
                .checked_mul(4)
                .ok_or(DecodeError("length overflow"))?,
        )?;
        let tables = r.seq(|r| {
            let ty = dec_table(r)?;
            let init = if r.bool()? { Some(dec_expr(r)?) } else { None };
            Ok(DefinedTable { ty, init })
        })?;
        let memories = r.seq(dec_memory)?;
        let globals = r.seq(|r| {
            Ok(DefinedGlobal {
                ty: dec_global_type(r)?,
                init: dec_expr(r)?,
            })
        })?;
        let tags = r.seq_u32()?;
        let exports = r.seq(|r| {
            let name = r.string()?;
            let kind = match r.u8()? {
                0 => ExternKind::Func,
                1 => ExternKind::Table,
                2 => ExternKind::Memory,
                3 => ExternKind::Global,
                4 => ExternKind::Tag,
                _ => return Err(DecodeError("bad export kind")),
            };
            Ok(Export {
                name,
                kind,
                index: r.u32()?,
            })
        })?;
        let start = r.opt_u64()?.map(|s| s as u32);
        let elems = r.seq(|r| {
            Ok(ElemSegment {
                mode: dec_mode(r)?,
                ty: dec_valtype(r)?,
                items: match r.u8()? {
                    0 => ElemItems::Funcs(r.seq_u32()?),
                    1 => ElemItems::Exprs(r.seq(dec_expr)?),
                    _ => return Err(DecodeError("bad element items")),
                },
            })
        })?;
        let datas = r.seq(|r| {
            Ok(DataSegment {
                mode: dec_mode(r)?,
                offset: r.u32()?,
                len: r.u32()?,
            })
        })?;
        let funcref_slots = FuncrefSlots::from_words(r.seq(|r| r.u64())?);
        let names = FuncNames::decode_parts(&mut r)?;
        if !r.at_end() {
            return Err(DecodeError("trailing bytes"));
        }
        let meta = ModuleMeta {
            name,
            types,
            type_defs,
            imports,
            funcs: Cow::Owned(Vec::new()),
            tables,
            memories,
            globals,
            tags,
            exports,
            start,
            elems,
            datas,
            func_names: FuncNames::default(),
            funcref_slots,
        };
        Ok((meta, names, funcs))
    }
}

/// Little-endian u32s that live as long as the process: read in place when aligned (the
/// encoding aligns them from its start, and the compiler aligns the whole), else copied.
fn u32s_in_place(bytes: &'static [u8]) -> Cow<'static, [u32]> {
    if cfg!(target_endian = "little") && bytes.as_ptr().align_offset(align_of::<u32>()) == 0 {
        // SAFETY: the bytes are immutable for the life of the process, aligned for u32 (just
        // checked), and every bit pattern is a u32; on a little-endian host each u32 reads
        // as it was encoded. A trailing partial u32 is left out, as `le_u32s` leaves it.
        return Cow::Borrowed(unsafe {
            core::slice::from_raw_parts(bytes.as_ptr().cast::<u32>(), bytes.len() / 4)
        });
    }
    Cow::Owned(le_u32s(bytes))
}

const META_MAGIC: u32 = 0x4d54_4100 | crate::ABI_VERSION;

pub(crate) fn enc_valtype(w: &mut Writer, v: ValType) {
    v.encode(&mut w.buf);
}

pub(crate) fn dec_valtype(r: &mut Reader) -> DecodeResult<ValType> {
    Ok(match r.u8()? {
        0 => ValType::I32,
        1 => ValType::I64,
        2 => ValType::F32,
        3 => ValType::F64,
        4 => ValType::V128,
        5 => ValType::FuncRef,
        6 => ValType::ExternRef,
        7 => {
            let nullable = r.bool()?;
            let heap = match r.u8()? {
                0 => HeapType::Func,
                1 => HeapType::NoFunc,
                2 => HeapType::Extern,
                3 => HeapType::NoExtern,
                4 => HeapType::Any,
                5 => HeapType::Eq,
                6 => HeapType::I31,
                7 => HeapType::Struct,
                8 => HeapType::Array,
                9 => HeapType::None,
                10 => HeapType::Exn,
                11 => HeapType::NoExn,
                12 => HeapType::Concrete(r.u32()?),
                _ => return Err(DecodeError("bad heap type")),
            };
            ValType::from_ref(RefType { nullable, heap })
        }
        _ => return Err(DecodeError("bad value type")),
    })
}

fn enc_table(w: &mut Writer, t: &TableType) {
    enc_valtype(w, t.elem);
    w.u64(t.min);
    w.opt_u64(t.max);
    w.bool(t.table64);
}

fn dec_table(r: &mut Reader) -> DecodeResult<TableType> {
    Ok(TableType {
        elem: dec_valtype(r)?,
        min: r.u64()?,
        max: r.opt_u64()?,
        table64: r.bool()?,
    })
}

fn enc_memory(w: &mut Writer, m: &MemoryType) {
    w.u64(m.min);
    w.opt_u64(m.max);
    w.bool(m.shared);
    w.bool(m.memory64);
    w.u8(m.page_size_log2);
}

fn dec_memory(r: &mut Reader) -> DecodeResult<MemoryType> {
    Ok(MemoryType {
        min: r.u64()?,
        max: r.opt_u64()?,
        shared: r.bool()?,
        memory64: r.bool()?,
        page_size_log2: r.u8()?,
    })
}

fn enc_global_type(w: &mut Writer, g: &GlobalType) {
    enc_valtype(w, g.ty);
    w.bool(g.mutable);
}

fn dec_global_type(r: &mut Reader) -> DecodeResult<GlobalType> {
    Ok(GlobalType {
        ty: dec_valtype(r)?,
        mutable: r.bool()?,
    })
}

fn enc_mode(w: &mut Writer, m: &SegmentMode) {
    match m {
        SegmentMode::Passive => w.u8(0),
        SegmentMode::Active { index, offset } => {
            w.u8(1);
            w.u32(*index);
            enc_expr(w, offset);
        }
        SegmentMode::Declared => w.u8(2),
    }
}

fn dec_mode(r: &mut Reader) -> DecodeResult<SegmentMode> {
    Ok(match r.u8()? {
        0 => SegmentMode::Passive,
        1 => SegmentMode::Active {
            index: r.u32()?,
            offset: dec_expr(r)?,
        },
        2 => SegmentMode::Declared,
        _ => return Err(DecodeError("bad segment mode")),
    })
}

fn enc_expr(w: &mut Writer, e: &ConstExpr) {
    w.seq(&e.0, |w, op| match *op {
        ConstOp::I32Const(v) => {
            w.u8(0);
            w.u32(v as u32);
        }
        ConstOp::I64Const(v) => {
            w.u8(1);
            w.u64(v as u64);
        }
        ConstOp::F32Const(v) => {
            w.u8(2);
            w.u32(v);
        }
        ConstOp::F64Const(v) => {
            w.u8(3);
            w.u64(v);
        }
        ConstOp::V128Const(v) => {
            w.u8(4);
            w.u64(v as u64);
            w.u64((v >> 64) as u64);
        }
        ConstOp::RefNull(t) => {
            w.u8(5);
            enc_valtype(w, t);
        }
        ConstOp::RefFunc(i) => {
            w.u8(6);
            w.u32(i);
        }
        ConstOp::GlobalGet(i) => {
            w.u8(7);
            w.u32(i);
        }
        ConstOp::I32Add => w.u8(8),
        ConstOp::I32Sub => w.u8(9),
        ConstOp::I32Mul => w.u8(10),
        ConstOp::I64Add => w.u8(11),
        ConstOp::I64Sub => w.u8(12),
        ConstOp::I64Mul => w.u8(13),
        ConstOp::StructNew(t) => {
            w.u8(14);
            w.u32(t);
        }
        ConstOp::StructNewDefault(t) => {
            w.u8(15);
            w.u32(t);
        }
        ConstOp::ArrayNew(t) => {
            w.u8(16);
            w.u32(t);
        }
        ConstOp::ArrayNewDefault(t) => {
            w.u8(17);
            w.u32(t);
        }
        ConstOp::ArrayNewFixed(t, n) => {
            w.u8(18);
            w.u32(t);
            w.u32(n);
        }
        ConstOp::RefI31 => w.u8(19),
        ConstOp::AnyConvertExtern => w.u8(20),
        ConstOp::ExternConvertAny => w.u8(21),
    });
}

fn dec_expr(r: &mut Reader) -> DecodeResult<ConstExpr> {
    Ok(ConstExpr(r.seq(|r| {
        Ok(match r.u8()? {
            0 => ConstOp::I32Const(r.u32()? as i32),
            1 => ConstOp::I64Const(r.u64()? as i64),
            2 => ConstOp::F32Const(r.u32()?),
            3 => ConstOp::F64Const(r.u64()?),
            4 => {
                let lo = r.u64()? as u128;
                let hi = r.u64()? as u128;
                ConstOp::V128Const(lo | (hi << 64))
            }
            5 => ConstOp::RefNull(dec_valtype(r)?),
            6 => ConstOp::RefFunc(r.u32()?),
            7 => ConstOp::GlobalGet(r.u32()?),
            8 => ConstOp::I32Add,
            9 => ConstOp::I32Sub,
            10 => ConstOp::I32Mul,
            11 => ConstOp::I64Add,
            12 => ConstOp::I64Sub,
            13 => ConstOp::I64Mul,
            14 => ConstOp::StructNew(r.u32()?),
            15 => ConstOp::StructNewDefault(r.u32()?),
            16 => ConstOp::ArrayNew(r.u32()?),
            17 => ConstOp::ArrayNewDefault(r.u32()?),
            18 => {
                let t = r.u32()?;
                ConstOp::ArrayNewFixed(t, r.u32()?)
            }
            19 => ConstOp::RefI31,
            20 => ConstOp::AnyConvertExtern,
            21 => ConstOp::ExternConvertAny,
            _ => return Err(DecodeError("bad constant expression op")),
        })
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_subtyping() {
        assert!(limits_match(10, Some(20), 10, Some(20)));
        assert!(limits_match(10, Some(20), 5, None));
        assert!(limits_match(10, None, 10, None));
        assert!(limits_match(10, Some(15), 10, Some(20)));
        assert!(!limits_match(10, Some(20), 11, None), "min too small");
        assert!(!limits_match(10, Some(21), 10, Some(20)), "max too large");
        assert!(
            !limits_match(10, None, 10, Some(20)),
            "no max where one is expected"
        );
    }

    #[test]
    fn meta_round_trips() {
        let mut m = ModuleMeta {
            name: Some("m".into()),
            types: vec![
                FuncType {
                    params: vec![
                        ValType::I32,
                        ValType::F64,
                        ValType::Ref(RefType {
                            nullable: false,
                            heap: HeapType::Concrete(1),
                        }),
                    ],
                    results: vec![ValType::ExternRef],
                },
                FuncType {
                    params: vec![],
                    results: vec![],
                },
            ],
            type_defs: vec![
                TypeDef::lone_func(0),
                TypeDef {
                    rec_start: 1,
                    rec_len: 1,
                    is_final: false,
                    supertype: Some(0),
                    composite: CompositeType::Struct(vec![FieldType {
                        mutable: true,
                        ty: None,
                        packed: 8,
                    }]),
                },
            ],
            imports: vec![
                Import {
                    module: "env".into(),
                    name: "f".into(),
                    kind: ImportKind::Func(0),
                },
                Import {
                    module: "env".into(),
                    name: "m".into(),
                    kind: ImportKind::Memory(MemoryType {
                        min: 1,
                        max: Some(2),
                        shared: false,
                        memory64: false,
                        page_size_log2: 16,
                    }),
                },
                Import {
                    module: "env".into(),
                    name: "t".into(),
                    kind: ImportKind::Tag(0),
                },
            ],
            funcs: vec![0, 0].into(),
            tables: vec![DefinedTable {
                ty: TableType {
                    elem: ValType::FuncRef,
                    min: 3,
                    max: None,
                    table64: true,
                },
                init: None,
            }],
            memories: vec![],
            globals: vec![DefinedGlobal {
                ty: GlobalType {
                    ty: ValType::I64,
                    mutable: true,
                },
                init: ConstExpr(vec![
                    ConstOp::I64Const(-5),
                    ConstOp::GlobalGet(0),
                    ConstOp::I64Add,
                ]),
            }],
            tags: vec![0],
            exports: vec![
                Export {
                    name: "g".into(),
                    kind: ExternKind::Global,
                    index: 0,
                },
                Export {
                    name: "t".into(),
                    kind: ExternKind::Tag,
                    index: 1,
                },
            ],
            start: Some(1),
            elems: vec![
                ElemSegment {
                    mode: SegmentMode::Active {
                        index: 0,
                        offset: ConstExpr(vec![ConstOp::I32Const(1)]),
                    },
                    ty: ValType::FuncRef,
                    items: ElemItems::Funcs(vec![1]),
                },
                ElemSegment {
                    mode: SegmentMode::Passive,
                    ty: ValType::FuncRef,
                    items: ElemItems::Exprs(vec![
                        ConstExpr(vec![ConstOp::RefNull(ValType::FuncRef)]),
                        ConstExpr(vec![ConstOp::RefFunc(0)]),
                    ]),
                },
            ],
            datas: vec![DataSegment {
                mode: SegmentMode::Passive,
                offset: 0,
                len: 4,
            }],
            func_names: FuncNames::Owned(vec!["".into(), "main".into()]),
            funcref_slots: FuncrefSlots::default(),
        };
        m.funcref_slots = FuncrefSlots::of(&m);
        assert_eq!(m.funcref_slots.count(), 1, "main, exported and an element");
        let bytes = m.encode();
        assert_eq!(ModuleMeta::decode(&bytes), Ok(m));
        for cut in 0..bytes.len() {
            assert!(ModuleMeta::decode(&bytes[..cut]).is_err());
        }
    }

    /// Exports, elements and initialisers name the functions with a slot; slots number
    /// the imported functions first, then the marked defined ones in index order.
    #[test]
    fn funcref_slots_are_dense_and_in_index_order() {
        let imports: Vec<Import> = (0..2)
            .map(|i| Import {
                module: "m".into(),
                name: format!("f{i}"),
                kind: ImportKind::Func(0),
            })
            .collect();
        let f = |i| ConstExpr(vec![ConstOp::RefFunc(i)]);
        // 2 imported and 200 defined functions (2..202).
        let m = ModuleMeta {
            imports,
            funcs: vec![0; 202].into(),
            exports: vec![Export {
                name: "e".into(),
                kind: ExternKind::Func,
                index: 150,
            }],
            globals: vec![DefinedGlobal {
                ty: GlobalType {
                    ty: ValType::FuncRef,
                    mutable: false,
                },
                init: f(70),
            }],
            elems: vec![
                ElemSegment {
                    mode: SegmentMode::Declared,
                    ty: ValType::FuncRef,
                    items: ElemItems::Funcs(vec![201, 3, 1, 3]),
                },
                ElemSegment {
                    mode: SegmentMode::Passive,
                    ty: ValType::FuncRef,
                    items: ElemItems::Exprs(vec![
                        ConstExpr(vec![ConstOp::RefNull(ValType::FuncRef)]),
                        f(66),
                    ]),
                },
            ],
            ..ModuleMeta::default()
        };
        let s = FuncrefSlots::of(&m);
        assert_eq!(s.count(), 5, "3, 66, 70, 150, 201");
        assert_eq!(m.counts().funcref_slots, 2, "counts() reads the field");
        let m = ModuleMeta {
            funcref_slots: s.clone(),
            ..m
        };
        assert_eq!(m.counts().funcref_slots, 2 + 5);
        let slots: Vec<(u32, u32)> = (0..210).filter_map(|i| Some((i, s.slot(2, i)?))).collect();
        assert_eq!(
            slots,
            [(0, 0), (1, 1), (3, 2), (66, 3), (70, 4), (150, 5), (201, 6)]
        );
        assert!(s.fits(200));
        assert!(!s.fits(199), "function 201 is not one of 199 defined");
        assert!(!s.fits(400), "one word too few");
        assert!(FuncrefSlots::default().fits(0));
    }

    /// Segments of `ref.func`s alone are held as indices; any other item keeps them all
    /// as expressions, in order.
    #[test]
    fn element_items_compact_only_plain_functions() {
        let f = |i| ConstExpr(vec![ConstOp::RefFunc(i)]);
        let null = ConstExpr(vec![ConstOp::RefNull(ValType::FuncRef)]);
        let plain = ElemItems::from_exprs(vec![f(3), f(1), f(3)]);
        assert_eq!(plain, ElemItems::Funcs(vec![3, 1, 3]));
        assert_eq!(
            plain.iter().collect::<Vec<_>>(),
            [ElemItem::Func(3), ElemItem::Func(1), ElemItem::Func(3)]
        );
        let mixed = ElemItems::from_exprs(vec![f(3), null.clone(), f(2)]);
        assert_eq!(mixed.len(), 3);
        assert_eq!(
            mixed.iter().map(ElemItem::func).collect::<Vec<_>>(),
            [Some(3), None, Some(2)]
        );
        let offset = ConstExpr(vec![
            ConstOp::GlobalGet(0),
            ConstOp::RefFunc(1),
            ConstOp::I32Add,
        ]);
        assert_eq!(ElemItem::Expr(&offset).func(), None);
        assert!(ElemItems::from_exprs(vec![]).is_empty());
    }

    /// Names read in place find each name by its offsets, and malformed offsets or UTF-8
    /// give None instead of a panic or a wrong name.
    #[test]
    fn static_names_are_read_in_place() {
        fn words_as_bytes(words: &'static mut [u32]) -> &'static mut [u8] {
            let len = words.len() * 4;
            // SAFETY: the same leaked allocation, viewed as bytes (any bit pattern is a u8).
            unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), len) }
        }
        let names = vec!["".to_string(), "main".into(), "é_f".into(), "g".into()];
        let m = ModuleMeta {
            funcs: vec![0, 1, 0x0102_0304, 0].into(),
            types: vec![FuncType {
                params: vec![],
                results: vec![],
            }],
            func_names: FuncNames::Owned(names.clone()),
            ..ModuleMeta::default()
        };
        let encoded = m.encode();
        // In a buffer of u32s, so that it is aligned as the compiler aligns metadata.
        let words: &'static mut [u32] = vec![0u32; encoded.len().div_ceil(4)].leak();
        let all: &'static mut [u8] = words_as_bytes(words);
        all[..encoded.len()].copy_from_slice(&encoded);
        let bytes: &'static [u8] = &all[..encoded.len()];
        let meta = ModuleMeta::decode_static(bytes).expect("decodes");
        assert!(matches!(meta.func_names, FuncNames::Static { .. }));
        assert!(
            matches!(meta.funcs, Cow::Borrowed(_)),
            "types read in place"
        );
        assert_eq!(*meta.funcs, [0, 1, 0x0102_0304, 0]);
        // One byte off alignment: copied, with the same values.
        let shifted: &'static [u8] = Vec::leak([&[0u8][..], &encoded].concat());
        let copied = ModuleMeta::decode_static(&shifted[1..]).expect("decodes");
        assert_eq!(copied.funcs, meta.funcs);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(meta.func_names.get(i as u32), Some(n.as_str()));
        }
        assert_eq!(meta.func_names.get(4), None);
        assert_eq!(meta.func_display_name(0), "<wasm function 0>");
        assert_eq!(meta.func_display_name(2), "é_f");
        // Encoding what was read in place gives the same bytes.
        assert_eq!(meta.encode(), bytes);
        for cut in 0..bytes.len() {
            assert!(ModuleMeta::decode_static(&bytes[..cut]).is_err());
        }
        // Offsets out of order, past the blob, or inside a UTF-8 sequence.
        let blob: &'static [u8] = "ab\u{e9}".as_bytes();
        let offsets = |o: &[u32]| -> &'static [u8] {
            Vec::leak(o.iter().flat_map(|v| v.to_le_bytes()).collect())
        };
        let bad = FuncNames::Static {
            offsets: offsets(&[2, 1, 9, 3, 4]),
            blob,
        };
        assert_eq!(bad.get(0), None);
        assert_eq!(bad.get(1), None);
        assert_eq!(bad.get(2), None);
        assert_eq!(bad.get(3), None);
        assert_eq!(bad.get(4), None);
    }
}
