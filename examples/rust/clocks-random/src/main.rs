//! Checks the clocks and the random source and prints one `ok:` line per check (or a
//! `FAIL:` line and exit status 1), so the output is the same on every run:
//! the monotonic clock advances, a 10 ms sleep lasts at least 10 ms, the realtime clock
//! reads a date after 2020, the clock resolutions are sane, and random bytes vary.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The raw WASI calls std has no stable wrapper for.
#[cfg(target_os = "wasi")]
mod wasi {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        fn random_get(buf: *mut u8, buf_len: usize) -> i32;
        fn clock_res_get(id: u32, resolution: *mut u64) -> i32;
    }

    pub fn random(buf: &mut [u8]) -> Result<(), i32> {
        // SAFETY: the pointer and length describe `buf`, which the call only writes.
        let errno = unsafe { random_get(buf.as_mut_ptr(), buf.len()) };
        if errno == 0 { Ok(()) } else { Err(errno) }
    }

    /// Resolution in ns of clock `id` (0 realtime, 1 monotonic).
    pub fn resolution(id: u32) -> Result<u64, i32> {
        let mut ns = 0u64;
        // SAFETY: `ns` is a valid, writable u64.
        let errno = unsafe { clock_res_get(id, &mut ns) };
        if errno == 0 { Ok(ns) } else { Err(errno) }
    }
}

/// Native builds (not used by the tests) read the same things from the host.
#[cfg(not(target_os = "wasi"))]
mod wasi {
    use std::io::Read;

    pub fn random(buf: &mut [u8]) -> Result<(), i32> {
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(buf))
            .map_err(|e| e.raw_os_error().unwrap_or(-1))
    }

    pub fn resolution(_id: u32) -> Result<u64, i32> {
        Ok(1)
    }
}

fn main() {
    let mut failed = 0;
    let mut check = |what: &str, ok: bool, detail: String| {
        if ok {
            println!("ok: {what}");
        } else {
            println!("FAIL: {what}: {detail}");
            failed += 1;
        }
    };

    let t0 = Instant::now();
    let mut spins = 0u64;
    while Instant::now() == t0 && spins < 100_000_000 {
        spins += 1;
    }
    check(
        "monotonic clock advances",
        Instant::now() > t0,
        format!("unchanged after {spins} reads"),
    );

    let before = Instant::now();
    std::thread::sleep(Duration::from_millis(10));
    let slept = before.elapsed();
    check(
        "sleep(10 ms) lasts at least 10 ms",
        slept >= Duration::from_millis(10),
        format!("{slept:?}"),
    );
    check(
        "sleep(10 ms) lasts less than 5 s",
        slept < Duration::from_secs(5),
        format!("{slept:?}"),
    );

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // 2020-01-01 and 2200-01-01 in seconds since the epoch.
    check(
        "realtime is after 2020",
        now > 1_577_836_800,
        format!("{now} s since the epoch"),
    );
    check(
        "realtime is before 2200",
        now < 7_258_118_400,
        format!("{now} s since the epoch"),
    );

    for (id, name) in [(0, "realtime"), (1, "monotonic")] {
        let res = wasi::resolution(id);
        let sane = matches!(res, Ok(ns) if (1..=1_000_000_000).contains(&ns));
        check(
            &format!("{name} resolution is between 1 ns and 1 s"),
            sane,
            format!("{res:?}"),
        );
    }

    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    let got = wasi::random(&mut a).and_then(|()| wasi::random(&mut b));
    check("random_get succeeds", got.is_ok(), format!("errno {got:?}"));
    check(
        "random bytes are not all equal",
        a.iter().any(|&x| x != a[0]),
        format!("{a:?}"),
    );
    check("two random draws differ", a != b, format!("{a:?}"));
    let mut big = vec![0u8; 1 << 16];
    let got = wasi::random(&mut big);
    let zeros = big.iter().filter(|&&x| x == 0).count();
    // 65536 uniform bytes hold about 256 zeros; 1024 would be absurdly many.
    check(
        "64 KiB of random bytes look random",
        got.is_ok() && zeros < 1024,
        format!("{got:?}, {zeros} zero bytes"),
    );

    std::thread::yield_now();
    check("sched_yield returns", true, String::new());

    if failed > 0 {
        std::process::exit(1);
    }
}
