//! What component instances hold apart from their core instances: one handle table each
//! for the resources components define (guest resources), the resource intrinsics over
//! them (`resource.new`, `resource.rep`, `resource.drop`, which runs the destructor of the
//! last own handle), the may-enter flags of the fused adapters between components, and
//! the runtime entries of those adapters (`aot_abi::fused`).
//!
//! Host resources (WASI streams, descriptors, ...) are not here: their handles live in the
//! WASI 0.2 face's tables (`wasi::p2`), also one per component instance; an adapter moves
//! them between those tables through `wasi::p2::move_handle`.
//!
//! The state is built from the program's `ComponentPlan` before any core instance exists
//! ([`init`]), and learns each instance as it is created ([`instance_created`]): a
//! destructor or an adapter's callee is an export of an instance that may not exist yet
//! when the glue function naming it is made.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use aot_abi::{ComponentPlan, GlueKind};

use crate::Locked;
use crate::component::{self, CoreFunc, GlueCtx};
use crate::instance::Instance;
use crate::resources::{Dropped, HandleError, HandleTable, ResourceType};
use crate::trap::Trap;

pub struct Composition {
    plan: ComponentPlan,
    /// Per component instance, its guest-resource handles.
    tables: Vec<Mutex<HandleTable>>,
    /// Per component instance, whether an adapter call into it is in progress.
    entered: Vec<AtomicBool>,
    /// Per adapter, its callee side once resolved.
    callees: Vec<OnceLock<Callee>>,
    instances: Mutex<Vec<&'static Instance>>,
}

static STATE: OnceLock<Composition> = OnceLock::new();

/// Sets up the component instances of `plan` (once per program).
pub fn init(plan: &ComponentPlan) {
    let n = plan.instances as usize;
    let _ = STATE.set(Composition {
        plan: plan.clone(),
        tables: (0..n).map(|_| Mutex::new(HandleTable::new())).collect(),
        entered: (0..n).map(|_| AtomicBool::new(false)).collect(),
        callees: plan.adapters.iter().map(|_| OnceLock::new()).collect(),
        instances: Mutex::new(Vec::new()),
    });
}

/// Records the next core instance of the plan.
pub fn instance_created(instance: &'static Instance) {
    if let Some(s) = STATE.get() {
        s.instances.locked().push(instance);
    }
}

pub fn state() -> Option<&'static Composition> {
    STATE.get()
}

impl Composition {
    pub fn plan(&self) -> &ComponentPlan {
        &self.plan
    }

    pub fn instances(&self) -> Vec<&'static Instance> {
        self.instances.locked().clone()
    }

    /// The handle table of component instance `instance`.
    pub fn table(&self, instance: u32) -> Option<&Mutex<HandleTable>> {
        self.tables.get(instance as usize)
    }

    /// The component instance that defines guest resource `resource`.
    pub fn owner(&self, resource: u32) -> Option<u32> {
        self.plan
            .resources
            .get(resource as usize)
            .map(|r| r.instance)
    }

    /// Runs the destructor of guest resource `resource` on `rep`, if it has one.
    fn destroy(&self, resource: u32, rep: u32) -> Result<(), Trap> {
        let Some(dtor) = self
            .plan
            .resources
            .get(resource as usize)
            .and_then(|r| r.dtor)
        else {
            return Ok(());
        };
        let (instance, index): CoreFunc = match component::core_func(dtor, &self.instances()) {
            Ok(f) => f,
            Err(_) => return Ok(()),
        };
        // A destructor is an ordinary call into its component: it may call out (print,
        // drop its own handles).
        instance.call(index, &[aot_abi::ValRaw::from_u32(rep)])?;
        Ok(())
    }
}

/// A trap for a broken handle rule, with the backtrace of the calling Wasm frames.
fn handle_trap(glue: &GlueCtx, e: HandleError) -> Trap {
    glue.trap(e.message())
}

/// Runs a resource intrinsic's body, leaving any trap pending for the trampoline.
fn intrinsic(
    raw: *mut u8,
    body: impl FnOnce(&GlueCtx, &Composition, u32, u32) -> Result<i32, Trap>,
) -> i32 {
    // SAFETY: the glue trampoline passes the context it was called with.
    let glue = unsafe { GlueCtx::from_raw(raw) };
    let store = glue.store();
    if !component::may_leave() {
        store.set_pending_trap(store.host_trap(aot_abi::TrapKind::CannotLeaveComponent));
        return 0;
    }
    let (resource, instance) = match glue.kind() {
        GlueKind::ResourceNew { resource, instance }
        | GlueKind::ResourceRep { resource, instance }
        | GlueKind::ResourceDrop { resource, instance } => (resource, instance),
        _ => (u32::MAX, u32::MAX),
    };
    let Some(state) = state() else {
        store.set_pending_trap(glue.trap("resource intrinsic outside a component"));
        return 0;
    };
    match body(glue, state, resource, instance) {
        Ok(v) => v,
        Err(trap) => {
            store.set_pending_trap(trap);
            0
        }
    }
}

