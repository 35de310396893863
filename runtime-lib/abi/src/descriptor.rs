//! The `#[repr(C)]` records an object file hands to the runtime, and the policy constants
//! both sides build code and memories around.
//!
//! Each compiled module defines one [`ModuleDescriptor`] (symbol
//! [`crate::module_symbol`]); the entry object defines the [`ProgramDescriptor`]
//! (symbol [`crate::PROGRAM_SYMBOL`]) that the runtime's `main` starts from.

use core::mem::{offset_of, size_of};

use crate::ValRaw;
use crate::codec::{DecodeError, DecodeResult, Reader, Writer};

/// One trap site: the instruction at `funcs[func] + offset` raises `kind`
/// (a [`crate::TrapKind`] value) when it faults or executes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapRecord {
    /// Defined-function index (imports not counted), or `num_funcs + i` for stub `i` of
    /// [`ModuleDescriptor::stubs`].
    pub func: u32,
    pub offset: u32,
    pub kind: u32,
}

/// A call site inside a `try_table`: when an exception unwinds to the return address
/// `ret_offset` of defined function `func`, execution resumes at `handler_offset` of the
/// same function with the frame's stack pointer set to its frame pointer minus
/// `frame_offset` and the `*mut VMException` in the first exception payload register of
/// Cranelift's exception ABI (rax on x86_64, x0 on aarch64). The handler itself matches
/// the tag and rethrows when no clause of its `try_table` matches, so a record catches
/// everything.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandlerRecord {
    /// Defined-function index (imports not counted).
    pub func: u32,
    pub ret_offset: u32,
    pub handler_offset: u32,
    pub frame_offset: u32,
}

impl HandlerRecord {
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&self.func.to_le_bytes());
        b[4..8].copy_from_slice(&self.ret_offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.handler_offset.to_le_bytes());
        b[12..16].copy_from_slice(&self.frame_offset.to_le_bytes());
        b
    }
}

/// The GC roots of one call site: when the call returning to `ret_offset` of defined
/// function `func` is in progress, the frame's stack pointer is its frame pointer minus
/// `span`, and each of the `len` offsets `stack_map_slots[start..start + len]` from that
/// stack pointer is an 8-byte slot holding a reference word (`aot_abi::gc`) that the
/// collector may read and rewrite; the code reloads the slots after the call. A call site
/// without a record has no reference live across it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackMapRecord {
    /// Defined-function index (imports not counted).
    pub func: u32,
    pub ret_offset: u32,
    /// Frame pointer minus stack pointer at the call.
    pub span: u32,
    pub start: u32,
    pub len: u32,
}

impl StackMapRecord {
    /// As [`TrapRecord::to_bytes`].
    pub fn to_bytes(&self) -> [u8; size_of::<StackMapRecord>()] {
        let mut b = [0; size_of::<StackMapRecord>()];
        put_u32(&mut b, offset_of!(StackMapRecord, func), self.func);
        put_u32(
            &mut b,
            offset_of!(StackMapRecord, ret_offset),
            self.ret_offset,
        );
        put_u32(&mut b, offset_of!(StackMapRecord, span), self.span);
        put_u32(&mut b, offset_of!(StackMapRecord, start), self.start);
        put_u32(&mut b, offset_of!(StackMapRecord, len), self.len);
        b
    }
}

/// Code in function `func` at `offset` that came from inlined functions: a trap site (the
/// faulting instruction) or a return address. Its frames, innermost first, are the module
/// functions `inline_funcs[start..start + len]`, then `func` itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineRecord {
    /// Defined-function index (imports not counted).
    pub func: u32,
    pub offset: u32,
    pub start: u32,
    pub len: u32,
}

// The compiler writes these records as bytes into the object file, and the runtime reads
// them as the structs: `to_bytes` is the one place that turns one into the other.
impl TrapRecord {
    /// The record as the runtime reads it: each field at its `#[repr(C)]` offset,
    /// little-endian (every supported target is).
    pub fn to_bytes(&self) -> [u8; size_of::<TrapRecord>()] {
        let mut b = [0; size_of::<TrapRecord>()];
        put_u32(&mut b, offset_of!(TrapRecord, func), self.func);
        put_u32(&mut b, offset_of!(TrapRecord, offset), self.offset);
        put_u32(&mut b, offset_of!(TrapRecord, kind), self.kind);
        b
    }
}

impl InlineRecord {
    /// As [`TrapRecord::to_bytes`].
    pub fn to_bytes(&self) -> [u8; size_of::<InlineRecord>()] {
        let mut b = [0; size_of::<InlineRecord>()];
        put_u32(&mut b, offset_of!(InlineRecord, func), self.func);
        put_u32(&mut b, offset_of!(InlineRecord, offset), self.offset);
        put_u32(&mut b, offset_of!(InlineRecord, start), self.start);
        put_u32(&mut b, offset_of!(InlineRecord, len), self.len);
        b
    }
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Calls a function of any signature from the host: reads the arguments from `values`,
/// calls `code(vmctx, args...)`, writes the results back to `values` (which has
/// max(params, results) slots). One is generated per module type.
pub type ArrayCallFn = unsafe extern "C" fn(code: *const u8, vmctx: *mut u8, values: *mut ValRaw);

/// How linear memories are protected; chosen at compile time, per module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BoundsMode {
    /// 32-bit memories reserve [`GUARDED_RESERVATION`] bytes; accesses carry no checks and an
    /// out-of-bounds access faults on an inaccessible page.
    GuardPages = 0,
    /// Every access is compared with the current length; the reservation is only the
    /// declared maximum (for hosts where large reservations are impossible or costly).
    Explicit = 1,
}

