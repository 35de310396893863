//! The WebAssembly spec suite through `aot`, on every target we can run: wasm-v2 (which
//! must pass entirely), wasm-v3 and the Wasm 3.0 proposal directories (whose failures are
//! listed in tests/spec/known-failures.txt), with counts per file, directory and target.
//!
//! `cargo test -p aot-tests --test spec [-- <file filter>... --target aarch64 --dir simd]`;
//! env: `AOT_SPEC_TARGET=x86_64,aarch64`, `AOT_SPEC_DIRS=wasm-v2,tail-call` (default: all),
//! `AOT_SPEC_BLESS=1` (rewrite tests/spec/known-failures.txt), `AOT_SPEC_VERBOSE=1`,
//! `AOT_SPEC_KEEP=1` (keep the executables), `AOT_SPEC_TIMEOUT=<s>`, `AOT_SPEC_JOBS=<n>`,
//! `AOT_SPEC_BOUNDS=explicit`, `AOT_SPEC_CPU=x86-64-v3` (or `native`; default: the baseline),
//! `AOT_SPEC_UNROLL=every` (or `off`; default: the loops `aot` chooses). See `aot_tests::runner`.

fn main() -> std::process::ExitCode {
    aot_tests::runner::main(std::env::args().skip(1).collect())
}