fn table<'s>(
    glue: &GlueCtx,
    state: &'s Composition,
    instance: u32,
) -> Result<&'s Mutex<HandleTable>, Trap> {
    state
        .table(instance)
        .ok_or_else(|| glue.trap("resource intrinsic of an unknown component instance"))
}

/// `resource.new`: a new own handle for `rep` in the defining instance's table.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_resource_new(raw: *mut u8, rep: i32) -> i32 {
    intrinsic(raw, |glue, state, resource, instance| {
        let mut t = table(glue, state, instance)?.locked();
        t.new_own(ResourceType(resource), rep as u32)
            .map(|h| h as i32)
            .map_err(|e| handle_trap(glue, e))
    })
}

/// `resource.rep`: the representation of an own handle.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_resource_rep(raw: *mut u8, handle: i32) -> i32 {
    intrinsic(raw, |glue, state, resource, instance| {
        let t = table(glue, state, instance)?.locked();
        t.rep(handle as u32, ResourceType(resource))
            .map(|r| r as i32)
            .map_err(|e| handle_trap(glue, e))
    })
}

/// `resource.drop`: removes the handle; dropping an own handle runs the resource's
/// destructor (with the table unlocked: the destructor may drop other handles).
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_resource_drop(raw: *mut u8, handle: i32) {
    intrinsic(raw, |glue, state, resource, instance| {
        let dropped = table(glue, state, instance)?
            .locked()
            .drop_handle(handle as u32, ResourceType(resource))
            .map_err(|e| handle_trap(glue, e))?;
        if let Dropped::Own { rep } = dropped {
            state.destroy(resource, rep)?;
        }
        Ok(0)
    });
}

// ---------------------------------------------------------------------------------------
// Fused adapters: the runtime entries their generated code calls (`aot_abi::fused`)

use std::sync::atomic::AtomicU64;

use aot_abi::ctypes::HOST_RESOURCE;
use aot_abi::fused::{AdapterFrame, CALLER, Fault};
use aot_abi::{VMMemoryDef, ValRaw};

use crate::adapter::{self, AdapterError, Side, StringEncoding};
use crate::instance::MemoryRef;
use crate::resources::CallScope;

/// An adapter's callee side, resolved from the instances at its first call.
pub struct Callee {
    func: CoreFunc,
    memory: Option<MemoryRef>,
    realloc: Option<CoreFunc>,
    post_return: Option<CoreFunc>,
}

/// Call scopes of borrows lent through adapters, unique per call.
static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

/// What a side without a memory option reads through its frame: a memory of no bytes,
/// so every access the generated code makes through it fails its bounds check first.
struct EmptyMemory(VMMemoryDef);
// SAFETY: never written; its base points at a static byte no one accesses.
unsafe impl Sync for EmptyMemory {}
static NO_BYTE: u8 = 0;
static EMPTY_MEMORY: EmptyMemory = EmptyMemory(VMMemoryDef {
    base: (&raw const NO_BYTE).cast_mut(),
    current_length: 0,
});

/// One side of an adapter call over a component instance: its memory, realloc, string
/// encoding and handle table.
struct RtSide<'a> {
    state: &'a Composition,
    instance: u32,
    memory: Option<MemoryRef>,
    realloc: Option<CoreFunc>,
    encoding: StringEncoding,
    scope: CallScope,
}

impl RtSide<'_> {
    fn table(&self) -> Result<std::sync::MutexGuard<'_, HandleTable>, AdapterError> {
        self.state
            .table(self.instance)
            .map(Locked::locked)
            .ok_or(AdapterError::Abi(adapter::AbiError::Mismatch(
                "no such component instance",
            )))
    }

    fn lift_own(&mut self, handle: u32, resource: u32) -> Result<u32, AdapterError> {
        Ok(self.table()?.take_own(handle, ResourceType(resource))?)
    }

    fn lower_own(&mut self, token: u32, resource: u32) -> Result<u32, AdapterError> {
        Ok(self.table()?.new_own(ResourceType(resource), token)?)
    }

    fn lift_borrow(&mut self, handle: u32, resource: u32) -> Result<u32, AdapterError> {
        Ok(self.table()?.borrow_rep(handle, ResourceType(resource))?)
    }

    fn lower_borrow(&mut self, token: u32, resource: u32) -> Result<u32, AdapterError> {
        if self.state.owner(resource) == Some(self.instance) {
            // The defining instance gets the representation itself.
            return Ok(token);
        }
        let scope = self.scope;
        Ok(self
            .table()?
            .new_borrow(ResourceType(resource), token, scope)?)
    }
}

