//! The entry object: defines `aot_abi::PROGRAM_SYMBOL`, the [`ProgramDescriptor`] that
//! tells the runtime's `main` which modules the executable holds (their descriptors,
//! defined by the module objects, reached through relocations) and what to do with them
//! (the run function, by symbol, and its configuration blob: for a command, the grants and
//! the instantiation plan).
//!
//! Every pointer in the descriptor is valid and non-null, even for an empty list or
//! configuration, so the runtime can form slices from them without special cases.

use std::mem::{offset_of, size_of};

use aot_abi::{ExternKind, ImportKind, ImportSource, InstancePlan, ProgramDescriptor, ProgramKind};
use cranelift_module::{DataDescription, DataId, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};

use crate::module::ModuleInfo;
use crate::{CompileError, Target};

/// One instance of a command program, in instantiation order.
pub struct PlannedInstance<'a> {
    /// The module name other instances import it by (`--preload NAME=...`); None for the
    /// program itself.
    pub name: Option<String>,
    /// Index of its compiled module in the program (equal modules are compiled once).
    pub module: u32,
    pub info: &'a ModuleInfo<'a>,
}

/// Wires every import of `instances` at compile time, as `wasmtime run --preload` links
/// them: a function the runtime provides is a host import; an import from module `NAME`
/// is the export of that name of the latest earlier instance registered as `NAME`, which
/// must be of the kind and type the import asks for. Anything else is an error naming the
/// import and its byte offset.
pub fn plan_command(instances: &[PlannedInstance]) -> Result<Vec<InstancePlan>, CompileError> {
    let mut plan = Vec::with_capacity(instances.len());
    for (n, inst) in instances.iter().enumerate() {
        let info = inst.info;
        let mut imports = Vec::with_capacity(info.meta.imports.len());
        let mut funcs = 0usize;
        for (i, import) in info.meta.imports.iter().enumerate() {
            let at = info.import_offsets.get(i).copied();
            let fail = |m: String| {
                CompileError::new(
                    &info.file,
                    at,
                    format!("import `{}::{}`: {m}", import.module, import.name),
                )
            };
            let host = matches!(import.kind, ImportKind::Func(_)) && {
                funcs += 1;
                info.host_imports
                    .get(funcs - 1)
                    .is_some_and(Option::is_some)
            };
            if host {
                imports.push(ImportSource::Host);
                continue;
            }
            let from = instances[..n]
                .iter()
                .rposition(|p| p.name.as_deref() == Some(import.module.as_str()));
            if from.is_none() && host_provides_memory(&import.kind) {
                imports.push(ImportSource::Host);
                continue;
            }
            let Some(from) = from else {
                return Err(fail(
                    "the runtime does not provide it and no earlier --preload module has that name"
                        .into(),
                ));
            };
            let exporter = instances[from].info;
            let Some(export) = exporter
                .meta
                .exports
                .iter()
                .position(|e| e.name == import.name)
            else {
                return Err(fail(format!(
                    "module `{}` ({}) has no export `{}`",
                    import.module, exporter.file, import.name
                )));
            };
            check_import_type(info, &import.kind, exporter, export).map_err(fail)?;
            imports.push(ImportSource::Instance {
                instance: from as u32,
                export: export as u32,
            });
        }
        check_thread_spawn(info, &imports)?;
        plan.push(InstancePlan {
            module: inst.module,
            imports,
        });
    }
    check_gc_without_threads(instances)?;
    Ok(plan)
}

