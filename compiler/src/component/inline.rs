//! Instantiates the parsed root component at compile time, inlining nested component
//! instantiations, and records what is left: core instances, lowerings, resource
//! intrinsics and the lifted root export.
//!
//! Each component instantiation gets a [`Frame`] holding its index spaces, whose entries
//! are already resolved values (a core function is a [`CoreDef`], a component function a
//! host import or a lift, an instance an imported host instance or a list of exports).
//! Frames live in one arena and are never dropped, so that a component value can name the
//! frame it was defined in: outer aliases follow that lexical chain, not the call stack.

use std::rc::Rc;

use wasmparser::{
    CanonicalFunction, CanonicalOption, ComponentAlias, ComponentExternalKind, ComponentInstance,
    ComponentOuterAliasKind, ComponentTypeRef, Instance,
};

use super::parse::{Def, LocalType, Tree};
use aot_abi::ctypes::{CFuncType, CType, HOST_RESOURCE};

use super::{
    Adapter, CanonOptions, CoreDef, CoreInstance, ExternKind, Flattened, GuestResource, Lift,
    Lowering, ResourceIntrinsic, ResourceIntrinsicKind, StringEncoding, unsupported,
};
use crate::CompileError;

/// A component-level value in an index space.
#[derive(Clone, Debug)]
enum Item {
    Func(Func),
    Type(Type),
    Instance(Inst),
    Module(usize),
    Component(ComponentValue),
}

impl Item {
    fn kind(&self) -> &'static str {
        match self {
            Item::Func(_) => "func",
            Item::Type(_) => "type",
            Item::Instance(_) => "instance",
            Item::Module(_) => "module",
            Item::Component(_) => "component",
        }
    }
}

#[derive(Clone, Debug)]
enum Func {
    /// A function of an imported host instance.
    Import { import: String, func: String },
    /// A core function lifted in this component.
    Lifted {
        core_func: CoreDef,
        options: CanonOptions,
        /// Its type, for an adapter that lowers it into another component.
        ty: Rc<CFuncType>,
        /// The component instance (frame) that lifted it.
        instance: usize,
    },
}

#[derive(Clone, Debug)]
enum Type {
    /// A type exported by an imported host instance: `interface#name`. Only resources
    /// matter (the intrinsics name them); the input is validated, so other types are never
    /// used where a resource is expected.
    Imported(String),
    /// In an instance type, the same type as the instance's fresh resource of this name.
    Sibling(String),
    /// An instance type: its type exports that are equal to other types (by name); the
    /// others are fresh resources of the instance.
    Instance(Rc<Vec<(String, Type)>>),
    /// A resource type a component instance defines (index into the guest resources).
    Guest(usize),
    /// A type defined here (records, functions, ...).
    Other,
}

#[derive(Clone, Debug)]
enum Inst {
    /// An imported host instance, by name (`wasi:cli/stdout@0.2.6`), with its type
    /// exports that are other types (see [`Type::Instance`]).
    Import {
        name: String,
        types: Rc<Vec<(String, Type)>>,
    },
    /// An instance given by its exports (an instantiated nested component, or built from
    /// exports).
    Exports(Rc<Vec<(String, Item)>>),
}

/// A component definition closed over the frame it was defined in.
#[derive(Clone, Copy, Debug)]
struct ComponentValue {
    def: usize,
    frame: usize,
}

#[derive(Clone, Debug)]
enum CoreInst {
    /// A core instance of [`Flattened::instances`].
    Instantiated(usize),
    /// A core instance built from exports: resolved away into its items.
    Exports(Rc<Vec<(String, CoreDef)>>),
}

/// One component instantiation's index spaces.
struct Frame {
    /// The frame of the component this one's definition is nested in.
    parent: Option<usize>,
    /// The component definition instantiated (index into the tree's components).
    def: usize,
    /// The instantiation arguments, by import name (empty for the root).
    args: Vec<(String, Item)>,
    /// Core funcs, tables, memories, globals, tags (by [`ExternKind`] as an index).
    core: [Vec<CoreDef>; ExternKind::COUNT],
    core_modules: Vec<usize>,
    core_instances: Vec<CoreInst>,
    funcs: Vec<Func>,
    types: Vec<Type>,
    instances: Vec<Inst>,
    components: Vec<ComponentValue>,
    exports: Vec<(String, Item)>,
    /// Where each export is defined, for messages.
    export_offsets: Vec<usize>,
}

