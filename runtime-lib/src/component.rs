//! Components at run time: the glue functions a component's core instances import (the
//! lowered WASI 0.2 functions and resource intrinsics the compiler generated host-call
//! trampolines for), the context each is called with, and running the lifted
//! `wasi:cli/run.run`.
//!
//! Everything was matched and type-checked at compile time (`aot_abi::ComponentPlan`):
//! here a glue function only gets its [`GlueCtx`], built once the instances holding its
//! canonical options (memory, realloc) exist, and the host function behind the trampoline
//! finds the options there. No type descriptor is read at run time: each host function
//! is written for its one flat signature.

use std::sync::atomic::{AtomicBool, Ordering};

use aot_abi::{
    ComponentPlan, ExportRef, ExternKind, GlueKind, GluePlan, TrapKind, VMCTX_STORE, VMStoreContext,
};

use crate::instance::{Extern, FuncHandle, Instance, MemoryRef, intern_type};
use crate::store::Store;
use crate::trap::Trap;
use crate::wasi::guest::GuestMemory;

/// The component instance's may-leave flag: cleared while the host runs the guest's
/// `realloc` or `post-return`, during which calling out of the component (any lowered
/// import or resource intrinsic) traps, as the canonical ABI requires. (May-enter needs no
/// flag: nothing can call back into the component's one export while it runs.)
static MAY_LEAVE: AtomicBool = AtomicBool::new(true);

/// Whether the component may call out now (see [`MAY_LEAVE`]).
pub fn may_leave() -> bool {
    MAY_LEAVE.load(Ordering::Relaxed)
}

/// Runs `f` (a call into the guest that must not call out) with may-leave cleared.
fn without_leaving<T>(f: impl FnOnce() -> T) -> T {
    let before = MAY_LEAVE.swap(false, Ordering::Relaxed);
    let r = f();
    MAY_LEAVE.store(before, Ordering::Relaxed);
    r
}

/// What a glue function is called with in place of a vmctx. Its first word is where a
/// vmctx keeps its store pointer, so the host-call trampoline records the Wasm-to-host
/// transition and checks for a pending trap exactly as for a core host import.
#[repr(C)]
pub struct GlueCtx {
    store: *const VMStoreContext,
    memory: Option<MemoryRef>,
    /// The instance exporting the guest allocator, and the allocator's function index.
    realloc: Option<(&'static Instance, u32)>,
    string_encoding: u8,
    kind: GlueKind,
    /// The component instance the function is lowered into.
    instance: u32,
}

/// A core function of an instance: the instance and the function's index.
pub type CoreFunc = (&'static Instance, u32);

const _: () = assert!(core::mem::offset_of!(GlueCtx, store) == VMCTX_STORE as usize);

// SAFETY: the store pointer is to the program's static store context; the rest is
// Send + Sync on its own (instances and memories are shared by design, see instance.rs).
unsafe impl Send for GlueCtx {}
// SAFETY: as above; nothing in a GlueCtx changes after it is made.
unsafe impl Sync for GlueCtx {}

impl GlueCtx {
    /// # Safety
    /// `raw` must be the context pointer a glue function was called with (made by
    /// [`make_glue`], never freed).
    pub unsafe fn from_raw<'a>(raw: *mut u8) -> &'a GlueCtx {
        // SAFETY: per the caller; contexts are leaked boxes.
        unsafe { &*raw.cast::<GlueCtx>() }
    }

    pub fn store(&self) -> &'static Store {
        // SAFETY: a GlueCtx starts like a vmctx (the assertion above), and its store
        // pointer was taken from a live instance's vmctx.
        unsafe { Store::from_vmctx((self as *const GlueCtx).cast_mut().cast()) }
    }

    /// The memory of the canonical options (empty if the lowering has none).
    ///
    /// The view must be dropped before Wasm runs again ([`GlueCtx::realloc`]): the memory
    /// may grow and move.
    pub fn memory(&self) -> GuestMemory<'_> {
        match &self.memory {
            Some(m) => {
                let len = usize::try_from(m.len_bytes()).unwrap_or(usize::MAX);
                // SAFETY: the memory's accessible bytes are [base, base + len) while no
                // Wasm code runs, which holds until the view is dropped (see above).
                unsafe { GuestMemory::from_raw(m.base(), len) }
            }
            None => GuestMemory::from_slice(&mut []),
        }
    }

    /// Calls the guest's `realloc(old_ptr, old_size, align, new_size)`, returning the new
    /// pointer; a trap in it, or a lowering without a realloc, is an error trap.
    pub fn realloc(
        &self,
        old_ptr: u32,
        old_size: u32,
        align: u32,
        new_size: u32,
    ) -> Result<u32, Trap> {
        let Some((instance, func)) = self.realloc else {
            return Err(self.trap("no realloc option for a lowering that needs one"));
        };
        let args = [old_ptr, old_size, align, new_size].map(aot_abi::ValRaw::from_u32);
        let result = without_leaving(|| instance.call(func, &args))?;
        let ptr = result.first().map_or(0, |v| v.u32());
        if !ptr.is_multiple_of(align.max(1)) {
            return Err(self.trap("realloc return: result not aligned"));
        }
        let end = u64::from(ptr) + u64::from(new_size);
        let len = self.memory.as_ref().map_or(0, MemoryRef::len_bytes);
        if end > len {
            return Err(self.trap("realloc return: beyond end of memory"));
        }
        Ok(ptr)
    }

    pub fn string_encoding(&self) -> u8 {
        self.string_encoding
    }

    pub fn kind(&self) -> GlueKind {
        self.kind
    }

