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
        component::guest_call(|| instance.call(index, &[aot_abi::ValRaw::from_u32(rep)]))?;
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
