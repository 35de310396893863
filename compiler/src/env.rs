//! The translation environment: the one place that knows where things live at run time.
//!
//! The operator walk in [`crate::translate`] asks this module for everything
//! layout-dependent — a memory's base and length, a global's address, a table's slots, how
//! to call an import or a builtin — and this module answers from the contract in
//! `aot_abi` (vmctx offsets, record layouts, builtin symbols). It never emits control flow
//! of its own beyond bounds and signature checks, and the continuation of a call made
//! inside a `try_table` (a `try_call` to the landing pad `translate::exceptions` owns).

use std::collections::HashMap;

use aot_abi::{
    BoundsMode, FuncType, GUARD_SIZE, TrapKind, VMFUNCREF_CODE, VMFUNCREF_TYPE_ID, VMFUNCREF_VMCTX,
    VMIMPORT_CODE, VMIMPORT_VMCTX, VMMEMORY_BASE, VMMEMORY_LENGTH, VMOffsets, VMTABLE_BASE,
    VMTABLE_LENGTH, ValType,
};
use cranelift_codegen::ir::{
    self, AbiParam, ArgumentPurpose, ExtFuncData, ExternalName, FuncRef, Function, GlobalValue,
    GlobalValueData, InstBuilder, MemFlagsData, Signature, TrapCode, Type, UserExternalName, Value,
    condcodes::IntCC, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;

use crate::module::ModuleInfo;
use crate::static_tables::{ENTRY_KEY, ENTRY_SIZE};

/// The pointer type of every supported target.
pub const PTR: Type = types::I64;

/// Cranelift user-name namespace of everything a function may call.
pub const NS_FUNC: u32 = 0;

/// The first Cranelift trap code of a folded access (see [`FoldedOffsets`]); the codes
/// below it are [`TrapKind`]s.
const FOLD_CODE_FIRST: u8 = 32;
const _: () = assert!(
    (TrapKind::ALL.len() as u8) < FOLD_CODE_FIRST && TrapCode::user(FOLD_CODE_FIRST).is_some()
);

/// How many static offsets can have folded accesses: every user trap code from
/// [`FOLD_CODE_FIRST`] on.
pub const FOLD_SLOTS: usize = {
    let mut n = 0;
    while TrapCode::user(FOLD_CODE_FIRST + n as u8).is_some() {
        n += 1;
    }
    n
};

/// The static offsets whose accesses to memory 0 fold their 32-bit address sums (see
/// `aot_abi::MODULE_FLAG_MEMORY0_FOLDED`), each with the Cranelift trap code its accesses
/// carry: the fault handler needs an access's offset to tell a wrapped sum from an access
/// out of bounds, and a trap code is all Cranelift records per instruction. The codes are
/// module-wide, since an access may be inlined into another function.
#[derive(Default)]
pub struct FoldedOffsets {
    offsets: Vec<u32>,
    codes: HashMap<u32, TrapCode>,
}

impl FoldedOffsets {
    /// At most [`FOLD_SLOTS`] offsets; the rest never fold.
    pub fn new(offsets: &[u32]) -> FoldedOffsets {
        let offsets: Vec<u32> = offsets.iter().copied().take(FOLD_SLOTS).collect();
        let codes = offsets
            .iter()
            .enumerate()
            .filter_map(|(j, &o)| Some((o, TrapCode::user(FOLD_CODE_FIRST + j as u8)?)))
            .collect();
        FoldedOffsets { offsets, codes }
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The trap code of a folded access with static offset `offset`, if it may fold.
    fn code(&self, offset: u64) -> Option<TrapCode> {
        self.codes.get(&u32::try_from(offset).ok()?).copied()
    }

    /// The static offset of a folded access's trap code.
    fn offset(&self, code: TrapCode) -> Option<u32> {
        let j = code.as_raw().get().checked_sub(FOLD_CODE_FIRST)?;
        self.offsets.get(j as usize).copied()
    }
}

/// The Cranelift trap code for a Wasm trap kind.
pub fn trap_code(kind: TrapKind) -> TrapCode {
    match kind {
        TrapKind::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
        TrapKind::StackOverflow => TrapCode::STACK_OVERFLOW,
        TrapKind::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
        TrapKind::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
        TrapKind::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => TrapCode::unwrap_user(other as u8),
    }
}

/// The Wasm trap kind of a trap code found in compiled code.
pub fn trap_kind(code: TrapCode) -> Option<TrapKind> {
    Some(match code {
        TrapCode::HEAP_OUT_OF_BOUNDS => TrapKind::MemoryOutOfBounds,
        TrapCode::STACK_OVERFLOW => TrapKind::StackOverflow,
        TrapCode::INTEGER_OVERFLOW => TrapKind::IntegerOverflow,
        TrapCode::INTEGER_DIVISION_BY_ZERO => TrapKind::IntegerDivisionByZero,
        TrapCode::BAD_CONVERSION_TO_INTEGER => TrapKind::BadConversionToInteger,
        other => return TrapKind::from_u32(other.as_raw().get() as u32),
    })
}

pub fn ir_type(v: ValType) -> Type {
    match v {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
        ValType::FuncRef | ValType::ExternRef | ValType::Ref(_) => PTR,
    }
}

/// The calling convention of everything called with a Wasm signature: defined functions,
/// the code of imports and funcrefs, host-call and glue trampolines.
///
/// It is Cranelift's `tail` convention, not the platform's, because `return_call` and
/// `return_call_indirect` require caller and callee to both use it, and a tail call can
/// reach any of those (a table holds imported and host functions too). It keeps the
/// platform's callee-saved registers and frame records, so stack-limit checks, frame-pointer
/// backtraces and the signal handler see the same frames as before; what differs is where
/// arguments are (on aarch64 they start at x2) and that callees pop their stack arguments.
/// So nothing but generated code may call such a function directly: the runtime enters
/// Wasm through the array-call trampolines (platform convention outside, this one inside),
/// and Wasm calls the runtime through host-call trampolines (the reverse) or builtins.
pub const WASM_CALL_CONV: CallConv = CallConv::Tail;

/// The native signature of a Wasm function: `(vmctx, params...) -> results`, in
/// [`WASM_CALL_CONV`].
pub fn wasm_signature(ty: &FuncType) -> Signature {
    host_signature(WASM_CALL_CONV, ty)
}

/// The signature of a host function the runtime provides for a Wasm import: the Wasm
/// signature in the platform's convention `call_conv` (host functions are Rust
/// `extern "C"` functions).
pub fn host_signature(call_conv: CallConv, ty: &FuncType) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params
        .push(AbiParam::special(PTR, ArgumentPurpose::VMContext));
    sig.params
        .extend(ty.params.iter().map(|p| AbiParam::new(ir_type(*p))));
    sig.returns
        .extend(ty.results.iter().map(|r| AbiParam::new(ir_type(*r))));
    sig
}

/// The signature of an array-call trampoline: `(code, vmctx, values)`.
pub fn array_call_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params
        .extend([AbiParam::new(PTR), AbiParam::new(PTR), AbiParam::new(PTR)]);
    sig
}