    /// The component instance the function is lowered into.
    pub fn instance(&self) -> u32 {
        self.instance
    }

    pub fn memory_ref(&self) -> Option<&MemoryRef> {
        self.memory.as_ref()
    }

    pub fn realloc_func(&self) -> Option<CoreFunc> {
        self.realloc
    }

    /// A [`TrapKind::ComponentAbi`] trap saying `message`, with the backtrace of the Wasm
    /// frames that called the host function now running.
    pub fn trap(&self, message: impl Into<String>) -> Trap {
        let mut trap = self.store().host_trap(TrapKind::ComponentAbi);
        trap.detail = Some(message.into());
        trap
    }
}

/// Glue function `n` of `plan` as an import: its trampoline `code` with a fresh context
/// whose options are exports of `instances`.
pub fn make_glue(
    n: u32,
    code: *const u8,
    plan: &GluePlan,
    instances: &[&'static Instance],
) -> Result<Extern, String> {
    let export = |e: ExportRef, kind: ExternKind| -> Result<Extern, String> {
        let instance = instances
            .get(e.instance as usize)
            .ok_or_else(|| format!("glue {n}: instance {} does not exist yet", e.instance))?;
        let ext = instance.export_by_index(e.export).ok_or_else(|| {
            format!(
                "glue {n}: instance {} has no export {}",
                e.instance, e.export
            )
        })?;
        let ok = matches!(
            (&ext, kind),
            (Extern::Memory(_), ExternKind::Memory) | (Extern::Func(_), ExternKind::Func)
        );
        ok.then_some(ext).ok_or_else(|| {
            format!(
                "glue {n}: export {} of instance {} is of the wrong kind",
                e.export, e.instance
            )
        })
    };
    let memory = match plan.memory {
        Some(e) => match export(e, ExternKind::Memory)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        },
        None => None,
    };
    let realloc = match plan.realloc {
        Some(e) => Some(core_func(e, instances).map_err(|m| format!("glue {n}: realloc: {m}"))?),
        None => None,
    };
    if code.is_null() {
        return Err(format!("glue {n} has no code"));
    }
    let store = crate::store::store().context() as *const VMStoreContext;
    let ctx = Box::leak(Box::new(GlueCtx {
        store,
        memory,
        realloc,
        string_encoding: plan.string_encoding,
        kind: plan.kind,
        instance: plan.instance,
    }));
    Ok(Extern::Func(FuncHandle {
        code,
        vmctx: (ctx as *mut GlueCtx).cast(),
        type_id: intern_type(&plan.ty),
    }))
}

/// Export `e` (a function) of the instances created so far, as a callable core function.
pub fn core_func(e: ExportRef, instances: &[&'static Instance]) -> Result<CoreFunc, String> {
    let instance = *instances
        .get(e.instance as usize)
        .ok_or_else(|| format!("instance {} does not exist yet", e.instance))?;
    let index = instance
        .meta()
        .exports
        .get(e.export as usize)
        .filter(|x| x.kind == ExternKind::Func)
        .map(|x| x.index)
        .ok_or_else(|| {
            format!(
                "instance {} has no function export {}",
                e.instance, e.export
            )
        })?;
    Ok((instance, index))
}

/// Export `e` (a memory) of the instances created so far.
pub fn core_memory(e: ExportRef, instances: &[&'static Instance]) -> Result<MemoryRef, String> {
    match instances
        .get(e.instance as usize)
        .and_then(|i| i.export_by_index(e.export))
    {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(format!(
            "instance {} has no memory export {}",
            e.instance, e.export
        )),
    }
}

/// Runs `f`, a call into the component's guest code made by the runtime on its behalf
/// (a realloc or post-return), during which it may not call out.
pub fn guest_call<T>(f: impl FnOnce() -> T) -> T {
    without_leaving(f)
}

/// Runs the component's lifted `run` (`() -> result`): 0 when it returns `ok`, 1 when it
/// returns `err`, as `wasmtime run` does; `post-return` is called with its result first.
pub fn run(
    instances: &[&'static Instance],
    plan: &ComponentPlan,
) -> Result<Result<i32, Trap>, String> {
    let func = |e: ExportRef| -> Result<(&'static Instance, u32), String> {
        let instance = *instances.get(e.instance as usize).ok_or_else(|| {
            format!(
                "the lifted function's instance {} does not exist",
                e.instance
            )
        })?;
        let ex = instance
            .meta()
            .exports
            .get(e.export as usize)
            .filter(|x| x.kind == ExternKind::Func)
            .ok_or_else(|| {
                format!(
                    "instance {} has no function export {}",
                    e.instance, e.export
                )
            })?;
        Ok((instance, ex.index))
    };
    let (instance, index) = func(plan.run)?;
    if instance
        .func_type(index)
        .is_none_or(|t| !t.params.is_empty() || t.results.len() != 1)
    {
        return Err("the lifted `run` is not a core function of type [] -> [i32]".into());
    }
    let result = match instance.call(index, &[]) {
        Ok(r) => r,
        Err(trap) => return Ok(Err(trap)),
    };
    let status = result.first().map_or(0, |v| v.u32());
    if let Some(post) = plan.post_return {
        let (pi, pindex) = func(post)?;
        if let Err(trap) = without_leaving(|| pi.call(pindex, &result)) {
            return Ok(Err(trap));
        }
    }
    match status {
        0 => Ok(Ok(0)),
        1 => Ok(Ok(1)),
        _ => Ok(Err(Trap {
            kind: TrapKind::ComponentAbi,
            pc: 0,
            backtrace: Vec::new(),
            detail: Some("invalid variant discriminant".into()),
        })),
    }
}