impl Frame {
    fn new(parent: Option<usize>, def: usize, args: Vec<(String, Item)>) -> Frame {
        Frame {
            parent,
            def,
            args,
            core: Default::default(),
            core_modules: Vec::new(),
            core_instances: Vec::new(),
            funcs: Vec::new(),
            types: Vec::new(),
            instances: Vec::new(),
            components: Vec::new(),
            exports: Vec::new(),
            export_offsets: Vec::new(),
        }
    }

    /// Adds `item` to its index space.
    fn push(&mut self, item: Item) {
        match item {
            Item::Func(f) => self.funcs.push(f),
            Item::Type(t) => self.types.push(t),
            Item::Instance(i) => self.instances.push(i),
            Item::Module(m) => self.core_modules.push(m),
            Item::Component(c) => self.components.push(c),
        }
    }
}

struct Inliner<'t, 'a> {
    tree: &'t Tree<'a>,
    file: &'t str,
    frames: Vec<Frame>,
    instances: Vec<CoreInstance>,
    lowerings: Vec<Lowering>,
    resources: Vec<ResourceIntrinsic>,
    adapters: Vec<Adapter>,
    guest_resources: Vec<GuestResource>,
}

pub(super) fn inline(tree: &Tree<'_>, file: &str) -> Result<Flattened, CompileError> {
    let mut inliner = Inliner {
        tree,
        file,
        frames: Vec::new(),
        instances: Vec::new(),
        lowerings: Vec::new(),
        resources: Vec::new(),
        adapters: Vec::new(),
        guest_resources: Vec::new(),
    };
    let root = tree.root();
    let exports = inliner.instantiate(
        ComponentValue {
            def: root,
            frame: 0,
        },
        Vec::new(),
    )?;
    let offsets = inliner
        .frames
        .first()
        .map(|f| f.export_offsets.clone())
        .unwrap_or_default();
    let export = root_export(&exports, &offsets, file)?;
    Ok(Flattened {
        modules: tree.modules.clone(),
        instances: inliner.instances,
        lowerings: inliner.lowerings,
        resources: inliner.resources,
        adapters: inliner.adapters,
        guest_resources: inliner.guest_resources,
        component_instances: inliner.frames.len(),
        export,
    })
}

/// The root export `wasi:cli/run@0.2.x` with its lifted `run`. Other exports are left
/// alone, as `wasmtime run` leaves them: a command only runs `run` (componentize-py, for
/// one, also exports an `exports` instance holding its initialiser).
fn root_export(
    exports: &[(String, Item)],
    offsets: &[usize],
    file: &str,
) -> Result<Lift, CompileError> {
    let runs: Vec<usize> = exports
        .iter()
        .enumerate()
        .filter(|(_, (n, _))| n.starts_with("wasi:cli/run@"))
        .map(|(i, _)| i)
        .collect();
    let at = runs
        .first()
        .and_then(|&i| offsets.get(i))
        .or(offsets.first())
        .copied();
    let err = |m: String| CompileError::new(file, at, m);
    let [i] = runs[..] else {
        let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        return Err(err(format!(
            "a component must export `wasi:cli/run@0.2.x` once (a `wasi:cli/command`); \
             this one exports {names:?}"
        )));
    };
    let (name, item) = &exports[i];
    if !name.starts_with("wasi:cli/run@0.2.") {
        return Err(err(format!(
            "the component exports {name:?}, not `wasi:cli/run@0.2.x` (a `wasi:cli/command`)"
        )));
    }
    let Item::Instance(Inst::Exports(items)) = item else {
        return Err(err(format!(
            "the export {name:?} is a {} defined outside the component, not an instance \
             of the component's own functions",
            item.kind()
        )));
    };
    match items.iter().find(|(n, _)| n == "run") {
        Some((
            _,
            Item::Func(Func::Lifted {
                core_func, options, ..
            }),
        )) => Ok(Lift {
            instance: name.clone(),
            func: "run".to_string(),
            core_func: core_func.clone(),
            options: options.clone(),
        }),
        Some((_, Item::Func(Func::Import { import, func }))) => Err(err(format!(
            "the export {name:?} re-exports the host function {import} {func}"
        ))),
        _ => Err(err(format!("the export {name:?} has no function `run`"))),
    }
}

