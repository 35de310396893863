//! Function tables whose contents are known at compile time, and the read-only copy of
//! each that `call_indirect` reads instead of the instance's table.
//!
//! A table qualifies when nothing can change it after instantiation: it is defined by the
//! module (not imported), not exported, no function body names it as the destination of
//! `table.set`, `table.grow`, `table.fill`, `table.copy` or `table.init`, and every active
//! element segment writing it has an offset known at compile time that fits. Then each of
//! its elements is what instantiation puts there, in every instance of the module.
//!
//! The copy holds, per element, the code address of a defined function and a compile-time
//! key of its type ([`type_keys`]): a call checks the index against the table's constant
//! length, compares the key with the expected type's, and calls the code with its own
//! vmctx (every function in the copy is the caller's instance's own). An element the copy
//! does not describe (null, an imported function, a reference read from a global) gets
//! [`NO_KEY`], which matches no type, so the call takes the general path through the
//! instance's table, which reports null elements and signature mismatches and checks
//! subtyping as before. Equal keys imply equal types; unequal keys imply nothing.

use std::collections::HashMap;

use crate::module::ModuleInfo;
use crate::scan::BodyFacts;
use aot_abi::{ConstExpr, ConstOp, ElemItem, ExternKind, ModuleMeta, ValType};

/// The key of an element with no known function: no type has it.
pub const NO_KEY: u32 = u32::MAX;

/// Bytes per element of a copy: the code address (pointer-sized, 8 on both targets), the
/// type key, 4 bytes of padding.
pub const ENTRY_SIZE: u32 = 16;
/// Offset of the type key in an element.
pub const ENTRY_KEY: u32 = 8;

/// A copy may describe at most this many elements, so that a large, sparse table does not
/// make the executable large.
const MAX_LEN: u64 = 1 << 20;

/// A longer table gets a copy only if at least a quarter of its elements are known
/// functions.
const SPARSE_MIN: u64 = 4096;

/// A table with contents fixed at compile time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticTable {
    /// The table's length (its minimum: it cannot grow).
    pub len: u64,
    /// Per element: the defined function (its index among defined functions) there, if
    /// any.
    pub elems: Vec<Option<u32>>,
}

/// Per table of `info` (imports first): its static contents, if it qualifies (`facts` is
/// [`crate::scan::scan`] of `info`).
pub fn find(info: &ModuleInfo, facts: &BodyFacts) -> Vec<Option<StaticTable>> {
    let meta = &info.meta;
    let imported = info.num_imported_tables as usize;
    let mut candidates: Vec<bool> = (0..info.tables.len())
        .map(|t| t >= imported && is_funcref(info.tables[t].elem) && info.tables[t].min <= MAX_LEN)
        .collect();
    for e in &meta.exports {
        if e.kind == ExternKind::Table
            && let Some(c) = candidates.get_mut(e.index as usize)
        {
            *c = false;
        }
    }
    (0..info.tables.len())
        .map(|t| {
            if !candidates[t] || facts.written_tables[t] {
                return None;
            }
            contents(info, t as u32)
        })
        .collect()
}

fn is_funcref(ty: ValType) -> bool {
    match ty {
        ValType::FuncRef => true,
        ValType::Ref(r) => matches!(
            r.heap,
            aot_abi::HeapType::Func | aot_abi::HeapType::Concrete(_)
        ),
        _ => false,
    }
}

