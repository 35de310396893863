//! Canonical types: the process-wide registry that gives every defined type an id, so that
//! a `call_indirect`'s signature check, function imports and typed references agree across
//! modules (and with the host's function types).
//!
//! Equivalence is Wasm 3.0's iso-recursive one: a type is identified by its whole rec
//! group and its position in it, where references inside the group are by relative
//! position and references out of it by the canonical id of the referenced type (always of
//! an earlier group, so ids exist by then). Two structurally equal types in different rec
//! groups are distinct; identical rec groups in different modules are the same. A host's
//! function type is a lone final function type, as a Wasm 2.0 module's types are.
//!
//! Ids start at 1 (0 never names a type, so a zeroed vmctx slot matches nothing) and are
//! never freed. The registry is behind one mutex; nothing here runs in a signal handler.
//!
//! Every struct and array type also gets its [`VMGcTypeInfo`] when its group is interned:
//! the header word of its objects, what the collector traces and what casts compare
//! (`aot_abi::gc`). Like ids, infos are never freed, so their addresses are identities.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use aot_abi::gc::{GC_KIND_ARRAY, GC_KIND_STRUCT, VMGcTypeInfo};
use aot_abi::{CompositeType, FuncType, HeapType, ModuleMeta, RefType, TypeDef, ValType};

/// What is known of a canonical type.
#[derive(Clone, Debug)]
struct TypeInfo {
    /// Its signature with every concrete heap type as a canonical id (empty for struct and
    /// array types), for error messages and host calls.
    func: FuncType,
    kind: Kind,
    /// The canonical id of its declared supertype.
    supertype: Option<u32>,
    /// Length of its supertype chain (0: no supertype).
    depth: u32,
    /// Canonical ids of the chain, root first, ending with its own (`display[depth]`).
    display: Vec<u32>,
    /// The collector's and casts' view of a struct or array type; None for a function.
    gc: Option<&'static VMGcTypeInfo>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Func,
    Struct,
    Array,
}

#[derive(Default)]
struct Registry {
    /// Encoded rec group → the id of its first type (its types have consecutive ids).
    groups: HashMap<Vec<u8>, u32>,
    /// `infos[id - 1]`.
    infos: Vec<TypeInfo>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

static MODULE_IDS: LazyLock<Mutex<HashMap<usize, &'static [u32]>>> =
    LazyLock::new(Default::default);

/// [`canonical_ids`] of a module's (leaked, decoded-once) metadata, computed once.
pub fn module_ids(meta: &'static ModuleMeta) -> &'static [u32] {
    let key = meta as *const ModuleMeta as usize;
    if let Some(ids) = MODULE_IDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&key)
    {
        return ids;
    }
    let ids: &'static [u32] = Vec::leak(canonical_ids(meta));
    MODULE_IDS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, ids);
    ids
}

/// The canonical id of every type of `meta`, by module type index.
pub fn canonical_ids(meta: &ModuleMeta) -> Vec<u32> {
    let mut reg = registry();
    let n = meta.types.len() as u32;
    let mut ids: Vec<u32> = Vec::with_capacity(n as usize);
    let mut start = 0u32;
    while start < n {
        let len = meta.type_def(start).rec_len.max(1).min(n - start);
        let group: Vec<TypeDef> = (start..start + len).map(|i| meta.type_def(i)).collect();
        let sigs = &meta.types[start as usize..(start + len) as usize];
        let known = &ids;
        let resolve = |i: u32| known.get(i as usize).copied().unwrap_or(0);
        let first = reg.intern_group(&group, sigs, start, &resolve);
        ids.extend(first..first + len);
        start += len;
    }
    ids
}

