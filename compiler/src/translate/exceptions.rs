//! Exception handling (the standard proposal): `throw`, `throw_ref` and `try_table`.
//!
//! The path that throws nothing costs nothing: a call inside a `try_table` is a Cranelift
//! `try_call` whose exceptional edge goes to the table's landing pad, and the only trace
//! it leaves is a [`aot_abi::HandlerRecord`] for its return address. Throwing allocates
//! the exception in the GC heap like a struct (`FuncEnv::gc_alloc`, header = the tag's
//! `gc_info`; the payload values, references among them, stay live across the allocation,
//! so a collection there finds and moves them), writes its tag and payload, and calls the
//! module's throw stub, which calls `throw_ref`; the runtime walks the frame pointers up to
//! the first call site with a record and resumes at its landing pad with the exception in
//! the first payload register (`runtime-lib/src/exceptions.rs`). An `exnref` is a GC
//! reference like any other: stack-mapped wherever it is live across a call.
//!
//! Every record catches everything: the landing pad compares the exception's tag with its
//! clauses' tags in order (a tag's identity is its `VMTag` address) and branches to the
//! first that matches with the payload (and the `exnref` for the `_ref` clauses); when none
//! matches it throws the exception again from there, where the enclosing `try_table` of the
//! same function, if any, catches it in turn. So the runtime never needs to know which
//! instance a frame belongs to to match tags.

use aot_abi::{TrapKind, VMEXN_SLOT_SIZE, VMEXN_TAG, VMEXN_VALUES, VMTAG_GC_INFO, exn_size};
use cranelift_codegen::ir::{self, InstBuilder, MemFlagsData, Value};
use wasmparser::{Catch, TryTable};

use super::{Frame, FrameKind, Translator, block_args};
use crate::CompileError;
use crate::env::{PTR, ir_type, trap_code};

/// Accesses to an exception's tag and payload: the object is live and non-null, but only
/// 8-aligned (a GC object), so no alignment is claimed for v128 slots.
fn exn_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// The landing pad of one `try_table` and its catch clauses, kept on its frame until its
/// `end`, where the pad's dispatch is emitted (the clauses' labels are relative to the
/// frames outside the `try_table`, which are the innermost ones again at that point).
pub(super) struct TryHandler {
    pad: ir::Block,
    catches: Vec<Catch>,
}

