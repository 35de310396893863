//! `wasi:clocks` 0.2: the monotonic and wall clocks of the host core.

use super::io::{Pollable, push_pollable};
use super::{Call, R, le32, le64, p2_fns};
use crate::wasi::clocks;

fn datetime(cx: &Call, retptr: i32, seconds: u64, nanoseconds: u32) -> R<()> {
    cx.ret(retptr, 8, &[(0, &le64(seconds)), (8, &le32(nanoseconds))])
}

p2_fns! {
    fn aot_wasi_p2_clocks__monotonic_clock__now(cx) -> i64 {
        Ok(cx.wasi.monotonic.now() as i64)
    }

    fn aot_wasi_p2_clocks__monotonic_clock__resolution(cx) -> i64 {
        Ok(cx.wasi.monotonic.resolution() as i64)
    }

    fn aot_wasi_p2_clocks__monotonic_clock__subscribe_instant(cx, when: i64) -> i32 {
        push_pollable(&cx, Pollable::Deadline(when as u64))
    }

    fn aot_wasi_p2_clocks__monotonic_clock__subscribe_duration(cx, duration: i64) -> i32 {
        let deadline = cx.wasi.monotonic.now().saturating_add(duration as u64);
        push_pollable(&cx, Pollable::Deadline(deadline))
    }

    fn aot_wasi_p2_clocks__wall_clock__now(cx, retptr: i32) {
        let t = clocks::wall_now();
        datetime(&cx, retptr, t.seconds, t.nanoseconds)
    }

    fn aot_wasi_p2_clocks__wall_clock__resolution(cx, retptr: i32) {
        let ns = clocks::wall_resolution();
        datetime(&cx, retptr, ns / 1_000_000_000, (ns % 1_000_000_000) as u32)
    }
}