impl<'t> Inliner<'t, '_> {
    fn err(&self, offset: usize, message: impl Into<String>) -> CompileError {
        CompileError::new(self.file, Some(offset), message)
    }

    /// An index out of its space: impossible in a validated component, an error anyway.
    fn bad_index(&self, offset: usize, space: &str, index: u32) -> CompileError {
        self.err(offset, format!("{space} index {index} out of bounds"))
    }

    /// Instantiates `component` with `args`; returns its exports. The new frame's parent
    /// is the frame the component was defined in (none for the root, the first frame).
    fn instantiate(
        &mut self,
        component: ComponentValue,
        args: Vec<(String, Item)>,
    ) -> Result<Vec<(String, Item)>, CompileError> {
        let parent = if self.frames.is_empty() {
            None
        } else {
            Some(component.frame)
        };
        self.frames.push(Frame::new(parent, component.def, args));
        let frame = self.frames.len() - 1;
        let tree = self.tree;
        let def = tree
            .components
            .get(component.def)
            .ok_or_else(|| self.err(0, "component index out of bounds"))?;
        for (offset, item) in &def.items {
            self.define(frame, *offset, item)?;
        }
        Ok(std::mem::take(&mut self.frames[frame].exports))
    }

    fn define(&mut self, frame: usize, offset: usize, def: &Def<'_>) -> Result<(), CompileError> {
        match def {
            Def::Module(m) => self.frames[frame].core_modules.push(*m),
            Def::Component(c) => self.frames[frame]
                .components
                .push(ComponentValue { def: *c, frame }),
            Def::Type => self.frames[frame].types.push(Type::Other),
            Def::Resource { dtor } => {
                let dtor = dtor.map(|d| self.core_func(frame, offset, d)).transpose()?;
                self.guest_resources.push(GuestResource {
                    instance: frame,
                    dtor,
                });
                let k = self.guest_resources.len() - 1;
                self.frames[frame].types.push(Type::Guest(k));
            }
            Def::InstanceType(exports) => {
                let t = self.instance_type(frame, offset, exports)?;
                self.frames[frame].types.push(t);
            }
            Def::CoreInstance(i) => {
                let inst = self.core_instance(frame, offset, i)?;
                self.frames[frame].core_instances.push(inst);
            }
            Def::Instance(i) => {
                let inst = self.component_instance(frame, offset, i)?;
                self.frames[frame].instances.push(inst);
            }
            Def::Alias(a) => {
                let item = self.alias(frame, offset, a)?;
                match item {
                    Aliased::Core(kind, d) => self.frames[frame].core[kind as usize].push(d),
                    Aliased::Item(item) => self.frames[frame].push(item),
                    Aliased::Nothing => {}
                }
            }
            Def::Canon(c) => self.canon(frame, offset, c)?,
            Def::Import(imp) => {
                let name = imp.name.name;
                let item = if self.frames[frame].parent.is_none() {
                    match imp.ty {
                        ComponentTypeRef::Instance(t) => {
                            let types = match self.frames[frame].types.get(t as usize) {
                                Some(Type::Instance(types)) => types.clone(),
                                _ => Rc::default(),
                            };
                            Item::Instance(Inst::Import {
                                name: name.to_string(),
                                types,
                            })
                        }
                        other => {
                            return Err(unsupported(
                                self.file,
                                offset,
                                format!(
                                    "import {name:?} of a {} (the root may import only \
                                     instances)",
                                    type_ref_kind(&other)
                                ),
                            ));
                        }
                    }
                } else {
                    let args = &self.frames[frame].args;
                    match args.iter().find(|(n, _)| n == name) {
                        Some((_, item)) => item.clone(),
                        None => {
                            return Err(self.err(
                                offset,
                                format!("nested component import {name:?} is not given"),
                            ));
                        }
                    }
                };
                self.frames[frame].push(item);
            }
            Def::Export(e) => {
                let item = self.item(frame, offset, e.kind, e.index)?;
                let f = &mut self.frames[frame];
                f.exports.push((e.name.name.to_string(), item.clone()));
                f.export_offsets.push(offset);
                // An export is a new index in its space, like an alias.
                f.push(item);
            }
        }
        Ok(())
    }

    /// The item `index` of the component-level space `kind`.
    fn item(
        &self,
        frame: usize,
        offset: usize,
        kind: ComponentExternalKind,
        index: u32,
    ) -> Result<Item, CompileError> {
        let f = &self.frames[frame];
        let i = index as usize;
        let found = match kind {
            ComponentExternalKind::Func => f.funcs.get(i).cloned().map(Item::Func),
            ComponentExternalKind::Type => f.types.get(i).cloned().map(Item::Type),
            ComponentExternalKind::Instance => f.instances.get(i).cloned().map(Item::Instance),
            ComponentExternalKind::Module => f.core_modules.get(i).copied().map(Item::Module),
            ComponentExternalKind::Component => f.components.get(i).copied().map(Item::Component),
            ComponentExternalKind::Value => return Err(unsupported(self.file, offset, "value")),
        };
        found.ok_or_else(|| self.bad_index(offset, external_kind_name(kind), index))
    }

    fn core_item(
        &self,
        frame: usize,
        offset: usize,
        kind: ExternKind,
        index: u32,
    ) -> Result<CoreDef, CompileError> {
        self.frames[frame].core[kind as usize]
            .get(index as usize)
            .cloned()
            .ok_or_else(|| self.bad_index(offset, kind.name(), index))
    }

    fn core_func(&self, frame: usize, offset: usize, index: u32) -> Result<CoreDef, CompileError> {
        self.core_item(frame, offset, ExternKind::Func, index)
    }

    /// The export `name` of core instance `index`.
    fn core_export(
        &self,
        frame: usize,
        offset: usize,
        index: u32,
        name: &str,
        kind: ExternKind,
    ) -> Result<CoreDef, CompileError> {
        let inst = self.frames[frame]
            .core_instances
            .get(index as usize)
            .ok_or_else(|| self.bad_index(offset, "core instance", index))?;
        match inst {
            CoreInst::Instantiated(i) => Ok(CoreDef::Export {
                instance: *i,
                name: name.to_string(),
                kind,
            }),
            CoreInst::Exports(items) => items
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| {
                    self.err(
                        offset,
                        format!("core instance {index} has no export {name:?}"),
                    )
                }),
        }
    }

    fn core_instance(
        &mut self,
        frame: usize,
        offset: usize,
        inst: &Instance<'_>,
    ) -> Result<CoreInst, CompileError> {
        match inst {
            Instance::Instantiate { module_index, args } => {
                let module = *self.frames[frame]
                    .core_modules
                    .get(*module_index as usize)
                    .ok_or_else(|| self.bad_index(offset, "core module", *module_index))?;
                let tree = self.tree;
                let m = tree
                    .modules
                    .get(module)
                    .ok_or_else(|| self.bad_index(offset, "core module", *module_index))?;
                let mut imports = Vec::with_capacity(m.imports.len());
                for imp in &m.imports {
                    let arg = args.iter().find(|a| a.name == imp.module).ok_or_else(|| {
                        self.err(
                            offset,
                            format!(
                                "core module {module_index} imports from {:?}, which the \
                                 instantiation does not give",
                                imp.module
                            ),
                        )
                    })?;
                    imports.push(self.core_export(frame, offset, arg.index, &imp.name, imp.kind)?);
                }
                self.instances.push(CoreInstance { module, imports });
                Ok(CoreInst::Instantiated(self.instances.len() - 1))
            }
            Instance::FromExports(exports) => {
                let mut items = Vec::with_capacity(exports.len());
                for e in exports.iter() {
                    let kind = ExternKind::from_external(e.kind);
                    items.push((
                        e.name.to_string(),
                        self.core_item(frame, offset, kind, e.index)?,
                    ));
                }
                Ok(CoreInst::Exports(Rc::new(items)))
            }
        }
    }

    fn component_instance(
        &mut self,
        frame: usize,
        offset: usize,
        inst: &ComponentInstance<'_>,
    ) -> Result<Inst, CompileError> {
        match inst {
            ComponentInstance::Instantiate {
                component_index,
                args,
            } => {
                let component = *self.frames[frame]
                    .components
                    .get(*component_index as usize)
                    .ok_or_else(|| self.bad_index(offset, "component", *component_index))?;
                let mut values = Vec::with_capacity(args.len());
                for a in args.iter() {
                    values.push((
                        a.name.to_string(),
                        self.item(frame, offset, a.kind, a.index)?,
                    ));
                }
                let exports = self.instantiate(component, values)?;
                Ok(Inst::Exports(Rc::new(exports)))
            }
            ComponentInstance::FromExports(exports) => {
                let mut items = Vec::with_capacity(exports.len());
                for e in exports.iter() {
                    items.push((
                        e.name.name.to_string(),
                        self.item(frame, offset, e.kind, e.index)?,
                    ));
                }
                Ok(Inst::Exports(Rc::new(items)))
            }
        }
    }

    fn alias(
        &self,
        frame: usize,
        offset: usize,
        alias: &ComponentAlias<'_>,
    ) -> Result<Aliased, CompileError> {
        match *alias {
            ComponentAlias::InstanceExport {
                kind,
                instance_index,
                name,
            } => {
                let inst = self.frames[frame]
                    .instances
                    .get(instance_index as usize)
                    .ok_or_else(|| self.bad_index(offset, "instance", instance_index))?;
                match inst {
                    Inst::Import {
                        name: import,
                        types,
                    } => match kind {
                        ComponentExternalKind::Func => {
                            Ok(Aliased::Item(Item::Func(Func::Import {
                                import: import.clone(),
                                func: name.to_string(),
                            })))
                        }
                        ComponentExternalKind::Type => {
                            let t = match types.iter().find(|(n, _)| n == name) {
                                Some((_, Type::Sibling(sibling))) => {
                                    Type::Imported(format!("{import}#{sibling}"))
                                }
                                Some((_, t)) => t.clone(),
                                None => Type::Imported(format!("{import}#{name}")),
                            };
                            Ok(Aliased::Item(Item::Type(t)))
                        }
                        other => Err(unsupported(
                            self.file,
                            offset,
                            format!(
                                "alias of the {} {name:?} of the imported instance {import:?}",
                                external_kind_name(other)
                            ),
                        )),
                    },
                    Inst::Exports(items) => match items.iter().find(|(n, _)| n == name) {
                        Some((_, item)) => Ok(Aliased::Item(item.clone())),
                        None => Err(self.err(
                            offset,
                            format!("instance {instance_index} has no export {name:?}"),
                        )),
                    },
                }
            }
            ComponentAlias::CoreInstanceExport {
                kind,
                instance_index,
                name,
            } => {
                let kind = ExternKind::from_external(kind);
                let d = self.core_export(frame, offset, instance_index, name, kind)?;
                Ok(Aliased::Core(kind, d))
            }
            ComponentAlias::Outer { kind, count, index } => {
                let f = &self.frames[self.outer(frame, offset, count)?];
                let i = index as usize;
                let item = match kind {
                    ComponentOuterAliasKind::CoreModule => {
                        f.core_modules.get(i).copied().map(Item::Module)
                    }
                    ComponentOuterAliasKind::Type => f.types.get(i).cloned().map(Item::Type),
                    ComponentOuterAliasKind::Component => {
                        f.components.get(i).copied().map(Item::Component)
                    }
                    // Core types are not tracked (see parse): nothing flattening needs
                    // refers to them, so an outer core type alias takes no index here.
                    ComponentOuterAliasKind::CoreType => return Ok(Aliased::Nothing),
                };
                item.map(Aliased::Item)
                    .ok_or_else(|| self.bad_index(offset, "outer alias", index))
            }
        }
    }

    /// The frame `count` components out from `frame`'s (lexically).
    fn outer(&self, frame: usize, offset: usize, count: u32) -> Result<usize, CompileError> {
        let mut outer = frame;
        for _ in 0..count {
            outer = self.frames[outer]
                .parent
                .ok_or_else(|| self.err(offset, "outer alias beyond the root"))?;
        }
        Ok(outer)
    }

    /// An instance type defined in `frame`: its type exports that are other types, with
    /// the enclosing components' types resolved now (they are fixed by then).
    fn instance_type(
        &self,
        frame: usize,
        offset: usize,
        exports: &[(String, LocalType)],
    ) -> Result<Type, CompileError> {
        let mut types = Vec::new();
        for (name, t) in exports {
            let t = match t {
                // A fresh resource: named after the import, at the alias.
                LocalType::Export(n) if n == name => continue,
                // Equal to a sibling fresh resource, named at the alias too.
                LocalType::Export(n) => Type::Sibling(n.clone()),
                LocalType::Outer { count, index } => self.frames
                    [self.outer(frame, offset, *count)?]
                .types
                .get(*index as usize)
                .cloned()
                .ok_or_else(|| self.bad_index(offset, "outer type", *index))?,
                LocalType::Other => Type::Other,
            };
            types.push((name.clone(), t));
        }
        Ok(Type::Instance(Rc::new(types)))
    }

    fn canon(
        &mut self,
        frame: usize,
        offset: usize,
        canon: &CanonicalFunction,
    ) -> Result<(), CompileError> {
        match canon {
            CanonicalFunction::Lift {
                core_func_index,
                options,
                ..
            } => {
                let core_func = self.core_func(frame, offset, *core_func_index)?;
                let options = self.options(frame, offset, options)?;
                let index = self.frames[frame].funcs.len() as u32;
                let ty = Rc::new(self.func_type(frame, offset, index)?);
                self.frames[frame].funcs.push(Func::Lifted {
                    core_func,
                    options,
                    ty,
                    instance: frame,
                });
            }
            CanonicalFunction::Lower {
                func_index,
                options,
            } => {
                let func = self.frames[frame]
                    .funcs
                    .get(*func_index as usize)
                    .cloned()
                    .ok_or_else(|| self.bad_index(offset, "func", *func_index))?;
                let options = self.options(frame, offset, options)?;
                let (import, func) = match func {
                    Func::Import { import, func } => (import, func),
                    Func::Lifted {
                        core_func,
                        options: callee_options,
                        ty,
                        instance,
                    } => {
                        // A composition: a fused adapter between the two instances.
                        self.adapters.push(Adapter {
                            ty: (*ty).clone(),
                            callee: core_func,
                            callee_options,
                            callee_instance: instance,
                            caller_options: options,
                            caller_instance: frame,
                        });
                        let d = CoreDef::Adapter(self.adapters.len() - 1);
                        self.frames[frame].core[ExternKind::Func as usize].push(d);
                        return Ok(());
                    }
                };
                self.lowerings.push(Lowering {
                    import,
                    func,
                    options,
                    instance: frame,
                });
                let d = CoreDef::Lowered(self.lowerings.len() - 1);
                self.frames[frame].core[ExternKind::Func as usize].push(d);
            }
            CanonicalFunction::ResourceDrop { resource } => {
                self.resource(frame, offset, ResourceIntrinsicKind::Drop, *resource)?
            }
            CanonicalFunction::ResourceNew { resource } => {
                self.resource(frame, offset, ResourceIntrinsicKind::New, *resource)?
            }
            CanonicalFunction::ResourceRep { resource } => {
                self.resource(frame, offset, ResourceIntrinsicKind::Rep, *resource)?
            }
            other => {
                return Err(unsupported(
                    self.file,
                    offset,
                    format!("canonical builtin {}", canon_name(other)),
                ));
            }
        }
        Ok(())
    }

    fn resource(
        &mut self,
        frame: usize,
        offset: usize,
        kind: ResourceIntrinsicKind,
        index: u32,
    ) -> Result<(), CompileError> {
        let ty = self.frames[frame]
            .types
            .get(index as usize)
            .ok_or_else(|| self.bad_index(offset, "type", index))?;
        let (resource, guest) = match ty {
            Type::Imported(resource) => (resource.clone(), None),
            Type::Guest(k) => (format!("guest resource {k}"), Some(*k)),
            _ => {
                return Err(self.err(
                    offset,
                    format!("resource intrinsic on type {index}, which is no resource"),
                ));
            }
        };
        self.resources.push(ResourceIntrinsic {
            kind,
            resource,
            guest,
            instance: frame,
        });
        let d = CoreDef::Resource(self.resources.len() - 1);
        self.frames[frame].core[ExternKind::Func as usize].push(d);
        Ok(())
    }

    /// The type of function `index` of `frame`'s component, from the validator's types.
    fn func_type(
        &self,
        frame: usize,
        offset: usize,
        index: u32,
    ) -> Result<CFuncType, CompileError> {
        let types = self.types_of(frame, offset)?;
        let id = types.component_function_at(index);
        let f = &types[id];
        if f.async_ {
            return Err(unsupported(self.file, offset, "async function"));
        }
        Ok(CFuncType {
            params: f
                .params
                .iter()
                .map(|(_, t)| self.ctype(frame, offset, types, t))
                .collect::<Result<_, _>>()?,
            result: f
                .result
                .as_ref()
                .map(|t| self.ctype(frame, offset, types, t))
                .transpose()?,
        })
    }

    fn types_of(
        &self,
        frame: usize,
        offset: usize,
    ) -> Result<&'t wasmparser::types::Types, CompileError> {
        let tree: &'t Tree<'_> = self.tree;
        tree.components
            .get(self.frames[frame].def)
            .and_then(|c| c.types.as_ref())
            .map(|t| &t.0)
            .ok_or_else(|| self.err(offset, "component types unavailable"))
    }

    fn ctype(
        &self,
        frame: usize,
        offset: usize,
        types: &wasmparser::types::Types,
        t: &wasmparser::component_types::ComponentValType,
    ) -> Result<CType, CompileError> {
        use wasmparser::PrimitiveValType as P;
        use wasmparser::component_types::{ComponentDefinedType as D, ComponentValType as V};
        let prim = |p: &P| match p {
            P::Bool => CType::Bool,
            P::S8 => CType::S8,
            P::U8 => CType::U8,
            P::S16 => CType::S16,
            P::U16 => CType::U16,
            P::S32 => CType::S32,
            P::U32 => CType::U32,
            P::S64 => CType::S64,
            P::U64 => CType::U64,
            P::F32 => CType::F32,
            P::F64 => CType::F64,
            P::Char => CType::Char,
            P::String => CType::String,
            P::ErrorContext => CType::U32,
        };
        let rec = |t: &V| self.ctype(frame, offset, types, t);
        Ok(match t {
            V::Primitive(p) => {
                if *p == P::ErrorContext {
                    return Err(unsupported(self.file, offset, "error-context type"));
                }
                prim(p)
            }
            V::Type(id) => match &types[*id] {
                D::Primitive(p) => prim(p),
                D::Record(r) => {
                    CType::Record(r.fields.values().map(rec).collect::<Result<_, _>>()?)
                }
                D::Tuple(t) => CType::Record(t.types.iter().map(rec).collect::<Result<_, _>>()?),
                D::Variant(v) => CType::Variant(
                    v.cases
                        .values()
                        .map(|c| c.ty.as_ref().map(rec).transpose())
                        .collect::<Result<_, _>>()?,
                ),
                D::List { element, .. } => CType::List(Box::new(rec(element)?)),
                D::Flags(f) => CType::Flags(f.len() as u32),
                D::Enum(e) => CType::enumeration(e.len() as u32),
                D::Option { ty, .. } => CType::option(rec(ty)?),
                D::Result { ok, err, .. } => CType::result(
                    ok.as_ref().map(rec).transpose()?,
                    err.as_ref().map(rec).transpose()?,
                ),
                D::Own(r) => CType::Own(self.resource_id(frame, offset, types, r.resource())?),
                D::Borrow(r) => {
                    CType::Borrow(self.resource_id(frame, offset, types, r.resource())?)
                }
                _ => {
                    return Err(unsupported(
                        self.file,
                        offset,
                        "value type (map, fixed-length list, future or stream) in a function between components",
                    ));
                }
            },
        })
    }

    /// The program-wide id of the resource the validator knows as `id` in `frame`'s
    /// component: a guest resource's index, or [`HOST_RESOURCE`] for any host resource.
    fn resource_id(
        &self,
        frame: usize,
        offset: usize,
        types: &wasmparser::types::Types,
        id: wasmparser::component_types::ResourceId,
    ) -> Result<u32, CompileError> {
        use wasmparser::component_types::ComponentAnyTypeId;
        for (i, t) in self.frames[frame].types.iter().enumerate() {
            if let ComponentAnyTypeId::Resource(r) = types.component_any_type_at(i as u32)
                && r.resource() == id
            {
                return match t {
                    Type::Guest(k) => Ok(*k as u32),
                    Type::Imported(_) => Ok(HOST_RESOURCE),
                    _ => Err(self.err(offset, format!("type {i} should be a resource"))),
                };
            }
        }
        Err(self.err(
            offset,
            "a resource in a function type is not one of the component's types",
        ))
    }

    fn options(
        &self,
        frame: usize,
        offset: usize,
        options: &[CanonicalOption],
    ) -> Result<CanonOptions, CompileError> {
        let mut o = CanonOptions::default();
        for opt in options {
            match *opt {
                CanonicalOption::UTF8 => o.string_encoding = StringEncoding::Utf8,
                CanonicalOption::UTF16 => o.string_encoding = StringEncoding::Utf16,
                CanonicalOption::CompactUTF16 => o.string_encoding = StringEncoding::CompactUtf16,
                CanonicalOption::Memory(i) => {
                    o.memory = Some(self.core_item(frame, offset, ExternKind::Memory, i)?)
                }
                CanonicalOption::Realloc(i) => o.realloc = Some(self.core_func(frame, offset, i)?),
                CanonicalOption::PostReturn(i) => {
                    o.post_return = Some(self.core_func(frame, offset, i)?)
                }
                CanonicalOption::Async => {
                    return Err(unsupported(self.file, offset, "canonical option async"));
                }
                CanonicalOption::Callback(_) => {
                    return Err(unsupported(self.file, offset, "canonical option callback"));
                }
                CanonicalOption::CoreType(_) => {
                    return Err(unsupported(self.file, offset, "canonical option core-type"));
                }
                CanonicalOption::Gc => {
                    return Err(unsupported(self.file, offset, "canonical option gc"));
                }
            }
        }
        Ok(o)
    }
}

