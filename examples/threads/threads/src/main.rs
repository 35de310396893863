//! std's threading on wasm32-wasip1-threads, one mode per argument; every mode prints only
//! what does not depend on scheduling (exact totals, sorted or per-thread results).
//!
//! Modes: `spawn-join` (results and names of joined threads), `mutex` (exact counters under
//! contention), `condvar` (a bounded queue and a handshake), `mpsc` (producers into one
//! receiver, a rendezvous channel), `scoped` (scoped threads over borrowed slices),
//! `rwlock` (readers never see a torn pair), `barrier` (phases in lock-step), `atomics`
//! (every read-modify-write, exact), `tls` (`thread_local!` per thread), `park`
//! (park/unpark handshakes), `panic` (a spawned thread panics: the process aborts),
//! `exit N` (a spawned thread calls `exit(N)` while main waits).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::SeqCst,
};
use std::sync::{Arc, Barrier, Condvar, Mutex, RwLock, mpsc};
use std::thread;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("", String::as_str);
    match mode {
        "spawn-join" => spawn_join(),
        "mutex" => mutex(),
        "condvar" => condvar(),
        "mpsc" => channels(),
        "scoped" => scoped(),
        "rwlock" => rwlock(),
        "barrier" => barrier(),
        "atomics" => atomics(),
        "tls" => tls(),
        "park" => park(),
        "panic" => panic_in_thread(),
        "exit" => exit_in_thread(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(3)),
        other => {
            eprintln!("threads: unknown mode {other:?}");
            std::process::exit(2);
        }
    }
}

fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

fn spawn_join() {
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            thread::Builder::new()
                .name(format!("worker-{t}"))
                .spawn(move || {
                    let start = 1 + t * 25_000;
                    let (best, steps) = (start..start + 25_000)
                        .map(|n| (n, collatz_steps(n)))
                        .max_by_key(|&(n, s)| (s, std::cmp::Reverse(n)))
                        .expect("a non-empty range");
                    let name = thread::current().name().unwrap_or("?").to_string();
                    (name, best, steps)
                })
                .expect("spawn")
        })
        .collect();
    for h in handles {
        let (name, best, steps) = h.join().expect("join");
        println!("{name}: longest Collatz chain from {best}: {steps} steps");
    }
    // A thread that returns a heap value, and one spawned from a spawned thread.
    let nested = thread::spawn(|| {
        let inner = thread::spawn(|| (1..=20u64).product::<u64>());
        inner.join().expect("join inner") % 1_000_003
    });
    println!("nested: 20! mod 1000003 = {}", nested.join().expect("join"));
    let v = thread::spawn(|| (0..1000).map(|i| i * i).collect::<Vec<u64>>())
        .join()
        .expect("join");
    println!(
        "vector from a thread: len {} sum {}",
        v.len(),
        v.iter().sum::<u64>()
    );
    // Many short-lived threads, one after another and a few at a time.
    let mut total = 0u64;
    for round in 0..25u64 {
        let hs: Vec<_> = (0..4u64)
            .map(|i| thread::spawn(move || round * 4 + i))
            .collect();
        total += hs.into_iter().map(|h| h.join().expect("join")).sum::<u64>();
    }
    println!("100 short threads: sum of their results {total}");
}

