//! A JSON parser (RFC 8259, written out here) over generated documents: `json K [R]`
//! generates a pseudo-random document of about K KiB, then R times (default 1) parses it
//! into a tree, walks the tree and serialises it again, and prints what it found.
//! `json selftest` parses a set of valid and invalid documents and prints the verdicts.
//! A benchmark kernel: byte-at-a-time branching, recursion and many small allocations.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

/// A parse error and the byte offset where it was found.
#[derive(Debug)]
struct Error {
    at: usize,
    what: &'static str,
}

/// Deeper documents are rejected rather than exhausting the stack.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn parse(s: &'a str) -> Result<Value, Error> {
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("trailing characters"));
        }
        Ok(v)
    }

    fn err(&self, what: &'static str) -> Error {
        Error { at: self.i, what }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), Error> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, Error> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.err("expected , or ]")),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut fields = BTreeMap::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Value::Object(fields));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.ws();
                    self.expect(b':', "expected :")?;
                    let v = self.value(depth + 1)?;
                    fields.insert(key, v);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Object(fields));
                        }
                        _ => return Err(self.err("expected , or }")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        if self.digits() == 0 {
            return Err(self.err("expected a digit"));
        }
        if self.s[int_start] == b'0' && self.i - int_start > 1 {
            return Err(Error {
                at: int_start,
                what: "leading zero",
            });
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("expected a digit after ."));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected an exponent"));
            }
        }
        // The bytes are ASCII digits and signs, so this is valid UTF-8 and a valid float.
        let text =
            std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.err("bad number"))?;
        text.parse()
            .map(Value::Number)
            .map_err(|_| self.err("bad number"))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("bad \\u escape")),
            };
            v = v * 16 + u32::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    let simple = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return Err(self.err("lone surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("bad low surrogate"));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            let ch =
                                char::from_u32(cp).ok_or_else(|| self.err("lone surrogate"))?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return Err(self.err("bad escape")),
                    };
                    out.push(simple);
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => out.push(c),
            }
        }
        // The input is a &str and escapes produce whole characters, so this holds UTF-8.
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))
    }
}

fn serialise(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Str(s) => quote(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                serialise(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                quote(k, out);
                out.push(':');
                serialise(item, out);
            }
            out.push('}');
        }
    }
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[derive(Default, Debug)]
struct Stats {
    objects: u64,
    arrays: u64,
    strings: u64,
    string_bytes: u64,
    numbers: u64,
    number_sum: f64,
    bools_true: u64,
    nulls: u64,
    max_depth: usize,
}

fn walk(v: &Value, depth: usize, st: &mut Stats) {
    st.max_depth = st.max_depth.max(depth);
    match v {
        Value::Null => st.nulls += 1,
        Value::Bool(b) => st.bools_true += u64::from(*b),
        Value::Number(n) => {
            st.numbers += 1;
            st.number_sum += n;
        }
        Value::Str(s) => {
            st.strings += 1;
            st.string_bytes += s.len() as u64;
        }
        Value::Array(items) => {
            st.arrays += 1;
            items.iter().for_each(|i| walk(i, depth + 1, st));
        }
        Value::Object(fields) => {
            st.objects += 1;
            for (k, i) in fields {
                st.string_bytes += k.len() as u64;
                walk(i, depth + 1, st);
            }
        }
    }
}

/// A fixed xorshift generator, so documents are the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 12] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "épsilon",
    "zeta",
    "eta\ttab",
    "théta",
    "io\"ta",
    "kappa\\",
    "λ",
    "mu\u{1F600}",
];

