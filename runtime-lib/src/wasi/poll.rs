//! Preview 1 `poll_oneoff` over the host's clocks and streams (`wasi:io/poll`).
//!
//! As in wasmtime: a single relative clock subscription is a plain sleep; otherwise every
//! subscription is resolved first (so a bad one fails the call before any waiting), files
//! are always ready, stdout and stderr are always writable, stdin is ready when a read
//! would not block, and a clock when its deadline has passed. The call returns as soon as
//! at least one subscription is ready, with one event per ready subscription in
//! subscription order.
//!
//! A subscription whose tag, clock id or clock flags are not valid values is `EINVAL` (it
//! is data in memory, not an argument, so wasmtime reports it rather than ending the
//! program); subscriptions and events out of bounds or not 8-byte aligned are guest errors.
//!
//! The descriptors are looked up once, when the subscriptions are resolved, and held (not
//! the table) while waiting: no lock is held while the call sleeps or waits for stdin, and
//! the events describe the descriptors subscribed to even if another thread closes or
//! renumbers their numbers meanwhile.

use std::sync::Arc;
use std::time::Duration;

use super::clocks;
use super::ctx::{Descriptor, FileDesc, WasiCtx};
use super::guest::{GuestError, GuestMemory};
use super::io::Stdio;
use super::types::*;

/// One decoded subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Subscription {
    userdata: u64,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Clock {
        id: u32,
        timeout: u64,
        abstime: bool,
    },
    FdRead(i32),
    FdWrite(i32),
}

/// Reads the subscription at `at` field by field, as wasmtime does: an unknown tag, clock
/// or flag is `EINVAL` when it is read, before the fields after it.
fn read_subscription(mem: &GuestMemory, at: u32) -> Result<Subscription> {
    let field = |off: u32| at.checked_add(off).ok_or(GuestError::PointerOverflow);
    let userdata = mem.read_u64(at)?;
    let kind = match mem.read_u8(field(8)?)? {
        eventtype::CLOCK => {
            let id = mem.read_u32(field(16)?)?;
            if id > clockid::THREAD_CPUTIME_ID {
                return Err(Errno::Inval.into());
            }
            let timeout = mem.read_u64(field(24)?)?;
            let _precision = mem.read_u64(field(32)?)?;
            let flags = mem.read_u16(field(40)?)?;
            if flags & !SUBSCRIPTION_CLOCK_ABSTIME != 0 {
                return Err(Errno::Inval.into());
            }
            Kind::Clock {
                id,
                timeout,
                abstime: flags & SUBSCRIPTION_CLOCK_ABSTIME != 0,
            }
        }
        eventtype::FD_READ => Kind::FdRead(mem.read_u32(field(16)?)? as i32),
        eventtype::FD_WRITE => Kind::FdWrite(mem.read_u32(field(16)?)? as i32),
        _ => return Err(Errno::Inval.into()),
    };
    Ok(Subscription { userdata, kind })
}

struct Event {
    userdata: u64,
    type_: u8,
    nbytes: u64,
    flags: u16,
}

fn write_event(mem: &mut GuestMemory, at: u32, e: &Event) -> Result<()> {
    let mut b = [0u8; EVENT_SIZE as usize];
    b[0..8].copy_from_slice(&e.userdata.to_le_bytes());
    // error (bytes 8..10) is always success.
    b[10] = e.type_;
    b[16..24].copy_from_slice(&e.nbytes.to_le_bytes());
    b[24..26].copy_from_slice(&e.flags.to_le_bytes());
    Ok(mem.write_record(at, ALIGN_64, &b)?)
}

/// What a subscription waits for, once resolved.
#[derive(Clone)]
enum Wait {
    /// Monotonic-clock nanoseconds (the context's clock).
    Deadline(u64),
    Stdin,
    Always,
    /// A file to read, always ready: its event reports whether the position is at its end.
    FileRead(Arc<FileDesc>),
}