impl BoundsMode {
    /// The mode whose `as u32` is `v` (as stored in [`ModuleDescriptor::bounds_mode`]).
    pub fn from_u32(v: u32) -> Option<BoundsMode> {
        match v {
            0 => Some(BoundsMode::GuardPages),
            1 => Some(BoundsMode::Explicit),
            _ => None,
        }
    }
}

impl BoundsMode {
    /// Whether accesses to a memory of type `ty` go unchecked, relying on the
    /// [`GUARDED_RESERVATION`]: decided per memory, identically by the compiler (which
    /// omits the checks) and the runtime (which makes the reservation).
    ///
    /// Only a 32-bit memory with 64 KiB pages in `GuardPages` mode qualifies:
    /// - a 64-bit index reaches 16 EiB, far beyond any reservation, so it must be compared
    ///   with the length anyway; with that check a guard region would buy nothing, and
    ///   under qemu every reserved GiB costs about 6 MB of RSS. 64-bit memories therefore
    ///   reserve what they may grow to (capped) and are checked explicitly;
    /// - a memory with one-byte pages can end anywhere inside a host page, and page
    ///   protection cannot fault on the bytes between its end and the page's end.
    pub fn guarded(self, ty: &crate::MemoryType) -> bool {
        self == BoundsMode::GuardPages && !ty.memory64 && ty.page_size() == crate::WASM_PAGE_SIZE
    }
}

/// Bytes of address space reserved for one guarded 32-bit memory: the 4 GiB index space
/// plus a guard region. A static offset larger than [`GUARD_SIZE`] gets an explicit check.
pub const GUARD_SIZE: u64 = 2 << 30;
pub const GUARDED_RESERVATION: u64 = (4 << 30) + GUARD_SIZE;

/// The two targets, for the parts of the contract that differ between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this crate is built for: the runtime's own, which is its
    /// executable's target (never use it in the compiler, which may cross-compile).
    pub const NATIVE: Arch = if cfg!(target_arch = "aarch64") {
        Arch::Aarch64
    } else {
        Arch::X86_64
    };
}

/// Where memory 0 lives when its module's descriptor has [`MODULE_FLAG_MEMORY0_FIXED`]:
/// the runtime reserves its [`GUARDED_RESERVATION`] (and the trailing guard) at exactly this
/// address, and the generated code uses the constant instead of loading the base from the
/// vmctx. Builtins and host functions still read the base from the `VMMemoryDef`, which
/// holds this same address.
///
/// The address suits each target's code generator:
/// - x86_64, 1.5 GiB: the constant folds into the access's addressing mode
///   (`[index + base + offset]`, as long as `base + offset` fits a signed 32-bit
///   displacement, i.e. for static offsets below 512 MiB), so an access needs no base
///   register at all;
/// - aarch64, 4 GiB: one `movz` (only 16 bits set). It must not fit in 32 bits: Cranelift
///   folds a 32-bit constant into the offset, which aarch64 cannot encode, and then
///   builds `base + offset` in a register with two instructions and zero-extends the index
///   with a third; a wider constant stays the base register of `[base, index, UXTW]`.
///
/// Why the range `[base, base + 6 GiB + 64 KiB)` is free when the program starts: the
/// executable is static and not position-independent, so the kernel maps its image at the
/// link-time addresses (from 0x400000 on) and nothing else low; the stack, the vDSO and
/// every mapping the kernel chooses (mmap_base, top-down or legacy bottom-up) are tens of
/// GiB up or more on both targets, and qemu-user (checked with 7.2) places a 64-bit guest's
/// mappings high too. The one low mapping that moves is the heap (`brk`): it starts empty
/// just after `.bss`, at a random offset of up to 1 GiB on both x86_64 (since Linux 6.9)
/// and arm64. Hence both bases lie more than 1 GiB above the highest image end allowed
/// ([`FIXED_MEMORY0_IMAGE_LIMIT`]): the heap always starts below the base, and a heap that
/// later grows up to the reservation is refused by the kernel, which musl's allocator
/// handles by taking memory from mmap instead.
pub const fn fixed_memory0_base(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 0x6000_0000,
        Arch::Aarch64 => 0x1_0000_0000,
    }
}

/// The highest address an executable's loaded image may reach for its memory 0 to be
/// placed at [`fixed_memory0_base`]: the lower base less the heap's 1 GiB of start
/// randomisation and 64 MiB of room for the heap the runtime uses before it reserves the
/// memory. The compiler checks the linked executable against it and compiles again
/// without the fixed base when the image is larger (or is not a fixed-address one).
pub const FIXED_MEMORY0_IMAGE_LIMIT: u64 =
    fixed_memory0_base(Arch::X86_64) - (1 << 30) - (64 << 20);