macro_rules! declare_builtin_enum {
    ($( $(#[$doc:meta])* $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// The runtime builtins generated code may call (from `aot_abi::foreach_builtin!`).
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Builtin { $( $name, )* }

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[ $( Builtin::$name, )* ];

            pub fn name(self) -> &'static str {
                match self { $( Builtin::$name => stringify!($name), )* }
            }

            pub fn signature(self, call_conv: CallConv) -> Signature {
                let mut sig = Signature::new(call_conv);
                match self {
                    $( Builtin::$name => {
                        $( sig.params.push(AbiParam::new(builtin_type(stringify!($ty)))); let _ = stringify!($arg); )*
                        $( sig.returns.push(AbiParam::new(builtin_type(stringify!($ret)))); )?
                    } )*
                }
                sig
            }
        }
    };
}

/// The IR type of a runtime call's `ptr`, `i32` or `i64` in the contract's lists.
pub fn builtin_type(name: &str) -> Type {
    match name {
        "i32" => types::I32,
        _ => types::I64,
    }
}

aot_abi::foreach_builtin!(declare_builtin_enum);

/// C library functions generated code calls directly: the executable links musl
/// statically, so they are always there, and calling them skips a builtin's instance and
/// memory lookups (memory.copy and memory.fill check their bounds inline first).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LibcFn {
    /// `void *memmove(void *dst, const void *src, size_t n)`, the runtime's
    /// ([`aot_abi::MEMMOVE_SYMBOL`]): musl's always starts a `rep movsq`, slow to start for
    /// the copies of a few dozen bytes most calls make.
    memmove,
    /// `void *memset(void *dst, int c, size_t n)`
    memset,
}

impl LibcFn {
    pub const ALL: &'static [LibcFn] = &[LibcFn::memmove, LibcFn::memset];

    pub fn symbol(self) -> &'static str {
        match self {
            LibcFn::memmove => aot_abi::MEMMOVE_SYMBOL,
            LibcFn::memset => "memset",
        }
    }

    pub fn signature(self, call_conv: CallConv) -> Signature {
        let mut sig = Signature::new(call_conv);
        let second = match self {
            LibcFn::memmove => PTR,
            LibcFn::memset => types::I32,
        };
        sig.params.extend([
            AbiParam::new(PTR),
            AbiParam::new(second),
            AbiParam::new(types::I64),
        ]);
        sig.returns.push(AbiParam::new(PTR));
        sig
    }
}

/// A call that returns to its caller, or a tail call that replaces the caller's frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CallKind {
    Call,
    TailCall,
}

impl CallKind {
    fn call(self, b: &mut FunctionBuilder, f: FuncRef, args: &[Value]) -> ir::Inst {
        match self {
            CallKind::Call => b.ins().call(f, args),
            CallKind::TailCall => b.ins().return_call(f, args),
        }
    }

    fn call_indirect(
        self,
        b: &mut FunctionBuilder,
        sig: ir::SigRef,
        code: Value,
        args: &[Value],
    ) -> ir::Inst {
        match self {
            CallKind::Call => b.ins().call_indirect(sig, code, args),
            CallKind::TailCall => b.ins().return_call_indirect(sig, code, args),
        }
    }
}

/// Module-wide facts every function's translation shares (read-only, so functions can be
/// translated in parallel).
pub struct ModuleEnv<'a> {
    pub info: &'a ModuleInfo<'a>,
    pub offsets: VMOffsets,
    pub bounds: BoundsMode,
    /// The platform's calling convention, of builtins and host functions (Wasm functions
    /// use [`WASM_CALL_CONV`]).
    pub call_conv: CallConv,
    pub frontend_config: cranelift_codegen::isa::TargetFrontendConfig,
    /// Cranelift user-name index of each defined function, builtin and so on.
    pub defined_func_names: Vec<u32>,
    /// Per imported function: the user-name index of its host-call trampoline, when the
    /// runtime provides it.
    pub host_tramp_names: Vec<Option<u32>>,
    pub builtin_names: HashMap<Builtin, u32>,
    /// Cranelift user-name index of each C library function (see [`LibcFn`]).
    pub libc_names: HashMap<LibcFn, u32>,
    /// User-name index of the module's throw stub (see [`throw_stub_signature`]).
    pub throw_stub_name: u32,
    /// User-name index of the module's GC stub (see [`gc_stub_signature`]).
    pub gc_stub_name: u32,
    pub relaxed_simd: RelaxedSimd,
    /// Atomic stores to a shared memory are exchanges (see `translate::atomics`): the
    /// target is aarch64.
    pub shared_store_as_swap: bool,
    /// The module is a core module of a component: its imports and tables may hold glue
    /// functions, which call host code without checking the stack limit themselves.
    pub component: bool,
    /// Memory 0's fixed address (`aot_abi::fixed_memory0_base`), when the module's code
    /// assumes it (`Options::memory0_fixed`).
    pub memory0_base: Option<u64>,
    /// The static offsets of memory 0 accesses that fold their address sums; empty when
    /// none do (`codegen::folds_addresses`).
    pub folded_offsets: FoldedOffsets,
    /// Per table (imports first): the read-only copy `call_indirect` reads, when the
    /// table's contents are fixed at compile time (see [`crate::static_tables`]).
    pub static_tables: Vec<Option<StaticTableRef>>,
    /// [`crate::static_tables::type_keys`] of the module's types.
    pub type_keys: Vec<u32>,
    /// The global kept in the pinned register (`crate::scan::register_global`), if any.
    pub register_global: Option<u32>,
    /// Which loops the translator unrolls: none below -O2.
    pub unroll: crate::translate::unroll::Unroll,
}

impl ModuleEnv<'_> {
    /// The register global's vmctx offset and IR type (it is defined by the module).
    pub fn register_global_offset(&self) -> Option<(i32, Type)> {
        let g = self.register_global?;
        let defined = g - self.info.num_imported_globals;
        Some((
            self.offsets.defined_global(defined) as i32,
            ir_type(self.info.globals[g as usize].ty),
        ))
    }

    /// The `TrapRecord::kind` of a trap site with Cranelift trap code `code`.
    pub fn trap_record_kind(&self, code: TrapCode) -> Option<u32> {
        match self.folded_offsets.offset(code) {
            Some(offset) => Some(aot_abi::folded_access_kind(offset)),
            None => trap_kind(code).map(|k| k as u32),
        }
    }
}

/// The pinned register's value as a global of type `ty` (an i32 global is its low half).
fn read_pinned(b: &mut FunctionBuilder, ty: Type) -> Value {
    let v = b.ins().get_pinned_reg(PTR);
    if ty == PTR { v } else { b.ins().ireduce(ty, v) }
}

/// Sets the pinned register to `v`, a global's value (an i32 zero-extended).
fn write_pinned(b: &mut FunctionBuilder, v: Value) {
    let v = if b.func.dfg.value_type(v) == PTR {
        v
    } else {
        b.ins().uextend(PTR, v)
    };
    b.ins().set_pinned_reg(v);
}

/// Sets the pinned register to the register global's value in the vmctx.
pub fn load_register_global(b: &mut FunctionBuilder, vmctx: Value, offset: i32, ty: Type) {
    let v = b.ins().load(ty, MemFlagsData::trusted(), vmctx, offset);
    write_pinned(b, v);
}

/// Stores the pinned register's value into the register global's place in the vmctx.
pub fn store_register_global(b: &mut FunctionBuilder, vmctx: Value, offset: i32, ty: Type) {
    let v = read_pinned(b, ty);
    b.ins().store(MemFlagsData::trusted(), v, vmctx, offset);
}

/// A table index (an i32, or an i64 of a 64-bit table) as an i64.
fn index_as_i64(b: &mut FunctionBuilder, index: Value) -> Value {
    if b.func.dfg.value_type(index) == types::I64 {
        index
    } else {
        b.ins().uextend(types::I64, index)
    }
}

