//! Numeric operators: constants, integer and float arithmetic, comparisons and conversions.
//! Each maps to one or two Cranelift instructions whose semantics (trapping division,
//! masked shift counts, IEEE min/max with NaN propagation, trapping and saturating
//! float-to-int conversions) are Wasm's own.

use cranelift_codegen::ir::{
    InstBuilder, MemFlagsData, Type, Value,
    condcodes::{FloatCC, IntCC},
    types,
};
use wasmparser::Operator;

use super::{Translator, bswap};

/// Translates `op` if it is a numeric operator; returns false otherwise.
pub(super) fn translate(t: &mut Translator, op: &Operator) -> bool {
    use Operator as O;
    use types::{F32, F64, I32, I64};
    match *op {
        O::I32Const { value } => {
            let v = t.b.ins().iconst(I32, value as i64);
            t.push(v);
        }
        O::I64Const { value } => {
            let v = t.b.ins().iconst(I64, value);
            t.push(v);
        }
        O::F32Const { value } => {
            let v = t.b.ins().f32const(f32::from_bits(value.bits()));
            t.push(v);
        }
        O::F64Const { value } => {
            let v = t.b.ins().f64const(f64::from_bits(value.bits()));
            t.push(v);
        }

        O::I32Eqz | O::I64Eqz => {
            let x = t.pop();
            let c = t.b.ins().icmp_imm_u(IntCC::Equal, x, 0);
            bool_result(t, c);
        }
        O::I32Eq | O::I64Eq => icmp(t, IntCC::Equal),
        O::I32Ne | O::I64Ne => icmp(t, IntCC::NotEqual),
        O::I32LtS | O::I64LtS => icmp(t, IntCC::SignedLessThan),
        O::I32LtU | O::I64LtU => icmp(t, IntCC::UnsignedLessThan),
        O::I32GtS | O::I64GtS => icmp(t, IntCC::SignedGreaterThan),
        O::I32GtU | O::I64GtU => icmp(t, IntCC::UnsignedGreaterThan),
        O::I32LeS | O::I64LeS => icmp(t, IntCC::SignedLessThanOrEqual),
        O::I32LeU | O::I64LeU => icmp(t, IntCC::UnsignedLessThanOrEqual),
        O::I32GeS | O::I64GeS => icmp(t, IntCC::SignedGreaterThanOrEqual),
        O::I32GeU | O::I64GeU => icmp(t, IntCC::UnsignedGreaterThanOrEqual),
        O::F32Eq | O::F64Eq => fcmp(t, FloatCC::Equal),
        O::F32Ne | O::F64Ne => fcmp(t, FloatCC::NotEqual),
        O::F32Lt | O::F64Lt => fcmp(t, FloatCC::LessThan),
        O::F32Gt | O::F64Gt => fcmp(t, FloatCC::GreaterThan),
        O::F32Le | O::F64Le => fcmp(t, FloatCC::LessThanOrEqual),
        O::F32Ge | O::F64Ge => fcmp(t, FloatCC::GreaterThanOrEqual),

        O::I32Clz | O::I64Clz => unary(t, |b, x| b.ins().clz(x)),
        O::I32Ctz | O::I64Ctz => unary(t, |b, x| b.ins().ctz(x)),
        O::I32Popcnt | O::I64Popcnt => unary(t, |b, x| b.ins().popcnt(x)),
        O::I32Add | O::I64Add => binary(t, |b, x, y| b.ins().iadd(x, y)),
        O::I32Sub | O::I64Sub => binary(t, |b, x, y| b.ins().isub(x, y)),
        O::I32Mul | O::I64Mul => binary(t, |b, x, y| b.ins().imul(x, y)),
        O::I32DivS | O::I64DivS => binary(t, |b, x, y| b.ins().sdiv(x, y)),
        O::I32DivU | O::I64DivU => binary(t, |b, x, y| b.ins().udiv(x, y)),
        O::I32RemS | O::I64RemS => binary(t, |b, x, y| b.ins().srem(x, y)),
        O::I32RemU | O::I64RemU => binary(t, |b, x, y| b.ins().urem(x, y)),
        O::I32And | O::I64And => bits(t, |b, x, y| b.ins().band(x, y)),
        O::I32Or | O::I64Or => bits(t, |b, x, y| b.ins().bor(x, y)),
        O::I32Xor | O::I64Xor => binary(t, |b, x, y| b.ins().bxor(x, y)),
        O::I32Shl | O::I64Shl => bits(t, |b, x, y| b.ins().ishl(x, y)),
        O::I32ShrS | O::I64ShrS => binary(t, |b, x, y| b.ins().sshr(x, y)),
        O::I32ShrU | O::I64ShrU => bits(t, |b, x, y| b.ins().ushr(x, y)),
        O::I32Rotl | O::I64Rotl => bits(t, |b, x, y| b.ins().rotl(x, y)),
        O::I32Rotr | O::I64Rotr => bits(t, |b, x, y| b.ins().rotr(x, y)),

        O::F32Abs | O::F64Abs => unary(t, |b, x| b.ins().fabs(x)),
        O::F32Neg | O::F64Neg => unary(t, |b, x| b.ins().fneg(x)),
        O::F32Ceil | O::F64Ceil => unary(t, |b, x| b.ins().ceil(x)),
        O::F32Floor | O::F64Floor => unary(t, |b, x| b.ins().floor(x)),
        O::F32Trunc | O::F64Trunc => unary(t, |b, x| b.ins().trunc(x)),
        O::F32Nearest | O::F64Nearest => unary(t, |b, x| b.ins().nearest(x)),
        O::F32Sqrt | O::F64Sqrt => unary(t, |b, x| b.ins().sqrt(x)),
        O::F32Add | O::F64Add => binary(t, |b, x, y| b.ins().fadd(x, y)),
        O::F32Sub | O::F64Sub => binary(t, |b, x, y| b.ins().fsub(x, y)),
        O::F32Mul | O::F64Mul => binary(t, |b, x, y| b.ins().fmul(x, y)),
        O::F32Div | O::F64Div => binary(t, |b, x, y| b.ins().fdiv(x, y)),
        O::F32Min | O::F64Min => binary(t, |b, x, y| b.ins().fmin(x, y)),
        O::F32Max | O::F64Max => binary(t, |b, x, y| b.ins().fmax(x, y)),
        O::F32Copysign | O::F64Copysign => binary(t, |b, x, y| b.ins().fcopysign(x, y)),

        O::I32WrapI64 => convert(t, |b, x| b.ins().ireduce(I32, x)),
        O::I64ExtendI32S => convert(t, |b, x| b.ins().sextend(I64, x)),
        O::I64ExtendI32U => convert(t, |b, x| b.ins().uextend(I64, x)),
        O::I32Extend8S => convert(t, |b, x| sext_from(b, I32, types::I8, x)),
        O::I32Extend16S => convert(t, |b, x| extend16_s(b, I32, x)),
        O::I64Extend8S => convert(t, |b, x| sext_from(b, I64, types::I8, x)),
        O::I64Extend16S => convert(t, |b, x| extend16_s(b, I64, x)),
        O::I64Extend32S => convert(t, |b, x| sext_from(b, I64, I32, x)),

        O::I32TruncF32S | O::I32TruncF64S => convert(t, |b, x| b.ins().fcvt_to_sint(I32, x)),
        O::I32TruncF32U | O::I32TruncF64U => convert(t, |b, x| b.ins().fcvt_to_uint(I32, x)),
        O::I64TruncF32S | O::I64TruncF64S => convert(t, |b, x| b.ins().fcvt_to_sint(I64, x)),
        O::I64TruncF32U | O::I64TruncF64U => convert(t, |b, x| b.ins().fcvt_to_uint(I64, x)),
        O::I32TruncSatF32S | O::I32TruncSatF64S => {
            convert(t, |b, x| b.ins().fcvt_to_sint_sat(I32, x))
        }
        O::I32TruncSatF32U | O::I32TruncSatF64U => {
            convert(t, |b, x| b.ins().fcvt_to_uint_sat(I32, x))
        }
        O::I64TruncSatF32S | O::I64TruncSatF64S => {
            convert(t, |b, x| b.ins().fcvt_to_sint_sat(I64, x))
        }
        O::I64TruncSatF32U | O::I64TruncSatF64U => {
            convert(t, |b, x| b.ins().fcvt_to_uint_sat(I64, x))
        }
        O::F32ConvertI32S | O::F32ConvertI64S => convert(t, |b, x| b.ins().fcvt_from_sint(F32, x)),
        O::F32ConvertI32U | O::F32ConvertI64U => convert(t, |b, x| b.ins().fcvt_from_uint(F32, x)),
        O::F64ConvertI32S | O::F64ConvertI64S => convert(t, |b, x| b.ins().fcvt_from_sint(F64, x)),
        O::F64ConvertI32U | O::F64ConvertI64U => convert(t, |b, x| b.ins().fcvt_from_uint(F64, x)),
        O::F32DemoteF64 => convert(t, |b, x| b.ins().fdemote(F32, x)),
        O::F64PromoteF32 => convert(t, |b, x| b.ins().fpromote(F64, x)),
        O::I32ReinterpretF32 => convert(t, |b, x| b.ins().bitcast(I32, MemFlagsData::new(), x)),
        O::I64ReinterpretF64 => convert(t, |b, x| b.ins().bitcast(I64, MemFlagsData::new(), x)),
        O::F32ReinterpretI32 => convert(t, |b, x| b.ins().bitcast(F32, MemFlagsData::new(), x)),
        O::F64ReinterpretI64 => convert(t, |b, x| b.ins().bitcast(F64, MemFlagsData::new(), x)),

        // Wide arithmetic: a 128-bit integer travels as two i64s, low half first.
        O::I64Add128 => wide_add_sub(t, |b, x, y| b.ins().iadd(x, y)),
        O::I64Sub128 => wide_add_sub(t, |b, x, y| b.ins().isub(x, y)),
        O::I64MulWideS => mul_wide(t, |b, x, y| b.ins().smulhi(x, y)),
        O::I64MulWideU => mul_wide(t, |b, x, y| b.ins().umulhi(x, y)),
        _ => return false,
    }
    true
}