/// What instantiation puts in defined table `t`, if every write's place is known.
fn contents(info: &ModuleInfo, t: u32) -> Option<StaticTable> {
    let meta = &info.meta;
    let ty = info.tables[t as usize];
    let def = &meta.tables[(t - info.num_imported_tables) as usize];
    let fill = match &def.init {
        None => None,
        Some(e) => ElemItem::Expr(e).func().and_then(|f| defined(info, f)),
    };
    let mut elems = vec![fill; usize::try_from(ty.min).ok()?];
    for seg in &meta.elems {
        let aot_abi::SegmentMode::Active { index, offset } = &seg.mode else {
            continue;
        };
        if *index != t {
            continue;
        }
        let start = const_int(info, offset, 0)?;
        let end = start.checked_add(seg.items.len() as u64)?;
        if end > ty.min {
            // Instantiation fails; nothing will call through this table.
            return None;
        }
        for (i, item) in seg.items.iter().enumerate() {
            elems[start as usize + i] = item.func().and_then(|f| defined(info, f));
        }
    }
    let known = elems.iter().filter(|e| e.is_some()).count() as u64;
    if ty.min > SPARSE_MIN && ty.min / 4 > known {
        // Mostly empty: the copy would cost more bytes than it saves time.
        return None;
    }
    Some(StaticTable { len: ty.min, elems })
}

/// Function `f`'s index among the defined functions, if it is one.
fn defined(info: &ModuleInfo, f: u32) -> Option<u32> {
    f.checked_sub(info.num_imported_funcs)
}

/// The value of an integer constant expression (a segment offset), as an unsigned
/// index, when it is known at compile time: constants, arithmetic, and immutable globals
/// the module defines with such initialisers.
fn const_int(info: &ModuleInfo, e: &ConstExpr, depth: u32) -> Option<u64> {
    if depth > 8 {
        return None;
    }
    let meta = &info.meta;
    let mut stack: Vec<i64> = Vec::new();
    let mut is64 = false;
    for op in &e.0 {
        let v = match op {
            ConstOp::I32Const(v) => i64::from(*v),
            ConstOp::I64Const(v) => {
                is64 = true;
                *v
            }
            ConstOp::GlobalGet(g) => {
                let d = meta
                    .globals
                    .get(g.checked_sub(info.num_imported_globals)? as usize)?;
                if d.ty.mutable {
                    return None;
                }
                is64 |= d.ty.ty == ValType::I64;
                i64::try_from(const_int(info, &d.init, depth + 1)?).ok()?
            }
            ConstOp::I32Add | ConstOp::I64Add => {
                let (b, a) = (stack.pop()?, stack.pop()?);
                a.wrapping_add(b)
            }
            ConstOp::I32Sub | ConstOp::I64Sub => {
                let (b, a) = (stack.pop()?, stack.pop()?);
                a.wrapping_sub(b)
            }
            ConstOp::I32Mul | ConstOp::I64Mul => {
                let (b, a) = (stack.pop()?, stack.pop()?);
                a.wrapping_mul(b)
            }
            _ => return None,
        };
        stack.push(v);
    }
    let [v] = stack.as_slice() else { return None };
    // An i32 offset is unsigned: wrap it to 32 bits.
    Some(if is64 {
        *v as u64
    } else {
        u64::from(*v as u32)
    })
}

/// Per type index: a key such that two types with equal keys are the same type (so a
/// function of one may be called as the other). A lone final function type with no
/// supertype and no concrete reference in its signature (every type of a Wasm 2.0
/// module) is identified by its signature, so such types with equal signatures share a
/// key. Any other type keeps its own index, and the general path decides.
pub fn type_keys(meta: &ModuleMeta) -> Vec<u32> {
    let mut first = HashMap::new();
    (0..meta.types.len() as u32)
        .map(|i| {
            let d = meta.type_def(i);
            let ty = &meta.types[i as usize];
            let lone = d.rec_len == 1
                && d.is_final
                && d.supertype.is_none()
                && matches!(d.composite, aot_abi::CompositeType::Func)
                && ty.params.iter().chain(&ty.results).all(|v| !concrete(*v));
            if lone {
                *first.entry(ty).or_insert(i)
            } else {
                i
            }
        })
        .collect()
}

