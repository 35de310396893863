//! The component front end: flattens a `wasi:cli/command` component, at compile time, into
//! a fully resolved description of core instances ([`Flattened`]) of the kind the
//! instantiation plan of a core program already is.
//!
//! Two steps, one submodule each: [`parse`] reads the binary into a tree of component
//! definitions (core modules are only located and their imports listed, never compiled
//! here); [`inline`] instantiates the root component against abstract host instances,
//! inlining every nested component instantiation, so that what is left is core instances
//! of core modules, host functions lowered with their canonical options, resource
//! intrinsics and the one lifted root export.
//!
//! Invariants: the input is validated first (the component model over aot's core
//! features), so index errors cannot happen on valid input; they are still errors, never
//! panics. Anything real `wasi:cli/command` components do not use (async builtins,
//! streams and futures, component start functions, values, defined resources, imports that
//! are not instances, composition of two components' lifted functions) is a
//! [`CompileError`] naming the construct and its byte offset. This module never generates
//! code: turning the description into adapters and a plan is the back end's job.

pub mod fuse;
mod inline;
mod parse;
pub mod plan;
#[cfg(test)]
mod tests;

use std::fmt;
use std::ops::Range;

use crate::CompileError;

/// A component flattened into core instances, host lowerings and the root export.
#[derive(Clone, Debug)]
pub struct Flattened {
    /// Every core module the component defines, in definition order; each is compiled once,
    /// however often it is instantiated.
    pub modules: Vec<CoreModule>,
    /// The core instances in instantiation order; each import refers only to earlier
    /// instances, lowerings or resource intrinsics.
    pub instances: Vec<CoreInstance>,
    /// Host functions lowered into core functions (`canon lower`), in definition order.
    pub lowerings: Vec<Lowering>,
    /// Resource intrinsics (`canon resource.drop/new/rep`), in definition order.
    pub resources: Vec<ResourceIntrinsic>,
    /// Functions lifted in one component instance and lowered into another: each becomes a
    /// fused adapter.
    pub adapters: Vec<Adapter>,
    /// Resource types the components define (each instantiation its own).
    pub guest_resources: Vec<GuestResource>,
    /// How many component instances there are (each has a handle table); indices are
    /// those of [`Adapter`] and [`ResourceIntrinsic`].
    pub component_instances: usize,
    /// The lifted root export `wasi:cli/run@0.2.x` `run`.
    pub export: Lift,
}

/// One core module of the component.
#[derive(Clone, Debug)]
pub struct CoreModule {
    /// Where its bytes (a complete core module binary) are in the component.
    pub range: Range<usize>,
    /// Its imports in order, as the instantiation must supply them.
    pub imports: Vec<ModuleImport>,
}

impl CoreModule {
    /// The module's bytes within `component`, the input [`flatten`] was given.
    pub fn bytes<'a>(&self, component: &'a [u8]) -> &'a [u8] {
        component.get(self.range.clone()).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleImport {
    pub module: String,
    pub name: String,
    pub kind: ExternKind,
}

/// The kind of a core extern (an import, an export, an index space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternKind {
    Func,
    Table,
    Memory,
    Global,
    Tag,
}

impl ExternKind {
    const COUNT: usize = 5;

    fn from_external(k: wasmparser::ExternalKind) -> ExternKind {
        match k {
            wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => {
                ExternKind::Func
            }
            wasmparser::ExternalKind::Table => ExternKind::Table,
            wasmparser::ExternalKind::Memory => ExternKind::Memory,
            wasmparser::ExternalKind::Global => ExternKind::Global,
            wasmparser::ExternalKind::Tag => ExternKind::Tag,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ExternKind::Func => "func",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
            ExternKind::Tag => "tag",
        }
    }
}

