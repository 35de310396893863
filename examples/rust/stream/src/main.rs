//! Streams stdin to stdout in fixed-size chunks, so inputs larger than any buffer pass
//! through many reads and writes.
//!
//! `stream upper` (the default) copies stdin to stdout with ASCII letters upper-cased and
//! prints a summary to stderr; `stream stats` prints only the summary, to stdout. The
//! summary is `lines=L bytes=B reads>1=R fnv1a=H`: H is FNV-1a (64 bit) of the input.

use std::io::{self, Read, Write};

/// Small on purpose: a 1 MiB input takes hundreds of reads.
const CHUNK: usize = 4096;

fn main() {
    let mode = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "upper".to_string());
    let copy = match mode.as_str() {
        "upper" => true,
        "stats" => false,
        other => {
            eprintln!("stream: unknown mode {other:?} (expected upper or stats)");
            std::process::exit(2);
        }
    };
    match run(copy) {
        Ok(summary) if copy => eprintln!("{summary}"),
        Ok(summary) => println!("{summary}"),
        Err(e) => {
            eprintln!("stream: {e}");
            std::process::exit(1);
        }
    }
}

fn run(copy: bool) -> io::Result<String> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; CHUNK];
    let (mut lines, mut bytes, mut reads) = (0u64, 0u64, 0u64);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        reads += 1;
        bytes += n as u64;
        let chunk = &mut buf[..n];
        for b in chunk.iter_mut() {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
            if *b == b'\n' {
                lines += 1;
            }
            b.make_ascii_uppercase();
        }
        if copy {
            stdout.write_all(chunk)?;
        }
    }
    stdout.flush()?;
    Ok(format!(
        "lines={lines} bytes={bytes} reads>1={} fnv1a={hash:016x}",
        reads > 1
    ))
}