fn concrete(v: ValType) -> bool {
    matches!(v, ValType::Ref(r) if matches!(r.heap, aot_abi::HeapType::Concrete(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::parse_test_wat as info;

    /// The static contents of each table of `wat`'s module.
    fn tables(wat: &str) -> Vec<Option<Vec<Option<u32>>>> {
        let info = info(wat);
        find(&info, &crate::scan::scan(&info, false))
            .into_iter()
            .map(|t| t.map(|t| t.elems))
            .collect()
    }

    #[test]
    fn a_table_nothing_writes_is_static_with_its_segments_applied() {
        let wat = r#"(module
  (import "m" "f" (func $imp))
  (global $g i32 (i32.const 1))
  (table 5 funcref)
  (elem (i32.const 0) $a $b $imp)
  (elem (offset (i32.add (global.get $g) (i32.const 2))) $a)
  (elem $p func $b)
  (func $a) (func $b)
  (func (table.get 0 (i32.const 0)) drop (elem.drop $p)
    (call_indirect (i32.const 0))))"#;
        assert_eq!(
            tables(wat),
            [Some(vec![Some(0), Some(1), None, Some(0), None])]
        );
        let init = "(module (table 2 funcref (ref.func $a)) (func $a))";
        assert_eq!(tables(init), [Some(vec![Some(0), Some(0)])]);
    }

    #[test]
    fn a_table_that_can_change_or_is_not_known_is_not_static() {
        let cases = [
            ("imported", r#"(module (import "m" "t" (table 1 funcref)))"#),
            ("exported", r#"(module (table (export "t") 1 funcref))"#),
            (
                "table.set",
                "(module (table 1 funcref) (func (table.set 0 (i32.const 0) (ref.null func))))",
            ),
            (
                "table.grow",
                "(module (table 1 funcref) (func (drop (table.grow 0 (ref.null func) (i32.const 1)))))",
            ),
            (
                "table.fill",
                "(module (table 1 funcref) (func (table.fill 0 (i32.const 0) (ref.null func) (i32.const 1))))",
            ),
            (
                "table.init",
                "(module (table 1 funcref) (elem $e func $f) (func $f (table.init 0 $e (i32.const 0) (i32.const 0) (i32.const 1))))",
            ),
            (
                "an offset from an imported global",
                r#"(module (import "m" "g" (global $g i32)) (table 1 funcref) (elem (global.get $g) $f) (func $f))"#,
            ),
            (
                "a segment past the end",
                "(module (table 1 funcref) (elem (i32.const 1) $f) (func $f))",
            ),
            (
                "an offset past 2^31",
                "(module (table 1 funcref) (elem (i32.const -1) $f) (func $f))",
            ),
            ("externref", "(module (table 1 externref))"),
            (
                "sparse",
                "(module (table 5000 funcref) (elem (i32.const 0) $f) (func $f))",
            ),
        ];
        for (what, wat) in cases {
            assert_eq!(tables(wat), [None], "{what}");
        }
        // table.copy writes its destination only.
        let copy = "(module (table $d 1 funcref) (table $s 1 funcref) (func (table.copy $d $s (i32.const 0) (i32.const 0) (i32.const 1))))";
        assert_eq!(tables(copy), [None, Some(vec![None])]);
        // A long table is worth a copy when a quarter of it is known.
        let dense = format!(
            "(module (table 5000 funcref) (elem (i32.const 0) {}) (func $f))",
            "$f ".repeat(1250)
        );
        let dense = tables(&dense);
        assert!(
            matches!(dense.as_slice(), [Some(elems)] if elems.len() == 5000),
            "dense"
        );
    }

    #[test]
    fn equal_keys_only_for_equal_types() {
        let plain = info(
            "(module (type (func)) (type (func (param i32))) (type (func)) (type (func (param i32))))",
        );
        assert_eq!(type_keys(&plain.meta), [0, 1, 0, 1]);
        // With subtyping, rec groups or references to types, each type is its own key
        // (the general path decides).
        let other = info(
            "(module (type (sub (func))) (type (sub (func))) (type (sub 0 (func)))
               (rec (type (func)) (type (func)))
               (type (func (param (ref 5)))) (type (func (param (ref 5)))))",
        );
        assert_eq!(type_keys(&other.meta), [0, 1, 2, 3, 4, 5, 6]);
    }
}