// An executable starts at 0x400000: the limit leaves hundreds of MiB for it; and on x86_64,
// base + offset is a positive disp32 for static offsets up to 512 MiB.
const _: () = assert!(FIXED_MEMORY0_IMAGE_LIMIT >= 256 << 20);
const _: () = assert!(fixed_memory0_base(Arch::X86_64) + (512 << 20) - 1 <= i32::MAX as u64);

/// [`ModuleDescriptor::flags`]: memory 0 (defined by the module, or imported from the host)
/// is at [`fixed_memory0_base`], which the module's code assumes. Set only for a module
/// whose memory 0 is a guarded one ([`BoundsMode::guarded`]) and that the program
/// instantiates once (the instances of wasi-threads share its imported memory 0): the
/// address can hold one memory per process. The runtime fails instantiation with an error,
/// never runs the code, if it cannot place the memory there.
pub const MODULE_FLAG_MEMORY0_FIXED: u64 = 1;

/// [`ModuleDescriptor::flags`], set only beside [`MODULE_FLAG_MEMORY0_FIXED`] on x86_64:
/// some accesses to memory 0 fold the Wasm address's 32-bit sum `x + (y << k)` into the
/// addressing mode as a 64-bit one, which saves the instruction that computes it (on the
/// critical path of table lookups and pointer chasing). The two differ when the Wasm sum
/// wraps: the folded address then lies 4 GiB times `1..=`[`FOLDED_MAX_SHIFT`]-scaled
/// carries above the true one. The runtime makes that work:
/// - memory 0 reserves [`FOLDED_RESERVATION`], so every folded address lands inside the
///   reservation, and everything above its first 4 GiB stays inaccessible;
/// - a fault there at an instruction whose trap record is [`folded_access_kind`]`(offset)`
///   is a wrapped sum: the runtime computes the true address (the fault address less the
///   memory base and `offset`, modulo 4 GiB, plus `offset`), checks it against the length
///   as the access would, and executes the instruction once against a copy of the true
///   page mapped at the faulting one (single-stepped, then written back);
/// - memory 0 stays below 4 GiB, one page short of the index space, so that a fault above
///   4 GiB is never an access that started in bounds and ran over the end.
///
/// Only for a memory 0 that is not shared: the copy is only coherent when no other thread
/// can touch the page meanwhile.
pub const MODULE_FLAG_MEMORY0_FOLDED: u64 = 2;

/// The largest shift `k` of a folded `y << k` (scale 8).
pub const FOLDED_MAX_SHIFT: u32 = 3;

/// The reservation of a memory 0 with folded accesses: a folded address is at most
/// `(2^32 - 1) * (1 + 2^FOLDED_MAX_SHIFT)` plus a static offset below 512 MiB (see
/// [`fixed_memory0_base`]) plus the access size; the guard region above that is the one
/// of [`GUARDED_RESERVATION`].
pub const FOLDED_RESERVATION: u64 =
    (4 << 30) * (1 + (1 << FOLDED_MAX_SHIFT)) + (512 << 20) + GUARD_SIZE;

/// The page limit of a memory 0 with folded accesses: the 32-bit index space less one
/// page (see [`MODULE_FLAG_MEMORY0_FOLDED`]).
pub const FOLDED_MAX_PAGES: u64 = (1 << 16) - 1;

/// The [`TrapRecord::kind`] of a folded access with static offset `offset` (below 512
/// MiB): a high bit no [`crate::TrapKind`] has, and the offset. When the access is not a
/// wrapped sum, its fault is an out-of-bounds trap.
pub const fn folded_access_kind(offset: u32) -> u32 {
    FOLDED_ACCESS_BIT | offset
}

/// The static offset of a folded access's trap record kind, or None for any other kind.
pub const fn folded_access_offset(kind: u32) -> Option<u32> {
    if kind & FOLDED_ACCESS_BIT != 0 {
        Some(kind & !FOLDED_ACCESS_BIT)
    } else {
        None
    }
}

const FOLDED_ACCESS_BIT: u32 = 1 << 31;

/// Large active data segments are laid out in the executable so that their bytes can be
/// mapped copy-on-write over the linear memory instead of copied into it, which spares
/// the kernel zeroing fresh pages only to have them overwritten, and leaves the pages the
/// program never touches unread. A segment of at least [`DATA_IMAGE_MIN_LEN`] bytes at a
/// constant offset `dst` starts at a `DataSegment::offset` congruent to `dst` modulo this
/// alignment, and the data blob itself is aligned to it: so a host page of the memory
/// that the segment covers whole is a whole page of the executable file too. The
/// alignment is the target's largest host page: x86_64 Linux always has 4 KiB pages;
/// aarch64 Linux may have 4, 16 or 64 KiB. It is not larger, since every executable pays
/// up to this much file padding in front of the blob. The runtime checks the congruence
/// itself, with the segment's real destination and its own page size, and copies whatever
/// cannot be mapped.
pub const fn data_image_align(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 4 << 10,
        Arch::Aarch64 => 64 << 10,
    }
}

