//! Instantiation plans: a program is an ordered list of core instances of compiled modules,
//! each import wired to an earlier instance's export or to a host function the module
//! calls by symbol (`aot_abi::InstancePlan`). Executables get their plan from the compiler,
//! which wires every import at compile time, and nothing is looked up by name; the spec
//! driver builds each step from the names a script registers, then creates the instance
//! here too. Types are checked by `instance::instantiate` either way.

use aot_abi::{ImportSource, InstancePlan, ModuleDescriptor};

use crate::instance::{self, Extern, Instance, InstantiateError};

/// Makes component glue function `n` (`ImportSource::Glue`) once the instances created so
/// far exist (its memory and realloc are their exports); None if there is no such glue.
pub type GlueSource<'a> = dyn FnMut(u32, &[&'static Instance]) -> Result<Extern, String> + 'a;

/// Creates the instances of `plan`, calling `initialized` on each right after it is
/// created (before the next is), and returns them in plan order.
pub fn instantiate(
    modules: &[&'static ModuleDescriptor],
    plan: &[InstancePlan],
    glue: &mut GlueSource,
    mut initialized: impl FnMut(&'static Instance) -> Result<(), InstantiateError>,
) -> Result<Vec<&'static Instance>, InstantiateError> {
    let mut instances: Vec<&'static Instance> = Vec::with_capacity(plan.len());
    for step in plan {
        let created = instantiate_one(modules, step, &instances, glue)?;
        initialized(created)?;
        instances.push(created);
    }
    Ok(instances)
}

/// Creates the instance `step` describes, whose `ImportSource::Instance` entries index
/// `instances` and whose `ImportSource::Glue` entries `glue` makes. A source that does not exist (an instance not created, an export index out
/// of range) is a link error naming the import; so is a type mismatch.
pub fn instantiate_one(
    modules: &[&'static ModuleDescriptor],
    step: &InstancePlan,
    instances: &[&'static Instance],
    glue: &mut GlueSource,
) -> Result<&'static Instance, InstantiateError> {
    let other = |m: String| InstantiateError::Other(format!("instantiation plan: {m}"));
    let desc = *modules
        .get(step.module as usize)
        .ok_or_else(|| other(format!("no module {}", step.module)))?;
    let meta = instance::module_meta(desc).map_err(InstantiateError::Other)?;
    if step.imports.len() != meta.imports.len() {
        return Err(other(format!(
            "{} imports wired, module {} has {}",
            step.imports.len(),
            step.module,
            meta.imports.len()
        )));
    }
    let imports = step
        .imports
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let import = &meta.imports[i];
            let missing = || {
                InstantiateError::Link(format!(
                    "unknown import: `{}::{}` is not provided",
                    import.module, import.name
                ))
            };
            match *source {
                ImportSource::Host => match import.kind {
                    aot_abi::ImportKind::Memory(_) => instance::host_memory_import(desc, i)
                        .map_err(|m| {
                            InstantiateError::Link(format!(
                                "import `{}::{}`: {m}",
                                import.module, import.name
                            ))
                        }),
                    _ => instance::host_import(desc, i).ok_or_else(missing),
                },
                ImportSource::Instance { instance, export } => instances
                    .get(instance as usize)
                    .and_then(|from| from.export_by_index(export))
                    .ok_or_else(missing),
                ImportSource::Glue(n) => glue(n, instances).map_err(|m| {
                    InstantiateError::Link(format!(
                        "import `{}::{}`: {m}",
                        import.module, import.name
                    ))
                }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    instance::instantiate(desc, &imports)
}
