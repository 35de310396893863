//! Import resolution by name, for the spec-script driver only: a registry of named import
//! providers (instances registered under a module name, host modules such as `spectest`).
//! Executables never look anything up by name: their imports are wired at compile time
//! (`plan`). Imports the compiler resolved to host functions come from the module itself.
//!
//! Resolution finds every import by (module, name) before anything is created, so a module
//! that fails to link has no side effects (the spec's assert_unlinkable relies on this).
//! Error texts contain the spec's "unknown import"; type checks (`imports::check_import`)
//! happen in `instance::instantiate`, whoever wired the imports.

use std::collections::HashMap;

use aot_abi::ModuleDescriptor;

use crate::instance::{self, Extern, Instance, InstantiateError};

enum Provider {
    Instance(&'static Instance),
    Host(HashMap<String, Extern>),
}

/// Module names and what they export.
#[derive(Default)]
pub struct Linker {
    modules: HashMap<String, Provider>,
}

impl Linker {
    pub fn new() -> Linker {
        Linker::default()
    }

    /// Makes `instance`'s exports importable as `module::<export name>`; replaces any
    /// earlier provider of that name.
    pub fn register_instance(&mut self, module: &str, instance: &'static Instance) {
        self.modules
            .insert(module.to_string(), Provider::Instance(instance));
    }

    /// Makes a host module's `exports` importable as `module::<name>`.
    pub fn register_host(&mut self, module: &str, exports: HashMap<String, Extern>) {
        self.modules
            .insert(module.to_string(), Provider::Host(exports));
    }

    pub fn lookup(&self, module: &str, name: &str) -> Option<Extern> {
        match self.modules.get(module)? {
            Provider::Instance(i) => i.export(name),
            Provider::Host(exports) => exports.get(name).copied(),
        }
    }

    /// Finds every import of `desc`'s module, then instantiates it. Imports the compiler
    /// resolved to host functions come from the module itself; the rest by name.
    pub fn instantiate(
        &self,
        desc: &'static ModuleDescriptor,
    ) -> Result<&'static Instance, InstantiateError> {
        let meta = instance::module_meta(desc).map_err(InstantiateError::Other)?;
        let imports = meta
            .imports
            .iter()
            .enumerate()
            .map(|(n, i)| {
                instance::host_import(desc, n)
                    .or_else(|| self.lookup(&i.module, &i.name))
                    .ok_or_else(|| {
                        InstantiateError::Link(format!(
                            "unknown import: `{}::{}`",
                            i.module, i.name
                        ))
                    })
            })
            .collect::<Result<Vec<Extern>, InstantiateError>>()?;
        instance::instantiate(desc, &imports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::GlobalRef;
    use aot_abi::{GlobalType, ValRaw, ValType};

    fn global(ty: ValType, mutable: bool) -> Extern {
        Extern::Global(GlobalRef::host(
            GlobalType { ty, mutable },
            ValRaw::default(),
        ))
    }

    #[test]
    fn lookup_finds_host_exports_only_by_both_names() {
        let mut linker = Linker::new();
        let mut exports = HashMap::new();
        exports.insert("g".to_string(), global(ValType::I32, false));
        linker.register_host("host", exports);
        assert!(matches!(
            linker.lookup("host", "g"),
            Some(Extern::Global(_))
        ));
        assert!(linker.lookup("host", "h").is_none());
        assert!(linker.lookup("other", "g").is_none());
    }
}
