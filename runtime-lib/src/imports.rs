//! Import matching: whether an external value may satisfy an import, by Wasm 3.0 import
//! subtyping over canonical types (`crate::types`: a function's type a subtype of the
//! expected one, equal table element types, limits subtyping for tables and memories, equal
//! types for mutable globals and a subtype for immutable ones), checked by `instance::instantiate` for every import
//! however it was wired (the compiled plan or the spec driver's names). Error texts contain
//! the spec's "incompatible import type" and describe both types.

use aot_abi::{
    BoundsMode, FuncType, GlobalType, HeapType, Import, ImportKind, MemoryType, TableType, ValType,
};

use crate::Locked;
use crate::instance::{self, Extern};
use crate::types;

/// Checks that `ext` may satisfy `import` of a module whose types have canonical ids
/// `type_ids` and whose code uses bounds mode `mode`.
pub fn check_import(
    import: &Import,
    ext: &Extern,
    type_ids: &[u32],
    mode: BoundsMode,
) -> Result<(), String> {
    let mismatch = |expected: String, found: String| {
        format!(
            "incompatible import type for `{}::{}`: expected {expected}, found {found}",
            import.module, import.name
        )
    };
    match (&import.kind, ext) {
        (ImportKind::Func(t), Extern::Func(f)) => {
            let expected = *type_ids
                .get(*t as usize)
                .ok_or("import of an unknown function type")?;
            if !types::is_subtype(f.type_id, expected) {
                let describe = |id| {
                    instance::type_of_id(id)
                        .map_or("an unknown type".to_string(), |t| describe_func(&t))
                };
                return Err(mismatch(describe(expected), describe(f.type_id)));
            }
        }
        (ImportKind::Table(expected), Extern::Table(t)) => {
            let expected = &TableType {
                elem: types::canonical_val(expected.elem, type_ids),
                ..*expected
            };
            let actual = t.locked().current_type();
            if !actual.matches(expected) {
                return Err(mismatch(describe_table(expected), describe_table(&actual)));
            }
        }
        (ImportKind::Memory(expected), Extern::Memory(m)) => {
            let actual = m.current_type();
            if !actual.matches(expected) {
                return Err(mismatch(
                    describe_memory(expected),
                    describe_memory(&actual),
                ));
            }
            // Guard-page code has no bounds checks: it must not touch a memory whose
            // reservation is only as large as its maximum.
            if mode == BoundsMode::GuardPages && m.mode() != BoundsMode::GuardPages {
                return Err(mismatch(
                    "a memory with guard pages".into(),
                    "a memory without guard pages (explicit bounds checks)".into(),
                ));
            }
        }
        (ImportKind::Global(expected), Extern::Global(g)) => {
            let expected = &GlobalType {
                ty: types::canonical_val(expected.ty, type_ids),
                mutable: expected.mutable,
            };
            let actual = g.ty();
            let matches = actual.mutable == expected.mutable
                && if actual.mutable {
                    actual.ty == expected.ty
                } else {
                    types::val_subtype(actual.ty, expected.ty)
                };
            if !matches {
                return Err(mismatch(
                    describe_global(expected),
                    describe_global(&g.ty()),
                ));
            }
        }
        (ImportKind::Tag(t), Extern::Tag(tag)) => {
            // Tag types match exactly (they are neither co- nor contravariant): the same
            // canonical type id.
            let expected = *type_ids
                .get(*t as usize)
                .ok_or("import of a tag of an unknown type")?;
            if expected != tag.type_id() {
                let describe = |id| {
                    instance::type_of_id(id)
                        .map_or("an unknown type".to_string(), |t| describe_func(&t))
                };
                return Err(mismatch(
                    format!("tag {}", describe(expected)),
                    format!("tag {}", describe(tag.type_id())),
                ));
            }
        }
        (kind, ext) => return Err(mismatch(kind_name(kind).into(), extern_name(ext).into())),
    }
    Ok(())
}

fn kind_name(kind: &ImportKind) -> &'static str {
    match kind {
        ImportKind::Func(_) => "a function",
        ImportKind::Table(_) => "a table",
        ImportKind::Memory(_) => "a memory",
        ImportKind::Global(_) => "a global",
        ImportKind::Tag(_) => "a tag",
    }
}

fn extern_name(ext: &Extern) -> &'static str {
    match ext {
        Extern::Func(_) => "a function",
        Extern::Table(_) => "a table",
        Extern::Memory(_) => "a memory",
        Extern::Global(_) => "a global",
        Extern::Tag(_) => "a tag",
    }
}

pub fn val_type_name(t: ValType) -> String {
    match t {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        ValType::FuncRef => "funcref".into(),
        ValType::ExternRef => "externref".into(),
        ValType::Ref(r) => {
            let heap = match r.heap {
                HeapType::Concrete(id) => format!("<type {id}>"),
                other => format!("{other:?}").to_lowercase(),
            };
            format!("(ref{} {heap})", if r.nullable { " null" } else { "" })
        }
    }
}

