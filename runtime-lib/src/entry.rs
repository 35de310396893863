//! The executable's entry point: the C `main` that every `aot` output starts in. It reads
//! the `ProgramDescriptor` the entry object defines (symbol `aot_abi::PROGRAM_SYMBOL`) and
//! calls the run function the compiler chose for the program: [`aot_rt_run_command`]
//! (instantiate the plan, run `_initialize` and `_start`) or the spec-script driver's. Only
//! the chosen one is linked.
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

use aot_abi::trap::TRAP_EXIT_CODE;
use aot_abi::{ABI_VERSION, CommandConfig, ModuleDescriptor, ProgramDescriptor};

use crate::instance::{Instance, InstantiateError};

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
    crate::gc::print_stats_if_asked(crate::store::store().gc().stats());
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

/// Runs `program` through its run function; returns the process exit code.
pub fn run(program: &'static ProgramDescriptor) -> i32 {
    if program.abi_version != ABI_VERSION {
        eprintln!(
            "error: program was compiled for runtime ABI {}, this runtime is ABI {ABI_VERSION}",
            program.abi_version
        );
        return 1;
    }
    if program.run.is_null() {
        eprintln!("error: the program has no run function");
        return 1;
    }
    // SAFETY: the entry object points `run` at one of the runtime's `RunFn`s (by symbol,
    // `ProgramKind::run_symbol`), which all have this signature.
    let run: aot_abi::RunFn = unsafe { core::mem::transmute(program.run) };
    // SAFETY: `program` is the descriptor that function expects.
    unsafe { run(program) }
}

/// The modules and configuration blob of `program`.
pub(crate) fn program_parts(
    program: &'static ProgramDescriptor,
) -> Result<(Vec<&'static ModuleDescriptor>, &'static [u8]), String> {
    // SAFETY: the entry object emits `num_modules` descriptor pointers, each to a module
    // object's static descriptor, and `config_len` bytes of configuration.
    let (module_ptrs, config) = unsafe {
        (
            crate::raw_slice(program.modules, program.num_modules),
            crate::raw_slice(program.config, program.config_len),
        )
    };
    let modules = module_ptrs
        .iter()
        .map(|&p| {
            // SAFETY: as above; descriptors are immutable statics.
            unsafe { p.as_ref() }.ok_or("null module descriptor")
        })
        .collect::<Result<_, _>>()?;
    Ok((modules, config))
}

