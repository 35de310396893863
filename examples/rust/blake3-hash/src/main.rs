//! BLAKE3 (the `blake3` crate) over generated data: `blake3-hash N` hashes N times one MiB
//! from a fixed xorshift generator and prints the digest. A benchmark of a crate with SIMD paths:
//! built with `-C target-feature=+simd128` it uses WebAssembly SIMD (benches/run.sh).

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "1".to_string());
    let Ok(mib) = arg.parse::<u64>() else {
        eprintln!("usage: blake3-hash <MiB> (got {arg:?})");
        return ExitCode::from(2);
    };
    // One MiB from the generator, hashed N times: the time is the hash's, not the
    // generator's (BLAKE3 with SIMD is faster than xorshift).
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    for word in buf.chunks_exact_mut(8) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        word.copy_from_slice(&rng.to_le_bytes());
    }
    let mut h = blake3::Hasher::new();
    for _ in 0..mib {
        h.update(&buf);
    }
    println!("blake3 of 1 MiB of xorshift data repeated {mib} times: {}", h.finalize().to_hex());
    ExitCode::SUCCESS
}