/// A core instance: `module` instantiated with one definition per import of the module.
#[derive(Clone, Debug)]
pub struct CoreInstance {
    /// Index into [`Flattened::modules`].
    pub module: usize,
    /// One per import of the module, in the module's import order.
    pub imports: Vec<CoreDef>,
}

/// A core definition, fully resolved (instances built from exports are resolved away).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreDef {
    /// An export of an earlier core instance (index into [`Flattened::instances`]).
    Export {
        instance: usize,
        name: String,
        kind: ExternKind,
    },
    /// A lowered host function (index into [`Flattened::lowerings`]).
    Lowered(usize),
    /// A resource intrinsic (index into [`Flattened::resources`]).
    Resource(usize),
    /// A fused adapter (index into [`Flattened::adapters`]).
    Adapter(usize),
}

/// A function lifted by one component instance and lowered into another.
#[derive(Clone, Debug)]
pub struct Adapter {
    pub ty: aot_abi::ctypes::CFuncType,
    /// The core function lifted, and the lift's options.
    pub callee: CoreDef,
    pub callee_options: CanonOptions,
    pub callee_instance: usize,
    /// The lowering's options (the caller's memory and realloc).
    pub caller_options: CanonOptions,
    pub caller_instance: usize,
}

/// A resource type a component defines.
#[derive(Clone, Debug)]
pub struct GuestResource {
    /// The component instance that defined it (whose `resource.new` creates its handles).
    pub instance: usize,
    /// Its destructor, called with the representation when the last own handle is dropped.
    pub dtor: Option<CoreDef>,
}

/// A host function lowered into a core function.
#[derive(Clone, Debug)]
pub struct Lowering {
    /// The root component's imported instance, e.g. `wasi:cli/stdout@0.2.6`.
    pub import: String,
    /// The function in it, e.g. `get-stdout` or `[method]output-stream.blocking-write-and-flush`.
    pub func: String,
    pub options: CanonOptions,
    /// The component instance it is lowered into.
    pub instance: usize,
}

/// The canonical ABI options of a lift or a lower.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CanonOptions {
    /// The memory lists and strings live in (a core memory export).
    pub memory: Option<CoreDef>,
    /// The guest allocator the host calls for results it returns in memory.
    pub realloc: Option<CoreDef>,
    pub string_encoding: StringEncoding,
    /// Called after a lifted function's results are read (lifts only).
    pub post_return: Option<CoreDef>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StringEncoding {
    #[default]
    Utf8,
    Utf16,
    CompactUtf16,
}

/// A resource intrinsic: a core function on handles of one resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceIntrinsic {
    pub kind: ResourceIntrinsicKind,
    /// The imported interface and the resource, e.g. `wasi:io/streams@0.2.6#output-stream`
    /// (for a guest resource, a description).
    pub resource: String,
    /// A resource a component defines (index into [`Flattened::guest_resources`]).
    pub guest: Option<usize>,
    /// The component instance whose handle table the intrinsic works on.
    pub instance: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceIntrinsicKind {
    Drop,
    New,
    Rep,
}

/// The root export: a core function lifted into a component function.
#[derive(Clone, Debug)]
pub struct Lift {
    /// The exported instance, e.g. `wasi:cli/run@0.2.0`.
    pub instance: String,
    /// The function in it (`run`).
    pub func: String,
    /// The core function lifted.
    pub core_func: CoreDef,
    pub options: CanonOptions,
}

/// Flattens the component `wasm` (read from `file`, for messages) into core instances.
pub fn flatten(wasm: &[u8], file: &str) -> Result<Flattened, CompileError> {
    if !crate::module::is_component(wasm) {
        return Err(CompileError::new(file, Some(0), "not a component"));
    }
    crate::module::validate_component(wasm, file)?;
    let tree = parse::parse(wasm, file)?;
    inline::inline(&tree, file)
}

