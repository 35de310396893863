//! The GC proposal's instructions: structs, arrays, i31 references, `ref.eq`, the
//! conversions between `any` and `extern`, and casts (`ref.test`, `ref.cast`,
//! `br_on_cast`, `br_on_cast_fail`).
//!
//! Objects are laid out as `aot_abi::gc` says; allocation is `FuncEnv::gc_alloc` (inline
//! bump, runtime on overflow). Every reference these instructions produce is noted for the
//! stack maps (`Translator::note_gc_ref`) so the collector finds and updates it wherever it
//! is live across a call. Null checks are explicit `trapz`, and array bounds compare the
//! index with the length read from the object (unsigned), as wasmtime's words require.

use aot_abi::VMFUNCREF_TYPE_ID;
use aot_abi::gc::{
    GC_ARRAY_DATA, GC_ARRAY_LEN, GC_KIND_ARRAY, GC_KIND_STRUCT, GC_LARGE_OBJECT_BYTES,
    GCINFO_DEPTH, GCINFO_DISPLAY, GCINFO_KIND, array_size, storage_size,
};
use aot_abi::{CompositeType, FieldType, HeapType, RefTop, RefType, TrapKind};
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, condcodes::IntCC, types};
use wasmparser::Operator;

use super::{Ext, Translator, block_args};
use crate::CompileError;
use crate::env::{Builtin, PTR, ir_type, trap_code};