fn resolve(ctx: &WasiCtx, sub: &Subscription) -> Result<Wait> {
    Ok(match sub.kind {
        Kind::Clock {
            id,
            timeout,
            abstime,
        } => {
            let now = ctx.monotonic.now();
            match (id, abstime) {
                (clockid::MONOTONIC, true) => Wait::Deadline(timeout),
                (clockid::MONOTONIC | clockid::REALTIME, false) => {
                    Wait::Deadline(now.saturating_add(timeout))
                }
                (clockid::REALTIME, true) => {
                    let wall = clocks::wall_now();
                    let wall_ns = wall
                        .seconds
                        .saturating_mul(1_000_000_000)
                        .saturating_add(wall.nanoseconds.into());
                    Wait::Deadline(now.saturating_add(timeout.saturating_sub(wall_ns)))
                }
                _ => return Err(Errno::Inval.into()),
            }
        }
        Kind::FdRead(fd) => match ctx.fds.get(fd)? {
            Descriptor::Stdio {
                stream: Stdio::Stdin,
                ..
            } => Wait::Stdin,
            Descriptor::File(f) => Wait::FileRead(f),
            _ => return Err(Errno::Badf.into()),
        },
        Kind::FdWrite(fd) => match ctx.fds.get(fd)? {
            Descriptor::Stdio {
                stream: Stdio::Stdout | Stdio::Stderr,
                ..
            }
            | Descriptor::File(_) => Wait::Always,
            _ => return Err(Errno::Badf.into()),
        },
    })
}

/// The event of ready subscription `sub`, resolved as `wait`.
fn event(sub: &Subscription, wait: &Wait) -> Result<Event> {
    let (type_, nbytes, flags) = match (sub.kind, wait) {
        (Kind::Clock { .. }, _) => (eventtype::CLOCK, 0, 0),
        (Kind::FdRead(_), Wait::FileRead(f)) => {
            let size = f.file.stat()?.size;
            let hangup = if size.saturating_sub(f.position()) == 0 {
                EVENT_FD_READWRITE_HANGUP
            } else {
                0
            };
            (eventtype::FD_READ, 1, hangup)
        }
        (Kind::FdRead(_), _) => (eventtype::FD_READ, 1, 0),
        (Kind::FdWrite(_), _) => (eventtype::FD_WRITE, 1, 0),
    };
    Ok(Event {
        userdata: sub.userdata,
        type_,
        nbytes,
        flags,
    })
}

/// What each subscription (with its event) costs of a call's copy allowance, as measured
/// against wasmtime 49: 2 Mi subscriptions are allowed, one more is `ENOMEM`.
const POLL_COST: u64 = 64;