/// Where a table's static copy is: a data object of this module, by its Cranelift data
/// index, and the table's constant length.
#[derive(Clone, Copy, Debug)]
pub struct StaticTableRef {
    pub data_index: u32,
    pub len: u64,
}

/// The stack-limit global value for Cranelift's prologue check of `func` (whose first
/// parameter is the vmctx): vmctx → store context → the limit of the thread now running
/// Wasm (which the runtime sets on every entry, so it is not read-only; the store pointer
/// is). Only code that calls host code gets the check (see `codegen::needs_stack_check`).
pub fn stack_limit(func: &mut Function) -> GlobalValue {
    let vmctx = func.create_global_value(GlobalValueData::VMContext);
    let store_flags = func.dfg.mem_flags.insert_unchecked(readonly());
    let store = func.create_global_value(GlobalValueData::Load {
        base: vmctx,
        offset: (aot_abi::VMCTX_STORE as i32).into(),
        global_type: PTR,
        flags: store_flags,
    });
    let limit_flags = func.dfg.mem_flags.insert_unchecked(MemFlagsData::trusted());
    func.create_global_value(GlobalValueData::Load {
        base: store,
        offset: (aot_abi::VMSTORE_STACK_LIMIT as i32).into(),
        global_type: PTR,
        flags: limit_flags,
    })
}

/// The signature of a module's throw stub, `stub(vmctx, exn)`: a function in the Wasm
/// convention, so that a `try_call` of it clobbers every register on its exceptional edge
/// (the exception ABI of Cranelift's `tail` convention: the runtime restores only SP and FP
/// when it resumes at a handler). It passes its frame pointer to the `throw_ref` builtin,
/// whose frame walk starts at the stub's return address: the throwing call site.
pub fn throw_stub_signature() -> Signature {
    let mut sig = Signature::new(WASM_CALL_CONV);
    sig.params
        .push(AbiParam::special(PTR, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(PTR));
    sig
}

/// The signature of a module's GC stub, `stub(vmctx, info, size) -> object`: the slow path
/// of every allocation, in the Wasm convention like any call from Wasm code (so its call
/// is a safepoint with a stack map). It calls the `gc_alloc` builtin, the only one that
/// may collect, passing its own frame pointer (see `codegen::build_fp_stub`).
pub fn gc_stub_signature() -> Signature {
    let mut sig = Signature::new(WASM_CALL_CONV);
    sig.params
        .push(AbiParam::special(PTR, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(PTR));
    sig.params.push(AbiParam::new(types::I64));
    sig.returns.push(AbiParam::new(PTR));
    sig
}

/// What a call calls: a function of this object, or code at an address.
#[derive(Clone, Copy)]
enum Callee {
    Direct(FuncRef),
    Indirect(ir::SigRef, Value),
}

/// How the relaxed-SIMD operators are lowered for the target: the instruction each one
/// becomes, so that their implementation-defined results are the target's own and match
/// what wasmtime (with its default, non-deterministic relaxed SIMD) computes on the same
/// CPU features. The one place that knows which target lowers what.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelaxedSimd {
    /// x86: relaxed min/max are `minps`/`maxps` (the first operand when unordered or
    /// equal, as pmin/pmax) and the signed truncations are `cvttps2dq`/`cvttpd2dq`
    /// (0x80000000 for NaN and out of range).
    pub x86: bool,
    /// madd/nmadd are fused (FMA on the CPU); otherwise a multiply then an add.
    pub fused_madd: bool,
    /// relaxed_swizzle is `pshufb` (an index with bit 7 clear selects by its low 4 bits).
    pub pshufb: bool,
    /// relaxed_q15mulr is `pmulhrsw` (-1 * -1 in Q15 wraps to -32768).
    pub pmulhrsw: bool,
    /// The relaxed dot products are `pmaddubsw` (the second operand's bytes unsigned).
    pub pmaddubsw: bool,
    /// Per lane width (8, 16, 32, 64 bits): relaxed_laneselect is a `blendv` (each lane
    /// chosen by its mask's top bit) rather than a bitwise select.
    pub blendv: [bool; 4],
}

impl RelaxedSimd {
    pub fn for_isa(isa: &dyn cranelift_codegen::isa::TargetIsa) -> RelaxedSimd {
        let x86 = isa.triple().architecture == target_lexicon::Architecture::X86_64;
        RelaxedSimd {
            x86,
            fused_madd: isa.has_native_fma(),
            pshufb: isa.has_x86_pshufb_lowering(),
            pmulhrsw: isa.has_x86_pmulhrsw_lowering(),
            pmaddubsw: isa.has_x86_pmaddubsw_lowering(),
            blendv: [types::I8X16, types::I16X8, types::I32X4, types::I64X2]
                .map(|t| isa.has_blendv_lowering(t)),
        }
    }

    /// Whether relaxed_laneselect on lanes of type `ty` is a `blendv`.
    pub fn blendv(&self, ty: Type) -> bool {
        let i = ty.lane_bits().trailing_zeros().saturating_sub(3) as usize;
        self.blendv.get(i).copied().unwrap_or(false)
    }
}

/// Per-function state: the cached global values and imported signatures of one function.
pub struct FuncEnv<'a> {
    pub module: &'a ModuleEnv<'a>,
    /// The vmctx: the entry block's first parameter (set by [`FuncEnv::set_vmctx`]).
    vmctx: Option<Value>,
    sig_refs: HashMap<u32, ir::SigRef>,
    func_refs: HashMap<u32, FuncRef>,
    builtin_refs: HashMap<Builtin, FuncRef>,
    libc_refs: HashMap<LibcFn, FuncRef>,
    throw_stub_ref: Option<FuncRef>,
    gc_stub_ref: Option<FuncRef>,
    static_table_gvs: HashMap<u32, GlobalValue>,
    /// The landing pads of the enclosing `try_table`s, innermost last, and whether a call
    /// has been routed to each: a Wasm call made while one is active is a `try_call` to
    /// the innermost (see `translate::exceptions`).
    pub exn_handlers: Vec<(ir::Block, bool)>,
}

fn readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

