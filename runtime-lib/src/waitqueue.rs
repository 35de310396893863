//! `memory.atomic.wait32/64` and `memory.atomic.notify`: process-wide parking lots of
//! waiters keyed by host address (a shared memory's address is the same for every thread
//! and every instance that imports it, so the address alone names the location).
//!
//! The value comparison of a wait and the registration of its waiter happen under the
//! lot's lock, and a notify takes the same lock, so a store followed by a notify on another
//! thread can never slip between a waiter's check and its sleep (no lost wake-up). Each
//! waiter sleeps on its own `Condvar` (futex-based on Linux), so a notify wakes exactly the
//! waiters it counts, oldest first, as the threads proposal orders them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Results of a wait, as the Wasm instructions return them.
const OK: i32 = 0;
const NOT_EQUAL: i32 = 1;
const TIMED_OUT: i32 = 2;

#[derive(Default)]
struct Waiter {
    notified: Mutex<bool>,
    wake: Condvar,
}

type Lot = HashMap<usize, Vec<Arc<Waiter>>>;

/// Lots are sharded by address, so waits and notifies on unrelated locations (every
/// mutex and condition variable of a program is one) rarely contend for the same lock.
const SHARDS: usize = 64;

static LOTS: [Mutex<Option<Lot>>; SHARDS] = [const { Mutex::new(None) }; SHARDS];

/// The lot that holds `addr`'s waiters, even after a panic elsewhere poisoned it (its map
/// stays consistent: every update is a single insert or removal).
fn lot(addr: usize) -> MutexGuard<'static, Option<Lot>> {
    // Wait addresses are 4- or 8-byte aligned: the bits above those pick the shard.
    LOTS[(addr >> 2) % SHARDS]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Wakes up to `count` waiters on `addr`; returns how many were woken.
///
/// The woken waiters leave the queue under the lot's lock (so they are counted exactly
/// once, even against their own timeouts), but are signalled after it is released, so a
/// woken thread never runs into the lock its notifier still holds.
pub fn notify(addr: usize, count: u32) -> u32 {
    let woken: Vec<Arc<Waiter>> = {
        let mut guard = lot(addr);
        let Some(queue) = guard.as_mut().and_then(|l| l.get_mut(&addr)) else {
            return 0;
        };
        let n = queue.len().min(count as usize);
        let woken = queue.drain(..n).collect();
        if queue.is_empty()
            && let Some(l) = guard.as_mut()
        {
            l.remove(&addr);
        }
        woken
    };
    for w in &woken {
        *w.notified.lock().unwrap_or_else(|e| e.into_inner()) = true;
        w.wake.notify_one();
    }
    woken.len() as u32
}

/// Waits on `addr` while `still_expected()` (evaluated under the lot's lock) holds;
/// `timeout_ns` negative means forever.
fn wait(addr: usize, still_expected: impl FnOnce() -> bool, timeout_ns: i64) -> i32 {
    let waiter = {
        let mut guard = lot(addr);
        if !still_expected() {
            return NOT_EQUAL;
        }
        let w = Arc::new(Waiter::default());
        guard
            .get_or_insert_with(HashMap::new)
            .entry(addr)
            .or_default()
            .push(Arc::clone(&w));
        w
    };
    let deadline = u64::try_from(timeout_ns)
        .ok()
        .and_then(|ns| Instant::now().checked_add(Duration::from_nanos(ns)));
    let mut notified = waiter.notified.lock().unwrap_or_else(|e| e.into_inner());
    while !*notified {
        match deadline {
            // No timeout, or one past what Instant can represent: as good as forever.
            None => {
                notified = waiter
                    .wake
                    .wait(notified)
                    .unwrap_or_else(|e| e.into_inner());
            }
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    break;
                }
                notified = waiter
                    .wake
                    .wait_timeout(notified, d - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
    if *notified {
        return OK;
    }
    drop(notified);
    // Timed out, unless a notify took this waiter off the queue in the meantime (then it
    // counted this waiter as woken, so the wait must say so too).
    let mut guard = lot(addr);
    if let Some(queue) = guard.as_mut().and_then(|l| l.get_mut(&addr))
        && let Some(i) = queue.iter().position(|w| Arc::ptr_eq(w, &waiter))
    {
        queue.remove(i);
        if queue.is_empty()
            && let Some(l) = guard.as_mut()
        {
            l.remove(&addr);
        }
        return TIMED_OUT;
    }
    OK
}

/// memory.atomic.wait32 on `cell`, a location of a shared memory.
pub fn wait32(cell: &AtomicI32, expected: i32, timeout_ns: i64) -> i32 {
    wait(
        cell.as_ptr() as usize,
        || cell.load(Ordering::SeqCst) == expected,
        timeout_ns,
    )
}

/// memory.atomic.wait64 on `cell`, a location of a shared memory.
pub fn wait64(cell: &AtomicI64, expected: i64, timeout_ns: i64) -> i32 {
    wait(
        cell.as_ptr() as usize,
        || cell.load(Ordering::SeqCst) == expected,
        timeout_ns,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_returns_not_equal_timed_out_and_woken() {
        let cell: &'static AtomicI32 = Box::leak(Box::new(AtomicI32::new(7)));
        assert_eq!(wait32(cell, 8, -1), NOT_EQUAL);
        let start = Instant::now();
        assert_eq!(wait32(cell, 7, 20_000_000), TIMED_OUT);
        assert!(start.elapsed() >= Duration::from_millis(20));
        let addr = cell.as_ptr() as usize;
        assert_eq!(notify(addr, 1), 0);

        let t = std::thread::spawn(move || wait32(cell, 7, -1));
        // Notify until the waiter has been counted: it may not have registered yet.
        let mut woken = 0;
        while woken == 0 {
            woken = notify(addr, 5);
            std::thread::yield_now();
        }
        assert_eq!(woken, 1);
        assert_eq!(t.join().ok(), Some(OK));
    }

    #[test]
    fn wait64_compares_all_bits() {
        let cell = AtomicI64::new(1 << 40);
        assert_eq!(wait64(&cell, 0, 0), NOT_EQUAL);
        assert_eq!(wait64(&cell, 1 << 40, 0), TIMED_OUT);
    }
}