/// The canonical id of a lone final function type `ty` (a host function's type, or a
/// Wasm 2.0 type); its concrete heap types, if any, must already be canonical ids.
pub fn intern_func(ty: &FuncType) -> u32 {
    let mut reg = registry();
    // A lone group never refers to itself here: concrete types are already canonical, so
    // a start past every index keeps them out of the group.
    reg.intern_group(
        &[TypeDef::lone_func(u32::MAX)],
        std::slice::from_ref(ty),
        u32::MAX,
        &|id| id,
    )
}

/// The signature of canonical function type `id` (concrete heap types as canonical ids).
pub fn func_type_of(id: u32) -> Option<FuncType> {
    let reg = registry();
    let info = reg.infos.get((id as usize).checked_sub(1)?)?;
    (info.kind == Kind::Func).then(|| info.func.clone())
}

/// Whether canonical type `sub` is `sup` or declares it as a (transitive) supertype.
pub fn is_subtype(sub: u32, sup: u32) -> bool {
    let reg = registry();
    reg.is_subtype(sub, sup)
}

/// Whether a value of canonical value type `a` may be used where `b` is expected (both with
/// concrete heap types as canonical ids).
pub fn val_subtype(a: ValType, b: ValType) -> bool {
    if a == b {
        return true;
    }
    match (a.as_ref(), b.as_ref()) {
        (Some(ra), Some(rb)) => {
            (rb.nullable || !ra.nullable) && registry().heap_subtype(ra.heap, rb.heap)
        }
        _ => false,
    }
}

/// `ty` with its concrete heap types (module type indices of a module whose canonical ids
/// are `ids`) made canonical ids.
pub fn canonical_val(ty: ValType, ids: &[u32]) -> ValType {
    ty.map_concrete(|i| ids.get(i as usize).copied().unwrap_or(0))
}

/// The [`VMGcTypeInfo`] of canonical type `id` (what vmctx's `gc_types` holds); null for a
/// function type or an unknown id.
pub fn gc_type_info(id: u32) -> *const VMGcTypeInfo {
    let reg = registry();
    match reg.infos.get((id as usize).wrapping_sub(1)) {
        Some(TypeInfo { gc: Some(info), .. }) => *info,
        _ => std::ptr::null(),
    }
}

/// Whether canonical type `id` is a function type (struct and array types are not).
pub fn is_func(id: u32) -> bool {
    let reg = registry();
    reg.kind(id) == Some(Kind::Func)
}

impl Registry {
    fn kind(&self, id: u32) -> Option<Kind> {
        Some(self.infos.get((id as usize).checked_sub(1)?)?.kind)
    }

    fn is_subtype(&self, mut sub: u32, sup: u32) -> bool {
        // Supertypes are of earlier groups or earlier in the same group, so this ends.
        for _ in 0..=self.infos.len() {
            if sub == sup {
                return true;
            }
            match self.infos.get((sub as usize).wrapping_sub(1)) {
                Some(TypeInfo {
                    supertype: Some(s), ..
                }) => sub = *s,
                _ => return false,
            }
        }
        false
    }

    fn heap_subtype(&self, a: HeapType, b: HeapType) -> bool {
        use HeapType::*;
        if a == b {
            return true;
        }
        let kind = |id| self.kind(id);
        match (a, b) {
            (Concrete(x), Concrete(y)) => self.is_subtype(x, y),
            (Concrete(x), Func) => kind(x) == Some(Kind::Func),
            (Concrete(x), Any | Eq) => matches!(kind(x), Some(Kind::Struct | Kind::Array)),
            (Concrete(x), Struct) => kind(x) == Some(Kind::Struct),
            (Concrete(x), Array) => kind(x) == Some(Kind::Array),
            (NoFunc, Func) => true,
            (NoFunc, Concrete(y)) => kind(y) == Some(Kind::Func),
            (None, Any | Eq | I31 | Struct | Array) => true,
            (None, Concrete(y)) => matches!(kind(y), Some(Kind::Struct | Kind::Array)),
            (Eq | I31 | Struct | Array, Any) => true,
            (I31 | Struct | Array, Eq) => true,
            (NoExtern, Extern) | (NoExn, Exn) => true,
            _ => false,
        }
    }

