//! Code generation for one module: translates every function (in parallel), compiles it
//! with Cranelift, and writes one object file holding the code, the array-call
//! trampolines, the throw and GC stubs, the trap, exception-handler and stack-map tables
//! and the `ModuleDescriptor` the runtime instantiates from.

use std::borrow::Cow;
use std::mem::offset_of;
use std::sync::Arc;

use aot_abi::{
    HandlerRecord, InlineRecord, ModuleDescriptor, StackMapRecord, TrapRecord, VMOffsets, ValRaw,
};
use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::inline::{Inline, InlineCommand};
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, UserFuncName, types};
use cranelift_codegen::isa::{self, CallConv};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, DataId, FuncId, Linkage, Module, ModuleReloc};
use cranelift_object::{ObjectBuilder, ObjectModule};
use rayon::prelude::*;

use crate::env::{self, Builtin, ModuleEnv, array_call_signature, host_signature, wasm_signature};
use crate::module::ModuleInfo;
use crate::{CompileError, Options};

struct CompiledFunc {
    /// Machine code as text, when disassembly was asked for.
    disasm: Option<String>,
    bytes: Vec<u8>,
    alignment: u64,
    relocs: Vec<ModuleReloc>,
    /// (offset, `TrapRecord::kind`).
    traps: Vec<(u32, u32)>,
    /// (offset, frames innermost first) of sites inside inlined code.
    inlined: Vec<(u32, Vec<u32>)>,
    /// (return address, handler, frame offset) of every call site with a handler.
    handlers: Vec<(u32, u32, u32)>,
    /// (return address, span, slot offsets from SP) of every call site with references
    /// live across it (see `aot_abi::StackMapRecord`).
    stack_maps: Vec<(u32, u32, Vec<u32>)>,
}

/// What code generation decides for a module as a whole, before translating a function:
/// the same for compiling and for disassembling it.
struct Decisions {
    /// Per table (imports first): its contents, if fixed at compile time.
    static_tables: Vec<Option<crate::static_tables::StaticTable>>,
    type_keys: Vec<u32>,
    /// The global kept in the pinned register, if the program allows one and a global is
    /// worth it.
    register_global: Option<u32>,
    /// See `env::ModuleEnv::shared_store_as_swap`.
    shared_store_as_swap: bool,
    /// See `env::ModuleEnv::folded_offsets`.
    folded_offsets: Vec<u32>,
}

impl Decisions {
    fn new(info: &ModuleInfo, opts: &Options) -> Decisions {
        let folds = folds_addresses(info, opts);
        let facts = crate::scan::scan(info, folds);
        Decisions {
            static_tables: crate::static_tables::find(info, &facts),
            type_keys: crate::static_tables::type_keys(&info.meta),
            register_global: opts
                .global_in_register
                .then(|| crate::scan::register_global(info, &facts))
                .flatten(),
            shared_store_as_swap: opts.target.arch == crate::target::Arch::Aarch64,
            // The most frequent offsets first: `env::FoldedOffsets` keeps as many as it has
            // trap codes for.
            folded_offsets: facts.memory0_offsets.iter().map(|&(o, _)| o).collect(),
        }
    }

    /// `ModuleEnv::static_tables`: each fixed table with the data index `data_index` gives
    /// its copy.
    fn table_refs(
        &self,
        data_index: impl Fn(usize) -> Option<u32>,
    ) -> Vec<Option<env::StaticTableRef>> {
        self.static_tables
            .iter()
            .enumerate()
            .map(|(t, st)| {
                Some(env::StaticTableRef {
                    data_index: data_index(t)?,
                    len: st.as_ref()?.len,
                })
            })
            .collect()
    }
}

/// Whether accesses to memory 0 may fold their 32-bit address sums (see
/// `aot_abi::MODULE_FLAG_MEMORY0_FOLDED`): at -O2 on x86_64, whose addressing modes take
/// `base + index * scale + displacement` (aarch64's cannot add a third term, so folding
/// would gain nothing there), for a memory 0 at the fixed base (whose address is the
/// displacement), not shared (the fault handler copies pages) and whose minimum leaves it
/// below 4 GiB.
fn folds_addresses(info: &ModuleInfo, opts: &Options) -> bool {
    opts.fold_addresses
        && opts.opt_level >= 2
        && opts.target.arch == crate::target::Arch::X86_64
        && crate::memory0_base(info, opts).is_some()
        && info
            .memories
            .first()
            .is_some_and(|m| !m.shared && m.min <= aot_abi::FOLDED_MAX_PAGES)
}

