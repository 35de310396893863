//! Folded address sums (`aot_abi::MODULE_FLAG_MEMORY0_FOLDED`, `runtime-lib/src/folded.rs`)
//! whose 32-bit sum wraps, end to end on both targets: on x86_64 each such access faults
//! above memory 0's first 4 GiB and the runtime completes it against the true address.
//! Loads and stores of every width (a byte, a sign-extended byte, a word, a doubleword that
//! straddles two pages, a float, a vector, a load the code generator merges into an add),
//! with and without a static offset, give the bytes the Wasm semantics give, the same as
//! with `--no-address-fold`. A wrapped access whose true address is past the end of memory,
//! or whose offset carries it past 4 GiB, or whose second page is past the end, traps as
//! out of bounds.
//!
//! The inputs are read from memory, so the compiler sees unknown values and keeps the
//! sums as the folds it makes for real code. Forty seeded random programs of wrapped and
//! unwrapped accesses (x86_64 only, the one target that folds) then give the same output
//! and the same trap as with `--no-address-fold`.
//!
//! A tool that is missing (qemu-aarch64) skips the part that needs it with a printed
//! `SKIPPED:` line, unless `CI` is set: then it fails the test.

mod common;

use common::{compile_with_and_without, run_for};

/// Where the program reads its (pointer, index) pairs and writes its results.
const INPUTS: u32 = 0x8000;
const RESULTS: u32 = 0x9000;

/// The memory the program starts with: byte `a` holds `a * 7 + 3` (mod 256) in the first
/// 8 KiB, zero elsewhere.
fn initial_byte(a: u32) -> u8 {
    if a < 0x2000 {
        (a.wrapping_mul(7).wrapping_add(3) & 0xff) as u8
    } else {
        0
    }
}

fn data_segment() -> String {
    (0..0x2000u32)
        .map(|a| format!("\\{:02x}", initial_byte(a)))
        .collect()
}

fn le(a: u32, n: u32) -> u64 {
    (0..n).fold(0u64, |v, i| v | u64::from(initial_byte(a + i)) << (8 * i))
}

/// (pointer, index) of each case, in input order; `i` as the i32 bit pattern.
const CASES: [(u32, u32); 10] = [
    (0x100, u32::MAX),     // 0: i32.load at p + (i << 2) = 0xfc
    (0x200, u32::MAX - 1), // 1: i32.store at 0x1f8, then a plain load of it
    (0x1004, u32::MAX),    // 2: i64.load at p + (i << 3) = 0xffc, across a page end
    (0x2004, u32::MAX),    // 3: i64.store at 0x1ffc, across a page end, read back
    (0xffff_ff80, 0xff),   // 4: byte at p + b, b the low byte of i (loaded): 0x7f
    (0x300, u32::MAX),     // 5: i32.load offset=16 at 0x2fc + 16
    (0x400, u32::MAX - 1), // 6: v128.load at 0x3f0, lanes summed
    (0x500, u32::MAX),     // 7: f64.load at 0x4f8, reinterpreted
    (0x600, u32::MAX),     // 8: i32.load8_s at p + (i << 1) = 0x5fe
    (0x700, u32::MAX),     // 9: i32.load at 0x6fc plus 7 (a load merged into an add)
];

