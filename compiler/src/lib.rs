//! `aot`: compiles WebAssembly modules ahead of time into native executables.
//!
//! The data flow, one module per arrow:
//! bytes → [`module`] (parse + validate into a module description) → [`translate`]
//! (per-function Cranelift IR, in parallel) → [`codegen`] (object file with code,
//! trampolines, trap tables and the module descriptor) → [`link`] (with the embedded
//! runtime library) → executable. [`program`] emits the small entry object that tells the
//! runtime what to run.

pub mod codegen;
pub mod component;
pub mod env;
pub mod error;
pub mod link;
pub mod module;
pub mod program;
pub mod scan;
pub mod static_tables;
pub mod target;
pub mod translate;
pub mod wasi_p2;

// The end-to-end tests' policy for missing tools (skip, or fail under CI), for the unit
// tests that run linkers and qemu; by path, as a dependency on aot-tests would be a cycle.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../tests/src/tools.rs"]
mod test_tools;

pub use aot_abi::BoundsMode;
pub use error::CompileError;
pub use target::Target;
pub use translate::unroll::Unroll;
pub use wasmparser::WasmFeatures;

/// How a module is compiled.
#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    /// 0 = no optimisation, 1 = speed and size, 2 = speed with inlining of tiny functions
    /// (Cranelift's levels as [`Target::isa_for_cpu`] maps them; the inlining is ours).
    pub opt_level: u8,
    pub bounds: BoundsMode,
    /// Accept imports the runtime does not provide itself (the spec harness links modules
    /// to each other at run time). Off for executables: an unknown import is an error.
    pub allow_unknown_imports: bool,
    /// Module names the program itself provides (`--preload NAME=...`): imports from them
    /// are accepted here and wired by the instantiation plan.
    pub provided_modules: Vec<String>,
    /// Make the test host (`aot_abi::host::TEST_HOST_MODULE`) importable: aot's own tests.
    pub test_host: bool,
    /// The CPU the generated code may assume.
    pub cpu: target::Cpu,
    /// The module is a core module of a component: every import is wired by the
    /// component's plan, none is a host import.
    pub component: bool,
    /// The proposals the validator accepts: [`module::features`] unless a caller needs a
    /// subset (the spec harness validates the Wasm 2.0 scripts without multi-memory, whose
    /// single-memory assertions Wasm 3.0 reverses).
    pub features: wasmparser::WasmFeatures,
    /// [`compile_command`] may place memory 0 at `aot_abi::fixed_memory0_base` when the
    /// program allows it (see [`memory0_can_be_fixed`]). On by default; `aot
    /// --no-fixed-memory-base` turns it off.
    pub fixed_memory_base: bool,
    /// The module compiled assumes its memory 0 at `aot_abi::fixed_memory0_base` (and its
    /// descriptor says so): set by [`compile_command`] for the module it decided on, or by
    /// a caller that knows the module is its program's only user of that address.
    pub memory0_fixed: bool,
    /// Keep one global in a register where the program allows it (see
    /// [`global_register_allowed`]). On by default; `aot --no-global-register` turns it off.
    pub global_register: bool,
    /// The module's code is entered only through its own entry trampolines, so it may keep
    /// a global in a register (`scan::register_global`): set by [`compile_command`] when
    /// [`global_register_allowed`].
    pub global_in_register: bool,
    /// Which loops to unroll at -O2 ([`Unroll::Chosen`] unless a test asks for more;
    /// `aot --no-unroll` turns it off).
    pub unroll: Unroll,
    /// Fold 32-bit address sums into the accesses of a fixed memory 0 on x86_64 (see
    /// `aot_abi::MODULE_FLAG_MEMORY0_FOLDED`). On by default; `aot --no-address-fold` turns
    /// it off.
    pub fold_addresses: bool,
}