/// Compiles a parsed module into an object defining `aot_abi::module_symbol(index)`.
pub fn compile(info: &ModuleInfo, index: usize, opts: &Options) -> Result<Vec<u8>, CompileError> {
    let file = info.file.as_str();
    let err = |m: String| CompileError::new(file, None, m);
    let decided = Decisions::new(info, opts);
    let (isa, mut module) = object_module(
        opts,
        &format!("aot_module_{index}"),
        decided.register_global.is_some(),
    )
    .map_err(err)?;
    let call_conv = isa.default_call_conv();
    let merr = |e: cranelift_module::ModuleError| err(format!("object emission: {e}"));

    // Declarations: defined functions, builtins, trampolines.
    let num_imported = info.num_imported_funcs;
    let mut func_ids = Vec::with_capacity(info.bodies.len());
    for i in 0..info.bodies.len() as u32 {
        let sig = wasm_signature(info.func_type(num_imported + i));
        let id = module
            .declare_function(&format!("aot_m{index}_f{i}"), Linkage::Local, &sig)
            .map_err(merr)?;
        func_ids.push(id);
    }
    let mut builtin_names = std::collections::HashMap::new();
    for b in Builtin::ALL {
        let id = module
            .declare_function(
                &format!("{}{}", aot_abi::BUILTIN_PREFIX, b.name()),
                Linkage::Import,
                &b.signature(call_conv),
            )
            .map_err(merr)?;
        builtin_names.insert(*b, id.as_u32());
    }
    let mut libc_names = std::collections::HashMap::new();
    for f in env::LibcFn::ALL {
        let id = module
            .declare_function(f.symbol(), Linkage::Import, &f.signature(call_conv))
            .map_err(merr)?;
        libc_names.insert(*f, id.as_u32());
    }
    // Host-call trampolines: one per import the runtime provides, calling its symbol.
    let mut host_tramps: Vec<Option<(FuncId, FuncId)>> =
        Vec::with_capacity(info.host_imports.len());
    for (i, symbol) in info.host_imports.iter().enumerate() {
        let Some(symbol) = symbol else {
            host_tramps.push(None);
            continue;
        };
        let sig = wasm_signature(info.func_type(i as u32));
        let host_sig = host_signature(call_conv, info.func_type(i as u32));
        let host = module
            .declare_function(symbol, Linkage::Import, &host_sig)
            .map_err(merr)?;
        let tramp = module
            .declare_function(&format!("aot_m{index}_host{i}"), Linkage::Local, &sig)
            .map_err(merr)?;
        host_tramps.push(Some((tramp, host)));
    }
    let throw_stub = module
        .declare_function(
            &format!("aot_m{index}_throw"),
            Linkage::Local,
            &env::throw_stub_signature(),
        )
        .map_err(merr)?;
    let gc_stub = module
        .declare_function(
            &format!("aot_m{index}_gc_stub"),
            Linkage::Local,
            &env::gc_stub_signature(),
        )
        .map_err(merr)?;
    // Read-only copies of the tables fixed at compile time, for call_indirect.
    let static_tables = &decided.static_tables;
    let mut static_table_ids = Vec::with_capacity(static_tables.len());
    for (t, st) in static_tables.iter().enumerate() {
        static_table_ids.push(match st {
            Some(_) => Some(
                module
                    .declare_data(
                        &format!("aot_m{index}_stable{t}"),
                        Linkage::Local,
                        false,
                        false,
                    )
                    .map_err(merr)?,
            ),
            None => None,
        });
    }
    let menv = ModuleEnv {
        info,
        offsets: VMOffsets::new(info.meta.counts()),
        bounds: opts.bounds,
        call_conv,
        frontend_config: isa.frontend_config(),
        defined_func_names: func_ids.iter().map(|f| f.as_u32()).collect(),
        host_tramp_names: host_tramps
            .iter()
            .map(|t| t.map(|(tramp, _)| tramp.as_u32()))
            .collect(),
        builtin_names,
        libc_names,
        throw_stub_name: throw_stub.as_u32(),
        gc_stub_name: gc_stub.as_u32(),
        relaxed_simd: env::RelaxedSimd::for_isa(&*isa),
        shared_store_as_swap: decided.shared_store_as_swap,
        component: opts.component,
        memory0_base: crate::memory0_base(info, opts),
        folded_offsets: env::FoldedOffsets::new(&decided.folded_offsets),
        unroll: opts.unroll_at_level(),
        static_tables: decided.table_refs(|t| static_table_ids[t].map(|id| id.as_u32())),
        type_keys: decided.type_keys.clone(),
        register_global: decided.register_global,
    };
    let register_offset = menv.register_global_offset();

    // Translate every function, then compile each (inlining tiny callees at -O2), all in
    // parallel; define them in order.
    let translated: Vec<ir::Function> = (0..info.bodies.len())
        .into_par_iter()
        .map_init(FunctionBuilderContext::new, |fctx, i| {
            translate(&menv, i as u32, func_ids[i], fctx)
        })
        .collect::<Result<_, _>>()?;
    let sizes = body_sizes(&translated, throw_stub);
    let inliner = SmallCallees::new(&translated, &sizes, opts.opt_level);
    let compiled: Vec<Result<CompiledFunc, CompileError>> = (0..translated.len())
        .into_par_iter()
        .map(|i| {
            compile_function(
                &menv,
                &*isa,
                i as u32,
                &translated[i],
                func_ids[i],
                &inliner,
                false,
            )
        })
        .collect();
    let mut func_lens = Vec::with_capacity(compiled.len());
    let mut trap_records = Vec::new();
    let mut inline_records: Vec<InlineRecord> = Vec::new();
    let mut inline_funcs: Vec<u32> = Vec::new();
    let mut handler_records: Vec<HandlerRecord> = Vec::new();
    let mut stack_maps: Vec<StackMapRecord> = Vec::new();
    let mut stack_map_slots: Vec<u32> = Vec::new();
    for (i, c) in compiled.into_iter().enumerate() {
        let c = c?;
        module
            .define_function_bytes(func_ids[i], c.alignment, &c.bytes, &c.relocs)
            .map_err(merr)?;
        func_lens.push(c.bytes.len() as u32);
        for (offset, frames) in c.inlined {
            inline_records.push(InlineRecord {
                func: i as u32,
                offset,
                start: inline_funcs.len() as u32,
                len: frames.len() as u32,
            });
            inline_funcs.extend(frames);
        }
        for (ret_offset, handler_offset, frame_offset) in c.handlers {
            handler_records.push(HandlerRecord {
                func: i as u32,
                ret_offset,
                handler_offset,
                frame_offset,
            });
        }
        for (ret_offset, span, slots) in c.stack_maps {
            stack_maps.push(StackMapRecord {
                func: i as u32,
                ret_offset,
                span,
                start: stack_map_slots.len() as u32,
                len: slots.len() as u32,
            });
            stack_map_slots.extend(slots);
        }
        for (offset, kind) in c.traps {
            trap_records.push(TrapRecord {
                func: i as u32,
                offset,
                kind,
            });
        }
    }
    inline_records.sort_by_key(|r| (r.func, r.offset));
    handler_records.sort_by_key(|r| (r.func, r.ret_offset));
    stack_maps.sort_by_key(|r| (r.func, r.ret_offset));

    for (st, id) in static_tables.iter().zip(&static_table_ids) {
        let (Some(st), Some(id)) = (st, id) else {
            continue;
        };
        define_static_table(&mut module, *id, st, &func_ids, info, &menv.type_keys)
            .map_err(|e| merr(*e))?;
    }

    // One array-call trampoline per type.
    let mut tramp_ids = Vec::with_capacity(info.meta.types.len());
    let mut ctx = Context::new();
    let mut fctx = FunctionBuilderContext::new();
    for (t, ty) in info.meta.types.iter().enumerate() {
        let id = module
            .declare_function(
                &format!("aot_m{index}_tramp{t}"),
                Linkage::Local,
                &array_call_signature(call_conv),
            )
            .map_err(merr)?;
        ctx.func = build_trampoline(
            call_conv,
            isa.frontend_config(),
            ty,
            id,
            register_offset,
            &mut fctx,
        );
        module.define_function(id, &mut ctx).map_err(merr)?;
        module.clear_context(&mut ctx);
        tramp_ids.push(id);
    }

    // The stubs Wasm code calls: each checks the stack limit, and is registered with its
    // trap records so that the check's trap is a Wasm trap.
    let mut stubs = Stubs {
        first_index: func_ids.len() as u32,
        ids: Vec::new(),
        lens: Vec::new(),
    };
    ctx.func = build_fp_stub(
        FpStub::Throw,
        call_conv,
        isa.frontend_config(),
        throw_stub,
        menv.builtin_names[&Builtin::throw_ref],
        register_offset,
        &mut fctx,
    );
    stubs.define(&mut module, &mut ctx, throw_stub, &mut trap_records, file)?;
    ctx.func = build_fp_stub(
        FpStub::Gc,
        call_conv,
        isa.frontend_config(),
        gc_stub,
        menv.builtin_names[&Builtin::gc_alloc],
        None,
        &mut fctx,
    );
    stubs.define(&mut module, &mut ctx, gc_stub, &mut trap_records, file)?;

    let raise = menv.builtin_names[&Builtin::raise_pending_trap];
    for (i, t) in host_tramps.iter().enumerate() {
        let Some((tramp, host)) = *t else { continue };
        ctx.func = build_host_trampoline(
            call_conv,
            isa.frontend_config(),
            info.func_type(i as u32),
            tramp,
            host,
            raise,
            &mut fctx,
        );
        stubs.define(&mut module, &mut ctx, tramp, &mut trap_records, file)?;
    }
    trap_records.sort_by_key(|t| (t.func, t.offset));

    // Data: metadata, segment bytes, tables, and the descriptor that points to them.
    let ptr = aot_abi::POINTER_SIZE as usize;
    let meta = info.meta.encode();
    let meta_id =
        define_bytes(&mut module, &format!("aot_m{index}_meta"), &meta).map_err(|e| merr(*e))?;
    let data_align = if info.data_image_aligned {
        aot_abi::data_image_align(opts.target.abi_arch())
    } else {
        8
    };
    let data_id = define_bytes_aligned(
        &mut module,
        &format!("aot_m{index}_data"),
        &info.data,
        data_align,
    )
    .map_err(|e| merr(*e))?;
    let funcs_id = define_func_ptrs(&mut module, &format!("aot_m{index}_funcs"), &func_ids)
        .map_err(|e| merr(*e))?;
    let lens: Vec<u8> = func_lens.iter().flat_map(|l| l.to_le_bytes()).collect();
    let lens_id = define_bytes(&mut module, &format!("aot_m{index}_func_lens"), &lens)
        .map_err(|e| merr(*e))?;
    let tramps_id = define_func_ptrs(&mut module, &format!("aot_m{index}_tramps"), &tramp_ids)
        .map_err(|e| merr(*e))?;
    let traps: Vec<u8> = trap_records.iter().flat_map(TrapRecord::to_bytes).collect();
    let traps_id =
        define_bytes(&mut module, &format!("aot_m{index}_traps"), &traps).map_err(|e| merr(*e))?;
    let inline_bytes: Vec<u8> = inline_records
        .iter()
        .flat_map(InlineRecord::to_bytes)
        .collect();
    let inline_id = define_bytes(&mut module, &format!("aot_m{index}_inline"), &inline_bytes)
        .map_err(|e| merr(*e))?;
    let handler_bytes: Vec<u8> = handler_records
        .iter()
        .flat_map(HandlerRecord::to_bytes)
        .collect();
    let handlers_id = define_bytes(
        &mut module,
        &format!("aot_m{index}_handlers"),
        &handler_bytes,
    )
    .map_err(|e| merr(*e))?;
    let inline_funcs_bytes: Vec<u8> = inline_funcs.iter().flat_map(|f| f.to_le_bytes()).collect();
    let inline_funcs_id = define_bytes(
        &mut module,
        &format!("aot_m{index}_inline_funcs"),
        &inline_funcs_bytes,
    )
    .map_err(|e| merr(*e))?;

    let stack_map_bytes: Vec<u8> = stack_maps
        .iter()
        .flat_map(StackMapRecord::to_bytes)
        .collect();
    let stack_maps_id = define_bytes(
        &mut module,
        &format!("aot_m{index}_stack_maps"),
        &stack_map_bytes,
    )
    .map_err(|e| merr(*e))?;
    let slot_bytes: Vec<u8> = stack_map_slots
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .collect();
    let stack_map_slots_id = define_bytes(
        &mut module,
        &format!("aot_m{index}_stack_map_slots"),
        &slot_bytes,
    )
    .map_err(|e| merr(*e))?;

    let host_imports_id = define_opt_func_ptrs(
        &mut module,
        &format!("aot_m{index}_host_imports"),
        &host_tramps
            .iter()
            .map(|t| t.map(|(tramp, _)| tramp))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| merr(*e))?;
    let stubs_id = define_func_ptrs(&mut module, &format!("aot_m{index}_stubs"), &stubs.ids)
        .map_err(|e| merr(*e))?;
    let stub_lens: Vec<u8> = stubs.lens.iter().flat_map(|l| l.to_le_bytes()).collect();
    let stub_lens_id = define_bytes(&mut module, &format!("aot_m{index}_stub_lens"), &stub_lens)
        .map_err(|e| merr(*e))?;

    let desc_id = module
        .declare_data(
            &aot_abi::module_symbol(index),
            Linkage::Export,
            false,
            false,
        )
        .map_err(merr)?;
    let mut desc = DataDescription::new();
    let mut bytes = vec![0u8; std::mem::size_of::<ModuleDescriptor>()];
    let put_u32 =
        |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let put_usize = |b: &mut Vec<u8>, off: usize, v: usize| {
        b[off..off + ptr].copy_from_slice(&(v as u64).to_le_bytes())
    };
    put_u32(
        &mut bytes,
        offset_of!(ModuleDescriptor, abi_version),
        aot_abi::ABI_VERSION,
    );
    put_u32(
        &mut bytes,
        offset_of!(ModuleDescriptor, bounds_mode),
        opts.bounds as u32,
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, meta_len),
        meta.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, data_len),
        info.data.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_funcs),
        func_ids.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_trampolines),
        tramp_ids.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_traps),
        trap_records.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_inline_records),
        inline_records.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_inline_funcs),
        inline_funcs.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_handlers),
        handler_records.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_host_imports),
        host_tramps.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_stack_maps),
        stack_maps.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_stack_map_slots),
        stack_map_slots.len(),
    );
    put_usize(
        &mut bytes,
        offset_of!(ModuleDescriptor, num_stubs),
        stubs.ids.len(),
    );
    if menv.memory0_base.is_some() {
        let folded = if menv.folded_offsets.is_empty() {
            0
        } else {
            aot_abi::MODULE_FLAG_MEMORY0_FOLDED
        };
        put_usize(
            &mut bytes,
            offset_of!(ModuleDescriptor, flags),
            (aot_abi::MODULE_FLAG_MEMORY0_FIXED | folded) as usize,
        );
    }
    desc.define(bytes.into_boxed_slice());
    for (field, id) in [
        (offset_of!(ModuleDescriptor, meta), meta_id),
        (offset_of!(ModuleDescriptor, data), data_id),
        (offset_of!(ModuleDescriptor, funcs), funcs_id),
        (offset_of!(ModuleDescriptor, func_lens), lens_id),
        (offset_of!(ModuleDescriptor, trampolines), tramps_id),
        (offset_of!(ModuleDescriptor, traps), traps_id),
        (offset_of!(ModuleDescriptor, inline_records), inline_id),
        (offset_of!(ModuleDescriptor, inline_funcs), inline_funcs_id),
        (offset_of!(ModuleDescriptor, handlers), handlers_id),
        (offset_of!(ModuleDescriptor, host_imports), host_imports_id),
        (offset_of!(ModuleDescriptor, stack_maps), stack_maps_id),
        (
            offset_of!(ModuleDescriptor, stack_map_slots),
            stack_map_slots_id,
        ),
        (offset_of!(ModuleDescriptor, stubs), stubs_id),
        (offset_of!(ModuleDescriptor, stub_lens), stub_lens_id),
    ] {
        let gv = module.declare_data_in_data(id, &mut desc);
        desc.write_data_addr(field as u32, gv, 0);
    }
    desc.set_align(8);
    module.define_data(desc_id, &desc).map_err(merr)?;

    let product = module.finish();
    product
        .emit()
        .map_err(|e| err(format!("object emission: {e}")))
}

