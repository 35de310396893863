//! Relaxed SIMD in executables: each relaxed instruction gives, bit for bit, what wasmtime
//! 49 gives on the same target and CPU features (its default, non-deterministic relaxed
//! SIMD). The spec scripts accept any of the allowed results; this pins the one we chose.
//!
//! On x86_64 both sides run natively: `aot`'s default CPU (x86-64-v2: no FMA) against
//! wasmtime with FMA turned off, and `--cpu x86-64-v3` against wasmtime with the host's
//! features (when the host has FMA). aarch64 cannot run wasmtime here; there `aot` makes
//! each relaxed instruction its deterministic form (fused madd, the non-relaxed operator
//! otherwise), which is what wasmtime's `relaxed-simd-deterministic` computes, so that is
//! the reference.

mod common;

use common::{aot, run_for, tools};

/// Every relaxed instruction on inputs where the allowed results differ (NaN, out of
/// range, mask bits other than all-ones or zero, indices >= 16, products that differ
/// fused and unfused, -32768 * -32768 in Q15, bytes with the top bit set), each result
/// stored in turn and written to stdout as raw bytes.
const PROGRAM: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $at (mut i32) (i32.const 64))
  (func $out (param v128)
    (v128.store (global.get $at) (local.get 0))
    (global.set $at (i32.add (global.get $at) (i32.const 16))))
  (func (export "_start")
    (call $out (i32x4.relaxed_trunc_f32x4_s (v128.const f32x4 4294967296.0 -1.5 nan -2147483904.0)))
    (call $out (i32x4.relaxed_trunc_f32x4_u (v128.const f32x4 4294967296.0 -1.5 nan 2147483648.0)))
    (call $out (i32x4.relaxed_trunc_f64x2_s_zero (v128.const f64x2 nan 4294967296.0)))
    (call $out (i32x4.relaxed_trunc_f64x2_u_zero (v128.const f64x2 -1.0 4294967296.0)))
    (call $out (f32x4.relaxed_madd (v128.const f32x4 0x1.000002p+0 1 -0 nan)
                                   (v128.const f32x4 0x1.000002p+0 1 0 1)
                                   (v128.const f32x4 -0x1.000004p+0 -1 0 1)))
    (call $out (f32x4.relaxed_nmadd (v128.const f32x4 0x1.000002p+0 1 -0 inf)
                                    (v128.const f32x4 0x1.000002p+0 1 0 0)
                                    (v128.const f32x4 0x1.000004p+0 -1 -0 1)))
    (call $out (f64x2.relaxed_madd (v128.const f64x2 0x1.0000000000001p+0 -0)
                                   (v128.const f64x2 0x1.0000000000001p+0 0)
                                   (v128.const f64x2 -0x1.0000000000002p+0 -0)))
    (call $out (f64x2.relaxed_nmadd (v128.const f64x2 0x1.0000000000001p+0 1)
                                    (v128.const f64x2 0x1.0000000000001p+0 1)
                                    (v128.const f64x2 0x1.0000000000002p+0 1)))
    (call $out (i8x16.relaxed_swizzle (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
                                      (v128.const i8x16 0 16 17 128 129 143 255 240 31 2 3 4 5 6 7 8)))
    (call $out (i8x16.relaxed_laneselect (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1)
                                         (v128.const i8x16 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2)
                                         (v128.const i8x16 0x80 0x7f 1 0 0xff 0x40 0 0 0 0 0 0 0 0 0 0)))
    (call $out (i16x8.relaxed_laneselect (v128.const i16x8 1 1 1 1 1 1 1 1)
                                         (v128.const i16x8 2 2 2 2 2 2 2 2)
                                         (v128.const i16x8 0x8000 0x00ff 0xff00 0 -1 0x7fff 1 0x8001)))
    (call $out (i32x4.relaxed_laneselect (v128.const i32x4 1 1 1 1)
                                         (v128.const i32x4 2 2 2 2)
                                         (v128.const i32x4 0x80000000 0x7fffffff 0xff 0x80000003)))
    (call $out (i64x2.relaxed_laneselect (v128.const i64x2 1 1)
                                         (v128.const i64x2 2 2)
                                         (v128.const i64x2 0x8000000000000000 0x7fffffffffffffff)))
    (call $out (f32x4.relaxed_min (v128.const f32x4 nan 0 -0 1) (v128.const f32x4 1 -0 0 nan)))
    (call $out (f32x4.relaxed_max (v128.const f32x4 nan 0 -0 1) (v128.const f32x4 1 -0 0 nan)))
    (call $out (f64x2.relaxed_min (v128.const f64x2 nan -0) (v128.const f64x2 1 0)))
    (call $out (f64x2.relaxed_max (v128.const f64x2 1 -0) (v128.const f64x2 nan 0)))
    (call $out (i16x8.relaxed_q15mulr_s (v128.const i16x8 0x8000 0x8000 0x4000 -1 0 0 0 0)
                                        (v128.const i16x8 0x8000 0x7fff 0x4000 -1 0 0 0 0)))
    (call $out (i16x8.relaxed_dot_i8x16_i7x16_s
      (v128.const i8x16 -1 -1 127 127 -128 -128 5 6 0 0 0 0 0 0 0 0)
      (v128.const i8x16 -1 -1 -128 -128 -128 -128 7 8 0 0 0 0 0 0 0 0)))
    (call $out (i32x4.relaxed_dot_i8x16_i7x16_add_s
      (v128.const i8x16 -1 -1 -1 -1 127 127 127 127 -128 -128 -128 -128 1 2 3 4)
      (v128.const i8x16 -1 -1 -1 -1 -128 -128 -128 -128 -128 -128 -128 -128 5 6 7 8)
      (v128.const i32x4 1 2 3 0x7fffffff)))
    ;; iovec at 0: the results from 64 on.
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.sub (global.get $at) (i32.const 64)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"#;

/// Builds PROGRAM for `triple` with `extra` aot arguments and returns its stdout, or None
/// when the target cannot run here (see `tools::run_built_for`).
fn aot_output(dir: &std::path::Path, triple: &str, extra: &[&str]) -> Option<Vec<u8>> {
    let input = dir.join("relaxed.wat");
    std::fs::write(&input, PROGRAM).expect("write the test module");
    let exe = dir.join(format!("relaxed-{triple}-{}", extra.join("")));
    let (input_s, exe_s) = (input.to_str().expect("utf-8"), exe.to_str().expect("utf-8"));
    let mut args = vec![input_s, "-o", exe_s, "--target", triple];
    args.extend_from_slice(extra);
    let out = aot(&args);
    assert!(
        out.status.success(),
        "aot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = run_for(
        triple,
        &exe,
        &[],
        &format!("relaxed SIMD, {triple} {extra:?}"),
    )?;
    assert!(
        run.status.success(),
        "{triple} {extra:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    Some(run.stdout)
}

/// PROGRAM's stdout under `wasmtime run` with `flags`, or None without wasmtime.
fn wasmtime_output(dir: &std::path::Path, flags: &[&str]) -> Option<Vec<u8>> {
    let wasmtime = match tools::required("wasmtime", tools::find_wasmtime()) {
        Ok(w) => w,
        Err(why) => {
            tools::skip_missing("relaxed SIMD against wasmtime", &why);
            return None;
        }
    };
    let input = dir.join("relaxed-wasmtime.wat");
    std::fs::write(&input, PROGRAM).expect("write the test module");
    let out = std::process::Command::new(wasmtime)
        .arg("run")
        .args(["-W", "relaxed-simd=y"])
        .args(flags)
        .arg(&input)
        .output()
        .expect("run wasmtime");
    assert!(
        out.status.success(),
        "wasmtime {flags:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

fn lanes(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, c)| format!("result {i}: {}\n", hex(c)))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn host_has_fma() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| {
            s.split_whitespace().any(|w| w == "fma") && s.split_whitespace().any(|w| w == "avx")
        })
        .unwrap_or(false)
}

#[test]
fn x86_64_relaxed_simd_matches_wasmtime() {
    if !cfg!(target_arch = "x86_64") {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let triple = "x86_64-unknown-linux-gnu";
    let Some(reference) = wasmtime_output(dir.path(), &["-C", "cranelift-has-fma=false"]) else {
        return;
    };
    assert_eq!(reference.len(), 20 * 16, "wasmtime wrote every result");
    let Some(got) = aot_output(dir.path(), triple, &[]) else {
        return;
    };
    assert_eq!(lanes(&got), lanes(&reference), "x86-64-v2 (no FMA)");
    if host_has_fma() {
        let Some(reference) = wasmtime_output(dir.path(), &[]) else {
            return;
        };
        let Some(got) = aot_output(dir.path(), triple, &["--cpu", "x86-64-v3"]) else {
            return;
        };
        assert_eq!(lanes(&got), lanes(&reference), "x86-64-v3 (FMA)");
    }
}

#[test]
fn aarch64_relaxed_simd_is_the_deterministic_form() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let Some(reference) = wasmtime_output(dir.path(), &["-W", "relaxed-simd-deterministic=y"])
    else {
        return;
    };
    let Some(got) = aot_output(dir.path(), "aarch64-unknown-linux-gnu", &[]) else {
        return;
    };
    // The reference ran on x86, whose default NaN is negative; aarch64's is positive. A NaN
    // lane may differ from the reference in its sign only.
    let (got, reference) = (nan_signs_cleared(&got), nan_signs_cleared(&reference));
    assert_eq!(lanes(&got), lanes(&reference));
}

/// The results with the sign bit of every NaN lane cleared (the float results are f32x4 or
/// f64x2 as [`FLOAT_RESULTS`] says).
fn nan_signs_cleared(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (i, result) in out.chunks_mut(16).enumerate() {
        let Some((_, bits)) = FLOAT_RESULTS.iter().find(|(r, _)| *r == i) else {
            continue;
        };
        for lane in result.chunks_mut(bits / 8) {
            let mut v = [0u8; 8];
            v[..lane.len()].copy_from_slice(lane);
            let v = u64::from_le_bytes(v);
            let (exp, frac) = if *bits == 32 {
                (0x7f80_0000, 0x007f_ffff)
            } else {
                (0x7ff0_0000_0000_0000, 0x000f_ffff_ffff_ffff)
            };
            if v & exp == exp && v & frac != 0 {
                let sign = lane.len() - 1;
                lane[sign] &= 0x7f;
            }
        }
    }
    out
}

/// Which results of PROGRAM are floats, with their lane width in bits.
const FLOAT_RESULTS: [(usize, usize); 8] = [
    (4, 32),
    (5, 32),
    (6, 64),
    (7, 64),
    (13, 32),
    (14, 32),
    (15, 64),
    (16, 64),
];