impl Translator<'_, '_, '_> {
    pub(super) fn op_try_table(&mut self, table: TryTable) -> Result<(), CompileError> {
        let (params, results) = self.block_sig(table.ty)?;
        let dest = self.new_block_with(&results);
        let pad = self.b.create_block();
        // The exnref: a GC reference, mapped wherever it is live across a call.
        let exn = self.b.append_block_param(pad, PTR);
        self.b.declare_value_needs_stack_map(exn);
        let stack_base = self.stack.len() - params.len();
        self.env.exn_handlers.push((pad, false));
        self.frames.push(Frame {
            kind: FrameKind::TryTable,
            dest,
            header: None,
            else_block: None,
            else_params: Vec::new(),
            num_params: params.len(),
            num_results: results.len(),
            stack_base,
            dest_reachable: false,
            handler: Some(Box::new(TryHandler {
                pad,
                catches: table.catches,
            })),
        });
        Ok(())
    }

    /// `throw $tag`: allocates the exception (which may collect: the payload values stay
    /// live across it and are reloaded, moved, after), stores the tag and payload, throws.
    pub(super) fn op_throw(&mut self, tag_index: u32) {
        let ty = self.tag_type(tag_index);
        let args = self.popn(ty.params.len());
        let tag = self.env.tag_ptr(self.b, tag_index);
        let info = self.b.ins().load(
            PTR,
            MemFlagsData::trusted().with_readonly().with_can_move(),
            tag,
            VMTAG_GC_INFO as i32,
        );
        let size = self
            .b
            .ins()
            .iconst(ir::types::I64, i64::from(exn_size(ty.params.len() as u32)));
        // Under a tag's 1000 parameters the size stays far below the large-object size.
        let exn = self.env.gc_alloc(self.b, info, size, false);
        self.b.declare_value_needs_stack_map(exn);
        self.b.ins().store(exn_flags(), tag, exn, VMEXN_TAG as i32);
        for (i, v) in args.iter().enumerate() {
            let off = VMEXN_VALUES + i as u32 * VMEXN_SLOT_SIZE;
            self.b.ins().store(exn_flags(), *v, exn, off as i32);
        }
        self.throw_exn(exn);
    }

    /// `throw_ref`: throws the exception again (a null one traps).
    pub(super) fn op_throw_ref(&mut self) {
        let exn = self.pop();
        self.b.ins().trapz(exn, trap_code(TrapKind::NullReference));
        self.throw_exn(exn);
    }

    fn throw_exn(&mut self, exn: Value) {
        self.env.call_throw_stub(self.b, exn);
        self.b
            .ins()
            .trap(trap_code(TrapKind::UnreachableCodeReached));
        self.unreachable_from_here();
    }

    fn tag_type(&self, tag_index: u32) -> aot_abi::FuncType {
        let info = self.env.module.info;
        let ty = info.tags[tag_index as usize];
        info.meta.types[ty as usize].clone()
    }

    /// At the `end` of a `try_table` (its frame already popped, its body's fall-through
    /// already jumping to the continuation): stops routing calls to its landing pad and,
    /// if any call did, emits the pad's dispatch over the catch clauses.
    pub(super) fn end_try_table(&mut self, handler: TryHandler) {
        let (pad, used) = self
            .env
            .exn_handlers
            .pop()
            .expect("a try_table's handler is on the stack until its end");
        debug_assert_eq!(pad, handler.pad);
        if !used {
            return;
        }
        self.b.switch_to_block(pad);
        self.env.reload_register_global(self.b);
        let exn = self.b.block_params(pad)[0];
        for catch in handler.catches {
            match catch {
                Catch::All { label } => self.branch_to_label(label, &[]),
                Catch::AllRef { label } => self.branch_to_label(label, &[exn]),
                Catch::One { tag, label } | Catch::OneRef { tag, label } => {
                    let with_ref = matches!(catch, Catch::OneRef { .. });
                    let thrown = self.b.ins().load(PTR, exn_flags(), exn, VMEXN_TAG as i32);
                    let mine = self.env.tag_ptr(self.b, tag);
                    let matched = self.b.create_block();
                    let next = self.b.create_block();
                    let eq = self.b.ins().icmp(ir::condcodes::IntCC::Equal, thrown, mine);
                    self.b.ins().brif(eq, matched, &[], next, &[]);
                    self.b.switch_to_block(matched);
                    let ty = self.tag_type(tag);
                    let mut vals = Vec::with_capacity(ty.params.len() + 1);
                    for (i, p) in ty.params.iter().enumerate() {
                        let off = VMEXN_VALUES + i as u32 * VMEXN_SLOT_SIZE;
                        let v = self.b.ins().load(ir_type(*p), exn_flags(), exn, off as i32);
                        self.note_ref(v, p);
                        vals.push(v);
                    }
                    if with_ref {
                        vals.push(exn);
                    }
                    self.branch_to_label(label, &vals);
                    self.b.switch_to_block(next);
                    continue;
                }
            }
            // A catch-all clause catches everything: later clauses are never reached.
            return;
        }
        // No clause matched: rethrow to the enclosing handler (or out of this function).
        self.env.call_throw_stub(self.b, exn);
        self.b
            .ins()
            .trap(trap_code(TrapKind::UnreachableCodeReached));
    }

    fn branch_to_label(&mut self, label: u32, args: &[Value]) {
        let (target, n) = self.br_target(label);
        debug_assert_eq!(n, args.len(), "validated: catch clause arity");
        self.b.ins().jump(target, &block_args(args));
    }
}
