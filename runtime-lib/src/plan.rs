//! The production instantiation plan: the compiler wires every import of every instance
//! at compile time (`aot_abi::InstancePlan`), and this module creates the instances in
//! order. Nothing is looked up by name: a host import is the module's own host-call
//! trampoline, and an import from another instance names that instance and the index of
//! the export. Types are still checked, by the same `instance::instantiate` every other
//! path (the spec driver) uses.

use aot_abi::{ImportSource, InstancePlan, ModuleDescriptor};

use crate::instance::{self, Instance, InstantiateError};

/// Creates the instances of `plan`, calling `initialized` on each right after it is
/// created (before the next is), and returns them in plan order.
pub fn instantiate(
    modules: &[&'static ModuleDescriptor],
    plan: &[InstancePlan],
    mut initialized: impl FnMut(&Instance) -> Result<(), InstantiateError>,
) -> Result<Vec<&'static Instance>, InstantiateError> {
    let other = |m: String| InstantiateError::Other(format!("instantiation plan: {m}"));
    let mut instances: Vec<&'static Instance> = Vec::with_capacity(plan.len());
    for (n, step) in plan.iter().enumerate() {
        let desc = *modules
            .get(step.module as usize)
            .ok_or_else(|| other(format!("instance {n}: no module {}", step.module)))?;
        let meta = instance::module_meta(desc).map_err(InstantiateError::Other)?;
        if step.imports.len() != meta.imports.len() {
            return Err(other(format!(
                "instance {n}: {} imports wired, the module has {}",
                step.imports.len(),
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
                    other(format!(
                        "instance {n}: import `{}::{}` is not provided",
                        import.module, import.name
                    ))
                };
                match *source {
                    ImportSource::Host => instance::host_import(desc, i).ok_or_else(missing),
                    ImportSource::Instance { instance, export } => instances
                        .get(instance as usize)
                        .and_then(|from| from.export_by_index(export))
                        .ok_or_else(missing),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let created = instance::instantiate(desc, &imports)?;
        initialized(created)?;
        instances.push(created);
    }
    Ok(instances)
}
