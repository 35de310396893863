//! Tests of the `aot` binary as a user meets it: its flags, its one-line errors on bad
//! input (exit status 1, file and position named, never a panic), and executables it
//! produces, run natively or under qemu-aarch64.
//!
//! A part that cannot run here (no qemu-aarch64, no external linker) prints
//! `SKIPPED: <what>: <why>` straight to the terminal, past the test harness's capture; with
//! `CI` set, a missing tool that scripts/setup.sh installs fails the test instead.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{aot, run_for, tools};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status 1, nothing on stdout, exactly one line on stderr, `aot: error: ` and every
/// one of `needles` in it, and no panic text.
fn assert_error(out: &Output, needles: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit status; stderr: {err}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("aot: error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "`{n}` in {err}");
    }
    err
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

/// A binary module whose only function is declared to return i32 but returns an i64:
/// type section, function section, then a code section whose body is `i64.const 1; end`.
const TYPE_MISMATCH: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type 0: [] -> [i32]
    0x03, 0x02, 0x01, 0x00, // func 0: type 0
    0x0a, 0x06, 0x01, 0x04, 0x00, 0x42, 0x01, 0x0b, // body: no locals, i64.const 1, end
];

#[test]
fn help_documents_every_flag() {
    let out = aot(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "<INPUT>",
        "-o, --output <OUTPUT>",
        "--target <TRIPLE>",
        "--emit <KIND>",
        "-O <LEVEL>",
        "--linker <PATH>",
        "--bounds-checks",
        "--dir <HOST::GUEST>",
        "--env <NAME[=VALUE]>",
        "--inherit-env",
        "--help",
        "--version",
    ] {
        assert!(help.contains(flag), "`{flag}` in --help:\n{help}");
    }
}

#[test]
fn version_prints_the_package_version() {
    let out = aot(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("aot {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "m.wat", b"(module)");
    assert_error(&aot(&[&input]), &["--output"]);
    assert_error(
        &aot(&[&input, "-o", "x", "--frobnicate"]),
        &["--frobnicate"],
    );
    assert_error(&aot(&[&input, "-o", "x", "-O", "3"]), &["-O", "3"]);
    assert_error(&aot(&[&input, "-o", "x", "--emit", "dll"]), &["dll"]);
    assert_error(
        &aot(&[&input, "-o", "x", "--dir", "::/guest"]),
        &["--dir", "::/guest"],
    );
    assert_error(&aot(&[&input, "-o", "x", "--env", "=v"]), &["--env", "=v"]);
    assert_error(
        &aot(&[&input, "-o", "x", "--emit", "obj", "--dir", "."]),
        &["--emit obj"],
    );
}

#[test]
fn truncated_module() {
    let dir = tempfile::tempdir().unwrap();
    // A type section that promises 5 bytes and ends after 3.
    let input = write(dir.path(), "truncated.wasm", &TYPE_MISMATCH[..11]);
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "byte 0x", "end-of-file"],
    );
    let input = write(dir.path(), "short.wasm", b"\0asm\x01\0");
    assert_error(&aot(&[&input, "-o", "out"]), &[&input, "byte 0x"]);
}

#[test]
fn wrong_magic_number() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "magic.wasm", b"\0asn\x01\0\0\0");
    assert_error(&aot(&[&input, "-o", "out"]), &[&input, "byte 0x0", "magic"]);
}

#[test]
fn invalid_function_body() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "body.wasm", TYPE_MISMATCH);
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "byte 0x1a", "type mismatch"],
    );
    let input = write(
        dir.path(),
        "body.wat",
        b"(module\n  (func (result i32) (i64.const 1)))\n",
    );
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "byte 0x", "type mismatch"],
    );
}

#[test]
fn text_syntax_error_has_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "syntax.wat",
        b"(module\n  (func (result i32) (i32.const 1)\n",
    );
    assert_error(&aot(&[&input, "-o", "out"]), &[&format!("{input}:3:1:")]);
    let input = write(
        dir.path(),
        "op.wat",
        b"(module\n  (func (i32.frobnicate)))\n",
    );
    assert_error(&aot(&[&input, "-o", "out"]), &[&format!("{input}:2:")]);
}

#[test]
fn unknown_import() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "import.wat",
        b"(module (import \"env\" \"nope\" (func)) (func (export \"_start\")))",
    );
    assert_error(&aot(&[&input, "-o", "out"]), &[&input, "byte 0x", "nope"]);
}