/// Active segments shorter than this are copied: the padding they would need to line up
/// (up to [`data_image_align`] bytes of file) could outweigh the few pages saved.
pub const DATA_IMAGE_MIN_LEN: u64 = 64 << 10;

#[repr(C)]
#[derive(Debug)]
pub struct ModuleDescriptor {
    pub abi_version: u32,
    /// A [`BoundsMode`] value.
    pub bounds_mode: u32,
    /// Encoded [`crate::ModuleMeta`].
    pub meta: *const u8,
    pub meta_len: usize,
    /// Bytes of all data segments, addressed by `DataSegment::offset`; aligned to
    /// [`data_image_align`] when a segment is laid out for mapping (see there).
    pub data: *const u8,
    pub data_len: usize,
    /// Code of each defined function, and its length in bytes.
    pub funcs: *const *const u8,
    pub func_lens: *const u32,
    pub num_funcs: usize,
    /// One [`ArrayCallFn`] per module type, by type index.
    pub trampolines: *const ArrayCallFn,
    pub num_trampolines: usize,
    /// Sorted by (func, offset).
    pub traps: *const TrapRecord,
    pub num_traps: usize,
    /// Sorted by (func, offset); frames in `inline_funcs` (module function indices).
    pub inline_records: *const InlineRecord,
    pub num_inline_records: usize,
    pub inline_funcs: *const u32,
    pub num_inline_funcs: usize,
    /// Sorted by (func, ret_offset).
    pub handlers: *const HandlerRecord,
    pub num_handlers: usize,
    /// One entry per imported function: for an import the runtime provides (a WASI or
    /// test-host function, resolved at compile time), the module's host-call trampoline
    /// for it, which records the Wasm-to-host transition in the store context and calls
    /// the host symbol directly; null for an import another instance provides.
    pub host_imports: *const *const u8,
    pub num_host_imports: usize,
    /// GC roots of call sites, sorted by (func, ret_offset); their slot offsets (u32,
    /// bytes from the stack pointer) in `stack_map_slots`.
    pub stack_maps: *const StackMapRecord,
    pub num_stack_maps: usize,
    pub stack_map_slots: *const u32,
    pub num_stack_map_slots: usize,
    /// Code the module's Wasm functions call that is not a Wasm function, and its length
    /// in bytes: the host-call trampolines and the throw and GC stubs. They check the
    /// stack limit (so their Wasm callers need not) and their traps are recorded like a
    /// defined function's, as function `num_funcs + i`.
    pub stubs: *const *const u8,
    pub stub_lens: *const u32,
    pub num_stubs: usize,
    /// `MODULE_FLAG_*` bits.
    pub flags: u64,
}

// SAFETY: a descriptor is immutable data in the executable's read-only image.
unsafe impl Sync for ModuleDescriptor {}

/// What the executable does when it starts. Chosen at compile time: the entry object points
/// [`ProgramDescriptor::run`] at the runtime function [`ProgramKind::run_symbol`] names, so
/// an executable links only the run function it uses (no spec driver in a command).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramKind {
    /// Execute the [`CommandConfig`]'s instantiation plan and run the last instance's
    /// command entry, WASI-style.
    Command,
    /// Execute the spec script in `config` against the modules (the test driver).
    SpecScript,
    /// Execute the [`CommandConfig`]'s plan of a component (glue functions bound as the
    /// instances they need exist) and run its lifted `wasi:cli/run.run`.
    Component,
}

impl ProgramKind {
    /// The runtime's [`RunFn`] for this kind.
    pub fn run_symbol(self) -> &'static str {
        match self {
            ProgramKind::Command => "aot_rt_run_command",
            ProgramKind::SpecScript => "aot_rt_run_spec_script",
            ProgramKind::Component => "aot_rt_run_component",
        }
    }
}

/// A program's run function: returns the process exit code.
pub type RunFn = unsafe extern "C" fn(program: *const ProgramDescriptor) -> i32;

#[repr(C)]
#[derive(Debug)]
pub struct ProgramDescriptor {
    pub abi_version: u32,
    pub reserved: u32,
    /// The [`RunFn`] the runtime's `main` calls (see [`ProgramKind::run_symbol`]).
    pub run: *const u8,
    pub modules: *const *const ModuleDescriptor,
    pub num_modules: usize,
    /// Encoded [`CommandConfig`] or [`crate::script::Script`], as `run` expects.
    pub config: *const u8,
    pub config_len: usize,
    /// The code of each component glue function ([`GluePlan`], same order): a host-call
    /// trampoline with the flat core signature of a lowered WASI function or a resource
    /// intrinsic, called with the context the runtime builds for it (whose first word, like
    /// a vmctx's, points to the store context).
    pub glue: *const *const u8,
    pub num_glue: usize,
}

/// Where one import of a planned instance comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportSource {
    /// The runtime provides it: a function is the module's `host_imports` entry; a memory
    /// (only where [`crate::host::host_provides_memory`]) is created from the import's
    /// own type when the instance is, and shared with the instances of later threads.
    Host,
    /// Export number `export` (an index into that module's `ModuleMeta::exports`) of the
    /// earlier planned instance `instance`.
    Instance { instance: u32, export: u32 },
    /// Component glue function number `n` ([`ComponentPlan::glue`]).
    Glue(u32),
}