/// The stubs of a module being defined (`ModuleDescriptor::stubs`).
struct Stubs {
    /// The trap-record function index of the first stub: the number of defined functions.
    first_index: u32,
    ids: Vec<FuncId>,
    lens: Vec<u32>,
}

impl Stubs {
    /// Defines `ctx.func` as stub `id` with a stack-limit check in its prologue (its callers
    /// have none: it is the last generated code before host code, which needs the slack
    /// below the limit), and adds its trap records to `traps`.
    fn define(
        &mut self,
        module: &mut ObjectModule,
        ctx: &mut Context,
        id: FuncId,
        traps: &mut Vec<TrapRecord>,
        file: &str,
    ) -> Result<(), CompileError> {
        let err = |m: String| CompileError::new(file, None, m);
        ctx.func.stack_limit = Some(env::stack_limit(&mut ctx.func));
        module
            .define_function(id, ctx)
            .map_err(|e| err(format!("object emission: {e}")))?;
        let compiled = ctx
            .compiled_code()
            .ok_or_else(|| err("a defined stub has no code".into()))?;
        let index = self.first_index + self.ids.len() as u32;
        for t in compiled.buffer.traps() {
            let kind = env::trap_kind(t.code)
                .ok_or_else(|| err(format!("unknown trap code {} in a stub", t.code)))?;
            traps.push(TrapRecord {
                func: index,
                offset: t.offset,
                kind: kind as u32,
            });
        }
        self.ids.push(id);
        self.lens.push(compiled.code_buffer().len() as u32);
        module.clear_context(ctx);
        Ok(())
    }
}

