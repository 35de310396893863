//! The WASI 0.2 surface the runtime implements: which interfaces and functions a
//! component may import, the flat core signature of each, and the runtime symbol that
//! implements it.
//!
//! The source of truth is the WIT of WASI 0.2.12, vendored under `compiler/wit/` and
//! embedded in the binary (`aot` never reads WIT at run time). It is parsed once into a
//! [`wit_parser::Resolve`] and turned into a read-only table of [`HostFunc`]s; nothing
//! else in the compiler needs to know WIT.
//!
//! Invariants:
//! - Flat signatures are what the canonical ABI lowers an import to
//!   (`Resolve::wasm_signature` with `AbiVariant::GuestImport`): at most 16 flat
//!   parameters (else one pointer to them, [`FlatSignature::indirect_params`]) and at
//!   most one flat result (else a return pointer appended to the parameters,
//!   [`FlatSignature::retptr`]). Pointers and lengths are `i32`: aot supports 32-bit
//!   memories only.
//! - Versions match like wasmtime's linker: the host implements 0.2.12 and serves every
//!   0.2.x request (any patch, no pre-release); 0.3, 1.x and unversioned names are refused.
//! - Symbols follow [`symbol_for`]'s mangling, which is injective over WIT names: no two
//!   functions or resource destructors share a symbol.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;

use aot_abi::ValType;
use wit_parser::abi::{AbiVariant, WasmType};
use wit_parser::{
    FunctionKind, Handle, InterfaceId, PackageId, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldItem,
};

/// The WASI release whose WIT is vendored; every 0.2.x import links to it.
pub const HOST_VERSION: &str = "0.2.12";
const HOST_MAJOR: u64 = 0;
const HOST_MINOR: u64 = 2;

/// Every runtime symbol of the WASI 0.2 host starts with this.
pub const SYMBOL_PREFIX: &str = "aot_wasi_p2_";

/// The vendored packages, in dependency order (each is pushed after what it uses). The
/// file name only appears in parse errors.
const WIT_PACKAGES: &[(&str, &str)] = &[
    (
        "wit/wasi-0.2.12/deps/io.wit",
        include_str!("../wit/wasi-0.2.12/deps/io.wit"),
    ),
    (
        "wit/wasi-0.2.12/deps/clocks.wit",
        include_str!("../wit/wasi-0.2.12/deps/clocks.wit"),
    ),
    (
        "wit/wasi-0.2.12/deps/random.wit",
        include_str!("../wit/wasi-0.2.12/deps/random.wit"),
    ),
    (
        "wit/wasi-0.2.12/deps/filesystem.wit",
        include_str!("../wit/wasi-0.2.12/deps/filesystem.wit"),
    ),
    (
        "wit/wasi-0.2.12/deps/sockets.wit",
        include_str!("../wit/wasi-0.2.12/deps/sockets.wit"),
    ),
    (
        "wit/wasi-0.2.12/deps/cli.wit",
        include_str!("../wit/wasi-0.2.12/deps/cli.wit"),
    ),
    (
        "wit/wasi-0.2.12/deps/http.wit",
        include_str!("../wit/wasi-0.2.12/deps/http.wit"),
    ),
];

/// A function of a WASI interface as the runtime implements it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFunc {
    /// The interface the host implements, with the host's version:
    /// `wasi:cli/stdout@0.2.12`.
    pub interface: String,
    /// The function's name in the interface, as a component imports it:
    /// `get-stdout`, `[method]output-stream.blocking-write-and-flush`.
    pub name: String,
    pub kind: HostFuncKind,
    pub signature: FlatSignature,
    /// The runtime symbol that implements it (see [`symbol_for`]).
    pub symbol: String,
    /// Every resource the function's parameters and result mention (as `own` or
    /// `borrow` handles, at any depth), plus its own resource for methods, statics and
    /// constructors. Sorted.
    pub resources: Vec<ResourceName>,
}

/// What a function is to its interface (the `[kind]` prefix of its name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostFuncKind {
    Freestanding,
    /// `[constructor]R`: returns a new `own<R>`.
    Constructor {
        resource: String,
    },
    /// `[method]R.f`: the first parameter is `borrow<R>`.
    Method {
        resource: String,
    },
    /// `[static]R.f`.
    Static {
        resource: String,
    },
}

/// The flat core signature of a lowered import (see the module invariants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlatSignature {
    /// The core parameters, including the return pointer when [`Self::retptr`].
    pub params: Vec<ValType>,
    /// Empty or one value.
    pub results: Vec<ValType>,
    /// The results are written through the last parameter, a pointer into the
    /// caller's memory (the callee allocates nothing for them).
    pub retptr: bool,
    /// More than 16 flat parameters: `params` is a single pointer to them in memory.
    pub indirect_params: bool,
}

/// A resource type of a WASI interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceName {
    /// The defining interface with the host's version: `wasi:io/streams@0.2.12`.
    pub interface: String,
    /// `output-stream`.
    pub name: String,
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.interface, self.name)
    }
}

/// A resource the host defines, and the destructor a component's `resource.drop` of it
/// lowers to: `(i32 handle) -> ()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostResource {
    pub resource: ResourceName,
    /// The runtime symbol of the destructor (see [`symbol_for`]).
    pub drop_symbol: String,
}