impl Side for RtSide<'_> {
    fn memory(&mut self) -> &mut [u8] {
        match &self.memory {
            Some(m) => {
                let len = usize::try_from(m.len_bytes()).unwrap_or(0);
                // SAFETY: the memory's accessible bytes are [base, base + len) while no Wasm
                // code runs; a fresh view is taken after each realloc (the only Wasm run
                // while a string moves), so this view never outlives a growth.
                unsafe { core::slice::from_raw_parts_mut(m.base(), len) }
            }
            None => &mut [],
        }
    }

    fn realloc(
        &mut self,
        old_ptr: u32,
        old_size: u32,
        align: u32,
        new_size: u32,
    ) -> Result<u32, AdapterError> {
        let (instance, index) =
            self.realloc
                .ok_or(AdapterError::Abi(adapter::AbiError::Mismatch(
                    "no realloc option for a value that needs one",
                )))?;
        let args = [old_ptr, old_size, align, new_size].map(ValRaw::from_u32);
        let r = component::guest_call(|| instance.call(index, &args))?;
        Ok(r.first().map_or(0, ValRaw::u32))
    }

    fn string_encoding(&self) -> StringEncoding {
        self.encoding
    }
}

/// How an adapter error ends the call: a trap of the adapter (134), an error of the call
/// (status 1, as wasmtime's host errors), or a guest trap re-raised as is.
fn adapter_trap(glue: &GlueCtx, e: AdapterError) -> Trap {
    match e {
        AdapterError::Trap(t) => *t,
        AdapterError::Abi(a) if a.is_wasm_trap() => component_trap(glue, a.message()),
        other => glue.trap(other.message()),
    }
}

/// A trap of an adapter's own code ("wasm trap: <words>", 134).
fn component_trap(glue: &GlueCtx, words: &str) -> Trap {
    let mut t = glue.store().host_trap(aot_abi::TrapKind::ComponentTrap);
    t.detail = Some(words.to_string());
    t
}

impl Composition {
    fn resolve(&self, n: u32) -> Result<&Callee, String> {
        let slot = self
            .callees
            .get(n as usize)
            .ok_or_else(|| format!("no adapter {n}"))?;
        if let Some(c) = slot.get() {
            return Ok(c);
        }
        let a = &self.plan.adapters[n as usize];
        let instances = self.instances();
        let callee = Callee {
            func: component::core_func(a.callee, &instances)?,
            memory: a
                .callee_memory
                .map(|m| component::core_memory(m, &instances))
                .transpose()?,
            realloc: a
                .callee_realloc
                .map(|r| component::core_func(r, &instances))
                .transpose()?,
            post_return: a
                .post_return
                .map(|p| component::core_func(p, &instances))
                .transpose()?,
        };
        Ok(slot.get_or_init(|| callee))
    }
}

/// An adapter entry's view of its call.
struct Call<'a> {
    glue: &'a GlueCtx,
    state: &'static Composition,
    plan: &'static aot_abi::AdapterPlan,
    callee: &'static Callee,
    frame: &'a mut AdapterFrame,
}

impl Call<'_> {
    fn side(&self, side: i32) -> RtSide<'static> {
        let scope = CallScope(self.frame.scope);
        if side == CALLER {
            RtSide {
                state: self.state,
                instance: self.plan.caller_instance,
                memory: self.glue.memory_ref().copied(),
                realloc: self.glue.realloc_func(),
                encoding: StringEncoding::from_u8(self.glue.string_encoding())
                    .unwrap_or(StringEncoding::Utf8),
                scope,
            }
        } else {
            RtSide {
                state: self.state,
                instance: self.plan.callee_instance,
                memory: self.callee.memory,
                realloc: self.callee.realloc,
                encoding: StringEncoding::from_u8(self.plan.callee_string_encoding)
                    .unwrap_or(StringEncoding::Utf8),
                scope,
            }
        }
    }
}