fn translate(
    menv: &ModuleEnv,
    def_index: u32,
    id: FuncId,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, CompileError> {
    let info = menv.info;
    let sig = wasm_signature(info.func_type(info.num_imported_funcs + def_index));
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(env::NS_FUNC, id.as_u32()), sig);
    crate::translate::translate_function(
        menv,
        def_index,
        &info.bodies[def_index as usize].body,
        &mut func,
        fctx,
    )?;
    tag_frame_sites(&mut func, info.num_imported_funcs + def_index);
    Ok(func)
}

/// Compiles defined function `def_index`, with a stack-limit check in its prologue only if
/// it calls host code (see [`needs_stack_check`]).
fn compile_function(
    menv: &ModuleEnv,
    isa: &dyn isa::TargetIsa,
    def_index: u32,
    func: &ir::Function,
    id: FuncId,
    inliner: &SmallCallees,
    disasm: bool,
) -> Result<CompiledFunc, CompileError> {
    let mut check = false;
    loop {
        match compile_function_with(
            menv,
            isa,
            def_index,
            func.clone(),
            id,
            inliner,
            disasm,
            check,
        )? {
            Compiled::Done(c) => return Ok(c),
            // Lowering added a call of host code (a libcall) that the IR did not show.
            Compiled::NeedsCheck if !check => check = true,
            Compiled::NeedsCheck => unreachable!("a checked function is never recompiled"),
        }
    }
}

enum Compiled {
    Done(CompiledFunc),
    /// Compiled without a stack-limit check, but the code calls host code: compile again
    /// with one.
    NeedsCheck,
}

/// Does `func` (after inlining) call code that is neither generated Wasm code nor a stub
/// that checks the stack limit itself, i.e. host code, which needs the slack below the
/// limit (see `runtime-lib/src/signals.rs`)? Builtins are the calls in the platform's
/// convention; Wasm functions, host-call trampolines and the throw and GC stubs use the
/// Wasm one. In a component's core module an indirect call may reach a glue function,
/// which does not check, so those count too.
fn needs_stack_check(menv: &ModuleEnv, func: &ir::Function) -> bool {
    func.layout
        .blocks()
        .flat_map(|b| func.layout.block_insts(b))
        .any(|inst| {
            let Some(sig) = func.dfg.call_signature(inst) else {
                return false;
            };
            func.dfg.signatures[sig].call_conv != env::WASM_CALL_CONV
                || (menv.component
                    && matches!(
                        func.dfg.insts[inst].opcode(),
                        ir::Opcode::CallIndirect
                            | ir::Opcode::ReturnCallIndirect
                            | ir::Opcode::TryCallIndirect
                    ))
        })
}

#[allow(clippy::too_many_arguments)]
fn compile_function_with(
    menv: &ModuleEnv,
    isa: &dyn isa::TargetIsa,
    def_index: u32,
    func: ir::Function,
    id: FuncId,
    inliner: &SmallCallees,
    disasm: bool,
    force_check: bool,
) -> Result<Compiled, CompileError> {
    let info = menv.info;
    let file = info.file.as_str();
    let mut ctx = Context::for_function(func);
    if inliner.enabled {
        ctx.inline(*inliner)
            .map_err(|e| CompileError::new(file, None, format!("inlining failed: {e:?}")))?;
    }
    let checked = force_check || needs_stack_check(menv, &ctx.func);
    if checked {
        ctx.func.stack_limit = Some(env::stack_limit(&mut ctx.func));
    }
    ctx.set_disasm(disasm);
    let name = info
        .meta
        .func_display_name(info.num_imported_funcs + def_index);
    let compiled = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| {
            CompileError::new(
                file,
                None,
                format!("code generation failed for {name}: {:?}", e.inner),
            )
        })?;
    if !checked && calls_libcall(compiled.buffer.relocs()) {
        return Ok(Compiled::NeedsCheck);
    }
    let alignment = compiled.buffer.alignment as u64;
    let disasm = compiled.vcode.clone();
    let mut bytes = compiled.code_buffer().to_vec();
    let mut traps = Vec::new();
    for t in compiled.buffer.traps() {
        let kind = menv.trap_record_kind(t.code).ok_or_else(|| {
            CompileError::new(
                file,
                None,
                format!("unknown trap code {} in {name}", t.code),
            )
        })?;
        traps.push((t.offset, kind));
    }
    let mut inlined: Vec<(u32, Vec<u32>)> = Vec::new();
    for site in compiled.buffer.debug_tags() {
        // The first tag is this function's own; more mean inlined code, outermost first.
        if site.tags.len() < 2 {
            continue;
        }
        let frames: Vec<u32> = site.tags[1..]
            .iter()
            .rev()
            .filter_map(|t| match t {
                ir::DebugTag::User(f) => Some(*f),
                ir::DebugTag::StackSlot(_) => None,
            })
            .collect();
        if inlined.last().is_none_or(|(o, _)| *o != site.offset) {
            inlined.push((site.offset, frames));
        }
    }
    let mut handlers = Vec::new();
    for site in compiled.buffer.call_sites() {
        // Every try_call has exactly one handler, a catch-all (see translate::exceptions).
        let handler = site.exception_handlers.iter().find_map(|h| match h {
            cranelift_codegen::FinalizedMachExceptionHandler::Default(off) => Some(*off),
            _ => None,
        });
        if let Some(handler) = handler {
            let frame_offset = site.frame_offset.ok_or_else(|| {
                CompileError::new(
                    file,
                    None,
                    format!("no frame offset at a try_call in {name}"),
                )
            })?;
            handlers.push((site.ret_addr, handler, frame_offset));
        }
    }
    let mut stack_maps = Vec::new();
    for (ret, span, map) in compiled.buffer.user_stack_maps() {
        let mut slots = Vec::new();
        for (ty, offset) in map.entries() {
            // Every reference is one pointer-sized word (`env::ir_type`).
            if ty != types::I64 {
                return Err(CompileError::new(
                    file,
                    None,
                    format!("stack map entry of type {ty} in {name}: references are i64"),
                ));
            }
            slots.push(offset);
        }
        if !slots.is_empty() {
            stack_maps.push((*ret, *span, slots));
        }
    }
    let mach_relocs: Vec<_> = compiled.buffer.relocs().to_vec();
    let mut relocs: Vec<ModuleReloc> = mach_relocs
        .iter()
        .map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id))
        .collect();
    relax_local_data_got(&mut bytes, &mut relocs);
    Ok(Compiled::Done(CompiledFunc {
        disasm,
        bytes,
        alignment,
        relocs,
        traps,
        inlined,
        handlers,
        stack_maps,
    }))
}

