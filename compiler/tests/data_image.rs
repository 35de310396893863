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
        compile(&[
            input.to_str().expect("utf-8 path"),
            "-o",
            exe.to_str().expect("utf-8 path"),
            "--target",
            triple,
        ]);
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