/// Field and element accesses: the object is known non-null and in bounds, and v128
/// fields may be only 8-aligned, so no alignment is claimed.
fn field_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl Translator<'_, '_, '_> {
    /// Declares `v`, a reference the collector traces, for the stack maps.
    fn note_gc_ref(&mut self, v: Value) {
        self.b.declare_value_needs_stack_map(v);
    }

    fn struct_fields(&self, t: u32) -> Vec<FieldType> {
        match &self.env.module.info.meta.type_defs[t as usize].composite {
            CompositeType::Struct(f) => f.clone(),
            _ => unreachable!("validated: type {t} is a struct type"),
        }
    }

    fn array_elem(&self, t: u32) -> FieldType {
        *self
            .env
            .module
            .info
            .array_elem(t)
            .expect("validated: an array type")
    }

    fn is_func_type(&self, t: u32) -> bool {
        self.env.module.info.is_func_type(t)
    }

    /// A struct type's size and field offsets.
    fn field_offsets(&self, t: u32) -> (u32, Vec<u32>) {
        let l = self
            .env
            .module
            .info
            .struct_layout(t)
            .expect("validated: a struct type");
        (l.size, l.offsets)
    }

    /// Whether a value of a field of type `f` is a reference the collector traces.
    fn field_is_traced(&self, f: &FieldType) -> bool {
        f.packed == 0
            && f.ty
                .is_some_and(|t| aot_abi::gc::is_traced(&t, |i| self.is_func_type(i)))
    }

    fn load_field(&mut self, f: &FieldType, ext: Ext, addr: Value, off: i32) -> Value {
        let flags = field_flags();
        let ins = self.b.ins();
        let v = match (f.packed, ext) {
            (8, Ext::Signed) => ins.sload8(types::I32, flags, addr, off),
            (8, _) => ins.uload8(types::I32, flags, addr, off),
            (16, Ext::Signed) => ins.sload16(types::I32, flags, addr, off),
            (16, _) => ins.uload16(types::I32, flags, addr, off),
            _ => {
                let ty = ir_type(f.ty.expect("an unpacked field has a type"));
                ins.load(ty, flags, addr, off)
            }
        };
        if self.field_is_traced(f) {
            self.note_gc_ref(v);
        }
        v
    }

    fn store_field(&mut self, f: &FieldType, v: Value, addr: Value, off: i32) {
        let flags = field_flags();
        let ins = self.b.ins();
        match f.packed {
            8 => ins.istore8(flags, v, addr, off),
            16 => ins.istore16(flags, v, addr, off),
            _ => ins.store(flags, v, addr, off),
        };
    }

    fn null_check(&mut self, r: Value) {
        self.b.ins().trapz(r, trap_code(TrapKind::NullReference));
    }

    /// Allocates an object of type `t` and `size` bytes (an i64 value), zeroed but for
    /// its header; `maybe_large` when the size may reach the large-object threshold.
    fn alloc(&mut self, t: u32, size: Value, maybe_large: bool) -> Value {
        let info = self.env.gc_type_info(self.b, t);
        let obj = self.env.gc_alloc(self.b, info, size, maybe_large);
        self.note_gc_ref(obj);
        obj
    }

    /// An array of type `t` with `len` (i32) elements, zeroed, its length set.
    fn alloc_array(&mut self, t: u32, len: Value) -> Value {
        let elem = storage_size(&self.array_elem(t)) as i64;
        let len64 = self.b.ins().uextend(types::I64, len);
        let bytes = self.b.ins().imul_imm_u(len64, elem);
        let raw = self.b.ins().iadd_imm_s(bytes, GC_ARRAY_DATA as i64 + 7);
        let size = self.b.ins().band_imm_s(raw, !7);
        let obj = self.alloc(t, size, true);
        self.b
            .ins()
            .store(field_flags(), len, obj, GC_ARRAY_LEN as i32);
        obj
    }

    /// Address of element `index` (i32) of array `arr` of type `t`.
    fn elem_addr(&mut self, t: u32, arr: Value, index: Value) -> Value {
        let elem = storage_size(&self.array_elem(t)) as i64;
        let i = self.b.ins().uextend(types::I64, index);
        let off = self.b.ins().imul_imm_u(i, elem);
        let a = self.b.ins().iadd(arr, off);
        self.b.ins().iadd_imm_s(a, GC_ARRAY_DATA as i64)
    }

    /// Traps `ArrayOutOfBounds` unless `start + n <= len(arr)`, in 64 bits so nothing
    /// wraps; `arr` is non-null.
    fn array_range_check(&mut self, arr: Value, start: Value, n: Value) {
        let len = self.array_len(arr);
        let len = self.b.ins().uextend(types::I64, len);
        let s = self.b.ins().uextend(types::I64, start);
        let n = self.b.ins().uextend(types::I64, n);
        let end = self.b.ins().iadd(s, n);
        let over = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
        self.b
            .ins()
            .trapnz(over, trap_code(TrapKind::ArrayOutOfBounds));
    }

    fn array_len(&mut self, arr: Value) -> Value {
        self.b
            .ins()
            .load(types::I32, field_flags(), arr, GC_ARRAY_LEN as i32)
    }

    /// Stores `v` into `n` (i32) consecutive elements from `addr`: through the runtime's
    /// `gc_fill` (a vectorised loop) for scalars and references, inline for v128. An inline
    /// loop here would reload from its stack slot, at every store, any reference the stack
    /// maps keep live across the allocation before it.
    fn fill_elems(&mut self, f: &FieldType, addr: Value, n: Value, v: Value) {
        let size = storage_size(f) as i64;
        if size <= 8 {
            let ty = self.b.func.dfg.value_type(v);
            let bits = match ty {
                types::F32 => self.b.ins().bitcast(types::I32, MemFlagsData::new(), v),
                types::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
                _ => v,
            };
            let word = if self.b.func.dfg.value_type(bits) == types::I64 {
                bits
            } else {
                self.b.ins().uextend(types::I64, bits)
            };
            let count = self.b.ins().uextend(types::I64, n);
            let size_v = self.b.ins().iconst(types::I32, size);
            self.env
                .call_builtin(self.b, Builtin::gc_fill, &[addr, word, count, size_v]);
            return;
        }
        let n = self.b.ins().uextend(types::I64, n);
        let bytes = self.b.ins().imul_imm_u(n, size);
        let end = self.b.ins().iadd(addr, bytes);
        let head = self.b.create_block();
        self.b.append_block_param(head, PTR);
        let body = self.b.create_block();
        let done = self.b.create_block();
        self.b.ins().jump(head, &block_args(&[addr]));
        self.b.switch_to_block(head);
        let at = self.b.block_params(head)[0];
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, at, end);
        self.b.ins().brif(more, body, &[], done, &[]);
        self.b.switch_to_block(body);
        self.store_field(f, v, at, 0);
        let next = self.b.ins().iadd_imm_s(at, size);
        self.b.ins().jump(head, &block_args(&[next]));
        self.b.switch_to_block(done);
    }

    /// Translates a GC instruction; `Ok(false)` if `op` is not one.
    pub(super) fn gc_operator(&mut self, op: &Operator) -> Result<bool, CompileError> {
        use Operator as O;
        match *op {
            O::RefI31 => {
                let v = self.pop();
                let shifted = self.b.ins().ishl_imm_u(v, 1);
                let tagged = self.b.ins().bor_imm_u(shifted, 1);
                // An i31 is no object: the collector need not see it.
                let w = self.b.ins().uextend(types::I64, tagged);
                self.push(w);
            }
            O::I31GetS | O::I31GetU => {
                let w = self.pop();
                self.null_check(w);
                let low = self.b.ins().ireduce(types::I32, w);
                let v = if matches!(op, O::I31GetS) {
                    self.b.ins().sshr_imm_u(low, 1)
                } else {
                    self.b.ins().ushr_imm_u(low, 1)
                };
                self.push(v);
            }
            O::RefEq => {
                let (x, y) = self.pop2();
                let eq = self.b.ins().icmp(IntCC::Equal, x, y);
                let v = self.b.ins().uextend(types::I32, eq);
                self.push(v);
            }
            // Host references and objects share one word encoding across the hierarchies.
            O::AnyConvertExtern | O::ExternConvertAny => {}
            O::StructNew { struct_type_index } => {
                let t = struct_type_index;
                let fields = self.struct_fields(t);
                let vals = self.popn(fields.len());
                let (size, offsets) = self.field_offsets(t);
                let size_v = self.b.ins().iconst(types::I64, size as i64);
                let obj = self.alloc(t, size_v, size as u64 >= GC_LARGE_OBJECT_BYTES);
                for ((f, v), off) in fields.iter().zip(vals).zip(offsets) {
                    self.store_field(f, v, obj, off as i32);
                }
                self.push(obj);
            }
            O::StructNewDefault { struct_type_index } => {
                let t = struct_type_index;
                let (size, _) = self.field_offsets(t);
                let size_v = self.b.ins().iconst(types::I64, size as i64);
                let obj = self.alloc(t, size_v, size as u64 >= GC_LARGE_OBJECT_BYTES);
                self.push(obj);
            }
            O::StructGet {
                struct_type_index,
                field_index,
            }
            | O::StructGetS {
                struct_type_index,
                field_index,
            }
            | O::StructGetU {
                struct_type_index,
                field_index,
            } => {
                let ext = match op {
                    O::StructGetS { .. } => Ext::Signed,
                    O::StructGetU { .. } => Ext::Unsigned,
                    _ => Ext::None,
                };
                let f = self.struct_fields(struct_type_index)[field_index as usize];
                let off = self.field_offsets(struct_type_index).1[field_index as usize];
                let obj = self.pop();
                self.null_check(obj);
                let v = self.load_field(&f, ext, obj, off as i32);
                self.push(v);
            }
            O::StructSet {
                struct_type_index,
                field_index,
            } => {
                let f = self.struct_fields(struct_type_index)[field_index as usize];
                let off = self.field_offsets(struct_type_index).1[field_index as usize];
                let (obj, v) = self.pop2();
                self.null_check(obj);
                self.store_field(&f, v, obj, off as i32);
            }
            O::ArrayNew { array_type_index } => {
                let t = array_type_index;
                let (init, len) = self.pop2();
                let arr = self.alloc_array(t, len);
                let f = self.array_elem(t);
                let data = self.b.ins().iadd_imm_s(arr, GC_ARRAY_DATA as i64);
                self.fill_elems(&f, data, len, init);
                self.push(arr);
            }
            O::ArrayNewDefault { array_type_index } => {
                let len = self.pop();
                let arr = self.alloc_array(array_type_index, len);
                self.push(arr);
            }
            O::ArrayNewFixed {
                array_type_index,
                array_size: n,
            } => {
                let t = array_type_index;
                let f = self.array_elem(t);
                let vals = self.popn(n as usize);
                let size = array_size(storage_size(&f), n);
                let size_v = self.b.ins().iconst(types::I64, size as i64);
                let obj = self.alloc(t, size_v, size >= GC_LARGE_OBJECT_BYTES);
                let len = self.b.ins().iconst(types::I32, n as i64);
                self.b
                    .ins()
                    .store(field_flags(), len, obj, GC_ARRAY_LEN as i32);
                let elem = storage_size(&f);
                for (i, v) in vals.into_iter().enumerate() {
                    let off = GC_ARRAY_DATA + i as u32 * elem;
                    self.store_field(&f, v, obj, off as i32);
                }
                self.push(obj);
            }
            O::ArrayNewData {
                array_type_index,
                array_data_index,
            } => {
                let t = array_type_index;
                let (offset, len) = self.pop2();
                let elem = storage_size(&self.array_elem(t)) as i64;
                let bytes = self.elem_bytes(len, elem);
                let src = self.b.ins().uextend(types::I64, offset);
                let data = self.b.ins().iconst(types::I32, array_data_index as i64);
                // The segment's range is checked before anything is allocated.
                let null = self.b.ins().iconst(PTR, 0);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::array_init_data,
                    &[null, data, src, bytes],
                    TrapKind::MemoryOutOfBounds,
                );
                let arr = self.alloc_array(t, len);
                let dst = self.b.ins().iadd_imm_s(arr, GC_ARRAY_DATA as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::array_init_data,
                    &[dst, data, src, bytes],
                    TrapKind::MemoryOutOfBounds,
                );
                self.push(arr);
            }
            O::ArrayNewElem {
                array_type_index,
                array_elem_index,
            } => {
                let t = array_type_index;
                let (offset, len) = self.pop2();
                let src = self.b.ins().uextend(types::I64, offset);
                let n = self.b.ins().uextend(types::I64, len);
                let seg = self.b.ins().iconst(types::I32, array_elem_index as i64);
                let null = self.b.ins().iconst(PTR, 0);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::array_init_elem,
                    &[null, seg, src, n],
                    TrapKind::TableOutOfBounds,
                );
                let arr = self.alloc_array(t, len);
                let dst = self.b.ins().iadd_imm_s(arr, GC_ARRAY_DATA as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::array_init_elem,
                    &[dst, seg, src, n],
                    TrapKind::TableOutOfBounds,
                );
                self.push(arr);
            }
            O::ArrayGet { array_type_index }
            | O::ArrayGetS { array_type_index }
            | O::ArrayGetU { array_type_index } => {
                let ext = match op {
                    O::ArrayGetS { .. } => Ext::Signed,
                    O::ArrayGetU { .. } => Ext::Unsigned,
                    _ => Ext::None,
                };
                let t = array_type_index;
                let (arr, index) = self.pop2();
                self.null_check(arr);
                self.index_check(arr, index);
                let f = self.array_elem(t);
                let addr = self.elem_addr(t, arr, index);
                let v = self.load_field(&f, ext, addr, 0);
                self.push(v);
            }
            O::ArraySet { array_type_index } => {
                let t = array_type_index;
                let (arr, index, v) = self.pop3();
                self.null_check(arr);
                self.index_check(arr, index);
                let f = self.array_elem(t);
                let addr = self.elem_addr(t, arr, index);
                self.store_field(&f, v, addr, 0);
            }
            O::ArrayLen => {
                let arr = self.pop();
                self.null_check(arr);
                let len = self.array_len(arr);
                self.push(len);
            }
            O::ArrayFill { array_type_index } => {
                let t = array_type_index;
                let n = self.pop();
                let (arr, dst, v) = self.pop3();
                self.null_check(arr);
                self.array_range_check(arr, dst, n);
                let f = self.array_elem(t);
                let addr = self.elem_addr(t, arr, dst);
                self.fill_elems(&f, addr, n, v);
            }
            O::ArrayCopy {
                array_type_index_dst,
                array_type_index_src,
            } => {
                let n = self.pop();
                let (src_arr, src) = self.pop2();
                let (dst_arr, dst) = self.pop2();
                self.null_check(dst_arr);
                self.null_check(src_arr);
                self.array_range_check(dst_arr, dst, n);
                self.array_range_check(src_arr, src, n);
                let elem = storage_size(&self.array_elem(array_type_index_dst)) as i64;
                let d = self.elem_addr(array_type_index_dst, dst_arr, dst);
                let s = self.elem_addr(array_type_index_src, src_arr, src);
                let bytes = self.elem_bytes(n, elem);
                self.env
                    .call_builtin(self.b, Builtin::gc_memmove, &[d, s, bytes]);
            }
            O::ArrayInitData {
                array_type_index,
                array_data_index,
            } => {
                let t = array_type_index;
                let n = self.pop();
                let (arr, dst, src) = self.pop3();
                self.null_check(arr);
                self.array_range_check(arr, dst, n);
                let elem = storage_size(&self.array_elem(t)) as i64;
                let addr = self.elem_addr(t, arr, dst);
                let src = self.b.ins().uextend(types::I64, src);
                let bytes = self.elem_bytes(n, elem);
                let data = self.b.ins().iconst(types::I32, array_data_index as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::array_init_data,
                    &[addr, data, src, bytes],
                    TrapKind::MemoryOutOfBounds,
                );
            }
            O::ArrayInitElem {
                array_type_index,
                array_elem_index,
            } => {
                let t = array_type_index;
                let n = self.pop();
                let (arr, dst, src) = self.pop3();
                self.null_check(arr);
                self.array_range_check(arr, dst, n);
                let addr = self.elem_addr(t, arr, dst);
                let src = self.b.ins().uextend(types::I64, src);
                let n = self.b.ins().uextend(types::I64, n);
                let seg = self.b.ins().iconst(types::I32, array_elem_index as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::array_init_elem,
                    &[addr, seg, src, n],
                    TrapKind::TableOutOfBounds,
                );
            }
            O::RefTestNonNull { hty } | O::RefTestNullable { hty } => {
                let nullable = matches!(op, O::RefTestNullable { .. });
                let heap = self.heap_type(hty)?;
                let v = self.pop();
                let ok = self.ref_test(v, RefType { nullable, heap });
                let ok = self.b.ins().uextend(types::I32, ok);
                self.push(ok);
            }
            O::RefCastNonNull { hty } | O::RefCastNullable { hty } => {
                let nullable = matches!(op, O::RefCastNullable { .. });
                let heap = self.heap_type(hty)?;
                let v = self.pop();
                let ok = self.ref_test(v, RefType { nullable, heap });
                self.b.ins().trapz(ok, trap_code(TrapKind::CastFailure));
                self.push(v);
            }
            O::BrOnCast {
                relative_depth,
                to_ref_type,
                ..
            }
            | O::BrOnCastFail {
                relative_depth,
                to_ref_type,
                ..
            } => {
                let to = crate::module::reftype_at(self.file, None, to_ref_type)?
                    .as_ref()
                    .expect("a reference type");
                let v = *self.stack.last().expect("validated: a reference operand");
                let ok = self.ref_test(v, to);
                let (target, n) = self.br_target(relative_depth);
                let args = self.peekn(n).to_vec();
                let next = self.b.create_block();
                if matches!(op, O::BrOnCast { .. }) {
                    self.b.ins().brif(ok, target, &block_args(&args), next, &[]);
                } else {
                    self.b.ins().brif(ok, next, &[], target, &block_args(&args));
                }
                self.switch_to(next);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `n` elements of `elem` bytes, as an i64 byte count.
    fn elem_bytes(&mut self, n: Value, elem: i64) -> Value {
        let n = self.b.ins().uextend(types::I64, n);
        self.b.ins().imul_imm_u(n, elem)
    }

    /// Traps `ArrayOutOfBounds` unless `index < len(arr)`.
    fn index_check(&mut self, arr: Value, index: Value) {
        let len = self.array_len(arr);
        let over = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.b
            .ins()
            .trapnz(over, trap_code(TrapKind::ArrayOutOfBounds));
    }

    fn heap_type(&self, h: wasmparser::HeapType) -> Result<HeapType, CompileError> {
        let r = wasmparser::RefType::new(true, h).ok_or_else(|| {
            CompileError::new(self.file, None, format!("heap type {h:?} is not supported"))
        })?;
        Ok(crate::module::reftype_at(self.file, None, r)?
            .as_ref()
            .expect("a reference type")
            .heap)
    }

    /// Whether reference `v` is a value of `rt`, as an i8 (0 or 1). Validation has
    /// checked that `v`'s static type is in `rt`'s hierarchy.
    fn ref_test(&mut self, v: Value, rt: RefType) -> Value {
        let top = rt.heap.top(|i| self.is_func_type(i));
        let is_null = self.b.ins().icmp_imm_u(IntCC::Equal, v, 0);
        let null_ok = if rt.nullable {
            is_null
        } else {
            self.b.ins().iconst(types::I8, 0)
        };
        let non_null = self.b.ins().icmp_imm_u(IntCC::NotEqual, v, 0);
        match rt.heap {
            // Every non-null value of the hierarchy.
            HeapType::Any | HeapType::Extern | HeapType::Func | HeapType::Exn => {
                if rt.nullable {
                    self.b.ins().iconst(types::I8, 1)
                } else {
                    non_null
                }
            }
            // Bottom types hold only null.
            HeapType::None | HeapType::NoExtern | HeapType::NoFunc | HeapType::NoExn => null_ok,
            HeapType::I31 => {
                let bit = self.b.ins().band_imm_s(v, 1);
                let is_i31 = self.b.ins().icmp_imm_u(IntCC::NotEqual, bit, 0);
                self.b.ins().bor(is_i31, null_ok)
            }
            HeapType::Eq => {
                // i31 or object: anything but a host reference.
                let tag = self.b.ins().band_imm_s(v, 3);
                let not_host = self.b.ins().icmp_imm_u(IntCC::NotEqual, tag, 2);
                let ok = self.b.ins().band(not_host, non_null);
                self.b.ins().bor(ok, null_ok)
            }
            HeapType::Struct | HeapType::Array => {
                let kind = if rt.heap == HeapType::Struct {
                    GC_KIND_STRUCT
                } else {
                    GC_KIND_ARRAY
                };
                self.object_test(v, null_ok, |t, info| {
                    let k = t.b.ins().load(
                        types::I32,
                        MemFlagsData::trusted(),
                        info,
                        GCINFO_KIND as i32,
                    );
                    t.b.ins().icmp_imm_u(IntCC::Equal, k, kind as i64)
                })
            }
            HeapType::Concrete(t) if top == RefTop::Func => self.func_test(v, t, null_ok),
            HeapType::Concrete(t) => {
                let is_final = self.env.module.info.meta.type_def(t).is_final;
                let depth = self.env.module.info.subtype_depth(t);
                self.object_test(v, null_ok, |tr, info| {
                    let want = tr.env.gc_type_info(tr.b, t);
                    if is_final {
                        return tr.b.ins().icmp(IntCC::Equal, info, want);
                    }
                    // t' <: t iff t'.depth >= depth and t'.display[depth] == t.
                    let deep = tr.b.create_block();
                    let done = tr.b.create_block();
                    tr.b.append_block_param(done, types::I8);
                    let d = tr.b.ins().load(
                        types::I32,
                        MemFlagsData::trusted(),
                        info,
                        GCINFO_DEPTH as i32,
                    );
                    let enough =
                        tr.b.ins()
                            .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, d, depth as i64);
                    let no = tr.b.ins().iconst(types::I8, 0);
                    tr.b.ins().brif(enough, deep, &[], done, &block_args(&[no]));
                    tr.b.switch_to_block(deep);
                    let display =
                        tr.b.ins()
                            .load(PTR, MemFlagsData::trusted(), info, GCINFO_DISPLAY as i32);
                    let at =
                        tr.b.ins()
                            .load(PTR, MemFlagsData::trusted(), display, (depth * 8) as i32);
                    let eq = tr.b.ins().icmp(IntCC::Equal, at, want);
                    tr.b.ins().jump(done, &block_args(&[eq]));
                    tr.b.switch_to_block(done);
                    tr.b.block_params(done)[0]
                })
            }
        }
    }

    /// `null_ok` if `v` is not an object, else what `test(info)` says of its type info.
    fn object_test(
        &mut self,
        v: Value,
        null_ok: Value,
        test: impl FnOnce(&mut Self, Value) -> Value,
    ) -> Value {
        let tag = self.b.ins().band_imm_s(v, 3);
        let untagged = self.b.ins().icmp_imm_u(IntCC::Equal, tag, 0);
        let non_null = self.b.ins().icmp_imm_u(IntCC::NotEqual, v, 0);
        let is_obj = self.b.ins().band(untagged, non_null);
        let obj = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I8);
        self.b
            .ins()
            .brif(is_obj, obj, &[], done, &block_args(&[null_ok]));
        self.b.switch_to_block(obj);
        let info = self.b.ins().load(PTR, MemFlagsData::trusted(), v, 0);
        let ok = test(self, info);
        self.b.ins().jump(done, &block_args(&[ok]));
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }

    /// Whether funcref `v` is a non-null function of a subtype of function type `t` (or
    /// `null_ok` for null).
    fn func_test(&mut self, v: Value, t: u32, null_ok: Value) -> Value {
        let func = self.b.create_block();
        let done = self.b.create_block();
        self.b.append_block_param(done, types::I8);
        self.b
            .ins()
            .brif(v, func, &[], done, &block_args(&[null_ok]));
        self.b.switch_to_block(func);
        let actual = self.b.ins().load(
            types::I32,
            MemFlagsData::trusted(),
            v,
            VMFUNCREF_TYPE_ID as i32,
        );
        let expected = self.env.type_id(self.b, t);
        let same = self.b.ins().icmp(IntCC::Equal, actual, expected);
        if self.env.module.info.meta.type_def(t).is_final {
            self.b.ins().jump(done, &block_args(&[same]));
        } else {
            let slow = self.b.create_block();
            self.b
                .ins()
                .brif(same, done, &block_args(&[same]), slow, &[]);
            self.b.set_cold_block(slow);
            self.b.switch_to_block(slow);
            let ok = self
                .env
                .call_builtin(self.b, Builtin::func_subtype, &[actual, expected])
                .expect("returns");
            let ok = self.b.ins().icmp_imm_u(IntCC::NotEqual, ok, 0);
            self.b.ins().jump(done, &block_args(&[ok]));
        }
        self.b.switch_to_block(done);
        self.b.block_params(done)[0]
    }
}
