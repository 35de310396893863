//! The runtime library that every `aot` executable links: the C `main` ([`entry`]), linear
//! memories ([`memory`]), tables ([`table`]), traps and the fault handler ([`trap`],
//! [`signals`]), instances and their vmctx ([`instance`]), import resolution ([`linker`]),
//! the functions generated code calls ([`builtins`]), the `spectest` host module ([`host`]),
//! the spec-script driver ([`spec`]) and the WASI preview 1 host ([`wasi`]).
//!
//! Everything the generated code relies on (vmctx layout, trap codes, builtin signatures,
//! descriptor records) is defined in `aot_abi`, never here.

mod arch;
pub mod builtins;
pub mod entry;
pub mod host;
pub mod instance;
pub mod linker;
pub mod memory;
pub mod signals;
pub mod spec;
pub mod table;
pub mod trap;
pub mod wasi;