impl<'a> FuncEnv<'a> {
    pub fn new(module: &'a ModuleEnv<'a>) -> FuncEnv<'a> {
        FuncEnv {
            module,
            vmctx: None,
            sig_refs: HashMap::new(),
            func_refs: HashMap::new(),
            builtin_refs: HashMap::new(),
            libc_refs: HashMap::new(),
            throw_stub_ref: None,
            gc_stub_ref: None,
            static_table_gvs: HashMap::new(),
            exn_handlers: Vec::new(),
        }
    }

    /// The `*const VMTag` of tag `index` (its identity).
    pub fn tag_ptr(&mut self, b: &mut FunctionBuilder, index: u32) -> Value {
        let vmctx = self.vmctx();
        b.ins().load(
            PTR,
            readonly(),
            vmctx,
            self.module.offsets.tag(index) as i32,
        )
    }

    /// The `*const VMGcTypeInfo` of module type `t`, a struct or array type: the header
    /// word of every object of that type and the identity a cast to `t` compares with
    /// (`display[depth]` of a subtype). Null for a function type. The slot is written once
    /// at instantiation, so the load is readonly and may be hoisted.
    pub fn gc_type_info(&mut self, b: &mut FunctionBuilder, t: u32) -> Value {
        let vmctx = self.vmctx();
        b.ins().load(
            PTR,
            readonly(),
            vmctx,
            self.module.offsets.gc_type(t) as i32,
        )
    }

    /// Calls the module's throw stub with `exn` (non-null), as a `try_call` inside a
    /// `try_table`. It does not return; the caller terminates the block.
    pub fn call_throw_stub(&mut self, b: &mut FunctionBuilder, exn: Value) {
        let stub = match self.throw_stub_ref {
            Some(f) => f,
            None => {
                let sig = b.func.import_signature(throw_stub_signature());
                let name = b.func.declare_imported_user_function(UserExternalName {
                    namespace: NS_FUNC,
                    index: self.module.throw_stub_name,
                });
                let f = b.func.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.throw_stub_ref = Some(f);
                f
            }
        };
        let vmctx = self.vmctx();
        self.emit_call(b, CallKind::Call, Callee::Direct(stub), &[vmctx, exn]);
    }

    /// The slow path of an allocation: calls the module's GC stub, which may collect, for
    /// an object of `size` bytes (an i64, header included, a multiple of 8) of the type
    /// whose `*const VMGcTypeInfo` is `info`; returns the object's address, zeroed except
    /// its header. On failure the runtime raises the trap itself (`gc_alloc`), so this
    /// returns only with an object. The caller must pass no reference in `info`/`size`
    /// and keep the references it needs afterwards live across this call (they are then
    /// in its stack map and reloaded after it, possibly moved). It is a plain call even
    /// inside a `try_table`: allocation throws no exception.
    pub fn gc_alloc_slow(&mut self, b: &mut FunctionBuilder, info: Value, size: Value) -> Value {
        let stub = match self.gc_stub_ref {
            Some(f) => f,
            None => {
                let sig = b.func.import_signature(gc_stub_signature());
                let name = b.func.declare_imported_user_function(UserExternalName {
                    namespace: NS_FUNC,
                    index: self.module.gc_stub_name,
                });
                let f = b.func.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.gc_stub_ref = Some(f);
                f
            }
        };
        let vmctx = self.vmctx();
        let call = b.ins().call(stub, &[vmctx, info, size]);
        b.inst_results(call)[0]
    }

    /// Emits a call (or tail call) of `callee` with `args` (vmctx included); returns its
    /// results. A call inside a `try_table` becomes a `try_call` whose exceptional edge
    /// goes to the innermost landing pad, with a fresh continuation block for its results.
    fn emit_call(
        &mut self,
        b: &mut FunctionBuilder,
        kind: CallKind,
        callee: Callee,
        args: &[Value],
    ) -> Vec<Value> {
        let handler = match (kind, self.exn_handlers.last_mut()) {
            (CallKind::Call, Some((pad, used))) => {
                *used = true;
                Some(*pad)
            }
            _ => None,
        };
        let Some(pad) = handler else {
            let call = match callee {
                Callee::Direct(f) => kind.call(b, f, args),
                Callee::Indirect(sig, code) => kind.call_indirect(b, sig, code, args),
            };
            return b.inst_results(call).to_vec();
        };
        let sig = match callee {
            Callee::Direct(f) => b.func.dfg.ext_funcs[f].signature,
            Callee::Indirect(sig, _) => sig,
        };
        let returns: Vec<Type> = b.func.dfg.signatures[sig]
            .returns
            .iter()
            .map(|r| r.value_type)
            .collect();
        let cont = b.create_block();
        for t in &returns {
            b.append_block_param(cont, *t);
        }
        let ret_args: Vec<ir::BlockArg> = (0..returns.len() as u32)
            .map(ir::BlockArg::TryCallRet)
            .collect();
        let normal = b.func.dfg.block_call(cont, &ret_args);
        let exceptional = b.func.dfg.block_call(pad, &[ir::BlockArg::TryCallExn(0)]);
        let table = b
            .func
            .dfg
            .exception_tables
            .push(ir::ExceptionTableData::new(
                sig,
                normal,
                [ir::ExceptionTableItem::Default(exceptional)],
            ));
        match callee {
            Callee::Direct(f) => b.ins().try_call(f, args, table),
            Callee::Indirect(_, code) => b.ins().try_call_indirect(code, args, table),
        };
        b.switch_to_block(cont);
        b.block_params(cont).to_vec()
    }

    fn info(&self) -> &'a ModuleInfo<'a> {
        self.module.info
    }

    pub fn set_vmctx(&mut self, v: Value) {
        self.vmctx = Some(v);
    }

    fn vmctx(&self) -> Value {
        self.vmctx.expect("set_vmctx is called before translation")
    }

    /// Address of the record of entity `index` (a memory's `VMMemoryDef`, a table's
    /// `VMTableDef`): loaded from its import slot for imports, inside the vmctx otherwise.
    fn entity_def(
        &self,
        b: &mut FunctionBuilder,
        index: u32,
        num_imported: u32,
        imported: fn(&VMOffsets, u32) -> u32,
        defined: fn(&VMOffsets, u32) -> u32,
    ) -> Value {
        let vmctx = self.vmctx();
        let offsets = &self.module.offsets;
        if index < num_imported {
            b.ins()
                .load(PTR, readonly(), vmctx, imported(offsets, index) as i32)
        } else {
            b.ins()
                .iadd_imm_u(vmctx, defined(offsets, index - num_imported) as i64)
        }
    }

    /// Address of memory `index`'s `VMMemoryDef`.
    fn memory_def(&mut self, b: &mut FunctionBuilder, index: u32) -> Value {
        let n = self.info().num_imported_memories;
        self.entity_def(
            b,
            index,
            n,
            VMOffsets::imported_memory,
            VMOffsets::defined_memory,
        )
    }

    pub fn memory_base(&mut self, b: &mut FunctionBuilder, index: u32) -> Value {
        if let (0, Some(base)) = (index, self.module.memory0_base) {
            // A constant, not a load: nothing to keep in a register across the function,
            // and x86_64 folds it into the access's displacement.
            return b.ins().iconst(PTR, base as i64);
        }
        let def = self.memory_def(b, index);
        // The base never changes for the life of the memory (see aot_abi::vmctx).
        b.ins().load(PTR, readonly(), def, VMMEMORY_BASE as i32)
    }

    /// Current length in bytes of memory `index`.
    pub fn memory_length(&mut self, b: &mut FunctionBuilder, index: u32) -> Value {
        let def = self.memory_def(b, index);
        b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            def,
            VMMEMORY_LENGTH as i32,
        )
    }

    /// The type of memory `index`.
    pub fn memory_type(&self, index: u32) -> aot_abi::MemoryType {
        self.info().memories[index as usize]
    }

    /// The native address of an access of `size` bytes at Wasm address `addr` + `offset`,
    /// with whatever check the memory needs (see `BoundsMode::guarded`: the runtime makes
    /// the matching reservation). Returns (address, remaining static offset, the access's
    /// memory flags).
    pub fn memory_addr(
        &mut self,
        b: &mut FunctionBuilder,
        mem: u32,
        addr: Value,
        offset: u64,
        size: u32,
    ) -> (Value, i32, MemFlagsData) {
        let (a, off, folded) = self.memory_addr_with(b, mem, addr, offset, size, false);
        let flags = match folded {
            Some(code) => MemFlagsData::new().with_trap_code(Some(code)),
            None => self.heap_flags(),
        };
        (a, off, flags)
    }

    /// The host address of an atomic access of `size` bytes (a power of two) at Wasm
    /// address `addr + offset`: traps if it is misaligned, then (the spec's order) if it is
    /// out of bounds. The bounds are always checked explicitly, whatever the memory's mode:
    /// Cranelift's atomic instructions carry no trap metadata, so a fault in one (or in the
    /// middle of an aarch64 exclusive-pair loop) could not be reported as a Wasm trap.
    pub fn atomic_addr(
        &mut self,
        b: &mut FunctionBuilder,
        mem: u32,
        addr: Value,
        offset: u64,
        size: u32,
    ) -> Value {
        if size > 1 {
            let ty = self.memory_type(mem);
            // Only the low bits matter for alignment, so a wrapping sum is fine here.
            let low = if ty.memory64 {
                addr
            } else {
                b.ins().uextend(types::I64, addr)
            };
            let ea = b.ins().iadd_imm_u(low, offset as i64);
            let misaligned = b.ins().band_imm_u(ea, i64::from(size - 1));
            b.ins()
                .trapnz(misaligned, trap_code(TrapKind::HeapMisaligned));
        }
        let (a, off, _) = self.memory_addr_with(b, mem, addr, offset, size, true);
        if off == 0 {
            a
        } else {
            b.ins().iadd_imm_u(a, i64::from(off))
        }
    }

    fn memory_addr_with(
        &mut self,
        b: &mut FunctionBuilder,
        mem: u32,
        addr: Value,
        offset: u64,
        size: u32,
        force_check: bool,
    ) -> (Value, i32, Option<TrapCode>) {
        let ty = self.memory_type(mem);
        let needs_check =
            force_check || !self.module.bounds.guarded(&ty) || offset + size as u64 > GUARD_SIZE;
        if mem == 0
            && !needs_check
            && let Some(code) = self.module.folded_offsets.code(offset)
            && let Some(index) = folded_index(b, addr)
        {
            let base = self.memory_base(b, mem);
            let a = b.ins().iadd(base, index);
            return (a, offset as i32, Some(code));
        }
        let index = if ty.memory64 {
            addr
        } else {
            b.ins().uextend(types::I64, addr)
        };
        if needs_check {
            let len = self.memory_length(b, mem);
            let trap = trap_code(TrapKind::MemoryOutOfBounds);
            let end = if ty.memory64 {
                // A 64-bit index plus offset can wrap around: a wrapped sum is out of bounds.
                let mut end = index;
                let parts = match offset.checked_add(u64::from(size)) {
                    Some(sum) => vec![sum],
                    None => vec![offset, u64::from(size)],
                };
                for part in parts {
                    let part = b.ins().iconst(types::I64, part as i64);
                    end = b.ins().uadd_overflow_trap(end, part, trap);
                }
                end
            } else {
                // Below 2^32 + 2^32 + 8: no overflow in 64 bits.
                b.ins().iadd_imm_u(index, (offset + size as u64) as i64)
            };
            let oob = b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
            b.ins().trapnz(oob, trap);
        }
        let base = self.memory_base(b, mem);
        let mut a = b.ins().iadd(base, index);
        if offset <= i32::MAX as u64 {
            (a, offset as i32, None)
        } else {
            a = b.ins().iadd_imm_u(a, offset as i64);
            (a, 0, None)
        }
    }

    /// Memory flags of a Wasm load or store: faults are out-of-bounds traps.
    pub fn heap_flags(&self) -> MemFlagsData {
        MemFlagsData::new().with_trap_code(Some(trap_code(TrapKind::MemoryOutOfBounds)))
    }

    /// Address and offset of global `index`'s storage.
    pub fn global_addr(&mut self, b: &mut FunctionBuilder, index: u32) -> (Value, i32) {
        let vmctx = self.vmctx();
        let num_imported = self.info().num_imported_globals;
        if index < num_imported {
            let addr = b.ins().load(
                PTR,
                readonly(),
                vmctx,
                self.module.offsets.imported_global(index) as i32,
            );
            (addr, 0)
        } else {
            (
                vmctx,
                self.module.offsets.defined_global(index - num_imported) as i32,
            )
        }
    }

    /// global.get: a load from its place, or the pinned register for the register global.
    pub fn global_get(&mut self, b: &mut FunctionBuilder, index: u32) -> Value {
        let ty = ir_type(self.info().globals[index as usize].ty);
        if self.module.register_global == Some(index) {
            return read_pinned(b, ty);
        }
        let (addr, off) = self.global_addr(b, index);
        b.ins().load(ty, MemFlagsData::trusted(), addr, off)
    }

    /// global.set: a store to its place, or the pinned register for the register global.
    pub fn global_set(&mut self, b: &mut FunctionBuilder, index: u32, v: Value) {
        if self.module.register_global == Some(index) {
            write_pinned(b, v);
            return;
        }
        let (addr, off) = self.global_addr(b, index);
        b.ins().store(MemFlagsData::trusted(), v, addr, off);
    }

    /// At a landing pad: the unwinder that resumed here kept no register but the stack and
    /// frame pointers, and the throw stub stored the register global first, so reload it.
    pub fn reload_register_global(&mut self, b: &mut FunctionBuilder) {
        if let Some((offset, ty)) = self.module.register_global_offset() {
            let vmctx = self.vmctx();
            load_register_global(b, vmctx, offset, ty);
        }
    }

    /// Address of table `index`'s `VMTableDef`.
    fn table_def(&mut self, b: &mut FunctionBuilder, index: u32) -> Value {
        let n = self.info().num_imported_tables;
        self.entity_def(
            b,
            index,
            n,
            VMOffsets::imported_table,
            VMOffsets::defined_table,
        )
    }

    /// Whether table `index` has i64 indices (a 64-bit table).
    pub fn table64(&self, index: u32) -> bool {
        self.info().tables[index as usize].table64
    }

    /// table.size: an i64 for a 64-bit table, an i32 otherwise.
    pub fn table_size(&mut self, b: &mut FunctionBuilder, table: u32) -> Value {
        let def = self.table_def(b, table);
        let len = b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            def,
            VMTABLE_LENGTH as i32,
        );
        if self.table64(table) {
            len
        } else {
            b.ins().ireduce(types::I32, len)
        }
    }

    /// Address of element `index` (an i32, or an i64 for a 64-bit table) of `table`,
    /// trapping when it is out of bounds.
    pub fn table_elem_addr(&mut self, b: &mut FunctionBuilder, table: u32, index: Value) -> Value {
        let def = self.table_def(b, table);
        let len = b.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            def,
            VMTABLE_LENGTH as i32,
        );
        let index = index_as_i64(b, index);
        let oob = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        b.ins().trapnz(oob, trap_code(TrapKind::TableOutOfBounds));
        let base = b
            .ins()
            .load(PTR, MemFlagsData::trusted(), def, VMTABLE_BASE as i32);
        let off = b
            .ins()
            .imul_imm_u(index, i64::from(aot_abi::TABLE_SLOT_SIZE));
        b.ins().iadd(base, off)
    }

    fn sig_ref(&mut self, func: &mut Function, type_index: u32) -> ir::SigRef {
        if let Some(s) = self.sig_refs.get(&type_index) {
            return *s;
        }
        let sig = wasm_signature(&self.info().meta.types[type_index as usize]);
        let s = func.import_signature(sig);
        self.sig_refs.insert(type_index, s);
        s
    }

    /// Calls Wasm function `index` with `args` (without vmctx); returns the results.
    pub fn call(&mut self, b: &mut FunctionBuilder, index: u32, args: &[Value]) -> Vec<Value> {
        self.direct_call(b, index, args, CallKind::Call)
    }

    /// `return_call` of Wasm function `index`: this function's frame is replaced by the
    /// callee's, which returns to our caller. Terminates the current block.
    pub fn return_call(&mut self, b: &mut FunctionBuilder, index: u32, args: &[Value]) {
        self.direct_call(b, index, args, CallKind::TailCall);
    }

    fn direct_call(
        &mut self,
        b: &mut FunctionBuilder,
        index: u32,
        args: &[Value],
        kind: CallKind,
    ) -> Vec<Value> {
        let info = self.info();
        let vmctx = self.vmctx();
        let mut full = Vec::with_capacity(args.len() + 1);
        let host = (index < info.num_imported_funcs)
            .then(|| self.module.host_tramp_names[index as usize])
            .flatten();
        if let Some(name_index) = host {
            // The runtime provides it: call the module's host-call trampoline directly.
            let fref = self.colocated_ref(b, index, name_index);
            full.push(vmctx);
            full.extend_from_slice(args);
            self.emit_call(b, kind, Callee::Direct(fref), &full)
        } else if index < info.num_imported_funcs {
            let ty = info.meta.funcs[index as usize];
            let sig = self.sig_ref(b.func, ty);
            let off = self.module.offsets.imported_func(index) as i32;
            let code = b
                .ins()
                .load(PTR, readonly(), vmctx, off + VMIMPORT_CODE as i32);
            let callee_vmctx = b
                .ins()
                .load(PTR, readonly(), vmctx, off + VMIMPORT_VMCTX as i32);
            full.push(callee_vmctx);
            full.extend_from_slice(args);
            self.emit_call(b, kind, Callee::Indirect(sig, code), &full)
        } else {
            let name_index =
                self.module.defined_func_names[(index - info.num_imported_funcs) as usize];
            let fref = self.colocated_ref(b, index, name_index);
            full.push(vmctx);
            full.extend_from_slice(args);
            self.emit_call(b, kind, Callee::Direct(fref), &full)
        }
    }

    /// A direct reference to function `index` of this object (a defined function or a
    /// host-call trampoline), whose Cranelift user name is `name_index`.
    fn colocated_ref(&mut self, b: &mut FunctionBuilder, index: u32, name_index: u32) -> FuncRef {
        if let Some(f) = self.func_refs.get(&index) {
            return *f;
        }
        let ty = self.info().meta.funcs[index as usize];
        let sig = self.sig_ref(b.func, ty);
        let name = b.func.declare_imported_user_function(UserExternalName {
            namespace: NS_FUNC,
            index: name_index,
        });
        let f = b.func.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature: sig,
            colocated: true,
            patchable: false,
        });
        self.func_refs.insert(index, f);
        f
    }

    /// call_indirect through `table` with Wasm signature `type_index`.
    pub fn call_indirect(
        &mut self,
        b: &mut FunctionBuilder,
        table: u32,
        type_index: u32,
        index: Value,
        args: &[Value],
    ) -> Vec<Value> {
        self.indirect_call(b, table, type_index, index, args, CallKind::Call)
    }

    /// return_call_indirect: the checks of call_indirect (which trap in this frame, so a
    /// backtrace shows it), then a tail call. Terminates the current block.
    pub fn return_call_indirect(
        &mut self,
        b: &mut FunctionBuilder,
        table: u32,
        type_index: u32,
        index: Value,
        args: &[Value],
    ) {
        self.indirect_call(b, table, type_index, index, args, CallKind::TailCall);
    }

    fn indirect_call(
        &mut self,
        b: &mut FunctionBuilder,
        table: u32,
        type_index: u32,
        index: Value,
        args: &[Value],
        kind: CallKind,
    ) -> Vec<Value> {
        let Some(st) = self.module.static_tables[table as usize] else {
            let funcref = self.checked_funcref(b, table, type_index, index);
            let (code, callee_vmctx) = self.funcref_code(b, funcref, MemFlagsData::trusted());
            return self.call_code(b, type_index, code, callee_vmctx, args, kind);
        };
        // The table cannot change: check the index against its constant length, then the
        // element's compile-time type key against the expected type's. A different key
        // (a null element, an imported function, or another type that may still be a
        // subtype) takes the general path in a cold block.
        let index = index_as_i64(b, index);
        let len = i64::try_from(st.len).expect("a static table has at most 2^20 elements");
        let oob = b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThanOrEqual, index, len);
        b.ins().trapnz(oob, trap_code(TrapKind::TableOutOfBounds));
        let gv = self.static_table_gv(b.func, table, st.data_index);
        let base = b.ins().symbol_value(PTR, gv);
        let off = b
            .ins()
            .ishl_imm_u(index, i64::from(ENTRY_SIZE.trailing_zeros()));
        let entry = b.ins().iadd(base, off);
        // Immutable data, read only after the bounds check (so not `can_move`).
        let flags = MemFlagsData::trusted().with_readonly();
        let key = b.ins().load(types::I32, flags, entry, ENTRY_KEY as i32);
        let code = b.ins().load(PTR, flags, entry, 0);
        let want = self.module.type_keys[type_index as usize];
        let hit = b.ins().icmp_imm_u(IntCC::Equal, key, i64::from(want));
        let call = b.create_block();
        let code_param = b.append_block_param(call, PTR);
        let vmctx_param = b.append_block_param(call, PTR);
        let slow = b.create_block();
        let vmctx = self.vmctx();
        b.ins()
            .brif(hit, call, &[code.into(), vmctx.into()], slow, &[]);
        b.set_cold_block(slow);
        b.switch_to_block(slow);
        b.seal_block(slow);
        let funcref = self.checked_funcref(b, table, type_index, index);
        let (code, callee_vmctx) = self.funcref_code(b, funcref, MemFlagsData::trusted());
        b.ins().jump(call, &[code.into(), callee_vmctx.into()]);
        b.switch_to_block(call);
        b.seal_block(call);
        self.call_code(b, type_index, code_param, vmctx_param, args, kind)
    }

    /// The address of table `table`'s static copy, data object `data_index`.
    fn static_table_gv(&mut self, func: &mut Function, table: u32, data_index: u32) -> GlobalValue {
        if let Some(gv) = self.static_table_gvs.get(&table) {
            return *gv;
        }
        // Cranelift's object module names data objects in user namespace 1.
        let name = func.declare_imported_user_function(UserExternalName {
            namespace: 1,
            index: data_index,
        });
        let gv = func.create_global_value(GlobalValueData::Symbol {
            name: ExternalName::user(name),
            offset: 0.into(),
            colocated: true,
            tls: false,
        });
        self.static_table_gvs.insert(table, gv);
        gv
    }

    /// The funcref at `index` of `table` (an i32 or i64), after the checks of
    /// `call_indirect` against type `type_index`: in bounds, not null, of a subtype.
    fn checked_funcref(
        &mut self,
        b: &mut FunctionBuilder,
        table: u32,
        type_index: u32,
        index: Value,
    ) -> Value {
        let slot = self.table_elem_addr(b, table, index);
        let funcref = b.ins().load(PTR, MemFlagsData::trusted(), slot, 0);
        // A null funcref faults on this load; the trap table names the fault.
        let null_flags = MemFlagsData::new()
            .with_aligned()
            .with_trap_code(Some(trap_code(TrapKind::IndirectCallToNull)));
        let actual = b
            .ins()
            .load(types::I32, null_flags, funcref, VMFUNCREF_TYPE_ID as i32);
        let vmctx = self.vmctx();
        let expected = b.ins().load(
            types::I32,
            readonly(),
            vmctx,
            self.module.offsets.type_id(type_index) as i32,
        );
        let mismatch = b.ins().icmp(IntCC::NotEqual, actual, expected);
        if self.info().meta.type_def(type_index).is_final {
            // A final type has no subtypes: only its own id matches.
            b.ins().trapnz(mismatch, trap_code(TrapKind::BadSignature));
        } else {
            // A declared subtype matches too; the runtime knows the supertype chains.
            let slow = b.create_block();
            let done = b.create_block();
            b.ins().brif(mismatch, slow, &[], done, &[]);
            b.set_cold_block(slow);
            b.switch_to_block(slow);
            b.seal_block(slow);
            let ok = self
                .call_builtin(b, Builtin::func_subtype, &[actual, expected])
                .expect("returns");
            b.ins().trapz(ok, trap_code(TrapKind::BadSignature));
            b.ins().jump(done, &[]);
            b.switch_to_block(done);
            b.seal_block(done);
        }
        funcref
    }

    /// The code and vmctx of `funcref` (a `*const VMFuncRef`, its code loaded with
    /// `code_flags`).
    fn funcref_code(
        &mut self,
        b: &mut FunctionBuilder,
        funcref: Value,
        code_flags: MemFlagsData,
    ) -> (Value, Value) {
        let code = b
            .ins()
            .load(PTR, code_flags, funcref, VMFUNCREF_CODE as i32);
        let callee_vmctx = b.ins().load(
            PTR,
            MemFlagsData::trusted(),
            funcref,
            VMFUNCREF_VMCTX as i32,
        );
        (code, callee_vmctx)
    }

    /// Calls `code` with `callee_vmctx` as a function of type `type_index`.
    fn call_code(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        code: Value,
        callee_vmctx: Value,
        args: &[Value],
        kind: CallKind,
    ) -> Vec<Value> {
        let sig = self.sig_ref(b.func, type_index);
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(callee_vmctx);
        full.extend_from_slice(args);
        self.emit_call(b, kind, Callee::Indirect(sig, code), &full)
    }

    /// call_ref of a function reference `callee` (a `*const VMFuncRef`, null or of a
    /// subtype of `type_index`, which validation guarantees: no signature check). The callee
    /// may belong to another instance: its record carries its vmctx.
    pub fn call_ref(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        callee: Value,
        args: &[Value],
    ) -> Vec<Value> {
        self.ref_call(b, type_index, callee, args, CallKind::Call)
    }

    /// return_call_ref: call_ref's null check here (so a backtrace shows this frame), then
    /// a tail call. Terminates the current block.
    pub fn return_call_ref(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        callee: Value,
        args: &[Value],
    ) {
        self.ref_call(b, type_index, callee, args, CallKind::TailCall);
    }

    fn ref_call(
        &mut self,
        b: &mut FunctionBuilder,
        type_index: u32,
        funcref: Value,
        args: &[Value],
        kind: CallKind,
    ) -> Vec<Value> {
        // A null reference faults on this load (the first page is never mapped); the trap
        // table names the fault, as wasmtime's "null reference".
        let null_flags = MemFlagsData::new()
            .with_aligned()
            .with_trap_code(Some(trap_code(TrapKind::NullReference)));
        let (code, callee_vmctx) = self.funcref_code(b, funcref, null_flags);
        self.call_code(b, type_index, code, callee_vmctx, args, kind)
    }

    /// ref.func: the address of this instance's `VMFuncRef` for function `index`, if it
    /// has one (every function validation allows `ref.func` of does).
    pub fn ref_func(&mut self, b: &mut FunctionBuilder, index: u32) -> Option<Value> {
        let info = self.module.info;
        let slot = info
            .meta
            .funcref_slots
            .slot(info.num_imported_funcs, index)?;
        let vmctx = self.vmctx();
        Some(
            b.ins()
                .iadd_imm_u(vmctx, self.module.offsets.funcref(slot) as i64),
        )
    }

    /// The runtime's canonical id of module type `t` (a u32).
    pub fn type_id(&mut self, b: &mut FunctionBuilder, t: u32) -> Value {
        let vmctx = self.vmctx();
        b.ins().load(
            types::I32,
            readonly(),
            vmctx,
            self.module.offsets.type_id(t) as i32,
        )
    }

    /// Allocates a GC object of `size` bytes (i64, a multiple of 8) whose header is
    /// `info`: inline from the store's window when it fits, else through the module's GC
    /// stub (which may collect). `maybe_large`: the size may reach the large-object
    /// threshold, whose objects the runtime always allocates. The object is zeroed but
    /// for its header.
    pub fn gc_alloc(
        &mut self,
        b: &mut FunctionBuilder,
        info: Value,
        size: Value,
        maybe_large: bool,
    ) -> Value {
        let vmctx = self.vmctx();
        let store = b
            .ins()
            .load(PTR, readonly(), vmctx, aot_abi::VMCTX_STORE as i32);
        let flags = MemFlagsData::trusted();
        let top = b
            .ins()
            .load(PTR, flags, store, aot_abi::VMSTORE_GC_TOP as i32);
        let limit = b
            .ins()
            .load(PTR, flags, store, aot_abi::VMSTORE_GC_LIMIT as i32);
        let new = b.ins().iadd(top, size);
        let mut slow_cond = b.ins().icmp(IntCC::UnsignedGreaterThan, new, limit);
        if maybe_large {
            let big = b.ins().icmp_imm_u(
                IntCC::UnsignedGreaterThanOrEqual,
                size,
                aot_abi::gc::GC_LARGE_OBJECT_BYTES as i64,
            );
            slow_cond = b.ins().bor(slow_cond, big);
        }
        let fast = b.create_block();
        let slow = b.create_block();
        let done = b.create_block();
        b.append_block_param(done, PTR);
        b.ins().brif(slow_cond, slow, &[], fast, &[]);
        b.switch_to_block(fast);
        b.ins()
            .store(flags, new, store, aot_abi::VMSTORE_GC_TOP as i32);
        b.ins().store(flags, info, top, 0);
        b.ins().jump(done, &[ir::BlockArg::Value(top)]);
        b.set_cold_block(slow);
        b.switch_to_block(slow);
        let obj = self.gc_alloc_slow(b, info, size);
        b.ins().jump(done, &[ir::BlockArg::Value(obj)]);
        b.switch_to_block(done);
        b.block_params(done)[0]
    }

    /// Calls a runtime builtin; `args` exclude the vmctx.
    pub fn call_builtin(
        &mut self,
        b: &mut FunctionBuilder,
        builtin: Builtin,
        args: &[Value],
    ) -> Option<Value> {
        let fref = match self.builtin_refs.get(&builtin) {
            Some(f) => *f,
            None => {
                let sig = b
                    .func
                    .import_signature(builtin.signature(self.module.call_conv));
                let name = b.func.declare_imported_user_function(UserExternalName {
                    namespace: NS_FUNC,
                    index: self.module.builtin_names[&builtin],
                });
                // A direct call, not one through the GOT: the executable is static, so
                // on x86_64 every symbol is within a rel32's +-2 GiB; on aarch64 `bl`
                // reaches +-128 MiB, and the linker (libwild, and lld for the external
                // link) inserts range-extension thunks for R_AARCH64_CALL26 beyond that,
                // as it must already for calls between Wasm functions of a huge module.
                let f = b.func.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.builtin_refs.insert(builtin, f);
                f
            }
        };
        let vmctx = self.vmctx();
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(vmctx);
        full.extend_from_slice(args);
        let call = b.ins().call(fref, &full);
        b.inst_results(call).first().copied()
    }

    /// Calls C library function `f` with `args` (no vmctx); its result is unused.
    pub fn call_libc(&mut self, b: &mut FunctionBuilder, f: LibcFn, args: &[Value]) {
        let fref = match self.libc_refs.get(&f) {
            Some(r) => *r,
            None => {
                let sig = b.func.import_signature(f.signature(self.module.call_conv));
                let name = b.func.declare_imported_user_function(UserExternalName {
                    namespace: NS_FUNC,
                    index: self.module.libc_names[&f],
                });
                // Direct, as builtins are (see `call_builtin`).
                let r = b.func.import_function(ExtFuncData {
                    name: ExternalName::user(name),
                    signature: sig,
                    colocated: true,
                    patchable: false,
                });
                self.libc_refs.insert(f, r);
                r
            }
        };
        b.ins().call(fref, args);
    }

    /// Calls a builtin that returns a trap status, and traps with that kind if nonzero.
    pub fn call_builtin_checked(
        &mut self,
        b: &mut FunctionBuilder,
        builtin: Builtin,
        args: &[Value],
        kind: TrapKind,
    ) {
        if let Some(status) = self.call_builtin(b, builtin, args) {
            b.ins().trapnz(status, trap_code(kind));
        }
    }
}

