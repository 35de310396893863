//! Calls the WASI 0.2 functions of io, clocks, random and cli directly, printing only what
//! is deterministic (lengths, orderings, fixed data). Modes: `surface` (everything but the
//! exits), `stdin` (the input-stream functions on stdin), `exit-ok`, `exit-err`,
//! `exit-code N`. Built for wasm32-wasip2 only; elsewhere it says so and fails.

#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod p2 {
    use wasip2::cli::{environment, exit, stderr, stdin, stdout, terminal_stderr, terminal_stdin, terminal_stdout};
    use wasip2::clocks::{monotonic_clock, wall_clock};
    use wasip2::io::poll;
    use wasip2::io::streams::StreamError;
    use wasip2::random::{insecure, insecure_seed, random};

    fn say(s: &str) {
        let out = stdout::get_stdout();
        for chunk in format!("{s}\n").as_bytes().chunks(4096) {
            out.blocking_write_and_flush(chunk).expect("stdout");
        }
    }

    fn err_name(e: &StreamError) -> &'static str {
        match e {
            StreamError::Closed => "closed",
            StreamError::LastOperationFailed(_) => "failed",
        }
    }

    pub fn surface() {
        // cli/environment
        let args = environment::get_arguments();
        say(&format!("arguments: {} (after argv[0]: {:?})", args.len(), &args[1..]));
        let mut env = environment::get_environment();
        env.sort();
        say(&format!("environment: {env:?}"));
        say(&format!("initial-cwd: {:?}", environment::initial_cwd()));
        // cli/terminal-*: the test runs with pipes, so none is a terminal.
        say(&format!(
            "terminals: stdin {} stdout {} stderr {}",
            terminal_stdin::get_terminal_stdin().is_some(),
            terminal_stdout::get_terminal_stdout().is_some(),
            terminal_stderr::get_terminal_stderr().is_some()
        ));

        // io/streams on stdout and stderr
        let out = stdout::get_stdout();
        let budget = out.check_write().expect("check-write");
        say(&format!("check-write allows at least 1 byte: {}", budget >= 1));
        out.write(b"written with write\n").expect("write");
        out.flush().expect("flush");
        out.blocking_flush().expect("blocking-flush");
        out.write_zeroes(3).expect("write-zeroes");
        out.blocking_write_zeroes_and_flush(2).expect("blocking-write-zeroes-and-flush");
        say("");
        let ready = out.subscribe();
        ready.block();
        say(&format!("stdout pollable ready: {}", ready.ready()));
        drop(ready);
        let err = stderr::get_stderr();
        err.blocking_write_and_flush(b"to stderr\n").expect("stderr");

        // io/poll and clocks/monotonic-clock
        let t0 = monotonic_clock::now();
        let res = monotonic_clock::resolution();
        say(&format!("monotonic resolution positive: {}", res > 0));
        let short = monotonic_clock::subscribe_duration(1_000_000);
        let long = monotonic_clock::subscribe_duration(10_000_000_000);
        let ready = poll::poll(&[&long, &short]);
        say(&format!("poll of (10 s, 1 ms) gives {ready:?}"));
        say(&format!("10 s pollable ready yet: {}", long.ready()));
        let t1 = monotonic_clock::now();
        say(&format!("monotonic advanced by >= 1 ms: {}", t1 - t0 >= 1_000_000));
        let at = monotonic_clock::subscribe_instant(t1 + 2_000_000);
        at.block();
        say(&format!(
            "subscribe-instant waited until its instant: {}",
            monotonic_clock::now() >= t1 + 2_000_000
        ));
        // (Whether it is ready before any wait is timer granularity: wasmtime's tokio
        // timers say no for a while; so only after a block is it asked.)
        let past = monotonic_clock::subscribe_instant(0);
        past.block();
        say(&format!("an instant in the past is ready after block: {}", past.ready()));

        // clocks/wall-clock
        let now = wall_clock::now();
        say(&format!(
            "wall clock after 2020: {}, nanoseconds < 1e9: {}",
            now.seconds > 1_577_836_800,
            now.nanoseconds < 1_000_000_000
        ));
        let r = wall_clock::resolution();
        say(&format!(
            "wall resolution positive: {}",
            r.seconds > 0 || r.nanoseconds > 0
        ));

        // random/*
        let a = random::get_random_bytes(32);
        let b = random::get_random_bytes(32);
        say(&format!("random bytes: {} and {}, differ: {}", a.len(), b.len(), a != b));
        say(&format!(
            "random u64s differ: {}",
            random::get_random_u64() != random::get_random_u64()
        ));
        say(&format!(
            "insecure bytes: {}, u64s differ: {}",
            insecure::get_insecure_random_bytes(17).len(),
            insecure::get_insecure_random_u64() != insecure::get_insecure_random_u64()
        ));
        let (s1, s2) = insecure_seed::insecure_seed();
        say(&format!("insecure seed halves differ: {}", s1 != s2));
        say(&format!("zero random bytes: {}", random::get_random_bytes(0).len()));
    }

    pub fn stdin_functions() {
        let input = stdin::get_stdin();
        let ready = input.subscribe();
        ready.block();
        let first = input.blocking_read(5).expect("blocking-read");
        say(&format!("blocking-read 5: {:?}", String::from_utf8_lossy(&first)));
        let skipped = input.blocking_skip(6).expect("blocking-skip");
        say(&format!("blocking-skip 6: {skipped}"));
        // A non-blocking read may return nothing yet; loop until data or the end.
        let mut rest = Vec::new();
        loop {
            match input.read(1000) {
                Ok(b) if b.is_empty() => input.subscribe().block(),
                Ok(b) => rest.extend(b),
                Err(e) => {
                    say(&format!("read until {}", err_name(&e)));
                    break;
                }
            }
        }
        say(&format!("rest: {:?}", String::from_utf8_lossy(&rest)));
        match input.skip(10) {
            Ok(n) => say(&format!("skip at the end: {n}")),
            Err(e) => say(&format!("skip at the end: {}", err_name(&e))),
        }
        match input.blocking_read(10) {
            Ok(b) => say(&format!("blocking-read at the end: {} bytes", b.len())),
            Err(e) => say(&format!("blocking-read at the end: {}", err_name(&e))),
        }
        // splice: stdin (at its end) into stdout.
        let out = stdout::get_stdout();
        match out.blocking_splice(&input, 100) {
            Ok(n) => say(&format!("blocking-splice: {n}")),
            Err(e) => say(&format!("blocking-splice: {}", err_name(&e))),
        }
        match out.splice(&input, 100) {
            Ok(n) => say(&format!("splice: {n}")),
            Err(e) => say(&format!("splice: {}", err_name(&e))),
        }
    }

    pub fn exit_ok() {
        say("exit(ok)");
        exit::exit(Ok(()));
    }

    pub fn exit_err() {
        say("exit(err)");
        exit::exit(Err(()));
    }

    pub fn exit_code(code: u8) {
        say(&format!("exit-with-code({code})"));
        exit::exit_with_code(code);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("surface");
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    match mode {
        "surface" => p2::surface(),
        "stdin" => p2::stdin_functions(),
        "exit-ok" => p2::exit_ok(),
        "exit-err" => p2::exit_err(),
        "exit-code" => p2::exit_code(args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0)),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
    #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
    {
        eprintln!("wasi-p2 {mode}: this program needs wasm32-wasip2");
        std::process::exit(2);
    }
}