/// Rewrites the GOT loads of this object's own data objects' addresses into direct
/// PC-relative address computations, as a linker relaxes them. Cranelift loads every
/// symbol's address from the GOT in PIC mode; the data is in the same executable, a
/// link-time constant distance from the code, so the load (a dependent memory access on
/// `call_indirect`'s path through a static table) is not needed. An instruction that is not
/// the expected GOT load is left alone.
fn relax_local_data_got(bytes: &mut [u8], relocs: &mut [ModuleReloc]) {
    use cranelift_codegen::binemit::Reloc;
    use cranelift_module::ModuleRelocTarget;
    let same_target = |a: &ModuleRelocTarget, b: &ModuleRelocTarget| match (a, b) {
        (
            ModuleRelocTarget::User {
                namespace: n1,
                index: i1,
            },
            ModuleRelocTarget::User {
                namespace: n2,
                index: i2,
            },
        ) => n1 == n2 && i1 == i2,
        _ => false,
    };
    let local_data =
        |r: &ModuleReloc| matches!(r.name, ModuleRelocTarget::User { namespace: 1, .. });
    for i in 0..relocs.len() {
        let r = &relocs[i];
        if !local_data(r) {
            continue;
        }
        let at = r.offset as usize;
        match r.kind {
            // `mov sym@GOTPCREL(%rip), %reg` (REX.W 8B /r, ModRM mod=00 rm=101) becomes
            // `lea sym(%rip), %reg` (8D): the same operand, its address instead of the load.
            Reloc::X86GOTPCRel4
                if at >= 2 && bytes[at - 2] == 0x8b && bytes[at - 1] & 0xc7 == 0x05 =>
            {
                bytes[at - 2] = 0x8d;
                relocs[i].kind = Reloc::X86PCRel4;
            }
            // `adrp xd, :got:sym; ldr xd, [xd, :got_lo12:sym]` becomes
            // `adrp xd, sym; add xd, xd, :lo12:sym`.
            Reloc::Aarch64AdrGotPage21 => {
                let Some(next) = relocs.get(i + 1) else {
                    continue;
                };
                let ldr_at = next.offset as usize;
                if next.kind != Reloc::Aarch64Ld64GotLo12Nc
                    || !same_target(&next.name, &r.name)
                    || ldr_at != at + 4
                    || ldr_at + 4 > bytes.len()
                {
                    continue;
                }
                let word: [u8; 4] = bytes[ldr_at..ldr_at + 4].try_into().expect("4 bytes");
                let ldr = u32::from_le_bytes(word);
                // LDR (immediate, unsigned offset), 64-bit, offset 0.
                if ldr & 0xffff_fc00 != 0xf940_0000 {
                    continue;
                }
                let (rt, rn) = (ldr & 31, (ldr >> 5) & 31);
                // ADD (immediate), 64-bit, imm12 0: the relocation fills it in.
                let add = 0x9100_0000 | (rn << 5) | rt;
                bytes[ldr_at..ldr_at + 4].copy_from_slice(&add.to_le_bytes());
                relocs[i].kind = Reloc::Aarch64AdrPrelPgHi21;
                relocs[i + 1].kind = Reloc::Aarch64AddAbsLo12Nc;
            }
            _ => {}
        }
    }
}

/// Does code with these relocations call a libcall (host code Cranelift calls for an
/// operation it does not lower inline)?
fn calls_libcall(relocs: &[cranelift_codegen::FinalizedMachReloc]) -> bool {
    relocs.iter().any(|r| {
        matches!(
            r.target,
            cranelift_codegen::FinalizedRelocTarget::ExternalName(ir::ExternalName::LibCall(_))
        )
    })
}

/// The generated machine code of every defined function of a module, as text, in
/// function order: `(display name, code)`. For tests that show what codegen does.
pub fn disassemble(
    info: &ModuleInfo,
    opts: &Options,
) -> Result<Vec<(String, String)>, CompileError> {
    let file = info.file.as_str();
    let decided = Decisions::new(info, opts);
    let isa = opts
        .target
        .isa_for_cpu(opts.opt_level, opts.cpu, decided.register_global.is_some())
        .map_err(|m| CompileError::new(file, None, m))?;
    let call_conv = isa.default_call_conv();
    // Names only need to be distinct here; nothing is linked.
    let n = info.bodies.len() as u32;
    let menv = ModuleEnv {
        info,
        offsets: VMOffsets::new(info.meta.counts()),
        bounds: opts.bounds,
        call_conv,
        frontend_config: isa.frontend_config(),
        defined_func_names: (0..n).collect(),
        host_tramp_names: info
            .host_imports
            .iter()
            .enumerate()
            .map(|(i, h)| h.as_ref().map(|_| n + Builtin::ALL.len() as u32 + i as u32))
            .collect(),
        builtin_names: Builtin::ALL
            .iter()
            .enumerate()
            .map(|(i, b)| (*b, n + i as u32))
            .collect(),
        throw_stub_name: n + (Builtin::ALL.len() + info.host_imports.len()) as u32,
        gc_stub_name: n + (Builtin::ALL.len() + info.host_imports.len()) as u32 + 1,
        libc_names: env::LibcFn::ALL
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let after = Builtin::ALL.len() + info.host_imports.len() + 2 + i;
                (*f, n + after as u32)
            })
            .collect(),
        relaxed_simd: env::RelaxedSimd::for_isa(&*isa),
        shared_store_as_swap: decided.shared_store_as_swap,
        component: opts.component,
        memory0_base: crate::memory0_base(info, opts),
        folded_offsets: env::FoldedOffsets::new(&decided.folded_offsets),
        unroll: opts.unroll_at_level(),
        // Data names only need to be distinct too.
        static_tables: decided.table_refs(|t| Some(t as u32)),
        type_keys: decided.type_keys.clone(),
        register_global: decided.register_global,
    };
    let mut fctx = FunctionBuilderContext::new();
    let translated: Vec<ir::Function> = (0..n)
        .map(|i| translate(&menv, i, FuncId::from_u32(i), &mut fctx))
        .collect::<Result<_, _>>()?;
    let sizes = body_sizes(&translated, FuncId::from_u32(menv.throw_stub_name));
    let inliner = SmallCallees::new(&translated, &sizes, opts.opt_level);
    let mut out = Vec::new();
    for (i, f) in translated.iter().enumerate() {
        let i = i as u32;
        let c = compile_function(&menv, &*isa, i, f, FuncId::from_u32(i), &inliner, true)?;
        out.push((
            info.meta.func_display_name(info.num_imported_funcs + i),
            c.disasm.unwrap_or_default(),
        ));
    }
    Ok(out)
}

/// Tags every call with the function it belongs to. When Cranelift inlines a call, it
/// prepends the call's tags to the inlined calls' tags, so after compilation each return
/// address knows the chain of functions it came from, and backtraces show inlined
/// functions as frames of their own. (Cranelift allows tags only on calls, so a trap whose
/// faulting instruction is itself inlined code shows the function it was inlined into.)
fn tag_frame_sites(func: &mut ir::Function, func_index: u32) {
    let mut sites = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            let op = func.dfg.insts[inst].opcode();
            // A tail call leaves no return address into this function to describe.
            if op.is_call() && !op.is_return() {
                sites.push(inst);
            }
        }
    }
    for inst in sites {
        func.debug_tags.set(inst, [ir::DebugTag::User(func_index)]);
    }
}

/// Inlines calls to tiny defined functions (accessors, wrappers), where the call costs
/// more than the body. Only direct calls between a module's own functions qualify, one
/// level deep, so code size stays bounded.
#[derive(Clone, Copy)]
struct SmallCallees<'a> {
    enabled: bool,
    bodies: &'a [ir::Function],
    /// CLIF instruction count of each body.
    sizes: &'a [usize],
}

