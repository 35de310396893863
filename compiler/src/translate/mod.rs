//! Translation of one Wasm function body into Cranelift IR.
//!
//! The operator walk keeps Wasm's operand stack as a stack of SSA values and its control
//! stack as a stack of [`Frame`]s whose continuation blocks take the frame's results as
//! block parameters. Everything layout-dependent (memories, tables, globals, calls) is
//! asked of [`crate::env::FuncEnv`]; this module only knows Wasm semantics.
//!
//! Code after an unconditional branch is unreachable in Wasm but still valid: it is skipped
//! (only its nesting is tracked) so that no IR is emitted for it.
//!
//! The loops [`unroll::plan`] chooses have their body walked several times in a row, the
//! operators read again from where the body starts.

mod atomics;
mod bswap;
mod bulk_memory;
mod exceptions;
mod gc;
mod numeric;
mod simd;
pub mod unroll;

use aot_abi::{CompositeType, ModuleMeta, TrapKind, ValType};
use cranelift_codegen::ir::{
    self, BlockArg, Function, InstBuilder, JumpTableData, MemFlagsData, Type, Value,
    condcodes::IntCC, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use wasmparser::{BlockType, FunctionBody, MemArg, Operator};

use crate::CompileError;
use crate::env::{Builtin, FuncEnv, ModuleEnv, PTR, ir_type, trap_code};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    Block,
    Loop,
    If,
    TryTable,
}

struct Frame {
    kind: FrameKind,
    /// Where `end` (and a branch to a block or if) continues; takes the results.
    dest: ir::Block,
    /// Loop header, the target of branches to a loop; takes the params.
    header: Option<ir::Block>,
    /// For an if whose else has not been seen yet: the else block and the params to
    /// re-push there.
    else_block: Option<ir::Block>,
    else_params: Vec<Value>,
    num_params: usize,
    num_results: usize,
    /// Operand stack height below this frame's params.
    stack_base: usize,
    /// Whether anything jumps to `dest` (so the code after `end` is reachable).
    dest_reachable: bool,
    /// A `try_table`'s landing pad and catch clauses.
    handler: Option<Box<exceptions::TryHandler>>,
}

pub struct Translator<'m, 'b, 'f> {
    env: FuncEnv<'m>,
    b: &'b mut FunctionBuilder<'f>,
    file: &'m str,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    locals: Vec<(Variable, Type)>,
    reachable: bool,
    /// Nesting depth of blocks opened in unreachable code.
    dead_depth: u32,
}

fn block_args(vals: &[Value]) -> Vec<BlockArg> {
    vals.iter().map(|v| BlockArg::Value(*v)).collect()
}

/// Translates the body of defined function `def_index` into `func`, whose signature and
/// name are already set.
pub fn translate_function(
    module_env: &ModuleEnv,
    def_index: u32,
    body: &FunctionBody,
    func: &mut Function,
    fctx: &mut FunctionBuilderContext,
) -> Result<(), CompileError> {
    let info = module_env.info;
    let file = info.file.as_str();
    let func_index = info.num_imported_funcs + def_index;
    let ty = info.func_type(func_index).clone();

    let mut env = FuncEnv::new(module_env);
    let mut b = FunctionBuilder::new(func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);

    let mut locals = Vec::new();
    let params: Vec<Value> = b.block_params(entry).to_vec();
    env.set_vmctx(params[0]);
    for (i, p) in ty.params.iter().enumerate() {
        let t = ir_type(*p);
        let var = b.declare_var(t);
        if needs_stack_map(&info.meta, p) {
            b.declare_var_needs_stack_map(var);
        }
        b.def_var(var, params[i + 1]);
        locals.push((var, t));
    }
    let lreader = body
        .get_locals_reader()
        .map_err(|e| CompileError::from_wasmparser(file, &e))?;
    for l in lreader {
        let (count, vt) = l.map_err(|e| CompileError::from_wasmparser(file, &e))?;
        let vt = crate::module::valtype(file, vt)?;
        let t = ir_type(vt);
        let mapped = needs_stack_map(&info.meta, &vt);
        for _ in 0..count {
            let var = b.declare_var(t);
            if mapped {
                b.declare_var_needs_stack_map(var);
            }
            let zero = zero_value(&mut b, t);
            b.def_var(var, zero);
            locals.push((var, t));
        }
    }

    let exit = b.create_block();
    for r in &ty.results {
        let v = b.append_block_param(exit, ir_type(*r));
        if needs_stack_map(&info.meta, r) {
            b.declare_value_needs_stack_map(v);
        }
    }

    let mut t = Translator {
        env,
        b: &mut b,
        file,
        stack: Vec::new(),
        frames: Vec::new(),
        locals,
        reachable: true,
        dead_depth: 0,
    };
    t.frames.push(Frame {
        kind: FrameKind::Block,
        dest: exit,
        header: None,
        else_block: None,
        else_params: Vec::new(),
        num_params: 0,
        num_results: ty.results.len(),
        stack_base: 0,
        dest_reachable: false,
        handler: None,
    });

    let mut reader = body
        .get_operators_reader()
        .map_err(|e| CompileError::from_wasmparser(file, &e))?;
    let unrolls = unroll::plan(&reader, module_env.unroll);
    // The loop being unrolled: its plan and a reader at the start of its body.
    let mut unrolling: Option<(unroll::Plan, wasmparser::OperatorsReader)> = None;
    while !reader.eof() {
        let offset = reader.original_position() as usize;
        let op = reader
            .read()
            .map_err(|e| CompileError::from_wasmparser(file, &e))?;
        if let Some((u, body)) = unrolling.take_if(|(u, _)| u.back_edge == offset) {
            t.unrolled_back_edge(op, offset, &u, &body)?;
            continue;
        }
        let is_loop = matches!(op, Operator::Loop { .. });
        t.operator(op, offset)?;
        if is_loop
            && t.reachable
            && let Some(u) = unrolls.get(&offset)
        {
            unrolling = Some((*u, reader.clone()));
        }
    }
    drop(t);
    // The function's final `end` has switched to `exit`.
    let rets = b.block_params(exit).to_vec();
    b.ins().return_(&rets);
    b.seal_all_blocks();
    b.finalize(module_env.frontend_config);
    Ok(())
}