    /// Interns the rec group `group` (module types `start..`, signatures `sigs`) of a
    /// module whose earlier types have canonical ids `resolve(index)`; returns its first
    /// type's id.
    fn intern_group(
        &mut self,
        group: &[TypeDef],
        sigs: &[FuncType],
        start: u32,
        resolve: &dyn Fn(u32) -> u32,
    ) -> u32 {
        let len = group.len() as u32;
        let in_group = |i: u32| i.checked_sub(start).filter(|r| *r < len);
        let mut key = Vec::new();
        let enc_val = |key: &mut Vec<u8>, v: ValType| match v.as_ref() {
            Some(RefType {
                nullable,
                heap: HeapType::Concrete(i),
            }) => match in_group(i) {
                Some(r) => {
                    key.extend([0xfe, u8::from(nullable)]);
                    key.extend(r.to_le_bytes());
                }
                None => v.map_concrete(resolve).encode(key),
            },
            _ => v.encode(key),
        };
        for (def, sig) in group.iter().zip(sigs) {
            key.push(u8::from(def.is_final));
            match def.supertype {
                None => key.push(0),
                Some(s) => match in_group(s) {
                    Some(r) => {
                        key.push(1);
                        key.extend(r.to_le_bytes());
                    }
                    None => {
                        key.push(2);
                        key.extend(resolve(s).to_le_bytes());
                    }
                },
            }
            let field = |key: &mut Vec<u8>, f: &aot_abi::FieldType| {
                key.extend([u8::from(f.mutable), f.packed]);
                if let Some(t) = f.ty {
                    enc_val(key, t);
                }
            };
            match &def.composite {
                CompositeType::Func => {
                    key.push(0);
                    key.extend((sig.params.len() as u32).to_le_bytes());
                    for p in &sig.params {
                        enc_val(&mut key, *p);
                    }
                    key.extend((sig.results.len() as u32).to_le_bytes());
                    for r in &sig.results {
                        enc_val(&mut key, *r);
                    }
                }
                CompositeType::Struct(fields) => {
                    key.push(1);
                    key.extend((fields.len() as u32).to_le_bytes());
                    for f in fields {
                        field(&mut key, f);
                    }
                }
                CompositeType::Array(f) => {
                    key.push(2);
                    field(&mut key, f);
                }
            }
        }
        if let Some(&first) = self.groups.get(&key) {
            return first;
        }
        let first = self.infos.len() as u32 + 1;
        let canon = |i: u32| match in_group(i) {
            Some(r) => first + r,
            None => resolve(i),
        };
        for (def, sig) in group.iter().zip(sigs) {
            let kind = match def.composite {
                CompositeType::Func => Kind::Func,
                CompositeType::Struct(_) => Kind::Struct,
                CompositeType::Array(_) => Kind::Array,
            };
            let supertype = def.supertype.map(canon);
            // A supertype is of an earlier group or earlier in this one: already pushed.
            let mut display = supertype
                .and_then(|s| self.infos.get((s as usize).wrapping_sub(1)))
                .map(|s| s.display.clone())
                .unwrap_or_default();
            display.push(self.infos.len() as u32 + 1);
            self.infos.push(TypeInfo {
                func: FuncType {
                    params: sig.params.iter().map(|v| v.map_concrete(canon)).collect(),
                    results: sig.results.iter().map(|v| v.map_concrete(canon)).collect(),
                },
                kind,
                supertype,
                depth: display.len() as u32 - 1,
                display,
                gc: None,
            });
        }
        // Field types may name any member of the group, so kinds are known only now.
        for (r, def) in group.iter().enumerate() {
            let id = first + r as u32;
            let is_func = |i: u32| self.kind(canon(i)) == Some(Kind::Func);
            let gc = self.gc_info(id, &def.composite, &is_func);
            self.infos[(id - 1) as usize].gc = gc;
        }
        self.groups.insert(key, first);
        first
    }