/// The CLIF instruction count of each body, or `usize::MAX` for a body that makes a tail
/// call: inlining it would keep its frame in backtraces (as an inlined frame of the caller)
/// although `return_call` has replaced it.
fn body_sizes(bodies: &[ir::Function], throw_stub: FuncId) -> Vec<usize> {
    bodies
        .iter()
        .map(|f| {
            let insts = || f.layout.blocks().flat_map(|b| f.layout.block_insts(b));
            // A try_call's handler records belong to the function it is in; inlined, they
            // would need the caller's landing pads too. A throw stays in its function so
            // that an uncaught exception's backtrace starts there.
            let throws = |i: ir::Inst| {
                let ir::InstructionData::Call { func_ref, .. } = f.dfg.insts[i] else {
                    return false;
                };
                let ir::ExternalName::User(r) = f.dfg.ext_funcs[func_ref].name else {
                    return false;
                };
                f.params.user_named_funcs()[r].index == throw_stub.as_u32()
            };
            let tail_calls = insts().any(|i| {
                throws(i)
                    || matches!(
                        f.dfg.insts[i].opcode(),
                        ir::Opcode::ReturnCall
                            | ir::Opcode::ReturnCallIndirect
                            | ir::Opcode::TryCall
                            | ir::Opcode::TryCallIndirect
                    )
            });
            // Cranelift's inliner copies a callee's symbol global values (a static table's
            // address) without renaming their user names into the caller's.
            let symbols = f
                .global_values
                .values()
                .any(|gv| matches!(gv, ir::GlobalValueData::Symbol { .. }));
            if tail_calls || symbols {
                usize::MAX
            } else {
                insts().count()
            }
        })
        .collect()
}

/// Callees with at most this many CLIF instructions are inlined.
const INLINE_MAX_INSTS: usize = 24;

impl<'a> SmallCallees<'a> {
    fn new(bodies: &'a [ir::Function], sizes: &'a [usize], opt_level: u8) -> SmallCallees<'a> {
        SmallCallees {
            enabled: opt_level >= 2,
            bodies,
            sizes,
        }
    }
}

impl Inline for SmallCallees<'_> {
    fn inline(
        &mut self,
        caller: &ir::Function,
        _inst: ir::Inst,
        opcode: ir::Opcode,
        callee: ir::FuncRef,
        _args: &[ir::Value],
    ) -> InlineCommand<'_> {
        // A tail-called function's frame replaces the caller's; inlined, the caller would
        // stay in backtraces (and its frame would stay on the stack).
        if opcode != ir::Opcode::Call {
            return InlineCommand::KeepCall;
        }
        let ir::ExternalName::User(r) = caller.dfg.ext_funcs[callee].name else {
            return InlineCommand::KeepCall;
        };
        let name = &caller.params.user_named_funcs()[r];
        let index = name.index as usize;
        // Defined functions are declared first, so their name index is their position.
        let self_name = match caller.name {
            UserFuncName::User(ref u) => Some(u.index as usize),
            _ => None,
        };
        if name.namespace != env::NS_FUNC
            || index >= self.bodies.len()
            || self_name == Some(index)
            || self.sizes[index] > INLINE_MAX_INSTS
        {
            return InlineCommand::KeepCall;
        }
        InlineCommand::Inline {
            callee: Cow::Borrowed(&self.bodies[index]),
            visit_callee: false,
        }
    }
}

/// `tramp(code, vmctx, values)`: loads the arguments from `values`, calls
/// `code(vmctx, args...)` and stores the results back into `values`. The runtime calls it
/// in the platform's convention; it calls `code` in the Wasm one ([`env::WASM_CALL_CONV`]).
///
/// With a global in the pinned register (`register_global`: its vmctx offset and type),
/// the trampoline loads it from the vmctx before the call and stores it back after, and
/// gives the caller its own value of the register back (it is callee-saved).
fn build_trampoline(
    call_conv: CallConv,
    fc: isa::TargetFrontendConfig,
    ty: &aot_abi::FuncType,
    id: FuncId,
    register_global: Option<(i32, ir::Type)>,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(env::NS_FUNC, id.as_u32()),
        array_call_signature(call_conv),
    );
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let (code, vmctx, values) = (p[0], p[1], p[2]);
    let slot = std::mem::size_of::<ValRaw>() as i32;
    let mut args = vec![vmctx];
    for (i, t) in ty.params.iter().enumerate() {
        args.push(b.ins().load(
            env::ir_type(*t),
            MemFlagsData::trusted(),
            values,
            i as i32 * slot,
        ));
    }
    let sig = b.import_signature(wasm_signature(ty));
    let saved = register_global.map(|(offset, ty)| {
        let callers = b.ins().get_pinned_reg(env::PTR);
        env::load_register_global(&mut b, vmctx, offset, ty);
        (offset, ty, callers)
    });
    let call = b.ins().call_indirect(sig, code, &args);
    let results = b.inst_results(call).to_vec();
    if let Some((offset, ty, callers)) = saved {
        env::store_register_global(&mut b, vmctx, offset, ty);
        b.ins().set_pinned_reg(callers);
    }
    for (i, r) in results.iter().enumerate() {
        b.ins()
            .store(MemFlagsData::trusted(), *r, values, i as i32 * slot);
    }
    b.ins().return_(&[]);
    b.finalize(fc);
    let _ = types::I64;
    func
}

/// The target's ISA for `opts` and an empty object module named `name` for it.
fn object_module(
    opts: &Options,
    name: &str,
    pinned_reg: bool,
) -> Result<(Arc<dyn isa::TargetIsa>, ObjectModule), String> {
    let isa: Arc<dyn isa::TargetIsa> =
        opts.target
            .isa_for_cpu(opts.opt_level, opts.cpu, pinned_reg)?;
    let builder = ObjectBuilder::new(isa.clone(), name, cranelift_module::default_libcall_names())
        .map_err(|e| e.to_string())?;
    Ok((isa, ObjectModule::new(builder)))
}

/// One component glue function: the host symbol it calls and its flat core type.
pub struct GlueFunc {
    pub symbol: String,
    pub ty: aot_abi::FuncType,
    /// A fused adapter of this component-level type: its body is generated here (see
    /// `component::fuse`), and `symbol` is unused.
    pub adapter: Option<aot_abi::ctypes::CFuncType>,
}

