//! Threads operators: atomic loads, stores, read-modify-writes and compare-exchanges on
//! i32/i64 and their narrow forms, `atomic.fence`, and `memory.atomic.wait32/64` /
//! `memory.atomic.notify`.
//!
//! Every access goes through `FuncEnv::atomic_addr`: the alignment trap first, then an
//! explicit bounds check whatever the memory's bounds mode (an atomic instruction never
//! faults); a wait or notify whose `address + offset` overflows the index type is out of
//! bounds before that, as in wasmtime. Cranelift's atomic instructions are all sequentially consistent: on x86_64
//! plain loads, stores followed by `mfence` and `lock`-prefixed read-modify-writes; on
//! aarch64 `ldar`/`stlr` and LSE or `ldaxr`/`stlxr` loops. Narrow forms operate on the
//! narrow type (operands wrapped, results zero-extended), as the spec defines them.
//!
//! On aarch64 an atomic store to a shared memory is an exchange (`ldaxr`/`stlxr`), not
//! `stlr`. On the hardware both are sequentially consistent with `ldar` (ARMv8's RCsc
//! acquire/release), but qemu-user on an x86_64 host, where aarch64 executables are
//! tested and often run, emits its barrier before an `stlr` and after an `ldar`, so a store
//! followed by a load of another address may be reordered by the host's store buffer:
//! the store-buffering litmus then shows outcomes seq-cst forbids (a quarter of 1M-round
//! runs did). The exchange's store-exclusive is a locked instruction on the host, a full
//! barrier. It costs an exclusive pair instead of one store, only for shared memories.
//!
//! Atomics on an unshared memory behave as on a shared one (the spec allows them), except
//! that a wait traps ("atomic wait on non-shared memory", after the address checks as in
//! wasmtime) and a notify wakes nobody, both decided at compile time; on a shared memory
//! wait and notify are runtime builtins over a process-wide wait queue.

use cranelift_codegen::ir::{AtomicRmwOp, Endianness, InstBuilder, MemFlagsData, Type, types};
use wasmparser::{MemArg, Operator};

use super::{Translator, mem_index};
use crate::env::{Builtin, trap_code};
use aot_abi::TrapKind;