/// Refuses a program where one module defines struct or array types and another may run
/// Wasm on several threads (a module with both is refused when parsed): the threads could
/// reach GC objects through shared tables or globals, and the GC heap is one per process,
/// unsynchronised.
fn check_gc_without_threads(instances: &[PlannedInstance]) -> Result<(), CompileError> {
    let threaded = instances
        .iter()
        .find_map(|p| crate::module::threading(p.info).map(|why| (p.info, why)));
    let gc = instances
        .iter()
        .find_map(|p| p.info.gc_type_offset.map(|at| (p.info, at)));
    match (gc, threaded) {
        (Some((gc, at)), Some((threaded, why))) => Err(CompileError::new(
            &gc.file,
            Some(at),
            format!(
                "GC types (struct and array types) in a threaded program are not supported: \
                 module {} {why}",
                threaded.file
            ),
        )),
        _ => Ok(()),
    }
}

/// What wasi-threads needs of a module that imports `wasi::thread-spawn`, whose every thread
/// is a new instance of the module with the same imports in a store of its own:
/// - a shared memory import (the memory the threads share; wasmtime refuses the module
///   without one too);
/// - no function imported from another instance: that function would run on the new
///   thread with its own instance's store, which belongs to the main thread.
fn check_thread_spawn(info: &ModuleInfo, sources: &[ImportSource]) -> Result<(), CompileError> {
    let spawn = info.meta.imports.iter().position(|i| {
        matches!(i.kind, ImportKind::Func(t)
        if info.meta.types.get(t as usize).is_some_and(|ty| {
            aot_abi::wasi::is_thread_spawn(&i.module, &i.name, ty)
        }))
    });
    let Some(spawn) = spawn else {
        return Ok(());
    };
    let fail = |at: usize, m: String| {
        Err(CompileError::new(
            &info.file,
            info.import_offsets.get(at).copied(),
            m,
        ))
    };
    if !info
        .meta
        .imports
        .iter()
        .any(|i| matches!(i.kind, ImportKind::Memory(m) if m.shared))
    {
        return fail(
            spawn,
            "a module that imports `wasi::thread-spawn` must import a shared memory \
             (wasi-threads: its threads share it)"
                .into(),
        );
    }
    for (i, (import, source)) in info.meta.imports.iter().zip(sources).enumerate() {
        if matches!(import.kind, ImportKind::Func(_))
            && matches!(source, ImportSource::Instance { .. })
        {
            return fail(
                i,
                format!(
                    "import `{}::{}`: a module that imports `wasi::thread-spawn` cannot import \
                     functions from another module (not supported with wasi-threads)",
                    import.module, import.name
                ),
            );
        }
    }
    Ok(())
}

/// A shared memory no earlier module provides: the runtime creates it (see
/// `aot_abi::host::host_provides_memory`).
fn host_provides_memory(kind: &ImportKind) -> bool {
    matches!(kind, ImportKind::Memory(m) if aot_abi::host::host_provides_memory(m))
}

/// Whether export number `export` of `exporter` may satisfy an import of kind `kind` of
/// `importer`, by the declared types (the runtime checks the current ones again):
/// equal function and global types, table and memory limits subtyping.
pub(crate) fn check_import_type(
    importer: &ModuleInfo,
    kind: &ImportKind,
    exporter: &ModuleInfo,
    export: usize,
) -> Result<(), String> {
    let e = &exporter.meta.exports[export];
    let i = e.index as usize;
    let ok = match (kind, e.kind) {
        (ImportKind::Func(t), ExternKind::Func) => {
            importer.meta.types.get(*t as usize) == Some(exporter.func_type(e.index))
        }
        (ImportKind::Table(t), ExternKind::Table) => {
            exporter.tables.get(i).is_some_and(|a| a.matches(t))
        }
        (ImportKind::Memory(m), ExternKind::Memory) => {
            exporter.memories.get(i).is_some_and(|a| a.matches(m))
        }
        (ImportKind::Global(g), ExternKind::Global) => exporter.globals.get(i) == Some(g),
        (ImportKind::Tag(t), ExternKind::Tag) => {
            importer.meta.types.get(*t as usize)
                == exporter
                    .tags
                    .get(i)
                    .and_then(|e| exporter.meta.types.get(*e as usize))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "incompatible import type: `{}` exports a {} that does not match",
            exporter.file,
            match e.kind {
                ExternKind::Func => "function",
                ExternKind::Table => "table",
                ExternKind::Memory => "memory",
                ExternKind::Global => "global",
                ExternKind::Tag => "tag",
            }
        ))
    }
}

