//! Concurrency stress tests whose printed results do not depend on scheduling: each mode
//! hammers one mechanism from several threads and prints exact totals or the count of
//! outcomes the memory model forbids (which must be 0).
//!
//! Modes: `counters` (atomic and mutex counters under contention), `message-passing`
//! (mpsc from many producers, and the MP litmus: data written before a release flag is
//! seen after the acquire), `store-buffering` (the SB litmus with seq-cst atomics:
//! `r1 == 0 && r2 == 0` never happens), `ping-pong N` (two threads hand a turn back and
//! forth N times with std's park/unpark, which on wasm32-wasip1-threads is a futex over
//! `memory.atomic.wait32` / `memory.atomic.notify`: a side that finds the turn not yet its
//! own spins a little, then waits, and the other notifies it), `wait-pong N` (the same
//! without the spin: every hand-over a wait and a notify, some 20 us each, hence a smaller
//! N). `core::arch::wasm32::memory_atomic_wait32` itself
//! is still unstable (`stdarch_wasm_atomic_wait`), so std's futex is the way to it here.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n = |default: u64| args.get(1).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map_or("", String::as_str) {
        "counters" => counters(),
        "message-passing" => message_passing(),
        "store-buffering" => store_buffering(n(200_000) as usize),
        "ping-pong" => ping_pong(n(1_000_000), 50_000),
        "wait-pong" => ping_pong(n(100_000), 0),
        other => {
            eprintln!("threads-stress: unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

fn counters() {
    const THREADS: u64 = 4;
    const ATOMIC_PER: u64 = 500_000;
    const MUTEX_PER: u64 = 100_000;
    let atomic = Arc::new(AtomicU64::new(0));
    let narrow = Arc::new(AtomicU32::new(0));
    let locked = Arc::new(Mutex::new((0u64, 0u64)));
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let (atomic, narrow, locked) = (
                Arc::clone(&atomic),
                Arc::clone(&narrow),
                Arc::clone(&locked),
            );
            thread::spawn(move || {
                for _ in 0..ATOMIC_PER {
                    atomic.fetch_add(1, Relaxed);
                    narrow.fetch_add(1, SeqCst);
                }
                for i in 0..MUTEX_PER {
                    let mut g = locked.lock().expect("lock");
                    // Two fields updated under the lock: a lost update shows as a mismatch.
                    g.0 += 1;
                    g.1 += t * MUTEX_PER + i;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("join");
    }
    let n = THREADS * MUTEX_PER;
    let g = locked.lock().expect("lock");
    println!(
        "relaxed fetch_add: {} (expected {})",
        atomic.load(SeqCst),
        THREADS * ATOMIC_PER
    );
    println!(
        "seq-cst fetch_add u32: {} (expected {})",
        narrow.load(SeqCst),
        THREADS * ATOMIC_PER
    );
    println!(
        "mutex: count {} (expected {n}), sum {} (expected {})",
        g.0,
        g.1,
        n * (n - 1) / 2
    );
}

fn message_passing() {
    const PRODUCERS: u64 = 4;
    const PER: u64 = 50_000;
    let (tx, rx) = mpsc::channel::<u64>();
    let hs: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    tx.send(p * PER + i).expect("send");
                }
            })
        })
        .collect();
    drop(tx);
    let (mut count, mut sum, mut xor) = (0u64, 0u64, 0u64);
    for v in rx {
        count += 1;
        sum += v;
        xor ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    for h in hs {
        h.join().expect("join");
    }
    let n = PRODUCERS * PER;
    println!(
        "channel: {count} messages (expected {n}), sum {sum} (expected {}), xor {xor:#x}",
        n * (n - 1) / 2
    );

    // MP litmus: the writer fills a slot's data, then sets its flag (release); the reader
    // waits for the flag (acquire) and must see the data.
    const SLOTS: usize = 200_000;
    let data: Arc<Vec<AtomicU32>> = Arc::new((0..SLOTS).map(|_| AtomicU32::new(0)).collect());
    let flags: Arc<Vec<AtomicU32>> = Arc::new((0..SLOTS).map(|_| AtomicU32::new(0)).collect());
    let (d, f) = (Arc::clone(&data), Arc::clone(&flags));
    let writer = thread::spawn(move || {
        for i in 0..SLOTS {
            d[i].store(i as u32 * 7 + 1, Relaxed);
            f[i].store(1, Release);
        }
    });
    let mut stale = 0;
    for i in 0..SLOTS {
        while flags[i].load(Acquire) == 0 {
            std::hint::spin_loop();
        }
        if data[i].load(Relaxed) != i as u32 * 7 + 1 {
            stale += 1;
        }
    }
    writer.join().expect("join");
    println!("message-passing litmus: {SLOTS} slots, stale data after the flag: {stale}");
}