/// Translates `op` if it is a threads operator; returns false otherwise.
pub(super) fn translate(t: &mut Translator, op: &Operator) -> bool {
    use AtomicRmwOp as R;
    use Operator as O;
    use types::{I8, I16, I32, I64};
    match *op {
        O::AtomicFence { .. } => {
            t.b.ins().fence();
        }

        O::I32AtomicLoad { memarg } => load(t, memarg, I32, I32),
        O::I64AtomicLoad { memarg } => load(t, memarg, I64, I64),
        O::I32AtomicLoad8U { memarg } => load(t, memarg, I32, I8),
        O::I32AtomicLoad16U { memarg } => load(t, memarg, I32, I16),
        O::I64AtomicLoad8U { memarg } => load(t, memarg, I64, I8),
        O::I64AtomicLoad16U { memarg } => load(t, memarg, I64, I16),
        O::I64AtomicLoad32U { memarg } => load(t, memarg, I64, I32),

        O::I32AtomicStore { memarg } | O::I64AtomicStore { memarg } => store(t, memarg, None),
        O::I32AtomicStore8 { memarg } | O::I64AtomicStore8 { memarg } => store(t, memarg, Some(I8)),
        O::I32AtomicStore16 { memarg } | O::I64AtomicStore16 { memarg } => {
            store(t, memarg, Some(I16))
        }
        O::I64AtomicStore32 { memarg } => store(t, memarg, Some(I32)),

        O::I32AtomicRmwAdd { memarg } => rmw(t, memarg, R::Add, I32, I32),
        O::I64AtomicRmwAdd { memarg } => rmw(t, memarg, R::Add, I64, I64),
        O::I32AtomicRmw8AddU { memarg } => rmw(t, memarg, R::Add, I32, I8),
        O::I32AtomicRmw16AddU { memarg } => rmw(t, memarg, R::Add, I32, I16),
        O::I64AtomicRmw8AddU { memarg } => rmw(t, memarg, R::Add, I64, I8),
        O::I64AtomicRmw16AddU { memarg } => rmw(t, memarg, R::Add, I64, I16),
        O::I64AtomicRmw32AddU { memarg } => rmw(t, memarg, R::Add, I64, I32),

        O::I32AtomicRmwSub { memarg } => rmw(t, memarg, R::Sub, I32, I32),
        O::I64AtomicRmwSub { memarg } => rmw(t, memarg, R::Sub, I64, I64),
        O::I32AtomicRmw8SubU { memarg } => rmw(t, memarg, R::Sub, I32, I8),
        O::I32AtomicRmw16SubU { memarg } => rmw(t, memarg, R::Sub, I32, I16),
        O::I64AtomicRmw8SubU { memarg } => rmw(t, memarg, R::Sub, I64, I8),
        O::I64AtomicRmw16SubU { memarg } => rmw(t, memarg, R::Sub, I64, I16),
        O::I64AtomicRmw32SubU { memarg } => rmw(t, memarg, R::Sub, I64, I32),

        O::I32AtomicRmwAnd { memarg } => rmw(t, memarg, R::And, I32, I32),
        O::I64AtomicRmwAnd { memarg } => rmw(t, memarg, R::And, I64, I64),
        O::I32AtomicRmw8AndU { memarg } => rmw(t, memarg, R::And, I32, I8),
        O::I32AtomicRmw16AndU { memarg } => rmw(t, memarg, R::And, I32, I16),
        O::I64AtomicRmw8AndU { memarg } => rmw(t, memarg, R::And, I64, I8),
        O::I64AtomicRmw16AndU { memarg } => rmw(t, memarg, R::And, I64, I16),
        O::I64AtomicRmw32AndU { memarg } => rmw(t, memarg, R::And, I64, I32),

        O::I32AtomicRmwOr { memarg } => rmw(t, memarg, R::Or, I32, I32),
        O::I64AtomicRmwOr { memarg } => rmw(t, memarg, R::Or, I64, I64),
        O::I32AtomicRmw8OrU { memarg } => rmw(t, memarg, R::Or, I32, I8),
        O::I32AtomicRmw16OrU { memarg } => rmw(t, memarg, R::Or, I32, I16),
        O::I64AtomicRmw8OrU { memarg } => rmw(t, memarg, R::Or, I64, I8),
        O::I64AtomicRmw16OrU { memarg } => rmw(t, memarg, R::Or, I64, I16),
        O::I64AtomicRmw32OrU { memarg } => rmw(t, memarg, R::Or, I64, I32),

        O::I32AtomicRmwXor { memarg } => rmw(t, memarg, R::Xor, I32, I32),
        O::I64AtomicRmwXor { memarg } => rmw(t, memarg, R::Xor, I64, I64),
        O::I32AtomicRmw8XorU { memarg } => rmw(t, memarg, R::Xor, I32, I8),
        O::I32AtomicRmw16XorU { memarg } => rmw(t, memarg, R::Xor, I32, I16),
        O::I64AtomicRmw8XorU { memarg } => rmw(t, memarg, R::Xor, I64, I8),
        O::I64AtomicRmw16XorU { memarg } => rmw(t, memarg, R::Xor, I64, I16),
        O::I64AtomicRmw32XorU { memarg } => rmw(t, memarg, R::Xor, I64, I32),

        O::I32AtomicRmwXchg { memarg } => rmw(t, memarg, R::Xchg, I32, I32),
        O::I64AtomicRmwXchg { memarg } => rmw(t, memarg, R::Xchg, I64, I64),
        O::I32AtomicRmw8XchgU { memarg } => rmw(t, memarg, R::Xchg, I32, I8),
        O::I32AtomicRmw16XchgU { memarg } => rmw(t, memarg, R::Xchg, I32, I16),
        O::I64AtomicRmw8XchgU { memarg } => rmw(t, memarg, R::Xchg, I64, I8),
        O::I64AtomicRmw16XchgU { memarg } => rmw(t, memarg, R::Xchg, I64, I16),
        O::I64AtomicRmw32XchgU { memarg } => rmw(t, memarg, R::Xchg, I64, I32),

        O::I32AtomicRmwCmpxchg { memarg } => cmpxchg(t, memarg, I32, I32),
        O::I64AtomicRmwCmpxchg { memarg } => cmpxchg(t, memarg, I64, I64),
        O::I32AtomicRmw8CmpxchgU { memarg } => cmpxchg(t, memarg, I32, I8),
        O::I32AtomicRmw16CmpxchgU { memarg } => cmpxchg(t, memarg, I32, I16),
        O::I64AtomicRmw8CmpxchgU { memarg } => cmpxchg(t, memarg, I64, I8),
        O::I64AtomicRmw16CmpxchgU { memarg } => cmpxchg(t, memarg, I64, I16),
        O::I64AtomicRmw32CmpxchgU { memarg } => cmpxchg(t, memarg, I64, I32),

        O::MemoryAtomicNotify { memarg } => notify(t, memarg),
        O::MemoryAtomicWait32 { memarg } => wait(t, memarg, I32),
        O::MemoryAtomicWait64 { memarg } => wait(t, memarg, I64),

        _ => return false,
    }
    true
}