    /// Builds and leaks the [`VMGcTypeInfo`] of type `id` (already pushed with its display,
    /// whose ancestors have theirs), if it is a struct or array type. `is_func` tells
    /// whether a concrete type of its fields (a module type index) is a function type.
    fn gc_info(
        &self,
        id: u32,
        composite: &CompositeType,
        is_func: &dyn Fn(u32) -> bool,
    ) -> Option<&'static VMGcTypeInfo> {
        let info = &self.infos[(id - 1) as usize];
        let (kind, size, ref_offsets, elem_is_ref) = match composite {
            CompositeType::Func => return None,
            CompositeType::Struct(fields) => {
                let layout = aot_abi::gc::struct_layout(fields, is_func);
                (GC_KIND_STRUCT, layout.size, layout.ref_offsets, false)
            }
            CompositeType::Array(f) => {
                let traced =
                    f.packed == 0 && f.ty.is_some_and(|t| aot_abi::gc::is_traced(&t, is_func));
                (
                    GC_KIND_ARRAY,
                    aot_abi::gc::storage_size(f),
                    Vec::new(),
                    traced,
                )
            }
        };
        let num_ref_offsets = ref_offsets.len() as u32;
        // Leaked: the address is the type's identity for the life of the process.
        let own: *mut VMGcTypeInfo = Box::into_raw(Box::new(VMGcTypeInfo {
            kind,
            type_id: id,
            depth: info.depth,
            size,
            num_ref_offsets,
            elem_is_ref: u32::from(elem_is_ref),
            ref_offsets: Vec::leak(ref_offsets).as_ptr(),
            display: std::ptr::null(),
        }));
        let display: Vec<*const VMGcTypeInfo> = info
            .display
            .iter()
            .map(|&a| {
                if a == id {
                    return own as *const VMGcTypeInfo;
                }
                let ancestor = self.infos[(a - 1) as usize].gc;
                // Validation: a struct or array type's supertypes are of its own kind.
                let ancestor = ancestor.expect("supertypes of GC types are GC types");
                ancestor as *const VMGcTypeInfo
            })
            .collect();
        let display = Vec::leak(display).as_ptr();
        // SAFETY: `own` is the live allocation just made, not yet shared with anyone.
        unsafe { (*own).display = display };
        // SAFETY: as above; from here on it is only read.
        Some(unsafe { &*own })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aot_abi::FieldType;

    fn ft(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType {
            params: params.to_vec(),
            results: results.to_vec(),
        }
    }

    fn concrete(i: u32) -> ValType {
        ValType::Ref(RefType {
            nullable: false,
            heap: HeapType::Concrete(i),
        })
    }

    fn def(rec_start: u32, rec_len: u32, composite: CompositeType) -> TypeDef {
        TypeDef {
            rec_start,
            rec_len,
            is_final: true,
            supertype: None,
            composite,
        }
    }

    #[test]
    fn rec_groups_are_canonical_by_structure_and_position() {
        // (rec (type $f (func)) (type (struct (field (ref $f))))) twice, then the same
        // two types as separate groups, then the group with its members swapped.
        let field = FieldType {
            mutable: false,
            ty: Some(concrete(0)),
            packed: 0,
        };
        let empty = ft(&[], &[]);
        let m1 = ModuleMeta {
            types: vec![empty.clone(), empty.clone()],
            type_defs: vec![
                def(0, 2, CompositeType::Func),
                def(0, 2, CompositeType::Struct(vec![field])),
            ],
            ..Default::default()
        };
        let a = canonical_ids(&m1);
        assert_eq!(canonical_ids(&m1), a, "identical groups are the same");
        assert_ne!(a[0], a[1]);
        let lone = ModuleMeta {
            types: vec![empty.clone()],
            ..Default::default()
        };
        let b = canonical_ids(&lone);
        assert_ne!(
            b[0], a[0],
            "a func alone is not the func of a two-type group"
        );
        assert_eq!(b[0], intern_func(&empty), "a lone func is the host's");
        let swapped_field = FieldType {
            ty: Some(concrete(1)),
            ..field
        };
        let m2 = ModuleMeta {
            types: vec![empty.clone(), empty.clone()],
            type_defs: vec![
                def(0, 2, CompositeType::Struct(vec![swapped_field])),
                def(0, 2, CompositeType::Func),
            ],
            ..Default::default()
        };
        let c = canonical_ids(&m2);
        assert_ne!(c[1], a[0], "position in the group counts");
        assert!(is_func(a[0]) && !is_func(a[1]));
    }