/// Runs an adapter entry's `body` on its call, leaving any trap pending (the generated
/// code then returns, and its trampoline raises it); `failed` is what the entry returns
/// then.
fn entry<T>(
    raw: *mut u8,
    frame: *mut AdapterFrame,
    failed: T,
    body: impl FnOnce(&mut Call<'_>) -> Result<T, Trap>,
) -> T {
    // SAFETY: the adapter passes the glue context it was called with.
    let glue = unsafe { GlueCtx::from_raw(raw) };
    let store = glue.store();
    let call = (|| {
        let state = state().ok_or_else(|| glue.trap("adapter outside a component"))?;
        let GlueKind::Adapter(n) = glue.kind() else {
            return Err(glue.trap("adapter entry for a glue function that is no adapter"));
        };
        let plan = state
            .plan
            .adapters
            .get(n as usize)
            .ok_or_else(|| glue.trap("no such adapter"))?;
        let callee = state.resolve(n).map_err(|m| glue.trap(m))?;
        Ok((state, plan, callee))
    })();
    let result = call.and_then(|(state, plan, callee)| {
        // SAFETY: the adapter passes its own frame, a stack slot live for the whole call
        // and touched by no one else meanwhile.
        let frame = unsafe { &mut *frame };
        body(&mut Call {
            glue,
            state,
            plan,
            callee,
            frame,
        })
    });
    match result {
        Ok(v) => v,
        Err(trap) => {
            store.set_pending_trap(trap);
            failed
        }
    }
}

fn memory_def(m: Option<&MemoryRef>) -> *const u8 {
    match m {
        Some(m) => m.def().cast_const().cast(),
        None => (&raw const EMPTY_MEMORY.0).cast(),
    }
}

/// `enter`: may the caller leave its instance, may the callee's be entered; the frame.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_adapter_enter(raw: *mut u8, frame: *mut AdapterFrame) -> i32 {
    entry(raw, frame, 1, |c| {
        if !component::may_leave() {
            return Err(c
                .glue
                .store()
                .host_trap(aot_abi::TrapKind::CannotLeaveComponent));
        }
        let flag = c
            .state
            .entered
            .get(c.plan.callee_instance as usize)
            .ok_or_else(|| c.glue.trap("no such component instance"))?;
        if flag.swap(true, Ordering::AcqRel) {
            return Err(component_trap(c.glue, "cannot enter component instance"));
        }
        c.frame.memories = [
            memory_def(c.glue.memory_ref()),
            memory_def(c.callee.memory.as_ref()),
        ];
        c.frame.scope = NEXT_SCOPE.fetch_add(1, Ordering::Relaxed);
        crate::tasks::begin();
        Ok(0)
    })
}

/// `alloc`: `realloc(0, 0, align, size)` on `side`, the pointer checked.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_adapter_alloc(
    raw: *mut u8,
    frame: *mut AdapterFrame,
    side: i32,
    align: i32,
    size: i32,
    fault: i32,
) -> i64 {
    entry(raw, frame, -1, |c| {
        let oob = Fault::from_i32(fault).unwrap_or(Fault::MemoryOutOfBounds);
        let mut s = c.side(side);
        adapter::alloc(&mut s, align as u32, size as u32, oob)
            .map(i64::from)
            .map_err(|e| adapter_trap(c.glue, e))
    })
}

/// `string`: the string at (`ptr`, `len`) of the other side, moved into `side`.
///
/// # Safety
/// `out` must point at two writable `u32`s (the adapter's stack slot).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_rt_adapter_string(
    raw: *mut u8,
    frame: *mut AdapterFrame,
    side: i32,
    ptr: i32,
    len: i32,
    out: *mut u32,
) -> i32 {
    entry(raw, frame, 1, |c| {
        let mut to = c.side(side);
        let mut from = c.side(1 - side);
        let (p, l) = adapter::move_string(&mut from, &mut to, ptr as u32, len as u32)
            .map_err(|e| adapter_trap(c.glue, e))?;
        // SAFETY: per the contract above.
        unsafe {
            out.write(p);
            out.add(1).write(l);
        }
        Ok(0)
    })
}