fn module() -> String {
    let inputs: String = CASES
        .iter()
        .flat_map(|(p, i)| p.to_le_bytes().into_iter().chain(i.to_le_bytes()))
        .map(|b| format!("\\{b:02x}"))
        .collect();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 0) "{data}")
  (data (i32.const {INPUTS}) "{inputs}")
  (func $p (param $case i32) (result i32) (i32.load (i32.add (i32.const {INPUTS}) (i32.shl (local.get $case) (i32.const 3)))))
  (func $i (param $case i32) (result i32) (i32.load offset=4 (i32.add (i32.const {INPUTS}) (i32.shl (local.get $case) (i32.const 3)))))
  (func $out (param $case i32) (param $v i64) (i64.store (i32.add (i32.const {RESULTS}) (i32.shl (local.get $case) (i32.const 3))) (local.get $v)))
  (func (export "_start")
    (local $v v128)
    (call $out (i32.const 0) (i64.extend_i32_u
      (i32.load (i32.add (call $p (i32.const 0)) (i32.shl (call $i (i32.const 0)) (i32.const 2))))))
    (i32.store (i32.add (call $p (i32.const 1)) (i32.shl (call $i (i32.const 1)) (i32.const 2))) (i32.const 0xaabbccdd))
    (call $out (i32.const 1) (i64.extend_i32_u (i32.load (i32.const 0x1f8))))
    (call $out (i32.const 2)
      (i64.load (i32.add (call $p (i32.const 2)) (i32.shl (call $i (i32.const 2)) (i32.const 3)))))
    (i64.store (i32.add (call $p (i32.const 3)) (i32.shl (call $i (i32.const 3)) (i32.const 3))) (i64.const 0x1122334455667788))
    (call $out (i32.const 3) (i64.load (i32.const 0x1ffc)))
    (call $out (i32.const 4) (i64.extend_i32_u
      (i32.load8_u (i32.add (call $p (i32.const 4)) (i32.load8_u (i32.const {case4_i}))))))
    (call $out (i32.const 5) (i64.extend_i32_u
      (i32.load offset=16 (i32.add (call $p (i32.const 5)) (i32.shl (call $i (i32.const 5)) (i32.const 2))))))
    (local.set $v (v128.load (i32.add (call $p (i32.const 6)) (i32.shl (call $i (i32.const 6)) (i32.const 3)))))
    (call $out (i32.const 6) (i64.add (i64x2.extract_lane 0 (local.get $v)) (i64x2.extract_lane 1 (local.get $v))))
    (call $out (i32.const 7) (i64.reinterpret_f64
      (f64.load (i32.add (call $p (i32.const 7)) (i32.shl (call $i (i32.const 7)) (i32.const 3))))))
    (call $out (i32.const 8) (i64.extend_i32_s
      (i32.load8_s (i32.add (call $p (i32.const 8)) (i32.shl (call $i (i32.const 8)) (i32.const 1))))))
    (call $out (i32.const 9) (i64.extend_i32_u (i32.add (i32.const 7)
      (i32.load (i32.add (call $p (i32.const 9)) (i32.shl (call $i (i32.const 9)) (i32.const 2)))))))
    (i32.store (i32.const 0xa000) (i32.const {RESULTS}))
    (i32.store (i32.const 0xa004) (i32.const 80))
    (drop (call $write (i32.const 1) (i32.const 0xa000) (i32.const 1) (i32.const 0xa008)))))
"#,
        data = data_segment(),
        case4_i = INPUTS + 4 * 8 + 4,
    )
}

/// The ten results the Wasm semantics give, as the program writes them.
fn expected() -> Vec<u8> {
    let sum_lanes = le(0x3f0, 8).wrapping_add(le(0x3f8, 8));
    let results: [u64; 10] = [
        le(0xfc, 4),
        0xaabbccdd,
        le(0xffc, 8),
        0x1122334455667788,
        u64::from(initial_byte(0x7f)),
        le(0x30c, 4),
        sum_lanes,
        le(0x4f8, 8),
        i64::from(initial_byte(0x5fe) as i8) as u64,
        (le(0x6fc, 4) as u32).wrapping_add(7) as u64,
    ];
    results.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn wrapped_sums_read_and_write_the_true_address() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("wraps.wat");
    std::fs::write(&input, module()).expect("write the module");
    let want = expected();
    for (triple, folded, exe) in compile_with_and_without(dir.path(), &input, "--no-address-fold") {
        let what = format!("wraps on {triple} (folded: {folded})");
        let Some(out) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, want, "{what}");
    }
}