fn describe_func(t: &FuncType) -> String {
    let list = |v: &[ValType]| {
        v.iter()
            .map(|t| val_type_name(*t))
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("func [{}] -> [{}]", list(&t.params), list(&t.results))
}

fn describe_limits(min: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{min}..{max}"),
        None => format!("{min}.."),
    }
}

fn describe_table(t: &TableType) -> String {
    format!(
        "table{} {} {}",
        if t.table64 { " i64" } else { "" },
        describe_limits(t.min, t.max),
        val_type_name(t.elem)
    )
}

fn describe_memory(m: &MemoryType) -> String {
    format!(
        "memory{}{} {} pages",
        if m.memory64 { " i64" } else { "" },
        if m.shared { " shared" } else { "" },
        describe_limits(m.min, m.max)
    )
}

fn describe_global(g: &GlobalType) -> String {
    format!(
        "global {}{}",
        if g.mutable { "mut " } else { "" },
        val_type_name(g.ty)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::{FuncHandle, GlobalRef, MemoryRef};
    use crate::memory::Memory;
    use crate::table::Table;
    use aot_abi::ValRaw;
    use std::sync::Mutex;

    fn import(kind: ImportKind) -> Import {
        Import {
            module: "m".into(),
            name: "n".into(),
            kind,
        }
    }

    fn func_type(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType {
            params: params.to_vec(),
            results: results.to_vec(),
        }
    }

    fn ids(types: &[FuncType]) -> Vec<u32> {
        types.iter().map(instance::intern_type).collect()
    }

    fn func(ty: &FuncType) -> Extern {
        Extern::Func(FuncHandle {
            code: core::ptr::null(),
            vmctx: core::ptr::null_mut(),
            type_id: instance::intern_type(ty),
        })
    }

    fn table(min: u64, max: Option<u64>, elem: ValType) -> Extern {
        let t = Table::new(
            TableType {
                elem,
                min,
                max,
                table64: false,
            },
            0,
        )
        .expect("small table");
        Extern::Table(Box::leak(Box::new(Mutex::new(t))))
    }

    fn memory_type(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            min,
            max,
            shared: false,
            memory64: false,
            page_size_log2: 16,
        }
    }

    fn memory(min: u64, max: Option<u64>, mode: BoundsMode) -> Extern {
        let m = Memory::new(&memory_type(min, max), mode).expect("small memory");
        Extern::Memory(MemoryRef::host(m, mode))
    }

    fn global(ty: ValType, mutable: bool) -> Extern {
        Extern::Global(GlobalRef::host(
            GlobalType { ty, mutable },
            ValRaw::default(),
        ))
    }

    #[test]
    fn functions_match_by_exact_type() {
        let types = vec![
            func_type(&[ValType::I32], &[]),
            func_type(&[ValType::I64], &[]),
        ];
        let ok = check_import(
            &import(ImportKind::Func(0)),
            &func(&types[0]),
            &ids(&types),
            BoundsMode::Explicit,
        );
        assert_eq!(ok, Ok(()));
        let err = check_import(
            &import(ImportKind::Func(0)),
            &func(&types[1]),
            &ids(&types),
            BoundsMode::Explicit,
        )
        .expect_err("different params");
        assert!(
            err.starts_with("incompatible import type for `m::n`"),
            "{err}"
        );
        assert!(
            err.contains("expected func [i32] -> [], found func [i64] -> []"),
            "{err}"
        );
        let results = func_type(&[ValType::I32], &[ValType::I32]);
        assert!(
            check_import(
                &import(ImportKind::Func(0)),
                &func(&results),
                &ids(&types),
                BoundsMode::Explicit
            )
            .is_err()
        );
    }

    #[test]
    fn tables_match_by_element_type_and_current_limits() {
        let ty = |elem, min, max| {
            import(ImportKind::Table(TableType {
                elem,
                min,
                max,
                table64: false,
            }))
        };
        let spectest = table(10, Some(20), ValType::FuncRef);
        let check = |i: &Import, e: &Extern| check_import(i, e, &[], BoundsMode::Explicit);
        assert_eq!(
            check(&ty(ValType::FuncRef, 10, Some(20)), &spectest),
            Ok(())
        );
        assert_eq!(check(&ty(ValType::FuncRef, 5, None), &spectest), Ok(()));
        assert_eq!(
            check(&ty(ValType::FuncRef, 10, Some(25)), &spectest),
            Ok(())
        );
        assert!(check(&ty(ValType::FuncRef, 11, None), &spectest).is_err());
        assert!(check(&ty(ValType::FuncRef, 10, Some(15)), &spectest).is_err());
        assert!(check(&ty(ValType::ExternRef, 10, Some(20)), &spectest).is_err());
        if let Extern::Table(t) = spectest {
            t.locked().grow(2, 0);
        }
        assert_eq!(
            check(&ty(ValType::FuncRef, 12, None), &spectest),
            Ok(()),
            "grown size counts"
        );
        let unbounded = table(1, None, ValType::FuncRef);
        assert!(check(&ty(ValType::FuncRef, 1, Some(100)), &unbounded).is_err());
    }

    #[test]
    fn memories_match_by_limits_and_bounds_mode() {
        let ty = |min, max| import(ImportKind::Memory(memory_type(min, max)));
        let m = memory(1, Some(2), BoundsMode::Explicit);
        let check = |i: &Import, mode| check_import(i, &m, &[], mode);
        assert_eq!(check(&ty(1, Some(2)), BoundsMode::Explicit), Ok(()));
        assert_eq!(check(&ty(0, None), BoundsMode::Explicit), Ok(()));
        assert_eq!(check(&ty(1, Some(3)), BoundsMode::Explicit), Ok(()));
        assert!(check(&ty(2, None), BoundsMode::Explicit).is_err());
        assert!(check(&ty(1, Some(1)), BoundsMode::Explicit).is_err());
        let err = check(&ty(1, Some(2)), BoundsMode::GuardPages)
            .expect_err("guard-page code on explicit memory");
        assert!(err.contains("incompatible import type"), "{err}");
        let shared = import(ImportKind::Memory(MemoryType {
            shared: true,
            ..memory_type(1, Some(2))
        }));
        assert!(check(&shared, BoundsMode::Explicit).is_err());
    }

    #[test]
    fn globals_match_type_and_mutability() {
        let ty = |ty, mutable| import(ImportKind::Global(GlobalType { ty, mutable }));
        let g = global(ValType::I32, false);
        let check = |i: &Import| check_import(i, &g, &[], BoundsMode::Explicit);
        assert_eq!(check(&ty(ValType::I32, false)), Ok(()));
        assert!(check(&ty(ValType::I32, true)).is_err());
        assert!(check(&ty(ValType::I64, false)).is_err());
    }

    #[test]
    fn kind_mismatch_is_incompatible() {
        let types = vec![func_type(&[], &[])];
        let err = check_import(
            &import(ImportKind::Func(0)),
            &global(ValType::I32, false),
            &ids(&types),
            BoundsMode::Explicit,
        )
        .expect_err("global for a function");
        assert_eq!(
            err,
            "incompatible import type for `m::n`: expected a function, found a global"
        );
    }

    /// A module with `(type $t (sub (func)))` and `(type $s (sub $t (func)))`: their
    /// canonical ids.
    fn sub_and_super() -> (u32, u32) {
        let f = func_type(&[], &[]);
        let def = |rec_start, supertype| aot_abi::TypeDef {
            rec_start,
            rec_len: 1,
            is_final: false,
            supertype,
            composite: aot_abi::CompositeType::Func,
        };
        let meta = aot_abi::ModuleMeta {
            types: vec![f.clone(), f],
            type_defs: vec![def(0, None), def(1, Some(0))],
            ..Default::default()
        };
        let ids = types::canonical_ids(&meta);
        (ids[1], ids[0])
    }

    #[test]
    fn functions_match_by_declared_subtyping() {
        let (sub, sup) = sub_and_super();
        let func_of = |type_id| {
            Extern::Func(FuncHandle {
                code: core::ptr::null(),
                vmctx: core::ptr::null_mut(),
                type_id,
            })
        };
        let import_sup = import(ImportKind::Func(0));
        let check = |ext: &Extern, expected| {
            check_import(&import_sup, ext, &[expected], BoundsMode::Explicit)
        };
        assert_eq!(check(&func_of(sub), sup), Ok(()), "a subtype satisfies");
        assert_eq!(check(&func_of(sup), sup), Ok(()));
        assert!(check(&func_of(sup), sub).is_err(), "a supertype does not");
    }

    #[test]
    fn typed_globals_match_covariantly_only_when_immutable() {
        let (sub, sup) = sub_and_super();
        let r = |nullable, id| {
            ValType::Ref(aot_abi::RefType {
                nullable,
                heap: HeapType::Concrete(id),
            })
        };
        // The importer's types: 0 = $t (the supertype), so `(ref null 0)` means `$t`.
        let expected = |mutable| {
            import(ImportKind::Global(GlobalType {
                ty: r(true, 0),
                mutable,
            }))
        };
        let check = |i: &Import, e: &Extern| check_import(i, e, &[sup], BoundsMode::Explicit);
        assert_eq!(
            check(&expected(false), &global(r(false, sub), false)),
            Ok(())
        );
        assert_eq!(
            check(&expected(false), &global(r(true, sup), false)),
            Ok(())
        );
        assert!(check(&expected(false), &global(ValType::FuncRef, false)).is_err());
        assert!(
            check(&expected(true), &global(r(false, sub), true)).is_err(),
            "mutable globals are invariant"
        );
        assert_eq!(check(&expected(true), &global(r(true, sup), true)), Ok(()));
    }
}