/// A way to run a program's modules with its configuration blob and glue functions.
type Runner = fn(&[&'static ModuleDescriptor], &[u8], &[*const u8]) -> Result<i32, String>;

/// Runs `program` with `run`, printing an error that ends it before Wasm could.
fn run_with(program: *const ProgramDescriptor, run: Runner) -> i32 {
    // SAFETY: per the run functions' contract; the descriptor is an immutable static.
    let Some(program) = (unsafe { program.as_ref() }) else {
        return 1;
    };
    // SAFETY: the entry object emits `num_glue` code pointers (none for a core program).
    let glue = unsafe { crate::raw_slice(program.glue, program.num_glue) };
    match program_parts(program).and_then(|(modules, config)| run(&modules, config, glue)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

/// The run function of command programs of core modules (`ProgramKind::Command`).
///
/// # Safety
/// `program` must point to the program's descriptor.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_rt_run_command(program: *const ProgramDescriptor) -> i32 {
    run_with(program, run_command)
}

/// The run function of components (`ProgramKind::Component`); a separate symbol so that
/// core programs link none of the component machinery.
///
/// # Safety
/// `program` must point to the program's descriptor.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_rt_run_component(program: *const ProgramDescriptor) -> i32 {
    run_with(program, run_component)
}

/// The configuration, with the WASI context built from it.
fn command_config(config: &[u8]) -> Result<CommandConfig, String> {
    let config =
        CommandConfig::decode(config).map_err(|e| format!("command configuration: {e}"))?;
    if config.plan.is_empty() {
        return Err("the program contains no module".into());
    }
    let wasi_args = args().iter().map(|a| a.as_bytes().to_vec()).collect();
    crate::wasi::init(crate::store::store(), wasi_args, &config)?;
    Ok(config)
}

/// A component: its core instances are created without `_initialize` (their start
/// sections run as always), each glue function bound once the instances its options name
/// exist; the program is the lifted `run`.
fn run_component(
    modules: &[&'static ModuleDescriptor],
    config: &[u8],
    glue: &[*const u8],
) -> Result<i32, String> {
    let config = command_config(config)?;
    let Some(component) = &config.component else {
        return Err("the program is not a component".into());
    };
    if glue.len() != component.glue.len() {
        return Err(format!(
            "the program has {} glue functions, its plan {}",
            glue.len(),
            component.glue.len()
        ));
    }
    let mut made: Vec<Option<crate::instance::Extern>> = vec![None; glue.len()];
    let mut source = |n: u32, instances: &[&'static Instance]| {
        let i = n as usize;
        if let Some(e) = made.get(i).copied().flatten() {
            return Ok(e);
        }
        let plan = component
            .glue
            .get(i)
            .ok_or_else(|| format!("no glue function {n}"))?;
        let e = crate::component::make_glue(n, glue[i], plan, instances)?;
        made[i] = Some(e);
        Ok(e)
    };
    crate::composition::init(component);
    let instances = match crate::plan::instantiate(modules, &config.plan, &mut source, |instance| {
        crate::composition::instance_created(instance);
        Ok(())
    }) {
        Ok(instances) => instances,
        Err(InstantiateError::Trap(trap)) => return Ok(report_trap(&trap)),
        Err(e) => return Err(e.to_string()),
    };
    match crate::component::run(&instances, component)? {
        Ok(code) => Ok(code),
        Err(trap) => Ok(report_trap(&trap)),
    }
}

/// Core modules: as `wasmtime run`, each instance's `_initialize` runs as soon as it
/// exists, then the program's `_start`, else its default export `""`; a module with
/// neither has done its work by being instantiated.
fn run_command(
    modules: &[&'static ModuleDescriptor],
    config: &[u8],
    _glue: &[*const u8],
) -> Result<i32, String> {
    let config = command_config(config)?;
    let mut no_glue = |n: u32, _: &[&'static Instance]| Err(format!("no glue function {n}"));
    let instances =
        match crate::plan::instantiate(modules, &config.plan, &mut no_glue, |instance| {
            call_entry(instance, "_initialize")
        }) {
            Ok(instances) => instances,
            Err(InstantiateError::Trap(trap)) => return Ok(report_trap(&trap)),
            Err(e) => return Err(e.to_string()),
        };
    let Some(program) = instances.last() else {
        return Err("the program contains no module".into());
    };
    for name in ["_start", ""] {
        if program.exported_func(name).is_some() {
            return match call_entry(program, name) {
                Ok(()) => Ok(0),
                Err(InstantiateError::Trap(trap)) => Ok(report_trap(&trap)),
                Err(e) => Err(e.to_string()),
            };
        }
    }
    Ok(0)
}

/// Calls `instance`'s export `name` (a function of no parameters) if it has one.
fn call_entry(instance: &Instance, name: &str) -> Result<(), InstantiateError> {
    let Some(index) = instance.exported_func(name) else {
        return Ok(());
    };
    if instance
        .func_type(index)
        .is_none_or(|t| !t.params.is_empty())
    {
        return Err(InstantiateError::Other(format!(
            "the module's `{name}` export must take no parameters"
        )));
    }
    instance
        .call(index, &[])
        .map(drop)
        .map_err(InstantiateError::Trap)
}

pub(crate) fn report_trap(trap: &crate::trap::Trap) -> i32 {
    let _ = std::io::stdout().flush();
    if matches!(
        trap.kind,
        aot_abi::TrapKind::ComponentAbi
            | aot_abi::TrapKind::UncaughtException
            | aot_abi::TrapKind::GcHeapOutOfMemory
    ) {
        // wasmtime reports a broken canonical ABI rule the host checks, an exception no
        // handler caught and an exhausted GC heap as an error of the call, status 1 (those
        // its adapters' code checks are traps).
        let report = crate::trap::format_trap(trap);
        let text = report.replacen("wasm trap: ", "error: ", 1);
        let _ = std::io::stderr().write_all(text.as_bytes());
        return 1;
    }
    let text = crate::trap::format_trap(trap);
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = err.write_all(b"\n");
    }
    TRAP_EXIT_CODE
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
            reserved: 0,
            run: aot_rt_run_command as *const u8,
            modules: core::ptr::null(),
            num_modules: 0,
            config: core::ptr::null(),
            config_len: 0,
            glue: core::ptr::null(),
            num_glue: 0,
        }));
        assert_eq!(run(program), 1);
    }

    #[test]
    fn command_without_modules_is_an_error() {
        let config: &'static [u8] = Box::leak(CommandConfig::default().encode().into_boxed_slice());
        let program: &'static ProgramDescriptor = Box::leak(Box::new(ProgramDescriptor {
            abi_version: ABI_VERSION,
            reserved: 0,
            run: aot_rt_run_command as *const u8,
            modules: core::ptr::null(),
            num_modules: 0,
            config: config.as_ptr(),
            config_len: config.len(),
            glue: core::ptr::null(),
            num_glue: 0,
        }));
        let (modules, config) = program_parts(program).expect("valid parts");
        assert_eq!(
            run_command(&modules, config, &[]),
            Err("the program contains no module".to_string())
        );
    }
}