#[test]
fn unknown_target_triple() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "m.wat", b"(module)");
    assert_error(
        &aot(&[&input, "-o", "out", "--target", "banana"]),
        &["banana"],
    );
    assert_error(
        &aot(&[
            &input,
            "-o",
            "out",
            "--target",
            "riscv64gc-unknown-linux-gnu",
        ]),
        &["riscv64gc-unknown-linux-gnu"],
    );
}

#[test]
fn unreadable_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    let missing = missing.to_str().unwrap();
    assert_error(&aot(&[missing, "-o", "out"]), &["cannot read", missing]);
    let d = dir.path().to_str().unwrap();
    assert_error(&aot(&[d, "-o", "out"]), &["cannot read", d]);
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "ok.wat", b"(module (func (export \"_start\")))");
    assert_error(
        &aot(&[&input, "-o", "/nonexistent-aot-dir/app"]),
        &["cannot write /nonexistent-aot-dir/app"],
    );
    let d = dir.path().to_str().unwrap();
    assert_error(&aot(&[&input, "-o", d]), &["cannot write", d]);
    assert_error(
        &aot(&[&input, "-o", "/nonexistent-aot-dir/app.o", "--emit", "obj"]),
        &["cannot write /nonexistent-aot-dir/app.o"],
    );
}

#[test]
fn components_that_are_no_command_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    // An empty component is valid but is no `wasi:cli/command`.
    let input = write(dir.path(), "c.wasm", b"\0asm\x0d\0\x01\0");
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "a component must export `wasi:cli/run@0.2.x` once"],
    );
    let input = write(dir.path(), "c.wat", b";; a component\n(component)\n");
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "a component must export `wasi:cli/run@0.2.x` once"],
    );
    // Malformed and invalid components are reported as such, with the byte offset.
    let input = write(dir.path(), "cut.wasm", b"\0asm\x0d\0\x01\0\x01\x05");
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "byte 0xa: unexpected end-of-file"],
    );
    let input = write(
        dir.path(),
        "inv.wat",
        b"(component (core module (func (result i32) i64.const 1)))",
    );
    assert_error(
        &aot(&[&input, "-o", "out"]),
        &[&input, "byte 0x24: type mismatch: expected i32, found i64"],
    );
}

/// A component importing `interface#func` (of type `func() -> u64`) and exporting
/// `wasi:cli/run@0.2.0`.
fn component_importing(interface: &str, func: &str) -> String {
    format!(
        r#"(component
  (import "{interface}" (instance $r (export "{func}" (func (result u64)))))
  (alias export $r "{func}" (func $f))
  (core func $rand (canon lower (func $f)))
  (core module $m
    (import "r" "rand" (func (result i64)))
    (func (export "run") (result i32) (i32.const 0)))
  (core instance $i (instantiate $m (with "r" (instance (export "rand" (func $rand))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $run_instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run_instance)))
"#
    )
}

#[test]
fn component_imports_outside_wasi_0_2_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "wasi:random/random@0.3.0",
            "get-random-u64",
            "import `wasi:random/random@0.3.0#get-random-u64`",
            "version 0.3.0 is not compatible",
        ),
        (
            "wasi:random/random@0.2.3",
            "get-random-u65",
            "import `wasi:random/random@0.2.3#get-random-u65`",
            "has no function `get-random-u65`",
        ),
        (
            "foo:bar/baz@1.0.0",
            "get-random-u64",
            "import `foo:bar/baz@1.0.0#get-random-u64`",
            "is not provided",
        ),
    ];
    for (i, (interface, func, what, why)) in cases.into_iter().enumerate() {
        let input = write(
            dir.path(),
            &format!("c{i}.wat"),
            component_importing(interface, func).as_bytes(),
        );
        assert_error(&aot(&[&input, "-o", "out"]), &[&input, what, why]);
    }
}

/// The same component with an import the host provides compiles, on both targets, into an
/// executable whose lifted `run` decides the exit status.
#[test]
fn a_component_within_wasi_0_2_runs() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "c.wat",
        component_importing("wasi:random/random@0.2.3", "get-random-u64").as_bytes(),
    );
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        let exe = dir.path().join(format!("c-{triple}"));
        let exe_s = exe.to_string_lossy().into_owned();
        let out = aot(&[&input, "--target", triple, "-o", &exe_s]);
        assert!(
            out.status.success(),
            "{triple}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let what = format!("the component executable for {triple}");
        let Some(run) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        assert_eq!(
            run.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

#[test]
fn a_failed_compile_leaves_an_existing_output_alone() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "body.wasm", TYPE_MISMATCH);
    let output = write(dir.path(), "app", b"previous");
    assert_error(&aot(&[&input, "-o", &output]), &["type mismatch"]);
    assert_eq!(std::fs::read(&output).unwrap(), b"previous");
}

