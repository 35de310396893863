//! DEFLATE with miniz_oxide (pure Rust): `deflate N` generates N MiB of mixed data (text-like
//! words, runs, and noise), compresses it as zlib at levels 1, 6 and 9, decompresses each
//! back, checks the round trip, and prints the compressed sizes and an Adler-32 and FNV
//! checksum. Exercises hash-chain match finding, Huffman coding, bit I/O and copies.

use miniz_oxide::deflate::compress_to_vec_zlib;
use miniz_oxide::inflate::decompress_to_vec_zlib;
use std::process::ExitCode;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: [&[u8]; 10] = [
    b"the ",
    b"quick ",
    b"brown ",
    b"fox ",
    b"jumps ",
    b"over ",
    b"lazy ",
    b"dog ",
    b"compression ",
    b"window ",
];

fn data(bytes: usize) -> Vec<u8> {
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let mut d = Vec::with_capacity(bytes + 64);
    while d.len() < bytes {
        // Reduced in u64 before narrowing: usize is 32 bits on wasm32, 64 natively.
        let r = rng.next();
        match r % 8 {
            0 => d.extend(std::iter::repeat_n(
                (r >> 8) as u8,
                ((r >> 16) % 40) as usize,
            )),
            1 => d.extend((0..((r >> 8) % 24) as usize).map(|i| (r >> (i % 7 * 8)) as u8)),
            _ => d.extend_from_slice(WORDS[((r >> 8) % WORDS.len() as u64) as usize]),
        }
    }
    d.truncate(bytes);
    d
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    b << 16 | a
}

fn main() -> ExitCode {
    let Some(mib) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    else {
        eprintln!("usage: deflate MIB");
        return ExitCode::from(2);
    };
    let input = data(mib << 20);
    let mut sizes = Vec::new();
    let mut fnv = 0xcbf2_9ce4_8422_2325u64;
    for level in [1u8, 6, 9] {
        let packed = compress_to_vec_zlib(&input, level);
        let unpacked = match decompress_to_vec_zlib(&packed) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("deflate: level {level} does not decompress: {e:?}");
                return ExitCode::FAILURE;
            }
        };
        if unpacked != input {
            eprintln!("deflate: level {level} round trip differs");
            return ExitCode::FAILURE;
        }
        for &b in &packed {
            fnv = (fnv ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        sizes.push(packed.len());
    }
    println!(
        "deflate {mib} MiB: compressed {sizes:?}, adler32 {:08x}, checksum {fnv:016x}",
        adler32(&input)
    );
    ExitCode::SUCCESS
}
