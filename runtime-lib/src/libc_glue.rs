//! The functions that Rust's std and the C runtime files (`crtbegin.o`) declare weak and that
//! musl does not define: `__cxa_thread_atexit_impl`, `__register_frame_info` and
//! `__deregister_frame_info`. (The two weak ones musl does define, `getrandom` and
//! `__cxa_finalize`, the linker pulls from `libc.a`; see `aot::link`.)
//!
//! Why define them: an undefined weak function has address 0, and the code calling it (after
//! a null test) does so with a direct branch. On aarch64 a direct branch reaches ±128 MiB,
//! and an executable whose data image or code puts the caller further than that from
//! address 0 fails to link. Defined here, each is an ordinary call within the image, and
//! behaves as its absence did.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A thread-local destructor and its object.
type Dtor = unsafe extern "C" fn(*mut c_void);
type Destructors = Vec<(Dtor, *mut c_void)>;

/// The pthread key whose per-thread value is the thread's `Destructors`, stored plus one so
/// that 0 means not created yet.
static KEY: AtomicUsize = AtomicUsize::new(0);

/// The key, created on first use.
fn key() -> Option<libc::pthread_key_t> {
    let k = KEY.load(Ordering::Acquire);
    if k != 0 {
        return Some((k - 1) as libc::pthread_key_t);
    }
    let mut new: libc::pthread_key_t = 0;
    // SAFETY: `new` is a valid place for the key; `run` has the destructor's signature.
    if unsafe { libc::pthread_key_create(&mut new, Some(run)) } != 0 {
        return None;
    }
    match KEY.compare_exchange(0, new as usize + 1, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(new),
        Err(winner) => {
            // SAFETY: `new` was created above and nothing has used it.
            unsafe { libc::pthread_key_delete(new) };
            Some((winner - 1) as libc::pthread_key_t)
        }
    }
}

/// Registers `dtor(obj)` to run when the calling thread exits, after the destructors
/// registered later. A pthread key runs them, as in std's own fallback for when this
/// function is missing, so the main thread's do not run at `exit` (glibc's would).
///
/// # Safety
/// `dtor` must be safe to call with `obj` on this thread when it exits.
#[cfg_attr(target_env = "musl", unsafe(no_mangle))]
pub unsafe extern "C" fn __cxa_thread_atexit_impl(
    dtor: Dtor,
    obj: *mut c_void,
    _dso_symbol: *mut c_void,
) -> c_int {
    let Some(key) = key() else {
        return -1;
    };
    // SAFETY: `key` is a created key; its value on this thread is null or a `Destructors`
    // that this function boxed.
    let mut list = unsafe { libc::pthread_getspecific(key) }.cast::<Destructors>();
    if list.is_null() {
        list = Box::into_raw(Box::new(Destructors::new()));
        // SAFETY: as above; `list` is a live box.
        if unsafe { libc::pthread_setspecific(key, list.cast()) } != 0 {
            // SAFETY: `list` came from `Box::into_raw` and nothing else holds it.
            drop(unsafe { Box::from_raw(list) });
            return -1;
        }
    }
    // SAFETY: `list` is this thread's live `Destructors`, used by this thread only.
    unsafe { (*list).push((dtor, obj)) };
    0
}

/// The key's destructor: runs a thread's destructors, latest first. pthread has cleared the
/// thread's value before calling, so a destructor that registers another starts a new list,
/// which pthread runs in its next round.
unsafe extern "C" fn run(list: *mut c_void) {
    // SAFETY: the key's non-null values are `Destructors` boxed by
    // `__cxa_thread_atexit_impl`, and pthread passes each one here once.
    let list = unsafe { Box::from_raw(list.cast::<Destructors>()) };
    for &(dtor, obj) in list.iter().rev() {
        // SAFETY: the registration's contract.
        unsafe { dtor(obj) };
    }
}

/// `crtbegin.o` registers its `.eh_frame` with this when it is defined. Unwinding here
/// finds frames through `PT_GNU_EH_FRAME` (the link passes `--eh-frame-hdr`), so there is
/// nothing to register.
#[cfg_attr(target_env = "musl", unsafe(no_mangle))]
pub extern "C" fn __register_frame_info(_eh_frame: *const c_void, _object: *mut c_void) {}

/// The counterpart `crtbegin.o` calls at exit: nothing was registered.
#[cfg_attr(target_env = "musl", unsafe(no_mangle))]
pub extern "C" fn __deregister_frame_info(_eh_frame: *const c_void) -> *mut c_void {
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    static LOG: Mutex<Vec<usize>> = Mutex::new(Vec::new());

    unsafe extern "C" fn record(obj: *mut c_void) {
        LOG.lock().expect("log").push(obj as usize);
    }

    /// Records itself, then registers `record(4)`: a destructor registered while the
    /// thread's destructors run.
    unsafe extern "C" fn record_and_register(obj: *mut c_void) {
        LOG.lock().expect("log").push(obj as usize);
        // SAFETY: `record` may run with any value on any thread.
        let status =
            unsafe { __cxa_thread_atexit_impl(record, 4 as *mut c_void, std::ptr::null_mut()) };
        assert_eq!(status, 0);
    }

    #[test]
    fn destructors_run_at_thread_exit_latest_first_and_late_ones_too() {
        std::thread::spawn(|| {
            for (dtor, obj) in [
                (record as Dtor, 1usize),
                (record, 2),
                (record_and_register, 3),
            ] {
                // SAFETY: both destructors may run with any value on any thread.
                let status = unsafe {
                    __cxa_thread_atexit_impl(dtor, obj as *mut c_void, std::ptr::null_mut())
                };
                assert_eq!(status, 0);
            }
            assert!(
                LOG.lock().expect("log").is_empty(),
                "nothing runs before the exit"
            );
        })
        .join()
        .expect("the thread");
        assert_eq!(*LOG.lock().expect("log"), [3, 2, 1, 4]);
    }
}
