//! The test host (`aot_abi::host::TEST_HOST_MODULE`): host functions that only aot's own
//! tests import (the compiler offers them when asked to), to exercise what real host
//! functions will do, such as the canonical ABI's `realloc` calls: call back into Wasm from
//! a host frame, and let a trap in the callee unwind through it.

use aot_abi::{FuncType, TrapKind, VMFuncRef, ValRaw};

use crate::instance::{Instance, intern_type};
use crate::store::Store;

/// `aot_test::call(f: funcref)`: calls `f`, which must have type `[] -> []`. A trap in `f`
/// (or a null or mistyped `f`, trapping as call_indirect would) is handed to the calling
/// trampoline, which raises it in the caller: the report shows `f`'s frames, then the
/// caller's. `f` is called through the caller's array-call trampoline for `[] -> []`, so
/// the calling module must declare that type (a funcref of that type it can name does).
///
/// # Safety
/// `vmctx` must be the calling instance's vmctx and `f` null or a funcref of a live
/// instance (generated code passes both).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_test_call(vmctx: *mut u8, f: *const VMFuncRef) {
    // SAFETY: per the contract, vmctx is a live instance's.
    let store = unsafe { Store::from_vmctx(vmctx) };
    // SAFETY: per the contract, a non-null f is a live funcref.
    let Some(func) = (unsafe { f.as_ref() }) else {
        store.set_pending_trap(store.host_trap(TrapKind::IndirectCallToNull));
        return;
    };
    let void = FuncType {
        params: Vec::new(),
        results: Vec::new(),
    };
    let void_id = intern_type(&void);
    if func.type_id != void_id {
        store.set_pending_trap(store.host_trap(TrapKind::BadSignature));
        return;
    }
    // SAFETY: per the contract, vmctx is the calling instance's.
    let caller = unsafe { Instance::from_vmctx(vmctx) };
    let Some(trampoline) = caller.array_trampoline(void_id) else {
        eprintln!("aot_test::call: the calling module declares no type [] -> []");
        std::process::abort();
    };
    let (code, callee_vmctx) = (func.code, func.vmctx);
    // The trampoline reads no argument and writes no result; it gets a slot anyway.
    let mut values = [ValRaw::default()];
    let values_ptr = values.as_mut_ptr();
    let result = store.call_wasm(|| {
        // SAFETY: code and its vmctx come from the same live funcref, whose type is the
        // trampoline's.
        unsafe { trampoline(code, callee_vmctx, values_ptr) }
    });
    if let Err(trap) = result {
        store.set_pending_trap(trap);
    }
}

/// `aot_test::host_ref(n)`: the host reference `n`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_host_ref(_vmctx: *mut u8, n: i32) -> u64 {
    aot_abi::gc::host_ref(u64::from(n as u32))
}

/// `aot_test::host_ref_number(r)`: the number of host reference `r`; -1 for null, -2 for
/// any other word.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_host_ref_number(_vmctx: *mut u8, r: u64) -> i32 {
    match aot_abi::gc::host_ref_number(r) {
        _ if r == 0 => -1,
        Some(n) => n as i32,
        None => -2,
    }
}

/// `aot_test::gc_roots()`: see `aot_abi::host`. Starts where the collector would if its
/// caller allocated: at the Wasm frame that called this host function (the store's last
/// Wasm-to-host transition).
///
/// # Safety
/// `vmctx` must be the calling instance's vmctx (generated code passes it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_test_gc_roots(vmctx: *mut u8) -> i32 {
    use core::sync::atomic::Ordering::Relaxed;
    // SAFETY: per the contract, vmctx is a live instance's.
    let store = unsafe { Store::from_vmctx(vmctx) };
    let ctx = store.context();
    let start = crate::trap::StackStart {
        fp: ctx.last_exit_fp.load(Relaxed),
        ret: ctx.last_exit_pc.load(Relaxed),
    };
    let mut seen: Vec<Option<u64>> = Vec::new();
    // SAFETY: `start` is the Wasm frame whose call of the host-call trampoline led here;
    // no Wasm code runs during the visit. Each slot is a live 8-byte stack slot.
    unsafe {
        crate::trap::visit_stack_roots(start, |slot| {
            let w = *slot;
            match aot_abi::gc::host_ref_number(w) {
                Some(n) => {
                    seen.push(Some(n));
                    *slot = aot_abi::gc::host_ref(n + 10);
                }
                None if w == 0 => seen.push(None),
                None => seen.push(Some(u64::MAX)),
            }
        })
    };
    seen.sort_unstable();
    let words: Vec<String> = seen
        .iter()
        .map(|n| n.map_or("null".to_string(), |n| n.to_string()))
        .collect();
    print_line(format_args!("roots {}", words.join(" ")));
    seen.len() as i32
}

/// One `spectest: ...` line on stdout (what the spec suite's print functions produce; the
/// harness tells these lines from the driver's results by the prefix). Write errors are
/// ignored: a closed stdout must not end a Wasm call.
fn print_line(args: core::fmt::Arguments) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "spectest: {args}");
    let _ = out.flush();
}

/// `aot_test::print`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print(_vmctx: *mut u8) {
    print_line(format_args!(""));
}

/// `aot_test::print_i32`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print_i32(_vmctx: *mut u8, v: i32) {
    print_line(format_args!("{v}: i32"));
}

/// `aot_test::print_i64`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print_i64(_vmctx: *mut u8, v: i64) {
    print_line(format_args!("{v}: i64"));
}

/// `aot_test::print_f32`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print_f32(_vmctx: *mut u8, v: f32) {
    print_line(format_args!("{v}: f32"));
}

/// `aot_test::print_f64`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print_f64(_vmctx: *mut u8, v: f64) {
    print_line(format_args!("{v}: f64"));
}

/// `aot_test::print_i32_f32`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print_i32_f32(_vmctx: *mut u8, a: i32, b: f32) {
    print_line(format_args!("{a}: i32 {b}: f32"));
}

/// `aot_test::print_f64_f64`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_test_print_f64_f64(_vmctx: *mut u8, a: f64, b: f64) {
    print_line(format_args!("{a}: f64 {b}: f64"));
}