#[test]
fn emit_obj_writes_a_relocatable_object() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "ok.wat", b"(module (func (export \"_start\")))");
    for (triple, machine) in [
        ("x86_64-unknown-linux-gnu", 62u16),
        ("aarch64-unknown-linux-gnu", 183),
    ] {
        let output = dir.path().join(format!("{triple}.o"));
        let out = aot(&[
            &input,
            "-o",
            output.to_str().unwrap(),
            "--emit",
            "obj",
            "--target",
            triple,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let obj = std::fs::read(&output).unwrap();
        assert!(obj.starts_with(b"\x7fELF"));
        assert_eq!(u16::from_le_bytes([obj[16], obj[17]]), 1, "ET_REL");
        assert_eq!(u16::from_le_bytes([obj[18], obj[19]]), machine);
    }
}

const TRAPS: &[u8] =
    b"(module\n  (func $inner unreachable)\n  (func (export \"_start\") call $inner))\n";
const RETURNS: &[u8] =
    b"(module\n  (memory (export \"memory\") 1)\n  (func (export \"_start\")))\n";

/// Compiles TRAPS and RETURNS for `triple` (with `extra` flags) and checks what running
/// them does: a trap exits 134 with `wasm trap:` first on stderr, a normal return exits 0.
fn check_end_to_end(triple: &str, extra: &[&str], label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let traps = write(dir.path(), "traps.wat", TRAPS);
    let returns = write(dir.path(), "returns.wat", RETURNS);
    for (input, expect_trap) in [(&traps, true), (&returns, false)] {
        let exe = dir
            .path()
            .join(if expect_trap { "traps" } else { "returns" });
        let exe_s = exe.to_str().unwrap();
        let mut args = vec![input.as_str(), "-o", exe_s, "--target", triple];
        args.extend_from_slice(extra);
        let out = aot(&args);
        assert!(
            out.status.success(),
            "{label}: aot {args:?}: {}",
            stderr(&out)
        );
        assert!(
            out.stderr.is_empty(),
            "{label}: aot printed {}",
            stderr(&out)
        );
        let what = format!(
            "running the {label} executable {}",
            exe.file_name().unwrap().to_string_lossy()
        );
        let Some(run) = run_for(triple, &exe, &[], &what) else {
            continue;
        };
        let err = stderr(&run);
        if expect_trap {
            assert_eq!(run.status.code(), Some(134), "{what}: {err}");
            assert!(err.starts_with("wasm trap: "), "{what}: {err}");
            assert!(err.contains("unreachable"), "{what}: {err}");
        } else {
            assert_eq!(run.status.code(), Some(0), "{what}: {err}");
            assert!(err.is_empty(), "{what}: {err}");
        }
    }
}

#[test]
fn end_to_end_x86_64() {
    check_end_to_end("x86_64-unknown-linux-gnu", &[], "x86_64");
    check_end_to_end(
        "x86_64-unknown-linux-musl",
        &["-O", "0", "--bounds-checks"],
        "x86_64 -O0 bounds-checked",
    );
}

#[test]
fn end_to_end_aarch64() {
    check_end_to_end("aarch64-unknown-linux-gnu", &[], "aarch64");
    check_end_to_end(
        "aarch64-unknown-linux-gnu",
        &["-O", "1", "--bounds-checks"],
        "aarch64 -O1 bounds-checked",
    );
}

#[test]
fn end_to_end_with_external_linkers() {
    for (linker, triple) in [
        ("ld.lld-19", "x86_64-unknown-linux-gnu"),
        ("ld.lld-19", "aarch64-unknown-linux-gnu"),
        ("gcc", "x86_64-unknown-linux-gnu"),
        ("aarch64-linux-gnu-gcc", "aarch64-unknown-linux-gnu"),
        ("clang-19", "aarch64-unknown-linux-gnu"),
    ] {
        let label = format!("{triple} linked by {linker}");
        let Some(path) = tools::find_on_path(linker) else {
            let why = format!("{linker} is not on PATH");
            // scripts/setup.sh installs lld-19 and clang-19, not the gcc toolchains.
            if linker.contains("gcc") {
                tools::skip(&label, &why);
            } else {
                tools::skip_missing(&label, &why);
            }
            continue;
        };
        if linker == "gcc" && std::env::consts::ARCH != "x86_64" {
            tools::skip(&label, "the host gcc does not target x86_64");
            continue;
        }
        check_end_to_end(triple, &["--linker", path.to_str().unwrap()], &label);
    }
}

#[test]
fn a_missing_linker_names_its_package() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "ok.wat", b"(module (func (export \"_start\")))");
    let app = dir.path().join("app");
    let args = [
        &input,
        "-o",
        app.to_str().unwrap(),
        "--target",
        "aarch64-unknown-linux-gnu",
        "--linker",
        "/nonexistent/aarch64-linux-gnu-gcc",
    ];
    let out = aot(&args);
    assert_error(
        &out,
        &[
            "linker `/nonexistent/aarch64-linux-gnu-gcc` not found: install Debian package gcc-aarch64-linux-gnu",
        ],
    );
    assert!(!app.exists());
}