/// What an alias adds: a core item, a component-level item, or (core types) nothing.
enum Aliased {
    Core(ExternKind, CoreDef),
    Item(Item),
    Nothing,
}

fn external_kind_name(kind: ComponentExternalKind) -> &'static str {
    match kind {
        ComponentExternalKind::Module => "module",
        ComponentExternalKind::Func => "func",
        ComponentExternalKind::Value => "value",
        ComponentExternalKind::Type => "type",
        ComponentExternalKind::Instance => "instance",
        ComponentExternalKind::Component => "component",
    }
}

fn type_ref_kind(t: &ComponentTypeRef) -> &'static str {
    match t {
        ComponentTypeRef::Module(_) => "module",
        ComponentTypeRef::Func(_) => "func",
        ComponentTypeRef::Value(_) => "value",
        ComponentTypeRef::Type(_) => "type",
        ComponentTypeRef::Instance(_) => "instance",
        ComponentTypeRef::Component(_) => "component",
    }
}

/// The name of a canonical builtin, as the text format spells it (the Debug name's head).
fn canon_name(c: &CanonicalFunction) -> String {
    let debug = format!("{c:?}");
    let head = debug
        .split(|ch: char| !ch.is_alphanumeric())
        .next()
        .unwrap_or_default();
    // CamelCase -> kebab-case with a dot after the first word, e.g. StreamRead -> stream.read.
    let mut out = String::new();
    let mut words = 0;
    for ch in head.chars() {
        if ch.is_uppercase() {
            if words == 1 {
                out.push('.');
            } else if words > 1 {
                out.push('-');
            }
            words += 1;
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}
