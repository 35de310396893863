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
pub mod gc;
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
pub const ABI_VERSION: u32 = 20;

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

/// The runtime's `memmove` (the C library's for long copies, vector moves for shorter
/// ones), which generated code calls for a `memory.copy` too long to copy inline.
pub const MEMMOVE_SYMBOL: &str = "aot_memmove";

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
            /// memory.init from data segment `data`; returns a trap status.
            memory_init(vmctx: ptr, mem: i32, data: i32, dst: i64, src: i32, len: i32) -> i32;
            /// data.drop.
            data_drop(vmctx: ptr, data: i32);
            /// table.grow with `init` as the new elements' value; returns the old size or -1.
            /// Indices and lengths are u64 for every table (a 32-bit table's zero-extended).
            table_grow(vmctx: ptr, table: i32, delta: i64, init: ptr) -> i64;
            /// table.fill; returns a trap status.
            table_fill(vmctx: ptr, table: i32, dst: i64, val: ptr, len: i64) -> i32;
            /// table.copy; returns a trap status.
            table_copy(vmctx: ptr, dst_table: i32, src_table: i32, dst: i64, src: i64, len: i64) -> i32;
            /// table.init from element segment `elem`; returns a trap status.
            table_init(vmctx: ptr, table: i32, elem: i32, dst: i64, src: i32, len: i32) -> i32;
            /// elem.drop.
            elem_drop(vmctx: ptr, elem: i32);
            /// Whether canonical type `actual` is a subtype of `expected` (1 or 0): the slow
            /// path of a call_indirect whose expected type is not final.
            func_subtype(vmctx: ptr, actual: i32, expected: i32) -> i32;
            /// array.new_data / array.init_data: copies `bytes` bytes of data segment `data`
            /// from byte `src` to `dst` (elements of a GC array, in bounds), or only checks
            /// the segment's range when `dst` is null; returns a trap status (out of bounds
            /// memory access). Never collects.
            array_init_data(vmctx: ptr, dst: ptr, data: i32, src: i64, bytes: i64) -> i32;
            /// array.new_elem / array.init_elem: copies `len` references of element segment
            /// `elem` from index `src` to `dst` (elements of a GC array, in bounds), or only
            /// checks the range when `dst` is null; returns a trap status (out of bounds
            /// table access). Never collects.
            array_init_elem(vmctx: ptr, dst: ptr, elem: i32, src: i64, len: i64) -> i32;
            /// array.copy's move of `bytes` bytes between (possibly overlapping) element
            /// ranges checked by generated code. Never collects.
            gc_memmove(vmctx: ptr, dst: ptr, src: ptr, bytes: i64);
            /// array.new / array.fill: stores the low `size` bytes (1, 2, 4 or 8) of `value`
            /// into `count` consecutive elements from `dst` (checked by generated code).
            /// Never collects.
            gc_fill(vmctx: ptr, dst: ptr, value: i64, count: i64, size: i32);
            /// Raises the trap a host function left in the store (`VMStoreContext::
            /// pending_trap`); never returns. Called by host-call trampolines only.
            raise_pending_trap(vmctx: ptr);
            /// Throws `exn` (non-null): finds the innermost Wasm frame above `fp` whose
            /// call site has a handler ([`HandlerRecord`]) and resumes there; with none
            /// before the first host frame, ends the entry into Wasm as an uncaught
            /// exception. `fp` is the frame pointer of the module's throw stub, whose
            /// return address is the throwing call site. Never returns.
            throw_ref(vmctx: ptr, exn: ptr, fp: ptr);
            /// Allocates a GC object of `size` bytes (a multiple of 8) described by `info`
            /// (a `*const VMGcTypeInfo`); returns its address, zeroed except its header,
            /// which it writes. The only builtin that may collect: called only through the
            /// module's GC stub (`aot_m<i>_gc_stub(vmctx, info, size)`, Wasm convention),
            /// which passes its own frame pointer as `fp`, from which the collector finds
            /// the Wasm frames and their stack maps ([`StackMapRecord`]). So no reference
            /// may be an argument: references the caller needs after it are live across
            /// the call, hence in its stack map. On failure (size too large, heap
            /// exhausted) it raises the trap itself, as `throw_ref` does, and never
            /// returns: the collector has returned by then, so the frames unwound are the
            /// builtin's own (holding nothing to drop), the stub's and Wasm frames.
            gc_alloc(vmctx: ptr, fp: ptr, info: ptr, size: i64) -> ptr;
            /// memory.atomic.notify on a shared memory: wakes up to `count` waiters on the
            /// host address `addr` (already checked for bounds and alignment by the caller);
            /// returns how many were woken.
            memory_atomic_notify(vmctx: ptr, addr: ptr, count: i32) -> i32;
            /// memory.atomic.wait32 on a shared memory at the checked host address `addr`:
            /// 0 when woken by a notify, 1 when `*addr != expected`, 2 after `timeout`
            /// nanoseconds (negative: no timeout).
            memory_atomic_wait32(vmctx: ptr, addr: ptr, expected: i32, timeout: i64) -> i32;
            /// memory.atomic.wait64, as `memory_atomic_wait32` on a 64-bit value.
            memory_atomic_wait64(vmctx: ptr, addr: ptr, expected: i64, timeout: i64) -> i32;
        }
    };
}

