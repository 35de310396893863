//! The contract between the `aot` compiler and the runtime library every output links.
//!
//! Everything the generated code and the runtime must agree on lives here and only here:
//! the per-instance context layout ([`vmctx`]), the trap codes ([`trap`]), the runtime
//! entry points the generated code calls ([`foreach_builtin!`]), the symbol names and
//! `#[repr(C)]` descriptors that an object file exports to the runtime ([`descriptor`]),
//! the module metadata both sides read and write ([`meta`]), and the encoding of spec-test
//! scripts that the test driver inside the runtime executes ([`script`]).
//!
//! This crate must stay free of dependencies and of any knowledge of Cranelift or of the
//! runtime's internals: the compiler derives its offsets from it, the runtime declares its
//! structs from it, and tests in both assert that they agree.

pub mod codec;
pub mod ctypes;
pub mod descriptor;
pub mod fused;
pub mod host;
pub mod meta;
pub mod script;
pub mod trap;
pub mod vmctx;
pub mod wasi;

pub use descriptor::*;
pub use meta::*;
pub use trap::TrapKind;
pub use vmctx::*;

/// Bumped whenever anything in this crate changes the binary contract.
pub const ABI_VERSION: u32 = 7;

/// Size of a Wasm page in bytes.
pub const WASM_PAGE_SIZE: u64 = 65536;

/// Bytes of a pointer or `usize` in generated code, descriptors and vmctx: both targets
/// are 64-bit, and the compiler lays out data for them whatever its own host is.
pub const POINTER_SIZE: u32 = 8;

/// Bytes of one table element at [`VMTableDef::base`]: a `*const VMFuncRef` or an
/// externref value.
pub const TABLE_SLOT_SIZE: u32 = POINTER_SIZE;

/// Symbol of the [`ProgramDescriptor`] that the entry object defines and the runtime's
/// `main` reads.
pub const PROGRAM_SYMBOL: &str = "aot_program";

/// The table of a component's glue functions (`ProgramDescriptor::glue`), defined by the
/// compiler's glue object.
pub const GLUE_SYMBOL: &str = "aot_glue";

/// Symbol of the [`ModuleDescriptor`] of the module numbered `index` in a program.
pub fn module_symbol(index: usize) -> String {
    format!("aot_module_{index}")
}

/// Prefix of every builtin symbol: `aot_builtin_<name>` for each entry of
/// [`foreach_builtin!`].
pub const BUILTIN_PREFIX: &str = "aot_builtin_";

/// Lists every runtime function that generated code calls, with its signature.
///
/// Expands `$m! { $( $(#[$doc])* $name ( $($arg: $ty),* ) $(-> $ret)? ; )* }` where each
/// `$ty` is one of `ptr` (a pointer, 64-bit), `i32` or `i64`. The first argument of every
/// builtin is the calling instance's vmctx. The symbol is `aot_builtin_<name>`.
///
/// Builtins that can fail (those documented as returning a trap status) return 0 on
/// success and, on failure, the nonzero [`TrapKind`] value of the failure. Each of them
/// fails in one way only (an out-of-bounds memory or table access), so the generated code
/// raises that builtin's one trap kind on any nonzero status, itself: no trap ever unwinds
/// through runtime frames. `memory_grow` and `table_grow` return -1 on failure, as the
/// Wasm instructions do.
#[macro_export]
macro_rules! foreach_builtin {
    ($m:ident) => {
        $m! {
            /// Grows memory `mem` by `delta` pages; returns the old size in pages, or -1.
            memory_grow(vmctx: ptr, mem: i32, delta: i64) -> i64;
            /// memory.copy between memories `dst_mem` and `src_mem`; returns a trap status.
            memory_copy(vmctx: ptr, dst_mem: i32, src_mem: i32, dst: i64, src: i64, len: i64) -> i32;
            /// memory.fill; returns a trap status.
            memory_fill(vmctx: ptr, mem: i32, dst: i64, val: i32, len: i64) -> i32;
            /// memory.init from data segment `data`; returns a trap status.
            memory_init(vmctx: ptr, mem: i32, data: i32, dst: i64, src: i32, len: i32) -> i32;
            /// data.drop.
            data_drop(vmctx: ptr, data: i32);
            /// table.grow with `init` as the new elements' value; returns the old size or -1.
            table_grow(vmctx: ptr, table: i32, delta: i32, init: ptr) -> i32;
            /// table.fill; returns a trap status.
            table_fill(vmctx: ptr, table: i32, dst: i32, val: ptr, len: i32) -> i32;
            /// table.copy; returns a trap status.
            table_copy(vmctx: ptr, dst_table: i32, src_table: i32, dst: i32, src: i32, len: i32) -> i32;
            /// table.init from element segment `elem`; returns a trap status.
            table_init(vmctx: ptr, table: i32, elem: i32, dst: i32, src: i32, len: i32) -> i32;
            /// elem.drop.
            elem_drop(vmctx: ptr, elem: i32);
            /// Raises the trap a host function left in the store (`VMStoreContext::
            /// pending_trap`); never returns. Called by host-call trampolines only.
            raise_pending_trap(vmctx: ptr);
            /// Allocates an exception of tag `tag` (a `*const VMTag`) with `num_values`
            /// payload slots, which the caller fills; returns the `*mut VMException`.
            exn_new(vmctx: ptr, tag: ptr, num_values: i32) -> ptr;
            /// Throws `exn` (non-null): finds the innermost Wasm frame above `fp` whose
            /// call site has a handler ([`HandlerRecord`]) and resumes there; with none
            /// before the first host frame, ends the entry into Wasm as an uncaught
            /// exception. `fp` is the frame pointer of the module's throw stub, whose
            /// return address is the throwing call site. Never returns.
            throw_ref(vmctx: ptr, exn: ptr, fp: ptr);
        }
    };
}

/// The value types of Wasm as they appear in metadata and scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValType {
    I32 = 0,
    I64 = 1,
    F32 = 2,
    F64 = 3,
    V128 = 4,
    FuncRef = 5,
    ExternRef = 6,
    /// A `*const VMException`, null = `ref.null exn`.
    ExnRef = 7,
}

impl ValType {
    pub fn from_u8(b: u8) -> Option<ValType> {
        Some(match b {
            0 => ValType::I32,
            1 => ValType::I64,
            2 => ValType::F32,
            3 => ValType::F64,
            4 => ValType::V128,
            5 => ValType::FuncRef,
            6 => ValType::ExternRef,
            7 => ValType::ExnRef,
            _ => return None,
        })
    }
}

/// One argument or result slot of an array call (see [`descriptor::ArrayCallFn`]).
///
/// Integers and floats are stored little-endian in the low bytes (i32 and f32 use bytes
/// 0..4, i64 and f64 bytes 0..8), references as a pointer-sized value in bytes 0..8
/// (0 is null). 16 bytes so that v128 fits when SIMD arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct ValRaw(pub [u8; 16]);

impl ValRaw {
    pub fn from_u32(v: u32) -> ValRaw {
        let mut r = ValRaw::default();
        r.0[..4].copy_from_slice(&v.to_le_bytes());
        r
    }
    pub fn from_u64(v: u64) -> ValRaw {
        let mut r = ValRaw::default();
        r.0[..8].copy_from_slice(&v.to_le_bytes());
        r
    }
    pub fn u32(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }
    pub fn u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }
}
