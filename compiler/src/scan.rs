//! One pass over every function body before translation, for the facts module-wide code
//! generation decides on: which tables code may write after instantiation (see
//! `crate::static_tables`) and how often each global is read or written (see
//! [`register_global`]).

use aot_abi::{ExternKind, ValType};
use rayon::prelude::*;
use std::collections::HashMap;

use crate::module::ModuleInfo;

/// What the function bodies of a module do, as far as module-wide decisions care.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BodyFacts {
    /// Per table (imports first): some body may write it (`table.set`, `table.grow`,
    /// `table.fill`, `table.init`, or `table.copy` into it).
    pub written_tables: Vec<bool>,
    /// Per global (imports first): how many `global.get` and `global.set` name it.
    pub global_uses: Vec<u64>,
    /// (static offset, count) of the loads and stores of memory 0 with offsets below 512
    /// MiB, most frequent first, then by offset, when asked for (see `env::FoldedOffsets`).
    pub memory0_offsets: Vec<(u32, u64)>,
}

/// Scans every body of `info`, in parallel. A body that cannot be read (it was validated,
/// so this does not happen) makes every table count as written and no global count as used
/// enough to be kept in a register.
/// `count_offsets`: fill [`BodyFacts::memory0_offsets`] (only a module whose accesses may
/// fold needs them).
pub fn scan(info: &ModuleInfo, count_offsets: bool) -> BodyFacts {
    let tables = info.tables.len();
    let globals = info.globals.len();
    type Body = (Vec<u32>, Vec<u32>, HashMap<u32, u64>);
    let per_body: Option<Vec<Body>> = info
        .bodies
        .par_iter()
        .map(|b| {
            let (mut written, mut used, mut offsets) = (Vec::new(), Vec::new(), HashMap::new());
            let mut r = b.body.get_operators_reader().ok()?;
            while !r.eof() {
                use wasmparser::Operator as O;
                match r.read().ok()? {
                    O::TableSet { table }
                    | O::TableGrow { table }
                    | O::TableFill { table }
                    | O::TableInit { table, .. }
                    | O::TableCopy {
                        dst_table: table, ..
                    }
                    | O::TableAtomicSet {
                        table_index: table, ..
                    }
                    | O::TableAtomicRmwXchg {
                        table_index: table, ..
                    }
                    | O::TableAtomicRmwCmpxchg {
                        table_index: table, ..
                    } => written.push(table),
                    O::GlobalGet { global_index } | O::GlobalSet { global_index } => {
                        used.push(global_index)
                    }
                    op if count_offsets => {
                        if let Some(m) = plain_access(&op)
                            && matches!(m.target, wasmparser::MemArgTarget::Memory(0))
                            && m.offset < FOLDED_OFFSET_LIMIT
                        {
                            *offsets.entry(m.offset as u32).or_insert(0) += 1;
                        }
                    }
                    _ => {}
                }
            }
            Some((written, used, offsets))
        })
        .collect();
    let Some(per_body) = per_body else {
        return BodyFacts {
            written_tables: vec![true; tables],
            global_uses: vec![0; globals],
            memory0_offsets: Vec::new(),
        };
    };
    let mut facts = BodyFacts {
        written_tables: vec![false; tables],
        global_uses: vec![0; globals],
        memory0_offsets: Vec::new(),
    };
    let mut offsets: HashMap<u32, u64> = HashMap::new();
    for (written, used, body_offsets) in per_body {
        for (o, n) in body_offsets {
            *offsets.entry(o).or_insert(0) += n;
        }
        for t in written {
            if let Some(w) = facts.written_tables.get_mut(t as usize) {
                *w = true;
            }
        }
        for g in used {
            if let Some(n) = facts.global_uses.get_mut(g as usize) {
                *n += 1;
            }
        }
    }
    facts.memory0_offsets = offsets.into_iter().collect();
    facts
        .memory0_offsets
        .sort_by_key(|&(o, n)| (std::cmp::Reverse(n), o));
    facts
}

/// Static offsets at or above this never fold: with memory 0's fixed base they would not
/// fit the x86_64 displacement (see `aot_abi::fixed_memory0_base`).
const FOLDED_OFFSET_LIMIT: u64 = 512 << 20;

/// The memory argument of a load or store that `translate` turns into one access at
/// `FuncEnv::memory_addr` (atomics are checked explicitly, so never folded).
fn plain_access(op: &wasmparser::Operator) -> Option<wasmparser::MemArg> {
    use wasmparser::Operator as O;
    match *op {
        O::I32Load { memarg }
        | O::I64Load { memarg }
        | O::F32Load { memarg }
        | O::F64Load { memarg }
        | O::I32Load8S { memarg }
        | O::I32Load8U { memarg }
        | O::I32Load16S { memarg }
        | O::I32Load16U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Load8U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Load16U { memarg }
        | O::I64Load32S { memarg }
        | O::I64Load32U { memarg }
        | O::I32Store { memarg }
        | O::I64Store { memarg }
        | O::F32Store { memarg }
        | O::F64Store { memarg }
        | O::I32Store8 { memarg }
        | O::I32Store16 { memarg }
        | O::I64Store8 { memarg }
        | O::I64Store16 { memarg }
        | O::I64Store32 { memarg }
        | O::V128Load { memarg }
        | O::V128Store { memarg } => Some(memarg),
        _ => None,
    }
}