/// The 64-bit index of a folded access at 32-bit Wasm address `addr` (see
/// `aot_abi::MODULE_FLAG_MEMORY0_FOLDED`), when `addr` is a sum the x86_64 addressing mode
/// can take apart and that rarely wraps, so that the access computes
/// `base + x + (y << k) + offset` itself (each term zero-extended):
/// - `x + (y << k)`, k from 1 to `aot_abi::FOLDED_MAX_SHIFT`: the scaled index of an
///   array access;
/// - `x + y` where one term is below [`FOLD_SMALL_TERM`] (a byte or halfword load, a
///   masked value, a small constant): a field or element at a small distance.
///
/// A sum of two unbounded terms is not folded: code adds negative numbers (`p + (n - 1)`,
/// an index counting up to zero from below), and each such access would wrap and take the
/// fault handler's slow path.
fn folded_index(b: &mut FunctionBuilder, addr: Value) -> Option<Value> {
    use ir::{InstructionData, Opcode};
    let dfg = &b.func.dfg;
    if dfg.value_type(addr) != types::I32 {
        return None;
    }
    let shifted = |v: Value| -> Option<(Value, i64)> {
        match dfg.insts[dfg.value_def(v).inst()?] {
            InstructionData::Binary {
                opcode: Opcode::Ishl,
                args: [x, k],
            } if !maybe_negated(dfg, x) => Some((x, shift_amount(dfg, k)?)),
            _ => None,
        }
    };
    let inst = dfg.value_def(addr).inst()?;
    let terms = match dfg.insts[inst] {
        InstructionData::Binary {
            opcode: Opcode::Iadd,
            args: [x, y],
        } => {
            if let Some(t) = shifted(y) {
                vec![(x, 0), t]
            } else if let Some(t) = shifted(x) {
                vec![t, (y, 0)]
            } else if [x, y]
                .iter()
                .any(|&v| upper_bound(dfg, v).is_some_and(|m| m < FOLD_SMALL_TERM))
            {
                vec![(x, 0), (y, 0)]
            } else {
                return None;
            }
        }
        // `y << k` alone gains nothing: Cranelift's addressing modes need a base register.
        _ => return None,
    };
    let mut sum: Option<Value> = None;
    for (v, k) in terms {
        let wide = b.ins().uextend(types::I64, v);
        let wide = if k == 0 {
            wide
        } else {
            b.ins().ishl_imm_u(wide, k)
        };
        sum = Some(match sum {
            Some(s) => b.ins().iadd(s, wide),
            None => wide,
        });
    }
    sum
}

