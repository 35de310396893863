//! Ends in a trap, after some output: `panic` (default) panics with a message (Rust's hook
//! prints it on stderr, then aborts with `unreachable`), `panic oob` reads far outside
//! linear memory, `panic recurse` recurses until the call stack is exhausted.

use std::hint::black_box;

fn main() {
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "panic".to_string());
    println!("before the trap ({mode})");
    match mode.as_str() {
        "panic" => {
            let answer = black_box(42);
            panic!("something went wrong: the answer is {answer}");
        }
        "oob" => {
            // 3 GiB: above any memory this program grows to, so the load traps.
            let p = black_box(0xC000_0000usize) as *const u32;
            // SAFETY: not safe at all; reading outside linear memory is the point, and a
            // Wasm engine turns it into a trap instead of undefined behaviour.
            let v = unsafe { p.read_volatile() };
            println!("read {v} (unexpected)");
        }
        "recurse" => println!("depth {} (unexpected)", recurse(black_box(1))),
        other => {
            eprintln!("panic: unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

/// Never returns normally (n starts at 1 and only grows); black_box keeps the calls real:
/// no tail call, no folding.
fn recurse(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    black_box(recurse(black_box(n + 1))) + 1
}
