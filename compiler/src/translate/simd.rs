//! Fixed-width SIMD: `v128` constants, memory accesses and vector operators.
//!
//! Wasm has one `v128` type; Cranelift types vectors by lane shape. Every v128 on the
//! operand stack, in a local, a global, a block parameter or a call is [`V128`] (I8X16);
//! an operator bitcasts its operands to the shape it works on and its result back, and
//! the bitcasts cost nothing (they are register renames, and the optimiser folds chains
//! of them). That keeps block parameters and variables of one type without having to
//! reconcile shapes at every join.
//!
//! Memory accesses go through the same `FuncEnv::memory_addr` as scalar ones, so the
//! bounds-check or guard-page scheme is the same; the access size is what the
//! instruction touches in memory (8 bytes for `v128.load8x8_s`, 1 for a lane of i8x16).

use cranelift_codegen::ir::{
    ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value, types,
};
use wasmparser::{MemArg, Operator};

use super::{Translator, mem_index};

/// The type every v128 has outside of the operator working on it.
pub(super) const V128: Type = types::I8X16;

/// Translates `op` if it is a SIMD operator; returns false otherwise.
pub(super) fn translate(t: &mut Translator, op: &Operator) -> bool {
    use Operator as O;
    use types::{F32, F64, I8, I16, I32, I64};
    match *op {
        O::V128Const { value } => {
            let v = vconst(t, value.bytes());
            t.push(v);
        }

        O::V128Load { memarg } => load(t, memarg, V128, 16, |_, v| v),
        O::V128Load8x8S { memarg } => load_ext(t, memarg, |b, f, a, o| b.ins().sload8x8(f, a, o)),
        O::V128Load8x8U { memarg } => load_ext(t, memarg, |b, f, a, o| b.ins().uload8x8(f, a, o)),
        O::V128Load16x4S { memarg } => load_ext(t, memarg, |b, f, a, o| b.ins().sload16x4(f, a, o)),
        O::V128Load16x4U { memarg } => load_ext(t, memarg, |b, f, a, o| b.ins().uload16x4(f, a, o)),
        O::V128Load32x2S { memarg } => load_ext(t, memarg, |b, f, a, o| b.ins().sload32x2(f, a, o)),
        O::V128Load32x2U { memarg } => load_ext(t, memarg, |b, f, a, o| b.ins().uload32x2(f, a, o)),
        O::V128Load8Splat { memarg } => load_splat(t, memarg, I8, types::I8X16),
        O::V128Load16Splat { memarg } => load_splat(t, memarg, I16, types::I16X8),
        O::V128Load32Splat { memarg } => load_splat(t, memarg, I32, types::I32X4),
        O::V128Load64Splat { memarg } => load_splat(t, memarg, I64, types::I64X2),
        O::V128Load32Zero { memarg } => load(t, memarg, I32, 4, |b, v| {
            let v = b.ins().scalar_to_vector(types::I32X4, v);
            cast(b, V128, v)
        }),
        O::V128Load64Zero { memarg } => load(t, memarg, I64, 8, |b, v| {
            let v = b.ins().scalar_to_vector(types::I64X2, v);
            cast(b, V128, v)
        }),
        O::V128Store { memarg } => {
            let v = t.pop();
            store(t, memarg, v, 16);
        }
        O::V128Load8Lane { memarg, lane } => load_lane(t, memarg, lane, types::I8X16),
        O::V128Load16Lane { memarg, lane } => load_lane(t, memarg, lane, types::I16X8),
        O::V128Load32Lane { memarg, lane } => load_lane(t, memarg, lane, types::I32X4),
        O::V128Load64Lane { memarg, lane } => load_lane(t, memarg, lane, types::I64X2),
        O::V128Store8Lane { memarg, lane } => store_lane(t, memarg, lane, types::I8X16),
        O::V128Store16Lane { memarg, lane } => store_lane(t, memarg, lane, types::I16X8),
        O::V128Store32Lane { memarg, lane } => store_lane(t, memarg, lane, types::I32X4),
        O::V128Store64Lane { memarg, lane } => store_lane(t, memarg, lane, types::I64X2),

        _ => {
            let _ = (F32, F64);
            return false;
        }
    }
    true
}

type B<'f> = cranelift_frontend::FunctionBuilder<'f>;

/// Reinterprets the 128 bits of `v` as a vector of type `ty` (lanes little-endian, as
/// Wasm numbers them, on every target).
pub(super) fn cast(b: &mut B, ty: Type, v: Value) -> Value {
    if b.func.dfg.value_type(v) == ty {
        return v;
    }
    let flags = MemFlagsData::new().with_endianness(Endianness::Little);
    b.ins().bitcast(ty, flags, v)
}

fn vconst(t: &mut Translator, bytes: &[u8; 16]) -> Value {
    let c =
        t.b.func
            .dfg
            .constants
            .insert(ConstantData::from(bytes.to_vec()));
    t.b.ins().vconst(V128, c)
}

/// The native address of a `size`-byte access at the popped Wasm address.
fn address(t: &mut Translator, memarg: MemArg, size: u32) -> (Value, i32) {
    let addr = t.pop();
    t.env
        .memory_addr(t.b, mem_index(&memarg), addr, memarg.offset, size)
}

/// Loads a `ty` of `size` bytes and pushes `finish` of it.
fn load(
    t: &mut Translator,
    memarg: MemArg,
    ty: Type,
    size: u32,
    finish: impl FnOnce(&mut B, Value) -> Value,
) {
    let (a, off) = address(t, memarg, size);
    let flags = t.env.heap_flags();
    let v = t.b.ins().load(ty, flags, a, off);
    let v = finish(t.b, v);
    t.push(v);
}

/// `v128.loadNxM_{s,u}`: 8 bytes, each lane widened.
fn load_ext(
    t: &mut Translator,
    memarg: MemArg,
    f: impl FnOnce(&mut B, MemFlagsData, Value, i32) -> Value,
) {
    let (a, off) = address(t, memarg, 8);
    let flags = t.env.heap_flags();
    let v = f(t.b, flags, a, off);
    let v = cast(t.b, V128, v);
    t.push(v);
}

fn load_splat(t: &mut Translator, memarg: MemArg, lane: Type, vec: Type) {
    load(t, memarg, lane, lane.bytes(), |b, v| {
        let v = b.ins().splat(vec, v);
        cast(b, V128, v)
    });
}

fn load_lane(t: &mut Translator, memarg: MemArg, lane: u8, vec: Type) {
    let v = t.pop();
    let lane_ty = vec.lane_type();
    load(t, memarg, lane_ty, lane_ty.bytes(), |b, x| {
        let v = cast(b, vec, v);
        let v = b.ins().insertlane(v, x, lane);
        cast(b, V128, v)
    });
}

fn store(t: &mut Translator, memarg: MemArg, v: Value, size: u32) {
    let (a, off) = address(t, memarg, size);
    let flags = t.env.heap_flags();
    t.b.ins().store(flags, v, a, off);
}

fn store_lane(t: &mut Translator, memarg: MemArg, lane: u8, vec: Type) {
    let v = t.pop();
    let v = cast(t.b, vec, v);
    let x = t.b.ins().extractlane(v, lane);
    store(t, memarg, x, vec.lane_type().bytes());
}
