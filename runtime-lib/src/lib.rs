//! The runtime library that every `aot` executable links: the C `main` ([`entry`]), linear
//! memories ([`memory`]) and the `memmove` generated code calls ([`memmove`]), tables ([`table`]), traps and the fault handler ([`trap`],
//! [`signals`]), the store every instance shares ([`store`]), instances and their vmctx
//! ([`instance`]), import matching ([`imports`]), instantiation plans ([`plan`]), the
//! functions generated code calls ([`builtins`]), the spec-script driver ([`spec`]), the
//! test host ([`test_host`]), the WASI preview 1 host ([`wasi`]), component resource handle
//! tables ([`resources`], not yet used by generated code) and the weak C functions musl
//! lacks ([`libc_glue`]). An executable links
//! only what its run function and its imports reach. (`linker` and `host`, a name registry
//! and a `spectest` module built in Rust, are unit-test scaffolding only.)
//!
//! Everything the generated code relies on (vmctx layout, trap codes, builtin signatures,
//! descriptor records) is defined in `aot_abi`, never here.

pub mod adapter;
mod arch;
pub mod builtins;
pub mod component;
pub mod composition;
pub mod entry;
pub mod exceptions;
mod folded;
mod gc;
#[cfg(test)]
pub mod host;
mod image;
pub mod imports;
pub mod instance;
#[cfg_attr(
    not(target_env = "musl"),
    allow(
        dead_code,
        reason = "exported on musl only (glibc has them); unit-tested here"
    )
)]
mod libc_glue;
#[cfg(test)]
pub mod linker;
pub mod memmove;
pub mod memory;
pub mod plan;
pub mod resources;
pub mod signals;
pub mod spec;
pub mod store;
pub mod table;
pub mod tasks;
pub mod test_host;
pub mod threads;
pub mod trap;
pub mod types;
pub mod waitqueue;
pub mod wasi;

/// Locking the runtime's shared objects (memories, tables, element segments).
pub(crate) trait Locked<T: ?Sized> {
    /// Locks, taking a poisoned lock as is: a runtime panic aborts the process, and the
    /// data behind these locks is consistent after every completed operation.
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T: ?Sized> Locked<T> for std::sync::Mutex<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Locks two distinct mutexes, always in address order, so that two threads locking the
/// same pair in opposite roles (a copy from A to B and one from B to A) cannot deadlock.
/// Returns the guards in argument order.
pub(crate) fn lock_pair<'a, T>(
    a: &'a std::sync::Mutex<T>,
    b: &'a std::sync::Mutex<T>,
) -> (std::sync::MutexGuard<'a, T>, std::sync::MutexGuard<'a, T>) {
    if (a as *const std::sync::Mutex<T>) < (b as *const std::sync::Mutex<T>) {
        let ga = a.locked();
        (ga, b.locked())
    } else {
        let gb = b.locked();
        (a.locked(), gb)
    }
}

/// `len` values at `ptr` as a slice that lives for the program: an empty slice when `len`
/// is 0, whatever `ptr` is (the compiler emits a valid pointer even then, tests may not).
/// Allocation-free, so the signal handler may use it.
///
/// # Safety
/// If `len > 0`, `ptr` must point to `len` initialised values that live for the program
/// (descriptor arrays in the executable's read-only image, or leaked allocations).
pub(crate) unsafe fn raw_slice<T>(ptr: *const T, len: usize) -> &'static [T] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { core::slice::from_raw_parts(ptr, len) }
    }
}
