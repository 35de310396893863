//! The back end of the component front end: turns a [`Flattened`] component into the
//! production instantiation plan of its core instances, the glue functions they import
//! (each lowered WASI function and resource intrinsic, by its runtime symbol and flat core
//! type; each fused adapter between two components, by its type), the resource types the
//! components define, and the lifted `run` — all wired by index here, so the runtime matches
//! no name.

use aot_abi::{
    AdapterPlan, ComponentPlan, ExportRef, ExternKind as AbiKind, FuncType, GlueKind, GluePlan,
    GuestResourcePlan, ImportKind, ImportSource, InstancePlan, ValType,
};

use super::{CoreDef, ExternKind, Flattened, ResourceIntrinsicKind, StringEncoding};
use crate::CompileError;
use crate::codegen::GlueFunc;
use crate::module::ModuleInfo;
use aot_abi::ctypes::CFuncType;

/// What [`plan`] produces.
pub struct Planned {
    pub instances: Vec<InstancePlan>,
    pub component: ComponentPlan,
    pub glue: Vec<GlueFunc>,
}

/// Plans `flat`, whose modules were parsed into `infos` (same order). Glue functions are
/// numbered lowerings first, then resource intrinsics.
pub fn plan(
    flat: &Flattened,
    infos: &[ModuleInfo],
    file: &str,
    arch: crate::target::Arch,
) -> Result<Planned, CompileError> {
    let fail = |m: String| CompileError::new(file, None, m);
    // Part of WASI 0.2 yet missing from the runtime: a clear error rather than a link
    // failure naming a symbol.
    let implemented = |symbol: &str, what: &str| {
        if crate::link::runtime_defines(arch, symbol) {
            Ok(())
        } else {
            Err(fail(format!(
                "import `{what}`: this WASI 0.2 function is not implemented by aot's runtime yet"
            )))
        }
    };
    let lowerings = flat.lowerings.len();
    let export_ref = |def: &CoreDef, want: ExternKind| -> Result<ExportRef, CompileError> {
        let CoreDef::Export {
            instance,
            name,
            kind,
        } = def
        else {
            return Err(fail(format!("canonical option {def} is not a core export")));
        };
        if *kind != want {
            return Err(fail(format!(
                "canonical option {def} is not a {}",
                want.name()
            )));
        }
        let module = flat
            .instances
            .get(*instance)
            .map(|i| i.module)
            .ok_or_else(|| fail(format!("{def}: no such instance")))?;
        let info = &infos[module];
        let export = info
            .meta
            .exports
            .iter()
            .position(|e| e.name == *name && abi_kind(e.kind) == want)
            .ok_or_else(|| {
                fail(format!(
                    "{def}: core instance {instance} has no such export"
                ))
            })?;
        Ok(ExportRef {
            instance: *instance as u32,
            export: export as u32,
        })
    };

    // Each glue function: its code (what the compiler builds) and its plan (what the
    // runtime binds it to), in step.
    let mut glue: (Vec<GlueFunc>, Vec<GluePlan>) = (Vec::new(), Vec::new());
    let add = |glue: &mut (Vec<GlueFunc>, Vec<GluePlan>),
               symbol: &str,
               adapter: Option<CFuncType>,
               plan: GluePlan| {
        glue.0.push(GlueFunc {
            symbol: symbol.to_string(),
            ty: plan.ty.clone(),
            adapter,
        });
        glue.1.push(plan);
    };
    for l in &flat.lowerings {
        let host = crate::wasi_p2::lookup(&l.import, &l.func)
            .map_err(|e| fail(format!("import `{}#{}`: {e}", l.import, l.func)))?;
        implemented(&host.symbol, &format!("{}#{}", l.import, l.func))?;
        let ty = FuncType {
            params: host.signature.params.clone(),
            results: host.signature.results.clone(),
        };
        let memory = l
            .options
            .memory
            .as_ref()
            .map(|m| export_ref(m, ExternKind::Memory))
            .transpose()?;
        let realloc = l
            .options
            .realloc
            .as_ref()
            .map(|r| export_ref(r, ExternKind::Func))
            .transpose()?;
        add(
            &mut glue,
            &host.symbol,
            None,
            GluePlan {
                ty,
                memory,
                realloc,
                string_encoding: encoding(l.options.string_encoding),
                kind: GlueKind::Host,
                instance: l.instance as u32,
            },
        );
    }
    for r in &flat.resources {
        if let Some(k) = r.guest {
            let (resource, instance) = (k as u32, r.instance as u32);
            let (kind, symbol, results) = match r.kind {
                ResourceIntrinsicKind::New => (
                    GlueKind::ResourceNew { resource, instance },
                    "aot_rt_resource_new",
                    vec![ValType::I32],
                ),
                ResourceIntrinsicKind::Rep => (
                    GlueKind::ResourceRep { resource, instance },
                    "aot_rt_resource_rep",
                    vec![ValType::I32],
                ),
                ResourceIntrinsicKind::Drop => (
                    GlueKind::ResourceDrop { resource, instance },
                    "aot_rt_resource_drop",
                    Vec::new(),
                ),
            };
            let ty = FuncType {
                params: vec![ValType::I32],
                results,
            };
            add(&mut glue, symbol, None, GluePlan::bare(ty, kind, instance));
            continue;
        }
        let (interface, name) = r
            .resource
            .split_once('#')
            .ok_or_else(|| fail(format!("resource `{}` is not a host resource", r.resource)))?;
        let host = crate::wasi_p2::lookup_resource(interface, name)
            .map_err(|e| fail(format!("import `{}`: {e}", r.resource)))?;
        if r.kind != ResourceIntrinsicKind::Drop {
            return Err(fail(format!(
                "`resource.{}` of the host resource `{}`: only a resource's own component may create it or read its representation",
                match r.kind {
                    ResourceIntrinsicKind::New => "new",
                    _ => "rep",
                },
                r.resource
            )));
        }
        implemented(
            &host.drop_symbol,
            &format!("{}#[resource-drop]{name}", interface),
        )?;
        let ty = FuncType {
            params: vec![ValType::I32],
            results: Vec::new(),
        };
        add(
            &mut glue,
            &host.drop_symbol,
            None,
            GluePlan::bare(ty, GlueKind::Host, r.instance as u32),
        );
    }
    let first_adapter = glue.0.len();
    let mut adapters = Vec::with_capacity(flat.adapters.len());
    for (n, a) in flat.adapters.iter().enumerate() {
        let (params, results) = a.ty.lowered_signature();
        let ty = FuncType { params, results };
        let opt =
            |d: &Option<super::CoreDef>, kind| d.as_ref().map(|d| export_ref(d, kind)).transpose();
        add(
            &mut glue,
            "",
            Some(a.ty.clone()),
            GluePlan {
                ty,
                memory: opt(&a.caller_options.memory, ExternKind::Memory)?,
                realloc: opt(&a.caller_options.realloc, ExternKind::Func)?,
                string_encoding: encoding(a.caller_options.string_encoding),
                kind: GlueKind::Adapter(n as u32),
                instance: a.caller_instance as u32,
            },
        );
        adapters.push(AdapterPlan {
            callee: export_ref(&a.callee, ExternKind::Func)?,
            callee_memory: opt(&a.callee_options.memory, ExternKind::Memory)?,
            callee_realloc: opt(&a.callee_options.realloc, ExternKind::Func)?,
            callee_string_encoding: encoding(a.callee_options.string_encoding),
            post_return: opt(&a.callee_options.post_return, ExternKind::Func)?,
            callee_instance: a.callee_instance as u32,
            caller_instance: a.caller_instance as u32,
        });
    }
    let first_task = glue.0.len();
    for t in &flat.task_builtins {
        let (symbol, params, results) = t.kind.symbol_and_type();
        implemented(symbol, &format!("canonical builtin {:?}", t.kind))?;
        add(
            &mut glue,
            symbol,
            None,
            GluePlan::bare(
                FuncType { params, results },
                GlueKind::Host,
                t.instance as u32,
            ),
        );
    }
    let resources = flat
        .guest_resources
        .iter()
        .map(|r| {
            Ok(GuestResourcePlan {
                instance: r.instance as u32,
                dtor: r
                    .dtor
                    .as_ref()
                    .map(|d| export_ref(d, ExternKind::Func))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, CompileError>>()?;

    let mut instances = Vec::with_capacity(flat.instances.len());
    for (n, inst) in flat.instances.iter().enumerate() {
        let info = &infos[inst.module];
        let mut imports = Vec::with_capacity(inst.imports.len());
        let mut funcs = 0usize;
        for (i, def) in inst.imports.iter().enumerate() {
            let import =
                info.meta.imports.get(i).ok_or_else(|| {
                    fail(format!("core instance {n}: more definitions than imports"))
                })?;
            let at = info.import_offsets.get(i).copied();
            let wrong = |m: String| {
                CompileError::new(
                    &info.file,
                    at,
                    format!(
                        "import `{}::{}` of core instance {n}: {m}",
                        import.module, import.name
                    ),
                )
            };
            let source = match def {
                CoreDef::Export { instance, kind, .. } => {
                    if *instance >= n {
                        return Err(wrong(format!("{def} is not an earlier instance")));
                    }
                    let e = export_ref(def, *kind)?;
                    let exporter = &infos[flat.instances[*instance].module];
                    crate::program::check_import_type(
                        info,
                        &import.kind,
                        exporter,
                        e.export as usize,
                    )
                    .map_err(wrong)?;
                    ImportSource::Instance {
                        instance: e.instance,
                        export: e.export,
                    }
                }
                CoreDef::Lowered(l) => ImportSource::Glue(*l as u32),
                CoreDef::Resource(r) => ImportSource::Glue((lowerings + r) as u32),
                CoreDef::Adapter(a) => ImportSource::Glue((first_adapter + a) as u32),
                CoreDef::Task(t) => ImportSource::Glue((first_task + t) as u32),
            };
            if let ImportSource::Glue(g) = source {
                let want = &glue.1[g as usize].ty;
                let ImportKind::Func(t) = import.kind else {
                    return Err(wrong(format!("{def} is a function, the import is not")));
                };
                if info.meta.types.get(t as usize) != Some(want) {
                    return Err(wrong(format!(
                        "{def} has core type {want:?}, the import another"
                    )));
                }
                funcs += 1;
            } else if matches!(import.kind, ImportKind::Func(_)) {
                funcs += 1;
            }
            imports.push(source);
        }
        let _ = funcs;
        if imports.len() != info.meta.imports.len() {
            return Err(fail(format!(
                "core instance {n}: {} definitions for {} imports",
                imports.len(),
                info.meta.imports.len()
            )));
        }
        instances.push(InstancePlan {
            module: inst.module as u32,
            imports,
        });
    }

    let run = export_ref(&flat.export.core_func, ExternKind::Func)?;
    let post_return = flat
        .export
        .options
        .post_return
        .as_ref()
        .map(|p| export_ref(p, ExternKind::Func))
        .transpose()?;
    Ok(Planned {
        instances,
        component: ComponentPlan {
            glue: glue.1,
            run,
            post_return,
            instances: flat.component_instances as u32,
            resources,
            adapters,
        },
        glue: glue.0,
    })
}

fn encoding(e: StringEncoding) -> u8 {
    match e {
        StringEncoding::Utf8 => 0,
        StringEncoding::Utf16 => 1,
        StringEncoding::CompactUtf16 => 2,
    }
}

fn abi_kind(k: AbiKind) -> ExternKind {
    match k {
        AbiKind::Func => ExternKind::Func,
        AbiKind::Table => ExternKind::Table,
        AbiKind::Memory => ExternKind::Memory,
        AbiKind::Global => ExternKind::Global,
        AbiKind::Tag => ExternKind::Tag,
    }
}
