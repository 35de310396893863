//! Byte swaps written out as shifts, rotates, masks and ors.
//!
//! Wasm has no byte-swap instruction, so LLVM expands every `bswap` (Rust's `swap_bytes`,
//! `from_be_bytes` and `to_be`, C's `__builtin_bswap32`, SQLite's `get4byte`, SHA-256's
//! message loads) into up to 15 operators, which Cranelift would lower one by one. When
//! the expression just translated computes a byte swap of one value, it is replaced by
//! Cranelift's `bswap` (one `bswap`, `rolw` or `rev` instruction); the instructions it
//! replaces are left unused and removed by Cranelift's dead-code elimination.
//!
//! No shape is matched. Instead the expression is evaluated symbolically, bit by bit:
//! starting from one base value, each masking, shift, rotate, extension or disjoint
//! combination records where every result bit comes from (a bit of the base, or zero).
//! The expression is replaced only when that map is exactly a byte swap's, so every
//! operand order, rotl for rotr by the complementary amount and each of LLVM's expansion
//! styles are recognised, and anything that is not a byte swap for every input is left
//! alone. Only the choice of the base is a heuristic (see [`find`]).

use cranelift_codegen::ir::{
    DataFlowGraph, InstBuilder, InstructionData, Opcode, Type, Value, ValueDef, types,
};
use cranelift_frontend::FunctionBuilder;

/// Where a result bit comes from: a bit index of the base, or [`ZERO`] (always 0).
type Bits = [u8; 64];
const ZERO: u8 = u8::MAX;

/// Bounds on the work per translated operator: LLVM's widest expansion (64-bit) has 8
/// terms and 22 operators under its root.
const MAX_TERMS: usize = 16;
const MAX_CHAIN: usize = 8;
const MAX_VISITS: u32 = 64;
/// Fewer operators than this are never replaced: a lone shift of a zero-extended byte is
/// a byte swap of it too, but cheaper as it is.
const MIN_OPS: u32 = 3;

/// `v`, just built for an `or`, `and`, shift or rotate; or, when `v` is a byte swap of one
/// value (possibly of its low 16 or 32 bits, zero-extended), that swap as a `bswap`.
pub(super) fn simplify(b: &mut FunctionBuilder, v: Value) -> Value {
    let ty = b.func.dfg.value_type(v);
    let Some(m) = find(&b.func.dfg, v) else {
        return v;
    };
    let w = ty.bits();
    for k in [64, 32, 16] {
        if k <= w && m.swaps(k, w) {
            let narrow = Type::int(k as u16).unwrap_or(ty);
            let s = swap(b, m.base, narrow);
            return if k < w { b.ins().uextend(ty, s) } else { s };
        }
    }
    v
}

/// `i32.extend16_s` / `i64.extend16_s` of `x` as the sign extension of a 16-bit `bswap`,
/// when the low 16 bits of `x` are a byte swap of one value's.
pub(super) fn extend16_s(b: &mut FunctionBuilder, ty: Type, x: Value) -> Option<Value> {
    let m = find(&b.func.dfg, x)?;
    if !m.swaps(16, 16) {
        return None;
    }
    let s = swap(b, m.base, types::I16);
    Some(b.ins().sextend(ty, s))
}

/// `bswap` of `base` taken to width `ty` (zero-extended or truncated).
fn swap(b: &mut FunctionBuilder, base: Value, ty: Type) -> Value {
    let bt = b.func.dfg.value_type(base);
    let x = if bt.bits() > ty.bits() {
        b.ins().ireduce(ty, base)
    } else if bt.bits() < ty.bits() {
        b.ins().uextend(ty, base)
    } else {
        base
    };
    b.ins().bswap(x)
}

/// A value's bits as a function of `base`'s.
struct Map {
    base: Value,
    base_bits: u32,
    /// Bits of `base` that are zero whatever it is (a zero-extending load).
    base_zero: u64,
    bits: Bits,
}

impl Map {
    /// Whether the low `check` bits are those of `bswap` of the base's low `k` bits
    /// (zero-extended: the rest zero), where `check` is `k` or the whole width.
    fn swaps(&self, k: u32, check: u32) -> bool {
        (0..check).all(|i| {
            let want = if i < k {
                let e = (k / 8 - 1 - i / 8) * 8 + i % 8;
                if e < self.base_bits && self.base_zero >> e & 1 == 0 {
                    e as u8
                } else {
                    ZERO
                }
            } else {
                ZERO
            };
            self.bits[i as usize] == want
        })
    }
}