/// The worlds whose imports can be listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// `wasi:cli/command`: what command components (Rust, C, Python, JS) import.
    CliCommand,
    /// `wasi:http/proxy`.
    HttpProxy,
}

impl World {
    fn package_and_name(self) -> (&'static str, &'static str, &'static str) {
        match self {
            World::CliCommand => ("wasi", "cli", "command"),
            World::HttpProxy => ("wasi", "http", "proxy"),
        }
    }
}

/// Why an import is not part of the host's WASI 0.2 surface. `Display` gives the reason
/// only; the caller prefixes the file and the import (``app.wasm: import `...`: ``).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The interface name is not `namespace:package/interface[@version]`, or its version
    /// is not `major.minor.patch`.
    MalformedName {
        interface: String,
        reason: &'static str,
    },
    /// No vendored package has this interface (e.g. `wasi:keyvalue/store`).
    UnknownInterface { interface: String },
    /// The interface exists but has no function of this name.
    UnknownFunction { interface: String, function: String },
    /// The interface exists, but not at a version compatible with the host's.
    IncompatibleVersion {
        interface: String,
        function: String,
        /// `None` for an unversioned name.
        requested: Option<String>,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::MalformedName { interface, reason } => {
                write!(f, "malformed interface name `{interface}`: {reason}")
            }
            LookupError::UnknownInterface { interface } => {
                write!(
                    f,
                    "interface `{interface}` is not provided by aot's WASI {HOST_VERSION} host"
                )
            }
            LookupError::UnknownFunction {
                interface,
                function,
            } => write!(
                f,
                "interface `{interface}` has no function `{function}` in WASI {HOST_VERSION}"
            ),
            LookupError::IncompatibleVersion {
                interface,
                function,
                requested: Some(v),
            } => write!(
                f,
                "`{function}` of `{interface}`: version {v} is not compatible with aot's \
                 WASI host {HOST_VERSION} (0.{HOST_MINOR}.x is needed)"
            ),
            LookupError::IncompatibleVersion {
                interface,
                function,
                requested: None,
            } => write!(
                f,
                "`{function}` of `{interface}`: an unversioned WASI interface cannot be matched; \
                 aot's host implements {HOST_VERSION} (0.{HOST_MINOR}.x is needed)"
            ),
        }
    }
}

impl std::error::Error for LookupError {}

/// Finds the host function a component imports as `func` from `interface`
/// (`"wasi:cli/stdout@0.2.6"`, `"get-stdout"`).
pub fn lookup(interface: &str, func: &str) -> Result<&'static HostFunc, LookupError> {
    let surface = surface();
    let iface = surface.served_interface(interface, func)?;
    surface
        .functions_by_name
        .get(&(iface, func.to_string()))
        .map(|&i| &surface.functions[i])
        .ok_or_else(|| LookupError::UnknownFunction {
            interface: interface.to_string(),
            function: func.to_string(),
        })
}

/// Finds a resource the host defines (`"wasi:io/streams@0.2.0"`, `"output-stream"`), for
/// a component's `resource.drop` of it. A type that is not a resource is unknown.
pub fn lookup_resource(
    interface: &str,
    resource: &str,
) -> Result<&'static HostResource, LookupError> {
    let surface = surface();
    let drop = format!("[resource-drop]{resource}");
    let iface = surface.served_interface(interface, &drop)?;
    surface
        .resources_by_name
        .get(&(iface, resource.to_string()))
        .map(|&i| &surface.resources[i])
        .ok_or_else(|| LookupError::UnknownFunction {
            interface: interface.to_string(),
            function: drop,
        })
}

/// Every function `world` imports, interface by interface in the world's order.
pub fn world_functions(world: World) -> impl Iterator<Item = &'static HostFunc> {
    let surface = surface();
    surface
        .world_imports(world)
        .flat_map(|iface| surface.functions_of(iface))
}

/// The interfaces `world` imports, canonical names (`wasi:io/error@0.2.12`).
pub fn world_interfaces(world: World) -> impl Iterator<Item = &'static str> {
    let surface = surface();
    surface
        .world_imports(world)
        .map(|iface| surface.interface_names[&iface].as_str())
}

/// Every function of every vendored interface (a superset of all worlds).
pub fn all_functions() -> &'static [HostFunc] {
    &surface().functions
}

/// Every resource the vendored interfaces define.
pub fn all_resources() -> &'static [HostResource] {
    &surface().resources
}

