//! Regular expressions with the regex crate: `regexp N` generates N thousand log lines, then
//! counts matches of several patterns (alternations, classes, case-insensitive words),
//! extracts fields with captures, and rewrites the text with `replace_all`; it prints the
//! counts and a checksum. Exercises the lazy DFA and the PikeVM/backtracker (captures),
//! Unicode classes, and literal prefilters.

use regex::Regex;
use std::fmt::Write;
use std::process::ExitCode;

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const USERS: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];
const LEVELS: [&str; 4] = ["INFO", "WARN", "ERROR", "DEBUG"];
const WORDS: [&str; 12] = [
    "connection",
    "timeout",
    "request",
    "accepted",
    "refused",
    "cache",
    "miss",
    "hit",
    "Überlauf",
    "naïve",
    "retrying",
    "done",
];

fn text(lines: u64) -> String {
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let mut t = String::new();
    for i in 0..lines {
        let user = USERS[rng.below(8) as usize];
        write!(
            t,
            "2024-{:02}-{:02} {:02}:{:02}:{:02} {} user={}{} ip=10.{}.{}.{} mail={}.{}@{}.example.org msg=",
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            LEVELS[rng.below(4) as usize],
            user,
            rng.below(100),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            user,
            i % 97,
            USERS[rng.below(8) as usize],
        )
        .expect("writing to a String");
        for _ in 0..3 + rng.below(6) {
            t.push_str(WORDS[rng.below(12) as usize]);
            t.push(' ');
        }
        writeln!(t, "id={:x}", rng.below(1 << 32)).expect("writing to a String");
    }
    t
}

fn main() -> ExitCode {
    let Some(thousands) = std::env::args().nth(1).and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: regexp THOUSANDS_OF_LINES");
        return ExitCode::from(2);
    };
    let t = text(thousands * 1000);
    let re = |p: &str| Regex::new(p).expect("the patterns are valid");
    let counts = [
        re(r"\b(?:ERROR|WARN)\b").find_iter(&t).count(),
        re(r"(?i)timeout|refused|überlauf").find_iter(&t).count(),
        re(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
            .find_iter(&t)
            .count(),
        re(r"[\w.]+@[\w]+\.example\.org").find_iter(&t).count(),
        re(r"(?m)^2024-0[1-6]-\d\d .* ERROR .*miss")
            .find_iter(&t)
            .count(),
        re(r"\p{Lu}\w+").find_iter(&t).count(),
    ];
    // Captures: the hour and user of each error line, summed into a checksum.
    let caps = re(r"(?m)^(\d{4})-(\d\d)-(\d\d) (\d\d):\d\d:\d\d ERROR user=(?P<user>[a-z]+)(\d+)");
    let mut sum = 0xcbf2_9ce4_8422_2325u64;
    let mut errors = 0;
    for c in caps.captures_iter(&t) {
        errors += 1;
        let hour: u64 = c[4].parse().unwrap_or(0);
        sum = (sum ^ hour ^ (c["user"].len() as u64) << 8 ^ c[6].parse::<u64>().unwrap_or(0) << 16)
            .wrapping_mul(0x100_0000_01b3);
    }
    // replace_all with group references: rewrite dates and mask addresses.
    let dates = re(r"(\d{4})-(\d\d)-(\d\d)").replace_all(&t, "$3/$2/$1");
    let masked = re(r"ip=(\d+)\.\d+\.\d+\.(\d+)").replace_all(&dates, "ip=$1.x.x.$2");
    for &b in masked.as_bytes() {
        sum = (sum ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    println!(
        "regexp {thousands}k lines ({} bytes): counts {counts:?}, {errors} error captures, {} bytes rewritten, checksum {sum:016x}",
        t.len(),
        masked.len()
    );
    ExitCode::SUCCESS
}