/// The bit map of `root` over a base value, when the expression under `root` is made of
/// operators the evaluation knows, over that one base, with at least [`MIN_OPS`] of them.
///
/// The base is the first value on the first term's chain of single-operand steps (constant
/// masks, shifts and rotates, extensions) that the second term's chain also reaches: in
/// every byte-swap expansion each term moves some bytes of the swapped value, so that is
/// the swapped value even when it is itself computed by masks or shifts.
fn find(dfg: &DataFlowGraph, root: Value) -> Option<Map> {
    let mut terms = Vec::new();
    let mut v = dfg.resolve_aliases(root);
    // Single-operand steps above the combination of terms (the final mask of a 16-bit swap).
    for _ in 0..MAX_CHAIN {
        match step(dfg, v) {
            Step::Combine(..) => break,
            Step::Unary(x, _) => v = x,
            Step::Leaf => return None,
        }
    }
    collect_terms(dfg, v, &mut terms)?;
    let [first, second, ..] = terms[..] else {
        return None;
    };
    let first = chain(dfg, first);
    let second = chain(dfg, second);
    let base = *first.iter().find(|v| second.contains(v))?;

    let base_bits = dfg.value_type(base).bits();
    let base_zero = known_zero(dfg, base);
    let mut eval = Eval {
        dfg,
        base,
        base_bits,
        base_zero,
        visits: 0,
        ops: 0,
    };
    let bits = eval.bits(root)?;
    (eval.ops >= MIN_OPS).then_some(Map {
        base,
        base_bits,
        base_zero,
        bits,
    })
}

/// The leaves of the combination (or, disjoint xor or add) tree at `v`, left to right.
fn collect_terms(dfg: &DataFlowGraph, v: Value, out: &mut Vec<Value>) -> Option<()> {
    if out.len() >= MAX_TERMS {
        return None;
    }
    match step(dfg, v) {
        Step::Combine(a, b) => {
            collect_terms(dfg, a, out)?;
            collect_terms(dfg, b, out)
        }
        _ => {
            out.push(v);
            Some(())
        }
    }
}

