//! The executable's entry point: the C `main` that every `aot` output starts in. It reads
//! the `ProgramDescriptor` the entry object defines (symbol `aot_abi::PROGRAM_SYMBOL`) and
//! either runs a command module (`_start`) or the spec-script driver.
//!
//! Rust's runtime is not initialised in a staticlib with a C `main`: `std::env::args()` is
//! empty on musl, so the arguments come from `main`'s own argc/argv ([`args`]), and std's
//! stdout is flushed here before returning because nothing else will.
//!
//! Exit codes: 0 on success, 1 for an error before or outside Wasm (bad program, failed
//! link, a failing spec command), `aot_abi::trap::TRAP_EXIT_CODE` (134) after a trap.

use std::ffi::{CStr, c_char, c_int};
use std::io::Write;
use std::sync::OnceLock;

use aot_abi::script::Script;
use aot_abi::trap::TRAP_EXIT_CODE;
use aot_abi::{ABI_VERSION, CommandConfig, ModuleDescriptor, ProgramDescriptor, ProgramKind};

use crate::instance::InstantiateError;
use crate::linker::Linker;

static ARGS: OnceLock<Vec<String>> = OnceLock::new();

/// The program's arguments, `argv[0]` first (empty before `main` runs).
pub fn args() -> &'static [String] {
    ARGS.get().map_or(&[], Vec::as_slice)
}

#[cfg(not(test))]
unsafe extern "C" {
    // The name is aot_abi::PROGRAM_SYMBOL (a test checks they agree).
    static aot_program: ProgramDescriptor;
}

/// The process entry point, called by the C runtime.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings, and the executable must
/// define `aot_program`.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    crate::signals::init();
    // SAFETY: the C runtime passes argc valid, NUL-terminated argv entries.
    let args = unsafe { collect_args(argc, argv) };
    let _ = ARGS.set(args);
    // SAFETY: the entry object that every aot executable links defines `aot_program`, an
    // immutable descriptor in the read-only image.
    let program = unsafe { &*core::ptr::addr_of!(aot_program) };
    let code = run(program);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    code
}

/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings.
unsafe fn collect_args(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: guaranteed by the caller.
            let arg = unsafe { *argv.add(i) };
            if arg.is_null() {
                String::new()
            } else {
                // SAFETY: as above.
                unsafe { CStr::from_ptr(arg) }
                    .to_string_lossy()
                    .into_owned()
            }
        })
        .collect()
}

/// Runs `program`; returns the process exit code.
pub fn run(program: &'static ProgramDescriptor) -> i32 {
    match try_run(program) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

fn try_run(program: &'static ProgramDescriptor) -> Result<i32, String> {
    if program.abi_version != ABI_VERSION {
        return Err(format!(
            "program was compiled for runtime ABI {}, this runtime is ABI {ABI_VERSION}",
            program.abi_version
        ));
    }
    // SAFETY: the entry object emits `num_modules` descriptor pointers, each to a module
    // object's static descriptor, and `config_len` bytes of configuration.
    let (module_ptrs, config) = unsafe {
        (
            raw_slice(program.modules, program.num_modules),
            raw_slice(program.config, program.config_len),
        )
    };
    let modules: Vec<&'static ModuleDescriptor> = module_ptrs
        .iter()
        .map(|&p| {
            // SAFETY: as above; descriptors are immutable statics.
            unsafe { p.as_ref() }.ok_or("null module descriptor")
        })
        .collect::<Result<_, _>>()?;
    match program.kind {
        k if k == ProgramKind::Command as u32 => run_command(&modules, config),
        k if k == ProgramKind::SpecScript as u32 => {
            let script = Script::decode(config).map_err(|e| format!("spec script: {e}"))?;
            let summary = crate::spec::run(&modules, &script, &mut std::io::stdout());
            Ok(if summary.failed == 0 { 0 } else { 1 })
        }
        k => Err(format!("unknown program kind {k}")),
    }
}

fn run_command(modules: &[&'static ModuleDescriptor], config: &[u8]) -> Result<i32, String> {
    let config =
        CommandConfig::decode(config).map_err(|e| format!("command configuration: {e}"))?;
    let desc = modules.first().ok_or("the program contains no module")?;
    let wasi_args = args().iter().map(|a| a.as_bytes().to_vec()).collect();
    crate::wasi::init(wasi_args, &config)?;
    let mut linker = Linker::new();
    linker.register_host(aot_abi::wasi::WASI_P1_MODULE, crate::wasi::exports());
    let instance = match linker.instantiate(desc) {
        Ok(instance) => instance,
        Err(InstantiateError::Trap(trap)) => return Ok(report_trap(&trap)),
        Err(e) => return Err(e.to_string()),
    };
    // As `wasmtime run`: the command entry is `_start`, else the default export `""`; a
    // module with neither has done its work by being instantiated.
    let Some((name, start)) = ["_start", ""]
        .into_iter()
        .find_map(|name| instance.exported_func(name).map(|index| (name, index)))
    else {
        return Ok(0);
    };
    if instance
        .func_type(start)
        .is_none_or(|t| !t.params.is_empty())
    {
        return Err(format!(
            "the module's `{name}` export must take no parameters"
        ));
    }
    match instance.call(start, &[]) {
        Ok(_) => Ok(0),
        Err(trap) => Ok(report_trap(&trap)),
    }
}

fn report_trap(trap: &crate::trap::Trap) -> i32 {
    let _ = std::io::stdout().flush();
    let text = crate::trap::format_trap(trap);
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
    TRAP_EXIT_CODE
}

/// # Safety
/// If `len > 0`, `ptr` must point to `len` values that live forever.
unsafe fn raw_slice<T>(ptr: *const T, len: usize) -> &'static [T] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_symbol_matches_the_contract() {
        // The extern static in this file is spelled `aot_program`.
        assert_eq!(aot_abi::PROGRAM_SYMBOL, "aot_program");
    }

    #[test]
    fn args_are_read_from_argv() {
        let a = c"prog";
        let b = c"--flag";
        let argv = [a.as_ptr(), b.as_ptr()];
        // SAFETY: two valid C strings.
        let args = unsafe { collect_args(2, argv.as_ptr()) };
        assert_eq!(args, vec!["prog".to_string(), "--flag".to_string()]);
    }

    #[test]
    fn wrong_abi_version_is_an_error() {
        let program: &'static ProgramDescriptor = Box::leak(Box::new(ProgramDescriptor {
            abi_version: ABI_VERSION + 1,
            kind: ProgramKind::Command as u32,
            modules: core::ptr::null(),
            num_modules: 0,
            config: core::ptr::null(),
            config_len: 0,
        }));
        assert!(
            try_run(program)
                .expect_err("version mismatch")
                .contains("ABI")
        );
    }

    #[test]
    fn command_without_modules_is_an_error() {
        let config: &'static [u8] = Box::leak(CommandConfig::default().encode().into_boxed_slice());
        let program: &'static ProgramDescriptor = Box::leak(Box::new(ProgramDescriptor {
            abi_version: ABI_VERSION,
            kind: ProgramKind::Command as u32,
            modules: core::ptr::null(),
            num_modules: 0,
            config: config.as_ptr(),
            config_len: config.len(),
        }));
        assert_eq!(
            try_run(program),
            Err("the program contains no module".to_string())
        );
    }
}