/// Whether a value of Wasm type `ty` is a GC root the collector must find in Wasm frames:
/// a traced reference (`aot_abi::gc::is_traced`: the `any`, `extern` and `exn`
/// hierarchies; a funcref points into an instance and never moves). Decided from the type
/// alone, in every module: one with no GC types of its own may still hold another module's
/// objects in an `anyref` or `externref` across a call, and any module's exceptions are GC
/// objects whose payloads may hold references.
pub(crate) fn needs_stack_map(meta: &ModuleMeta, ty: &ValType) -> bool {
    let is_func = |i: u32| {
        meta.type_defs
            .get(i as usize)
            .is_none_or(|d| matches!(d.composite, CompositeType::Func))
    };
    aot_abi::gc::is_traced(ty, is_func)
}

fn zero_value(b: &mut FunctionBuilder, t: Type) -> Value {
    match t {
        types::F32 => b.ins().f32const(0.0),
        types::F64 => b.ins().f64const(0.0),
        simd::V128 => {
            let z = b.func.dfg.constants.insert(vec![0u8; 16].into());
            b.ins().vconst(simd::V128, z)
        }
        _ => b.ins().iconst(t, 0),
    }
}

impl Translator<'_, '_, '_> {
    fn pop(&mut self) -> Value {
        self.stack
            .pop()
            .expect("validated: operand stack underflow")
    }

    fn pop2(&mut self) -> (Value, Value) {
        let y = self.pop();
        let x = self.pop();
        (x, y)
    }

    fn pop3(&mut self) -> (Value, Value, Value) {
        let z = self.pop();
        let (x, y) = self.pop2();
        (x, y, z)
    }

    fn popn(&mut self, n: usize) -> Vec<Value> {
        let at = self.stack.len() - n;
        self.stack.split_off(at)
    }

    fn peekn(&self, n: usize) -> &[Value] {
        &self.stack[self.stack.len() - n..]
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    /// Records that `v`, a new SSA value of Wasm type `ty`, may hold a GC reference: if
    /// `ty` is traced ([`needs_stack_map`]), Cranelift spills `v` to a stack slot listed
    /// in the stack map of every call `v` is live across, and reloads it after the call,
    /// so the collector finds it and may move what it points to.
    ///
    /// Every instruction whose result is a reference made by something other than a
    /// variable read must call it on that result: call results, loads (globals, tables,
    /// and later `struct.get`/`array.get` of reference fields), `select`, block parameters,
    /// exception payloads, and the results of the GC instructions (`struct.new*`,
    /// `array.new*`, `ref.i31`, ...). A value passed through unchanged (`ref.as_non_null`,
    /// `br_on_null`'s fall-through, a no-op conversion such as `any.convert_extern`) is
    /// the same SSA value and is already covered. Locals are covered by their variable.
    /// A missed producer is a stale pointer after a moving collection.
    pub(crate) fn note_ref(&mut self, v: Value, ty: &ValType) {
        if needs_stack_map(&self.env.module.info.meta, ty) {
            self.b.declare_value_needs_stack_map(v);
        }
    }

    /// [`Translator::note_ref`] for each of `vals` with its type in `tys`.
    fn note_refs(&mut self, vals: &[Value], tys: &[ValType]) {
        debug_assert_eq!(vals.len(), tys.len());
        for (v, t) in vals.iter().zip(tys) {
            self.note_ref(*v, t);
        }
    }

    /// The Wasm parameter and result types of a block type.
    fn block_sig(&self, bt: BlockType) -> Result<(Vec<ValType>, Vec<ValType>), CompileError> {
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(v) => (vec![], vec![crate::module::valtype(self.file, v)?]),
            BlockType::FuncType(i) => {
                let ft = &self.env.module.info.meta.types[i as usize];
                (ft.params.clone(), ft.results.clone())
            }
        })
    }

    /// A block taking values of types `tys`: a control-flow merge, whose parameters are
    /// new values and so GC roots of their own when they are references.
    fn new_block_with(&mut self, tys: &[ValType]) -> ir::Block {
        let blk = self.b.create_block();
        for t in tys {
            let v = self.b.append_block_param(blk, ir_type(*t));
            self.note_ref(v, t);
        }
        blk
    }

    /// Branch target of relative depth `depth`: (block, number of values it takes).
    fn br_target(&mut self, depth: u32) -> (ir::Block, usize) {
        let i = self.frames.len() - 1 - depth as usize;
        let f = &mut self.frames[i];
        match f.kind {
            FrameKind::Loop => (f.header.expect("loop has a header"), f.num_params),
            _ => {
                f.dest_reachable = true;
                (f.dest, f.num_results)
            }
        }
    }

    fn unreachable_from_here(&mut self) {
        self.reachable = false;
    }

    fn switch_to(&mut self, blk: ir::Block) {
        self.b.switch_to_block(blk);
    }

    fn trap(&mut self, kind: TrapKind) {
        self.b.ins().trap(trap_code(kind));
    }

    fn operator(&mut self, op: Operator, offset: usize) -> Result<(), CompileError> {
        if !self.reachable {
            return self.dead_operator(op);
        }
        use Operator as O;
        match op {
            O::Nop => {}
            O::Unreachable => {
                self.trap(TrapKind::UnreachableCodeReached);
                self.unreachable_from_here();
            }
            O::Block { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let dest = self.new_block_with(&results);
                let stack_base = self.stack.len() - params.len();
                self.frames.push(Frame {
                    kind: FrameKind::Block,
                    dest,
                    header: None,
                    else_block: None,
                    else_params: Vec::new(),
                    num_params: params.len(),
                    num_results: results.len(),
                    stack_base,
                    dest_reachable: false,
                    handler: None,
                });
            }
            O::Loop { blockty } => {
                let (params, results) = self.block_sig(blockty)?;
                let header = self.new_block_with(&params);
                let dest = self.new_block_with(&results);
                let args = self.popn(params.len());
                self.b.ins().jump(header, &block_args(&args));
                self.switch_to(header);
                let stack_base = self.stack.len();
                self.stack.extend_from_slice(self.b.block_params(header));
                self.frames.push(Frame {
                    kind: FrameKind::Loop,
                    dest,
                    header: Some(header),
                    else_block: None,
                    else_params: Vec::new(),
                    num_params: params.len(),
                    num_results: results.len(),
                    stack_base,
                    dest_reachable: false,
                    handler: None,
                });
            }
            O::If { blockty } => {
                let cond = self.pop();
                let (params, results) = self.block_sig(blockty)?;
                let then_block = self.b.create_block();
                let else_block = self.b.create_block();
                let dest = self.new_block_with(&results);
                self.b.ins().brif(cond, then_block, &[], else_block, &[]);
                self.switch_to(then_block);
                let stack_base = self.stack.len() - params.len();
                let else_params = self.peekn(params.len()).to_vec();
                self.frames.push(Frame {
                    kind: FrameKind::If,
                    dest,
                    header: None,
                    else_block: Some(else_block),
                    else_params,
                    num_params: params.len(),
                    num_results: results.len(),
                    stack_base,
                    dest_reachable: false,
                    handler: None,
                });
            }
            O::TryTable { try_table } => self.op_try_table(try_table)?,
            O::Throw { tag_index } => self.op_throw(tag_index),
            O::ThrowRef => self.op_throw_ref(),
            O::Else => self.op_else(),
            O::End => self.op_end(),
            O::Br { relative_depth } => {
                let (target, n) = self.br_target(relative_depth);
                let args = self.peekn(n).to_vec();
                self.b.ins().jump(target, &block_args(&args));
                self.unreachable_from_here();
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                let (target, n) = self.br_target(relative_depth);
                let args = self.peekn(n).to_vec();
                let next = self.b.create_block();
                self.b
                    .ins()
                    .brif(cond, target, &block_args(&args), next, &[]);
                self.switch_to(next);
            }
            O::BrTable { targets } => {
                let index = self.pop();
                let mut depths = Vec::new();
                for t in targets.targets() {
                    depths.push(t.map_err(|e| CompileError::from_wasmparser(self.file, &e))?);
                }
                let default = targets.default();
                let (_, n) = self.br_target(default);
                let args = self.peekn(n).to_vec();
                // Each distinct depth gets one edge block carrying the branch arguments,
                // so the jump table itself has no arguments. Edge blocks are filled after
                // the br_table terminates the current block.
                let mut edge_for: std::collections::HashMap<u32, ir::Block> =
                    std::collections::HashMap::new();
                let mut to_fill: Vec<(ir::Block, ir::Block)> = Vec::new();
                let mut edge = |t: &mut Self, depth: u32| -> ir::Block {
                    if let Some(blk) = edge_for.get(&depth) {
                        return *blk;
                    }
                    let (target, _) = t.br_target(depth);
                    let blk = if n == 0 {
                        target
                    } else {
                        let blk = t.b.create_block();
                        to_fill.push((blk, target));
                        blk
                    };
                    edge_for.insert(depth, blk);
                    blk
                };
                let default_block = edge(self, default);
                let mut calls = Vec::with_capacity(depths.len());
                for d in depths {
                    let blk = edge(self, d);
                    calls.push(self.b.func.dfg.block_call(blk, &[]));
                }
                let def_call = self.b.func.dfg.block_call(default_block, &[]);
                let jt = self
                    .b
                    .create_jump_table(JumpTableData::new(def_call, &calls));
                self.b.ins().br_table(index, jt);
                for (blk, target) in to_fill {
                    self.switch_to(blk);
                    self.b.ins().jump(target, &block_args(&args));
                }
                self.unreachable_from_here();
            }
            O::Return => {
                let n = self.frames[0].num_results;
                let args = self.peekn(n).to_vec();
                self.b.ins().return_(&args);
                self.unreachable_from_here();
            }
            O::Call { function_index } => {
                let ty = self.env.module.info.func_type(function_index);
                let (n, tys) = (ty.params.len(), ty.results.clone());
                let args = self.popn(n);
                let results = self.env.call(self.b, function_index, &args);
                self.note_refs(&results, &tys);
                self.stack.extend(results);
            }
            O::CallIndirect {
                type_index,
                table_index,
            } => {
                let index = self.pop();
                let ty = &self.env.module.info.meta.types[type_index as usize];
                let (n, tys) = (ty.params.len(), ty.results.clone());
                let args = self.popn(n);
                let results = self
                    .env
                    .call_indirect(self.b, table_index, type_index, index, &args);
                self.note_refs(&results, &tys);
                self.stack.extend(results);
            }
            O::ReturnCall { function_index } => {
                let n = self.env.module.info.func_type(function_index).params.len();
                let args = self.popn(n);
                self.env.return_call(self.b, function_index, &args);
                self.unreachable_from_here();
            }
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => {
                let index = self.pop();
                let n = self.env.module.info.meta.types[type_index as usize]
                    .params
                    .len();
                let args = self.popn(n);
                self.env
                    .return_call_indirect(self.b, table_index, type_index, index, &args);
                self.unreachable_from_here();
            }
            O::CallRef { type_index } => {
                let callee = self.pop();
                let ty = &self.env.module.info.meta.types[type_index as usize];
                let (n, tys) = (ty.params.len(), ty.results.clone());
                let args = self.popn(n);
                let results = self.env.call_ref(self.b, type_index, callee, &args);
                self.note_refs(&results, &tys);
                self.stack.extend(results);
            }
            O::ReturnCallRef { type_index } => {
                let callee = self.pop();
                let n = self.env.module.info.meta.types[type_index as usize]
                    .params
                    .len();
                let args = self.popn(n);
                self.env.return_call_ref(self.b, type_index, callee, &args);
                self.unreachable_from_here();
            }
            O::Drop => {
                self.pop();
            }
            // An untyped select has numeric operands only (validation).
            O::Select => {
                let (x, y, c) = self.pop3();
                let v = self.b.ins().select(c, x, y);
                self.push(v);
            }
            O::TypedSelect { ty } => {
                let ty = crate::module::valtype_at(self.file, Some(offset), ty)?;
                let (x, y, c) = self.pop3();
                let v = self.b.ins().select(c, x, y);
                self.note_ref(v, &ty);
                self.push(v);
            }
            O::TypedSelectMulti { .. } => {
                return Err(CompileError::new(
                    self.file,
                    Some(offset),
                    "multi-value select is not supported",
                ));
            }
            O::LocalGet { local_index } => {
                let v = self.b.use_var(self.locals[local_index as usize].0);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.pop();
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            O::LocalTee { local_index } => {
                let v = *self.stack.last().expect("validated");
                self.b.def_var(self.locals[local_index as usize].0, v);
            }
            O::GlobalGet { global_index } => {
                let wty = self.env.module.info.globals[global_index as usize].ty;
                let v = self.env.global_get(self.b, global_index);
                self.note_ref(v, &wty);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                self.env.global_set(self.b, global_index, v);
            }

            // Memory.
            O::I32Load { memarg } => self.load(memarg, types::I32, types::I32, 4, Ext::None),
            O::I64Load { memarg } => self.load(memarg, types::I64, types::I64, 8, Ext::None),
            O::F32Load { memarg } => self.load(memarg, types::F32, types::F32, 4, Ext::None),
            O::F64Load { memarg } => self.load(memarg, types::F64, types::F64, 8, Ext::None),
            O::I32Load8S { memarg } => self.load(memarg, types::I32, types::I8, 1, Ext::Signed),
            O::I32Load8U { memarg } => self.load(memarg, types::I32, types::I8, 1, Ext::Unsigned),
            O::I32Load16S { memarg } => self.load(memarg, types::I32, types::I16, 2, Ext::Signed),
            O::I32Load16U { memarg } => self.load(memarg, types::I32, types::I16, 2, Ext::Unsigned),
            O::I64Load8S { memarg } => self.load(memarg, types::I64, types::I8, 1, Ext::Signed),
            O::I64Load8U { memarg } => self.load(memarg, types::I64, types::I8, 1, Ext::Unsigned),
            O::I64Load16S { memarg } => self.load(memarg, types::I64, types::I16, 2, Ext::Signed),
            O::I64Load16U { memarg } => self.load(memarg, types::I64, types::I16, 2, Ext::Unsigned),
            O::I64Load32S { memarg } => self.load(memarg, types::I64, types::I32, 4, Ext::Signed),
            O::I64Load32U { memarg } => self.load(memarg, types::I64, types::I32, 4, Ext::Unsigned),
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(memarg, None, 4),
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(memarg, None, 8),
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                self.store(memarg, Some(types::I8), 1)
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.store(memarg, Some(types::I16), 2)
            }
            O::I64Store32 { memarg } => self.store(memarg, Some(types::I32), 4),
            O::MemorySize { mem } => {
                let ty = self.env.memory_type(mem);
                let len = self.env.memory_length(self.b, mem);
                let pages = self.b.ins().ushr_imm_u(len, i64::from(ty.page_size_log2));
                let pages = self.index_result(ty.memory64, pages);
                self.push(pages);
            }
            O::MemoryGrow { mem } => {
                let ty = self.env.memory_type(mem);
                let delta = self.pop();
                let delta = self.address_as_u64(delta);
                let mem_v = self.b.ins().iconst(types::I32, mem as i64);
                let r = self
                    .env
                    .call_builtin(self.b, Builtin::memory_grow, &[mem_v, delta])
                    .expect("returns");
                let r = self.index_result(ty.memory64, r);
                self.push(r);
            }
            // Addresses and lengths are i32 or i64 by the memories' index types (a copy
            // between a 32-bit and a 64-bit memory has an i32 length); builtins take u64.
            O::MemoryCopy { dst_mem, src_mem } if dst_mem == src_mem => {
                let (dst, src, len) = self.pop3();
                bulk_memory::copy_within(self, dst_mem, dst, src, len);
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let (dst, src, len) = self.pop3();
                let dst = self.address_as_u64(dst);
                let src = self.address_as_u64(src);
                let len = self.address_as_u64(len);
                let d = self.b.ins().iconst(types::I32, dst_mem as i64);
                let s = self.b.ins().iconst(types::I32, src_mem as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::memory_copy,
                    &[d, s, dst, src, len],
                    TrapKind::MemoryOutOfBounds,
                );
            }
            O::MemoryFill { mem } => {
                let (dst, val, len) = self.pop3();
                bulk_memory::fill(self, mem, dst, val, len);
            }
            O::MemoryInit { data_index, mem } => {
                let (dst, src, len) = self.pop3();
                let dst = self.address_as_u64(dst);
                let m = self.b.ins().iconst(types::I32, mem as i64);
                let d = self.b.ins().iconst(types::I32, data_index as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::memory_init,
                    &[m, d, dst, src, len],
                    TrapKind::MemoryOutOfBounds,
                );
            }
            O::DataDrop { data_index } => {
                let d = self.b.ins().iconst(types::I32, data_index as i64);
                self.env.call_builtin(self.b, Builtin::data_drop, &[d]);
            }

            // Reference types and tables.
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(PTR, 0);
                self.push(v);
            }
            O::RefIsNull => {
                let v = self.pop();
                let c = self.b.ins().icmp_imm_u(IntCC::Equal, v, 0);
                let c = self.b.ins().uextend(types::I32, c);
                self.push(c);
            }
            O::RefAsNonNull => {
                let v = *self.stack.last().expect("validated");
                self.b.ins().trapz(v, trap_code(TrapKind::NullReference));
            }
            O::BrOnNull { relative_depth } => {
                // Branches with the values below the reference; falls through with it.
                let v = self.pop();
                let (target, n) = self.br_target(relative_depth);
                let args = self.peekn(n).to_vec();
                let next = self.b.create_block();
                self.b.ins().brif(v, next, &[], target, &block_args(&args));
                self.switch_to(next);
                self.push(v);
            }
            O::BrOnNonNull { relative_depth } => {
                // Branches with the reference on top (the target's last value); falls
                // through without it.
                let v = self.pop();
                let (target, n) = self.br_target(relative_depth);
                let mut args = self.peekn(n - 1).to_vec();
                args.push(v);
                let next = self.b.create_block();
                self.b.ins().brif(v, target, &block_args(&args), next, &[]);
                self.switch_to(next);
            }
            O::RefFunc { function_index } => {
                let v = self.env.ref_func(self.b, function_index).ok_or_else(|| {
                    // Validation allows ref.func only for the functions FuncrefSlots marks.
                    CompileError::new(
                        self.file,
                        Some(offset),
                        format!("internal error: ref.func {function_index} has no funcref slot"),
                    )
                })?;
                self.push(v);
            }
            O::TableGet { table } => {
                let i = self.pop();
                let addr = self.env.table_elem_addr(self.b, table, i);
                let v = self.b.ins().load(PTR, MemFlagsData::trusted(), addr, 0);
                let elem = self.env.module.info.tables[table as usize].elem;
                self.note_ref(v, &elem);
                self.push(v);
            }
            O::TableSet { table } => {
                let (i, v) = self.pop2();
                let addr = self.env.table_elem_addr(self.b, table, i);
                self.b.ins().store(MemFlagsData::trusted(), v, addr, 0);
            }
            O::TableSize { table } => {
                let v = self.env.table_size(self.b, table);
                self.push(v);
            }
            // Indices and lengths are i32 or i64 by the tables' index types; builtins take
            // u64 (as for memories).
            O::TableGrow { table } => {
                let (init, delta) = self.pop2();
                let delta = self.address_as_u64(delta);
                let t = self.b.ins().iconst(types::I32, table as i64);
                let r = self
                    .env
                    .call_builtin(self.b, Builtin::table_grow, &[t, delta, init])
                    .expect("returns");
                let r = self.index_result(self.env.table64(table), r);
                self.push(r);
            }
            O::TableFill { table } => {
                let (dst, val, len) = self.pop3();
                let dst = self.address_as_u64(dst);
                let len = self.address_as_u64(len);
                let t = self.b.ins().iconst(types::I32, table as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::table_fill,
                    &[t, dst, val, len],
                    TrapKind::TableOutOfBounds,
                );
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let (dst, src, len) = self.pop3();
                let dst = self.address_as_u64(dst);
                let src = self.address_as_u64(src);
                let len = self.address_as_u64(len);
                let d = self.b.ins().iconst(types::I32, dst_table as i64);
                let s = self.b.ins().iconst(types::I32, src_table as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::table_copy,
                    &[d, s, dst, src, len],
                    TrapKind::TableOutOfBounds,
                );
            }
            O::TableInit { elem_index, table } => {
                let (dst, src, len) = self.pop3();
                let dst = self.address_as_u64(dst);
                let t = self.b.ins().iconst(types::I32, table as i64);
                let e = self.b.ins().iconst(types::I32, elem_index as i64);
                self.env.call_builtin_checked(
                    self.b,
                    Builtin::table_init,
                    &[t, e, dst, src, len],
                    TrapKind::TableOutOfBounds,
                );
            }
            O::ElemDrop { elem_index } => {
                let e = self.b.ins().iconst(types::I32, elem_index as i64);
                self.env.call_builtin(self.b, Builtin::elem_drop, &[e]);
            }

            other => {
                if !numeric::translate(self, &other)
                    && !simd::translate(self, &other)
                    && !atomics::translate(self, &other)
                    && !self.gc_operator(&other)?
                {
                    return Err(unsupported(self.file, offset, &other));
                }
            }
        }
        Ok(())
    }

    fn op_else(&mut self) {
        let frame = self.frames.last_mut().expect("validated: else inside if");
        if self.reachable {
            frame.dest_reachable = true;
            let n = frame.num_results;
            let dest = frame.dest;
            let args = self.peekn(n).to_vec();
            self.b.ins().jump(dest, &block_args(&args));
        }
        let frame = self.frames.last_mut().expect("validated");
        let else_block = frame.else_block.take().expect("validated: one else per if");
        let base = frame.stack_base;
        let params = std::mem::take(&mut frame.else_params);
        self.stack.truncate(base);
        self.stack.extend(params);
        self.switch_to(else_block);
        // Frames are only opened in reachable code, so the else branch is reachable.
        self.reachable = true;
    }

    fn op_end(&mut self) {
        let frame = self.frames.pop().expect("validated: end closes a frame");
        if self.reachable {
            let args = self.peekn(frame.num_results).to_vec();
            self.b.ins().jump(frame.dest, &block_args(&args));
        }
        let mut dest_reachable = frame.dest_reachable || self.reachable;
        if let Some(else_block) = frame.else_block {
            // An if without else: the false edge passes the params straight through
            // (validation guarantees params == results here).
            self.switch_to(else_block);
            self.b
                .ins()
                .jump(frame.dest, &block_args(&frame.else_params));
            dest_reachable = true;
        }
        if let Some(handler) = frame.handler {
            self.end_try_table(*handler);
        }
        self.stack.truncate(frame.stack_base);
        self.switch_to(frame.dest);
        self.stack
            .extend_from_slice(self.b.block_params(frame.dest));
        self.reachable = dest_reachable;
        if !dest_reachable && !self.frames.is_empty() {
            // Nothing reaches the continuation: terminate the empty block.
            self.b
                .ins()
                .trap(trap_code(TrapKind::UnreachableCodeReached));
        }
    }

    /// The back edge `op` (at `offset`) of a loop chosen by [`unroll::plan`]: the body,
    /// read again from `body`, is translated `u.copies - 1` more times, each copy entered
    /// where the last one would have branched back, before the last copy's `op` closes the
    /// loop as usual. A conditional back edge exits to the loop's continuation when its
    /// condition fails, as the loop's `end` would.
    fn unrolled_back_edge(
        &mut self,
        op: Operator,
        offset: usize,
        u: &unroll::Plan,
        body: &wasmparser::OperatorsReader,
    ) -> Result<(), CompileError> {
        for _ in 1..u.copies {
            if !self.reachable {
                break;
            }
            let next = self.b.create_block();
            match u.kind {
                unroll::BackEdge::Conditional => {
                    let cond = self.pop();
                    let frame = self.frames.last_mut().expect("inside the loop's frame");
                    debug_assert_eq!(frame.kind, FrameKind::Loop);
                    debug_assert_eq!(self.stack.len(), frame.stack_base);
                    frame.dest_reachable = true;
                    let dest = frame.dest;
                    self.b.ins().brif(cond, next, &[], dest, &[]);
                }
                unroll::BackEdge::Always => {
                    self.b.ins().jump(next, &[]);
                }
            }
            self.switch_to(next);
            let mut r = body.clone();
            while r.original_position() < offset as u64 {
                let at = r.original_position() as usize;
                let op = r
                    .read()
                    .map_err(|e| CompileError::from_wasmparser(self.file, &e))?;
                self.operator(op, at)?;
            }
        }
        self.operator(op, offset)
    }

    /// Unreachable code: only track nesting until the enclosing frame's else or end.
    fn dead_operator(&mut self, op: Operator) -> Result<(), CompileError> {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. } => self.dead_depth += 1,
            Operator::Else if self.dead_depth == 0 => self.op_else(),
            Operator::End if self.dead_depth == 0 => self.op_end(),
            Operator::End => self.dead_depth -= 1,
            _ => {}
        }
        Ok(())
    }

    /// A memory or table address or length as the u64 the builtins take: i32 values (of
    /// 32-bit memories and tables) are zero-extended, i64 values are already one.
    fn address_as_u64(&mut self, v: Value) -> Value {
        if self.b.func.dfg.value_type(v) == types::I32 {
            self.b.ins().uextend(types::I64, v)
        } else {
            v
        }
    }

    /// A page count or grow result (an i64) as the memory's or table's index type.
    fn index_result(&mut self, is64: bool, v: Value) -> Value {
        if is64 {
            v
        } else {
            self.b.ins().ireduce(types::I32, v)
        }
    }

    fn load(&mut self, memarg: MemArg, result: Type, mem_ty: Type, size: u32, ext: Ext) {
        let addr = self.pop();
        let (a, off, flags) =
            self.env
                .memory_addr(self.b, mem_index(&memarg), addr, memarg.offset, size);
        let v = match (ext, mem_ty.bits()) {
            (Ext::None, _) => self.b.ins().load(result, flags, a, off),
            (Ext::Signed, 8) => self.b.ins().sload8(result, flags, a, off),
            (Ext::Unsigned, 8) => self.b.ins().uload8(result, flags, a, off),
            (Ext::Signed, 16) => self.b.ins().sload16(result, flags, a, off),
            (Ext::Unsigned, 16) => self.b.ins().uload16(result, flags, a, off),
            (Ext::Signed, _) => self.b.ins().sload32(flags, a, off),
            (Ext::Unsigned, _) => self.b.ins().uload32(flags, a, off),
        };
        self.push(v);
    }

    fn store(&mut self, memarg: MemArg, narrow: Option<Type>, size: u32) {
        let v = self.pop();
        let addr = self.pop();
        let (a, off, flags) =
            self.env
                .memory_addr(self.b, mem_index(&memarg), addr, memarg.offset, size);
        match narrow.map(|t| t.bits()) {
            None => self.b.ins().store(flags, v, a, off),
            Some(8) => self.b.ins().istore8(flags, v, a, off),
            Some(16) => self.b.ins().istore16(flags, v, a, off),
            Some(_) => self.b.ins().istore32(flags, v, a, off),
        };
    }
}