/// Whether the index `v` is computed the way compilers write a negative index: a
/// difference, a negation, a negative constant added, or an exclusive or with a mask
/// (LLVM turns `(-2 - i) << 3` into `(i ^ 0x1ffffffe) << 3`, equal modulo 2^32). Folded,
/// such an index wraps every time.
fn maybe_negated(dfg: &ir::DataFlowGraph, v: Value) -> bool {
    use ir::{InstructionData, Opcode};
    let Some(inst) = dfg.value_def(v).inst() else {
        return false;
    };
    match dfg.insts[inst] {
        InstructionData::Binary {
            opcode: Opcode::Isub | Opcode::Bxor,
            ..
        }
        | InstructionData::Unary {
            opcode: Opcode::Ineg | Opcode::Bnot,
            ..
        } => true,
        InstructionData::Binary {
            opcode: Opcode::Iadd,
            args,
        } => args
            .iter()
            .any(|&a| upper_bound(dfg, a).is_none_or(|m| m >= 1 << 31) && is_const(dfg, a)),
        _ => false,
    }
}

fn is_const(dfg: &ir::DataFlowGraph, v: Value) -> bool {
    dfg.value_def(v).inst().is_some_and(|i| {
        matches!(
            dfg.insts[i],
            ir::InstructionData::UnaryImm {
                opcode: ir::Opcode::Iconst,
                ..
            }
        )
    })
}