/// Appends a random value of at most `depth` more levels.
fn generate(rng: &mut Rng, depth: u32, out: &mut String) {
    let kind = if depth == 0 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match kind {
        0 => {
            let n = rng.below(2_000_000) as i64 - 1_000_000;
            let _ = write!(out, "{n}");
        }
        1 => {
            let n = rng.below(10_000_000) as i64 - 5_000_000;
            let _ = write!(
                out,
                "{}.{:03}e{}",
                n / 1000,
                (n % 1000).abs(),
                rng.below(5) as i64 - 2
            );
        }
        2 => {
            out.push('"');
            for _ in 0..rng.below(4) + 1 {
                let w = WORDS[rng.below(WORDS.len() as u64) as usize];
                for c in w.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        'λ' => out.push_str("\\u03bb"),
                        '\u{1F600}' => out.push_str("\\ud83d\\ude00"),
                        c => out.push(c),
                    }
                }
                out.push(' ');
            }
            out.push('"');
        }
        3 => out.push_str(["true", "false", "null"][rng.below(3) as usize]),
        4 | 5 => {
            out.push_str("{ ");
            for i in 0..rng.below(6) {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(
                    out,
                    "\"{}{}\": ",
                    WORDS[rng.below(6) as usize],
                    rng.below(100)
                );
                generate(rng, depth - 1, out);
            }
            out.push_str(" }");
        }
        _ => {
            out.push('[');
            for i in 0..rng.below(8) {
                if i > 0 {
                    out.push(',');
                }
                generate(rng, depth - 1, out);
            }
            out.push(']');
        }
    }
}

fn document(kib: u64) -> String {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = String::from("[\n");
    let mut first = true;
    while (out.len() as u64) < kib * 1024 {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        generate(&mut rng, 6, &mut out);
    }
    out.push_str("\n]\n");
    out
}

fn selftest() -> bool {
    let cases: [(&str, bool); 22] = [
        ("null", true),
        (" [1, -2.5e3, 0.0, -0] ", true),
        ("{\"a\": {\"b\": [true, false, null]}}", true),
        ("\"\\u00e9\\ud83d\\ude00\\n\"", true),
        ("[]", true),
        ("{}", true),
        ("1e-7", true),
        ("\"é€\"", true),
        ("", false),
        ("[1,]", false),
        ("{\"a\" 1}", false),
        ("{1: 2}", false),
        ("01", false),
        ("1.", false),
        ("-", false),
        ("\"abc", false),
        ("\"\\x\"", false),
        ("\"\\ud800\"", false),
        ("[1] 2", false),
        ("tru", false),
        ("\"a\u{1}b\"", false),
        (
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            false,
        ),
    ];
    let mut ok = true;
    for (text, valid) in cases {
        let shown: String = text.chars().take(40).collect();
        match Parser::parse(text) {
            Ok(v) => {
                let mut out = String::new();
                serialise(&v, &mut out);
                println!(
                    "{} {shown:?} -> {out}",
                    if valid { "ok" } else { "FAIL (accepted)" }
                );
                ok &= valid;
            }
            Err(e) => {
                println!(
                    "{} {shown:?} -> error at byte {}: {}",
                    if valid { "FAIL (rejected)" } else { "ok" },
                    e.at,
                    e.what
                );
                ok &= !valid;
            }
        }
    }
    ok
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let arg = args.next().unwrap_or_else(|| "64".to_string());
    if arg == "selftest" {
        return if selftest() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let (Ok(kib), Ok(rounds)) = (
        arg.parse::<u64>(),
        args.next()
            .unwrap_or_else(|| "1".to_string())
            .parse::<u64>(),
    ) else {
        eprintln!("usage: json <KiB> [rounds] | selftest");
        return ExitCode::from(2);
    };
    let doc = document(kib);
    println!("document: {} bytes", doc.len());
    let mut reserialised = 0;
    let mut st = Stats::default();
    for _ in 0..rounds {
        let v = match Parser::parse(&doc) {
            Ok(v) => v,
            Err(e) => {
                println!("error at byte {}: {}", e.at, e.what);
                return ExitCode::FAILURE;
            }
        };
        st = Stats::default();
        walk(&v, 0, &mut st);
        let mut out = String::with_capacity(doc.len());
        serialise(&v, &mut out);
        // The serialised form must parse back to the same tree.
        let again = Parser::parse(&out).map(|w| w == v).unwrap_or(false);
        if !again {
            println!("round trip failed");
            return ExitCode::FAILURE;
        }
        reserialised = out.len();
    }
    println!("rounds: {rounds}, reserialised: {reserialised} bytes, round trip ok");
    println!(
        "objects {} arrays {} strings {} ({} bytes incl. keys) numbers {} (sum {:.6}) true {} null {} max depth {}",
        st.objects,
        st.arrays,
        st.strings,
        st.string_bytes,
        st.numbers,
        st.number_sum,
        st.bools_true,
        st.nulls,
        st.max_depth
    );
    ExitCode::SUCCESS
}