/// `handle`: handle `handle` of the other side moved (own) or lent (borrow) into `side`.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_adapter_handle(
    raw: *mut u8,
    frame: *mut AdapterFrame,
    side: i32,
    borrow: i32,
    handle: i32,
    resource: i32,
) -> i64 {
    entry(raw, frame, -1, |c| {
        let mut to = c.side(side);
        let mut from = c.side(1 - side);
        let (h, r) = (handle as u32, resource as u32);
        if r == HOST_RESOURCE {
            let wasi = crate::wasi::ctx(c.glue.store());
            let scope = CallScope(c.frame.scope);
            return crate::wasi::p2::move_handle(
                wasi,
                from.instance,
                to.instance,
                h,
                borrow != 0,
                scope,
            )
            .map(i64::from)
            .map_err(|e| c.glue.trap(e.message()));
        }
        let moved = if borrow != 0 {
            from.lift_borrow(h, r)
                .and_then(|token| to.lower_borrow(token, r))
        } else {
            from.lift_own(h, r).and_then(|token| to.lower_own(token, r))
        };
        moved.map(i64::from).map_err(|e| adapter_trap(c.glue, e))
    })
}

/// `copy`: `len` bytes from the other side's memory at `src` to `side`'s at `dst`, both
/// ranges checked by the generated code.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_adapter_copy(
    raw: *mut u8,
    frame: *mut AdapterFrame,
    side: i32,
    dst: i32,
    src: i32,
    len: i32,
) {
    entry(raw, frame, (), |c| {
        let mut to = c.side(side);
        let mut from = c.side(1 - side);
        let (dst, src, len) = (
            dst as u32 as usize,
            src as u32 as usize,
            len as u32 as usize,
        );
        let from = from.memory();
        let (src_ptr, src_len) = (from.as_ptr(), from.len());
        let to = to.memory();
        let fits = |at: usize, size: usize| at.checked_add(len).is_some_and(|end| end <= size);
        if !fits(src, src_len) || !fits(dst, to.len()) {
            return Err(component_trap(c.glue, Fault::MemoryOutOfBounds.message()));
        }
        copy_bytes(
            src_ptr.wrapping_add(src),
            to.as_mut_ptr().wrapping_add(dst),
            len,
        );
        Ok(())
    })
}

/// Copies `len` bytes between two guest memories (possibly the same one, so the ranges
/// may overlap) without an intermediate buffer.
fn copy_bytes(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller checked both ranges against their memories' accessible lengths;
    // `ptr::copy` allows overlap.
    unsafe { core::ptr::copy(src, dst, len) }
}

/// `call`: the callee (`what` 0) with the arguments in `values`, its results written back;
/// or its post-return (`what` 1) with the callee's results, not allowed to call out.
///
/// # Safety
/// `values` must hold max(params, results, 1) slots of the callee's lifted signature.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_rt_adapter_call(
    raw: *mut u8,
    frame: *mut AdapterFrame,
    what: i32,
    values: *mut ValRaw,
) -> i32 {
    entry(raw, frame, 1, |c| {
        let (instance, index) = if what == 0 {
            c.callee.func
        } else {
            match c.callee.post_return {
                Some(f) => f,
                None => return Ok(0),
            }
        };
        let n = instance.func_type(index).map_or(0, |t| t.params.len());
        // SAFETY: per the contract above (a post-return takes the callee's results).
        let args = unsafe { core::slice::from_raw_parts(values, n) }.to_vec();
        if what == 0 {
            let results = instance.call(index, &args)?;
            for (i, v) in results.into_iter().enumerate() {
                // SAFETY: as above; the results fit the array.
                unsafe { values.add(i).write(v) };
            }
        } else {
            component::guest_call(|| instance.call(index, &args))?;
        }
        Ok(0)
    })
}

/// `exit`: the borrows lent to the callee must all be dropped; the callee's instance is
/// left.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_adapter_exit(raw: *mut u8, frame: *mut AdapterFrame) -> i32 {
    entry(raw, frame, 1, |c| {
        let instance = c.plan.callee_instance;
        let scope = CallScope(c.frame.scope);
        if let Some(t) = c.state.table(instance) {
            t.locked()
                .end_call(scope)
                .map_err(|e| c.glue.trap(e.message()))?;
        }
        crate::wasi::p2::end_call(crate::wasi::ctx(c.glue.store()), instance, scope)
            .map_err(|e| c.glue.trap(e.message()))?;
        if let Some(flag) = c.state.entered.get(instance as usize) {
            flag.store(false, Ordering::Release);
        }
        crate::tasks::end();
        Ok(0)
    })
}

/// `fault`: a canonical ABI rule the generated code found broken, as a trap.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_adapter_fault(raw: *mut u8, frame: *mut AdapterFrame, fault: i32) {
    entry(raw, frame, (), |c| {
        let words = Fault::from_i32(fault).map_or("adapter fault", Fault::message);
        Err(component_trap(c.glue, words))
    })
}