impl Options {
    pub fn new(target: Target) -> Options {
        Options {
            target,
            opt_level: 2,
            bounds: BoundsMode::GuardPages,
            allow_unknown_imports: false,
            provided_modules: Vec::new(),
            test_host: false,
            cpu: target::Cpu::Default,
            component: false,
            features: module::features(),
            fixed_memory_base: true,
            memory0_fixed: false,
            global_register: true,
            global_in_register: false,
            unroll: Unroll::Chosen,
            fold_addresses: true,
        }
    }

    /// The loops unrolled at this optimisation level: none below -O2.
    pub(crate) fn unroll_at_level(&self) -> Unroll {
        if self.opt_level >= 2 {
            self.unroll
        } else {
            Unroll::Off
        }
    }
}

/// Compiles one Wasm binary module into an object file defining
/// `aot_abi::module_symbol(index)`. `file` names the input in error messages.
pub fn compile_module(
    wasm: &[u8],
    file: &str,
    index: usize,
    opts: &Options,
) -> Result<Vec<u8>, CompileError> {
    let info = module::parse(wasm, file, opts)?;
    codegen::compile(&info, index, opts)
}

/// One module of a command program: its `--preload` name (None for the program itself, which
/// comes last), the file it came from (for messages) and its binary.
pub struct CommandModule<'a> {
    pub name: Option<&'a str>,
    pub file: &'a str,
    pub wasm: &'a [u8],
}

/// Compiles a command program (`aot app.wasm [--preload NAME=lib.wasm]...`): every distinct
/// module once, then the entry object holding `config` with the instantiation plan wired
/// here. Returns the objects to link, the entry object first.
///
/// The module may be compiled for memory 0 at the fixed base ([`memory0_can_be_fixed`]),
/// which the linked executable must leave free: the caller checks it with
/// [`link::image_allows_fixed_memory0`] and, if not, compiles again with
/// `Options::fixed_memory_base` off (as `aot` does).
pub fn compile_command(
    modules: &[CommandModule],
    config: aot_abi::CommandConfig,
    opts: &Options,
) -> Result<Vec<Vec<u8>>, CompileError> {
    let mut opts = opts.clone();
    opts.provided_modules = modules
        .iter()
        .filter_map(|m| m.name.map(str::to_string))
        .collect();
    // Equal binaries are one module, instantiated as often as they are named.
    let mut distinct: Vec<&CommandModule> = Vec::new();
    let mut module_of = Vec::with_capacity(modules.len());
    for m in modules {
        let index = match distinct.iter().position(|d| d.wasm == m.wasm) {
            Some(i) => i,
            None => {
                distinct.push(m);
                distinct.len() - 1
            }
        };
        module_of.push(index);
    }
    let infos = distinct
        .iter()
        .map(|m| module::parse(m.wasm, m.file, &opts))
        .collect::<Result<Vec<_>, _>>()?;
    let planned: Vec<program::PlannedInstance> = modules
        .iter()
        .zip(&module_of)
        .map(|(m, &i)| program::PlannedInstance {
            name: m.name.map(str::to_string),
            module: i as u32,
            info: &infos[i],
        })
        .collect();
    let config = aot_abi::CommandConfig {
        plan: program::plan_command(&planned)?,
        ..config
    };
    let fixed = memory0_can_be_fixed(&infos, &config.plan, &opts);
    let mut objects = vec![program::emit_program(
        &opts.target,
        aot_abi::ProgramKind::Command,
        infos.len(),
        0,
        &config.encode(),
    )?];
    let global_in_register = global_register_allowed(&infos, &config.plan, &opts);
    for (i, info) in infos.iter().enumerate() {
        let opts = Options {
            memory0_fixed: fixed,
            global_in_register,
            ..opts.clone()
        };
        objects.push(codegen::compile(info, i, &opts)?);
    }
    Ok(objects)
}

/// Whether the module has a memory 0 whose accesses go unchecked (`BoundsMode::guarded`),
/// the only kind that may be at the fixed base: it has the same reservation wherever it is.
fn memory0_guarded(info: &module::ModuleInfo, opts: &Options) -> bool {
    info.memories
        .first()
        .is_some_and(|ty| opts.bounds.guarded(ty))
}