/// `v` and the values its single-operand steps lead to.
fn chain(dfg: &DataFlowGraph, mut v: Value) -> Vec<Value> {
    let mut out = vec![v];
    for _ in 0..MAX_CHAIN {
        match step(dfg, v) {
            Step::Unary(x, _) => {
                v = x;
                out.push(v);
            }
            _ => break,
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Unary {
    /// `band` with a constant.
    Mask(u64),
    Shl(u32),
    Ushr(u32),
    Rotl(u32),
    Rotr(u32),
    /// `uextend` from a narrower type.
    Uextend,
    /// `ireduce` from a wider type.
    Ireduce,
}

#[derive(Clone, Copy)]
enum Combine {
    Or,
    /// `bxor` and `iadd`: equal to `bor` when no bit is set in both operands.
    Disjoint,
}

enum Step {
    Combine(Value, Value),
    Unary(Value, Unary),
    Leaf,
}

/// What the instruction defining `v` does, if it is one the evaluation knows.
fn step(dfg: &DataFlowGraph, v: Value) -> Step {
    let ValueDef::Result(inst, 0) = dfg.value_def(dfg.resolve_aliases(v)) else {
        return Step::Leaf;
    };
    let w = dfg.value_type(v).bits();
    match dfg.insts[inst] {
        InstructionData::Binary {
            opcode,
            args: [a, b],
        } => {
            let (a, b) = (dfg.resolve_aliases(a), dfg.resolve_aliases(b));
            // Wasm's shift and rotate counts are taken modulo the width, as Cranelift's.
            let amount = || iconst(dfg, b).map(|c| (c % u64::from(w)) as u32);
            match opcode {
                Opcode::Bor | Opcode::Bxor | Opcode::Iadd => Step::Combine(a, b),
                Opcode::Band => match (iconst(dfg, a), iconst(dfg, b)) {
                    (_, Some(m)) => Step::Unary(a, Unary::Mask(m)),
                    (Some(m), None) => Step::Unary(b, Unary::Mask(m)),
                    (None, None) => Step::Leaf,
                },
                Opcode::Ishl => amount().map_or(Step::Leaf, |s| Step::Unary(a, Unary::Shl(s))),
                Opcode::Ushr => amount().map_or(Step::Leaf, |s| Step::Unary(a, Unary::Ushr(s))),
                Opcode::Rotl => amount().map_or(Step::Leaf, |s| Step::Unary(a, Unary::Rotl(s))),
                Opcode::Rotr => amount().map_or(Step::Leaf, |s| Step::Unary(a, Unary::Rotr(s))),
                _ => Step::Leaf,
            }
        }
        InstructionData::Unary { opcode, arg } => {
            let arg = dfg.resolve_aliases(arg);
            if !matches!(dfg.value_type(arg), types::I32 | types::I64) {
                return Step::Leaf;
            }
            match opcode {
                Opcode::Uextend => Step::Unary(arg, Unary::Uextend),
                Opcode::Ireduce => Step::Unary(arg, Unary::Ireduce),
                _ => Step::Leaf,
            }
        }
        _ => Step::Leaf,
    }
}

/// The constant defining `v` (as an unsigned value of `v`'s width), if it is an `iconst`.
fn iconst(dfg: &DataFlowGraph, v: Value) -> Option<u64> {
    let inst = dfg.value_def(v).inst()?;
    let InstructionData::UnaryImm {
        opcode: Opcode::Iconst,
        imm,
    } = dfg.insts[inst]
    else {
        return None;
    };
    let bits = dfg.value_type(v).bits();
    let c = imm.bits() as u64;
    Some(if bits >= 64 {
        c
    } else {
        c & ((1u64 << bits) - 1)
    })
}

/// The bits of `v` that are zero for every input: above the width of a zero-extending load
/// or extension.
fn known_zero(dfg: &DataFlowGraph, v: Value) -> u64 {
    let Some(inst) = dfg.value_def(v).inst() else {
        return 0;
    };
    let narrow = match dfg.insts[inst] {
        InstructionData::Load { opcode, .. } => match opcode {
            Opcode::Uload8 => 8,
            Opcode::Uload16 => 16,
            Opcode::Uload32 => 32,
            _ => return 0,
        },
        InstructionData::Unary {
            opcode: Opcode::Uextend,
            arg,
        } => dfg.value_type(arg).bits(),
        _ => return 0,
    };
    !0u64 << narrow
}

struct Eval<'a> {
    dfg: &'a DataFlowGraph,
    base: Value,
    base_bits: u32,
    base_zero: u64,
    visits: u32,
    /// Operators evaluated (counted once per visit).
    ops: u32,
}

impl Eval<'_> {
    /// The bit map of `v` (entries past its width are [`ZERO`]), if it is computed from
    /// the base alone by known operators.
    fn bits(&mut self, v: Value) -> Option<Bits> {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return None;
        }
        let v = self.dfg.resolve_aliases(v);
        let w = self.dfg.value_type(v).bits() as usize;
        if v == self.base {
            let mut out = [ZERO; 64];
            for (i, o) in out.iter_mut().enumerate().take(self.base_bits as usize) {
                if self.base_zero >> i & 1 == 0 {
                    *o = i as u8;
                }
            }
            return Some(out);
        }
        let mut out = [ZERO; 64];
        match step(self.dfg, v) {
            Step::Leaf => return None,
            Step::Combine(a, b) => {
                let kind = match self
                    .dfg
                    .value_def(v)
                    .inst()
                    .map(|i| self.dfg.insts[i].opcode())
                {
                    Some(Opcode::Bor) => Combine::Or,
                    _ => Combine::Disjoint,
                };
                let x = self.bits(a)?;
                let y = self.bits(b)?;
                for i in 0..w {
                    out[i] = match (x[i], y[i], kind) {
                        (ZERO, y, _) => y,
                        (x, ZERO, _) => x,
                        (x, y, Combine::Or) if x == y => x,
                        _ => return None,
                    };
                }
            }
            Step::Unary(a, op) => {
                let x = self.bits(a)?;
                let aw = self.dfg.value_type(a).bits() as usize;
                for (i, o) in out.iter_mut().enumerate().take(w) {
                    *o = match op {
                        Unary::Mask(m) if m >> i & 1 == 1 => x[i],
                        Unary::Mask(_) => ZERO,
                        Unary::Shl(s) => i.checked_sub(s as usize).map_or(ZERO, |j| x[j]),
                        Unary::Ushr(s) if i + (s as usize) < w => x[i + s as usize],
                        Unary::Ushr(_) => ZERO,
                        Unary::Rotl(s) => x[(i + w - s as usize) % w],
                        Unary::Rotr(s) => x[(i + s as usize) % w],
                        Unary::Uextend if i < aw => x[i],
                        Unary::Uextend => ZERO,
                        Unary::Ireduce => x[i],
                    };
                }
            }
        }
        self.ops += 1;
        Some(out)
    }
}