    fn field(ty: ValType) -> FieldType {
        FieldType {
            mutable: true,
            ty: Some(ty),
            packed: 0,
        }
    }

    fn packed(bits: u8) -> FieldType {
        FieldType {
            mutable: false,
            ty: None,
            packed: bits,
        }
    }

    /// type 0 func; 1 struct (open); 2 struct <: 1 (open); 3 struct <: 2 (final);
    /// 4 array of (ref null 1); 5 array of i16; 6-7 one group: struct with a (ref 7), and
    /// 7 a func type (so that field is not traced although the group's kinds come last).
    fn gc_meta() -> ModuleMeta {
        let nullable = |i| {
            ValType::Ref(RefType {
                nullable: true,
                heap: HeapType::Concrete(i),
            })
        };
        let anyref = ValType::Ref(RefType {
            nullable: true,
            heap: HeapType::Any,
        });
        let fields = vec![
            packed(8),
            field(nullable(0)),
            field(ValType::V128),
            field(anyref),
            field(ValType::I32),
        ];
        let mut sub_fields = fields.clone();
        sub_fields.push(field(ValType::ExternRef));
        let lone = |i, is_final, supertype, composite| TypeDef {
            rec_start: i,
            rec_len: 1,
            is_final,
            supertype,
            composite,
        };
        ModuleMeta {
            types: vec![ft(&[], &[]); 8],
            type_defs: vec![
                lone(0, true, None, CompositeType::Func),
                lone(1, false, None, CompositeType::Struct(fields)),
                lone(2, false, Some(1), CompositeType::Struct(sub_fields.clone())),
                lone(3, true, Some(2), CompositeType::Struct(sub_fields)),
                lone(4, true, None, CompositeType::Array(field(nullable(1)))),
                lone(5, true, None, CompositeType::Array(packed(16))),
                def(6, 2, CompositeType::Struct(vec![field(concrete(7))])),
                def(6, 2, CompositeType::Func),
            ],
            ..Default::default()
        }
    }