/// A trap three calls deep, where `middle` is small enough to be inlined into `_start` at
/// -O2: the backtrace still names every function, innermost first, on both targets and at
/// every optimisation level.
const DEEP_TRAP: &[u8] = b"(module
  (func $inner (param i32) (result i32)
    (i32.div_u (i32.const 1) (local.get 0)) (i32.const 7) (i32.add) (i32.const 3) (i32.mul)
    (i32.const 5) (i32.xor) (i32.const 9) (i32.sub) (i32.const 2) (i32.shl) (i32.const 1)
    (i32.or) (i32.const 11) (i32.add) (i32.const 13) (i32.mul) (i32.const 17) (i32.xor)
    (i32.const 19) (i32.sub) (i32.const 23) (i32.add) (i32.const 29) (i32.mul))
  (func $middle (result i32) (call $inner (i32.const 0)))
  (func $start (export \"_start\") (drop (call $middle))))
";

#[test]
fn backtraces_name_inlined_frames() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "deep.wat", DEEP_TRAP);
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        for opt in ["0", "2"] {
            let exe = dir.path().join(format!("deep-{triple}-{opt}"));
            let out = aot(&[
                &input,
                "-o",
                exe.to_str().unwrap(),
                "--target",
                triple,
                "-O",
                opt,
            ]);
            assert!(out.status.success(), "{}", stderr(&out));
            let what = format!("deep trap, {triple} -O{opt}");
            let Some(run) = run_for(triple, &exe, &[], &what) else {
                continue;
            };
            assert_eq!(run.status.code(), Some(134), "{what}");
            assert_eq!(
                stderr(&run),
                "wasm trap: integer divide by zero\nwasm backtrace:\n    0: inner\n    1: middle\n    2: start\n",
                "{what}"
            );
        }
    }
}

/// Exits with the number of environment variables the program sees.
const ENV_COUNT: &[u8] = b"(module
  (import \"wasi_snapshot_preview1\" \"environ_sizes_get\" (func $sizes (param i32 i32) (result i32)))
  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))
  (memory (export \"memory\") 1)
  (func (export \"_start\")
    (drop (call $sizes (i32.const 0) (i32.const 4)))
    (call $exit (i32.load (i32.const 0)))))
";

/// Builds ENV_COUNT for the host with `flags` and runs it with exactly `env`.
fn env_count(flags: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "env.wat", ENV_COUNT);
    let exe = dir.path().join("env");
    let mut args = vec![input.as_str(), "-o", exe.to_str().unwrap()];
    args.extend_from_slice(flags);
    let out = aot(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    Command::new(&exe)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run the executable")
}

#[test]
fn environment_grants_are_fixed_at_compile_time() {
    let run_env = [("COPIED", "x"), ("OTHER", "y"), ("THIRD", "z")];
    // Nothing granted: the program sees no variables, whatever the process has.
    assert_eq!(env_count(&[], &run_env).status.code(), Some(0));
    // NAME=VALUE always; NAME alone copies the variable when the process has it.
    let flags = ["--env", "SET=1", "--env", "COPIED"];
    assert_eq!(env_count(&flags, &run_env).status.code(), Some(2));
    assert_eq!(env_count(&flags, &[("OTHER", "y")]).status.code(), Some(1));
    // --inherit-env: the whole environment of the process.
    assert_eq!(
        env_count(&["--inherit-env"], &run_env).status.code(),
        Some(3)
    );
}

#[test]
fn a_missing_preopen_directory_is_an_error_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("granted");
    std::fs::create_dir(&granted).unwrap();
    let grant = format!("{}::/data", granted.display());
    let out = env_count(&["--dir", &grant], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let input = write(dir.path(), "env.wat", ENV_COUNT);
    let exe = dir.path().join("env");
    let out = aot(&[&input, "-o", exe.to_str().unwrap(), "--dir", &grant]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_dir(&granted).unwrap();
    let run = Command::new(&exe).output().expect("run the executable");
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(err.contains(&granted.display().to_string()), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