/// Compiles a component's glue functions into an object defining `aot_abi::GLUE_SYMBOL`,
/// the table of their code: each a host-call trampoline (as for a core module's host
/// imports) whose context is the `GlueCtx` the runtime builds, calling `symbol` directly,
/// or a fused adapter.
pub fn compile_glue(glue: &[GlueFunc], opts: &Options) -> Result<Vec<u8>, CompileError> {
    use crate::component::fuse::{self, Entry};
    let err = |m: String| CompileError::new("<component glue>", None, m);
    let (isa, mut module) = object_module(opts, "aot_glue", false).map_err(err)?;
    let call_conv = isa.default_call_conv();
    let merr = |e: cranelift_module::ModuleError| err(format!("object emission: {e}"));
    let raise = module
        .declare_function(
            &format!(
                "{}{}",
                aot_abi::BUILTIN_PREFIX,
                Builtin::raise_pending_trap.name()
            ),
            Linkage::Import,
            &Builtin::raise_pending_trap.signature(call_conv),
        )
        .map_err(merr)?;
    let mut entries = std::collections::HashMap::new();
    if glue.iter().any(|g| g.adapter.is_some()) {
        for e in Entry::ALL {
            let id = module
                .declare_function(&e.symbol(), Linkage::Import, &e.signature(call_conv))
                .map_err(merr)?;
            entries.insert(*e, id.as_u32());
        }
    }
    let entry_index = |e: Entry| entries.get(&e).copied().unwrap_or(u32::MAX);
    let mut hosts = std::collections::HashMap::new();
    let mut tramps = Vec::with_capacity(glue.len());
    let mut ctx = Context::new();
    let mut fctx = FunctionBuilderContext::new();
    for (i, g) in glue.iter().enumerate() {
        let sig = wasm_signature(&g.ty);
        let tramp = module
            .declare_function(&format!("aot_glue{i}"), Linkage::Local, &sig)
            .map_err(merr)?;
        ctx.func = match &g.adapter {
            Some(cty) => build_transition(
                call_conv,
                isa.frontend_config(),
                &g.ty,
                tramp,
                raise.as_u32(),
                &mut fctx,
                |b, params| fuse::build(b, call_conv, cty, &entry_index, params),
            ),
            None => {
                let host = match hosts.get(&g.symbol) {
                    Some(&h) => h,
                    None => {
                        let host_sig = host_signature(call_conv, &g.ty);
                        let h = module
                            .declare_function(&g.symbol, Linkage::Import, &host_sig)
                            .map_err(merr)?;
                        hosts.insert(g.symbol.clone(), h);
                        h
                    }
                };
                build_host_trampoline(
                    call_conv,
                    isa.frontend_config(),
                    &g.ty,
                    tramp,
                    host,
                    raise.as_u32(),
                    &mut fctx,
                )
            }
        };
        module.define_function(tramp, &mut ctx).map_err(merr)?;
        module.clear_context(&mut ctx);
        tramps.push(tramp);
    }
    let table = module
        .declare_data(aot_abi::GLUE_SYMBOL, Linkage::Export, false, false)
        .map_err(merr)?;
    let ptr = aot_abi::POINTER_SIZE;
    let mut d = DataDescription::new();
    d.define(vec![0u8; (tramps.len() * ptr as usize).max(ptr as usize)].into_boxed_slice());
    for (i, f) in tramps.iter().enumerate() {
        let r = module.declare_func_in_data(*f, &mut d);
        d.write_function_addr(i as u32 * ptr, r);
    }
    d.set_align(u64::from(ptr));
    module.define_data(table, &d).map_err(merr)?;
    module
        .finish()
        .emit()
        .map_err(|e| err(format!("object emission: {e}")))
}

/// A host-call trampoline, `tramp(vmctx, args...) -> results` with the import's Wasm
/// signature (so in the Wasm calling convention; it calls `host` in the platform's):
/// records the Wasm-to-host transition in the store context (the caller's frame pointer
/// and the return address into it), calls the runtime's `host` function, then raises the
/// trap the host left pending, if any (a trap in Wasm code the host called back into:
/// raising it here, with no host frame left, unwinds nothing but Wasm frames).
fn build_host_trampoline(
    call_conv: CallConv,
    fc: isa::TargetFrontendConfig,
    ty: &aot_abi::FuncType,
    id: FuncId,
    host: FuncId,
    raise_name: u32,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    build_transition(call_conv, fc, ty, id, raise_name, fctx, |b, params| {
        let host_name = b.func.declare_imported_user_function(ir::UserExternalName {
            namespace: env::NS_FUNC,
            index: host.as_u32(),
        });
        let host_sig = b.import_signature(host_signature(call_conv, ty));
        let host_ref = b.import_function(ir::ExtFuncData {
            name: ir::ExternalName::user(host_name),
            signature: host_sig,
            colocated: false,
            patchable: false,
        });
        let call = b.ins().call(host_ref, params);
        b.inst_results(call).to_vec()
    })
}

/// A Wasm-to-host transition with the Wasm signature of `ty`: records the caller's frame
/// pointer and return address in the store context, makes the host call `call` builds
/// (from the parameters, vmctx first; returning the results), then raises the trap the host
/// left pending, if any.
fn build_transition(
    call_conv: CallConv,
    fc: isa::TargetFrontendConfig,
    ty: &aot_abi::FuncType,
    id: FuncId,
    raise_name: u32,
    fctx: &mut FunctionBuilderContext,
    call: impl FnOnce(&mut FunctionBuilder, &[ir::Value]) -> Vec<ir::Value>,
) -> ir::Function {
    let sig = wasm_signature(ty);
    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(env::NS_FUNC, id.as_u32()),
        sig.clone(),
    );
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let vmctx = params[0];
    let flags = MemFlagsData::trusted();
    let store = b
        .ins()
        .load(env::PTR, flags, vmctx, aot_abi::VMCTX_STORE as i32);
    // Our frame record holds the caller's frame pointer; the return address is into it.
    let fp = b.ins().get_frame_pointer(env::PTR);
    let caller_fp = b.ins().load(env::PTR, flags, fp, 0);
    let ret = b.ins().get_return_address(env::PTR);
    b.ins().store(
        flags,
        caller_fp,
        store,
        aot_abi::VMSTORE_LAST_EXIT_FP as i32,
    );
    b.ins()
        .store(flags, ret, store, aot_abi::VMSTORE_LAST_EXIT_PC as i32);

    let user = |b: &mut FunctionBuilder, index: u32| {
        b.func.declare_imported_user_function(ir::UserExternalName {
            namespace: env::NS_FUNC,
            index,
        })
    };
    let results = call(&mut b, &params);

    let pending = b.ins().load(
        types::I32,
        flags,
        store,
        aot_abi::VMSTORE_PENDING_TRAP as i32,
    );
    let raise = b.create_block();
    let done = b.create_block();
    b.ins().brif(pending, raise, &[], done, &[]);
    b.switch_to_block(raise);
    b.seal_block(raise);
    let raise_fn = user(&mut b, raise_name);
    let raise_sig = b.import_signature(Builtin::raise_pending_trap.signature(call_conv));
    let raise_ref = b.import_function(ir::ExtFuncData {
        name: ir::ExternalName::user(raise_fn),
        signature: raise_sig,
        colocated: false,
        patchable: false,
    });
    b.ins().call(raise_ref, &[vmctx]);
    b.ins()
        .trap(env::trap_code(aot_abi::TrapKind::UnreachableCodeReached));
    b.switch_to_block(done);
    b.seal_block(done);
    b.ins().return_(&results);
    b.finalize(fc);
    func
}

/// Which frame-pointer stub [`build_fp_stub`] builds.
#[derive(Clone, Copy)]
enum FpStub {
    /// The throw stub (`env::throw_stub_signature`): calls `throw_ref(vmctx, exn, fp)`,
    /// whose frame walk starts at `fp`; never returns.
    Throw,
    /// The GC stub (`env::gc_stub_signature`): returns `gc_alloc(vmctx, fp, info, size)`.
    /// From the stub's record the collector finds the allocating Wasm frame (`[fp]` its
    /// frame pointer, `[fp + 8]` the return address into it) and so every Wasm frame's
    /// stack map.
    Gc,
}

