//! Memory 0 at its fixed address (`aot_abi::fixed_memory0_base`), end to end on both
//! targets: a program of one module gets its memory 0 there (seen in `/proc/<pid>/maps`
//! while it waits), runs exactly as with the base loaded from the instance
//! (`--no-fixed-memory-base`): the same output and the same out-of-bounds traps, at the end
//! of the memory before and after memory.grow and with static offsets that do and do not
//! fold into an x86_64 displacement. A program of two instances (`--preload` of the same
//! binary) keeps its memories wherever the kernel puts them, and a program whose range is
//! taken fails with an error, never runs.
//!
//! A tool that is missing (qemu-aarch64) skips the part that needs it with a printed
//! `SKIPPED:` line, unless `CI` is set: then it fails the test.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

mod common;

use common::{TRIPLES, command_for, compile, compile_with_and_without, run_for};

/// Memory 0's fixed address (the contract's) for the target of `triple`, or of an
/// architecture name.
fn base_for(triple: &str) -> u64 {
    let arch = if triple.starts_with("aarch64") {
        aot_abi::Arch::Aarch64
    } else {
        aot_abi::Arch::X86_64
    };
    aot_abi::fixed_memory0_base(arch)
}

/// Starts `cmd`, and once `ready` bytes of its stdout have arrived, reads the start of each
/// of its mappings; then lets it go on (a byte on stdin) and returns its output and those
/// starts.
fn run_and_read_maps(mut cmd: Command, ready: usize) -> (Output, Vec<u64>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the program");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = vec![0u8; ready];
    stdout
        .read_exact(&mut first)
        .expect("the program's first line");
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id())).expect("maps");
    let starts = maps
        .lines()
        .filter_map(|l| l.split('-').next())
        .map(|s| u64::from_str_radix(s, 16).expect("hex address"))
        .collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"x")
        .expect("wake the program");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).expect("read stdout");
    let mut out = child.wait_with_output().expect("wait");
    first.extend(rest);
    out.stdout = first;
    (out, starts)
}

/// Prints "ready\n", waits for a byte on stdin, then (by `$mode`, from the data at 64)
/// stores and loads around the end of memory before and after growing it, and traps at
/// the access `$mode` names. Each access is followed by printing a digit, so the output
/// shows how far it got.
fn program(mode: u32) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory 1 4)
  (data (i32.const 32) "ready\n0123456789")
  (func $print (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $digit (param $d i32) (call $print (i32.add (i32.const 38) (local.get $d)) (i32.const 1)))
  (func $load (param $p i32) (result i32) (i32.load (local.get $p)))
  (func $load_far (param $p i32) (result i32) (i32.load offset=0x7fff0000 (local.get $p)))
  (func $load_guard (param $p i32) (result i32) (i32.load offset=0x10000 (local.get $p)))
  (func (export "_start")
    (call $print (i32.const 32) (i32.const 6))
    (i32.store (i32.const 16) (i32.const 16))
    (i32.store (i32.const 20) (i32.const 1))
    (drop (call $read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
    ;; The last word of page 0, then a straddling one.
    (i32.store (i32.const 65532) (i32.const 0x01020304))
    (if (i32.ne (call $load (i32.const 65532)) (i32.const 0x01020304)) (then unreachable))
    (call $digit (i32.const 0))
    (if (i32.eq (i32.const {mode}) (i32.const 1)) (then (drop (call $load (i32.const 65534)))))
    (call $digit (i32.const 1))
    (if (i32.eq (i32.const {mode}) (i32.const 2)) (then (drop (call $load_guard (i32.const 0)))))
    (call $digit (i32.const 2))
    ;; Grown: the old end is readable, the contents kept, the new end faults.
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const 1)) (then unreachable))
    (if (i32.ne (call $load (i32.const 65534)) (i32.const 0x0102)) (then unreachable))
    (if (i32.ne (call $load_guard (i32.const 65532)) (i32.const 0)) (then unreachable))
    (call $digit (i32.const 3))
    (if (i32.eq (i32.const {mode}) (i32.const 3)) (then (drop (call $load (i32.const 131072)))))
    (call $digit (i32.const 4))
    ;; A static offset no displacement holds, and the top of the index space.
    (if (i32.eq (i32.const {mode}) (i32.const 4)) (then (drop (call $load_far (i32.const 0)))))
    (call $digit (i32.const 5))
    (if (i32.eq (i32.const {mode}) (i32.const 5)) (then (drop (call $load (i32.const -4)))))
    (call $digit (i32.const 6))
    ;; Past the declared maximum of 4 pages grow fails and nothing moves.
    (if (i32.ne (memory.grow (i32.const 3)) (i32.const -1)) (then unreachable))
    (memory.fill (i32.const 65536) (i32.const 0) (i32.const 65536))
    (call $digit (i32.const 7))))