    /// Reads a leaked info (never freed, so the reference is 'static).
    fn info(id: u32) -> &'static VMGcTypeInfo {
        let p = gc_type_info(id);
        assert!(!p.is_null(), "type {id} has no GC info");
        // SAFETY: non-null infos are leaked and immutable.
        unsafe { &*p }
    }

    fn display(i: &VMGcTypeInfo) -> Vec<*const VMGcTypeInfo> {
        // SAFETY: `display` has `depth + 1` entries (see gc_info).
        unsafe { std::slice::from_raw_parts(i.display, i.depth as usize + 1) }.to_vec()
    }

    fn ref_offsets(i: &VMGcTypeInfo) -> Vec<u32> {
        // SAFETY: `ref_offsets` has `num_ref_offsets` entries.
        unsafe { std::slice::from_raw_parts(i.ref_offsets, i.num_ref_offsets as usize) }.to_vec()
    }

    #[test]
    fn struct_and_array_types_get_infos_with_a_display() {
        let m = gc_meta();
        let ids = canonical_ids(&m);
        assert!(gc_type_info(ids[0]).is_null() && gc_type_info(ids[7]).is_null());
        assert!(gc_type_info(0).is_null());
        let (s1, s2, s3) = (info(ids[1]), info(ids[2]), info(ids[3]));
        assert_eq!((s1.kind, s1.type_id, s1.depth), (GC_KIND_STRUCT, ids[1], 0));
        let CompositeType::Struct(fields) = &m.type_defs[1].composite else {
            unreachable!()
        };
        let layout = aot_abi::gc::struct_layout(fields, |i| i == 0 || i == 7);
        assert_eq!(s1.size, layout.size);
        // Only the anyref: the funcref-typed field and the packed and numeric ones are not
        // traced.
        assert_eq!(ref_offsets(s1), layout.ref_offsets);
        assert_eq!(layout.ref_offsets.len(), 1);
        assert_eq!(ref_offsets(s3).len(), 2, "anyref and externref");
        assert_eq!(display(s1), vec![s1 as *const _]);
        assert_eq!([s2.depth, s3.depth], [1, 2]);
        assert_eq!(display(s3), vec![s1 as *const _, s2, s3]);
        assert_eq!(display(s2)[..], display(s3)[..2]);
        let (a4, a5) = (info(ids[4]), info(ids[5]));
        assert_eq!((a4.kind, a4.size, a4.elem_is_ref), (GC_KIND_ARRAY, 8, 1));
        assert_eq!((a5.kind, a5.size, a5.elem_is_ref), (GC_KIND_ARRAY, 2, 0));
        assert_eq!(ref_offsets(info(ids[6])), Vec::<u32>::new());
        assert_eq!(info(ids[6]).size, 16);
        // Interning again (another module with the same types) gives the same infos.
        let again = canonical_ids(&gc_meta());
        assert_eq!(gc_type_info(again[3]), s3 as *const _);
    }

    #[test]
    fn infos_are_built_once_under_concurrent_interning() {
        let metas: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| canonical_ids(&gc_meta())))
            .collect();
        let all: Vec<Vec<u32>> = metas.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]));
        let ids = &all[0];
        let (s1, s3) = (info(ids[1]), info(ids[3]));
        assert_eq!(display(s3)[0], s1 as *const _);
    }

    #[test]
    fn declared_supertypes_make_subtypes() {
        let f = ft(&[ValType::I32], &[]);
        let sub = |supertype, is_final| TypeDef {
            rec_start: 0,
            rec_len: 1,
            is_final,
            supertype,
            composite: CompositeType::Func,
        };
        let m = ModuleMeta {
            types: vec![f.clone(), f.clone()],
            type_defs: vec![
                TypeDef {
                    rec_start: 0,
                    ..sub(None, false)
                },
                TypeDef {
                    rec_start: 1,
                    ..sub(Some(0), true)
                },
            ],
            ..Default::default()
        };
        let ids = canonical_ids(&m);
        assert!(is_subtype(ids[1], ids[0]));
        assert!(!is_subtype(ids[0], ids[1]));
        assert_ne!(ids[0], intern_func(&f), "finality is part of a type");
        let r = |nullable, heap| ValType::Ref(RefType { nullable, heap });
        assert!(val_subtype(
            r(false, HeapType::Concrete(ids[1])),
            r(true, HeapType::Concrete(ids[0]))
        ));
        assert!(val_subtype(
            r(false, HeapType::Concrete(ids[1])),
            ValType::FuncRef
        ));
        assert!(!val_subtype(
            ValType::FuncRef,
            r(true, HeapType::Concrete(ids[0]))
        ));
        assert!(val_subtype(
            r(true, HeapType::NoFunc),
            r(true, HeapType::Concrete(ids[0]))
        ));
        assert!(!val_subtype(r(true, HeapType::NoExtern), ValType::FuncRef));
        assert!(!val_subtype(ValType::FuncRef, r(false, HeapType::Func)));
    }
}
