//! The WASI host that command programs import from `wasi_snapshot_preview1`, behaving as
//! `wasmtime run` (49) does.
//!
//! One module per WASI interface owns the host objects: [`cli`] (environment, exit),
//! [`clocks`], [`filesystem`] (directories and files, all path resolution through cap-std so
//! that nothing escapes a preopened directory), [`io`] (the process's standard streams,
//! readiness), [`random`]. Sockets have no host object: nothing can grant one to a preview 1
//! program. Preview 1 is a thin face over those objects: [`p1`] (the exported functions),
//! [`poll`] (`poll_oneoff`), [`ctx`](mod@ctx) (the context and descriptor table), [`guest`]
//! (bounds-checked guest memory) and [`types`] (the ABI).
//!
//! A preview 1 call either returns an errno or, for the mistakes wasmtime ends the program
//! for (a guest pointer out of bounds or misaligned, an invalid enum or flag argument; see
//! [`guest::GuestError`]), prints one `error:` line on stderr and exits with status 1.
//!
//! The context is the store's host state: [`init`] builds it from the program's arguments
//! and the grants compiled into it, before the module is instantiated, and every host call
//! reaches it from its caller's vmctx (vmctx → store → context) through one accessor,
//! [`ctx()`]. Several threads may be in host calls at once, so the
//! context is `Send + Sync` by construction and locked at the granularity of what changes:
//!
//! - Arguments, environment and clocks never change after creation: no lock.
//! - The descriptor table ([`ctx::Descriptors`]) has its own lock, held only while an entry
//!   is looked up, inserted or removed. A call clones the entry it needs (the host object
//!   is behind an `Arc`) and releases the lock before using it, so `fd_close` or
//!   `fd_renumber` of a descriptor another thread is using only removes the number: the
//!   object stays alive, and open, until that call is done.
//! - A file's position and `fdflags` are atomics of their own; directories have no mutable
//!   state.
//!
//! Invariant: no lock is held while blocking (file and stream I/O, a stdin read,
//! `poll_oneoff`'s sleeps and waits, opening a path) or while calling back into Wasm
//! (which host calls never do), so one thread's slow call never stalls another's, and no
//! lock is ever taken twice or in two orders.

mod cli;
mod clocks;
mod ctx;
mod filesystem;
pub(crate) mod guest;
mod io;
mod p1;
pub(crate) mod p2;
mod poll;
mod random;
mod types;

use std::sync::atomic::{AtomicPtr, Ordering};

use aot_abi::CommandConfig;

pub(crate) use ctx::WasiCtx;
use filesystem::Dir;

use crate::store::Store;

/// Where a store keeps its WASI context (its host state): null until [`init`] or the first
/// host call sets it, then a leaked `Box` that is never freed, so references to it are
/// `'static`. An atomic pointer rather than a lock: reading the context is every host
/// call's first step.
pub(crate) type CtxSlot = AtomicPtr<WasiCtx>;

/// Builds the process's WASI context: `args` as given (`args[0]` the executable's name),
/// the environment and preopened directories from `config`, as `wasmtime run` would with
/// the same `--dir`, `--env` and `-S inherit-env` options.
///
/// Also ignores SIGPIPE, as a Rust `main` (and so wasmtime) does, so that writing to a
/// closed pipe is an error the program sees (`EIO` on stdout, as in wasmtime) rather than
/// a silent death.
///
/// Fails (with the text the caller prints after `error: `) if a granted directory cannot
/// be opened.
pub fn init(store: &Store, args: Vec<Vec<u8>>, config: &CommandConfig) -> Result<(), String> {
    let env = cli::environment(config.inherit_env, &config.env, &cli::process_environment());
    let mut preopens = Vec::with_capacity(config.dirs.len());
    for grant in &config.dirs {
        let dir = Dir::open_ambient(std::path::Path::new(&grant.host))
            .map_err(|e| format!("preopen directory `{}`: {}", grant.host, describe(&e)))?;
        preopens.push((dir, grant.guest.clone()));
    }
    let mut ctx = WasiCtx::new(args, env, preopens)
        .map_err(|e| format!("creating the WASI context: errno {}", e.raw()))?;
    ctx.inherit_network = config.inherit_network;
    ctx.allow_ip_name_lookup = config.allow_ip_name_lookup;
    if config.max_gc_heap != 0 {
        store.gc().set_max(config.max_gc_heap);
    }
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety requirement,
    // and the runtime's own handlers (signals.rs) are for other signals.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // A context this replaces (from a host call before `init`) may still be in use by a
    // call holding its `&'static`, so it is leaked rather than freed.
    store
        .wasi_slot()
        .store(Box::into_raw(Box::new(ctx)), Ordering::Release);
    Ok(())
}

/// An OS error as a sentence, without std's " (os error N)" suffix.
fn describe(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The context of the store that the instance whose vmctx is `vmctx` belongs to.
///
/// # Safety
/// `vmctx` must be the vmctx of a live instance (as generated code passes to host calls).
unsafe fn ctx_of_caller(vmctx: *mut u8) -> &'static WasiCtx {
    // SAFETY: per the contract.
    ctx(unsafe { Store::from_vmctx(vmctx) })
}

/// `store`'s context, creating an empty one (no arguments, environment or preopens) if
/// [`init`] was never called. Every host call reaches the context through here and nowhere
/// else.
pub(crate) fn ctx(store: &Store) -> &'static WasiCtx {
    let slot = store.wasi_slot();
    let mut current = slot.load(Ordering::Acquire);
    if current.is_null() {
        // Creating stdio descriptors cannot fail; fall back to no context only in theory.
        let Ok(fresh) = WasiCtx::new(Vec::new(), Vec::new(), Vec::new()) else {
            unreachable_ctx()
        };
        let fresh = Box::into_raw(Box::new(fresh));
        current = match slot.compare_exchange(
            core::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                // SAFETY: `fresh` came from `Box::into_raw` above and was never published.
                drop(unsafe { Box::from_raw(fresh) });
                winner
            }
        };
    }
    // SAFETY: `current` is non-null, so it came from `Box::into_raw` (in `init` or above),
    // was published with Release and read with Acquire, and is never freed or mutated
    // (`WasiCtx` changes only through its own locks and atomics).
    unsafe { &*current }
}