/// The value types of Wasm as they appear in metadata and scripts.
///
/// `funcref` and `externref` (the nullable tops of their hierarchies) have their own
/// variants, so that Wasm 2.0 code never sees [`ValType::Ref`]; every other reference type
/// (typed function references, non-nullable references, the abstract heap types of Wasm
/// 3.0) is a [`RefType`]. At run time every reference is one pointer-sized value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    FuncRef,
    ExternRef,
    /// Any other reference type; never `(ref null func)` or `(ref null extern)` (see
    /// [`ValType::from_ref`]).
    Ref(RefType),
}

/// A reference type: a heap type and whether null is a value of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefType {
    pub nullable: bool,
    pub heap: HeapType,
}

/// The heap type of a reference type.
///
/// `Concrete` names a defined type: in [`ModuleMeta`] by the module's type index, in the
/// runtime's tables, globals and import checks by its canonical type id (the runtime
/// rewrites one into the other when it instantiates the module, see
/// [`ValType::map_concrete`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapType {
    Func,
    NoFunc,
    Extern,
    NoExtern,
    Any,
    Eq,
    I31,
    Struct,
    Array,
    None,
    Exn,
    NoExn,
    Concrete(u32),
}

/// The top of a reference type's hierarchy: which kind of value it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefTop {
    Func,
    Extern,
    Any,
    Exn,
}

impl HeapType {
    /// The top of its hierarchy; a concrete type is taken as a function type (`is_func`
    /// tells whether it is one: struct and array types are in `any`'s hierarchy).
    pub fn top(self, is_func: impl Fn(u32) -> bool) -> RefTop {
        match self {
            HeapType::Func | HeapType::NoFunc => RefTop::Func,
            HeapType::Extern | HeapType::NoExtern => RefTop::Extern,
            HeapType::Exn | HeapType::NoExn => RefTop::Exn,
            HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::Struct
            | HeapType::Array
            | HeapType::None => RefTop::Any,
            HeapType::Concrete(i) if is_func(i) => RefTop::Func,
            HeapType::Concrete(_) => RefTop::Any,
        }
    }

    /// The bottom type of hierarchy `top` (`nofunc`, `noextern`, `none`, `noexn`).
    pub fn bottom(top: RefTop) -> HeapType {
        match top {
            RefTop::Func => HeapType::NoFunc,
            RefTop::Extern => HeapType::NoExtern,
            RefTop::Any => HeapType::None,
            RefTop::Exn => HeapType::NoExn,
        }
    }

    pub(crate) fn code(self) -> (u8, Option<u32>) {
        match self {
            HeapType::Func => (0, None),
            HeapType::NoFunc => (1, None),
            HeapType::Extern => (2, None),
            HeapType::NoExtern => (3, None),
            HeapType::Any => (4, None),
            HeapType::Eq => (5, None),
            HeapType::I31 => (6, None),
            HeapType::Struct => (7, None),
            HeapType::Array => (8, None),
            HeapType::None => (9, None),
            HeapType::Exn => (10, None),
            HeapType::NoExn => (11, None),
            HeapType::Concrete(i) => (12, Some(i)),
        }
    }
}

impl ValType {
    /// The value type of reference type `r`, in the normal form [`ValType`] documents.
    pub fn from_ref(r: RefType) -> ValType {
        match r {
            RefType {
                nullable: true,
                heap: HeapType::Func,
            } => ValType::FuncRef,
            RefType {
                nullable: true,
                heap: HeapType::Extern,
            } => ValType::ExternRef,
            r => ValType::Ref(r),
        }
    }

    /// Its reference type, if it is one.
    pub fn as_ref(self) -> Option<RefType> {
        match self {
            ValType::FuncRef => Some(RefType {
                nullable: true,
                heap: HeapType::Func,
            }),
            ValType::ExternRef => Some(RefType {
                nullable: true,
                heap: HeapType::Extern,
            }),
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    pub fn is_ref(self) -> bool {
        self.as_ref().is_some()
    }

    /// The same type with every concrete heap type index `i` replaced by `f(i)`.
    pub fn map_concrete(self, f: impl Fn(u32) -> u32) -> ValType {
        match self {
            ValType::Ref(RefType {
                nullable,
                heap: HeapType::Concrete(i),
            }) => ValType::Ref(RefType {
                nullable,
                heap: HeapType::Concrete(f(i)),
            }),
            other => other,
        }
    }

    /// Appends its encoding (one byte, then a reference type's details) to `out`.
    pub fn encode(self, out: &mut Vec<u8>) {
        match self {
            ValType::I32 => out.push(0),
            ValType::I64 => out.push(1),
            ValType::F32 => out.push(2),
            ValType::F64 => out.push(3),
            ValType::V128 => out.push(4),
            ValType::FuncRef => out.push(5),
            ValType::ExternRef => out.push(6),
            ValType::Ref(r) => {
                let (code, index) = r.heap.code();
                out.extend([7, u8::from(r.nullable), code]);
                if let Some(i) = index {
                    out.extend(i.to_le_bytes());
                }
            }
        }
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