/// Export number `export` of planned instance `instance` (as in [`ImportSource::Instance`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportRef {
    pub instance: u32,
    pub export: u32,
}

/// A component's part of a command: the glue functions its core instances import and the
/// lifted `wasi:cli/run.run` the program runs instead of `_start`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentPlan {
    pub glue: Vec<GluePlan>,
    /// The core function `run` lifts: `() -> i32`, the discriminant of `result`.
    pub run: ExportRef,
    /// Called with `run`'s result once it has been read.
    pub post_return: Option<ExportRef>,
    /// How many component instances the program has (each its own handle table).
    pub instances: u32,
    /// Resource types the components define.
    pub resources: Vec<GuestResourcePlan>,
    /// Fused adapters between components (their glue is `GlueKind::Adapter`).
    pub adapters: Vec<AdapterPlan>,
}

/// A resource type a component defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestResourcePlan {
    /// The defining component instance.
    pub instance: u32,
    /// Its destructor (a core function export), if any.
    pub dtor: Option<ExportRef>,
}

/// A function lifted in one component instance (the callee) and lowered into another (the
/// caller, whose memory and realloc are the glue function's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterPlan {
    pub callee: ExportRef,
    pub callee_memory: Option<ExportRef>,
    pub callee_realloc: Option<ExportRef>,
    pub callee_string_encoding: u8,
    pub post_return: Option<ExportRef>,
    pub callee_instance: u32,
    pub caller_instance: u32,
}

impl GluePlan {
    /// A glue function without canonical options (a resource intrinsic).
    pub fn bare(ty: crate::FuncType, kind: GlueKind, instance: u32) -> GluePlan {
        GluePlan {
            ty,
            memory: None,
            realloc: None,
            string_encoding: 0,
            kind,
            instance,
        }
    }
}

/// What a glue function does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GlueKind {
    /// Calls its WASI 0.2 host function.
    #[default]
    Host,
    /// `resource.new`, `resource.rep` or `resource.drop` of guest resource `resource` on the
    /// handle table of component instance `instance`.
    ResourceNew {
        resource: u32,
        instance: u32,
    },
    ResourceRep {
        resource: u32,
        instance: u32,
    },
    ResourceDrop {
        resource: u32,
        instance: u32,
    },
    /// Fused adapter number `n` of [`ComponentPlan::adapters`].
    Adapter(u32),
}

/// One glue function: a lowered host function or a resource intrinsic, and the canonical
/// options the host needs to serve it. The memory and realloc are exports of instances
/// created before the first instance that imports the glue function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GluePlan {
    /// Its core type (checked against the importing module's like any import).
    pub ty: crate::FuncType,
    pub memory: Option<ExportRef>,
    pub realloc: Option<ExportRef>,
    /// 0 = utf8, 1 = utf16, 2 = latin1+utf16.
    pub string_encoding: u8,
    pub kind: GlueKind,
    /// The component instance the function is lowered into (whose handle table host
    /// resources it passes or drops are in).
    pub instance: u32,
}

/// One core instance to create: a compiled module and where each of its imports comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstancePlan {
    /// Index into the program's modules (one compiled module may be instantiated often).
    pub module: u32,
    /// One per import of the module, in order.
    pub imports: Vec<ImportSource>,
}

// SAFETY: as for ModuleDescriptor.
unsafe impl Sync for ProgramDescriptor {}

/// Grants and settings fixed at compile time for a command program, spelled as in
/// `wasmtime run`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandConfig {
    /// `--dir HOST::GUEST` preopens, in order.
    pub dirs: Vec<DirGrant>,
    /// `--env NAME=VALUE` (Some) and `--env NAME` (None: copy from the running environment).
    pub env: Vec<(String, Option<String>)>,
    /// `--inherit-env`.
    pub inherit_env: bool,
    /// The instances to create, in order; every import is wired at compile time. Each
    /// instance's `_initialize` export, if any, runs right after it is created; the last
    /// instance is the program, whose `_start` (or default export `""`) runs last.
    pub plan: Vec<InstancePlan>,
    /// For a component: its glue functions and lifted `run` (then no `_start` is run).
    pub component: Option<ComponentPlan>,
    /// `--inherit-network` (sockets are denied without it).
    pub inherit_network: bool,
    /// `--allow-ip-name-lookup` (name lookups are denied without it, even with the
    /// network).
    pub allow_ip_name_lookup: bool,
    /// `--max-gc-heap`: the most bytes the GC heap may hold; 0 for the runtime's default.
    pub max_gc_heap: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    pub host: String,
    pub guest: String,
}