/// A stub that passes its own frame pointer to a builtin: a Rust builtin cannot find its
/// Wasm caller's frame itself (the runtime need not keep frame pointers), hence this frame
/// in between.
fn build_fp_stub(
    kind: FpStub,
    call_conv: CallConv,
    fc: isa::TargetFrontendConfig,
    id: FuncId,
    builtin_name: u32,
    // The throw stub stores the register global (its vmctx offset and type) first.
    register_global: Option<(i32, ir::Type)>,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let (sig, builtin) = match kind {
        FpStub::Throw => (env::throw_stub_signature(), Builtin::throw_ref),
        FpStub::Gc => (env::gc_stub_signature(), Builtin::gc_alloc),
    };
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(env::NS_FUNC, id.as_u32()), sig);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let fp = b.ins().get_frame_pointer(env::PTR);
    let name = b.func.declare_imported_user_function(ir::UserExternalName {
        namespace: env::NS_FUNC,
        index: builtin_name,
    });
    let sig = b.import_signature(builtin.signature(call_conv));
    let callee = b.import_function(ir::ExtFuncData {
        name: ir::ExternalName::user(name),
        signature: sig,
        colocated: false,
        patchable: false,
    });
    match kind {
        FpStub::Throw => {
            // The handler's landing pad reloads the register global from the vmctx: the
            // unwinder does not keep the register.
            if let Some((offset, ty)) = register_global {
                env::store_register_global(&mut b, params[0], offset, ty);
            }
            b.ins().call(callee, &[params[0], params[1], fp]);
            b.ins()
                .trap(env::trap_code(aot_abi::TrapKind::UnreachableCodeReached));
        }
        FpStub::Gc => {
            let call = b.ins().call(callee, &[params[0], fp, params[1], params[2]]);
            let obj = b.inst_results(call)[0];
            b.ins().return_(&[obj]);
        }
    }
    b.finalize(fc);
    func
}

/// Pointers to `funcs`, a null pointer for each None.
fn define_opt_func_ptrs(
    module: &mut ObjectModule,
    name: &str,
    funcs: &[Option<FuncId>],
) -> Result<DataId, Box<cranelift_module::ModuleError>> {
    let id = module.declare_data(name, Linkage::Local, false, false)?;
    let mut d = DataDescription::new();
    let ptr = aot_abi::POINTER_SIZE;
    // At least one slot, so the table has an address even when empty.
    d.define(vec![0u8; (funcs.len() * ptr as usize).max(ptr as usize)].into_boxed_slice());
    for (i, f) in funcs.iter().enumerate() {
        if let Some(f) = f {
            let r = module.declare_func_in_data(*f, &mut d);
            d.write_function_addr(i as u32 * ptr, r);
        }
    }
    d.set_align(u64::from(ptr));
    module.define_data(id, &d)?;
    Ok(id)
}

/// Table `st`'s read-only copy (see `crate::static_tables`): per element, the code address
/// of its function and its type's key, or null and [`crate::static_tables::NO_KEY`].
fn define_static_table(
    module: &mut ObjectModule,
    id: DataId,
    st: &crate::static_tables::StaticTable,
    func_ids: &[FuncId],
    info: &ModuleInfo,
    type_keys: &[u32],
) -> Result<(), Box<cranelift_module::ModuleError>> {
    use crate::static_tables::{ENTRY_KEY, ENTRY_SIZE, NO_KEY};
    let size = ENTRY_SIZE as usize;
    let mut bytes = vec![0u8; (st.elems.len() * size).max(size)];
    let mut d = DataDescription::new();
    let mut relocs = Vec::new();
    for (i, e) in st.elems.iter().enumerate() {
        let key = match e {
            Some(f) => {
                relocs.push((i, func_ids[*f as usize]));
                type_keys[info.meta.funcs[(info.num_imported_funcs + f) as usize] as usize]
            }
            None => NO_KEY,
        };
        let at = i * size + ENTRY_KEY as usize;
        bytes[at..at + 4].copy_from_slice(&key.to_le_bytes());
    }
    d.define(bytes.into_boxed_slice());
    for (i, f) in relocs {
        let r = module.declare_func_in_data(f, &mut d);
        d.write_function_addr(i as u32 * ENTRY_SIZE, r);
    }
    d.set_align(u64::from(ENTRY_SIZE));
    module.define_data(id, &d)?;
    Ok(())
}

fn define_bytes(
    module: &mut ObjectModule,
    name: &str,
    bytes: &[u8],
) -> Result<DataId, Box<cranelift_module::ModuleError>> {
    define_bytes_aligned(module, name, bytes, 8)
}

fn define_bytes_aligned(
    module: &mut ObjectModule,
    name: &str,
    bytes: &[u8],
    align: u64,
) -> Result<DataId, Box<cranelift_module::ModuleError>> {
    let id = module.declare_data(name, Linkage::Local, false, false)?;
    let mut d = DataDescription::new();
    // An empty object still needs an address; one padding byte gives it one.
    let contents = if bytes.is_empty() {
        vec![0u8]
    } else {
        bytes.to_vec()
    };
    d.define(contents.into_boxed_slice());
    d.set_align(align);
    module.define_data(id, &d)?;
    Ok(id)
}

fn define_func_ptrs(
    module: &mut ObjectModule,
    name: &str,
    funcs: &[FuncId],
) -> Result<DataId, Box<cranelift_module::ModuleError>> {
    let some: Vec<Option<FuncId>> = funcs.iter().copied().map(Some).collect();
    define_opt_func_ptrs(module, name, &some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cranelift_codegen::binemit::Reloc;
    use cranelift_module::ModuleRelocTarget;

    fn reloc(offset: u32, kind: Reloc, namespace: u32) -> ModuleReloc {
        ModuleReloc {
            offset,
            kind,
            name: ModuleRelocTarget::User {
                namespace,
                index: 3,
            },
            addend: 0,
        }
    }

    #[test]
    fn got_loads_of_own_data_become_address_computations() {
        // movq sym@GOTPCREL(%rip), %rcx  ->  leaq sym(%rip), %rcx
        let mut x86 = vec![0x48, 0x8b, 0x0d, 0, 0, 0, 0];
        let mut relocs = [reloc(3, Reloc::X86GOTPCRel4, 1)];
        relax_local_data_got(&mut x86, &mut relocs);
        assert_eq!(x86, [0x48, 0x8d, 0x0d, 0, 0, 0, 0]);
        assert_eq!(relocs[0].kind, Reloc::X86PCRel4);
        // A function's address (namespace 0) and another instruction stay.
        for (mut code, ns) in [
            (vec![0x48, 0x8b, 0x0d, 0, 0, 0, 0], 0),
            (vec![0x48, 0x03, 0x0d, 0, 0, 0, 0], 1),
        ] {
            let before = code.clone();
            let mut relocs = [reloc(3, Reloc::X86GOTPCRel4, ns)];
            relax_local_data_got(&mut code, &mut relocs);
            assert_eq!(code, before);
            assert_eq!(relocs[0].kind, Reloc::X86GOTPCRel4);
        }
        // adrp x9, :got:sym; ldr x9, [x9, :got_lo12:sym]  ->  adrp x9, sym; add x9, x9, :lo12:sym
        let adrp = 0x9000_0009u32;
        let ldr = 0xf940_0129u32;
        let mut a64: Vec<u8> = [adrp, ldr].iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut relocs = [
            reloc(0, Reloc::Aarch64AdrGotPage21, 1),
            reloc(4, Reloc::Aarch64Ld64GotLo12Nc, 1),
        ];
        relax_local_data_got(&mut a64, &mut relocs);
        let want: Vec<u8> = [adrp, 0x9100_0129]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(a64, want);
        assert_eq!(relocs[0].kind, Reloc::Aarch64AdrPrelPgHi21);
        assert_eq!(relocs[1].kind, Reloc::Aarch64AddAbsLo12Nc);
        // A load with an offset is not the GOT load: both stay.
        let mut odd: Vec<u8> = [adrp, ldr | (1 << 10)]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let before = odd.clone();
        let mut relocs = [
            reloc(0, Reloc::Aarch64AdrGotPage21, 1),
            reloc(4, Reloc::Aarch64Ld64GotLo12Nc, 1),
        ];
        relax_local_data_got(&mut odd, &mut relocs);
        assert_eq!(odd, before);
        assert_eq!(relocs[0].kind, Reloc::Aarch64AdrGotPage21);
    }
}
