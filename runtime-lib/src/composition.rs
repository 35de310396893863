//! What component instances hold apart from their core instances: one handle table each
//! for the resources components define (guest resources), the resource intrinsics over
//! them (`resource.new`, `resource.rep`, `resource.drop`, which runs the destructor of the
//! last own handle), and the may-enter flags of the fused adapters between components.
//!
//! Host resources (WASI streams, descriptors, ...) are not here: their handles live in the
//! WASI 0.2 face's table (`wasi::p2`), which every component of the program shares, so
//! moving one between components keeps its handle.
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

    /// Marks component instance `instance` entered for the duration of `f`; entering it
    /// again meanwhile (a call that comes back into it) is refused, as the canonical ABI
    /// requires.
    pub fn enter<T>(&self, instance: u32, f: impl FnOnce() -> T) -> Result<T, &'static str> {
        let flag = self
            .entered
            .get(instance as usize)
            .ok_or("no such component instance")?;
        if flag.swap(true, Ordering::AcqRel) {
            return Err("cannot enter component instance");
        }
        let r = f();
        flag.store(false, Ordering::Release);
        Ok(r)
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
// Fused adapters

use std::sync::atomic::AtomicU64;

use aot_abi::ValRaw;
use aot_abi::ctypes::HOST_RESOURCE;

use crate::adapter::{self, AdapterError, Side, StringEncoding};
use crate::instance::MemoryRef;
use crate::resources::CallScope;

/// An adapter's callee side, resolved from the instances at its first call.
struct Callee {
    func: CoreFunc,
    memory: Option<MemoryRef>,
    realloc: Option<CoreFunc>,
    post_return: Option<CoreFunc>,
}

/// Call scopes of borrows lent through adapters, unique per call.
static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

/// One side of an adapter call over a component instance: its memory, realloc and handle
/// table.
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
}