impl CommandConfig {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(CONFIG_MAGIC);
        w.seq(&self.dirs, |w, d| {
            w.str(&d.host);
            w.str(&d.guest);
        });
        w.seq(&self.env, |w, (k, v)| {
            w.str(k);
            w.opt_str(v.as_deref());
        });
        w.bool(self.inherit_env);
        w.seq(&self.plan, |w, p| {
            w.u32(p.module);
            w.seq(&p.imports, |w, i| match *i {
                ImportSource::Host => w.u8(0),
                ImportSource::Instance { instance, export } => {
                    w.u8(1);
                    w.u32(instance);
                    w.u32(export);
                }
                ImportSource::Glue(n) => {
                    w.u8(2);
                    w.u32(n);
                }
            });
        });
        w.bool(self.inherit_network);
        w.bool(self.allow_ip_name_lookup);
        w.u64(self.max_gc_heap);
        match &self.component {
            None => w.u8(0),
            Some(c) => {
                w.u8(1);
                w.seq(&c.glue, |w, g| {
                    let w: &mut Writer = w;
                    w.seq(&g.ty.params, |w, t| crate::meta::enc_valtype(w, *t));
                    w.seq(&g.ty.results, |w, t| crate::meta::enc_valtype(w, *t));
                    enc_opt_export(w, g.memory);
                    enc_opt_export(w, g.realloc);
                    w.u8(g.string_encoding);
                    w.u32(g.instance);
                    match g.kind {
                        GlueKind::Host => w.u8(0),
                        GlueKind::ResourceNew { resource, instance } => {
                            w.u8(1);
                            w.u32(resource);
                            w.u32(instance);
                        }
                        GlueKind::ResourceRep { resource, instance } => {
                            w.u8(2);
                            w.u32(resource);
                            w.u32(instance);
                        }
                        GlueKind::ResourceDrop { resource, instance } => {
                            w.u8(3);
                            w.u32(resource);
                            w.u32(instance);
                        }
                        GlueKind::Adapter(n) => {
                            w.u8(4);
                            w.u32(n);
                        }
                    }
                });
                enc_export(&mut w, c.run);
                enc_opt_export(&mut w, c.post_return);
                w.u32(c.instances);
                w.seq(&c.resources, |w, r| {
                    w.u32(r.instance);
                    enc_opt_export(w, r.dtor);
                });
                w.seq(&c.adapters, |w, a| {
                    enc_export(w, a.callee);
                    enc_opt_export(w, a.callee_memory);
                    enc_opt_export(w, a.callee_realloc);
                    w.u8(a.callee_string_encoding);
                    enc_opt_export(w, a.post_return);
                    w.u32(a.callee_instance);
                    w.u32(a.caller_instance);
                });
            }
        }
        w.buf
    }

    pub fn decode(data: &[u8]) -> DecodeResult<CommandConfig> {
        let mut r = Reader::new(data);
        if r.u32()? != CONFIG_MAGIC {
            return Err(DecodeError("bad command config magic"));
        }
        let dirs = r.seq(|r| {
            Ok(DirGrant {
                host: r.string()?,
                guest: r.string()?,
            })
        })?;
        let env = r.seq(|r| Ok((r.string()?, r.opt_string()?)))?;
        let inherit_env = r.bool()?;
        let plan = r.seq(|r| {
            Ok(InstancePlan {
                module: r.u32()?,
                imports: r.seq(|r| match r.u8()? {
                    0 => Ok(ImportSource::Host),
                    1 => Ok(ImportSource::Instance {
                        instance: r.u32()?,
                        export: r.u32()?,
                    }),
                    2 => Ok(ImportSource::Glue(r.u32()?)),
                    _ => Err(DecodeError("bad import source")),
                })?,
            })
        })?;
        let inherit_network = r.bool()?;
        let allow_ip_name_lookup = r.bool()?;
        let max_gc_heap = r.u64()?;
        let component = match r.u8()? {
            0 => None,
            1 => {
                let glue = r.seq(|r| {
                    Ok(GluePlan {
                        ty: crate::FuncType {
                            params: r.seq(crate::meta::dec_valtype)?,
                            results: r.seq(crate::meta::dec_valtype)?,
                        },
                        memory: dec_opt_export(r)?,
                        realloc: dec_opt_export(r)?,
                        string_encoding: r.u8()?,
                        instance: r.u32()?,
                        kind: match r.u8()? {
                            0 => GlueKind::Host,
                            1 => GlueKind::ResourceNew {
                                resource: r.u32()?,
                                instance: r.u32()?,
                            },
                            2 => GlueKind::ResourceRep {
                                resource: r.u32()?,
                                instance: r.u32()?,
                            },
                            3 => GlueKind::ResourceDrop {
                                resource: r.u32()?,
                                instance: r.u32()?,
                            },
                            4 => GlueKind::Adapter(r.u32()?),
                            _ => return Err(DecodeError("bad glue kind")),
                        },
                    })
                })?;
                let run = dec_export(&mut r)?;
                let post_return = dec_opt_export(&mut r)?;
                let instances = r.u32()?;
                let resources = r.seq(|r| {
                    Ok(GuestResourcePlan {
                        instance: r.u32()?,
                        dtor: dec_opt_export(r)?,
                    })
                })?;
                let adapters = r.seq(|r| {
                    Ok(AdapterPlan {
                        callee: dec_export(r)?,
                        callee_memory: dec_opt_export(r)?,
                        callee_realloc: dec_opt_export(r)?,
                        callee_string_encoding: r.u8()?,
                        post_return: dec_opt_export(r)?,
                        callee_instance: r.u32()?,
                        caller_instance: r.u32()?,
                    })
                })?;
                Some(ComponentPlan {
                    glue,
                    run,
                    post_return,
                    instances,
                    resources,
                    adapters,
                })
            }
            _ => return Err(DecodeError("bad component flag")),
        };
        Ok(CommandConfig {
            dirs,
            env,
            inherit_env,
            plan,
            component,
            inherit_network,
            allow_ip_name_lookup,
            max_gc_heap,
        })
    }
}