/// Polls the `count` subscriptions at `subs`, writes the events to `events` and returns
/// how many it wrote.
pub fn poll_oneoff(
    ctx: &WasiCtx,
    mem: &mut GuestMemory,
    subs: u32,
    events: u32,
    count: u32,
) -> Result<u32> {
    if count == 0 {
        // Waiting forever for nothing is not supported, as in wasmtime.
        return Err(Errno::Inval.into());
    }
    if count == 1 {
        let sub = read_subscription(mem, subs)?;
        if let Kind::Clock {
            timeout,
            abstime: false,
            ..
        } = sub.kind
        {
            clocks::sleep(timeout);
            let e = Event {
                userdata: sub.userdata,
                type_: eventtype::CLOCK,
                nbytes: 1,
                flags: 0,
            };
            write_event(mem, events, &e)?;
            return Ok(1);
        }
    }

    // Paid for after the single-sleep case and before any subscription is read, as wasmtime.
    mem.consume_fuel(u64::from(count) * POLL_COST)?;
    let mut pending = Vec::new();
    for i in 0..count {
        let at = i
            .checked_mul(SUBSCRIPTION_SIZE)
            .and_then(|o| subs.checked_add(o))
            .ok_or(GuestError::PointerOverflow)?;
        let sub = read_subscription(mem, at)?;
        let wait = resolve(ctx, &sub)?;
        pending.push((sub, wait));
    }

    let ready = loop {
        let stdin_ready = if pending.iter().any(|(_, w)| matches!(w, Wait::Stdin)) {
            Stdio::Stdin.wait_readable(Some(Duration::ZERO))?
        } else {
            false
        };
        let now = ctx.monotonic.now();
        let ready: Vec<&(Subscription, Wait)> = pending
            .iter()
            .filter(|(_, w)| match *w {
                Wait::Deadline(d) => d <= now,
                Wait::Stdin => stdin_ready,
                Wait::Always | Wait::FileRead(_) => true,
            })
            .collect();
        if !ready.is_empty() {
            break ready;
        }
        let next_deadline = pending
            .iter()
            .filter_map(|(_, w)| match w {
                Wait::Deadline(d) => Some(*d),
                _ => None,
            })
            .min();
        let timeout = next_deadline.map(|d| Duration::from_nanos(d.saturating_sub(now)));
        if pending.iter().any(|(_, w)| matches!(w, Wait::Stdin)) {
            Stdio::Stdin.wait_readable(timeout)?;
        } else if let Some(t) = timeout {
            std::thread::sleep(t);
        }
    };

    let mut written = 0u32;
    for (sub, wait) in ready {
        let at = written
            .checked_mul(EVENT_SIZE)
            .and_then(|o| events.checked_add(o))
            .ok_or(GuestError::PointerOverflow)?;
        write_event(mem, at, &event(sub, wait)?)?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::ctx::WasiCtx;

    fn clock_sub(userdata: u64, id: u32, timeout: u64, flags: u16) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0..8].copy_from_slice(&userdata.to_le_bytes());
        b[8] = eventtype::CLOCK;
        b[16..20].copy_from_slice(&id.to_le_bytes());
        b[24..32].copy_from_slice(&timeout.to_le_bytes());
        b[40..42].copy_from_slice(&flags.to_le_bytes());
        b
    }

    fn fd_sub(userdata: u64, tag: u8, fd: u32) -> [u8; 48] {
        let mut b = [0u8; 48];
        b[0..8].copy_from_slice(&userdata.to_le_bytes());
        b[8] = tag;
        b[16..20].copy_from_slice(&fd.to_le_bytes());
        b
    }

    fn ctx() -> WasiCtx {
        WasiCtx::new(Vec::new(), Vec::new(), Vec::new()).unwrap()
    }

    /// Runs poll_oneoff over `subs` laid out from address 0, events at 1024.
    fn poll(ctx: &WasiCtx, subs: &[[u8; 48]]) -> (Result<u32>, Vec<u8>) {
        let mut bytes = vec![0u8; 4096];
        for (i, s) in subs.iter().enumerate() {
            bytes[i * 48..i * 48 + 48].copy_from_slice(s);
        }
        let mut mem = GuestMemory::from_slice(&mut bytes);
        let r = poll_oneoff(ctx, &mut mem, 0, 1024, subs.len() as u32);
        (r, bytes[1024..1024 + 32 * subs.len()].to_vec())
    }

    #[test]
    fn a_single_relative_clock_sleeps() {
        let c = ctx();
        let start = std::time::Instant::now();
        let (r, ev) = poll(&c, &[clock_sub(42, clockid::MONOTONIC, 20_000_000, 0)]);
        assert_eq!(r, Ok(1));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(u64::from_le_bytes(ev[0..8].try_into().unwrap()), 42);
        assert_eq!(
            (ev[10], ev[16]),
            (eventtype::CLOCK, 1),
            "wasmtime's sleep shortcut reports nbytes 1"
        );
    }

    #[test]
    fn ready_subscriptions_are_reported_in_order_and_clocks_wait() {
        let c = ctx();
        let subs = [
            clock_sub(1, clockid::MONOTONIC, 5_000_000_000, 0),
            fd_sub(2, eventtype::FD_WRITE, 1),
            fd_sub(3, eventtype::FD_WRITE, 2),
        ];
        let start = std::time::Instant::now();
        let (r, ev) = poll(&c, &subs);
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "stdout is ready at once"
        );
        assert_eq!(r, Ok(2));
        assert_eq!((ev[0], ev[10]), (2, eventtype::FD_WRITE));
        assert_eq!((ev[32], ev[42]), (3, eventtype::FD_WRITE));
        // Two clocks: the earlier deadline fires alone, with nbytes 0.
        let subs = [
            clock_sub(7, clockid::MONOTONIC, 5_000_000_000, 0),
            clock_sub(8, clockid::REALTIME, 10_000_000, 0),
        ];
        let (r, ev) = poll(&c, &subs);
        assert_eq!(r, Ok(1));
        assert_eq!((ev[0], ev[10], ev[16]), (8, eventtype::CLOCK, 0));
        // An absolute monotonic deadline in the past is ready at once.
        let subs = [
            clock_sub(9, clockid::MONOTONIC, 0, 1),
            fd_sub(10, eventtype::FD_WRITE, 99),
        ];
        assert_eq!(
            poll(&c, &subs).0,
            Err(Errno::Badf.into()),
            "subscriptions are all resolved first"
        );
        let subs = [
            clock_sub(9, clockid::MONOTONIC, 0, 1),
            clock_sub(10, clockid::REALTIME, 0, 1),
        ];
        assert_eq!(poll(&c, &subs).0, Ok(2));
    }

    #[test]
    fn bad_subscriptions_are_rejected() {
        let c = ctx();
        assert_eq!(poll(&c, &[]).0, Err(Errno::Inval.into()));
        let mut bad_tag = fd_sub(1, 3, 0);
        assert_eq!(poll(&c, &[bad_tag, bad_tag]).0, Err(Errno::Inval.into()));
        bad_tag[8] = eventtype::FD_READ;
        // stdout is not readable, stdin is not writable, 99 is not open.
        assert_eq!(
            poll(&c, &[fd_sub(1, eventtype::FD_READ, 1), bad_tag]).0,
            Err(Errno::Badf.into())
        );
        assert_eq!(
            poll(&c, &[fd_sub(1, eventtype::FD_WRITE, 0), bad_tag]).0,
            Err(Errno::Badf.into())
        );
        assert_eq!(
            poll(&c, &[fd_sub(1, eventtype::FD_WRITE, 99), bad_tag]).0,
            Err(Errno::Badf.into())
        );
        let cpu = clock_sub(1, 2, 0, 1);
        assert_eq!(poll(&c, &[cpu, cpu]).0, Err(Errno::Inval.into()));
        let bad_clock = clock_sub(1, 9, 0, 0);
        assert_eq!(poll(&c, &[bad_clock]).0, Err(Errno::Inval.into()));
        let bad_flags = clock_sub(1, clockid::MONOTONIC, 0, 2);
        assert_eq!(poll(&c, &[bad_flags]).0, Err(Errno::Inval.into()));
        // An invalid clock id is found before the flags are read.
        let mut bytes = [0u8; 64];
        bytes[..48].copy_from_slice(&clock_sub(1, 9, 0, 0));
        let mut mem = GuestMemory::from_slice(&mut bytes);
        assert_eq!(
            poll_oneoff(&c, &mut mem, 24, 0, 1),
            Err(GuestError::OutOfBounds { ptr: 64, len: 2 }.into()),
            "at 24 the flags (offset 40) are out of bounds"
        );
        assert_eq!(poll_oneoff(&c, &mut mem, 0, 0, 1), Err(Errno::Inval.into()));
        // Subscriptions out of bounds or misaligned, events misaligned.
        assert_eq!(
            poll_oneoff(&c, &mut mem, 32, 0, 2),
            Err(GuestError::OutOfBounds { ptr: 64, len: 8 }.into()),
            "the first subscription's precision"
        );
        assert_eq!(
            poll_oneoff(&c, &mut mem, 4, 0, 2),
            Err(GuestError::NotAligned {
                ptr: 4,
                len: 8,
                align: 8
            }
            .into())
        );
        let mut bytes = vec![0u8; 4096];
        bytes[..48].copy_from_slice(&fd_sub(1, eventtype::FD_WRITE, 1));
        bytes[48..96].copy_from_slice(&fd_sub(2, eventtype::FD_WRITE, 2));
        let mut mem = GuestMemory::from_slice(&mut bytes);
        assert_eq!(
            poll_oneoff(&c, &mut mem, 0, 1028, 2),
            Err(GuestError::NotAligned {
                ptr: 1028,
                len: 32,
                align: 8
            }
            .into())
        );
        // 2 Mi subscriptions fit a call's allowance (the walk then leaves the memory); one
        // more does not.
        let mut mem = GuestMemory::from_slice(&mut bytes);
        assert_eq!(
            poll_oneoff(&c, &mut mem, 0, 1024, 2 << 20),
            Err(GuestError::OutOfBounds { ptr: 4096, len: 4 }.into()),
            "subscription 85's clock id"
        );
        let mut mem = GuestMemory::from_slice(&mut bytes);
        assert_eq!(
            poll_oneoff(&c, &mut mem, 0, 1024, (2 << 20) + 1),
            Err(Errno::Nomem.into())
        );
    }
}
