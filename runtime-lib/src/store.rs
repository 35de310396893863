//! The store: what all instances of one program share with each other and with the host.
//!
//! It owns the program's [`VMStoreContext`], which every vmctx points to (offset
//! `aot_abi::VMCTX_STORE`): the stack limit of the thread now running Wasm, the last
//! Wasm-to-host transition and the pending-trap flag, all read or written by generated
//! code; beside it the trap a host function leaves for its host-call trampoline to raise;
//! and the host state (the WASI context), which host functions reach from their caller's
//! vmctx. The main thread's instances use the program's store ([`store`]); each thread that
//! wasi-threads starts gets a store of its own ([`Store::for_thread`]) over the same host
//! state, which is why nothing here is a thread-local.

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use aot_abi::{TrapKind, VMCTX_STORE, VMStoreContext};

use crate::trap::{self, Trap};

pub struct Store {
    context: VMStoreContext,
    /// The trap `context.pending_trap` announces.
    pending: Mutex<Option<Trap>>,
    /// The host state: the WASI context the store's host calls use.
    wasi: crate::wasi::CtxSlot,
    /// The GC heap of the store's instances. Locked only when generated code's inline
    /// allocation cannot go on (and by instantiation).
    gc: Mutex<crate::gc::Heap>,
}

static STORE: Store = Store::new(core::ptr::null_mut());

/// The program's store: the main thread's.
pub fn store() -> &'static Store {
    &STORE
}

impl Store {
    const fn new(wasi: *mut crate::wasi::WasiCtx) -> Store {
        Store {
            context: VMStoreContext::new(),
            pending: Mutex::new(None),
            wasi: crate::wasi::CtxSlot::new(wasi),
            gc: Mutex::new(crate::gc::Heap::new()),
        }
    }

    /// A store for a new thread's instances, sharing `self`'s host state (the WASI
    /// context is built for use from several threads at once). Leaked, as instances are:
    /// their vmctx points at it.
    pub fn for_thread(&self) -> &'static Store {
        let wasi = crate::wasi::ctx(self) as *const crate::wasi::WasiCtx;
        Box::leak(Box::new(Store::new(wasi.cast_mut())))
    }

    pub fn context(&self) -> &VMStoreContext {
        &self.context
    }

    /// Frees a store made by [`Store::for_thread`].
    ///
    /// # Safety
    /// `store` came from `for_thread`, and no instance that uses it is alive.
    pub(crate) unsafe fn free_thread_store(store: &'static Store) {
        // SAFETY: per the contract, `store` is a leaked Box nothing refers to any more.
        drop(unsafe { Box::from_raw(store as *const Store as *mut Store) });
    }

    /// The store of the instance whose vmctx is `vmctx`.
    ///
    /// # Safety
    /// `vmctx` must be the vmctx of a live instance (as every builtin and host function
    /// receives).
    pub unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a Store {
        // SAFETY: per the contract, offset VMCTX_STORE of the vmctx holds the pointer
        // written at instantiation, to the context field of a `Store` that lives forever.
        unsafe {
            let context = vmctx
                .add(VMCTX_STORE as usize)
                .cast::<*const VMStoreContext>()
                .read();
            &*context
                .byte_sub(core::mem::offset_of!(Store, context))
                .cast::<Store>()
        }
    }

    /// The store's GC heap.
    pub(crate) fn gc(&self) -> std::sync::MutexGuard<'_, crate::gc::Heap> {
        self.gc.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the store's WASI context lives (see `wasi::init`).
    pub(crate) fn wasi_slot(&self) -> &crate::wasi::CtxSlot {
        &self.wasi
    }

    /// Runs `f`, a call into Wasm code of this store, as one entry into Wasm (see
    /// `trap::call_wasm`, whose contract `f` must keep).
    pub fn call_wasm<F: FnMut()>(&self, f: F) -> Result<(), Trap> {
        trap::call_wasm(&self.context, f)
    }

    /// For a host function called from Wasm through a host-call trampoline: makes the
    /// trampoline raise `trap` once the host function returns. (Raising it from the host
    /// function itself would unwind the host frames without running their destructors.)
    pub fn set_pending_trap(&self, trap: Trap) {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(trap);
        self.context.pending_trap.store(1, Ordering::Release);
    }

    /// A trap of `kind` raised by the host function now running, with the backtrace of
    /// the Wasm frames that called it.
    pub fn host_trap(&self, kind: TrapKind) -> Trap {
        trap::host_trap(&self.context, kind, crate::signals::frame_readable)
    }

    /// Takes the pending trap and clears the flag.
    pub(crate) fn take_pending_trap(&self) -> Option<Trap> {
        self.context.pending_trap.store(0, Ordering::Relaxed);
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vmctx_leads_back_to_its_store() {
        let mut vmctx = [0usize; 2];
        vmctx[0] = store().context() as *const VMStoreContext as usize;
        // SAFETY: a fake vmctx whose store field points at the program's store.
        let s = unsafe { Store::from_vmctx(vmctx.as_mut_ptr().cast()) };
        assert!(core::ptr::eq(s, store()));
    }

    #[test]
    fn a_pending_trap_is_taken_once() {
        let s = store();
        s.set_pending_trap(Trap {
            kind: TrapKind::UnreachableCodeReached,
            pc: 0,
            backtrace: Vec::new(),
            detail: None,
        });
        assert_eq!(s.context().pending_trap.load(Ordering::Relaxed), 1);
        let t = s.take_pending_trap().expect("set above");
        assert_eq!(t.kind, TrapKind::UnreachableCodeReached);
        assert_eq!(s.context().pending_trap.load(Ordering::Relaxed), 0);
        assert!(s.take_pending_trap().is_none());
    }
}