/// A program that makes one wrapped access, `access`, given the pointer and index.
fn trapping(p: u32, i: u32, access: &str) -> String {
    format!(
        r#"(module
  (memory 1)
  (data (i32.const 0) "{p_bytes}{i_bytes}")
  (func (export "_start")
    (drop {access})))
"#,
        p_bytes = p.to_le_bytes().map(|b| format!("\\{b:02x}")).concat(),
        i_bytes = i.to_le_bytes().map(|b| format!("\\{b:02x}")).concat(),
    )
}

#[test]
fn wrapped_sums_out_of_bounds_trap() {
    let p = "(i32.load (i32.const 0))";
    let i = "(i32.load (i32.const 4))";
    let cases = [
        // True address 0x20000, past the one page.
        (
            "past_the_end",
            trapping(
                0x100,
                0x4000_7fc0,
                &format!("(i32.load (i32.add {p} (i32.shl {i} (i32.const 2))))"),
            ),
        ),
        // True sum 0xfffffff8, whose offset 16 carries past 4 GiB.
        (
            "offset_past_4_gib",
            trapping(
                0x20,
                0x7fff_fff6,
                &format!("(i32.load offset=16 (i32.add {p} (i32.shl {i} (i32.const 2))))"),
            ),
        ),
        // True address 0xfffc: the doubleword's second half is past the end.
        (
            "second_page_past_the_end",
            trapping(
                0x10004,
                u32::MAX,
                &format!("(i64.load (i32.add {p} (i32.shl {i} (i32.const 3))))"),
            ),
        ),
    ];
    for (name, wat) in cases {
        let dir = tempfile::tempdir().expect("temporary directory");
        let input = dir.path().join(format!("{name}.wat"));
        std::fs::write(&input, wat).expect("write the module");
        for (triple, folded, exe) in
            compile_with_and_without(dir.path(), &input, "--no-address-fold")
        {
            let what = format!("{name} on {triple} (folded: {folded})");
            let Some(out) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(134), "{what}: {stderr}");
            assert!(
                stderr.starts_with("wasm trap: out of bounds memory access"),
                "{what}: {stderr}"
            );
        }
    }
}