/// Flags of an atomic access: the address is checked (in bounds, aligned) before it.
fn flags() -> MemFlagsData {
    MemFlagsData::trusted().with_endianness(Endianness::Little)
}

fn address(t: &mut Translator, memarg: MemArg, access: Type) -> cranelift_codegen::ir::Value {
    let addr = t.pop();
    t.env
        .atomic_addr(t.b, mem_index(&memarg), addr, memarg.offset, access.bytes())
}

fn widen(t: &mut Translator, v: cranelift_codegen::ir::Value, result: Type, access: Type) {
    let v = if result == access {
        v
    } else {
        t.b.ins().uextend(result, v)
    };
    t.push(v);
}

fn narrow(
    t: &mut Translator,
    v: cranelift_codegen::ir::Value,
    access: Type,
) -> cranelift_codegen::ir::Value {
    if t.b.func.dfg.value_type(v) == access {
        v
    } else {
        t.b.ins().ireduce(access, v)
    }
}

fn load(t: &mut Translator, memarg: MemArg, result: Type, access: Type) {
    let p = address(t, memarg, access);
    let v = t.b.ins().atomic_load(access, flags(), p);
    widen(t, v, result, access);
}

fn store(t: &mut Translator, memarg: MemArg, access: Option<Type>) {
    let v = t.pop();
    let access = access.unwrap_or(t.b.func.dfg.value_type(v));
    let p = address(t, memarg, access);
    let v = narrow(t, v, access);
    if t.env.module.shared_store_as_swap && is_shared(t, &memarg) {
        t.b.ins()
            .atomic_rmw(access, flags(), AtomicRmwOp::Xchg, p, v);
    } else {
        t.b.ins().atomic_store(flags(), v, p);
    }
}

fn rmw(t: &mut Translator, memarg: MemArg, op: AtomicRmwOp, result: Type, access: Type) {
    let x = t.pop();
    let p = address(t, memarg, access);
    let x = narrow(t, x, access);
    let old = t.b.ins().atomic_rmw(access, flags(), op, p, x);
    widen(t, old, result, access);
}

fn cmpxchg(t: &mut Translator, memarg: MemArg, result: Type, access: Type) {
    let replacement = t.pop();
    let expected = t.pop();
    let p = address(t, memarg, access);
    // The spec compares the loaded narrow value with the expected operand wrapped to the
    // access width.
    let expected = narrow(t, expected, access);
    let replacement = narrow(t, replacement, access);
    let old = t.b.ins().atomic_cas(flags(), p, expected, replacement);
    widen(t, old, result, access);
}

/// The address of a wait or notify. wasmtime adds their offset to the address in the
/// memory's index type with an overflow trap (out of bounds) before the alignment check,
/// where the other atomics wrap; so a wait or notify whose `address + offset` passes
/// 2^32 (2^64 for a 64-bit memory) is out of bounds even when misaligned.
fn wait_notify_address(
    t: &mut Translator,
    memarg: MemArg,
    access: Type,
) -> cranelift_codegen::ir::Value {
    if memarg.offset != 0 {
        let addr = t.peekn(1)[0];
        let index_type = t.b.func.dfg.value_type(addr);
        let offset = t.b.ins().iconst(index_type, memarg.offset as i64);
        t.b.ins()
            .uadd_overflow_trap(addr, offset, trap_code(TrapKind::MemoryOutOfBounds));
    }
    address(t, memarg, access)
}

fn is_shared(t: &Translator, memarg: &MemArg) -> bool {
    t.env.memory_type(mem_index(memarg)).shared
}

fn notify(t: &mut Translator, memarg: MemArg) {
    let count = t.pop();
    let p = wait_notify_address(t, memarg, types::I32);
    if is_shared(t, &memarg) {
        let woken = t
            .env
            .call_builtin(t.b, Builtin::memory_atomic_notify, &[p, count])
            .expect("memory_atomic_notify returns the woken count");
        t.push(woken);
    } else {
        // Nobody can wait on an unshared memory.
        let zero = t.b.ins().iconst(types::I32, 0);
        t.push(zero);
    }
}

fn wait(t: &mut Translator, memarg: MemArg, access: Type) {
    let timeout = t.pop();
    let expected = t.pop();
    let p = wait_notify_address(t, memarg, access);
    if is_shared(t, &memarg) {
        let builtin = if access == types::I32 {
            Builtin::memory_atomic_wait32
        } else {
            Builtin::memory_atomic_wait64
        };
        let r = t
            .env
            .call_builtin(t.b, builtin, &[p, expected, timeout])
            .expect("memory_atomic_wait returns its result code");
        t.push(r);
    } else {
        t.trap(TrapKind::AtomicWaitNonSharedMemory);
        t.unreachable_from_here();
    }
}
