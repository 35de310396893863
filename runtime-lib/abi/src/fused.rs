//! The contract of fused adapters: the code the compiler generates for each function
//! lifted in one component instance and lowered into another moves every value itself
//! (loads, stores, bounds, alignment, discriminant and `char` checks, list loops), and
//! calls into the runtime only for what needs the runtime's state: the callee's `realloc`,
//! strings (transcoding and UTF validation), resource handles (the instances' tables),
//! the call itself with its may-enter and may-leave rules, and reporting a fault.
//!
//! Each adapter keeps one [`AdapterFrame`] on its stack, filled by the `enter` entry; the
//! generated code reads the two memories' current base and length through it at every
//! access, so a memory that a `realloc` grows (and moves) is never read stale.

/// A side of an adapter call, as the entries take it.
pub const CALLER: i32 = 0;
pub const CALLEE: i32 = 1;

/// What an adapter keeps on its stack for the runtime entries, filled by `enter`.
#[repr(C)]
pub struct AdapterFrame {
    /// The caller's and the callee's memory definitions (`VMMemoryDef`): a side without a
    /// memory gets an empty one, so every access through it fails its bounds check.
    pub memories: [*const u8; 2],
    /// The call's borrow scope (see the runtime's handle tables).
    pub scope: u64,
}

/// Offset of the memory definition pointer of `side` in an [`AdapterFrame`].
pub const fn frame_memory(side: i32) -> u32 {
    (core::mem::offset_of!(AdapterFrame, memories) + side as usize * 8) as u32
}

pub const FRAME_SIZE: u32 = core::mem::size_of::<AdapterFrame>() as u32;

/// Symbol of adapter entry `name`: `aot_rt_adapter_<name>`.
pub fn entry_symbol(name: &str) -> String {
    format!("aot_rt_adapter_{name}")
}

/// A canonical ABI rule the generated code found broken; reported through the `fault`
/// entry, which raises it as a trap with wasmtime's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Fault {
    /// A pointer (to a list, string, the parameter or result area, or returned by
    /// realloc) not aligned for what it points to.
    UnalignedPointer = 1,
    /// The parameter or result area out of bounds of memory.
    MemoryOutOfBounds = 2,
    /// A string's bytes out of bounds of memory, or the string too long.
    StringOutOfBounds = 3,
    /// A list's bytes out of bounds of memory, or its byte length over 32 bits.
    ListOutOfBounds = 4,
    InvalidDiscriminant = 5,
    InvalidChar = 6,
}

impl Fault {
    pub fn from_i32(v: i32) -> Option<Fault> {
        Some(match v {
            1 => Fault::UnalignedPointer,
            2 => Fault::MemoryOutOfBounds,
            3 => Fault::StringOutOfBounds,
            4 => Fault::ListOutOfBounds,
            5 => Fault::InvalidDiscriminant,
            6 => Fault::InvalidChar,
            _ => return None,
        })
    }

    /// What wasmtime's fused adapters say.
    pub fn message(self) -> &'static str {
        match self {
            Fault::UnalignedPointer => "unaligned pointer",
            Fault::MemoryOutOfBounds => "out of bounds memory access",
            Fault::StringOutOfBounds => "string content out-of-bounds",
            Fault::ListOutOfBounds => "list content out-of-bounds",
            Fault::InvalidDiscriminant => "invalid variant discriminant",
            Fault::InvalidChar => "invalid `char` bit pattern",
        }
    }
}

/// Lists every runtime entry a fused adapter calls, with its signature, in the form of
/// [`crate::foreach_builtin!`] (`ptr`, `i32`, `i64`). The first argument is always the
/// adapter's glue context and the second its frame. Entries returning a status return 0
/// on success and nonzero when they left a trap pending (the adapter then returns at
/// once and its trampoline raises the trap); entries returning an `i64` value return -1
/// instead.
#[macro_export]
macro_rules! foreach_adapter_entry {
    ($m:ident) => {
        $m! {
            /// Checks may-leave, enters the callee's instance (may-enter) and fills the
            /// frame; returns a status.
            enter(ctx: ptr, frame: ptr) -> i32;
            /// The callee's or caller's (`side`) `realloc(0, 0, align, size)`, the result
            /// checked for alignment and bounds (`fault` if out of bounds); the pointer or
            /// -1.
            alloc(ctx: ptr, frame: ptr, side: i32, align: i32, size: i32, fault: i32) -> i64;
            /// Moves the string at (`ptr`, `len`, in the other side's encoding) into `side`
            /// (allocated there, in its encoding); writes the new (pointer, length) to
            /// `out`; returns a status.
            string(ctx: ptr, frame: ptr, side: i32, ptr: i32, len: i32, out: ptr) -> i32;
            /// Moves handle `handle` of resource type `resource` into `side` (an own handle
            /// when `borrow` is 0, else a borrow lent for the call); the new handle or -1.
            handle(ctx: ptr, frame: ptr, side: i32, borrow: i32, handle: i32, resource: i32) -> i64;
            /// Copies `len` bytes from the other side's memory at `src` to `side`'s at `dst`
            /// (both ranges checked by the caller).
            copy(ctx: ptr, frame: ptr, side: i32, dst: i32, src: i32, len: i32);
            /// Calls the callee (`what` 0) or its post-return (`what` 1) with the values in
            /// `values` (`ValRaw` slots; the callee's results come back in them); returns a
            /// status.
            call(ctx: ptr, frame: ptr, what: i32, values: ptr) -> i32;
            /// Ends the call: borrows lent to the callee must be gone; leaves the callee's
            /// instance; returns a status.
            exit(ctx: ptr, frame: ptr) -> i32;
            /// Leaves `fault` (a [`Fault`]) pending as a trap.
            fault(ctx: ptr, frame: ptr, fault: i32);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_layout() {
        assert_eq!([frame_memory(CALLER), frame_memory(CALLEE)], [0, 8]);
        assert_eq!(FRAME_SIZE, 24);
        for v in 1..=6 {
            assert_eq!(Fault::from_i32(v).map(|f| f as i32), Some(v));
        }
        assert_eq!(Fault::from_i32(0), None);
    }
}
