//! The threads benchmark (benches/threads.sh): `par <what> <n> [threads]`, the thread count
//! from the argument or else RAYON_NUM_THREADS (rayon's own default, the number of CPUs,
//! without either). Prints one line with a checksum that does not depend on the thread
//! count, so the outputs of every runner and thread count can be compared.
//!
//! - `mapreduce N`: rayon map-reduce over 0..N (a 64-bit mix per item, summed).
//! - `sort N`: N pseudo-random u64s generated in parallel, then `par_sort_unstable`.
//! - `mergesort N`: the same with `par_sort` (a merge sort with parallel merges).
//! - `mutex N`: N uncontended lock/unlock pairs of a `std::sync::Mutex` on one thread.
//! - `spawn N`: N `std::thread::spawn` + `join`, one after the other.
//! - `spawn-phases N`: as `spawn`, and prints to stderr where a spawn+join's time goes
//!   (medians): from `spawn` to the thread's closure running, and from the closure's end
//!   to `join` returning.
//!
//! The micro-benchmarks (mutex, spawn) are timed by the script as the difference between
//! N and 0 iterations, so start-up and the pool's creation cancel out.

use rayon::prelude::*;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Mutex;

/// splitmix64's finaliser: a cheap, well-mixed function of the index.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn mapreduce(n: u64) -> u64 {
    // A few rounds per item so the work is arithmetic, not memory traffic.
    (0..n)
        .into_par_iter()
        .map(|i| mix(mix(mix(i)) ^ i))
        .reduce(|| 0, u64::wrapping_add)
}

fn sort(n: usize, stable: bool) -> u64 {
    let mut v = vec![0u64; n];
    v.par_iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = mix(i as u64));
    // par_sort_unstable is a quicksort whose top-level partition is sequential;
    // par_sort is a merge sort whose merges are parallel too.
    if stable {
        v.par_sort();
    } else {
        v.par_sort_unstable();
    }
    // Checked and summed in parallel too, so the sequential part stays small.
    if !v.par_windows(2).all(|w| w[0] <= w[1]) {
        return 0;
    }
    // Position-weighted, so a wrong order changes it as well as a wrong content.
    v.par_iter()
        .enumerate()
        .map(|(i, &x)| x.wrapping_mul(i as u64 + 1))
        .reduce(|| 0, u64::wrapping_add)
}

fn mutex(n: u64) -> u64 {
    let m = Mutex::new(0u64);
    for i in 0..n {
        // black_box keeps every lock and unlock: the compiler may not merge them.
        let mut g = black_box(&m).lock().unwrap_or_else(|e| e.into_inner());
        *g = g.wrapping_add(i);
    }
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

fn spawn(n: u64) -> Result<u64, String> {
    let mut sum = 0u64;
    for i in 0..n {
        let h = std::thread::Builder::new()
            .spawn(move || black_box(i) * 3)
            .map_err(|e| format!("spawn: {e}"))?;
        sum = sum.wrapping_add(h.join().map_err(|_| "a thread panicked".to_string())?);
    }
    Ok(sum)
}

fn spawn_phases(n: u64) -> Result<u64, String> {
    use std::time::Instant;
    let (mut start, mut finish, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut sum = 0u64;
    for i in 0..n {
        let t0 = Instant::now();
        let h = std::thread::Builder::new()
            .spawn(move || (Instant::now(), black_box(i) * 3, Instant::now()))
            .map_err(|e| format!("spawn: {e}"))?;
        let (t1, v, t2) = h.join().map_err(|_| "a thread panicked".to_string())?;
        let t3 = Instant::now();
        start.push(t1 - t0);
        finish.push(t3 - t2);
        total.push(t3 - t0);
        sum = sum.wrapping_add(v);
    }
    // Quantile q of the sorted durations, in microseconds.
    let at = |v: &[std::time::Duration], q: f64| {
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let mean = total.iter().map(|d| d.as_secs_f64()).sum::<f64>() / total.len().max(1) as f64 * 1e6;
    for v in [&mut total, &mut start, &mut finish] {
        v.sort();
    }
    eprintln!(
        "spawn+join {:.1} us (p90 {:.1}, p99 {:.1}, mean {mean:.1}): spawn -> closure runs {:.1} us, closure returns -> join returns {:.1} us (medians of {n})",
        at(&total, 0.5),
        at(&total, 0.9),
        at(&total, 0.99),
        at(&start, 0.5),
        at(&finish, 0.5)
    );
    Ok(sum)
}

fn run(args: &[String]) -> Result<String, String> {
    let usage = "usage: par mapreduce|sort|mergesort|mutex|spawn|spawn-phases N [threads]";
    let what = args.get(1).ok_or(usage)?;
    let n: u64 = args
        .get(2)
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("N: {e}"))?;
    let threads = match args.get(3) {
        Some(t) => t.parse().map_err(|e| format!("threads: {e}"))?,
        None => std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
    };
    // Only the rayon benchmarks build a pool: the micro-benchmarks run without idle
    // worker threads.
    let pool = || {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| format!("thread pool: {e}"))
    };
    let sum = match what.as_str() {
        "mapreduce" => pool()?.install(|| mapreduce(n)),
        "sort" => pool()?.install(|| sort(n as usize, false)),
        "mergesort" => pool()?.install(|| sort(n as usize, true)),
        "mutex" => mutex(n),
        "spawn" => spawn(n)?,
        "spawn-phases" => spawn_phases(n)?,
        _ => return Err(usage.into()),
    };
    Ok(format!("{what} {n}: {sum:016x}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("par: {e}");
            ExitCode::FAILURE
        }
    }
}
