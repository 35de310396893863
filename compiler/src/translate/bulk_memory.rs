//! `memory.copy` within one memory and `memory.fill`, without a builtin: the bounds are
//! checked inline against the memory's current length (the spec's order: the whole range
//! before any byte is written). A constant length of at most [`CONST_COPY_MAX`] (copy) or
//! [`CONST_FILL_MAX`] (fill) bytes then becomes a few loads and stores; a copy of a
//! variable length takes an inline path for lengths up to [`INLINE_MAX`] (see
//! [`copy_variable`]); any other length is a direct call of the runtime's `memmove`
//! (vector moves up to 4 KiB, see `aot_runtime::memmove`) or libc's `memset`
//! on the host addresses. A copy between two memories and `memory.init` stay runtime
//! builtins.
//!
//! The checks are explicit whatever the memory's bounds mode: a guard page could not keep
//! a partly out-of-bounds copy from writing its in-bounds part first, and a fault inside
//! libc is no Wasm trap. A shared memory only grows, so a length read before the access
//! stays a valid bound while another thread grows it. The accesses after the check are
//! `notrap`: they are in bounds.

use cranelift_codegen::ir::{
    InstBuilder, InstructionData, Opcode, Type, Value, condcodes::IntCC, types,
};

use super::Translator;
use crate::env::{LibcFn, trap_code};
use aot_abi::TrapKind;

/// The largest length copied or filled inline: at most two 16-byte accesses each way.
/// Rust's wasm32 code expands small constant copies itself, so what reaches `memory.copy`
/// is mostly its `memcpy` with a variable length; on the json example copies of up to 32
/// bytes made nearly all of the 10% its run spent in musl's `memcpy` (what stayed in
/// `memcpy`/`memmove` afterwards was about 1%).
const INLINE_MAX: u64 = 32;

/// The largest constant length copied inline: eight 16-byte loads, then eight stores.
/// Rust and C code copy structs of 64-128 bytes by constant-length `memory.copy` (boa's
/// and rhai's values: 950 copies of 128 bytes in the js benchmark), which otherwise reach
/// musl's `rep movsq` and its start-up cost; about 100 bytes of code at a site.
const CONST_COPY_MAX: u64 = 128;

/// The largest constant length filled inline: sixteen 16-byte stores of one splat (the
/// hash benchmark's SHA-256 clears 192 bytes per block through `memset`).
const CONST_FILL_MAX: u64 = 256;

/// `memory.copy` within memory `mem`: `dst`, `src` and `len` are of its index type.
pub(super) fn copy_within(t: &mut Translator, mem: u32, dst: Value, src: Value, len: Value) {
    let constant = const_len(t, len);
    let dst = t.address_as_u64(dst);
    let src = t.address_as_u64(src);
    let len = t.address_as_u64(len);
    check_range(t, mem, dst, len);
    check_range(t, mem, src, len);
    let base = t.env.memory_base(t.b, mem);
    let to = t.b.ins().iadd(base, dst);
    let from = t.b.ins().iadd(base, src);
    match constant {
        Some(n) if n <= CONST_COPY_MAX => {
            // Every load before any store: the ranges may overlap, either way round.
            let flags = t.env.heap_flags().with_notrap();
            let parts = chunks(n);
            let vals: Vec<Value> = parts
                .iter()
                .map(|&(off, ty)| t.b.ins().load(ty, flags, from, off))
                .collect();
            for (&(off, _), v) in parts.iter().zip(vals) {
                t.b.ins().store(flags, v, to, off);
            }
        }
        Some(_) => t.env.call_libc(t.b, LibcFn::memmove, &[to, from, len]),
        None => copy_variable(t, to, from, len),
    }
}

/// A copy of `len` (an i64, not a constant) bytes from `from` to `to` (host addresses,
/// in bounds): up to [`INLINE_MAX`] bytes as two possibly overlapping accesses of the
/// widest size that fits, one at each end of the range (three bytes below 4), longer
/// ones with `memmove`. musl's `memmove`/`memcpy` always start a `rep movsq`, whose
/// start-up cost dominated the short copies (strings, small structs) Rust code makes
/// through its `memcpy`.
fn copy_variable(t: &mut Translator, to: Value, from: Value, len: Value) {
    let flags = t.env.heap_flags().with_notrap();
    let done = t.b.create_block();
    let mut next = t.b.create_block();
    let long = t.b.create_block();
    let src_end = t.b.ins().iadd(from, len);
    let dst_end = t.b.ins().iadd(to, len);
    let is_long =
        t.b.ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThan, len, INLINE_MAX as i64);
    t.b.ins().brif(is_long, long, &[], next, &[]);
    t.b.switch_to_block(long);
    t.env.call_libc(t.b, LibcFn::memmove, &[to, from, len]);
    t.b.ins().jump(done, &[]);
    for ty in [types::I8X16, types::I64, types::I32] {
        // len in size..2*size: the first and the last `size` bytes cover it.
        let size = ty.bytes() as i64;
        t.b.switch_to_block(next);
        let this = t.b.create_block();
        next = t.b.create_block();
        let fits =
            t.b.ins()
                .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, len, size);
        t.b.ins().brif(fits, this, &[], next, &[]);
        t.b.switch_to_block(this);
        let head = t.b.ins().load(ty, flags, from, 0);
        let tail = t.b.ins().load(ty, flags, src_end, -size as i32);
        t.b.ins().store(flags, head, to, 0);
        t.b.ins().store(flags, tail, dst_end, -size as i32);
        t.b.ins().jump(done, &[]);
    }
    // 0..=3 bytes: the first, the middle and the last cover 1, 2 or 3.
    t.b.switch_to_block(next);
    let bytes = t.b.create_block();
    t.b.ins().brif(len, bytes, &[], done, &[]);
    t.b.switch_to_block(bytes);
    let half = t.b.ins().ushr_imm_u(len, 1);
    let mid_src = t.b.ins().iadd(from, half);
    let mid_dst = t.b.ins().iadd(to, half);
    let first = t.b.ins().load(types::I8, flags, from, 0);
    let mid = t.b.ins().load(types::I8, flags, mid_src, 0);
    let last = t.b.ins().load(types::I8, flags, src_end, -1);
    t.b.ins().store(flags, first, to, 0);
    t.b.ins().store(flags, mid, mid_dst, 0);
    t.b.ins().store(flags, last, dst_end, -1);
    t.b.ins().jump(done, &[]);
    t.b.switch_to_block(done);
}