/// Names this object in error messages (it has no input file).
const OBJECT_NAME: &str = "<program>";

// The descriptor is written with the host's layout of the `#[repr(C)]` struct; every target
// is a 64-bit little-endian one, so this must be a 64-bit host.
const _: () = assert!(size_of::<usize>() == 8, "aot runs on 64-bit hosts only");

/// Emits an object defining the `ProgramDescriptor` for `num_modules` modules (whose
/// descriptors are `aot_abi::module_symbol(0..num_modules)`, defined in other objects),
/// with `config` as its configuration blob (an encoded `CommandConfig` or `Script`).
pub fn emit_program(
    target: &Target,
    kind: ProgramKind,
    num_modules: usize,
    num_glue: usize,
    config: &[u8],
) -> Result<Vec<u8>, CompileError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        CompileError::new(OBJECT_NAME, None, format!("{what}: {e}"))
    };
    let isa = target.isa(0).map_err(|e| fail("entry object", &e))?;
    let builder = ObjectBuilder::new(isa, "entry", cranelift_module::default_libcall_names())
        .map_err(|e| fail("entry object", &e))?;
    let mut module = ObjectModule::new(builder);
    let define = |module: &mut ObjectModule,
                  name: &str,
                  linkage: Linkage,
                  desc: &DataDescription|
     -> Result<DataId, CompileError> {
        let id = module
            .declare_data(name, linkage, false, false)
            .map_err(|e| fail(name, &e))?;
        module.define_data(id, desc).map_err(|e| fail(name, &e))?;
        Ok(id)
    };

    // At least one byte, so the pointer is to something even when the blob is empty.
    let mut blob = config.to_vec();
    if blob.is_empty() {
        blob.push(0);
    }
    let mut desc = DataDescription::new();
    desc.define(blob.into_boxed_slice());
    desc.set_align(8);
    let config_id = define(&mut module, "aot_program_config", Linkage::Local, &desc)?;

    let mut desc = DataDescription::new();
    desc.define(vec![0u8; 8 * num_modules.max(1)].into_boxed_slice());
    desc.set_align(8);
    for i in 0..num_modules {
        let name = aot_abi::module_symbol(i);
        let import = module
            .declare_data(&name, Linkage::Import, false, false)
            .map_err(|e| fail(&name, &e))?;
        let gv = module.declare_data_in_data(import, &mut desc);
        desc.write_data_addr(offset32(8 * i), gv, 0);
    }
    let modules_id = define(&mut module, "aot_program_modules", Linkage::Local, &desc)?;

    let mut bytes = vec![0u8; size_of::<ProgramDescriptor>()];
    put(
        &mut bytes,
        offset_of!(ProgramDescriptor, abi_version),
        &aot_abi::ABI_VERSION.to_le_bytes(),
    );
    put(
        &mut bytes,
        offset_of!(ProgramDescriptor, num_modules),
        &(num_modules as u64).to_le_bytes(),
    );
    put(
        &mut bytes,
        offset_of!(ProgramDescriptor, config_len),
        &(config.len() as u64).to_le_bytes(),
    );
    put(
        &mut bytes,
        offset_of!(ProgramDescriptor, num_glue),
        &(num_glue as u64).to_le_bytes(),
    );
    let mut desc = DataDescription::new();
    desc.define(bytes.into_boxed_slice());
    desc.set_align(8);
    let gv = module.declare_data_in_data(modules_id, &mut desc);
    desc.write_data_addr(offset32(offset_of!(ProgramDescriptor, modules)), gv, 0);
    let gv = module.declare_data_in_data(config_id, &mut desc);
    desc.write_data_addr(offset32(offset_of!(ProgramDescriptor, config)), gv, 0);
    // The glue table of a component (defined by its glue object); any valid address for a
    // core program, which has none.
    let glue_id = if num_glue > 0 {
        module
            .declare_data(aot_abi::GLUE_SYMBOL, Linkage::Import, false, false)
            .map_err(|e| fail(aot_abi::GLUE_SYMBOL, &e))?
    } else {
        modules_id
    };
    let gv = module.declare_data_in_data(glue_id, &mut desc);
    desc.write_data_addr(offset32(offset_of!(ProgramDescriptor, glue)), gv, 0);
    // The run function is chosen here, so the executable links only the one it uses.
    let run_symbol = kind.run_symbol();
    let run = module
        .declare_function(
            run_symbol,
            Linkage::Import,
            &cranelift_codegen::ir::Signature::new(module.isa().default_call_conv()),
        )
        .map_err(|e| fail(run_symbol, &e))?;
    let run = module.declare_func_in_data(run, &mut desc);
    desc.write_function_addr(offset32(offset_of!(ProgramDescriptor, run)), run);
    define(&mut module, aot_abi::PROGRAM_SYMBOL, Linkage::Export, &desc)?;

    module
        .finish()
        .emit()
        .map_err(|e| fail("writing the entry object", &e))
}