/// i64.add128 / i64.sub128: `(lo1 hi1 lo2 hi2) -> (lo hi)`. Both targets lower i128
/// arithmetic to a carry chain (add/adc, adds/adc), so concatenating is free.
fn wide_add_sub(t: &mut Translator, f: impl FnOnce(&mut B, Value, Value) -> Value) {
    let (hi2, lo2) = (t.pop(), t.pop());
    let (hi1, lo1) = (t.pop(), t.pop());
    let x = t.b.ins().iconcat(lo1, hi1);
    let y = t.b.ins().iconcat(lo2, hi2);
    let r = f(t.b, x, y);
    let (lo, hi) = t.b.ins().isplit(r);
    t.push(lo);
    t.push(hi);
}

/// i64.mul_wide_s / i64.mul_wide_u: `(x y) -> (lo hi)` of the full 128-bit product; the
/// low half is the same for both signednesses, `high` gives the signed or unsigned rest.
fn mul_wide(t: &mut Translator, high: impl FnOnce(&mut B, Value, Value) -> Value) {
    let (x, y) = t.pop2();
    let lo = t.b.ins().imul(x, y);
    let hi = high(t.b, x, y);
    t.push(lo);
    t.push(hi);
}

type B<'a, 'f> = cranelift_frontend::FunctionBuilder<'f>;

