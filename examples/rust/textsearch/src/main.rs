//! Searching generated log text with `memchr` and `regex`: `textsearch N [R]` generates
//! about N MiB of log lines, then R times (default 1) counts lines, a byte, a substring and
//! the matches of a few regular expressions, and prints the counts. A benchmark of crates
//! with SIMD paths (memchr's; regex finds its literals through memchr).

use std::fmt::Write as _;
use std::process::ExitCode;

use memchr::memmem;
use regex::bytes::Regex;

const WORDS: &[&str] = &[
    "request", "served", "cache", "miss", "hit", "user", "session", "timeout", "retry",
    "upstream", "connection", "closed", "opened", "payload", "bytes", "latency", "queue",
    "worker", "shard", "replica", "index", "query", "commit", "rollback", "lock", "granted",
];
const LEVELS: &[&str] = &["INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR", "FATAL"];

/// `r` modulo `n` in 64 bits: the same text on 32- and 64-bit targets.
fn pick(r: u64, n: usize) -> usize {
    (r % n as u64) as usize
}

fn generate(mib: usize) -> Vec<u8> {
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut text = String::with_capacity(mib << 20);
    while text.len() < mib << 20 {
        let r = next();
        let _ = write!(
            text,
            "2026-12-04T{:02}:{:02}:{:02}.{:03}Z {} [worker-{}] ",
            r % 24,
            (r >> 8) % 60,
            (r >> 16) % 60,
            (r >> 24) % 1000,
            LEVELS[pick(r >> 34, LEVELS.len())],
            (r >> 40) % 16
        );
        for _ in 0..(3 + (r >> 44) % 12) {
            let w = next();
            text.push_str(WORDS[pick(w, WORDS.len())]);
            match (w >> 20) % 16 {
                0 => {
                    let _ = write!(text, " user=u{}", (w >> 24) % 5000);
                }
                1 => {
                    let _ = write!(text, " ip=10.{}.{}.{}", (w >> 24) % 256, (w >> 32) % 256, (w >> 40) % 256);
                }
                2 => {
                    let _ = write!(text, " took={}ms", (w >> 24) % 2000);
                }
                _ => {}
            }
            text.push(' ');
        }
        text.push('\n');
    }
    text.into_bytes()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(Ok(mib)), Ok(rounds)) = (
        args.next().map(|a| a.parse::<usize>()),
        args.next().map_or(Ok(1), |a| a.parse::<usize>()),
    ) else {
        eprintln!("usage: textsearch <MiB> [rounds]");
        return ExitCode::from(2);
    };
    let text = generate(mib);
    let patterns = [
        r"ERROR|FATAL",
        r"user=u4[0-9]{3}\b",
        r"ip=10\.1[0-9]{2}\.[0-9]+\.7\b",
        r"took=1[5-9][0-9]{2}ms",
        r"(?m)^2026-12-04T23:59",
    ];
    let regexes: Vec<Regex> = patterns
        .iter()
        .map(|p| Regex::new(p).expect("the patterns are valid"))
        .collect();
    let finder = memmem::Finder::new("rollback");
    let mut report = String::new();
    for round in 0..rounds {
        let lines = memchr::memchr_iter(b'\n', &text).count();
        let equals = memchr::memchr_iter(b'=', &text).count();
        let rollbacks = finder.find_iter(&text).count();
        let mut out = format!("{} bytes, {lines} lines, {equals} '=', {rollbacks} 'rollback'", text.len());
        for (p, r) in patterns.iter().zip(&regexes) {
            let _ = write!(out, ", {} /{p}/", r.find_iter(&text).count());
        }
        if round == 0 {
            report = out;
        } else if out != report {
            eprintln!("round {round} differs: {out}");
            return ExitCode::FAILURE;
        }
    }
    println!("{report}");
    ExitCode::SUCCESS
}