fn put(buf: &mut [u8], offset: usize, value: &[u8]) {
    buf[offset..offset + value.len()].copy_from_slice(value);
}

/// Offsets inside the descriptor and the module list; the list is bounded by the number of
/// modules a program can hold, far below 4 GiB.
fn offset32(offset: usize) -> u32 {
    u32::try_from(offset).expect("data offset fits in 32 bits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Arch;
    use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};

    /// Reads back the object and checks what the runtime will see after relocation.
    fn check(arch: Arch, num_modules: usize, config: &[u8]) {
        let target = Target::for_arch(arch);
        let obj =
            emit_program(&target, ProgramKind::SpecScript, num_modules, 0, config).expect("emit");
        let file = object::File::parse(&*obj).expect("parse");
        let expected_arch = match arch {
            Arch::X86_64 => object::Architecture::X86_64,
            Arch::Aarch64 => object::Architecture::Aarch64,
        };
        assert_eq!(file.architecture(), expected_arch);

        let program = file
            .symbols()
            .find(|s| s.name() == Ok(aot_abi::PROGRAM_SYMBOL))
            .expect("aot_program defined");
        assert!(
            program.is_global() && program.is_definition(),
            "{program:?}"
        );
        assert_eq!(program.kind(), object::SymbolKind::Data);
        assert_eq!(program.size() as usize, size_of::<ProgramDescriptor>());
        let section = file
            .section_by_index(program.section_index().expect("in a section"))
            .expect("section");
        let data = section.data().expect("data");
        let at = program.address() as usize;
        let field = |off: usize, len: usize| &data[at + off..at + off + len];
        assert_eq!(
            field(offset_of!(ProgramDescriptor, abi_version), 4),
            aot_abi::ABI_VERSION.to_le_bytes()
        );
        assert_eq!(
            field(offset_of!(ProgramDescriptor, num_modules), 8),
            (num_modules as u64).to_le_bytes()
        );
        assert_eq!(
            field(offset_of!(ProgramDescriptor, config_len), 8),
            (config.len() as u64).to_le_bytes()
        );

        // Every relocation, as (section offset, target symbol name).
        let mut relocs = Vec::new();
        for s in file.sections() {
            for (off, r) in s.relocations() {
                let RelocationTarget::Symbol(sym) = r.target() else {
                    panic!("non-symbol relocation")
                };
                let sym = file.symbol_by_index(sym).expect("symbol");
                let name = if sym.kind() == object::SymbolKind::Section {
                    file.section_by_index(sym.section_index().expect("section"))
                        .unwrap()
                        .name()
                        .unwrap()
                        .to_string()
                } else {
                    sym.name().unwrap().to_string()
                };
                relocs.push((s.index(), off as usize, name, r.addend()));
            }
        }
        for i in 0..num_modules {
            let name = aot_abi::module_symbol(i);
            let sym = file
                .symbols()
                .find(|s| s.name() == Ok(name.as_str()))
                .expect("module symbol");
            assert!(sym.is_undefined(), "{name} is imported");
            assert_eq!(
                relocs.iter().filter(|r| r.2 == name).count(),
                1,
                "one pointer to {name}"
            );
        }
        let in_descriptor: Vec<_> = relocs
            .iter()
            .filter(|r| {
                r.0 == section.index() && r.1 >= at && r.1 < at + size_of::<ProgramDescriptor>()
            })
            .map(|r| r.1 - at)
            .collect();
        let mut expected = vec![
            offset_of!(ProgramDescriptor, run),
            offset_of!(ProgramDescriptor, modules),
            offset_of!(ProgramDescriptor, config),
            // A core program has no glue: the pointer is any valid address (the modules').
            offset_of!(ProgramDescriptor, glue),
        ];
        expected.sort();
        let mut got = in_descriptor.clone();
        got.sort();
        assert_eq!(
            got, expected,
            "the descriptor's four pointers are relocated"
        );
        assert_eq!(
            relocs
                .iter()
                .filter(|r| r.2 == ProgramKind::SpecScript.run_symbol())
                .count(),
            1,
            "run points at the spec driver's run function"
        );

        let blob = file
            .symbols()
            .find(|s| s.name() == Ok("aot_program_config"))
            .expect("config blob");
        let blob_section = file
            .section_by_index(blob.section_index().unwrap())
            .unwrap();
        let blob_data = blob_section.data().unwrap();
        let start = blob.address() as usize;
        assert_eq!(&blob_data[start..start + config.len()], config);
    }

    #[test]
    fn descriptor_points_at_modules_and_config_on_both_arches() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            check(arch, 1, b"hello config");
            check(arch, 3, &[1, 2, 3]);
            check(arch, 0, &[]);
        }
    }

    /// One module defines struct types, another spawns threads: refused at the GC module's
    /// first struct type, naming the threaded one.
    #[test]
    fn gc_types_in_a_program_with_threads_are_refused() {
        let opts = crate::Options::new(Target::for_arch(Arch::X86_64));
        let parse = |wat: &str, file: &str| {
            let wasm: &'static [u8] = wat::parse_str(wat).expect("test wat").leak();
            crate::module::parse(wasm, file, &opts).expect("module alone is fine")
        };
        let gc = parse(
            "(module (type (func)) (type (struct (field i32))))",
            "gc.wasm",
        );
        let threads = parse(
            r#"(module
  (import "env" "memory" (memory 1 1 shared))
  (import "wasi" "thread-spawn" (func (param i32) (result i32)))
  (func (export "wasi_thread_start") (param i32 i32))
  (func (export "_start")))"#,
            "threads.wasm",
        );
        let planned = |a: &'static ModuleInfo<'static>, b: &'static ModuleInfo<'static>| {
            plan_command(&[
                PlannedInstance {
                    name: Some("lib".into()),
                    module: 0,
                    info: a,
                },
                PlannedInstance {
                    name: None,
                    module: 1,
                    info: b,
                },
            ])
        };
        let gc: &'static ModuleInfo<'static> = Box::leak(Box::new(gc));
        let threads: &'static ModuleInfo<'static> = Box::leak(Box::new(threads));
        let e = planned(gc, threads).expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!(
                "gc.wasm: byte 0x{:x}: GC types (struct and array types) in a threaded program \
                 are not supported: module threads.wasm imports `wasi::thread-spawn`",
                gc.gc_type_offset.expect("a struct type")
            )
        );
        assert!(planned(gc, gc).is_ok(), "GC without threads is planned");
    }
}