fn store_buffering(rounds: usize) {
    // Free-running SB: thread A does x[i] = 1; r1[i] = y[i], thread B y[i] = 1;
    // r2[i] = x[i], both for every i. With seq-cst atomics some total order contains all
    // four accesses of a round, so at least one load sees the other thread's store.
    let arrays =
        || -> Arc<Vec<AtomicU32>> { Arc::new((0..rounds).map(|_| AtomicU32::new(0)).collect()) };
    let (x, y, r1, r2) = (arrays(), arrays(), arrays(), arrays());
    let start = Arc::new(AtomicU32::new(0));
    let side = |mine: Arc<Vec<AtomicU32>>,
                other: Arc<Vec<AtomicU32>>,
                out: Arc<Vec<AtomicU32>>,
                start: Arc<AtomicU32>| {
        thread::spawn(move || {
            // Start together, so that the rounds overlap.
            start.fetch_add(1, SeqCst);
            while start.load(SeqCst) < 2 {
                std::hint::spin_loop();
            }
            for i in 0..mine.len() {
                mine[i].store(1, SeqCst);
                out[i].store(other[i].load(SeqCst), SeqCst);
            }
        })
    };
    let a = side(
        Arc::clone(&x),
        Arc::clone(&y),
        Arc::clone(&r1),
        Arc::clone(&start),
    );
    let b = side(
        Arc::clone(&y),
        Arc::clone(&x),
        Arc::clone(&r2),
        Arc::clone(&start),
    );
    a.join().expect("join");
    b.join().expect("join");
    let forbidden = (0..rounds)
        .filter(|&i| r1[i].load(SeqCst) == 0 && r2[i].load(SeqCst) == 0)
        .count();
    println!(
        "store buffering (seq-cst): {rounds} rounds, forbidden outcomes r1 == r2 == 0: {forbidden}"
    );
}

/// Waits until `turn` holds `want`: `spins` checks (yielding now and then), then parks
/// until unparked.
fn await_turn(turn: &AtomicU64, want: u64, spins: u32) {
    for i in 0..spins {
        if turn.load(SeqCst) == want {
            return;
        }
        // On a loaded machine (or under qemu) the other thread may not be running: let it.
        if i % 100 == 99 {
            thread::yield_now();
        }
    }
    while turn.load(SeqCst) != want {
        thread::park();
    }
}

fn ping_pong(rounds: u64, spins: u32) {
    let turn = Arc::new(AtomicU64::new(0));
    let t2 = Arc::clone(&turn);
    let main = thread::current();
    let pong = thread::spawn(move || {
        for r in 0..rounds {
            await_turn(&t2, 2 * r + 1, spins);
            t2.store(2 * r + 2, SeqCst);
            main.unpark();
        }
    });
    for r in 0..rounds {
        await_turn(&turn, 2 * r, spins);
        turn.store(2 * r + 1, SeqCst);
        pong.thread().unpark();
    }
    pong.join().expect("join");
    println!(
        "park/unpark ping-pong: {rounds} round trips, final turn {} (expected {})",
        turn.load(SeqCst),
        2 * rounds
    );
}