/// `memory.fill` of memory `mem`: `dst` and `len` of its index type, `val` an i32 whose
/// low byte is stored.
pub(super) fn fill(t: &mut Translator, mem: u32, dst: Value, val: Value, len: Value) {
    let constant = const_len(t, len);
    let dst = t.address_as_u64(dst);
    let len = t.address_as_u64(len);
    check_range(t, mem, dst, len);
    let base = t.env.memory_base(t.b, mem);
    let to = t.b.ins().iadd(base, dst);
    match constant {
        Some(n) if n <= CONST_FILL_MAX => {
            let flags = t.env.heap_flags().with_notrap();
            let parts = chunks(n);
            let byte = t.b.ins().ireduce(types::I8, val);
            let wide = t.b.ins().uextend(types::I64, byte);
            let word = t.b.ins().imul_imm_u(wide, 0x0101_0101_0101_0101);
            let mut vector = None;
            for (off, ty) in parts {
                let v = match ty {
                    types::I8X16 => {
                        *vector.get_or_insert_with(|| t.b.ins().splat(types::I8X16, byte))
                    }
                    types::I64 => word,
                    _ => t.b.ins().ireduce(ty, word),
                };
                t.b.ins().store(flags, v, to, off);
            }
        }
        _ => t.env.call_libc(t.b, LibcFn::memset, &[to, val, len]),
    }
}

/// Traps (out of bounds) unless `start..start + len` (both i64) lies within memory `mem`.
/// An empty range may start at the memory's end, not beyond.
fn check_range(t: &mut Translator, mem: u32, start: Value, len: Value) {
    let mem_len = t.env.memory_length(t.b, mem);
    let trap = trap_code(TrapKind::MemoryOutOfBounds);
    let end = if t.env.memory_type(mem).memory64 {
        // Two 64-bit values can wrap: a wrapped end is out of bounds.
        t.b.ins().uadd_overflow_trap(start, len, trap)
    } else {
        // Both are below 2^32: no overflow in 64 bits.
        t.b.ins().iadd(start, len)
    };
    let oob = t.b.ins().icmp(IntCC::UnsignedGreaterThan, end, mem_len);
    t.b.ins().trapnz(oob, trap);
}

/// The length if it is a constant in the IR (an `i32.const` or `i64.const` operand).
fn const_len(t: &Translator, len: Value) -> Option<u64> {
    let inst = t.b.func.dfg.value_def(len).inst()?;
    let InstructionData::UnaryImm {
        opcode: Opcode::Iconst,
        imm,
    } = t.b.func.dfg.insts[inst]
    else {
        return None;
    };
    let bits = t.b.func.dfg.value_type(len).bits();
    let v = imm.bits() as u64;
    Some(if bits == 32 { v & 0xffff_ffff } else { v })
}

/// Accesses covering `0..n` (0 < n, at most 32 bytes, or any n as 16-byte pieces): of the
/// widest power-of-two size up to 16 that fits, at multiples of it and one more ending
/// exactly at `n`, overlapping the one before when `n` is not a multiple (harmless: every
/// byte is loaded before any is stored, and a fill stores the same byte twice).
fn chunks(n: u64) -> Vec<(i32, Type)> {
    let size = [16u64, 8, 4, 2, 1]
        .into_iter()
        .find(|s| *s <= n)
        .unwrap_or(1);
    let ty = match size {
        16 => types::I8X16,
        8 => types::I64,
        4 => types::I32,
        2 => types::I16,
        _ => types::I8,
    };
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    let mut off = 0;
    while off + size < n {
        out.push((off as i32, ty));
        off += size;
    }
    out.push(((n - size) as i32, ty));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_exactly_the_range() {
        for n in 0..=64u64 {
            let parts = chunks(n);
            let mut covered = vec![false; n as usize];
            for (off, ty) in &parts {
                let (off, size) = (*off as u64, u64::from(ty.bytes()));
                assert!(off + size <= n, "n={n}: {off}+{size} past the end");
                for i in off..off + size {
                    covered[i as usize] = true;
                }
            }
            assert!(covered.iter().all(|c| *c), "n={n}: a byte not covered");
            if (1..=32).contains(&n) {
                assert!(parts.len() <= 2, "n={n}: {} accesses", parts.len());
            }
        }
    }
}