/// Memory 0's fixed address for `opts.target`, if the module is compiled for one: asked
/// for (`Options::memory0_fixed`) and a memory that can be there.
pub(crate) fn memory0_base(info: &module::ModuleInfo, opts: &Options) -> Option<u64> {
    (opts.memory0_fixed && memory0_guarded(info, opts))
        .then(|| aot_abi::fixed_memory0_base(opts.target.abi_arch()))
}

/// Whether a command program made of `infos`, instantiated as `plan` says, may have its
/// memory 0 at `aot_abi::fixed_memory0_base`: the address holds one memory per process,
/// and the code compiled for it cannot work with a memory anywhere else. So:
/// - one module instantiated once: no `--preload` (which could also name the program's own
///   binary again, making it one module instantiated twice);
/// - its memory 0 is a guarded 32-bit memory ([`BoundsMode::guarded`]; the others have
///   explicit checks, which the fixed base would not shorten much);
/// - memory 0 is defined by the module, or imported and created by the runtime (the shared
///   memory of `wasm32-wasip1-threads`). wasi-threads instantiates the module again for
///   every thread with the same imports, so those instances see the same memory at the
///   same address; a thread instance would define a memory of its own, so a module that
///   spawns threads qualifies only with its memory 0 imported (which wasi-threads requires
///   anyway, as memories imported come first).
///
/// The linked executable must also end low enough (`aot_abi::FIXED_MEMORY0_IMAGE_LIMIT`),
/// which only the linker knows: see [`link::image_allows_fixed_memory0`].
pub fn memory0_can_be_fixed(
    infos: &[module::ModuleInfo],
    plan: &[aot_abi::InstancePlan],
    opts: &Options,
) -> bool {
    let ([info], [instance]) = (infos, plan) else {
        return false;
    };
    if !opts.fixed_memory_base || opts.component || !memory0_guarded(info, opts) {
        return false;
    }
    if info.num_imported_memories == 0 {
        return !module::imports_thread_spawn(info);
    }
    // Memory 0 is the first memory import: it must be the runtime's.
    info.meta
        .imports
        .iter()
        .zip(&instance.imports)
        .find(|(i, _)| matches!(i.kind, aot_abi::ImportKind::Memory(_)))
        .is_some_and(|(_, source)| *source == aot_abi::ImportSource::Host)
}

/// Whether the module of a command program made of `infos`, instantiated as `plan` says,
/// may keep a global in a register: its code must run only when entered through its own
/// entry trampolines, which load the register from the vmctx and store it back. So one
/// module instantiated once, and no component (whose core instances call each other
/// directly). The threads of wasi-threads are instances of the same module, each entered
/// through a trampoline on its own thread, with its own register.
pub fn global_register_allowed(
    infos: &[module::ModuleInfo],
    plan: &[aot_abi::InstancePlan],
    opts: &Options,
) -> bool {
    matches!((infos, plan), ([_], [_])) && opts.global_register && !opts.component
}

/// Compiles a component (`wasi:cli/command`) into the objects of one executable: every
/// core module once, the glue functions (lowered WASI 0.2 functions, resource drops), and
/// the entry object holding `config` with the component's plan. The entry object first.
pub fn compile_component(
    wasm: &[u8],
    file: &str,
    config: aot_abi::CommandConfig,
    opts: &Options,
) -> Result<Vec<Vec<u8>>, CompileError> {
    let flat = component::flatten(wasm, file)?;
    component::check_imports(&flat, file)?;
    let mut opts = opts.clone();
    opts.component = true;
    let infos = flat
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = format!("{file} (core module {i})");
            module::parse(m.bytes(wasm), &name, &opts)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let planned = component::plan::plan(&flat, &infos, file, opts.target.arch)?;
    let config = aot_abi::CommandConfig {
        plan: planned.instances,
        component: Some(planned.component),
        ..config
    };
    let mut objects = vec![program::emit_program(
        &opts.target,
        aot_abi::ProgramKind::Component,
        infos.len(),
        planned.glue.len(),
        &config.encode(),
    )?];
    objects.push(codegen::compile_glue(&planned.glue, &opts)?);
    for (i, info) in infos.iter().enumerate() {
        objects.push(codegen::compile(info, i, &opts)?);
    }
    Ok(objects)
}

