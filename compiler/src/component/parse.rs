//! Reads a component binary into a tree of definitions, in order, without interpreting
//! them: nested components become entries of [`Tree::components`], core modules entries of
//! [`Tree::modules`] (located and their imports listed, nothing more). Sections no
//! `wasi:cli/command` component has are refused here, with their offset.

use wasmparser::{
    CanonicalFunction, ComponentAlias, ComponentExport, ComponentExternalKind, ComponentImport,
    ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef, Instance,
    InstanceTypeDeclaration, Parser, Payload, TypeBounds,
};

use super::{CoreModule, ExternKind, ModuleImport, unsupported};
use crate::CompileError;

/// The parsed component: the root is the last entry of `components` (it closes last).
pub(super) struct Tree<'a> {
    pub components: Vec<ComponentDef<'a>>,
    pub modules: Vec<CoreModule>,
}

/// A component's types as the validator resolved them: what the value types of its
/// functions are, for the adapters between components.
pub(super) struct ComponentTypes(pub wasmparser::types::Types);

impl Tree<'_> {
    pub fn root(&self) -> usize {
        self.components.len().saturating_sub(1)
    }
}

/// One component's definitions in binary order, each with its byte offset.
#[derive(Default)]
pub(super) struct ComponentDef<'a> {
    pub items: Vec<(usize, Def<'a>)>,
    /// Its validated types (set when the component closes).
    pub types: Option<Box<ComponentTypes>>,
}

pub(super) enum Def<'a> {
    /// A core module (index into [`Tree::modules`]).
    Module(usize),
    /// A nested component (index into [`Tree::components`]).
    Component(usize),
    CoreInstance(Instance<'a>),
    Instance(ComponentInstance<'a>),
    Alias(ComponentAlias<'a>),
    Canon(CanonicalFunction),
    Import(ComponentImport<'a>),
    Export(ComponentExport<'a>),
    /// A component type definition other than an instance type: what matters is only
    /// that it takes a type index.
    Type,
    /// An instance type (what an imported instance is): its type exports, by name.
    InstanceType(Vec<(String, LocalType)>),
    /// A resource type the component defines, with its destructor (a core function index).
    Resource {
        dtor: Option<u32>,
    },
}

/// What a type in an instance type's own index space is, as far as resource identity goes.
#[derive(Clone, Debug)]
pub(super) enum LocalType {
    /// A type of an enclosing component: `count` components out from the one that defines
    /// the instance type (0 = that component), index `index`.
    Outer { count: u32, index: u32 },
    /// The instance's own type export of that name (a fresh `(sub resource)`).
    Export(String),
    /// Anything else (records, variants, ...).
    Other,
}

/// What is open while the payloads of nested modules and components stream by.
enum Open<'a> {
    Component(ComponentDef<'a>),
    Module(CoreModule),
}

pub(super) fn parse<'a>(wasm: &'a [u8], file: &str) -> Result<Tree<'a>, CompileError> {
    let perr = |e: wasmparser::BinaryReaderError| CompileError::from_wasmparser(file, &e);
    let mut tree = Tree {
        components: Vec::new(),
        modules: Vec::new(),
    };
    let mut stack = vec![Open::Component(ComponentDef::default())];
    // Validated already (see `flatten`); validated again here only to keep each component's
    // resolved types. Function bodies are skipped: nothing here needs them.
    let mut validator =
        wasmparser::Validator::new_with_features(crate::module::component_features());
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(perr)?;
        let valid = validator.payload(&payload).map_err(perr)?;
        let closed_types = match valid {
            wasmparser::ValidPayload::End(types) => Some(types),
            _ => None,
        };
        // Inside a core module only its imports and its end matter.
        if let Some(Open::Module(module)) = stack.last_mut() {
            match payload {
                Payload::ImportSection(r) => {
                    for imp in r.into_imports_with_offsets() {
                        let (_, imp) = imp.map_err(perr)?;
                        module.imports.push(ModuleImport {
                            module: imp.module.to_string(),
                            name: imp.name.to_string(),
                            kind: match imp.ty {
                                wasmparser::TypeRef::Func(_)
                                | wasmparser::TypeRef::FuncExact(_) => ExternKind::Func,
                                wasmparser::TypeRef::Table(_) => ExternKind::Table,
                                wasmparser::TypeRef::Memory(_) => ExternKind::Memory,
                                wasmparser::TypeRef::Global(_) => ExternKind::Global,
                                wasmparser::TypeRef::Tag(_) => ExternKind::Tag,
                            },
                        });
                    }
                }
                Payload::End(_) => {
                    if let Some(Open::Module(module)) = stack.pop() {
                        tree.modules.push(module);
                        let index = tree.modules.len() - 1;
                        let offset = tree.modules[index].range.start;
                        current(&mut stack, file, offset as u64)?
                            .items
                            .push((offset, Def::Module(index)));
                    }
                }
                _ => {}
            }
            continue;
        }
        let section_offset = payload
            .as_section()
            .map_or(0, |(_, range)| range.start as usize);
        match payload {
            Payload::Version { .. } | Payload::CustomSection(_) => {}
            Payload::ModuleSection {
                unchecked_range, ..
            } => {
                let range = unchecked_range.start as usize..unchecked_range.end as usize;
                if wasm.get(range.clone()).is_none() {
                    return Err(CompileError::new(
                        file,
                        Some(range.start),
                        "core module extends past the end of the component",
                    ));
                }
                stack.push(Open::Module(CoreModule {
                    range,
                    imports: Vec::new(),
                }));
            }
            Payload::ComponentSection { .. } => {
                stack.push(Open::Component(ComponentDef::default()));
            }
            Payload::End(offset) => {
                if let Some(Open::Component(mut def)) = stack.pop() {
                    def.types = closed_types.map(|t| Box::new(ComponentTypes(t)));
                    tree.components.push(def);
                    let index = tree.components.len() - 1;
                    if !stack.is_empty() {
                        current(&mut stack, file, offset)?
                            .items
                            .push((offset as usize, Def::Component(index)));
                    }
                }
            }
            Payload::CoreTypeSection(r) => {
                // Core types are only referred to by module and instance types, which
                // flattening does not need (the input is validated).
                for t in r.into_iter_with_offsets() {
                    t.map_err(perr)?;
                }
            }
            Payload::InstanceSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, i) = item.map_err(perr)?;
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, Def::CoreInstance(i)));
                }
            }
            Payload::ComponentInstanceSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, i) = item.map_err(perr)?;
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, Def::Instance(i)));
                }
            }
            Payload::ComponentAliasSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, a) = item.map_err(perr)?;
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, Def::Alias(a)));
                }
            }
            Payload::ComponentCanonicalSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, c) = item.map_err(perr)?;
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, Def::Canon(c)));
                }
            }
            Payload::ComponentImportSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, i) = item.map_err(perr)?;
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, Def::Import(i)));
                }
            }
            Payload::ComponentExportSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, e) = item.map_err(perr)?;
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, Def::Export(e)));
                }
            }
            Payload::ComponentTypeSection(r) => {
                for item in r.into_iter_with_offsets() {
                    let (offset, t) = item.map_err(perr)?;
                    let def = match t {
                        wasmparser::ComponentType::Resource { rep, dtor } => {
                            if rep != wasmparser::ValType::I32 {
                                return Err(unsupported(
                                    file,
                                    offset as usize,
                                    "resource representation other than i32",
                                ));
                            }
                            Def::Resource { dtor }
                        }
                        wasmparser::ComponentType::Instance(decls) => {
                            Def::InstanceType(instance_type_exports(&decls))
                        }
                        _ => Def::Type,
                    };
                    current(&mut stack, file, offset)?
                        .items
                        .push((offset as usize, def));
                }
            }
            Payload::ComponentStartSection { range, .. } => {
                return Err(unsupported(file, range.start as usize, "start function"));
            }
            other => {
                let what = match other.as_section() {
                    Some((id, _)) => format!("section {id}"),
                    None => "payload".to_string(),
                };
                return Err(unsupported(file, section_offset, what));
            }
        }
    }
    if tree.components.is_empty() || !stack.is_empty() {
        return Err(CompileError::new(
            file,
            Some(wasm.len()),
            "unexpected end of the component",
        ));
    }
    Ok(tree)
}