fn bool_result(t: &mut Translator, c: Value) {
    let v = t.b.ins().uextend(types::I32, c);
    t.push(v);
}

fn icmp(t: &mut Translator, cc: IntCC) {
    let (x, y) = t.pop2();
    let c = t.b.ins().icmp(cc, x, y);
    bool_result(t, c);
}

fn fcmp(t: &mut Translator, cc: FloatCC) {
    let (x, y) = t.pop2();
    let c = t.b.ins().fcmp(cc, x, y);
    bool_result(t, c);
}

fn unary(t: &mut Translator, f: impl FnOnce(&mut B, Value) -> Value) {
    let x = t.pop();
    let v = f(t.b, x);
    t.push(v);
}

fn convert(t: &mut Translator, f: impl FnOnce(&mut B, Value) -> Value) {
    unary(t, f)
}

fn binary(t: &mut Translator, f: impl FnOnce(&mut B, Value, Value) -> Value) {
    let (x, y) = t.pop2();
    let v = f(t.b, x, y);
    t.push(v);
}

/// A bitwise operator, whose result may complete a byte swap written out in operators.
fn bits(t: &mut Translator, f: impl FnOnce(&mut B, Value, Value) -> Value) {
    let (x, y) = t.pop2();
    let v = f(t.b, x, y);
    let v = bswap::simplify(t.b, v);
    t.push(v);
}

fn extend16_s(b: &mut B, to: Type, x: Value) -> Value {
    bswap::extend16_s(b, to, x).unwrap_or_else(|| sext_from(b, to, types::I16, x))
}

fn sext_from(b: &mut B, to: Type, from: Type, x: Value) -> Value {
    let narrow = b.ins().ireduce(from, x);
    b.ins().sextend(to, narrow)
}