fn mutex() {
    const THREADS: usize = 4;
    const PER: u64 = 50_000;
    let counter = Arc::new(Mutex::new(0u64));
    let log = Arc::new(Mutex::new(Vec::new()));
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let (counter, log) = (Arc::clone(&counter), Arc::clone(&log));
            thread::spawn(move || {
                for i in 0..PER {
                    *counter.lock().expect("lock") += 1;
                    if i % 1000 == 0 {
                        log.lock().expect("lock").push((t, i));
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("join");
    }
    println!(
        "counter: {} (expected {})",
        *counter.lock().expect("lock"),
        THREADS as u64 * PER
    );
    let mut log = log.lock().expect("lock").clone();
    log.sort_unstable();
    let per_thread: Vec<usize> = (0..THREADS)
        .map(|t| log.iter().filter(|e| e.0 == t).count())
        .collect();
    println!("log entries: {} per thread {per_thread:?}", log.len());
    // try_lock on a held mutex fails, and succeeds once released.
    let m = Arc::new(Mutex::new(5));
    let guard = m.lock().expect("lock");
    let m2 = Arc::clone(&m);
    let held = thread::spawn(move || m2.try_lock().is_err())
        .join()
        .expect("join");
    drop(guard);
    let m3 = Arc::clone(&m);
    let free = thread::spawn(move || m3.try_lock().map(|g| *g).ok())
        .join()
        .expect("join");
    println!("try_lock while held fails: {held}; after release: {free:?}");
}

fn condvar() {
    // A bounded queue of capacity 4: one producer, three consumers.
    struct Queue {
        items: VecDeque<u64>,
        done: bool,
    }
    let shared = Arc::new((
        Mutex::new(Queue {
            items: VecDeque::new(),
            done: false,
        }),
        Condvar::new(),
        Condvar::new(),
    ));
    const ITEMS: u64 = 20_000;
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let (lock, not_empty, not_full) = &*shared;
                let (mut count, mut sum) = (0u64, 0u64);
                loop {
                    let mut q = lock.lock().expect("lock");
                    while q.items.is_empty() && !q.done {
                        q = not_empty.wait(q).expect("wait");
                    }
                    match q.items.pop_front() {
                        Some(x) => {
                            drop(q);
                            not_full.notify_one();
                            count += 1;
                            sum += x;
                        }
                        None => return (count, sum),
                    }
                }
            })
        })
        .collect();
    {
        let (lock, not_empty, not_full) = &*shared;
        for x in 1..=ITEMS {
            let mut q = lock.lock().expect("lock");
            while q.items.len() >= 4 {
                q = not_full.wait(q).expect("wait");
            }
            q.items.push_back(x);
            drop(q);
            not_empty.notify_one();
        }
        lock.lock().expect("lock").done = true;
        not_empty.notify_all();
    }
    let (mut count, mut sum) = (0, 0);
    for h in consumers {
        let (c, s) = h.join().expect("join");
        count += c;
        sum += s;
    }
    println!(
        "bounded queue: {count} items consumed, sum {sum} (expected {})",
        ITEMS * (ITEMS + 1) / 2
    );
    // A handshake: the main thread waits until a worker has set the flag.
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let pair2 = Arc::clone(&pair);
    let worker = thread::spawn(move || {
        let (lock, cv) = &*pair2;
        *lock.lock().expect("lock") = true;
        cv.notify_one();
        "worker done"
    });
    let (lock, cv) = &*pair;
    let ready = cv
        .wait_while(lock.lock().expect("lock"), |r| !*r)
        .expect("wait");
    println!("handshake: ready = {}", *ready);
    drop(ready);
    println!("{}", worker.join().expect("join"));
    // A timed wait nobody notifies times out.
    let (r, timeout) = cv
        .wait_timeout(
            lock.lock().expect("lock"),
            std::time::Duration::from_millis(20),
        )
        .expect("wait");
    drop(r);
    println!(
        "wait_timeout without notify timed out: {}",
        timeout.timed_out()
    );
}

fn channels() {
    const PRODUCERS: u64 = 4;
    const PER: u64 = 25_000;
    let (tx, rx) = mpsc::channel::<(u64, u64)>();
    let hs: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    tx.send((p, i * PRODUCERS + p)).expect("send");
                }
            })
        })
        .collect();
    drop(tx);
    let mut per = [0u64; PRODUCERS as usize];
    let mut last = [None::<u64>; PRODUCERS as usize];
    let mut in_order = true;
    let mut all: Vec<u64> = Vec::new();
    for (p, v) in rx {
        per[p as usize] += 1;
        // Messages of one producer arrive in the order sent.
        in_order &= last[p as usize].is_none_or(|l| l < v);
        last[p as usize] = Some(v);
        all.push(v);
    }
    for h in hs {
        h.join().expect("join");
    }
    all.sort_unstable();
    let dense = all.iter().enumerate().all(|(i, &v)| v == i as u64);
    println!(
        "channel: {} messages, per producer {per:?}, each producer's in order: {in_order}",
        all.len()
    );
    println!(
        "all values 0..{} received once: {dense}, sum {}",
        all.len(),
        all.iter().sum::<u64>()
    );
    // A rendezvous channel (capacity 0) ping-pong.
    let (to_worker, from_main) = mpsc::sync_channel::<u32>(0);
    let (to_main, from_worker) = mpsc::sync_channel::<u32>(0);
    let worker = thread::spawn(move || {
        let mut n = 0;
        for x in from_main {
            to_main.send(x + 1).expect("send");
            n += 1;
        }
        n
    });
    let mut x = 0;
    for _ in 0..2000 {
        to_worker.send(x).expect("send");
        x = from_worker.recv().expect("recv") + 1;
    }
    drop(to_worker);
    println!(
        "rendezvous ping-pong: x = {x}, worker answered {}",
        worker.join().expect("join")
    );
    // A disconnected channel.
    let (tx, rx) = mpsc::channel::<u8>();
    thread::spawn(move || drop(rx)).join().expect("join");
    println!(
        "send after the receiver is gone: {:?}",
        tx.send(1).map_err(|e| e.0)
    );
}

