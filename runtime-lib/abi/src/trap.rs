//! Trap kinds: one stable numbering shared by the compiler's trap tables, the status codes
//! returned by builtins and the runtime's reports.
//!
//! The messages are wasmtime's, so that `wasm trap: <message>` reads the same and the spec
//! suite's expected texts (`"integer divide by zero"`, `"undefined element"`, ...) are
//! substrings of them.

/// Why a Wasm program trapped. `0` is reserved for "no trap" in builtin status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TrapKind {
    StackOverflow = 1,
    MemoryOutOfBounds = 2,
    HeapMisaligned = 3,
    TableOutOfBounds = 4,
    IndirectCallToNull = 5,
    BadSignature = 6,
    IntegerOverflow = 7,
    IntegerDivisionByZero = 8,
    BadConversionToInteger = 9,
    UnreachableCodeReached = 10,
    NullReference = 11,
    AtomicWaitNonSharedMemory = 12,
    /// A rule of the component model broken at a boundary the runtime guards (a handle,
    /// a string or list out of bounds, invalid UTF-8): the trap carries wasmtime's words for
    /// the particular rule. wasmtime reports these as errors, not traps, so a program ends
    /// with status 1 (`error: <words>`) rather than 134.
    ComponentAbi = 13,
    /// A lowered import or resource intrinsic called while the component may not leave
    /// (from its `realloc` or `post-return`).
    CannotLeaveComponent = 14,
    /// A rule of the component model a fused adapter between components checks (a
    /// pointer out of bounds or misaligned, a bad discriminant, re-entering an instance):
    /// a trap of the adapter's code, with wasmtime's words for the rule.
    ComponentTrap = 15,
    /// A Wasm exception (exception handling) that no handler caught before the entry into
    /// Wasm. wasmtime reports it as an error of the call, so a program ends with status 1
    /// (`error: thrown Wasm exception`).
    UncaughtException = 16,
    /// `ref.cast` or `br_on_cast`-free cast of a value that is not of the target type.
    CastFailure = 17,
    /// A GC array index or range past the array's length.
    ArrayOutOfBounds = 18,
    /// A GC object larger than any heap may hold (over 4 GiB, as wasmtime).
    AllocationTooLarge = 19,
    /// The GC heap cannot hold a new object within its maximum size even after a full
    /// collection. wasmtime reports this as an error of the call, not a trap, so a program
    /// ends with status 1.
    GcHeapOutOfMemory = 20,
}

impl TrapKind {
    pub const ALL: [TrapKind; 20] = [
        TrapKind::StackOverflow,
        TrapKind::MemoryOutOfBounds,
        TrapKind::HeapMisaligned,
        TrapKind::TableOutOfBounds,
        TrapKind::IndirectCallToNull,
        TrapKind::BadSignature,
        TrapKind::IntegerOverflow,
        TrapKind::IntegerDivisionByZero,
        TrapKind::BadConversionToInteger,
        TrapKind::UnreachableCodeReached,
        TrapKind::NullReference,
        TrapKind::AtomicWaitNonSharedMemory,
        TrapKind::ComponentAbi,
        TrapKind::CannotLeaveComponent,
        TrapKind::ComponentTrap,
        TrapKind::UncaughtException,
        TrapKind::CastFailure,
        TrapKind::ArrayOutOfBounds,
        TrapKind::AllocationTooLarge,
        TrapKind::GcHeapOutOfMemory,
    ];

    pub fn from_u32(code: u32) -> Option<TrapKind> {
        TrapKind::ALL.iter().copied().find(|k| *k as u32 == code)
    }

    /// The text printed after `wasm trap: `.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::StackOverflow => "call stack exhausted",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::HeapMisaligned => "unaligned atomic",
            TrapKind::TableOutOfBounds => "undefined element: out of bounds table access",
            TrapKind::IndirectCallToNull => "uninitialized element",
            TrapKind::BadSignature => "indirect call type mismatch",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::IntegerDivisionByZero => "integer divide by zero",
            TrapKind::BadConversionToInteger => "invalid conversion to integer",
            TrapKind::UnreachableCodeReached => "wasm `unreachable` instruction executed",
            TrapKind::NullReference => "null reference",
            TrapKind::AtomicWaitNonSharedMemory => "atomic wait on non-shared memory",
            TrapKind::ComponentAbi => "canonical ABI violation",
            TrapKind::CannotLeaveComponent => "cannot leave component instance",
            TrapKind::ComponentTrap => "component model trap",
            TrapKind::UncaughtException => "thrown Wasm exception",
            TrapKind::CastFailure => "cast failure",
            TrapKind::ArrayOutOfBounds => "out of bounds array access",
            TrapKind::AllocationTooLarge => "allocation size too large",
            TrapKind::GcHeapOutOfMemory => "GC heap out of memory",
        }
    }
}

/// Exit code of a process that ends in a trap (wasmtime's: 128 + SIGABRT).
pub const TRAP_EXIT_CODE: i32 = 134;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_nonzero() {
        for k in TrapKind::ALL {
            assert_ne!(k as u32, 0);
            assert_eq!(TrapKind::from_u32(k as u32), Some(k));
        }
        assert_eq!(TrapKind::from_u32(0), None);
    }
}
