//! Markdown to HTML with pulldown-cmark: `markdown N` generates a document of N sections
//! (headings, paragraphs with emphasis, links and code spans, nested lists, block quotes,
//! fenced code, tables, footnotes, escapes and entities), renders it to HTML 4 times, and
//! prints the sizes and a checksum of the HTML. Exercises byte scanning, a state-machine
//! parser, string building and many small allocations.

use pulldown_cmark::{Options, Parser, html};
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

const WORDS: [&str; 16] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "labore",
    "magna",
    "aliqua",
];

fn sentence(rng: &mut XorShift, out: &mut String) {
    let n = 6 + rng.below(12);
    for i in 0..n {
        let w = WORDS[rng.below(16) as usize];
        match rng.below(14) {
            0 => write!(out, "*{w}*"),
            1 => write!(out, "**{w}**"),
            2 => write!(out, "`{w}()`"),
            3 => write!(out, "[{w}](https://example.com/{w}/{i})"),
            4 => write!(out, "{w} &amp; \\*{w}\\*"),
            _ => write!(out, "{w}"),
        }
        .expect("writing to a String");
        out.push(if i + 1 == n { '.' } else { ' ' });
    }
    out.push(' ');
}

fn document(sections: u64) -> String {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut doc = String::new();
    for s in 0..sections {
        writeln!(doc, "## Section {s}: {}\n", WORDS[(s % 16) as usize])
            .expect("writing to a String");
        for _ in 0..3 {
            for _ in 0..4 {
                sentence(&mut rng, &mut doc);
            }
            doc.push_str("\n\n");
        }
        for i in 0..5 {
            doc.push_str(if i % 2 == 0 { "- " } else { "  1. " });
            sentence(&mut rng, &mut doc);
            doc.push('\n');
        }
        doc.push_str("\n> ");
        sentence(&mut rng, &mut doc);
        writeln!(doc, "[^n{s}]\n>\n> > nested quote\n").expect("writing to a String");
        writeln!(
            doc,
            "```rust\nfn f{s}(x: u32) -> u32 {{ x * {s} + 1 }}\n```\n"
        )
        .expect("writing to a String");
        doc.push_str("| name | value | note |\n|:-----|------:|:----:|\n");
        for r in 0..4 {
            writeln!(
                doc,
                "| {} | {} | `{}` |",
                WORDS[rng.below(16) as usize],
                rng.below(1000),
                r
            )
            .expect("writing to a String");
        }
        writeln!(
            doc,
            "\n[^n{s}]: Footnote {s} with <em>inline html</em> &copy;.\n"
        )
        .expect("writing to a String");
    }
    doc
}

fn main() -> ExitCode {
    let Some(sections) = std::env::args().nth(1).and_then(|a| a.parse::<u64>().ok()) else {
        eprintln!("usage: markdown SECTIONS");
        return ExitCode::from(2);
    };
    let doc = document(sections);
    let mut options = Options::empty();
    options
        .insert(Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH);
    let mut html_len = 0;
    let mut sum = 0xcbf2_9ce4_8422_2325u64;
    for _ in 0..4 {
        let mut out = String::with_capacity(doc.len() * 2);
        html::push_html(&mut out, Parser::new_ext(&doc, options));
        html_len = out.len();
        for &b in out.as_bytes() {
            sum = (sum ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    println!(
        "markdown {sections} sections: {} bytes in, {html_len} bytes out, checksum {sum:016x}",
        doc.len()
    );
    ExitCode::SUCCESS
}
