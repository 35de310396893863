//! Large active data segments mapped copy-on-write from the executable
//! (`aot_abi::data_image_align`, `runtime-lib/src/image.rs`), end to end on both targets:
//! the memory holds exactly what applying the segments in order gives (a later small
//! segment overwriting part of a mapped one, an unaligned segment whose middle is mapped
//! and whose ends are copied), writes to mapped pages work and never reach the file, and
//! the mappings are really there (read from `/proc/<pid>/maps` while the program waits).
//!
//! A tool that is missing (qemu-aarch64) skips the part that needs it with a printed
//! `SKIPPED:` line, unless `CI` is set: then it fails the test.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;

mod common;

use common::{TRIPLES, command_for, compile};

/// Bytes of memory the program writes to stdout (7 Wasm pages).
const SHOWN: usize = 0x70000;
/// Segment A: page-aligned, mapped whole.
const A_AT: usize = 0x10000;
const A_LEN: usize = 0x30000 + 100;
/// Segment B: small, inside A's mapped pages (applied after A, so it wins).
const B_AT: usize = 0x11005;
const B: &[u8] = b"OVERWRITTEN";
/// Segment C: unaligned both ends; its whole pages are mapped, its ends copied.
const C_AT: usize = 0x50123;
const C_LEN: usize = 0x12000;
/// Where the program stores 0xdeadbeef (a page of A) and 0x55 bytes (C's last whole page).
const STORE_AT: usize = 0x20000;
const FILL_AT: usize = 0x61ff0;

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) % 251) as u8 + 1)
        .collect()
}

fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// The program: applies the segments, writes into mapped pages, waits for a byte on stdin
/// (so the test can read its mappings), then writes memory [0, SHOWN) to stdout.
fn module(a: &[u8], c: &[u8]) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory 8)
  (data (i32.const {A_AT}) "{a}")
  (data (i32.const {B_AT}) "{b}")
  (data (i32.const {C_AT}) "{c}")
  (func (export "_start")
    (i32.store (i32.const {STORE_AT}) (i32.const 0xdeadbeef))
    (memory.fill (i32.const {FILL_AT}) (i32.const 0x55) (i32.const 32))
    ;; iovec at 0x78000: one byte of stdin into 0x78010 (outside the shown bytes)
    (i32.store (i32.const 0x78000) (i32.const 0x78010))
    (i32.store (i32.const 0x78004) (i32.const 1))
    (drop (call $read (i32.const 0) (i32.const 0x78000) (i32.const 1) (i32.const 0x78008)))
    (i32.store (i32.const 0x78000) (i32.const 0))
    (i32.store (i32.const 0x78004) (i32.const {SHOWN}))
    (drop (call $write (i32.const 1) (i32.const 0x78000) (i32.const 1) (i32.const 0x78008)))))
"#,
        a = wat_bytes(a),
        b = wat_bytes(B),
        c = wat_bytes(c),
    )
}

/// Memory [0, SHOWN) as the spec's instantiation and the program's stores leave it.
fn expected(a: &[u8], c: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; SHOWN];
    m[A_AT..A_AT + a.len()].copy_from_slice(a);
    m[B_AT..B_AT + B.len()].copy_from_slice(B);
    m[C_AT..C_AT + c.len()].copy_from_slice(c);
    m[STORE_AT..STORE_AT + 4].copy_from_slice(&0xdeadbeef_u32.to_le_bytes());
    m[FILL_AT..FILL_AT + 32].fill(0x55);
    m
}

/// Compiles `input` into `exe` for `triple`, failing the test if aot fails.
fn build(input: &Path, exe: &Path, triple: &str) {
    compile(&[
        input.to_str().expect("utf-8 path"),
        "-o",
        exe.to_str().expect("utf-8 path"),
        "--target",
        triple,
    ]);
}

/// (start, end, permissions) of each mapping of `file` in process `pid`.
fn mappings_of(pid: u32, file: &Path) -> Vec<(u64, u64, String)> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let file = std::fs::canonicalize(file).expect("canonical path");
    maps.lines()
        .filter(|l| l.ends_with(file.to_str().expect("utf-8 path")))
        .map(|l| {
            let mut f = l.split_whitespace();
            let range = f.next().expect("range");
            let perms = f.next().expect("perms").to_string();
            let (s, e) = range.split_once('-').expect("start-end");
            let hex = |h: &str| u64::from_str_radix(h, 16).expect("hex address");
            (hex(s), hex(e), perms)
        })
        .collect()
}