/// Checks every import of a flattened component against the WASI 0.2 surface the runtime
/// implements (`crate::wasi_p2`): each lowered function and each resource intrinsic must be
/// a WASI 0.2.x function or resource. The first one that is not is a compile-time error
/// naming the interface, the function and why (unknown interface or function, a version
/// other than 0.2.x), as `wasmtime run` refuses such a component at link time.
pub fn check_imports(flat: &Flattened, file: &str) -> Result<(), CompileError> {
    for l in &flat.lowerings {
        crate::wasi_p2::lookup(&l.import, &l.func).map_err(|e| {
            CompileError::new(file, None, format!("import `{}#{}`: {e}", l.import, l.func))
        })?;
    }
    for r in flat.resources.iter().filter(|r| r.guest.is_none()) {
        let Some((interface, resource)) = r.resource.split_once('#') else {
            continue;
        };
        crate::wasi_p2::lookup_resource(interface, resource)
            .map_err(|e| CompileError::new(file, None, format!("import `{}`: {e}", r.resource)))?;
    }
    Ok(())
}

/// "component construct X is not supported yet", at `offset`.
fn unsupported(file: &str, offset: usize, construct: impl fmt::Display) -> CompileError {
    CompileError::new(
        file,
        Some(offset),
        format!("component construct {construct} is not supported yet"),
    )
}

impl fmt::Display for CoreDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreDef::Export {
                instance,
                name,
                kind,
            } => write!(f, "instance {instance} {} {name:?}", kind.name()),
            CoreDef::Lowered(i) => write!(f, "lowering {i}"),
            CoreDef::Resource(i) => write!(f, "resource {i}"),
            CoreDef::Adapter(i) => write!(f, "adapter {i}"),
        }
    }
}

impl fmt::Display for CanonOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(m) = &self.memory {
            parts.push(format!("memory={m}"));
        }
        if let Some(r) = &self.realloc {
            parts.push(format!("realloc={r}"));
        }
        if self.string_encoding != StringEncoding::Utf8 {
            parts.push(format!("string-encoding={:?}", self.string_encoding));
        }
        if let Some(p) = &self.post_return {
            parts.push(format!("post-return={p}"));
        }
        if parts.is_empty() {
            write!(f, "no options")
        } else {
            write!(f, "{}", parts.join(", "))
        }
    }
}

/// A readable listing, one definition a line, for review and debugging.
impl fmt::Display for Flattened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "modules: {}", self.modules.len())?;
        for (i, m) in self.modules.iter().enumerate() {
            writeln!(
                f,
                "  module {i}: bytes 0x{:x}..0x{:x} ({} bytes), {} imports",
                m.range.start,
                m.range.end,
                m.range.len(),
                m.imports.len()
            )?;
        }
        writeln!(f, "instances: {}", self.instances.len())?;
        for (i, inst) in self.instances.iter().enumerate() {
            writeln!(f, "  instance {i} = module {}", inst.module)?;
            let imports = self.modules.get(inst.module).map(|m| &m.imports[..]);
            for (j, def) in inst.imports.iter().enumerate() {
                match imports.and_then(|im| im.get(j)) {
                    Some(im) => writeln!(
                        f,
                        "    {:?} {:?} ({}) <- {def}",
                        im.module,
                        im.name,
                        im.kind.name()
                    )?,
                    None => writeln!(f, "    import {j} <- {def}")?,
                }
            }
        }
        writeln!(f, "lowerings: {}", self.lowerings.len())?;
        for (i, l) in self.lowerings.iter().enumerate() {
            writeln!(f, "  lowering {i}: {} {} ({})", l.import, l.func, l.options)?;
        }
        writeln!(f, "resources: {}", self.resources.len())?;
        for (i, r) in self.resources.iter().enumerate() {
            writeln!(f, "  resource {i}: {:?} {}", r.kind, r.resource)?;
        }
        let e = &self.export;
        writeln!(
            f,
            "export: {} {} = lift {} ({})",
            e.instance, e.func, e.core_func, e.options
        )
    }
}