/// The runtime symbol for function `func` of interface `iface` of WASI package `package`
/// (names without namespace or version: `cli`, `stdout`, `get-stdout`).
///
/// Mangling: `aot_wasi_p2_` PACKAGE `__` INTERFACE `__` FUNCTION, where each WIT name
/// has `-` replaced by `_`, and FUNCTION is
/// - `f` for a freestanding function `f`,
/// - KIND `__` R `__` f for `[KIND]R.f` (`method`, `static`),
/// - KIND `__` R for `[KIND]R` (`constructor`, and `resource_drop` for destructors).
///
/// For example `aot_wasi_p2_cli__stdout__get_stdout` and
/// `aot_wasi_p2_io__streams__method__output_stream__blocking_write_and_flush`.
/// It is injective because WIT identifiers are kebab-case (`[a-zA-Z0-9-]`, no empty
/// words): `-` becomes `_` but never `__`, so `__` only separates parts, and the number
/// of parts (3, 4 or 5) tells the function shapes apart. The namespace is always `wasi`
/// and the version is always the host's 0.2, so neither is spelled.
pub fn symbol_for(package: &str, iface: &str, func: &str) -> String {
    let mut parts = vec![package.to_string(), iface.to_string()];
    match func.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
        Some((kind, rest)) => {
            parts.push(kind.to_string());
            match rest.split_once('.') {
                Some((resource, method)) => {
                    parts.push(resource.to_string());
                    parts.push(method.to_string());
                }
                None => parts.push(rest.to_string()),
            }
        }
        None => parts.push(func.to_string()),
    }
    let parts: Vec<String> = parts.iter().map(|p| p.replace('-', "_")).collect();
    format!("{SYMBOL_PREFIX}{}", parts.join("__"))
}

/// `namespace:package/interface[@version]`, borrowed from the import's name.
struct InterfaceName<'a> {
    namespace: &'a str,
    package: &'a str,
    interface: &'a str,
    version: Option<&'a str>,
    /// (major, minor, patch, is a pre-release); `None` iff `version` is.
    semver: Option<(u64, u64, u64, bool)>,
}

impl<'a> InterfaceName<'a> {
    fn parse(full: &'a str) -> Result<Self, LookupError> {
        let malformed = |reason| LookupError::MalformedName {
            interface: full.to_string(),
            reason,
        };
        let (path, version) = match full.split_once('@') {
            Some((path, version)) => (path, Some(version)),
            None => (full, None),
        };
        let (namespace, rest) = path
            .split_once(':')
            .ok_or_else(|| malformed("expected `namespace:package/interface`"))?;
        let (package, interface) = rest
            .split_once('/')
            .ok_or_else(|| malformed("expected `namespace:package/interface`"))?;
        if [namespace, package, interface].iter().any(|s| s.is_empty()) {
            return Err(malformed("empty namespace, package or interface"));
        }
        let semver = version
            .map(|v| parse_semver(v).ok_or_else(|| malformed("version is not `major.minor.patch`")))
            .transpose()?;
        Ok(InterfaceName {
            namespace,
            package,
            interface,
            version,
            semver,
        })
    }

    /// Semver for 0.x: the same 0.minor as the host, any patch, not a pre-release
    /// (pre-releases such as `0.2.0-rc-2023-11-10` had other signatures).
    fn version_compatible(&self) -> bool {
        matches!(self.semver, Some((HOST_MAJOR, HOST_MINOR, _, false)))
    }
}

/// `major.minor.patch[-pre][+build]` -> (major, minor, patch, has pre-release).
fn parse_semver(version: &str) -> Option<(u64, u64, u64, bool)> {
    let version = version.split_once('+').map_or(version, |(v, _build)| v);
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, !pre.is_empty()),
        None => (version, false),
    };
    let mut numbers = core.split('.').map(|n| {
        // Leading `+` and signs are not semver; `u64::from_str` would accept `+1`.
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            n.parse().ok()
        }
    });
    let (major, minor, patch) = (numbers.next()??, numbers.next()??, numbers.next()??);
    if numbers.next().is_some() {
        return None;
    }
    Some((major, minor, patch, pre))
}

/// The parsed WIT and the tables built from it, once per process. Immutable after
/// construction: it describes the compiled-in host, not any program's state.
struct Surface {
    resolve: Resolve,
    /// Canonical names (`wasi:cli/stdout@0.2.12`) of every named interface.
    interface_names: BTreeMap<InterfaceId, String>,
    functions: Vec<HostFunc>,
    functions_by_name: BTreeMap<(InterfaceId, String), usize>,
    /// Per interface, its functions' indices in `functions`, in WIT order.
    functions_by_interface: BTreeMap<InterfaceId, Vec<usize>>,
    resources: Vec<HostResource>,
    resources_by_name: BTreeMap<(InterfaceId, String), usize>,
}

fn surface() -> &'static Surface {
    static SURFACE: OnceLock<Surface> = OnceLock::new();
    SURFACE.get_or_init(Surface::load)
}

impl Surface {
    /// Parses the vendored WIT. It is compiled in, so a failure here is a bug in the
    /// vendored files or in this module, never a property of the user's input.
    fn load() -> Surface {
        let mut resolve = Resolve::default();
        for (path, text) in WIT_PACKAGES {
            if let Err(e) = resolve.push_str(path, text) {
                panic!("vendored WASI WIT {path} does not parse: {e:#}");
            }
        }
        let mut surface = Surface {
            interface_names: BTreeMap::new(),
            functions: Vec::new(),
            functions_by_name: BTreeMap::new(),
            functions_by_interface: BTreeMap::new(),
            resources: Vec::new(),
            resources_by_name: BTreeMap::new(),
            resolve,
        };
        let interfaces: Vec<(PackageId, InterfaceId)> = surface
            .resolve
            .packages
            .iter()
            .flat_map(|(pkg_id, pkg)| pkg.interfaces.values().map(move |&id| (pkg_id, id)))
            .collect();
        for (pkg_id, iface_id) in interfaces {
            surface.add_interface(pkg_id, iface_id);
        }
        surface
    }

