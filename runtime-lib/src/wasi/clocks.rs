//! The `wasi:clocks` host: the wall clock and the monotonic clock. (Preview 1 also names
//! process and thread CPU-time clocks; `wasi:clocks` has none, so wasmtime, and this host,
//! answer them with `EBADF`.)
//!
//! As in wasmtime, the monotonic clock counts nanoseconds from when the WASI context was
//! created (its epoch is unspecified to the guest), and resolutions are the OS's.

use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};

use super::filesystem::Datetime;

fn nanos(t: Timespec) -> u64 {
    // Both fields are non-negative for every clock used here except a wall clock set
    // before 1970, which WASI cannot express: saturate to 0.
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let ns = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(ns)
}

/// `wasi:clocks/wall-clock.now`: time since the Unix epoch.
pub fn wall_now() -> Datetime {
    let t = clock_gettime(ClockId::Realtime);
    Datetime {
        seconds: u64::try_from(t.tv_sec).unwrap_or(0),
        nanoseconds: u32::try_from(t.tv_nsec).unwrap_or(0),
    }
}

pub fn wall_resolution() -> u64 {
    nanos(clock_getres(ClockId::Realtime))
}

/// `wasi:clocks/monotonic-clock`, started at construction.
#[derive(Debug)]
pub struct MonotonicClock {
    start: u64,
}

impl MonotonicClock {
    pub fn new() -> MonotonicClock {
        MonotonicClock {
            start: nanos(clock_gettime(ClockId::Monotonic)),
        }
    }

    /// Nanoseconds since construction.
    pub fn now(&self) -> u64 {
        nanos(clock_gettime(ClockId::Monotonic)).saturating_sub(self.start)
    }

    pub fn resolution(&self) -> u64 {
        nanos(clock_getres(ClockId::Monotonic))
    }
}

/// Blocks the calling thread for `ns` nanoseconds.
pub fn sleep(ns: u64) {
    std::thread::sleep(std::time::Duration::from_nanos(ns));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_starts_near_zero_and_advances() {
        let clock = MonotonicClock::new();
        let a = clock.now();
        assert!(a < 1_000_000_000, "{a} ns since construction");
        sleep(2_000_000);
        let b = clock.now();
        assert!(b >= a + 2_000_000, "{a} -> {b}");
        assert!(clock.resolution() >= 1);
    }

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(wall_now().seconds > 1_577_836_800);
        assert!(wall_resolution() >= 1);
    }
}