/// A small deterministic generator (xorshift64*), so that a failing program can be
/// regenerated from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random program of wrapped and unwrapped folded accesses: each reads its two terms
/// from memory (`x` and `y`, or a byte `b`), mostly chosen so that the wrapped sum plus the
/// offset lands in bounds, sometimes not; loads feed a running hash and stores write it,
/// and the hash is written to stdout after every access, so that a wrong value or a trap
/// at the wrong access shows.
fn random_program(seed: u64) -> String {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let pages = 1 + r.below(3) as u32;
    let len = pages << 16;
    let loads = [
        ("i64.load", ""),
        ("i32.load", "i64.extend_i32_u"),
        ("i32.load8_s", "i64.extend_i32_s"),
        ("i32.load16_u", "i64.extend_i32_u"),
        ("i64.load32_s", ""),
        ("f64.load", "i64.reinterpret_f64"),
    ];
    let stores = [
        ("i64.store", ""),
        ("i32.store", "i32.wrap_i64"),
        ("i32.store8", "i32.wrap_i64"),
        ("i64.store16", ""),
        ("f64.store", "f64.reinterpret_i64"),
    ];
    let mut inputs: Vec<u32> = Vec::new();
    let mut body = String::new();
    for j in 0..12u32 {
        let k = r.below(4) as u32;
        let o = [0, 0, 4, 8, 16, r.below(0x3000) as u32][r.below(6) as usize];
        let y = if k == 0 {
            r.below(256) as u32
        } else if r.below(2) == 0 {
            0u32.wrapping_sub(1 + r.below(0x4000) as u32)
        } else {
            r.below(0x4000) as u32
        };
        let target = r.below(u64::from(len) - 16) as u32;
        let x = if r.below(20) == 0 || target < o {
            r.next() as u32
        } else {
            target.wrapping_sub(o).wrapping_sub(y << k)
        };
        inputs.extend([x, y]);
        let at = 0x100 + 8 * j;
        let addr = if k == 0 {
            format!(
                "(i32.add (i32.load (i32.const {at})) (i32.load8_u (i32.const {})))",
                at + 4
            )
        } else {
            format!(
                "(i32.add (i32.load (i32.const {at})) (i32.shl (i32.load (i32.const {})) (i32.const {k})))",
                at + 4
            )
        };
        if r.below(5) < 3 {
            let (op, conv) = loads[r.below(loads.len() as u64) as usize];
            let v = format!("({op} offset={o} {addr})");
            let v = if conv.is_empty() {
                v
            } else {
                format!("({conv} {v})")
            };
            body.push_str(&format!(
                "(global.set $h (i64.add (i64.mul (global.get $h) (i64.const 31)) {v}))\n"
            ));
        } else {
            let (op, conv) = stores[r.below(stores.len() as u64) as usize];
            let v = if conv.is_empty() {
                "(global.get $h)".to_string()
            } else {
                format!("({conv} (global.get $h))")
            };
            body.push_str(&format!(
                "({op} offset={o} {addr} {v})\n(global.set $h (i64.add (global.get $h) (i64.const {})))\n",
                1 + r.below(1000)
            ));
        }
        body.push_str("(call $emit)\n");
    }
    let data: String = inputs
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .map(|b| format!("\\{b:02x}"))
        .collect();
    let fill: String = (0..512)
        .map(|_| format!("\\{:02x}", r.below(256)))
        .collect();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory {pages})
  (global $h (mut i64) (i64.const 7))
  (data (i32.const 0x100) "{data}")
  (data (i32.const 0x400) "{fill}")
  (data (i32.const 0xfe00) "{fill}")
  (func $emit
    (i64.store (i32.const 0x80) (global.get $h))
    (i32.store (i32.const 0x90) (i32.const 0x80))
    (i32.store (i32.const 0x94) (i32.const 8))
    (drop (call $write (i32.const 1) (i32.const 0x90) (i32.const 1) (i32.const 0x98))))
  (func (export "_start")
{body}))
"#
    )
}

/// Random programs behave the same folded and with `--no-address-fold` (the reference):
/// the same hashes, the same trap at the same access. x86_64 only, the one target that
/// folds.
#[test]
fn random_wraps_behave_as_without_folding() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (mut completed, mut trapped) = (0, 0);
    for seed in 0..40u64 {
        let input = dir.path().join(format!("random{seed}.wat"));
        std::fs::write(&input, random_program(seed)).expect("write the module");
        let mut outs = Vec::new();
        for flag in [None, Some("--no-address-fold")] {
            let exe = dir.path().join(format!("random{seed}-{}", flag.is_some()));
            let mut args = vec![
                input.to_str().expect("utf-8 path"),
                "-o",
                exe.to_str().expect("utf-8 path"),
                "--target",
                "x86_64-unknown-linux-gnu",
            ];
            args.extend(flag);
            common::compile(&args);
            let what = format!("random program {seed}");
            let Some(out) = run_for("x86_64-unknown-linux-gnu", &exe, &[], &what) else {
                return;
            };
            outs.push(out);
        }
        let (folded, reference) = (&outs[0], &outs[1]);
        assert_eq!(
            folded.stdout, reference.stdout,
            "random program {seed}: stdout"
        );
        assert_eq!(
            folded.status.code(),
            reference.status.code(),
            "random program {seed}"
        );
        let first_line = |o: &std::process::Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .map(str::to_string)
        };
        assert_eq!(
            first_line(folded),
            first_line(reference),
            "random program {seed}"
        );
        if reference.status.success() {
            completed += 1;
        } else {
            trapped += 1;
        }
    }
    println!("random programs: {completed} completed, {trapped} trapped");
    // Both outcomes must be covered, or the generator has drifted.
    assert!(
        completed >= 5 && trapped >= 5,
        "{completed} completed, {trapped} trapped"
    );
}