    fn add_interface(&mut self, pkg_id: PackageId, iface_id: InterfaceId) {
        let resolve = &self.resolve;
        let canonical = resolve
            .id_of(iface_id)
            .expect("a package's interfaces are named");
        let package = resolve.packages[pkg_id].name.name.clone();
        let iface = &resolve.interfaces[iface_id];
        let iface_name = iface
            .name
            .clone()
            .expect("a package's interfaces are named");

        for (type_name, &type_id) in &iface.types {
            if matches!(resolve.types[type_id].kind, TypeDefKind::Resource) {
                self.resources_by_name
                    .insert((iface_id, type_name.clone()), self.resources.len());
                self.resources.push(HostResource {
                    resource: ResourceName {
                        interface: canonical.clone(),
                        name: type_name.clone(),
                    },
                    drop_symbol: symbol_for(
                        &package,
                        &iface_name,
                        &format!("[resource-drop]{type_name}"),
                    ),
                });
            }
        }

        let mut indices = Vec::new();
        for (func_name, func) in &iface.functions {
            let (kind, own_resource) = match &func.kind {
                FunctionKind::Freestanding => (HostFuncKind::Freestanding, None),
                FunctionKind::Constructor(r) => (
                    HostFuncKind::Constructor {
                        resource: type_name(resolve, *r),
                    },
                    Some(*r),
                ),
                FunctionKind::Method(r) => (
                    HostFuncKind::Method {
                        resource: type_name(resolve, *r),
                    },
                    Some(*r),
                ),
                FunctionKind::Static(r) => (
                    HostFuncKind::Static {
                        resource: type_name(resolve, *r),
                    },
                    Some(*r),
                ),
                other => panic!(
                    "vendored WASI WIT {canonical}#{func_name}: {other:?} functions are not \
                     part of WASI 0.2 and the host has no ABI for them"
                ),
            };
            let mut resources = BTreeSet::new();
            if let Some(r) = own_resource {
                resources.insert(resource_name(resolve, r));
            }
            for param in &func.params {
                collect_resources(resolve, param.ty, &mut resources);
            }
            if let Some(result) = func.result {
                collect_resources(resolve, result, &mut resources);
            }
            let sig = resolve.wasm_signature(AbiVariant::GuestImport, func);
            let signature = FlatSignature {
                params: sig.params.iter().copied().map(flat_type).collect(),
                results: sig.results.iter().copied().map(flat_type).collect(),
                retptr: sig.retptr,
                indirect_params: sig.indirect_params,
            };
            indices.push(self.functions.len());
            self.functions_by_name
                .insert((iface_id, func_name.clone()), self.functions.len());
            self.functions.push(HostFunc {
                interface: canonical.clone(),
                name: func_name.clone(),
                kind,
                signature,
                symbol: symbol_for(&package, &iface_name, func_name),
                resources: resources.into_iter().collect(),
            });
        }
        self.functions_by_interface.insert(iface_id, indices);
        self.interface_names.insert(iface_id, canonical);
    }

    /// The vendored interface `name` names, whatever its version.
    /// The host interface a component's import `interface` names, if the host serves its
    /// version; `item` (the function asked for) goes into a version error.
    fn served_interface(&self, interface: &str, item: &str) -> Result<InterfaceId, LookupError> {
        let name = InterfaceName::parse(interface)?;
        let iface = self.interface(&name, interface)?;
        if !name.version_compatible() {
            return Err(LookupError::IncompatibleVersion {
                interface: interface.to_string(),
                function: item.to_string(),
                requested: name.version.map(str::to_string),
            });
        }
        Ok(iface)
    }

    fn interface(&self, name: &InterfaceName<'_>, full: &str) -> Result<InterfaceId, LookupError> {
        self.resolve
            .packages
            .iter()
            .find(|(_, pkg)| pkg.name.namespace == name.namespace && pkg.name.name == name.package)
            .and_then(|(_, pkg)| pkg.interfaces.get(name.interface).copied())
            .ok_or_else(|| LookupError::UnknownInterface {
                interface: full.to_string(),
            })
    }