#[test]
fn large_segments_are_mapped_copy_on_write_and_read_as_copied() {
    let (a, c) = (pattern(A_LEN, 7), pattern(C_LEN, 101));
    let want = expected(&a, &c);
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("image.wat");
    std::fs::write(&input, module(&a, &c)).expect("write the module");
    for triple in TRIPLES {
        let exe = dir.path().join(format!("image-{triple}"));
        build(&input, &exe, triple);
        let Some(mut cmd) = command_for(triple, &exe, &format!("image on {triple}")) else {
            continue;
        };
        let before = std::fs::read(&exe).expect("read the executable");
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the program");
        let mut stdout = child.stdout.take().expect("stdout");
        // The segments are mapped at instantiation, before the program waits for stdin
        // (writes to the pages copy them but do not split the mappings): poll until they
        // show, for a few seconds at most (qemu starts slowly).
        // A's pages [A_AT, A_AT + 0x30000) and C's whole pages [0x51000, 0x62000), with
        // 4 KiB host pages (both targets' here; qemu-aarch64's too).
        let wanted = [0x30000, 0x11000];
        let private_sizes = |maps: &[(u64, u64, String)]| -> Vec<u64> {
            maps.iter()
                .filter(|m| m.2.starts_with("rw") && m.2.ends_with('p'))
                .map(|m| m.1 - m.0)
                .collect()
        };
        let mut maps = Vec::new();
        for _ in 0..250 {
            maps = mappings_of(child.id(), &exe);
            if wanted.iter().all(|w| private_sizes(&maps).contains(w)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"x")
            .expect("wake the program");
        let mut got = Vec::new();
        stdout.read_to_end(&mut got).expect("read stdout");
        assert!(
            child.wait().expect("wait").success(),
            "{triple}: exit status"
        );
        assert_eq!(got.len(), want.len(), "{triple}: bytes shown");
        if let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) {
            panic!(
                "{triple}: memory differs first at {i:#x}: {:#04x}, expected {:#04x}",
                got[i], want[i]
            );
        }
        let sizes = private_sizes(&maps);
        for size in wanted {
            assert!(
                sizes.contains(&size),
                "{triple}: no private writable mapping of {size:#x} bytes of the executable \
                 (mapped: {maps:x?})"
            );
        }
        assert!(
            std::fs::read(&exe).expect("read the executable") == before,
            "{triple}: the executable changed"
        );
    }
}

/// The bytes of an unsigned LEB128 number.
fn leb(mut n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            v.push(b);
            return v;
        }
        v.push(b | 0x80);
    }
}

/// A section: its id, then its contents' length and contents.
fn section(id: u8, contents: &[u8]) -> Vec<u8> {
    let mut v = vec![id];
    v.extend(leb(contents.len() as u64));
    v.extend_from_slice(contents);
    v
}

/// A binary module (its WAT would be four times the size) whose one data segment of `len`
/// bytes at 0x10000 holds `pattern(len, 3)`; `_start` writes the segment's first and last
/// 16 bytes to stdout.
fn module_with_segment(len: usize) -> Vec<u8> {
    let pages = (0x10000 + len as u64).div_ceil(0x10000) + 1;
    let name = |s: &str| [leb(s.len() as u64), s.as_bytes().to_vec()].concat();
    let i32_const = |n: i32| {
        // Signed LEB128 of a non-negative value: the last byte is the first whose rest is
        // zero and whose sign bit (0x40) is clear.
        let mut v = vec![0x41];
        let mut n = n as i64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 && b & 0x40 == 0 {
                v.push(b);
                return v;
            }
            v.push(b | 0x80);
        }
    };
    let store = |at: i32, value: i32| [i32_const(at), i32_const(value), vec![0x36, 2, 0]].concat();
    let last = 0x10000 + len as i32 - 16;
    // One iovec per call: wasmtime's fd_write writes only the first of several, and so
    // does aot.
    let write = |at: i32| {
        [
            store(0x100, at),
            store(0x104, 16),
            i32_const(1),
            i32_const(0x100),
            i32_const(1),
            i32_const(0x200),
            vec![0x10, 0, 0x1a], // call $fd_write, drop
        ]
        .concat()
    };
    let body = [vec![0], write(0x10000), write(last), vec![0x0b]].concat();
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(section(
        1,
        &[2, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 0, 0],
    ));
    wasm.extend(section(
        2,
        &[
            vec![1],
            name("wasi_snapshot_preview1"),
            name("fd_write"),
            vec![0, 0],
        ]
        .concat(),
    ));
    wasm.extend(section(3, &[1, 1]));
    wasm.extend(section(5, &[vec![1, 0], leb(pages)].concat()));
    wasm.extend(section(
        7,
        &[
            vec![2],
            name("_start"),
            vec![0, 1],
            name("memory"),
            vec![2, 0],
        ]
        .concat(),
    ));
    wasm.extend(section(
        10,
        &[vec![1], leb(body.len() as u64), body].concat(),
    ));
    let data = pattern(len, 3);
    wasm.extend(section(
        11,
        &[
            vec![1, 0],
            i32_const(0x10000),
            vec![0x0b],
            leb(len as u64),
            data,
        ]
        .concat(),
    ));
    wasm
}

/// An image whose data alone reaches past 128 MiB from address 0. On aarch64 a direct
/// branch reaches ±128 MiB; the C runtime files and Rust's std call functions that musl
/// lacks and that are declared weak (`__cxa_thread_atexit_impl`, `getrandom`, ...), and
/// such a call, undefined, branches to address 0 from code laid out after the data. The
/// link must succeed and the program print the segment's ends, on both targets.
#[test]
fn an_image_larger_than_the_aarch64_branch_range_links_and_runs() {
    const LEN: usize = 136 << 20;
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("large.wasm");
    std::fs::write(&input, module_with_segment(LEN)).expect("write the module");
    let data = pattern(LEN, 3);
    let want = [&data[..16], &data[LEN - 16..]].concat();
    for triple in TRIPLES {
        let exe = dir.path().join(format!("large-{triple}"));
        build(&input, &exe, triple);
        let Some(out) = common::run_for(triple, &exe, &[], &format!("large image on {triple}"))
        else {
            continue;
        };
        assert!(
            out.status.success(),
            "{triple}: exit status {:?}",
            out.status
        );
        assert_eq!(out.stdout, want, "{triple}: the segment's ends");
        std::fs::remove_file(&exe).expect("remove the executable");
    }
}