/// The machine code of each function of `wasm`, as text (see [`codegen::disassemble`]).
pub fn disassemble_module(
    wasm: &[u8],
    file: &str,
    opts: &Options,
) -> Result<Vec<(String, String)>, CompileError> {
    let info = module::parse(wasm, file, opts)?;
    codegen::disassemble(&info, opts)
}

#[cfg(test)]
mod fixed_base_tests {
    use super::*;
    use aot_abi::{ImportSource, InstancePlan};

    fn info(wat: &str, opts: &Options) -> module::ModuleInfo<'static> {
        let wasm: &'static [u8] = wat::parse_str(wat).expect("test wat").leak();
        module::parse(wasm, "test.wasm", opts).expect("parses")
    }

    /// One instance of `info`, its imports as `plan_command` wires them alone.
    fn plan(info: &module::ModuleInfo) -> Vec<InstancePlan> {
        program::plan_command(&[program::PlannedInstance {
            name: None,
            module: 0,
            info,
        }])
        .expect("plans")
    }

    #[test]
    fn memory0_is_fixed_only_where_one_memory_can_be_there() {
        let opts = Options::new(Target::for_arch(target::Arch::X86_64));
        let threads = r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (memory 1)
  (func (export "wasi_thread_start") (param i32 i32))
  (func (export "_start")))"#;
        let cases = [
            ("a defined memory", "(module (memory 1))", true),
            (
                "a defined shared memory",
                "(module (memory 1 1 shared))",
                true,
            ),
            ("the host's shared memory, with threads", threads, true),
            ("no memory", "(module)", false),
            ("a 64-bit memory", "(module (memory i64 1))", false),
            ("one-byte pages", "(module (memory 1 (pagesize 1)))", false),
        ];
        for (what, wat, fixed) in cases {
            let info = info(wat, &opts);
            let plan = plan(&info);
            let infos = std::slice::from_ref(&info);
            assert_eq!(memory0_can_be_fixed(infos, &plan, &opts), fixed, "{what}");
            if fixed {
                let explicit = Options {
                    bounds: BoundsMode::Explicit,
                    ..opts.clone()
                };
                assert!(!memory0_can_be_fixed(infos, &plan, &explicit), "{what}");
                let off = Options {
                    fixed_memory_base: false,
                    ..opts.clone()
                };
                assert!(!memory0_can_be_fixed(infos, &plan, &off), "{what}");
                // Instantiated twice: a second instance would need the same address.
                let twice = [plan[0].clone(), plan[0].clone()];
                assert!(!memory0_can_be_fixed(infos, &twice, &opts), "{what}");
            }
        }
        // Memory 0 imported from another instance is not the runtime's to place.
        let linked = Options {
            provided_modules: vec!["lib".into()],
            ..opts.clone()
        };
        let import = info(r#"(module (import "lib" "memory" (memory 1)))"#, &linked);
        let from_instance = [InstancePlan {
            module: 0,
            imports: vec![ImportSource::Instance {
                instance: 0,
                export: 0,
            }],
        }];
        assert!(!memory0_can_be_fixed(
            std::slice::from_ref(&import),
            &from_instance,
            &opts
        ));
        // A module that spawns threads and defines its memory 0 (were it valid) would
        // define one per thread.
        let own = info(
            r#"(module
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (memory 1))"#,
            &opts,
        );
        let plan_own = [InstancePlan {
            module: 0,
            imports: vec![ImportSource::Host],
        }];
        assert!(!memory0_can_be_fixed(
            std::slice::from_ref(&own),
            &plan_own,
            &opts
        ));
    }
}