    fn functions_of(&'static self, iface: InterfaceId) -> impl Iterator<Item = &'static HostFunc> {
        self.functions_by_interface
            .get(&iface)
            .into_iter()
            .flatten()
            .map(|&i| &self.functions[i])
    }

    /// The interfaces `world` imports, in its order. Worlds are fixed by the vendored
    /// WIT, so a missing one is a bug.
    fn world_imports(&'static self, world: World) -> impl Iterator<Item = InterfaceId> {
        let (namespace, package, name) = world.package_and_name();
        let world_id = self
            .resolve
            .packages
            .iter()
            .find(|(_, pkg)| pkg.name.namespace == namespace && pkg.name.name == package)
            .and_then(|(_, pkg)| pkg.worlds.get(name).copied())
            .unwrap_or_else(|| {
                panic!("vendored WASI WIT has no world {namespace}:{package}/{name}")
            });
        self.resolve.worlds[world_id]
            .imports
            .values()
            .filter_map(|item| match item {
                WorldItem::Interface { id, .. } => Some(*id),
                // WASI worlds import only interfaces (and the types they use).
                _ => None,
            })
    }
}

/// wasm32: pointers and lengths are i32, a pointer joined with an i64 in a variant is i64.
fn flat_type(ty: WasmType) -> ValType {
    match ty {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => ValType::I32,
        WasmType::I64 | WasmType::PointerOrI64 => ValType::I64,
        WasmType::F32 => ValType::F32,
        WasmType::F64 => ValType::F64,
    }
}

/// Follows `use`d aliases (`type output-stream = wasi:io/streams.output-stream`) to
/// the type's definition.
fn definition(resolve: &Resolve, mut id: TypeId) -> TypeId {
    while let TypeDefKind::Type(Type::Id(next)) = resolve.types[id].kind {
        id = next;
    }
    id
}

fn type_name(resolve: &Resolve, id: TypeId) -> String {
    resolve.types[definition(resolve, id)]
        .name
        .clone()
        .unwrap_or_default()
}

fn resource_name(resolve: &Resolve, id: TypeId) -> ResourceName {
    let def = &resolve.types[definition(resolve, id)];
    let interface = match def.owner {
        TypeOwner::Interface(iface) => resolve.id_of(iface).unwrap_or_default(),
        TypeOwner::World(_) | TypeOwner::None => String::new(),
    };
    ResourceName {
        interface,
        name: def.name.clone().unwrap_or_default(),
    }
}

/// Adds every resource `ty` holds a handle to. WIT types are not recursive, so the walk
/// ends.
fn collect_resources(resolve: &Resolve, ty: Type, out: &mut BTreeSet<ResourceName>) {
    let Type::Id(id) = ty else { return };
    let mut walk = |ty: Type| collect_resources(resolve, ty, out);
    match &resolve.types[id].kind {
        TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
            out.insert(resource_name(resolve, *r));
        }
        TypeDefKind::Record(r) => r.fields.iter().for_each(|f| walk(f.ty)),
        TypeDefKind::Tuple(t) => t.types.iter().for_each(|&t| walk(t)),
        TypeDefKind::Variant(v) => v.cases.iter().filter_map(|c| c.ty).for_each(walk),
        TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => walk(*t),
        TypeDefKind::FixedLengthList(t, _) => walk(*t),
        TypeDefKind::Map(k, v) => {
            walk(*k);
            walk(*v);
        }
        TypeDefKind::Result(r) => r.ok.into_iter().chain(r.err).for_each(walk),
        TypeDefKind::Future(t) | TypeDefKind::Stream(t) => t.iter().copied().for_each(walk),
        TypeDefKind::Resource
        | TypeDefKind::Flags(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Unknown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValType::{I32, I64};

    /// Interfaces of `wasi:cli/command` whose host functions are still being written
    /// (issue 8); this list only shrinks.
    const NOT_YET_IMPLEMENTED: &[&str] = &[];

    /// The runtime linked into executables defines every function and resource destructor
    /// of `wasi:cli/command` under the symbol the compiler calls, on both targets; the
    /// interfaces still missing are listed above, and one listed yet complete fails too.
    #[test]
    fn the_runtime_implements_the_cli_command_world() {
        use crate::target::Arch;
        let mut missing = std::collections::BTreeSet::new();
        let mut checked = 0;
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for f in world_functions(World::CliCommand) {
                checked += 1;
                if !crate::link::runtime_defines(arch, &f.symbol) {
                    missing.insert((f.interface.clone(), f.name.clone()));
                }
            }
            let interfaces: Vec<&str> = world_interfaces(World::CliCommand).collect();
            for r in all_resources() {
                if interfaces.contains(&r.resource.interface.as_str()) {
                    checked += 1;
                    if !crate::link::runtime_defines(arch, &r.drop_symbol) {
                        missing.insert((
                            r.resource.interface.clone(),
                            format!("[resource-drop]{}", r.resource.name),
                        ));
                    }
                }
            }
        }
        let unexpected: Vec<_> = missing
            .iter()
            .filter(|(i, _)| !NOT_YET_IMPLEMENTED.contains(&i.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "missing from the runtime: {unexpected:?}"
        );
        for listed in NOT_YET_IMPLEMENTED {
            assert!(
                missing.iter().any(|(i, _)| i == listed),
                "{listed} is complete: remove it from NOT_YET_IMPLEMENTED"
            );
        }
        println!(
            "{checked} symbols checked, {} functions still missing",
            missing.len()
        );
    }

    /// The runtime defines every function and resource destructor `wasi:http/proxy` imports
    /// (http types and outgoing-handler beside io, clocks, random and the standard
    /// streams), on both targets.
    #[test]
    fn the_runtime_implements_the_http_proxy_imports() {
        use crate::target::Arch;
        let interfaces: Vec<&str> = world_interfaces(World::HttpProxy).collect();
        assert!(interfaces.contains(&"wasi:http/outgoing-handler@0.2.12"));
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let mut missing: Vec<&str> = world_functions(World::HttpProxy)
                .filter(|f| !crate::link::runtime_defines(arch, &f.symbol))
                .map(|f| f.symbol.as_str())
                .collect();
            missing.extend(
                all_resources()
                    .iter()
                    .filter(|r| interfaces.contains(&r.resource.interface.as_str()))
                    .filter(|r| !crate::link::runtime_defines(arch, &r.drop_symbol))
                    .map(|r| r.drop_symbol.as_str()),
            );
            assert!(
                missing.is_empty(),
                "{arch:?}: missing from the runtime: {missing:?}"
            );
        }
    }

    /// A WIT type as the adapters' type model sees it (resources numbered by type id).
    fn ctype(resolve: &Resolve, t: &Type) -> aot_abi::ctypes::CType {
        use aot_abi::ctypes::CType as C;
        match t {
            Type::Bool => C::Bool,
            Type::U8 => C::U8,
            Type::S8 => C::S8,
            Type::U16 => C::U16,
            Type::S16 => C::S16,
            Type::U32 => C::U32,
            Type::S32 => C::S32,
            Type::U64 => C::U64,
            Type::S64 => C::S64,
            Type::F32 => C::F32,
            Type::F64 => C::F64,
            Type::Char => C::Char,
            Type::String => C::String,
            Type::ErrorContext => C::U32,
            Type::Id(id) => match &resolve.types[*id].kind {
                TypeDefKind::Type(t) => ctype(resolve, t),
                TypeDefKind::Record(r) => {
                    C::Record(r.fields.iter().map(|f| ctype(resolve, &f.ty)).collect())
                }
                TypeDefKind::Tuple(t) => {
                    C::Record(t.types.iter().map(|t| ctype(resolve, t)).collect())
                }
                TypeDefKind::Variant(v) => C::Variant(
                    v.cases
                        .iter()
                        .map(|c| c.ty.as_ref().map(|t| ctype(resolve, t)))
                        .collect(),
                ),
                TypeDefKind::Enum(e) => C::enumeration(e.cases.len() as u32),
                TypeDefKind::Option(t) => C::option(ctype(resolve, t)),
                TypeDefKind::Result(r) => C::result(
                    r.ok.as_ref().map(|t| ctype(resolve, t)),
                    r.err.as_ref().map(|t| ctype(resolve, t)),
                ),
                TypeDefKind::Flags(f) => C::Flags(f.flags.len() as u32),
                TypeDefKind::List(t) => C::List(Box::new(ctype(resolve, t))),
                TypeDefKind::Handle(Handle::Own(r)) => C::Own(r.index() as u32),
                TypeDefKind::Handle(Handle::Borrow(r)) => C::Borrow(r.index() as u32),
                TypeDefKind::Resource => C::U32,
                other => panic!("unexpected WIT type {other:?}"),
            },
        }
    }

    /// The adapters' layout rules (aot_abi::ctypes) agree with wit-parser on every WASI
    /// function the host knows: the lowered core signature of each, and the size and
    /// alignment of every parameter and result type.
    #[test]
    fn the_shared_type_model_agrees_with_wit_parser() {
        let s = surface();
        let mut sizes = wit_parser::SizeAlign::default();
        sizes
            .fill(&s.resolve)
            .expect("the vendored WIT has layouts");
        let mut checked = 0;
        for (_, iface) in s.resolve.interfaces.iter() {
            for f in iface.functions.values() {
                let ty = aot_abi::ctypes::CFuncType {
                    params: f.params.iter().map(|p| ctype(&s.resolve, &p.ty)).collect(),
                    result: f.result.as_ref().map(|t| ctype(&s.resolve, t)),
                };
                let want = s.resolve.wasm_signature(AbiVariant::GuestImport, f);
                let conv = |v: &[WasmType]| -> Vec<ValType> {
                    v.iter()
                        .map(|t| match t {
                            WasmType::I64 | WasmType::PointerOrI64 => ValType::I64,
                            WasmType::F32 => ValType::F32,
                            WasmType::F64 => ValType::F64,
                            _ => ValType::I32,
                        })
                        .collect()
                };
                assert_eq!(
                    ty.lowered_signature(),
                    (conv(&want.params), conv(&want.results)),
                    "{}",
                    f.name
                );
                for (p, c) in f
                    .params
                    .iter()
                    .map(|p| &p.ty)
                    .chain(f.result.iter())
                    .zip(ty.params.iter().chain(ty.result.iter()))
                {
                    assert_eq!(
                        c.size() as usize,
                        sizes.size(p).size_wasm32(),
                        "{} size",
                        f.name
                    );
                    assert_eq!(
                        c.align() as usize,
                        sizes.align(p).align_wasm32(),
                        "{} align",
                        f.name
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 170, "{checked}");
    }

    fn sig(interface: &str, func: &str) -> FlatSignature {
        match lookup(interface, func) {
            Ok(f) => f.signature.clone(),
            Err(e) => panic!("{interface}#{func}: {e}"),
        }
    }

    #[test]
    fn wasi_p2_command_world_counts() {
        let interfaces: Vec<&str> = world_interfaces(World::CliCommand).collect();
        assert_eq!(interfaces.len(), 27, "{interfaces:#?}");
        assert!(
            interfaces.iter().all(|i| i.ends_with("@0.2.12")),
            "{interfaces:#?}"
        );
        let functions: Vec<&HostFunc> = world_functions(World::CliCommand).collect();
        assert_eq!(functions.len(), 123);
        assert!(
            functions
                .iter()
                .any(|f| f.interface == "wasi:cli/exit@0.2.12" && f.name == "exit-with-code")
        );
        let per = |iface: &str| functions.iter().filter(|f| f.interface == iface).count();
        assert_eq!(per("wasi:filesystem/types@0.2.12"), 29);
        assert_eq!(per("wasi:io/streams@0.2.12"), 15);
        assert_eq!(per("wasi:sockets/tcp@0.2.12"), 28);
        assert_eq!(per("wasi:sockets/udp@0.2.12"), 18);
    }

    #[test]
    fn wasi_p2_command_world_resources() {
        let resources: BTreeSet<&ResourceName> = world_functions(World::CliCommand)
            .flat_map(|f| &f.resources)
            .collect();
        assert_eq!(resources.len(), 14, "{resources:#?}");
        for (iface, name) in [
            ("wasi:io/streams@0.2.12", "output-stream"),
            ("wasi:io/poll@0.2.12", "pollable"),
            ("wasi:filesystem/types@0.2.12", "descriptor"),
            ("wasi:cli/terminal-input@0.2.12", "terminal-input"),
        ] {
            assert!(
                resources.contains(&ResourceName {
                    interface: iface.into(),
                    name: name.into()
                }),
                "{iface}#{name}"
            );
        }
        let drop = lookup_resource("wasi:io/streams@0.2.0", "output-stream").expect("a resource");
        assert_eq!(
            drop.drop_symbol,
            "aot_wasi_p2_io__streams__resource_drop__output_stream"
        );
        assert!(matches!(
            lookup_resource("wasi:io/streams@0.2.0", "stream-error"),
            Err(LookupError::UnknownFunction { .. })
        ));
    }

    #[test]
    fn wasi_p2_http_proxy_world() {
        let interfaces: Vec<&str> = world_interfaces(World::HttpProxy).collect();
        assert_eq!(interfaces.len(), 11, "{interfaces:#?}");
        assert_eq!(world_functions(World::HttpProxy).count(), 82);
        let types =
            lookup("wasi:http/types@0.2.10", "[constructor]fields").expect("wasi:http/types");
        assert_eq!(types.interface, "wasi:http/types@0.2.12");
        assert!(lookup("wasi:http/outgoing-handler@0.2.12", "handle").is_ok());
    }

    #[test]
    fn wasi_p2_semver_matching() {
        for v in ["0.2.0", "0.2.6", "0.2.12", "0.2.99", "0.2.3+build"] {
            let f = lookup(&format!("wasi:cli/stdout@{v}"), "get-stdout")
                .unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(f.interface, "wasi:cli/stdout@0.2.12");
            assert_eq!(f.name, "get-stdout");
        }
        for v in [
            Some("0.3.0"),
            Some("1.0.0"),
            Some("0.1.0"),
            Some("0.2.0-rc-2023-11-10"),
            None,
        ] {
            let name = match v {
                Some(v) => format!("wasi:cli/stdout@{v}"),
                None => "wasi:cli/stdout".to_string(),
            };
            match lookup(&name, "get-stdout") {
                Err(LookupError::IncompatibleVersion {
                    interface,
                    function,
                    requested,
                }) => {
                    assert_eq!(
                        (interface.as_str(), function.as_str()),
                        (name.as_str(), "get-stdout")
                    );
                    assert_eq!(requested.as_deref(), v);
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn wasi_p2_lookup_errors_name_what_failed() {
        let err = lookup("wasi:cli/stdout@0.3.0", "get-stdout").expect_err("0.3 is not 0.2");
        let msg = err.to_string();
        assert!(
            msg.contains("wasi:cli/stdout@0.3.0") && msg.contains("get-stdout"),
            "{msg}"
        );
        assert!(msg.contains("0.3.0") && msg.contains(HOST_VERSION), "{msg}");

        let err = lookup("wasi:cli/stdout@0.2.6", "get-stdoot").expect_err("no such function");
        assert_eq!(
            err,
            LookupError::UnknownFunction {
                interface: "wasi:cli/stdout@0.2.6".into(),
                function: "get-stdoot".into()
            }
        );
        assert!(err.to_string().contains("get-stdoot"));

        for unknown in [
            "wasi:keyvalue/store@0.2.0",
            "wasi:cli/stdio@0.2.0",
            "acme:cli/stdout@0.2.0",
        ] {
            assert_eq!(
                lookup(unknown, "get"),
                Err(LookupError::UnknownInterface {
                    interface: unknown.into()
                })
            );
        }
        for malformed in [
            "wasi-cli-stdout",
            "wasi:cli",
            "wasi:/stdout@0.2.0",
            "wasi:cli/stdout@0.2",
            "wasi:cli/stdout@x.y.z",
        ] {
            assert!(
                matches!(
                    lookup(malformed, "get-stdout"),
                    Err(LookupError::MalformedName { .. })
                ),
                "{malformed}"
            );
        }
    }

    #[test]
    fn wasi_p2_flat_signatures() {
        // A resource handle is one i32; no results beyond one flat value.
        assert_eq!(
            sig("wasi:cli/stdout@0.2.6", "get-stdout"),
            FlatSignature {
                params: vec![],
                results: vec![I32],
                retptr: false,
                indirect_params: false
            }
        );
        // borrow<self>, list<u8> as (ptr, len), then result<_, stream-error> (a variant
        // with a payload: more than one flat value) through a return pointer.
        assert_eq!(
            sig(
                "wasi:io/streams@0.2.0",
                "[method]output-stream.blocking-write-and-flush"
            ),
            FlatSignature {
                params: vec![I32, I32, I32, I32],
                results: vec![],
                retptr: true,
                indirect_params: false
            }
        );
        assert_eq!(
            sig("wasi:random/random@0.2.12", "get-random-u64"),
            FlatSignature {
                params: vec![],
                results: vec![I64],
                retptr: false,
                indirect_params: false
            }
        );
        // datetime { seconds: u64, nanoseconds: u32 } is two flat values.
        assert_eq!(
            sig("wasi:clocks/wall-clock@0.2.0", "now"),
            FlatSignature {
                params: vec![I32],
                results: vec![],
                retptr: true,
                indirect_params: false
            }
        );
        // self, path-flags (flags: i32), path (ptr, len), open-flags, descriptor-flags,
        // then result<own<descriptor>, error-code> through the return pointer.
        assert_eq!(
            sig("wasi:filesystem/types@0.2.0", "[method]descriptor.open-at"),
            FlatSignature {
                params: vec![I32, I32, I32, I32, I32, I32, I32],
                results: vec![],
                retptr: true,
                indirect_params: false
            }
        );
        // exit(status: result): the result has no payloads, so it is one i32.
        assert_eq!(
            sig("wasi:cli/exit@0.2.0", "exit"),
            FlatSignature {
                params: vec![I32],
                results: vec![],
                retptr: false,
                indirect_params: false
            }
        );
        // subscribe-duration(when: u64) -> own<pollable>.
        assert_eq!(
            sig("wasi:clocks/monotonic-clock@0.2.0", "subscribe-duration"),
            FlatSignature {
                params: vec![I64],
                results: vec![I32],
                retptr: false,
                indirect_params: false
            }
        );
        // No WASI 0.2 function has more than 16 flat parameters or more than one flat result
        // without a return pointer.
        for f in all_functions() {
            assert!(!f.signature.indirect_params, "{}#{}", f.interface, f.name);
            assert!(f.signature.results.len() <= 1, "{}#{}", f.interface, f.name);
            assert!(
                !f.signature.retptr || f.signature.results.is_empty(),
                "{}#{}",
                f.interface,
                f.name
            );
        }
    }

    #[test]
    fn wasi_p2_kinds_and_resources() {
        let f = lookup(
            "wasi:io/streams@0.2.0",
            "[method]output-stream.blocking-write-and-flush",
        )
        .expect("a WASI 0.2 method");
        assert_eq!(
            f.kind,
            HostFuncKind::Method {
                resource: "output-stream".into()
            }
        );
        let names: Vec<String> = f.resources.iter().map(ToString::to_string).collect();
        // stream-error's `last-operation-failed(own<error>)` case brings in wasi:io/error.
        assert_eq!(
            names,
            [
                "wasi:io/error@0.2.12#error",
                "wasi:io/streams@0.2.12#output-stream"
            ]
        );
        // A resource `use`d from another interface is named by its defining interface.
        let f = lookup("wasi:cli/stdout@0.2.0", "get-stdout").expect("get-stdout");
        assert_eq!(f.kind, HostFuncKind::Freestanding);
        let names: Vec<String> = f.resources.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["wasi:io/streams@0.2.12#output-stream"]);
    }

    #[test]
    fn wasi_p2_symbols() {
        assert_eq!(
            lookup("wasi:cli/stdout@0.2.6", "get-stdout").map(|f| f.symbol.as_str()),
            Ok("aot_wasi_p2_cli__stdout__get_stdout")
        );
        assert_eq!(
            lookup(
                "wasi:io/streams@0.2.0",
                "[method]output-stream.blocking-write-and-flush"
            )
            .map(|f| f.symbol.as_str()),
            Ok("aot_wasi_p2_io__streams__method__output_stream__blocking_write_and_flush")
        );
        assert_eq!(
            lookup("wasi:http/types@0.2.0", "[constructor]fields").map(|f| f.symbol.as_str()),
            Ok("aot_wasi_p2_http__types__constructor__fields")
        );
        // Unique across every function and destructor of every vendored interface
        // (cli/command, http/proxy and the rest), and valid C identifiers.
        let mut seen = BTreeMap::new();
        let symbols = all_functions()
            .iter()
            .map(|f| (f.symbol.as_str(), format!("{}#{}", f.interface, f.name)))
            .chain(
                all_resources()
                    .iter()
                    .map(|r| (r.drop_symbol.as_str(), format!("drop {}", r.resource))),
            );
        for (symbol, what) in symbols {
            assert!(
                symbol
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{symbol}"
            );
            if let Some(other) = seen.insert(symbol, what.clone()) {
                panic!("{symbol} is both {other} and {what}");
            }
        }
        // wasi:cli/command's 123, wasi:http/types' 51, the two http handlers and
        // wasi:cli/run's `run` (exports, but named like the rest); 14 + 11 resources.
        assert_eq!((all_functions().len(), all_resources().len()), (177, 25));
        assert_eq!(seen.len(), 177 + 25);
    }
}