/// The type exports of an instance type, each as a [`LocalType`], so that a resource one
/// interface re-exports (`wasi:io/streams` `error`, `(eq)` to `wasi:io/error`'s) is known to
/// be the other interface's.
fn instance_type_exports(decls: &[InstanceTypeDeclaration<'_>]) -> Vec<(String, LocalType)> {
    // The instance type's own type index space.
    let mut local: Vec<LocalType> = Vec::new();
    let mut exports = Vec::new();
    for d in decls {
        match d {
            InstanceTypeDeclaration::Type(_) => local.push(LocalType::Other),
            InstanceTypeDeclaration::Alias(ComponentAlias::Outer {
                kind: ComponentOuterAliasKind::Type,
                count,
                index,
            }) => local.push(match count.checked_sub(1) {
                // Count 0 is the instance type itself.
                None => local
                    .get(*index as usize)
                    .cloned()
                    .unwrap_or(LocalType::Other),
                Some(count) => LocalType::Outer {
                    count,
                    index: *index,
                },
            }),
            InstanceTypeDeclaration::Alias(ComponentAlias::InstanceExport {
                kind: ComponentExternalKind::Type,
                ..
            }) => local.push(LocalType::Other),
            InstanceTypeDeclaration::Export {
                name,
                ty: ComponentTypeRef::Type(bounds),
            } => {
                let t = match bounds {
                    TypeBounds::SubResource => LocalType::Export(name.name.to_string()),
                    TypeBounds::Eq(i) => {
                        local.get(*i as usize).cloned().unwrap_or(LocalType::Other)
                    }
                };
                // A type export is also a new index in the instance type's space.
                local.push(t.clone());
                exports.push((name.name.to_string(), t));
            }
            _ => {}
        }
    }
    exports
}

/// The innermost open component.
fn current<'s, 'a>(
    stack: &'s mut [Open<'a>],
    file: &str,
    offset: u64,
) -> Result<&'s mut ComponentDef<'a>, CompileError> {
    match stack.last_mut() {
        Some(Open::Component(def)) => Ok(def),
        _ => Err(CompileError::new(
            file,
            Some(offset as usize),
            "component definition outside a component",
        )),
    }
}
