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
    ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value,
    condcodes::{FloatCC, IntCC},
    types,
};
use wasmparser::{MemArg, Operator};

use super::{Translator, mem_index};

/// The type every v128 has outside of the operator working on it.
pub(super) const V128: Type = types::I8X16;

/// Translates `op` if it is a SIMD operator; returns false otherwise.
pub(super) fn translate(t: &mut Translator, op: &Operator) -> bool {
    use Operator as O;
    use types::{F32X4, F64X2, I8, I8X16, I16, I16X8, I32, I32X4, I64, I64X2};
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

        O::I8x16Shuffle { lanes } => {
            let (x, y) = t.pop2();
            let mask =
                t.b.func
                    .dfg
                    .immediates
                    .push(ConstantData::from(lanes.to_vec()));
            let v = t.b.ins().shuffle(x, y, mask);
            t.push(v);
        }
        // Cranelift's swizzle gives 0 for an index >= 16, as Wasm's does.
        O::I8x16Swizzle => binary(t, I8X16, |b, x, y| b.ins().swizzle(x, y)),

        O::I8x16Splat => splat(t, I8X16, |b, x| b.ins().ireduce(I8, x)),
        O::I16x8Splat => splat(t, I16X8, |b, x| b.ins().ireduce(I16, x)),
        O::I32x4Splat => splat(t, I32X4, |_, x| x),
        O::I64x2Splat => splat(t, I64X2, |_, x| x),
        O::F32x4Splat => splat(t, F32X4, |_, x| x),
        O::F64x2Splat => splat(t, F64X2, |_, x| x),

        O::I8x16ExtractLaneS { lane } => extract(t, I8X16, lane, |b, x| b.ins().sextend(I32, x)),
        O::I8x16ExtractLaneU { lane } => extract(t, I8X16, lane, |b, x| b.ins().uextend(I32, x)),
        O::I16x8ExtractLaneS { lane } => extract(t, I16X8, lane, |b, x| b.ins().sextend(I32, x)),
        O::I16x8ExtractLaneU { lane } => extract(t, I16X8, lane, |b, x| b.ins().uextend(I32, x)),
        O::I32x4ExtractLane { lane } => extract(t, I32X4, lane, |_, x| x),
        O::I64x2ExtractLane { lane } => extract(t, I64X2, lane, |_, x| x),
        O::F32x4ExtractLane { lane } => extract(t, F32X4, lane, |_, x| x),
        O::F64x2ExtractLane { lane } => extract(t, F64X2, lane, |_, x| x),
        O::I8x16ReplaceLane { lane } => replace(t, I8X16, lane, |b, x| b.ins().ireduce(I8, x)),
        O::I16x8ReplaceLane { lane } => replace(t, I16X8, lane, |b, x| b.ins().ireduce(I16, x)),
        O::I32x4ReplaceLane { lane } => replace(t, I32X4, lane, |_, x| x),
        O::I64x2ReplaceLane { lane } => replace(t, I64X2, lane, |_, x| x),
        O::F32x4ReplaceLane { lane } => replace(t, F32X4, lane, |_, x| x),
        O::F64x2ReplaceLane { lane } => replace(t, F64X2, lane, |_, x| x),

        O::I8x16Eq => icmp(t, I8X16, IntCC::Equal),
        O::I8x16Ne => icmp(t, I8X16, IntCC::NotEqual),
        O::I8x16LtS => icmp(t, I8X16, IntCC::SignedLessThan),
        O::I8x16LtU => icmp(t, I8X16, IntCC::UnsignedLessThan),
        O::I8x16GtS => icmp(t, I8X16, IntCC::SignedGreaterThan),
        O::I8x16GtU => icmp(t, I8X16, IntCC::UnsignedGreaterThan),
        O::I8x16LeS => icmp(t, I8X16, IntCC::SignedLessThanOrEqual),
        O::I8x16LeU => icmp(t, I8X16, IntCC::UnsignedLessThanOrEqual),
        O::I8x16GeS => icmp(t, I8X16, IntCC::SignedGreaterThanOrEqual),
        O::I8x16GeU => icmp(t, I8X16, IntCC::UnsignedGreaterThanOrEqual),
        O::I16x8Eq => icmp(t, I16X8, IntCC::Equal),
        O::I16x8Ne => icmp(t, I16X8, IntCC::NotEqual),
        O::I16x8LtS => icmp(t, I16X8, IntCC::SignedLessThan),
        O::I16x8LtU => icmp(t, I16X8, IntCC::UnsignedLessThan),
        O::I16x8GtS => icmp(t, I16X8, IntCC::SignedGreaterThan),
        O::I16x8GtU => icmp(t, I16X8, IntCC::UnsignedGreaterThan),
        O::I16x8LeS => icmp(t, I16X8, IntCC::SignedLessThanOrEqual),
        O::I16x8LeU => icmp(t, I16X8, IntCC::UnsignedLessThanOrEqual),
        O::I16x8GeS => icmp(t, I16X8, IntCC::SignedGreaterThanOrEqual),
        O::I16x8GeU => icmp(t, I16X8, IntCC::UnsignedGreaterThanOrEqual),
        O::I32x4Eq => icmp(t, I32X4, IntCC::Equal),
        O::I32x4Ne => icmp(t, I32X4, IntCC::NotEqual),
        O::I32x4LtS => icmp(t, I32X4, IntCC::SignedLessThan),
        O::I32x4LtU => icmp(t, I32X4, IntCC::UnsignedLessThan),
        O::I32x4GtS => icmp(t, I32X4, IntCC::SignedGreaterThan),
        O::I32x4GtU => icmp(t, I32X4, IntCC::UnsignedGreaterThan),
        O::I32x4LeS => icmp(t, I32X4, IntCC::SignedLessThanOrEqual),
        O::I32x4LeU => icmp(t, I32X4, IntCC::UnsignedLessThanOrEqual),
        O::I32x4GeS => icmp(t, I32X4, IntCC::SignedGreaterThanOrEqual),
        O::I32x4GeU => icmp(t, I32X4, IntCC::UnsignedGreaterThanOrEqual),
        O::I64x2Eq => icmp(t, I64X2, IntCC::Equal),
        O::I64x2Ne => icmp(t, I64X2, IntCC::NotEqual),
        O::I64x2LtS => icmp(t, I64X2, IntCC::SignedLessThan),
        O::I64x2GtS => icmp(t, I64X2, IntCC::SignedGreaterThan),
        O::I64x2LeS => icmp(t, I64X2, IntCC::SignedLessThanOrEqual),
        O::I64x2GeS => icmp(t, I64X2, IntCC::SignedGreaterThanOrEqual),
        O::F32x4Eq => fcmp(t, F32X4, FloatCC::Equal),
        O::F32x4Ne => fcmp(t, F32X4, FloatCC::NotEqual),
        O::F32x4Lt => fcmp(t, F32X4, FloatCC::LessThan),
        O::F32x4Gt => fcmp(t, F32X4, FloatCC::GreaterThan),
        O::F32x4Le => fcmp(t, F32X4, FloatCC::LessThanOrEqual),
        O::F32x4Ge => fcmp(t, F32X4, FloatCC::GreaterThanOrEqual),
        O::F64x2Eq => fcmp(t, F64X2, FloatCC::Equal),
        O::F64x2Ne => fcmp(t, F64X2, FloatCC::NotEqual),
        O::F64x2Lt => fcmp(t, F64X2, FloatCC::LessThan),
        O::F64x2Gt => fcmp(t, F64X2, FloatCC::GreaterThan),
        O::F64x2Le => fcmp(t, F64X2, FloatCC::LessThanOrEqual),
        O::F64x2Ge => fcmp(t, F64X2, FloatCC::GreaterThanOrEqual),

        O::V128Not => unary(t, I64X2, |b, x| b.ins().bnot(x)),
        O::V128And => binary(t, I64X2, |b, x, y| b.ins().band(x, y)),
        O::V128AndNot => binary(t, I64X2, |b, x, y| b.ins().band_not(x, y)),
        O::V128Or => binary(t, I64X2, |b, x, y| b.ins().bor(x, y)),
        O::V128Xor => binary(t, I64X2, |b, x, y| b.ins().bxor(x, y)),
        O::V128Bitselect => {
            let (x, y, c) = t.pop3();
            let (x, y, c) = (
                cast(t.b, I64X2, x),
                cast(t.b, I64X2, y),
                cast(t.b, I64X2, c),
            );
            let v = t.b.ins().bitselect(c, x, y);
            push(t, v);
        }
        O::V128AnyTrue => to_i32(t, I8X16, |b, x| b.ins().vany_true(x)),
        O::I8x16AllTrue => to_i32(t, I8X16, |b, x| b.ins().vall_true(x)),
        O::I16x8AllTrue => to_i32(t, I16X8, |b, x| b.ins().vall_true(x)),
        O::I32x4AllTrue => to_i32(t, I32X4, |b, x| b.ins().vall_true(x)),
        O::I64x2AllTrue => to_i32(t, I64X2, |b, x| b.ins().vall_true(x)),
        O::I8x16Bitmask => to_i32(t, I8X16, |b, x| b.ins().vhigh_bits(I32, x)),
        O::I16x8Bitmask => to_i32(t, I16X8, |b, x| b.ins().vhigh_bits(I32, x)),
        O::I32x4Bitmask => to_i32(t, I32X4, |b, x| b.ins().vhigh_bits(I32, x)),
        O::I64x2Bitmask => to_i32(t, I64X2, |b, x| b.ins().vhigh_bits(I32, x)),

        O::I8x16Abs => unary(t, I8X16, |b, x| b.ins().iabs(x)),
        O::I16x8Abs => unary(t, I16X8, |b, x| b.ins().iabs(x)),
        O::I32x4Abs => unary(t, I32X4, |b, x| b.ins().iabs(x)),
        O::I64x2Abs => unary(t, I64X2, |b, x| b.ins().iabs(x)),
        O::I8x16Neg => unary(t, I8X16, |b, x| b.ins().ineg(x)),
        O::I16x8Neg => unary(t, I16X8, |b, x| b.ins().ineg(x)),
        O::I32x4Neg => unary(t, I32X4, |b, x| b.ins().ineg(x)),
        O::I64x2Neg => unary(t, I64X2, |b, x| b.ins().ineg(x)),
        O::I8x16Popcnt => unary(t, I8X16, |b, x| b.ins().popcnt(x)),

        // Cranelift takes the count modulo the lane width, as Wasm does.
        O::I8x16Shl => shift(t, I8X16, |b, x, n| b.ins().ishl(x, n)),
        O::I16x8Shl => shift(t, I16X8, |b, x, n| b.ins().ishl(x, n)),
        O::I32x4Shl => shift(t, I32X4, |b, x, n| b.ins().ishl(x, n)),
        O::I64x2Shl => shift(t, I64X2, |b, x, n| b.ins().ishl(x, n)),
        O::I8x16ShrS => shift(t, I8X16, |b, x, n| b.ins().sshr(x, n)),
        O::I16x8ShrS => shift(t, I16X8, |b, x, n| b.ins().sshr(x, n)),
        O::I32x4ShrS => shift(t, I32X4, |b, x, n| b.ins().sshr(x, n)),
        O::I64x2ShrS => shift(t, I64X2, |b, x, n| b.ins().sshr(x, n)),
        O::I8x16ShrU => shift(t, I8X16, |b, x, n| b.ins().ushr(x, n)),
        O::I16x8ShrU => shift(t, I16X8, |b, x, n| b.ins().ushr(x, n)),
        O::I32x4ShrU => shift(t, I32X4, |b, x, n| b.ins().ushr(x, n)),
        O::I64x2ShrU => shift(t, I64X2, |b, x, n| b.ins().ushr(x, n)),

        O::I8x16Add => binary(t, I8X16, |b, x, y| b.ins().iadd(x, y)),
        O::I16x8Add => binary(t, I16X8, |b, x, y| b.ins().iadd(x, y)),
        O::I32x4Add => binary(t, I32X4, |b, x, y| b.ins().iadd(x, y)),
        O::I64x2Add => binary(t, I64X2, |b, x, y| b.ins().iadd(x, y)),
        O::I8x16Sub => binary(t, I8X16, |b, x, y| b.ins().isub(x, y)),
        O::I16x8Sub => binary(t, I16X8, |b, x, y| b.ins().isub(x, y)),
        O::I32x4Sub => binary(t, I32X4, |b, x, y| b.ins().isub(x, y)),
        O::I64x2Sub => binary(t, I64X2, |b, x, y| b.ins().isub(x, y)),
        O::I16x8Mul => binary(t, I16X8, |b, x, y| b.ins().imul(x, y)),
        O::I32x4Mul => binary(t, I32X4, |b, x, y| b.ins().imul(x, y)),
        O::I64x2Mul => binary(t, I64X2, |b, x, y| b.ins().imul(x, y)),
        O::I8x16AddSatS => binary(t, I8X16, |b, x, y| b.ins().sadd_sat(x, y)),
        O::I16x8AddSatS => binary(t, I16X8, |b, x, y| b.ins().sadd_sat(x, y)),
        O::I8x16AddSatU => binary(t, I8X16, |b, x, y| b.ins().uadd_sat(x, y)),
        O::I16x8AddSatU => binary(t, I16X8, |b, x, y| b.ins().uadd_sat(x, y)),
        O::I8x16SubSatS => binary(t, I8X16, |b, x, y| b.ins().ssub_sat(x, y)),
        O::I16x8SubSatS => binary(t, I16X8, |b, x, y| b.ins().ssub_sat(x, y)),
        O::I8x16SubSatU => binary(t, I8X16, |b, x, y| b.ins().usub_sat(x, y)),
        O::I16x8SubSatU => binary(t, I16X8, |b, x, y| b.ins().usub_sat(x, y)),
        O::I8x16MinS => binary(t, I8X16, |b, x, y| b.ins().smin(x, y)),
        O::I16x8MinS => binary(t, I16X8, |b, x, y| b.ins().smin(x, y)),
        O::I32x4MinS => binary(t, I32X4, |b, x, y| b.ins().smin(x, y)),
        O::I8x16MinU => binary(t, I8X16, |b, x, y| b.ins().umin(x, y)),
        O::I16x8MinU => binary(t, I16X8, |b, x, y| b.ins().umin(x, y)),
        O::I32x4MinU => binary(t, I32X4, |b, x, y| b.ins().umin(x, y)),
        O::I8x16MaxS => binary(t, I8X16, |b, x, y| b.ins().smax(x, y)),
        O::I16x8MaxS => binary(t, I16X8, |b, x, y| b.ins().smax(x, y)),
        O::I32x4MaxS => binary(t, I32X4, |b, x, y| b.ins().smax(x, y)),
        O::I8x16MaxU => binary(t, I8X16, |b, x, y| b.ins().umax(x, y)),
        O::I16x8MaxU => binary(t, I16X8, |b, x, y| b.ins().umax(x, y)),
        O::I32x4MaxU => binary(t, I32X4, |b, x, y| b.ins().umax(x, y)),
        // Unsigned (x + y + 1) >> 1 without overflow: Wasm's avgr_u is Cranelift's avg_round.
        O::I8x16AvgrU => binary(t, I8X16, |b, x, y| b.ins().avg_round(x, y)),
        O::I16x8AvgrU => binary(t, I16X8, |b, x, y| b.ins().avg_round(x, y)),
        O::I16x8Q15MulrSatS => binary(t, I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),

        O::I8x16NarrowI16x8S => binary(t, I16X8, |b, x, y| b.ins().snarrow(x, y)),
        O::I16x8NarrowI32x4S => binary(t, I32X4, |b, x, y| b.ins().snarrow(x, y)),
        // Wasm's narrow_u reads its inputs as signed: Cranelift's unarrow (uunarrow would
        // read them as unsigned).
        O::I8x16NarrowI16x8U => binary(t, I16X8, |b, x, y| b.ins().unarrow(x, y)),
        O::I16x8NarrowI32x4U => binary(t, I32X4, |b, x, y| b.ins().unarrow(x, y)),
        O::I16x8ExtendLowI8x16S => unary(t, I8X16, |b, x| b.ins().swiden_low(x)),
        O::I16x8ExtendHighI8x16S => unary(t, I8X16, |b, x| b.ins().swiden_high(x)),
        O::I16x8ExtendLowI8x16U => unary(t, I8X16, |b, x| b.ins().uwiden_low(x)),
        O::I16x8ExtendHighI8x16U => unary(t, I8X16, |b, x| b.ins().uwiden_high(x)),
        O::I32x4ExtendLowI16x8S => unary(t, I16X8, |b, x| b.ins().swiden_low(x)),
        O::I32x4ExtendHighI16x8S => unary(t, I16X8, |b, x| b.ins().swiden_high(x)),
        O::I32x4ExtendLowI16x8U => unary(t, I16X8, |b, x| b.ins().uwiden_low(x)),
        O::I32x4ExtendHighI16x8U => unary(t, I16X8, |b, x| b.ins().uwiden_high(x)),
        O::I64x2ExtendLowI32x4S => unary(t, I32X4, |b, x| b.ins().swiden_low(x)),
        O::I64x2ExtendHighI32x4S => unary(t, I32X4, |b, x| b.ins().swiden_high(x)),
        O::I64x2ExtendLowI32x4U => unary(t, I32X4, |b, x| b.ins().uwiden_low(x)),
        O::I64x2ExtendHighI32x4U => unary(t, I32X4, |b, x| b.ins().uwiden_high(x)),

        O::I16x8ExtMulLowI8x16S => extmul(t, I8X16, Half::Low, true),
        O::I16x8ExtMulHighI8x16S => extmul(t, I8X16, Half::High, true),
        O::I16x8ExtMulLowI8x16U => extmul(t, I8X16, Half::Low, false),
        O::I16x8ExtMulHighI8x16U => extmul(t, I8X16, Half::High, false),
        O::I32x4ExtMulLowI16x8S => extmul(t, I16X8, Half::Low, true),
        O::I32x4ExtMulHighI16x8S => extmul(t, I16X8, Half::High, true),
        O::I32x4ExtMulLowI16x8U => extmul(t, I16X8, Half::Low, false),
        O::I32x4ExtMulHighI16x8U => extmul(t, I16X8, Half::High, false),
        O::I64x2ExtMulLowI32x4S => extmul(t, I32X4, Half::Low, true),
        O::I64x2ExtMulHighI32x4S => extmul(t, I32X4, Half::High, true),
        O::I64x2ExtMulLowI32x4U => extmul(t, I32X4, Half::Low, false),
        O::I64x2ExtMulHighI32x4U => extmul(t, I32X4, Half::High, false),
        O::I16x8ExtAddPairwiseI8x16S => extadd_pairwise(t, I8X16, true),
        O::I16x8ExtAddPairwiseI8x16U => extadd_pairwise(t, I8X16, false),
        O::I32x4ExtAddPairwiseI16x8S => extadd_pairwise(t, I16X8, true),
        O::I32x4ExtAddPairwiseI16x8U => extadd_pairwise(t, I16X8, false),
        // Lane i is x[2i]*y[2i] + x[2i+1]*y[2i+1] in 32 bits (the one overflowing case,
        // all four factors -32768, wraps as Wasm says). Written as widen, multiply, add
        // pairs so that the backends can match it to pmaddwd / smull+addp.
        O::I32x4DotI16x8S => {
            let (x, y) = t.pop2();
            let (x, y) = (cast(t.b, I16X8, x), cast(t.b, I16X8, y));
            let v = dot_i16x8(t.b, x, y);
            push(t, v);
        }

        O::F32x4Abs => unary(t, F32X4, |b, x| b.ins().fabs(x)),
        O::F64x2Abs => unary(t, F64X2, |b, x| b.ins().fabs(x)),
        O::F32x4Neg => unary(t, F32X4, |b, x| b.ins().fneg(x)),
        O::F64x2Neg => unary(t, F64X2, |b, x| b.ins().fneg(x)),
        O::F32x4Sqrt => unary(t, F32X4, |b, x| b.ins().sqrt(x)),
        O::F64x2Sqrt => unary(t, F64X2, |b, x| b.ins().sqrt(x)),
        O::F32x4Ceil => unary(t, F32X4, |b, x| b.ins().ceil(x)),
        O::F64x2Ceil => unary(t, F64X2, |b, x| b.ins().ceil(x)),
        O::F32x4Floor => unary(t, F32X4, |b, x| b.ins().floor(x)),
        O::F64x2Floor => unary(t, F64X2, |b, x| b.ins().floor(x)),
        O::F32x4Trunc => unary(t, F32X4, |b, x| b.ins().trunc(x)),
        O::F64x2Trunc => unary(t, F64X2, |b, x| b.ins().trunc(x)),
        O::F32x4Nearest => unary(t, F32X4, |b, x| b.ins().nearest(x)),
        O::F64x2Nearest => unary(t, F64X2, |b, x| b.ins().nearest(x)),
        O::F32x4Add => binary(t, F32X4, |b, x, y| b.ins().fadd(x, y)),
        O::F64x2Add => binary(t, F64X2, |b, x, y| b.ins().fadd(x, y)),
        O::F32x4Sub => binary(t, F32X4, |b, x, y| b.ins().fsub(x, y)),
        O::F64x2Sub => binary(t, F64X2, |b, x, y| b.ins().fsub(x, y)),
        O::F32x4Mul => binary(t, F32X4, |b, x, y| b.ins().fmul(x, y)),
        O::F64x2Mul => binary(t, F64X2, |b, x, y| b.ins().fmul(x, y)),
        O::F32x4Div => binary(t, F32X4, |b, x, y| b.ins().fdiv(x, y)),
        O::F64x2Div => binary(t, F64X2, |b, x, y| b.ins().fdiv(x, y)),
        // Cranelift's fmin/fmax are Wasm's: NaN if either is NaN, -0 < +0.
        O::F32x4Min => binary(t, F32X4, |b, x, y| b.ins().fmin(x, y)),
        O::F64x2Min => binary(t, F64X2, |b, x, y| b.ins().fmin(x, y)),
        O::F32x4Max => binary(t, F32X4, |b, x, y| b.ins().fmax(x, y)),
        O::F64x2Max => binary(t, F64X2, |b, x, y| b.ins().fmax(x, y)),
        // pmin(x, y) = y < x ? y : x; pmax(x, y) = x < y ? y : x (the first operand when
        // unordered, bit for bit, so a NaN in x passes through).
        O::F32x4PMin => binary(t, F32X4, |b, x, y| pselect(b, y, x, y, x)),
        O::F64x2PMin => binary(t, F64X2, |b, x, y| pselect(b, y, x, y, x)),
        O::F32x4PMax => binary(t, F32X4, |b, x, y| pselect(b, x, y, y, x)),
        O::F64x2PMax => binary(t, F64X2, |b, x, y| pselect(b, x, y, y, x)),

        O::I32x4TruncSatF32x4S => unary(t, F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
        O::I32x4TruncSatF32x4U => unary(t, F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
        // Both lanes converted to i64 with saturation, then narrowed (saturating again, which
        // changes nothing in range) next to zeros: the shape the backends match to
        // cvttpd2dq / fcvtzs+sqxtn.
        O::I32x4TruncSatF64x2SZero => unary(t, F64X2, |b, x| {
            let wide = b.ins().fcvt_to_sint_sat(I64X2, x);
            let zero = zeros(b, I64X2);
            b.ins().snarrow(wide, zero)
        }),
        O::I32x4TruncSatF64x2UZero => unary(t, F64X2, |b, x| {
            let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
            let zero = zeros(b, I64X2);
            b.ins().uunarrow(wide, zero)
        }),
        O::F32x4ConvertI32x4S => unary(t, I32X4, |b, x| b.ins().fcvt_from_sint(F32X4, x)),
        O::F32x4ConvertI32x4U => unary(t, I32X4, |b, x| b.ins().fcvt_from_uint(F32X4, x)),
        O::F64x2ConvertLowI32x4S => unary(t, I32X4, |b, x| {
            let wide = b.ins().swiden_low(x);
            b.ins().fcvt_from_sint(F64X2, wide)
        }),
        O::F64x2ConvertLowI32x4U => unary(t, I32X4, |b, x| {
            let wide = b.ins().uwiden_low(x);
            b.ins().fcvt_from_uint(F64X2, wide)
        }),
        O::F32x4DemoteF64x2Zero => unary(t, F64X2, |b, x| b.ins().fvdemote(x)),
        O::F64x2PromoteLowF32x4 => unary(t, F32X4, |b, x| b.ins().fvpromote_low(x)),

        _ => return relaxed(t, op),
    }
    true
}

/// Relaxed SIMD: each operator as the target computes it natively (see
/// [`crate::env::RelaxedSimd`]), which is one of the results the proposal allows and the
/// one wasmtime gives on the same CPU; where the target has no cheaper native form, the
/// deterministic result (the non-relaxed operator's).
fn relaxed(t: &mut Translator, op: &Operator) -> bool {
    use Operator as O;
    use types::{F32X4, F64X2, I8X16, I16X8, I32X4, I64X2};
    let native = t.env.module.relaxed_simd;
    match *op {
        O::I8x16RelaxedSwizzle if native.pshufb => {
            binary(t, I8X16, |b, x, y| b.ins().x86_pshufb(x, y))
        }
        O::I8x16RelaxedSwizzle => binary(t, I8X16, |b, x, y| b.ins().swizzle(x, y)),
        O::I32x4RelaxedTruncF32x4S if native.x86 => {
            unary(t, F32X4, |b, x| b.ins().x86_cvtt2dq(I32X4, x))
        }
        O::I32x4RelaxedTruncF32x4S => unary(t, F32X4, |b, x| b.ins().fcvt_to_sint_sat(I32X4, x)),
        O::I32x4RelaxedTruncF32x4U => unary(t, F32X4, |b, x| b.ins().fcvt_to_uint_sat(I32X4, x)),
        O::I32x4RelaxedTruncF64x2SZero => unary(t, F64X2, |b, x| {
            let wide = if native.x86 {
                b.ins().x86_cvtt2dq(I64X2, x)
            } else {
                b.ins().fcvt_to_sint_sat(I64X2, x)
            };
            let zero = zeros(b, I64X2);
            b.ins().snarrow(wide, zero)
        }),
        O::I32x4RelaxedTruncF64x2UZero => unary(t, F64X2, |b, x| {
            let wide = b.ins().fcvt_to_uint_sat(I64X2, x);
            let zero = zeros(b, I64X2);
            b.ins().uunarrow(wide, zero)
        }),
        O::F32x4RelaxedMadd => madd(t, F32X4, false, native.fused_madd),
        O::F64x2RelaxedMadd => madd(t, F64X2, false, native.fused_madd),
        O::F32x4RelaxedNmadd => madd(t, F32X4, true, native.fused_madd),
        O::F64x2RelaxedNmadd => madd(t, F64X2, true, native.fused_madd),
        O::I8x16RelaxedLaneselect => laneselect(t, I8X16, native.blendv(I8X16)),
        O::I16x8RelaxedLaneselect => laneselect(t, I16X8, native.blendv(I16X8)),
        O::I32x4RelaxedLaneselect => laneselect(t, I32X4, native.blendv(I32X4)),
        O::I64x2RelaxedLaneselect => laneselect(t, I64X2, native.blendv(I64X2)),
        // `y < x ? y : x` and `x < y ? y : x` (x when unordered or equal): the pmin/pmax
        // shape, which the backend turns into one minps/maxps with the operands swapped.
        O::F32x4RelaxedMin if native.x86 => binary(t, F32X4, |b, x, y| pselect(b, y, x, y, x)),
        O::F64x2RelaxedMin if native.x86 => binary(t, F64X2, |b, x, y| pselect(b, y, x, y, x)),
        O::F32x4RelaxedMax if native.x86 => binary(t, F32X4, |b, x, y| pselect(b, x, y, y, x)),
        O::F64x2RelaxedMax if native.x86 => binary(t, F64X2, |b, x, y| pselect(b, x, y, y, x)),
        O::F32x4RelaxedMin => binary(t, F32X4, |b, x, y| b.ins().fmin(x, y)),
        O::F64x2RelaxedMin => binary(t, F64X2, |b, x, y| b.ins().fmin(x, y)),
        O::F32x4RelaxedMax => binary(t, F32X4, |b, x, y| b.ins().fmax(x, y)),
        O::F64x2RelaxedMax => binary(t, F64X2, |b, x, y| b.ins().fmax(x, y)),
        O::I16x8RelaxedQ15mulrS if native.pmulhrsw => {
            binary(t, I16X8, |b, x, y| b.ins().x86_pmulhrsw(x, y))
        }
        O::I16x8RelaxedQ15mulrS => binary(t, I16X8, |b, x, y| b.ins().sqmul_round_sat(x, y)),
        O::I16x8RelaxedDotI8x16I7x16S => binary(t, I8X16, |b, x, y| {
            relaxed_dot_i8x16(b, x, y, native.pmaddubsw)
        }),
        O::I32x4RelaxedDotI8x16I7x16AddS => {
            let acc = t.pop();
            let (x, y) = t.pop2();
            let (x, y) = (cast(t.b, I8X16, x), cast(t.b, I8X16, y));
            let acc = cast(t.b, I32X4, acc);
            let dot32 = if native.pmaddubsw {
                // pmaddubsw's saturated i16 pair sums, then pairs of those in 32 bits.
                let dot16 = t.b.ins().x86_pmaddubsw(x, y);
                let lo = t.b.ins().swiden_low(dot16);
                let hi = t.b.ins().swiden_high(dot16);
                t.b.ins().iadd_pairwise(lo, hi)
            } else {
                // The four i16 products of each lane summed in 32 bits, so nothing wraps
                // (four times -128 * -128 is 65536).
                let products = |b: &mut B, half: Half| {
                    let xs = widen(b, x, half, true);
                    let ys = widen(b, y, half, true);
                    let p = b.ins().imul(xs, ys);
                    let lo = b.ins().swiden_low(p);
                    let hi = b.ins().swiden_high(p);
                    b.ins().iadd_pairwise(lo, hi)
                };
                let lo = products(t.b, Half::Low);
                let hi = products(t.b, Half::High);
                t.b.ins().iadd_pairwise(lo, hi)
            };
            let v = t.b.ins().iadd(dot32, acc);
            push(t, v);
        }
        _ => return false,
    }
    true
}

/// `x * y + z` (`-(x * y) + z` for nmadd), rounded once when `fused`.
fn madd(t: &mut Translator, ty: Type, negate: bool, fused: bool) {
    let (x, y, z) = t.pop3();
    let (x, y, z) = (cast(t.b, ty, x), cast(t.b, ty, y), cast(t.b, ty, z));
    let x = if negate { t.b.ins().fneg(x) } else { x };
    let v = if fused {
        t.b.ins().fma(x, y, z)
    } else {
        let p = t.b.ins().fmul(x, y);
        t.b.ins().fadd(p, z)
    };
    push(t, v);
}

/// `relaxed_laneselect(a, b, mask)`: a where the mask is set, b where clear; by the mask's
/// top bit per lane on a `blendv` target, bit by bit otherwise.
fn laneselect(t: &mut Translator, ty: Type, blendv: bool) {
    let (x, y, mask) = t.pop3();
    let (x, y, mask) = (cast(t.b, ty, x), cast(t.b, ty, y), cast(t.b, ty, mask));
    let v = if blendv {
        t.b.ins().blendv(mask, x, y)
    } else {
        t.b.ins().bitselect(mask, x, y)
    };
    push(t, v);
}

/// i16x8 lanes: x[2i]*y[2i] + x[2i+1]*y[2i+1] of the bytes; `pmaddubsw` reads y's bytes
/// as unsigned and saturates the sum, the portable form reads both signed (the proposal
/// allows either when y's top bit is set).
fn relaxed_dot_i8x16(b: &mut B, x: Value, y: Value, pmaddubsw: bool) -> Value {
    if pmaddubsw {
        return b.ins().x86_pmaddubsw(x, y);
    }
    let xl = b.ins().swiden_low(x);
    let yl = b.ins().swiden_low(y);
    let lo = b.ins().imul(xl, yl);
    let xh = b.ins().swiden_high(x);
    let yh = b.ins().swiden_high(y);
    let hi = b.ins().imul(xh, yh);
    b.ins().iadd_pairwise(lo, hi)
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
fn address(t: &mut Translator, memarg: MemArg, size: u32) -> (Value, i32, MemFlagsData) {
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
    let (a, off, flags) = address(t, memarg, size);
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
    let (a, off, flags) = address(t, memarg, 8);
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
    let (a, off, flags) = address(t, memarg, size);
    t.b.ins().store(flags, v, a, off);
}

fn store_lane(t: &mut Translator, memarg: MemArg, lane: u8, vec: Type) {
    let v = t.pop();
    let v = cast(t.b, vec, v);
    let x = t.b.ins().extractlane(v, lane);
    store(t, memarg, x, vec.lane_type().bytes());
}

/// Pushes a vector result as a v128.
fn push(t: &mut Translator, v: Value) {
    let v = cast(t.b, V128, v);
    t.push(v);
}

fn zeros(b: &mut B, ty: Type) -> Value {
    let c = b
        .func
        .dfg
        .constants
        .insert(ConstantData::from(vec![0u8; 16]));
    b.ins().vconst(ty, c)
}

fn unary(t: &mut Translator, ty: Type, f: impl FnOnce(&mut B, Value) -> Value) {
    let x = t.pop();
    let x = cast(t.b, ty, x);
    let v = f(t.b, x);
    push(t, v);
}

fn binary(t: &mut Translator, ty: Type, f: impl FnOnce(&mut B, Value, Value) -> Value) {
    let (x, y) = t.pop2();
    let (x, y) = (cast(t.b, ty, x), cast(t.b, ty, y));
    let v = f(t.b, x, y);
    push(t, v);
}

/// A vector shifted by a scalar i32 count.
fn shift(t: &mut Translator, ty: Type, f: impl FnOnce(&mut B, Value, Value) -> Value) {
    let (x, n) = t.pop2();
    let x = cast(t.b, ty, x);
    let v = f(t.b, x, n);
    push(t, v);
}

/// A reduction of a vector to an i32 (from Cranelift's i8 truth value or i32 bitmask).
fn to_i32(t: &mut Translator, ty: Type, f: impl FnOnce(&mut B, Value) -> Value) {
    let x = t.pop();
    let x = cast(t.b, ty, x);
    let r = f(t.b, x);
    let r = if t.b.func.dfg.value_type(r) == types::I32 {
        r
    } else {
        t.b.ins().uextend(types::I32, r)
    };
    t.push(r);
}

fn splat(t: &mut Translator, ty: Type, lane: impl FnOnce(&mut B, Value) -> Value) {
    let x = t.pop();
    let x = lane(t.b, x);
    let v = t.b.ins().splat(ty, x);
    push(t, v);
}

fn extract(t: &mut Translator, ty: Type, lane: u8, widen: impl FnOnce(&mut B, Value) -> Value) {
    let v = t.pop();
    let v = cast(t.b, ty, v);
    let x = t.b.ins().extractlane(v, lane);
    let x = widen(t.b, x);
    t.push(x);
}

fn replace(t: &mut Translator, ty: Type, lane: u8, narrow: impl FnOnce(&mut B, Value) -> Value) {
    let x = t.pop();
    let v = t.pop();
    let v = cast(t.b, ty, v);
    let x = narrow(t.b, x);
    let v = t.b.ins().insertlane(v, x, lane);
    push(t, v);
}

fn icmp(t: &mut Translator, ty: Type, cc: IntCC) {
    binary(t, ty, |b, x, y| b.ins().icmp(cc, x, y));
}

fn fcmp(t: &mut Translator, ty: Type, cc: FloatCC) {
    binary(t, ty, |b, x, y| b.ins().fcmp(cc, x, y));
}

/// `a < b ? if_less : otherwise`, lane by lane, choosing whole lanes (bit patterns kept).
fn pselect(b: &mut B, a: Value, bb: Value, if_less: Value, otherwise: Value) -> Value {
    let ty = b.func.dfg.value_type(a);
    let mask = b.ins().fcmp(FloatCC::LessThan, a, bb);
    let mask = cast(b, ty, mask);
    b.ins().bitselect(mask, if_less, otherwise)
}

#[derive(Clone, Copy)]
enum Half {
    Low,
    High,
}

fn widen(b: &mut B, x: Value, half: Half, signed: bool) -> Value {
    match (half, signed) {
        (Half::Low, true) => b.ins().swiden_low(x),
        (Half::Low, false) => b.ins().uwiden_low(x),
        (Half::High, true) => b.ins().swiden_high(x),
        (Half::High, false) => b.ins().uwiden_high(x),
    }
}

/// Extended multiply: both operands' `half` widened, then multiplied (the products fit).
fn extmul(t: &mut Translator, ty: Type, half: Half, signed: bool) {
    binary(t, ty, |b, x, y| {
        let x = widen(b, x, half, signed);
        let y = widen(b, y, half, signed);
        b.ins().imul(x, y)
    });
}

/// Adjacent lanes widened and added: the low half's pairs, then the high half's.
fn extadd_pairwise(t: &mut Translator, ty: Type, signed: bool) {
    unary(t, ty, |b, x| {
        let lo = widen(b, x, Half::Low, signed);
        let hi = widen(b, x, Half::High, signed);
        b.ins().iadd_pairwise(lo, hi)
    });
}

fn dot_i16x8(b: &mut B, x: Value, y: Value) -> Value {
    let xl = b.ins().swiden_low(x);
    let yl = b.ins().swiden_low(y);
    let lo = b.ins().imul(xl, yl);
    let xh = b.ins().swiden_high(x);
    let yh = b.ins().swiden_high(y);
    let hi = b.ins().imul(xh, yh);
    b.ins().iadd_pairwise(lo, hi)
}