fn mem_index(m: &MemArg) -> u32 {
    match m.target {
        wasmparser::MemArgTarget::Memory(i) => i,
        // GC array accesses are rejected by validation (no GC feature).
        wasmparser::MemArgTarget::Array(_) => 0,
    }
}

#[derive(Clone, Copy)]
enum Ext {
    None,
    Signed,
    Unsigned,
}

/// The name of an operator: its `Operator` variant.
pub fn operator_name(op: &Operator) -> String {
    let name = format!("{op:?}");
    name.split([' ', '{', '(']).next().unwrap_or("").to_string()
}

/// Whether the operator named `name` (see [`operator_name`]) belongs to the GC proposal:
/// struct and array instructions, i31 references, casts and tests, the conversions between
/// `any` and `extern`, and `ref.eq`.
pub fn is_gc_operator(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Struct",
        "Array",
        "RefI31",
        "I31Get",
        "RefTest",
        "RefCast",
        "BrOnCast",
        "AnyConvertExtern",
        "ExternConvertAny",
        "RefEq",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The error for an instruction aot does not compile, naming it (and GC's as GC's).
pub(crate) fn unsupported(file: &str, offset: usize, op: &Operator) -> CompileError {
    let name = operator_name(op);
    let what = if is_gc_operator(&name) {
        format!("GC instruction {name} is not supported yet (GC)")
    } else if name.starts_with('V')
        || name.contains("x16")
        || name.contains("x8")
        || name.contains("x4")
        || name.contains("x2")
    {
        format!("SIMD instruction {name} is not supported yet")
    } else {
        format!("instruction {name} is not supported yet")
    };
    CompileError::new(file, Some(offset), what)
}
