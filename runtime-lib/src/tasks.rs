//! The component model's task and waitable builtins, for synchronous components that
//! import them without calling for anything asynchronous (componentize-qjs's default
//! output imports `context.get/set`, `task.cancel`, `subtask.*`, `waitable-set.*` and
//! `waitable.join` whatever the program does).
//!
//! A program of `aot` runs one synchronous task at a time: the lifted `run`, and each call
//! through a fused adapter, is a task with its own context slots (zero at its start).
//! Waitable sets live in the component instance's handle table like any handle; nothing
//! asynchronous ever exists, so a subtask or waitable index is always unknown and using
//! one traps, as wasmtime traps on an index its table does not hold.

use std::sync::Mutex;

use crate::Locked;
use crate::component::GlueCtx;
use crate::composition;
use crate::resources::ResourceType;
use crate::trap::Trap;

/// The handle type of waitable sets in an instance's table (guest resource types are
/// numbered from 0, so this one is never theirs).
const WAITABLE_SET: ResourceType = ResourceType(u32::MAX - 1);

/// The context slots of the tasks running, innermost last (the first entry stands for
/// anything before `run`, such as start functions).
static TASKS: Mutex<Vec<[u32; 2]>> = Mutex::new(Vec::new());

/// A task starts: its context slots are zero.
pub fn begin() {
    TASKS.locked().push([0; 2]);
}

/// The innermost task ends.
pub fn end() {
    TASKS.locked().pop();
}

fn with_slot<T>(slot: usize, f: impl FnOnce(&mut u32) -> T) -> T {
    let mut tasks = TASKS.locked();
    if tasks.is_empty() {
        tasks.push([0; 2]);
    }
    let last = tasks.len() - 1;
    f(&mut tasks[last][slot])
}

/// Runs a builtin's body, leaving any trap pending for the trampoline (which raises it).
fn builtin(raw: *mut u8, body: impl FnOnce(&GlueCtx) -> Result<i32, Trap>) -> i32 {
    // SAFETY: the glue trampoline passes the context it was called with.
    let glue = unsafe { GlueCtx::from_raw(raw) };
    match body(glue) {
        Ok(v) => v,
        Err(trap) => {
            glue.store().set_pending_trap(trap);
            0
        }
    }
}

/// A trap of the component model's rules (`wasm trap: <words>`, 134).
fn abi_trap(glue: &GlueCtx, words: String) -> Trap {
    let mut t = glue.store().host_trap(aot_abi::TrapKind::ComponentTrap);
    t.detail = Some(words);
    t
}

fn unknown(glue: &GlueCtx, handle: i32) -> Trap {
    abi_trap(glue, format!("unknown handle index {}", handle as u32))
}

#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_context_get0(_raw: *mut u8) -> i32 {
    with_slot(0, |s| *s as i32)
}

#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_context_get1(_raw: *mut u8) -> i32 {
    with_slot(1, |s| *s as i32)
}

#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_context_set0(_raw: *mut u8, v: i32) {
    with_slot(0, |s| *s = v as u32);
}

#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_context_set1(_raw: *mut u8, v: i32) {
    with_slot(1, |s| *s = v as u32);
}

/// `task.cancel`: only a cancelled asynchronous task may acknowledge its cancellation.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_cancel(raw: *mut u8) {
    builtin(raw, |glue| {
        Err(abi_trap(
            glue,
            "`task.cancel` called by a task that was not cancelled".into(),
        ))
    });
}

/// `subtask.drop`: no subtask ever exists.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_subtask_drop(raw: *mut u8, handle: i32) {
    builtin(raw, |glue| Err(unknown(glue, handle)));
}

/// `subtask.cancel`: no subtask ever exists.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_subtask_cancel(raw: *mut u8, handle: i32) -> i32 {
    builtin(raw, |glue| Err(unknown(glue, handle)))
}

fn table(glue: &GlueCtx) -> Result<&'static Mutex<crate::resources::HandleTable>, Trap> {
    composition::state()
        .and_then(|s| s.table(glue.instance()))
        .ok_or_else(|| glue.trap("task builtin outside a component instance"))
}

/// `waitable-set.new`: an empty set, a new handle.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_waitable_set_new(raw: *mut u8) -> i32 {
    builtin(raw, |glue| {
        let h = table(glue)?
            .locked()
            .new_own(WAITABLE_SET, 0)
            .map_err(|e| glue.trap(e.message()))?;
        Ok(h as i32)
    })
}

/// `waitable-set.drop`: the set (always empty) is gone.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_waitable_set_drop(raw: *mut u8, set: i32) {
    builtin(raw, |glue| {
        table(glue)?
            .locked()
            .drop_handle(set as u32, WAITABLE_SET)
            .map_err(|e| abi_trap(glue, e.message()))?;
        Ok(0)
    });
}

/// `waitable.join`: no waitable ever exists.
#[unsafe(no_mangle)]
pub extern "C" fn aot_rt_task_waitable_join(raw: *mut u8, waitable: i32, _set: i32) {
    builtin(raw, |glue| Err(unknown(glue, waitable)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_has_its_own_context_slots() {
        let raw = core::ptr::null_mut();
        begin();
        aot_rt_task_context_set0(raw, 7);
        aot_rt_task_context_set1(raw, -1);
        begin();
        assert_eq!(
            (aot_rt_task_context_get0(raw), aot_rt_task_context_get1(raw)),
            (0, 0)
        );
        aot_rt_task_context_set0(raw, 9);
        end();
        assert_eq!(
            (aot_rt_task_context_get0(raw), aot_rt_task_context_get1(raw)),
            (7, -1)
        );
        end();
    }
}
