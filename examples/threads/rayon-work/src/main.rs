//! rayon on wasm32-wasip1-threads: `sum N` (a parallel map-reduce over 0..N), `sort N`
//! (`par_sort_unstable` of N pseudo-random u64, then checks), `mixed` (join, scope,
//! par_chunks, collect). A pool of a fixed 4 threads, so that the work really is split
//! whatever the host; the printed results do not depend on the split.

use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |default: u64| args.get(1).and_then(|a| a.parse().ok()).unwrap_or(default);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("a rayon pool");
    pool.install(|| match args.first().map_or("", String::as_str) {
        "sum" => sum(n(10_000_000)),
        "sort" => sort(n(2_000_000) as usize),
        "mixed" => mixed(),
        other => {
            eprintln!("rayon-work: unknown mode {other:?}");
            std::process::exit(2);
        }
    });
}

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn sum(n: u64) {
    let squares: u128 = (0..n)
        .into_par_iter()
        .map(|i| u128::from(i) * u128::from(i))
        .sum();
    let expected = {
        let n = u128::from(n);
        (n - 1) * n * (2 * n - 1) / 6
    };
    println!("sum of squares below {n}: {squares} (expected {expected})");
    let hashed = (0..n)
        .into_par_iter()
        .map(mix)
        .reduce(|| 0, u64::wrapping_add);
    let xored = (0..n).into_par_iter().map(mix).reduce(|| 0, |a, b| a ^ b);
    println!("wrapping sum of mixed values: {hashed:#018x}, xor {xored:#018x}");
    let evens = (0..n).into_par_iter().filter(|i| mix(*i) % 2 == 0).count();
    println!("mixed values that are even: {evens}");
}

fn sort(n: usize) {
    let mut v: Vec<u64> = (0..n as u64).into_par_iter().map(|i| mix(i) >> 8).collect();
    let sum_before = v
        .par_iter()
        .fold(|| 0u64, |a, &b| a.wrapping_add(b))
        .reduce(|| 0, u64::wrapping_add);
    v.par_sort_unstable();
    let sum_after = v
        .par_iter()
        .fold(|| 0u64, |a, &b| a.wrapping_add(b))
        .reduce(|| 0, u64::wrapping_add);
    let sorted = v.par_windows(2).all(|w| w[0] <= w[1]);
    println!(
        "par_sort_unstable of {n} items: sorted {sorted}, sum kept {}",
        sum_before == sum_after
    );
    println!("min {:#x} median {:#x} max {:#x}", v[0], v[n / 2], v[n - 1]);
    let mut words: Vec<String> = (0..20_000u64)
        .into_par_iter()
        .map(|i| format!("w{:05}", mix(i) % 100_000))
        .collect();
    words.par_sort();
    words.dedup();
    println!(
        "par_sort of 20000 strings: {} distinct, first {} last {}",
        words.len(),
        words[0],
        words[words.len() - 1]
    );
}

fn fib(n: u32) -> u64 {
    if n < 15 {
        return (1..n).fold((0u64, 1u64), |(a, b), _| (b, a + b)).1 * u64::from(n > 0);
    }
    let (a, b) = rayon::join(|| fib(n - 1), || fib(n - 2));
    a + b
}

fn mixed() {
    println!("fib(30) by rayon::join: {}", fib(30));
    let mut data: Vec<u32> = (0..1_000_000).collect();
    data.par_chunks_mut(4096).enumerate().for_each(|(i, c)| {
        c.iter_mut()
            .for_each(|x| *x = x.wrapping_mul(31) ^ i as u32)
    });
    let checksum = data.par_iter().map(|&x| u64::from(x)).sum::<u64>();
    println!("par_chunks_mut checksum: {checksum}");
    let mut parts = vec![0u64; 8];
    rayon::scope(|s| {
        for (i, p) in parts.iter_mut().enumerate() {
            s.spawn(move |_| *p = (0..100_000u64).map(|x| mix(x + i as u64) % 1000).sum());
        }
    });
    println!("rayon::scope parts: {parts:?}");
    let words: Vec<String> = (0..1000).into_par_iter().map(|i| format!("{i}")).collect();
    println!(
        "collect keeps order: {}",
        words.iter().enumerate().all(|(i, w)| *w == i.to_string())
    );
    println!("threads in the pool: {}", rayon::current_num_threads());
}