#[cold]
fn unreachable_ctx() -> ! {
    let _ = io::Stdio::Stderr.write_all(b"error: the WASI context could not be created\n");
    cli::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aot_abi::DirGrant;

    #[test]
    fn a_missing_preopen_is_a_clear_error() {
        let config = CommandConfig {
            dirs: vec![DirGrant {
                host: "/nonexistent/aot-wasi".into(),
                guest: "/data".into(),
            }],
            ..CommandConfig::default()
        };
        assert_eq!(
            init(crate::store::store(), vec![b"prog".to_vec()], &config),
            Err("preopen directory `/nonexistent/aot-wasi`: No such file or directory".to_string())
        );
        let file = std::env::temp_dir().join(format!("aot-wasi-not-a-dir-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let host = file.to_string_lossy().into_owned();
        let config = CommandConfig {
            dirs: vec![DirGrant {
                host: host.clone(),
                guest: "h".into(),
            }],
            ..CommandConfig::default()
        };
        let result = init(crate::store::store(), vec![], &config);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            result,
            Err(format!("preopen directory `{host}`: Not a directory"))
        );
    }

    /// A fresh instance with one page of memory 0, as a Wasm thread calling WASI would be;
    /// its vmctx as an address, to be handed to another thread.
    fn caller_with_memory() -> usize {
        use crate::instance::test_support::{descriptor, memory_type};
        let meta = aot_abi::ModuleMeta {
            memories: vec![memory_type(1, None)],
            ..aot_abi::ModuleMeta::default()
        };
        match crate::linker::Linker::new().instantiate(descriptor(&meta, &[], &[])) {
            Ok(instance) => instance.vmctx() as usize,
            Err(e) => panic!("instantiation failed: {e}"),
        }
    }

    /// Runs `f` on the memory of the instance whose vmctx is `vmctx`.
    fn with_memory<R>(vmctx: usize, f: impl FnOnce(&mut guest::GuestMemory) -> R) -> R {
        // SAFETY: instances are never freed, this test runs no Wasm code, and each instance
        // (so each memory) is used by one thread only.
        let mut memory = unsafe { guest::GuestMemory::of_caller(vmctx as *mut u8) };
        f(&mut memory)
    }

    #[test]
    fn exported_calls_from_other_threads_proceed_while_one_sleeps_in_poll_oneoff() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use types::{Errno, clockid, eventtype};
        let (vm_a, vm_b) = (caller_with_memory(), caller_with_memory());
        let (a_entering, a_returned) = (AtomicBool::new(false), AtomicBool::new(false));
        std::thread::scope(|s| {
            let a = s.spawn(|| {
                // One relative monotonic clock subscription of 1.5 s, userdata 77, at 0.
                let mut sub = [0u8; 48];
                sub[0..8].copy_from_slice(&77u64.to_le_bytes());
                sub[8] = eventtype::CLOCK;
                sub[16..20].copy_from_slice(&clockid::MONOTONIC.to_le_bytes());
                sub[24..32].copy_from_slice(&1_500_000_000u64.to_le_bytes());
                with_memory(vm_a, |m| m.write_bytes(0, &sub)).unwrap();
                a_entering.store(true, SeqCst);
                // SAFETY: a live instance's vmctx; the pointers are inside its memory.
                let errno = unsafe { p1::exports::poll_oneoff(vm_a as *mut u8, 0, 1024, 1, 512) };
                a_returned.store(true, SeqCst);
                let (nevents, userdata, type_) = with_memory(vm_a, |m| {
                    (m.read_u32(512), m.read_u64(1024), m.read_u8(1024 + 10))
                });
                (errno, nevents, userdata, type_)
            });
            let b = s.spawn(|| {
                while !a_entering.load(SeqCst) {
                    std::thread::yield_now();
                }
                let vmctx = vm_b as *mut u8;
                // An empty iovec at 16: the write reaches stdout's descriptor, prints nothing.
                with_memory(vm_b, |m| m.write_bytes(16, &[0; 8])).unwrap();
                for _ in 0..5 {
                    let clock = clockid::MONOTONIC as i32;
                    // SAFETY (the three calls): a live instance's vmctx; the pointers are
                    // inside its memory.
                    let errnos = unsafe {
                        [
                            p1::exports::clock_time_get(vmctx, clock, 0, 8),
                            p1::exports::fd_write(vmctx, 1, 16, 1, 0),
                            p1::exports::fd_fdstat_get(vmctx, 1, 64),
                        ]
                    };
                    assert_eq!(errnos, [Errno::Success.raw(); 3]);
                    assert_eq!(
                        with_memory(vm_b, |m| m.read_u32(0)),
                        Ok(0),
                        "0 bytes written"
                    );
                }
                a_returned.load(SeqCst)
            });
            let a_returned_before_b_finished = b.join().unwrap();
            assert!(
                !a_returned_before_b_finished,
                "B's calls waited for A's poll_oneoff to return"
            );
            let (errno, nevents, userdata, type_) = a.join().unwrap();
            assert_eq!(errno, Errno::Success.raw());
            assert_eq!(
                (nevents, userdata, type_),
                (Ok(1), Ok(77), Ok(eventtype::CLOCK))
            );
        });
    }
}
