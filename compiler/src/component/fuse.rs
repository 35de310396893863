//! Fused adapters as code: for a function lifted in one component instance and lowered
//! into another, the Cranelift IR that moves its arguments from the caller into the callee
//! and its result back, written out for its one type at compile time.
//!
//! Scalars, records, variants, flags and lists are moved by loads and stores the code
//! makes itself, with the canonical ABI's checks inline (pointer alignment and bounds,
//! discriminants, `char` values); a list of plain data is one copy. What needs the
//! runtime's state goes through the entries of `aot_abi::fused` (the callee's `realloc`,
//! strings with their transcoding, resource handles, the call with its may-enter and
//! may-leave rules). Nothing reads a type description at run time.

use std::collections::HashMap;

use aot_abi::ctypes::{CFuncType, CType, discriminant_size};
use aot_abi::fused::{self, CALLEE, CALLER, Fault};
use aot_abi::{VMMEMORY_BASE, VMMEMORY_LENGTH, ValRaw};
use cranelift_codegen::ir::{
    self, AbiParam, Block, InstBuilder, MemFlagsData, Signature, Type, Value, condcodes::IntCC,
    types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Switch};

use crate::env;

macro_rules! declare_entry_enum {
    ($( $(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// The runtime entries fused adapters call (from `aot_abi::foreach_adapter_entry!`).
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Entry { $( $name, )* }

        impl Entry {
            pub const ALL: &'static [Entry] = &[ $( Entry::$name, )* ];

            pub fn symbol(self) -> String {
                match self { $( Entry::$name => fused::entry_symbol(stringify!($name)), )* }
            }

            pub fn signature(self, call_conv: CallConv) -> Signature {
                let mut sig = Signature::new(call_conv);
                match self {
                    $( Entry::$name => {
                        $( sig.params.push(AbiParam::new(entry_type(stringify!($ty)))); let _ = stringify!($arg); )*
                        $( sig.returns.push(AbiParam::new(entry_type(stringify!($ret)))); )?
                    } )*
                }
                sig
            }
        }
    };
}

fn entry_type(name: &str) -> Type {
    match name {
        "i32" => types::I32,
        _ => types::I64,
    }
}

aot_abi::foreach_adapter_entry!(declare_entry_enum);

/// Guest memory accesses: in bounds by the checks before them, possibly unaligned.
fn guest() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Where a value being moved comes from: flat core values (consumed in order) or memory.
enum Src {
    Flat {
        side: i32,
        vals: Vec<Value>,
        pos: usize,
    },
    Mem {
        side: i32,
        ptr: Value,
        off: u32,
    },
}

/// Where a value being moved goes: flat core values (appended) or memory.
enum Dst {
    Flat { side: i32, vals: Vec<Value> },
    Mem { side: i32, ptr: Value, off: u32 },
}

impl Src {
    fn side(&self) -> i32 {
        match self {
            Src::Flat { side, .. } | Src::Mem { side, .. } => *side,
        }
    }

    fn at(&self, delta: u32) -> Option<Src> {
        match self {
            Src::Mem { side, ptr, off } => Some(Src::Mem {
                side: *side,
                ptr: *ptr,
                off: off + delta,
            }),
            Src::Flat { .. } => None,
        }
    }
}

impl Dst {
    fn side(&self) -> i32 {
        match self {
            Dst::Flat { side, .. } | Dst::Mem { side, .. } => *side,
        }
    }

    fn at(&self, delta: u32) -> Option<Dst> {
        match self {
            Dst::Mem { side, ptr, off } => Some(Dst::Mem {
                side: *side,
                ptr: *ptr,
                off: off + delta,
            }),
            Dst::Flat { .. } => None,
        }
    }
}

/// The state of one adapter's body being built.
struct Fuse<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    call_conv: CallConv,
    ctx: Value,
    frame: Value,
    /// Jumped to once a trap is pending: the adapter returns at once.
    fail: Block,
    /// One block per fault raised, in order of first use (so the code is deterministic).
    faults: Vec<(Fault, Block)>,
    entries: &'a dyn Fn(Entry) -> u32,
    refs: HashMap<Entry, ir::FuncRef>,
}

/// Builds the body of a fused adapter of type `ty` in `b` (positioned in the entry block
/// of a function whose parameters `params` are the glue context and the caller's lowered
/// arguments); returns the caller's results. `entries` names each runtime entry (the
/// user-function index it is declared under).
pub fn build(
    b: &mut FunctionBuilder,
    call_conv: CallConv,
    ty: &CFuncType,
    entries: &dyn Fn(Entry) -> u32,
    params: &[Value],
) -> Vec<Value> {
    let (_, lowered_results) = ty.lowered_signature();
    let done = b.create_block();
    for t in &lowered_results {
        b.append_block_param(done, env::ir_type(*t));
    }
    let fail = b.create_block();
    let frame_slot = b.create_sized_stack_slot(ir::StackSlotData::new(
        ir::StackSlotKind::ExplicitSlot,
        fused::FRAME_SIZE,
        3,
    ));
    let frame = b.ins().stack_addr(env::PTR, frame_slot, 0);
    let mut f = Fuse {
        b,
        call_conv,
        ctx: params[0],
        frame,
        fail,
        faults: Vec::new(),
        entries,
        refs: HashMap::new(),
    };
    let results = f.body(ty, &params[1..]);
    let results: Vec<ir::BlockArg> = results.into_iter().map(Into::into).collect();
    f.b.ins().jump(done, &results);

    // The fault blocks jump to `fail`, so they come first and `fail` is sealed after.
    let faults = std::mem::take(&mut f.faults);
    for (fault, block) in faults {
        f.b.switch_to_block(block);
        f.b.seal_block(block);
        let code = f.b.ins().iconst(types::I32, fault as i64);
        f.call(Entry::fault, &[code]);
        f.b.ins().jump(fail, &[]);
    }
    f.b.switch_to_block(fail);
    f.b.seal_block(fail);
    let zeros: Vec<ir::BlockArg> = lowered_results
        .iter()
        .map(|t| f.zero(env::ir_type(*t)).into())
        .collect();
    f.b.ins().jump(done, &zeros);
    f.b.switch_to_block(done);
    f.b.seal_block(done);
    f.b.block_params(done).to_vec()
}

impl Fuse<'_, '_> {
    fn body(&mut self, ty: &CFuncType, args: &[Value]) -> Vec<Value> {
        let status = self.call(Entry::enter, &[]);
        self.fail_if_nonzero(status[0]);

        // The caller's arguments, into the callee's.
        let (args, retptr) = if ty.results_in_memory() {
            let (last, rest) = args
                .split_last()
                .map_or((None, args), |(l, r)| (Some(*l), r));
            (rest, last)
        } else {
            (args, None)
        };
        let callee_args = if ty.params_in_memory() {
            let record = ty.params_record();
            let src = args[0];
            self.check_area(CALLER, src, &record);
            let dst = self.alloc(
                CALLEE,
                record.align(),
                record.size(),
                Fault::MemoryOutOfBounds,
            );
            self.translate(
                &record,
                &mut Src::Mem {
                    side: CALLER,
                    ptr: src,
                    off: 0,
                },
                &mut Dst::Mem {
                    side: CALLEE,
                    ptr: dst,
                    off: 0,
                },
            );
            vec![dst]
        } else {
            let mut src = Src::Flat {
                side: CALLER,
                vals: args.to_vec(),
                pos: 0,
            };
            let mut dst = Dst::Flat {
                side: CALLEE,
                vals: Vec::new(),
            };
            for p in &ty.params {
                self.translate(p, &mut src, &mut dst);
            }
            match dst {
                Dst::Flat { vals, .. } => vals,
                Dst::Mem { .. } => Vec::new(),
            }
        };

        // The call, through a `ValRaw` array.
        let (lifted_params, lifted_results) = ty.lifted_signature();
        let slot = size_of::<ValRaw>() as u32;
        let slots = lifted_params.len().max(lifted_results.len()).max(1) as u32;
        let ss = self.b.create_sized_stack_slot(ir::StackSlotData::new(
            ir::StackSlotKind::ExplicitSlot,
            slot * slots,
            4,
        ));
        let values = self.b.ins().stack_addr(env::PTR, ss, 0);
        for (i, v) in callee_args.iter().enumerate() {
            self.b.ins().store(
                MemFlagsData::trusted(),
                *v,
                values,
                (i as u32 * slot) as i32,
            );
        }
        let callee = self.b.ins().iconst(types::I32, 0);
        let status = self.call(Entry::call, &[callee, values]);
        self.fail_if_nonzero(status[0]);
        let core_results: Vec<Value> = lifted_results
            .iter()
            .enumerate()
            .map(|(i, t)| {
                self.b.ins().load(
                    env::ir_type(*t),
                    MemFlagsData::trusted(),
                    values,
                    (i as u32 * slot) as i32,
                )
            })
            .collect();

        // The callee's result, into the caller.
        let results = match (&ty.result, retptr) {
            (None, _) => Vec::new(),
            (Some(t), Some(retptr)) => {
                let src = core_results[0];
                self.check_area(CALLEE, src, t);
                self.check_area(CALLER, retptr, t);
                self.translate(
                    t,
                    &mut Src::Mem {
                        side: CALLEE,
                        ptr: src,
                        off: 0,
                    },
                    &mut Dst::Mem {
                        side: CALLER,
                        ptr: retptr,
                        off: 0,
                    },
                );
                Vec::new()
            }
            (Some(t), None) => {
                let mut src = Src::Flat {
                    side: CALLEE,
                    vals: core_results,
                    pos: 0,
                };
                let mut dst = Dst::Flat {
                    side: CALLER,
                    vals: Vec::new(),
                };
                self.translate(t, &mut src, &mut dst);
                match dst {
                    Dst::Flat { vals, .. } => vals,
                    Dst::Mem { .. } => Vec::new(),
                }
            }
        };

        // post-return sees the callee's core results, still in the array.
        let post_return = self.b.ins().iconst(types::I32, 1);
        let status = self.call(Entry::call, &[post_return, values]);
        self.fail_if_nonzero(status[0]);
        let status = self.call(Entry::exit, &[]);
        self.fail_if_nonzero(status[0]);
        results
    }

    // -----------------------------------------------------------------------------------
    // Moving one value

    fn translate(&mut self, ty: &CType, src: &mut Src, dst: &mut Dst) {
        match ty {
            CType::Bool => {
                let v = self.read_scalar(src, ty);
                let nz = self.b.ins().icmp_imm_u(IntCC::NotEqual, v, 0);
                let v = self.b.ins().uextend(types::I32, nz);
                self.write_scalar(dst, ty, v);
            }
            CType::Char => {
                let v = self.read_scalar(src, ty);
                self.check_char(v);
                self.write_scalar(dst, ty, v);
            }
            CType::S8
            | CType::U8
            | CType::S16
            | CType::U16
            | CType::S32
            | CType::U32
            | CType::S64
            | CType::U64
            | CType::F32
            | CType::F64 => {
                let v = self.read_scalar(src, ty);
                self.write_scalar(dst, ty, v);
            }
            CType::Flags(n) => self.flags(*n, ty.size(), src, dst),
            CType::String => {
                let (ptr, len) = self.read_pair(src);
                let out = self.b.create_sized_stack_slot(ir::StackSlotData::new(
                    ir::StackSlotKind::ExplicitSlot,
                    8,
                    2,
                ));
                let out_addr = self.b.ins().stack_addr(env::PTR, out, 0);
                let side = self.b.ins().iconst(types::I32, i64::from(dst.side()));
                let status = self.call(Entry::string, &[side, ptr, len, out_addr]);
                self.fail_if_nonzero(status[0]);
                let flags = MemFlagsData::trusted();
                let p = self.b.ins().load(types::I32, flags, out_addr, 0);
                let l = self.b.ins().load(types::I32, flags, out_addr, 4);
                self.write_pair(dst, p, l);
            }
            CType::List(elem) => self.list(elem, src, dst),
            CType::Record(fields) => {
                for (f, off) in fields.iter().zip(CType::field_offsets(fields)) {
                    match (src.at(off), dst.at(off)) {
                        (Some(mut s), Some(mut d)) => self.translate(f, &mut s, &mut d),
                        (Some(mut s), None) => self.translate(f, &mut s, dst),
                        (None, Some(mut d)) => self.translate(f, src, &mut d),
                        (None, None) => self.translate(f, src, dst),
                    }
                }
            }
            CType::Variant(cases) => self.variant(ty, cases, src, dst),
            CType::Own(r) | CType::Borrow(r) => {
                let h = self.read_scalar(src, &CType::U32);
                let side = self.b.ins().iconst(types::I32, i64::from(dst.side()));
                let borrow = self
                    .b
                    .ins()
                    .iconst(types::I32, i64::from(matches!(ty, CType::Borrow(_))));
                let resource = self.b.ins().iconst(types::I32, i64::from(*r as i32));
                let r = self.call(Entry::handle, &[side, borrow, h, resource])[0];
                self.fail_if_minus_one(r);
                let h = self.b.ins().ireduce(types::I32, r);
                self.write_scalar(dst, &CType::U32, h);
            }
        }
    }

    /// Flags: each 32-bit word with the bits past the last flag cleared (wasmtime's
    /// adapters ignore them on lifting and clear them on lowering).
    fn flags(&mut self, n: u32, size: u32, src: &mut Src, dst: &mut Dst) {
        let words = n.div_ceil(32);
        for i in 0..words {
            let mask = if i == words - 1 && !n.is_multiple_of(32) {
                (1u32 << (n % 32)) - 1
            } else {
                u32::MAX
            };
            let word_ty = match size {
                1 => CType::U8,
                2 => CType::U16,
                _ => CType::U32,
            };
            let v = match src.at(4 * i) {
                Some(mut s) => self.read_scalar(&mut s, &word_ty),
                None => self.read_scalar(src, &CType::U32),
            };
            let v = self.b.ins().band_imm_u(v, i64::from(mask));
            match dst.at(4 * i) {
                Some(mut d) => self.write_scalar(&mut d, &word_ty, v),
                None => self.write_scalar(dst, &CType::U32, v),
            }
        }
    }

    fn list(&mut self, elem: &CType, src: &mut Src, dst: &mut Dst) {
        let (ptr, len) = self.read_pair(src);
        let (size, align) = (elem.size(), elem.align());
        let from = src.side();
        let to = dst.side();
        // The byte length must fit the 32-bit address space whatever the memory's size.
        let len64 = self.b.ins().uextend(types::I64, len);
        let bytes64 = self.b.ins().imul_imm_u(len64, i64::from(size));
        if size > 1 {
            let too_long =
                self.b
                    .ins()
                    .icmp_imm_u(IntCC::UnsignedGreaterThan, bytes64, i64::from(u32::MAX));
            self.fault_if(too_long, Fault::ListOutOfBounds);
        }
        self.check_range(from, ptr, bytes64, align, Fault::ListOutOfBounds);
        let bytes = self.b.ins().ireduce(types::I32, bytes64);
        let new = self.alloc_dyn(to, align, bytes, Fault::ListOutOfBounds);
        if is_plain(elem) {
            let side = self.b.ins().iconst(types::I32, i64::from(to));
            self.call(Entry::copy, &[side, new, ptr, bytes]);
        } else {
            let header = self.b.create_block();
            let i = self.b.append_block_param(header, types::I32);
            let body = self.b.create_block();
            let exit = self.b.create_block();
            let zero = self.b.ins().iconst(types::I32, 0);
            self.b.ins().jump(header, &[zero.into()]);
            self.b.switch_to_block(header);
            let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, len);
            self.b.ins().brif(more, body, &[], exit, &[]);
            self.b.switch_to_block(body);
            self.b.seal_block(body);
            let off = self.b.ins().imul_imm_u(i, i64::from(size));
            let s = self.b.ins().iadd(ptr, off);
            let d = self.b.ins().iadd(new, off);
            self.translate(
                elem,
                &mut Src::Mem {
                    side: from,
                    ptr: s,
                    off: 0,
                },
                &mut Dst::Mem {
                    side: to,
                    ptr: d,
                    off: 0,
                },
            );
            let next = self.b.ins().iadd_imm_s(i, 1);
            self.b.ins().jump(header, &[next.into()]);
            self.b.seal_block(header);
            self.b.switch_to_block(exit);
            self.b.seal_block(exit);
        }
        self.write_pair(dst, new, len);
    }

    fn variant(&mut self, ty: &CType, cases: &[Option<CType>], src: &mut Src, dst: &mut Dst) {
        let disc_size = discriminant_size(cases.len());
        let payload_off = CType::payload_offset(cases);
        // Flat: the discriminant and the joined payload slots.
        let (case, slots) = match src {
            Src::Flat { vals, pos, .. } => {
                let n = ty.flat().len();
                let taken = vals[*pos..*pos + n].to_vec();
                *pos += n;
                (taken[0], taken[1..].to_vec())
            }
            Src::Mem { side, ptr, off } => {
                let (side, ptr, off) = (*side, *ptr, *off);
                let case = self.load_uint(side, ptr, off, disc_size);
                (case, Vec::new())
            }
        };
        let joined: Vec<Type> = ty.flat()[1..].iter().map(|t| env::ir_type(*t)).collect();
        let dst_flat = matches!(dst, Dst::Flat { .. });

        if cases.iter().all(Option::is_none) {
            // An enum: the discriminant checked and copied.
            let bad = self.b.ins().icmp_imm_u(
                IntCC::UnsignedGreaterThanOrEqual,
                case,
                cases.len() as i64,
            );
            self.fault_if(bad, Fault::InvalidDiscriminant);
            self.write_disc(dst, case, disc_size);
            return;
        }

        let merge = self.b.create_block();
        if dst_flat {
            self.b.append_block_param(merge, types::I32);
            for t in &joined {
                self.b.append_block_param(merge, *t);
            }
        }
        let mut switch = Switch::new();
        let blocks: Vec<Block> = cases.iter().map(|_| self.b.create_block()).collect();
        for (i, blk) in blocks.iter().enumerate() {
            switch.set_entry(i as u128, *blk);
        }
        let bad = self.fault_block(Fault::InvalidDiscriminant);
        switch.emit(self.b, case, bad);
        for (i, (blk, payload)) in blocks.iter().zip(cases).enumerate() {
            self.b.switch_to_block(*blk);
            self.b.seal_block(*blk);
            let disc = self.b.ins().iconst(types::I32, i as i64);
            let mut vals = Vec::new();
            if let Some(t) = payload {
                let mut inner_src = match src {
                    Src::Flat { side, .. } => {
                        let want = t.flat();
                        let coerced = want
                            .iter()
                            .zip(&slots)
                            .map(|(w, v)| self.coerce_from_joined(*v, env::ir_type(*w)))
                            .collect();
                        Src::Flat {
                            side: *side,
                            vals: coerced,
                            pos: 0,
                        }
                    }
                    Src::Mem { side, ptr, off } => Src::Mem {
                        side: *side,
                        ptr: *ptr,
                        off: *off + payload_off,
                    },
                };
                let mut inner_dst = match dst {
                    Dst::Flat { side, .. } => Dst::Flat {
                        side: *side,
                        vals: Vec::new(),
                    },
                    Dst::Mem { side, ptr, off } => Dst::Mem {
                        side: *side,
                        ptr: *ptr,
                        off: *off + payload_off,
                    },
                };
                self.translate(t, &mut inner_src, &mut inner_dst);
                if let Dst::Flat { vals: v, .. } = inner_dst {
                    vals = v;
                }
            }
            if dst_flat {
                let mut args: Vec<ir::BlockArg> = vec![disc.into()];
                for (k, t) in joined.iter().enumerate() {
                    let v = match vals.get(k) {
                        Some(v) => self.coerce_to_joined(*v, *t),
                        None => self.zero(*t),
                    };
                    args.push(v.into());
                }
                self.b.ins().jump(merge, &args);
            } else {
                self.write_disc(dst, disc, disc_size);
                self.b.ins().jump(merge, &[]);
            }
        }
        self.b.switch_to_block(merge);
        self.b.seal_block(merge);
        if let Dst::Flat { vals, .. } = dst {
            vals.extend(self.b.block_params(merge).iter().copied());
        }
    }

    fn write_disc(&mut self, dst: &mut Dst, disc: Value, size: u32) {
        let ty = match size {
            1 => CType::U8,
            2 => CType::U16,
            _ => CType::U32,
        };
        self.write_scalar(dst, &ty, disc);
    }

    // -----------------------------------------------------------------------------------
    // Scalars

    /// Reads a scalar of type `ty` (a flat i32 for everything up to 32 bits), with narrow
    /// integers truncated and sign- or zero-extended as the canonical ABI lifts them.
    fn read_scalar(&mut self, src: &mut Src, ty: &CType) -> Value {
        match src {
            Src::Flat { vals, pos, .. } => {
                let v = vals[*pos];
                *pos += 1;
                match ty {
                    CType::U8 => self.b.ins().band_imm_u(v, 0xff),
                    CType::U16 => self.b.ins().band_imm_u(v, 0xffff),
                    CType::S8 => {
                        let n = self.b.ins().ireduce(types::I8, v);
                        self.b.ins().sextend(types::I32, n)
                    }
                    CType::S16 => {
                        let n = self.b.ins().ireduce(types::I16, v);
                        self.b.ins().sextend(types::I32, n)
                    }
                    _ => v,
                }
            }
            Src::Mem { side, ptr, off } => {
                let (side, ptr, off) = (*side, *ptr, *off);
                let addr = self.addr(side, ptr);
                let off = off as i32;
                let ins = self.b.ins();
                match ty {
                    CType::Bool | CType::U8 => ins.uload8(types::I32, guest(), addr, off),
                    CType::S8 => ins.sload8(types::I32, guest(), addr, off),
                    CType::U16 => ins.uload16(types::I32, guest(), addr, off),
                    CType::S16 => ins.sload16(types::I32, guest(), addr, off),
                    CType::S64 | CType::U64 => ins.load(types::I64, guest(), addr, off),
                    CType::F32 => ins.load(types::F32, guest(), addr, off),
                    CType::F64 => ins.load(types::F64, guest(), addr, off),
                    _ => ins.load(types::I32, guest(), addr, off),
                }
            }
        }
    }

    fn write_scalar(&mut self, dst: &mut Dst, ty: &CType, v: Value) {
        match dst {
            Dst::Flat { vals, .. } => vals.push(v),
            Dst::Mem { side, ptr, off } => {
                let (side, ptr, off) = (*side, *ptr, *off as i32);
                let addr = self.addr(side, ptr);
                let ins = self.b.ins();
                match ty {
                    CType::Bool | CType::U8 | CType::S8 => ins.istore8(guest(), v, addr, off),
                    CType::U16 | CType::S16 => ins.istore16(guest(), v, addr, off),
                    _ => ins.store(guest(), v, addr, off),
                };
            }
        }
    }

    /// A (pointer, length) pair: two flat values, or two words in memory.
    fn read_pair(&mut self, src: &mut Src) -> (Value, Value) {
        match src.at(4) {
            Some(mut second) => {
                let a = self.read_scalar(src, &CType::U32);
                let b = self.read_scalar(&mut second, &CType::U32);
                (a, b)
            }
            None => {
                let a = self.read_scalar(src, &CType::U32);
                let b = self.read_scalar(src, &CType::U32);
                (a, b)
            }
        }
    }

    fn write_pair(&mut self, dst: &mut Dst, a: Value, b: Value) {
        match dst.at(4) {
            Some(mut second) => {
                self.write_scalar(dst, &CType::U32, a);
                self.write_scalar(&mut second, &CType::U32, b);
            }
            None => {
                self.write_scalar(dst, &CType::U32, a);
                self.write_scalar(dst, &CType::U32, b);
            }
        }
    }

    /// The `size`-byte discriminant at `ptr + off`, as an i32.
    fn load_uint(&mut self, side: i32, ptr: Value, off: u32, size: u32) -> Value {
        let ty = match size {
            1 => CType::U8,
            2 => CType::U16,
            _ => CType::U32,
        };
        self.read_scalar(&mut Src::Mem { side, ptr, off }, &ty)
    }

    /// A value of a variant's payload type from the joined slot holding it: the low bits,
    /// reinterpreted (the canonical ABI's wrap-and-bitcast).
    fn coerce_from_joined(&mut self, v: Value, want: Type) -> Value {
        let have = self.b.func.dfg.value_type(v);
        let ins = self.b.ins();
        match (have, want) {
            (a, b) if a == b => v,
            (types::I64, types::I32) => ins.ireduce(types::I32, v),
            (types::I64, types::F64) => ins.bitcast(types::F64, MemFlagsData::new(), v),
            (types::I32, types::F32) => ins.bitcast(types::F32, MemFlagsData::new(), v),
            (types::I64, types::F32) => {
                let low = ins.ireduce(types::I32, v);
                self.b.ins().bitcast(types::F32, MemFlagsData::new(), low)
            }
            _ => v,
        }
    }

    /// A payload value widened into its joined slot type (zero-extended, reinterpreted).
    fn coerce_to_joined(&mut self, v: Value, slot: Type) -> Value {
        let have = self.b.func.dfg.value_type(v);
        let ins = self.b.ins();
        match (have, slot) {
            (a, b) if a == b => v,
            (types::I32, types::I64) => ins.uextend(types::I64, v),
            (types::F64, types::I64) => ins.bitcast(types::I64, MemFlagsData::new(), v),
            (types::F32, types::I32) => ins.bitcast(types::I32, MemFlagsData::new(), v),
            (types::F32, types::I64) => {
                let bits = ins.bitcast(types::I32, MemFlagsData::new(), v);
                self.b.ins().uextend(types::I64, bits)
            }
            _ => v,
        }
    }

    fn zero(&mut self, t: Type) -> Value {
        match t {
            types::F32 => self.b.ins().f32const(0.0),
            types::F64 => self.b.ins().f64const(0.0),
            _ => self.b.ins().iconst(t, 0),
        }
    }

    /// A `char` must be a Unicode scalar value: below U+D800, or from U+E000 to U+10FFFF.
    fn check_char(&mut self, v: Value) {
        let shifted = self.b.ins().iadd_imm_s(v, -0xE000);
        let low = self.b.ins().icmp_imm_u(IntCC::UnsignedLessThan, v, 0xD800);
        let high =
            self.b
                .ins()
                .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, shifted, 0x10FFFF - 0xE000);
        let ok = self.b.ins().bor(low, high);
        let bad = self.b.ins().icmp_imm_u(IntCC::Equal, ok, 0);
        self.fault_if(bad, Fault::InvalidChar);
    }

    // -----------------------------------------------------------------------------------
    // Memory

    /// The host address of `ptr` in `side`'s memory, from the memory's current base.
    fn addr(&mut self, side: i32, ptr: Value) -> Value {
        let def = self.memory_def(side);
        let base = self
            .b
            .ins()
            .load(env::PTR, MemFlagsData::trusted(), def, VMMEMORY_BASE as i32);
        let p = self.b.ins().uextend(types::I64, ptr);
        self.b.ins().iadd(base, p)
    }

    fn memory_def(&mut self, side: i32) -> Value {
        self.b.ins().load(
            env::PTR,
            MemFlagsData::trusted(),
            self.frame,
            fused::frame_memory(side) as i32,
        )
    }

    /// Checks that `[ptr, ptr + len)` (`len` an i64) is in `side`'s memory and `ptr` is
    /// aligned: misalignment is reported before bounds, as wasmtime's adapters do.
    fn check_range(&mut self, side: i32, ptr: Value, len: Value, align: u32, oob: Fault) {
        if align > 1 {
            let low = self.b.ins().band_imm_u(ptr, i64::from(align - 1));
            self.fault_if(low, Fault::UnalignedPointer);
        }
        let def = self.memory_def(side);
        let size = self.b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            def,
            VMMEMORY_LENGTH as i32,
        );
        let start = self.b.ins().uextend(types::I64, ptr);
        let end = self.b.ins().iadd(start, len);
        let out = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, size);
        self.fault_if(out, oob);
    }

    /// Checks the parameter or result area of type `ty` at `ptr`.
    fn check_area(&mut self, side: i32, ptr: Value, ty: &CType) {
        let len = self.b.ins().iconst(types::I64, i64::from(ty.size()));
        self.check_range(side, ptr, len, ty.align(), Fault::MemoryOutOfBounds);
    }

    /// `realloc(0, 0, align, size)` in `side`, checked by the runtime.
    fn alloc(&mut self, side: i32, align: u32, size: u32, oob: Fault) -> Value {
        let size = self.b.ins().iconst(types::I32, i64::from(size));
        self.alloc_dyn(side, align, size, oob)
    }

    fn alloc_dyn(&mut self, side: i32, align: u32, size: Value, oob: Fault) -> Value {
        let side = self.b.ins().iconst(types::I32, i64::from(side));
        let align = self.b.ins().iconst(types::I32, i64::from(align));
        let oob = self.b.ins().iconst(types::I32, oob as i64);
        let r = self.call(Entry::alloc, &[side, align, size, oob])[0];
        self.fail_if_minus_one(r);
        self.b.ins().ireduce(types::I32, r)
    }

    // -----------------------------------------------------------------------------------
    // Control

    /// Calls runtime entry `e` with the context and frame first, then `args`.
    fn call(&mut self, e: Entry, args: &[Value]) -> Vec<Value> {
        let f = match self.refs.get(&e) {
            Some(f) => *f,
            None => {
                let name = self
                    .b
                    .func
                    .declare_imported_user_function(ir::UserExternalName {
                        namespace: env::NS_FUNC,
                        index: (self.entries)(e),
                    });
                let sig = self.b.import_signature(e.signature(self.call_conv));
                let f = self.b.import_function(ir::ExtFuncData {
                    name: ir::ExternalName::user(name),
                    signature: sig,
                    colocated: false,
                    patchable: false,
                });
                self.refs.insert(e, f);
                f
            }
        };
        let mut all = vec![self.ctx, self.frame];
        all.extend_from_slice(args);
        let call = self.b.ins().call(f, &all);
        self.b.inst_results(call).to_vec()
    }

    /// Continues in a new block unless `cond` holds, in which case `target` runs.
    fn branch_if(&mut self, cond: Value, target: Block) {
        let cont = self.b.create_block();
        self.b.ins().brif(cond, target, &[], cont, &[]);
        self.b.switch_to_block(cont);
        self.b.seal_block(cont);
    }

    fn fail_if_nonzero(&mut self, status: Value) {
        let fail = self.fail;
        self.branch_if(status, fail);
    }

    fn fail_if_minus_one(&mut self, r: Value) {
        let bad = self.b.ins().icmp_imm_s(IntCC::Equal, r, -1);
        let fail = self.fail;
        self.branch_if(bad, fail);
    }

    fn fault_block(&mut self, fault: Fault) -> Block {
        match self.faults.iter().find(|(f, _)| *f == fault) {
            Some((_, b)) => *b,
            None => {
                let b = self.b.create_block();
                self.faults.push((fault, b));
                b
            }
        }
    }

    fn fault_if(&mut self, cond: Value, fault: Fault) {
        let target = self.fault_block(fault);
        self.branch_if(cond, target);
    }
}

/// Whether a list of `t` moves as its bytes: numbers, and records of them, need neither
/// checks nor rewriting (bools are normalised, chars and discriminants checked, flags
/// masked, pointers and handles rewritten).
fn is_plain(t: &CType) -> bool {
    match t {
        CType::S8
        | CType::U8
        | CType::S16
        | CType::U16
        | CType::S32
        | CType::U32
        | CType::S64
        | CType::U64
        | CType::F32
        | CType::F64 => true,
        CType::Record(fields) => fields.iter().all(is_plain),
        _ => false,
    }
}