fn scoped() {
    let mut data: Vec<u64> = (0..400_000).collect();
    let total = AtomicU64::new(0);
    thread::scope(|s| {
        for (i, chunk) in data.chunks_mut(100_000).enumerate() {
            let total = &total;
            s.spawn(move || {
                for x in chunk.iter_mut() {
                    *x = *x * 3 + i as u64;
                }
                total.fetch_add(chunk.iter().sum::<u64>(), SeqCst);
            });
        }
    });
    println!(
        "scoped: chunks mutated in place, total {} = recomputed {}",
        total.load(SeqCst),
        data.iter().sum::<u64>()
    );
    let words = ["alpha", "beta", "gamma", "delta", "epsilon"];
    let lens: Vec<usize> = thread::scope(|s| {
        let hs: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
        hs.into_iter().map(|h| h.join().expect("join")).collect()
    });
    println!("scoped results borrowed from the stack: {lens:?}");
}

fn rwlock() {
    let pair = Arc::new(RwLock::new((0u64, 0u64)));
    let stop = Arc::new(AtomicBool::new(false));
    let torn = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (pair, stop, torn) = (Arc::clone(&pair), Arc::clone(&stop), Arc::clone(&torn));
            thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(SeqCst) || reads == 0 {
                    let g = pair.read().expect("read");
                    if g.0 != g.1 {
                        torn.fetch_add(1, SeqCst);
                    }
                    reads += 1;
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let pair = Arc::clone(&pair);
            thread::spawn(move || {
                for _ in 0..20_000 {
                    let mut g = pair.write().expect("write");
                    g.0 += 1;
                    std::hint::black_box(&mut *g);
                    g.1 += 1;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("join");
    }
    stop.store(true, SeqCst);
    for r in readers {
        r.join().expect("join");
    }
    let g = pair.read().expect("read");
    println!(
        "rwlock: final pair ({}, {}), torn reads {}",
        g.0,
        g.1,
        torn.load(SeqCst)
    );
    // Several readers hold it at once.
    let lock = Arc::new(RwLock::new(7));
    let barrier = Arc::new(Barrier::new(3));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let (lock, barrier) = (Arc::clone(&lock), Arc::clone(&barrier));
            thread::spawn(move || {
                let g = lock.read().expect("read");
                barrier.wait(); // all three hold a read guard here
                *g
            })
        })
        .collect();
    let sum: i32 = hs.into_iter().map(|h| h.join().expect("join")).sum();
    println!("three readers at once read {sum}");
}

fn barrier() {
    const THREADS: usize = 4;
    const PHASES: usize = 200;
    let slots: Arc<Vec<AtomicU64>> = Arc::new((0..THREADS).map(|_| AtomicU64::new(0)).collect());
    let barrier = Arc::new(Barrier::new(THREADS));
    let leaders = Arc::new(AtomicUsize::new(0));
    let bad = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let (slots, barrier, leaders, bad) = (
                Arc::clone(&slots),
                Arc::clone(&barrier),
                Arc::clone(&leaders),
                Arc::clone(&bad),
            );
            thread::spawn(move || {
                for phase in 0..PHASES as u64 {
                    slots[t].store(phase * 10 + t as u64, SeqCst);
                    barrier.wait();
                    // Everyone has written this phase's value, nobody the next one's.
                    let sum: u64 = slots.iter().map(|s| s.load(SeqCst)).sum();
                    if sum != phase * 10 * THREADS as u64 + (0..THREADS as u64).sum::<u64>() {
                        bad.fetch_add(1, SeqCst);
                    }
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("join");
    }
    println!(
        "barrier: {PHASES} phases x {THREADS} threads, wrong sums {}, leaders {}",
        bad.load(SeqCst),
        leaders.load(SeqCst)
    );
}

fn atomics() {
    const THREADS: u64 = 4;
    const PER: u64 = 100_000;
    let a32 = Arc::new(AtomicU32::new(0));
    let a64 = Arc::new(AtomicU64::new(0));
    let s64 = Arc::new(AtomicI64::new(0));
    let max = Arc::new(AtomicU64::new(0));
    let min = Arc::new(AtomicI32::new(i32::MAX));
    let bits = Arc::new(AtomicU64::new(0));
    let xor = Arc::new(AtomicU32::new(0));
    let cas = Arc::new(AtomicU64::new(0));
    let narrow8 = Arc::new(AtomicU8::new(0));
    let narrow16 = Arc::new(AtomicU16::new(0));
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let (a32, a64, s64, max, min, bits, xor, cas, narrow8, narrow16) = (
                Arc::clone(&a32),
                Arc::clone(&a64),
                Arc::clone(&s64),
                Arc::clone(&max),
                Arc::clone(&min),
                Arc::clone(&bits),
                Arc::clone(&xor),
                Arc::clone(&cas),
                Arc::clone(&narrow8),
                Arc::clone(&narrow16),
            );
            thread::spawn(move || {
                for i in 0..PER {
                    a32.fetch_add(1, SeqCst);
                    a64.fetch_add(i, SeqCst);
                    s64.fetch_sub(i as i64 - 50_000, SeqCst);
                    max.fetch_max(t * PER + i, SeqCst);
                    min.fetch_min(-((t * PER + i) as i32), SeqCst);
                    xor.fetch_xor((i as u32).wrapping_mul(2_654_435_761), SeqCst);
                    narrow8.fetch_add(1, SeqCst);
                    narrow16.fetch_add(3, SeqCst);
                    // An increment by compare-exchange retried until it wins.
                    let mut cur = cas.load(SeqCst);
                    while let Err(now) = cas.compare_exchange_weak(cur, cur + 2, SeqCst, SeqCst) {
                        cur = now;
                    }
                }
                bits.fetch_or(1 << (t * 8), SeqCst);
                bits.fetch_and(!(1 << 63), SeqCst);
            })
        })
        .collect();
    for h in hs {
        h.join().expect("join");
    }
    let n = THREADS * PER;
    println!("fetch_add u32: {} (expected {n})", a32.load(SeqCst));
    println!(
        "fetch_add u64: {} (expected {})",
        a64.load(SeqCst),
        THREADS * PER * (PER - 1) / 2
    );
    println!("fetch_sub i64: {}", s64.load(SeqCst));
    println!(
        "fetch_max: {}, fetch_min: {}",
        max.load(SeqCst),
        min.load(SeqCst)
    );
    println!("fetch_or/and: {:#018x}", bits.load(SeqCst));
    println!(
        "fetch_xor: {:#010x} (each value xored an even number of times)",
        xor.load(SeqCst)
    );
    println!(
        "compare_exchange loop: {} (expected {})",
        cas.load(SeqCst),
        2 * n
    );
    println!(
        "u8 wraps: {} (expected {}), u16 wraps: {} (expected {})",
        narrow8.load(SeqCst),
        n % 256,
        narrow16.load(SeqCst),
        (3 * n) % 65536
    );
    let swap = AtomicU64::new(5);
    println!(
        "swap returns {}, then {}",
        swap.swap(9, SeqCst),
        swap.load(SeqCst)
    );
}

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
    static NAMES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn tls() {
    COUNTER.with(|c| c.set(1000));
    NAMES.with(|n| n.borrow_mut().push("main".into()));
    let hs: Vec<_> = (1..=4u64)
        .map(|t| {
            thread::spawn(move || {
                let start = COUNTER.with(Cell::get);
                for _ in 0..t * 1000 {
                    COUNTER.with(|c| c.set(c.get() + 1));
                }
                NAMES.with(|n| n.borrow_mut().push(format!("thread {t}")));
                (
                    start,
                    COUNTER.with(Cell::get),
                    NAMES.with(|n| n.borrow().clone()),
                )
            })
        })
        .collect();
    for (t, h) in hs.into_iter().enumerate() {
        let (start, end, names) = h.join().expect("join");
        println!(
            "thread {}: counter started at {start}, ended at {end}, names {names:?}",
            t + 1
        );
    }
    println!(
        "main: counter {}, names {:?}",
        COUNTER.with(Cell::get),
        NAMES.with(|n| n.borrow().clone())
    );
}

fn park() {
    // The worker parks until main has published a value, 1000 times.
    let value = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let (v2, s2) = (Arc::clone(&value), Arc::clone(&seen));
    let worker = thread::spawn(move || {
        let mut sum = 0;
        for i in 1..=1000 {
            while v2.load(SeqCst) < i {
                thread::park();
            }
            sum += v2.load(SeqCst);
            s2.store(i, SeqCst);
        }
        sum
    });
    for i in 1..=1000 {
        value.store(i, SeqCst);
        worker.thread().unpark();
        while seen.load(SeqCst) < i {
            thread::yield_now();
        }
    }
    println!(
        "park/unpark: worker summed {}",
        worker.join().expect("join")
    );
    let start = std::time::Instant::now();
    thread::park_timeout(std::time::Duration::from_millis(10));
    println!(
        "park_timeout returned after at least 1 ms: {}",
        start.elapsed().as_millis() >= 1
    );
}

fn panic_in_thread() {
    println!("main: spawning a thread that panics");
    let h = thread::Builder::new()
        .name("doomed".into())
        .spawn(|| {
            let answer = std::hint::black_box(42);
            if answer == 42 {
                panic!("the worker gave up at {answer}");
            }
        })
        .expect("spawn");
    // On wasm32 a panic aborts the whole process: join never returns.
    let r = h.join();
    println!("main: join returned {} (unexpected)", r.is_ok());
}

fn exit_in_thread(code: i32) {
    println!("main: spawning a thread that calls exit({code})");
    let h = thread::spawn(move || {
        eprintln!("worker: exiting with {code}");
        std::process::exit(code);
    });
    let _ = h.join();
    println!("main: join returned (unexpected)");
    std::process::exit(99);
}