/// A global named at fewer places is not worth taking a register from all code.
const REGISTER_MIN_USES: u64 = 8;

/// The global to keep in Cranelift's pinned register (x86_64 `r15`, aarch64 `x21`) instead
/// of the vmctx, for a module whose code is entered only through its own entry trampolines
/// (see `Options::global_in_register`): the most used mutable i32 or i64 global the module
/// defines and does not export, used at least [`REGISTER_MIN_USES`] times. That is the
/// shadow stack pointer of LLVM's output (`__stack_pointer`), which every function with a
/// stack frame in linear memory reads and writes: in a register, a call no longer waits on
/// the store its caller just made to it.
///
/// Only the module's own code can see such a global, so its value may live in the register
/// while the module's code runs; the entry trampolines load it from and store it back to
/// the vmctx, and the code around exceptions does too (see `env::FuncEnv`).
pub fn register_global(info: &ModuleInfo, facts: &BodyFacts) -> Option<u32> {
    let imported = info.num_imported_globals as usize;
    let exported: Vec<u32> = info
        .meta
        .exports
        .iter()
        .filter(|e| e.kind == ExternKind::Global)
        .map(|e| e.index)
        .collect();
    (imported..info.globals.len())
        .filter(|&g| {
            let ty = info.globals[g];
            ty.mutable
                && matches!(ty.ty, ValType::I32 | ValType::I64)
                && !exported.contains(&(g as u32))
                && facts.global_uses[g] >= REGISTER_MIN_USES
        })
        // The most used; the first of equals.
        .max_by_key(|&g| (facts.global_uses[g], std::cmp::Reverse(g)))
        .map(|g| g as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::parse_test_wat as info;

    #[test]
    fn scan_finds_written_tables_and_counts_global_uses() {
        let info = info(
            "(module (table $a 1 funcref) (table $b 1 funcref) (table $c 1 funcref)
               (global $g (mut i32) (i32.const 0)) (global $h (mut i32) (i32.const 0))
               (func (table.copy $b $c (i32.const 0) (i32.const 0) (i32.const 0))
                 (global.set $g (global.get $g)) (drop (global.get $h)))
               (func (drop (global.get $g))))",
        );
        let facts = scan(&info, false);
        assert_eq!(facts.written_tables, [false, true, false]);
        assert_eq!(facts.global_uses, [3, 1]);
    }

    #[test]
    fn memory0_offsets_are_counted_most_frequent_first_when_asked() {
        let info = info(
            "(module (memory 1) (memory 1)
               (func (param i32)
                 (drop (i32.load offset=8 (local.get 0)))
                 (i32.store offset=8 (local.get 0) (i32.const 1))
                 (drop (i64.load offset=4 (local.get 0)))
                 (drop (i32.load 1 offset=16 (local.get 0)))
                 (drop (i32.atomic.load offset=12 (local.get 0)))
                 (drop (i32.load offset=0x20000000 (local.get 0)))))",
        );
        // Memory 1, atomics and offsets of 512 MiB or more are not counted.
        assert_eq!(scan(&info, true).memory0_offsets, [(8, 2), (4, 1)]);
        assert!(scan(&info, false).memory0_offsets.is_empty());
    }

    #[test]
    fn the_register_global_is_the_most_used_private_mutable_integer() {
        // Global i is read i times by one function per read.
        let module = |decls: &str, uses: &[usize]| {
            let mut wat = format!("(module {decls}");
            for (g, n) in uses.iter().enumerate() {
                for _ in 0..*n {
                    wat += &format!(" (func (drop (global.get {g})))");
                }
            }
            info(&(wat + ")"))
        };
        let pick = |decls: &str, uses: &[usize]| {
            let info = module(decls, uses);
            register_global(&info, &scan(&info, false))
        };
        let two = "(global (mut i32) (i32.const 0)) (global (mut i32) (i32.const 0))";
        assert_eq!(pick(two, &[8, 9]), Some(1));
        assert_eq!(pick(two, &[9, 9]), Some(0));
        assert_eq!(pick(two, &[7, 7]), None, "too few uses");
        let i64_global = "(global (mut i64) (i64.const 0))";
        assert_eq!(pick(i64_global, &[8]), Some(0));
        for (what, decls) in [
            ("immutable", "(global i32 (i32.const 0))"),
            (
                "exported",
                "(global (export \"g\") (mut i32) (i32.const 0))",
            ),
            ("f64", "(global (mut f64) (f64.const 0))"),
        ] {
            assert_eq!(pick(decls, &[20]), None, "{what}");
        }
        let imported = "(import \"m\" \"g\" (global (mut i32))) (global (mut i32) (i32.const 0))";
        assert_eq!(pick(imported, &[20, 8]), Some(1));
    }
}
