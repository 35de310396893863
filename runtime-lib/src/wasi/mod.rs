//! The WASI host that command programs import from `wasi_snapshot_preview1`, behaving as
//! `wasmtime run` (49) does.
//!
//! One module per WASI interface owns the host objects: [`cli`] (environment, exit),
//! [`clocks`], [`filesystem`] (directories and files, all path resolution through cap-std so
//! that nothing escapes a preopened directory), [`io`] (the process's standard streams,
//! readiness), [`random`]. Sockets have no host object: nothing can grant one to a preview 1
//! program. Preview 1 is a thin face over those objects: [`p1`] (the exported functions),
//! [`poll`] (`poll_oneoff`), [`ctx`] (the context and descriptor table), [`guest`]
//! (bounds-checked guest memory) and [`types`] (the ABI).
//!
//! A preview 1 call either returns an errno or, for the mistakes wasmtime ends the program
//! for (a guest pointer out of bounds or misaligned, an invalid enum or flag argument; see
//! [`guest::GuestError`]), prints one `error:` line on stderr and exits with status 1.
//!
//! The context is process-wide: [`init`] builds it from the program's arguments and the
//! grants compiled into it, before the module is instantiated; every host call locks it.
//! A host call never calls back into Wasm, so the lock is never taken twice.

mod cli;
mod clocks;
mod ctx;
mod filesystem;
mod guest;
mod io;
mod p1;
mod poll;
mod random;
mod types;

use std::collections::HashMap;
use std::sync::Mutex;

use aot_abi::CommandConfig;
use aot_abi::wasi::{WASI_P1_FUNCTIONS, wasi_p1_signature};

use crate::instance::{Extern, FuncHandle, intern_type};
use ctx::WasiCtx;
use filesystem::Dir;

static CTX: Mutex<Option<WasiCtx>> = Mutex::new(None);

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
pub fn init(args: Vec<Vec<u8>>, config: &CommandConfig) -> Result<(), String> {
    let env = cli::environment(config.inherit_env, &config.env, &cli::process_environment());
    let mut preopens = Vec::with_capacity(config.dirs.len());
    for grant in &config.dirs {
        let dir = Dir::open_ambient(std::path::Path::new(&grant.host))
            .map_err(|e| format!("preopen directory `{}`: {}", grant.host, describe(&e)))?;
        preopens.push((dir, grant.guest.clone()));
    }
    let ctx = WasiCtx::new(args, env, preopens)
        .map_err(|e| format!("creating the WASI context: errno {}", e.raw()))?;
    // SAFETY: setting a signal's disposition to SIG_IGN has no memory-safety requirement,
    // and the runtime's own handlers (signals.rs) are for other signals.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    *CTX.lock().unwrap_or_else(|e| e.into_inner()) = Some(ctx);
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

/// The host function implementing `wasi_snapshot_preview1::<name>`, to be bound with the
/// importing instance's own vmctx; None if the runtime does not provide `name`.
pub fn resolve_import(name: &str) -> Option<*const u8> {
    p1::resolve(name)
}

/// Every preview 1 function as an importable host function (for
/// `Linker::register_host(aot_abi::wasi::WASI_P1_MODULE, ...)`), typed as the contract
/// lists it.
pub fn exports() -> HashMap<String, Extern> {
    WASI_P1_FUNCTIONS
        .iter()
        .filter_map(|&name| {
            let code = resolve_import(name)?;
            let ty = wasi_p1_signature(name)?;
            let func = FuncHandle {
                code,
                vmctx: core::ptr::null_mut(),
                type_id: intern_type(&ty),
            };
            Some((name.to_string(), Extern::Func(func)))
        })
        .collect()
}

/// Runs `f` with the context, creating an empty one (no arguments, environment or
/// preopens) if [`init`] was never called.
fn with_ctx<R>(f: impl FnOnce(&mut WasiCtx) -> R) -> R {
    let mut guard = CTX.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        // Creating stdio descriptors cannot fail; fall back to no context only in theory.
        *guard = WasiCtx::new(Vec::new(), Vec::new(), Vec::new()).ok();
    }
    match guard.as_mut() {
        Some(ctx) => f(ctx),
        None => unreachable_ctx(),
    }
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
            init(vec![b"prog".to_vec()], &config),
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
        let result = init(vec![], &config);
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            result,
            Err(format!("preopen directory `{host}`: Not a directory"))
        );
    }

    #[test]
    fn exports_cover_the_contract_with_its_types() {
        let exports = exports();
        assert_eq!(exports.len(), WASI_P1_FUNCTIONS.len());
        for name in WASI_P1_FUNCTIONS {
            let Some(Extern::Func(f)) = exports.get(*name) else {
                panic!("{name} is exported as a function");
            };
            assert_eq!(
                Some(f.type_id),
                wasi_p1_signature(name).map(|t| intern_type(&t)),
                "{name}"
            );
            assert!(
                f.vmctx.is_null(),
                "{name}: host functions receive the importer's vmctx"
            );
            assert_eq!(resolve_import(name), Some(f.code));
        }
        assert_eq!(resolve_import("not_a_wasi_function"), None);
    }
}
