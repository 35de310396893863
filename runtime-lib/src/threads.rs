//! wasi-threads: `wasi::thread-spawn`, as `wasm32-wasip1-threads` programs call it and
//! `wasmtime run -S threads` (46 and earlier) runs it.
//!
//! Each Wasm thread is a native thread running a new instance of the module that called
//! `thread-spawn`, made with the same imports (so the same shared memory and the same host
//! functions) in a store of its own ([`Store::for_thread`]): its own stack limit, last
//! Wasm-to-host transition and pending trap, over the program's one WASI context. The new
//! instance runs its start function (wasi-libc's `__wasm_init_memory` initialises the
//! shared memory once, guarded by an atomic flag, and each instance's own globals such as
//! the TLS base), then `wasi_thread_start(thread_id, start_arg)`.
//!
//! How threads end the program, as in wasmtime: the program exits when its main thread
//! returns from `_start`, whatever other threads are doing; `proc_exit` from any thread
//! exits the process with that status; a trap in any thread prints its report and exits
//! the process with the trap's status (134), so a Rust panic, which aborts on Wasm, ends
//! every thread.
//!
//! A finished thread's instance and store are freed, unless the module imports a table or
//! a reference global, through which the instance's functions could have escaped to other
//! threads (instances are otherwise never freed).

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};

use aot_abi::ValRaw;
use aot_abi::wasi::THREAD_START_EXPORT;

use crate::instance::{self, Instance, InstantiateError};
use crate::store::Store;

/// wasi-threads ids: 1 and up, allocated in order as wasmtime does; the proposal keeps
/// the top bits free, so an id never exceeds this.
const MAX_THREAD_ID: i32 = 0x1FFF_FFFF;

static NEXT_THREAD_ID: AtomicI32 = AtomicI32::new(1);

/// Native stack of a Wasm thread: room for the Wasm stack limit below the thread's entry
/// (`signals::MAX_WASM_STACK`), the host functions the deepest Wasm frame calls
/// (`signals::HOST_STACK_SLACK`), the stack guard below them (`signals::STACK_GUARD_SIZE`)
/// and the runtime's own frames above Wasm.
const THREAD_STACK_SIZE: usize = crate::signals::MAX_WASM_STACK
    + crate::signals::HOST_STACK_SLACK
    + crate::signals::STACK_GUARD_SIZE
    + (1 << 20);

/// `wasi::thread-spawn(start_arg) -> thread id`, or -1 when no thread can be started
/// (wasi-libc's `pthread_create` turns any negative value into `EAGAIN`).
///
/// # Safety
/// `vmctx` must be the calling instance's vmctx, as the host-call trampoline passes it.
#[unsafe(export_name = "aot_wasi_thread_spawn")]
pub unsafe extern "C" fn thread_spawn(vmctx: *mut u8, start_arg: i32) -> i32 {
    // SAFETY: generated code passes the calling instance's live vmctx.
    let (parent, store) = unsafe { (Instance::from_vmctx(vmctx), Store::from_vmctx(vmctx)) };
    spawn(parent, store, start_arg).unwrap_or(-1)
}

fn spawn(parent: &Instance, store: &Store, start_arg: i32) -> Option<i32> {
    let id = NEXT_THREAD_ID
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| {
            (id <= MAX_THREAD_ID).then_some(id + 1)
        })
        .ok()?;
    let start = Box::new(ThreadStart {
        desc: parent.descriptor(),
        imports: parent.imports().to_vec(),
        store: store.for_thread(),
        id,
        start_arg,
    });
    start_native_thread(start).then_some(id)
}

/// What a new thread needs to start: [`thread_main`]'s argument.
struct ThreadStart {
    desc: &'static aot_abi::ModuleDescriptor,
    imports: Vec<instance::Extern>,
    store: &'static Store,
    id: i32,
    start_arg: i32,
}

/// Starts a detached native thread running [`thread_main`] on `start`; false if the system
/// refuses one.
///
/// A pthread rather than `std::thread`: std's spawn links musl's `pthread_setname_np`,
/// whose `snprintf` would bring printf's long double code (and the compiler builtins it
/// needs, absent from the runtime archive) into every threaded executable.
fn start_native_thread(start: Box<ThreadStart>) -> bool {
    let arg = Box::into_raw(start);
    // SAFETY: `pthread_t` (a pointer on musl, an integer on glibc) is valid all-zero, and
    // is only written by pthread_create.
    let mut thread: libc::pthread_t = unsafe { core::mem::zeroed() };
    // SAFETY: `attr` is initialised before use and destroyed after; `thread_main` takes
    // ownership of `arg` only if the thread is created, and otherwise it is reclaimed here.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_attr_init(&mut attr) != 0 {
            drop(Box::from_raw(arg));
            return false;
        }
        let created = libc::pthread_attr_setstacksize(&mut attr, THREAD_STACK_SIZE) == 0
            && libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED) == 0
            && libc::pthread_create(&mut thread, &attr, thread_main, arg.cast()) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if !created {
            drop(Box::from_raw(arg));
        }
        created
    }
}

extern "C" fn thread_main(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `start_native_thread` passes a `Box<ThreadStart>` it gave up.
    let start = unsafe { Box::from_raw(arg.cast::<ThreadStart>()) };
    let ThreadStart {
        desc,
        imports,
        store,
        id,
        start_arg,
    } = *start;
    if let Some(code) = run_thread(desc, &imports, store, id, start_arg) {
        exit_process(code);
    }
    core::ptr::null_mut()
}

/// Instantiates the module for thread `id` and runs its `wasi_thread_start`; returns the
/// status the whole process must exit with, if the thread ended it.
fn run_thread(
    desc: &'static aot_abi::ModuleDescriptor,
    imports: &[instance::Extern],
    store: &'static Store,
    id: i32,
    start_arg: i32,
) -> Option<i32> {
    crate::signals::init();
    let fail = |message: String| {
        let _ = writeln!(std::io::stderr(), "error: wasi-thread-{id}: {message}");
        Some(1)
    };
    let instance = match instance::instantiate_in(desc, imports, store) {
        Ok(instance) => instance,
        Err(InstantiateError::Trap(trap)) => return Some(crate::entry::report_trap(&trap)),
        Err(e) => return fail(format!("instantiating the module failed: {e}")),
    };
    let Some(entry) = instance.exported_func(THREAD_START_EXPORT) else {
        return fail(format!(
            "the module exports no `{THREAD_START_EXPORT}` function"
        ));
    };
    let ty = instance.func_type(entry);
    let i32_ = aot_abi::ValType::I32;
    if ty.is_none_or(|t| t.params != [i32_, i32_] || !t.results.is_empty()) {
        return fail(format!(
            "`{THREAD_START_EXPORT}` must be a function of type [i32 i32] -> []"
        ));
    }
    let args = [
        ValRaw::from_u32(id as u32),
        ValRaw::from_u32(start_arg as u32),
    ];
    if let Err(trap) = instance.call(entry, &args) {
        return Some(crate::entry::report_trap(&trap));
    }
    if instance::freeable_after_thread(instance.meta()) {
        // SAFETY: the thread's only call into its instance has returned, and nothing of
        // the instance can have escaped it (`freeable_after_thread`).
        unsafe { instance::free_thread_instance(instance, store) };
    }
    None
}

/// Ends every thread: what a trap or an error in a thread other than the main one does.
fn exit_process(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}