/// A term of an unscaled folded sum must stay below this: the other term then wraps the
/// sum only if it is a negative number this close to zero.
const FOLD_SMALL_TERM: u64 = 1 << 16;

/// An upper bound of the i32 `v`, read off the instruction defining it.
fn upper_bound(dfg: &ir::DataFlowGraph, v: Value) -> Option<u64> {
    use ir::{InstructionData, Opcode};
    let constant = |v: Value| match dfg.insts[dfg.value_def(v).inst()?] {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => Some(imm.bits() as u64 & 0xffff_ffff),
        _ => None,
    };
    match dfg.insts[dfg.value_def(v).inst()?] {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => Some(imm.bits() as u64 & 0xffff_ffff),
        InstructionData::Load {
            opcode: Opcode::Uload8,
            ..
        } => Some(0xff),
        InstructionData::Load {
            opcode: Opcode::Uload16,
            ..
        } => Some(0xffff),
        InstructionData::Binary {
            opcode: Opcode::Band,
            args: [x, y],
        } => constant(x).or_else(|| constant(y)),
        InstructionData::Binary {
            opcode: Opcode::Ushr,
            args: [_, k],
        } => constant(k).map(|k| u64::from(u32::MAX) >> (k & 31)),
        _ => None,
    }
}

/// The shift of `ishl x, k` when `k` is a constant whose shift (Wasm takes it modulo 32)
/// the addressing mode can scale by.
fn shift_amount(dfg: &ir::DataFlowGraph, k: Value) -> Option<i64> {
    let inst = dfg.value_def(k).inst()?;
    match dfg.insts[inst] {
        ir::InstructionData::UnaryImm {
            opcode: ir::Opcode::Iconst,
            imm,
        } => {
            let k = imm.bits() & 31;
            (1..=i64::from(aot_abi::FOLDED_MAX_SHIFT))
                .contains(&k)
                .then_some(k)
        }
        _ => None,
    }
}