fn enc_export(w: &mut Writer, e: ExportRef) {
    w.u32(e.instance);
    w.u32(e.export);
}

fn enc_opt_export(w: &mut Writer, e: Option<ExportRef>) {
    match e {
        None => w.u8(0),
        Some(e) => {
            w.u8(1);
            enc_export(w, e);
        }
    }
}

fn dec_export(r: &mut Reader) -> DecodeResult<ExportRef> {
    Ok(ExportRef {
        instance: r.u32()?,
        export: r.u32()?,
    })
}

fn dec_opt_export(r: &mut Reader) -> DecodeResult<Option<ExportRef>> {
    match r.u8()? {
        0 => Ok(None),
        1 => dec_export(r).map(Some),
        _ => Err(DecodeError("bad optional export")),
    }
}

const CONFIG_MAGIC: u32 = 0x4343_4100 | crate::ABI_VERSION;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_config_round_trips() {
        let c = CommandConfig {
            dirs: vec![DirGrant {
                host: "/tmp/x".into(),
                guest: "/data".into(),
            }],
            env: vec![("A".into(), Some("1".into())), ("HOME".into(), None)],
            inherit_env: true,
            plan: vec![
                InstancePlan {
                    module: 0,
                    imports: vec![ImportSource::Host],
                },
                InstancePlan {
                    module: 1,
                    imports: vec![
                        ImportSource::Instance {
                            instance: 0,
                            export: 3,
                        },
                        ImportSource::Host,
                        ImportSource::Glue(0),
                    ],
                },
            ],
            component: Some(ComponentPlan {
                glue: vec![GluePlan {
                    ty: crate::FuncType {
                        params: vec![crate::ValType::I32, crate::ValType::I64],
                        results: vec![crate::ValType::F64],
                    },
                    memory: Some(ExportRef {
                        instance: 0,
                        export: 1,
                    }),
                    realloc: None,
                    string_encoding: 2,
                    instance: 1,
                    kind: GlueKind::ResourceDrop {
                        resource: 1,
                        instance: 2,
                    },
                }],
                run: ExportRef {
                    instance: 1,
                    export: 7,
                },
                post_return: Some(ExportRef {
                    instance: 1,
                    export: 8,
                }),
                instances: 3,
                resources: vec![GuestResourcePlan {
                    instance: 2,
                    dtor: None,
                }],
                adapters: vec![AdapterPlan {
                    callee: ExportRef {
                        instance: 2,
                        export: 0,
                    },
                    callee_memory: None,
                    callee_realloc: None,
                    callee_string_encoding: 0,
                    post_return: None,
                    callee_instance: 1,
                    caller_instance: 0,
                }],
            }),
            inherit_network: true,
            allow_ip_name_lookup: true,
            max_gc_heap: 64 << 20,
        };
        assert_eq!(CommandConfig::decode(&c.encode()), Ok(c));
    }

    #[test]
    fn descriptor_layout_is_fixed() {
        assert_eq!(size_of::<TrapRecord>(), 12);
        assert_eq!(size_of::<ModuleDescriptor>(), 8 + 8 * 27);
        assert_eq!(size_of::<StackMapRecord>(), 20);
        assert_eq!(size_of::<InlineRecord>(), 16);
        assert_eq!(size_of::<HandlerRecord>(), 16);
        assert_eq!(size_of::<ProgramDescriptor>(), 8 + 8 * 7);
    }

    /// The compiler writes these offsets into objects for the target while it runs on the
    /// host: they must be the same numbers on every 64-bit host and target.
    #[test]
    fn descriptor_field_offsets_are_fixed() {
        assert_eq!(
            [
                offset_of!(TrapRecord, func),
                offset_of!(TrapRecord, offset),
                offset_of!(TrapRecord, kind),
            ],
            [0, 4, 8]
        );
        assert_eq!(
            [
                offset_of!(InlineRecord, func),
                offset_of!(InlineRecord, offset),
                offset_of!(InlineRecord, start),
                offset_of!(InlineRecord, len),
            ],
            [0, 4, 8, 12]
        );
        assert_eq!(
            [
                offset_of!(ModuleDescriptor, abi_version),
                offset_of!(ModuleDescriptor, bounds_mode),
                offset_of!(ModuleDescriptor, meta),
                offset_of!(ModuleDescriptor, meta_len),
                offset_of!(ModuleDescriptor, data),
                offset_of!(ModuleDescriptor, data_len),
                offset_of!(ModuleDescriptor, funcs),
                offset_of!(ModuleDescriptor, func_lens),
                offset_of!(ModuleDescriptor, num_funcs),
                offset_of!(ModuleDescriptor, trampolines),
                offset_of!(ModuleDescriptor, num_trampolines),
                offset_of!(ModuleDescriptor, traps),
                offset_of!(ModuleDescriptor, num_traps),
                offset_of!(ModuleDescriptor, inline_records),
                offset_of!(ModuleDescriptor, num_inline_records),
                offset_of!(ModuleDescriptor, inline_funcs),
                offset_of!(ModuleDescriptor, num_inline_funcs),
                offset_of!(ModuleDescriptor, handlers),
                offset_of!(ModuleDescriptor, num_handlers),
                offset_of!(ModuleDescriptor, host_imports),
                offset_of!(ModuleDescriptor, num_host_imports),
                offset_of!(ModuleDescriptor, stack_maps),
                offset_of!(ModuleDescriptor, num_stack_maps),
                offset_of!(ModuleDescriptor, stack_map_slots),
                offset_of!(ModuleDescriptor, num_stack_map_slots),
                offset_of!(ModuleDescriptor, stubs),
                offset_of!(ModuleDescriptor, stub_lens),
                offset_of!(ModuleDescriptor, num_stubs),
                offset_of!(ModuleDescriptor, flags),
            ],
            [
                0, 4, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144,
                152, 160, 168, 176, 184, 192, 200, 208, 216
            ]
        );
        assert_eq!(
            [
                offset_of!(StackMapRecord, func),
                offset_of!(StackMapRecord, ret_offset),
                offset_of!(StackMapRecord, span),
                offset_of!(StackMapRecord, start),
                offset_of!(StackMapRecord, len),
            ],
            [0, 4, 8, 12, 16]
        );
        assert_eq!(
            [
                offset_of!(HandlerRecord, func),
                offset_of!(HandlerRecord, ret_offset),
                offset_of!(HandlerRecord, handler_offset),
                offset_of!(HandlerRecord, frame_offset),
            ],
            [0, 4, 8, 12]
        );
        assert_eq!(
            [
                offset_of!(ProgramDescriptor, abi_version),
                offset_of!(ProgramDescriptor, reserved),
                offset_of!(ProgramDescriptor, run),
                offset_of!(ProgramDescriptor, modules),
                offset_of!(ProgramDescriptor, num_modules),
                offset_of!(ProgramDescriptor, config),
                offset_of!(ProgramDescriptor, config_len),
                offset_of!(ProgramDescriptor, glue),
                offset_of!(ProgramDescriptor, num_glue),
            ],
            [0, 4, 8, 16, 24, 32, 40, 48, 56]
        );
    }

    /// `to_bytes` is exactly the in-memory struct the runtime reads.
    #[test]
    fn records_encode_as_their_repr_c_layout() {
        fn raw<T>(v: &T) -> &[u8] {
            // SAFETY: `v` is a live `T` of plain u32 fields without padding, so all
            // size_of::<T>() bytes are initialised.
            unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
        }
        let t = TrapRecord {
            func: 0x0102_0304,
            offset: 0x1122_3344,
            kind: 7,
        };
        let i = InlineRecord {
            func: 1,
            offset: 0xdead_beef,
            start: 3,
            len: 0x0400_0000,
        };
        let h = HandlerRecord {
            func: 2,
            ret_offset: 0x10,
            handler_offset: 0x0102_0304,
            frame_offset: 0x30,
        };
        let m = StackMapRecord {
            func: 3,
            ret_offset: 0x1f,
            span: 48,
            start: 5,
            len: 0x0102_0304,
        };
        if cfg!(target_endian = "little") {
            assert_eq!(m.to_bytes(), raw(&m));
            assert_eq!(t.to_bytes(), raw(&t));
            assert_eq!(i.to_bytes(), raw(&i));
            assert_eq!(h.to_bytes(), raw(&h));
        }
        assert_eq!(t.to_bytes()[8..], [7, 0, 0, 0]);
        assert_eq!(i.to_bytes()[4..8], [0xef, 0xbe, 0xad, 0xde]);
    }

    /// The fixed base leaves room for the heap's randomised start below it, and the memory's
    /// reservation above it stays in the low part of every target's address space.
    #[test]
    fn fixed_memory0_base_is_clear_of_the_heap_and_suits_each_target() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let base = fixed_memory0_base(arch);
            assert_eq!(base % (64 << 10), 0);
            assert!(FIXED_MEMORY0_IMAGE_LIMIT + (1 << 30) < base, "{arch:?}");
            // The reservation ends below 12 GiB, far under any target's mmap area or stack
            // (arm64 with 39-bit addresses included).
            assert!(base + GUARDED_RESERVATION < 12 << 30, "{arch:?}");
        }
        // aarch64: one movz (a single 16-bit chunk), and not a 32-bit constant.
        let a = fixed_memory0_base(Arch::Aarch64);
        assert!(a > u32::MAX as u64 && [0, 16, 32, 48].iter().any(|s| a & !(0xffff << s) == 0));
    }

    #[test]
    fn bounds_mode_round_trips_through_u32() {
        for m in [BoundsMode::GuardPages, BoundsMode::Explicit] {
            assert_eq!(BoundsMode::from_u32(m as u32), Some(m));
        }
        assert_eq!(BoundsMode::from_u32(2), None);
    }
}
