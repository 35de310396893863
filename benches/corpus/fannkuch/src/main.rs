//! fannkuch-redux, single-threaded: `fannkuch N [REPS]` walks all N! permutations of 0..N in
//! the benchmark's order, counts the prefix flips until 0 comes first for each, and prints
//! the alternating checksum and the maximum flip count (REPS times, default 1: N=11 is 12x
//! the work of N=10, too big a step for sizing the run). Exercises small-array loads and
//! stores, byte swaps and tight integer loops with unpredictable branches.

use std::process::ExitCode;

/// Returns (checksum, max flips) over all permutations of 0..n.
fn fannkuch(n: usize) -> (i64, u32) {
    let mut perm: Vec<u8> = (0..n as u8).collect();
    let mut work = vec![0u8; n];
    // count[i] is how many more rotations of the prefix 0..=i remain.
    let mut count: Vec<usize> = (0..n).collect();
    let mut checksum = 0i64;
    let mut max_flips = 0u32;
    let mut parity = true;
    loop {
        if perm[0] != 0 {
            work.copy_from_slice(&perm);
            let mut flips = 0u32;
            let mut first = work[0] as usize;
            while first != 0 {
                work[..=first].reverse();
                flips += 1;
                first = work[0] as usize;
            }
            max_flips = max_flips.max(flips);
            checksum += if parity {
                i64::from(flips)
            } else {
                -i64::from(flips)
            };
        }
        // Next permutation: rotate the shortest prefix whose counter is not spent.
        parity = !parity;
        let mut i = 1;
        loop {
            if i >= n {
                return (checksum, max_flips);
            }
            let first = perm[0];
            perm.copy_within(1..=i, 0);
            perm[i] = first;
            if count[i] > 0 {
                count[i] -= 1;
                break;
            }
            count[i] = i;
            i += 1;
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .get(1)
        .and_then(|a| a.parse::<usize>().ok())
        .filter(|&n| (1..=12).contains(&n));
    let reps = args.get(2).map_or(Some(1), |a| a.parse::<u32>().ok());
    let (Some(n), Some(reps)) = (n, reps) else {
        eprintln!("usage: fannkuch N (1..=12) [REPS]");
        return ExitCode::from(2);
    };
    let mut result = (0, 0);
    for _ in 0..reps {
        // black_box: each repetition is computed, not folded into one.
        result = fannkuch(std::hint::black_box(n));
    }
    let (checksum, flips) = result;
    println!("{checksum}\nPfannkuchen({n}) = {flips}");
    ExitCode::SUCCESS
}