impl Side for RtSide<'_> {
    fn memory(&mut self) -> &mut [u8] {
        match &self.memory {
            Some(m) => {
                let len = usize::try_from(m.len_bytes()).unwrap_or(0);
                // SAFETY: the memory's accessible bytes are [base, base + len) while no Wasm
                // code runs; the engine takes a fresh view after each realloc (the only
                // Wasm it runs), so this view never outlives a growth.
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

    fn lift_own(&mut self, handle: u32, resource: u32) -> Result<u32, AdapterError> {
        if resource == HOST_RESOURCE {
            return Ok(handle);
        }
        Ok(self.table()?.take_own(handle, ResourceType(resource))?)
    }

    fn lower_own(&mut self, token: u32, resource: u32) -> Result<u32, AdapterError> {
        if resource == HOST_RESOURCE {
            return Ok(token);
        }
        Ok(self.table()?.new_own(ResourceType(resource), token)?)
    }

    fn lift_borrow(&mut self, handle: u32, resource: u32) -> Result<u32, AdapterError> {
        if resource == HOST_RESOURCE {
            return Ok(handle);
        }
        Ok(self.table()?.borrow_rep(handle, ResourceType(resource))?)
    }

    fn lower_borrow(&mut self, token: u32, resource: u32) -> Result<u32, AdapterError> {
        if resource == HOST_RESOURCE || self.state.owner(resource) == Some(self.instance) {
            // The defining instance gets the representation itself.
            return Ok(token);
        }
        let scope = self.scope;
        Ok(self
            .table()?
            .new_borrow(ResourceType(resource), token, scope)?)
    }
}

/// How an adapter error ends the call: a trap of the adapter (134), an error of the call
/// (status 1, as wasmtime's host errors), or a guest trap re-raised as is.
fn adapter_trap(glue: &GlueCtx, e: AdapterError) -> Trap {
    match e {
        AdapterError::Trap(t) => *t,
        AdapterError::Abi(a) if a.is_wasm_trap() => {
            let mut t = glue.store().host_trap(aot_abi::TrapKind::ComponentTrap);
            t.detail = Some(a.message().to_string());
            t
        }
        other => glue.trap(other.message()),
    }
}

impl Composition {
    fn callee(&self, n: u32) -> Result<Callee, String> {
        let a = self
            .plan
            .adapters
            .get(n as usize)
            .ok_or_else(|| format!("no adapter {n}"))?;
        let instances = self.instances();
        Ok(Callee {
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
        })
    }
}

/// A fused adapter's body: moves the caller's arguments (`values`, its lowered
/// signature) into the callee's component, calls the callee with the callee instance
/// entered, moves the result back (into `values`, or through the caller's return
/// pointer), then runs the callee's post-return. Borrows lent to the callee must all be
/// dropped by then.
///
/// # Safety
/// `raw` must be the glue context the adapter trampoline was called with, and `values`
/// must hold max(params, results, 1) slots of the adapter's caller-side signature.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_rt_adapter(raw: *mut u8, values: *mut ValRaw) {
    // SAFETY: per the contract above.
    let glue = unsafe { GlueCtx::from_raw(raw) };
    let store = glue.store();
    if !component::may_leave() {
        store.set_pending_trap(store.host_trap(aot_abi::TrapKind::CannotLeaveComponent));
        return;
    }
    let result = (|| -> Result<Vec<ValRaw>, Trap> {
        let state = state().ok_or_else(|| glue.trap("adapter outside a component"))?;
        let GlueKind::Adapter(n) = glue.kind() else {
            return Err(glue.trap("adapter entry for a glue function that is no adapter"));
        };
        let plan = &state.plan.adapters[n as usize];
        let callee = state.callee(n).map_err(|m| glue.trap(m))?;
        let (params, results) = plan.ty.lowered_signature();
        let slots = params.len().max(results.len()).max(1);
        // SAFETY: the trampoline's array has `slots` values (see the contract above).
        let args = unsafe { core::slice::from_raw_parts(values, slots) }[..params.len()].to_vec();
        let scope = CallScope(NEXT_SCOPE.fetch_add(1, Ordering::Relaxed));
        let mut caller = RtSide {
            state,
            instance: plan.caller_instance,
            memory: glue.memory_ref().copied(),
            realloc: glue.realloc_func(),
            encoding: StringEncoding::from_u8(glue.string_encoding())
                .unwrap_or(StringEncoding::Utf8),
            scope,
        };
        let mut callee_side = RtSide {
            state,
            instance: plan.callee_instance,
            memory: callee.memory,
            realloc: callee.realloc,
            encoding: StringEncoding::from_u8(plan.callee_string_encoding)
                .unwrap_or(StringEncoding::Utf8),
            scope,
        };
        let fail = |e| adapter_trap(glue, e);
        let entered = state.enter(plan.callee_instance, || -> Result<Vec<ValRaw>, Trap> {
            let lifted = adapter::lift_params(&plan.ty, &mut caller, &args).map_err(fail)?;
            let flat =
                adapter::lower_params(&plan.ty, &mut callee_side, &lifted.params).map_err(fail)?;
            let (instance, index) = callee.func;
            let core_results = instance.call(index, &flat)?;
            let val =
                adapter::lift_results(&plan.ty, &mut callee_side, &core_results).map_err(fail)?;
            let out = adapter::lower_results(&plan.ty, &mut caller, val.as_ref(), lifted.retptr)
                .map_err(fail)?;
            if let Some((pi, pindex)) = callee.post_return {
                component::guest_call(|| pi.call(pindex, &core_results))?;
            }
            if let Some(t) = state.table(plan.callee_instance) {
                t.locked()
                    .end_call(scope)
                    .map_err(|e| glue.trap(e.message()))?;
            }
            Ok(out)
        });
        match entered {
            Ok(r) => r,
            Err(words) => {
                let mut t = store.host_trap(aot_abi::TrapKind::ComponentTrap);
                t.detail = Some(words.to_string());
                Err(t)
            }
        }
    })();
    match result {
        Ok(out) => {
            for (i, v) in out.into_iter().enumerate() {
                // SAFETY: as above; results fit the array.
                unsafe { values.add(i).write(v) };
            }
        }
        Err(trap) => store.set_pending_trap(trap),
    }
}
