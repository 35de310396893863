#!/usr/bin/env bash
# The demo: installs what is missing (scripts/setup.sh: rustup targets, qemu-user, clang,
# wasi-libc), builds aot, builds the example programs hello and args-env for
# wasm32-wasip1, compiles them with aot into native executables for x86_64 and aarch64,
# and runs them (aarch64 under qemu-aarch64).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== building aot"
cargo build --quiet -p aot
aot=target/debug/aot
echo "== building the examples for wasm32-wasip1"
cargo build --quiet --release --manifest-path examples/Cargo.toml --target-dir target/examples \
    --target wasm32-wasip1 -p hello -p args-env
wasm=target/examples/wasm32-wasip1/release
out=target/demo
mkdir -p "$out"

echo "== aot $wasm/hello.wasm -o $out/hello"
"$aot" "$wasm/hello.wasm" -o "$out/hello"
"$out/hello"

echo "== aot $wasm/args-env.wasm -o $out/args-env-aarch64 --env GREETING=hi --target aarch64-unknown-linux-gnu"
"$aot" "$wasm/args-env.wasm" -o "$out/args-env-aarch64" --env GREETING=hi --target aarch64-unknown-linux-gnu
qemu-aarch64 "$out/args-env-aarch64" one two

echo "== $(file -b "$out/hello" | cut -d, -f1-4)"
ls -l "$out/hello" "$out/args-env-aarch64" | awk '{print "   " $5 " bytes  " $9}'