"#
    )
}

const TRAP: &str = "wasm trap: out of bounds memory access";

#[test]
fn memory0_is_at_the_fixed_base_and_traps_as_anywhere_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    // (mode, output after "ready\n", trapped)
    let cases = [
        (0, "01234567", false),
        (1, "0", true),
        (2, "01", true),
        (3, "0123", true),
        (4, "01234", true),
        (5, "012345", true),
    ];
    for (mode, shown, trapped) in cases {
        let input = dir.path().join(format!("fixed-{mode}.wat"));
        std::fs::write(&input, program(mode)).expect("write the module");
        for (triple, fixed, exe) in
            compile_with_and_without(dir.path(), &input, "--no-fixed-memory-base")
        {
            let what = format!("mode {mode} on {triple}, fixed {fixed}");
            let Some(cmd) = command_for(triple, &exe, &what) else {
                continue;
            };
            let (out, starts) = run_and_read_maps(cmd, "ready\n".len());
            // qemu-user maps a 64-bit guest at the host's own addresses where it can,
            // as it does here: the guest's base is the host mapping's start.
            assert_eq!(
                starts.contains(&base_for(triple)),
                fixed,
                "{what}: a mapping at the fixed base: {starts:x?}"
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("ready\n{shown}"),
                "{what}: {stderr}"
            );
            if trapped {
                assert_eq!(out.status.code(), Some(134), "{what}: {stderr}");
                assert_eq!(stderr.lines().next(), Some(TRAP), "{what}");
            } else {
                assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
            }
        }
    }
}

/// A module instantiated twice (`--preload` of the program's own binary) cannot have one
/// fixed memory 0: both instances get memories of their own, wherever the kernel puts them.
#[test]
fn a_module_instantiated_twice_keeps_its_memory_anywhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("twice.wat");
    // Each instance counts its instantiations in its own memory: both print 1.
    std::fs::write(
        &input,
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 32) "0\n")
  (func $init
    (i32.store8 (i32.const 32) (i32.add (i32.load8_u (i32.const 32)) (i32.const 1)))
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (start $init)
  (func (export "_start")))
"#,
    )
    .expect("write the module");
    let input = input.to_str().expect("utf-8 path");
    for triple in TRIPLES {
        let exe = dir.path().join(format!("twice-{triple}"));
        let preload = format!("self={input}");
        compile(&[
            input,
            "-o",
            exe.to_str().expect("utf-8 path"),
            "--target",
            triple,
            "--preload",
            &preload,
        ]);
        let Some(out) = run_for(triple, &exe, &[], &format!("preload of itself on {triple}"))
        else {
            continue;
        };
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).as_ref()
            ),
            (Some(0), "1\n1\n"),
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Where the range cannot be had (here: an address-space limit below the reservation),
/// the program stops with an error before running any Wasm code.
#[test]
fn a_range_that_cannot_be_reserved_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("limited.wat");
    std::fs::write(
        &input,
        r#"(module (memory 1) (func (export "_start") unreachable))"#,
    )
    .expect("write the module");
    // Built for the host (no --target).
    let arch = std::env::consts::ARCH;
    let exe = dir.path().join("limited");
    compile(&[
        input.to_str().expect("utf-8 path"),
        "-o",
        exe.to_str().expect("utf-8 path"),
    ]);
    // 2 GiB of address space: the executable fits, the 6 GiB reservation does not.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v 2097152 && exec '{}'", exe.display()))
        .output()
        .expect("run under a limit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{arch}: {stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot place memory 0 at its fixed address {:#x}",
            base_for(arch)
        )),
        "{stderr}"
    );
}
