//! The WebAssembly spec suite (wasm-v2) through `aot`, on every target we can run.
//!
//! `cargo test -p aot-tests --test spec [-- <file filter>... --target aarch64]`; env:
//! `AOT_SPEC_TARGET=x86_64,aarch64`, `AOT_SPEC_BLESS=1` (rewrite
//! tests/spec/known-failures.txt), `AOT_SPEC_VERBOSE=1`, `AOT_SPEC_KEEP=1` (keep the
//! executables), `AOT_SPEC_TIMEOUT=<s>`, `AOT_SPEC_JOBS=<n>`. See `aot_tests::runner`.

fn main() -> std::process::ExitCode {
    aot_tests::runner::main(std::env::args().skip(1).collect())
}
