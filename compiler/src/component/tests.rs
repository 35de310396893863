//! Flattening tests: small hand-written components in WAT (one per pattern real
//! components use, and the constructs refused), then the real Rust wasm32-wasip2
//! components of examples/, built here.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

fn flat(wat: &str) -> Flattened {
    let wasm = wat::parse_str(wat).expect("test component is valid WAT");
    flatten(&wasm, "test.wasm").unwrap_or_else(|e| panic!("flatten: {e}"))
}

fn flatten_err(wat: &str) -> CompileError {
    let wasm = wat::parse_str(wat).expect("test component is valid WAT");
    match flatten(&wasm, "test.wasm") {
        Ok(f) => panic!("expected an error, got\n{f}"),
        Err(e) => e,
    }
}

fn export(instance: usize, name: &str, kind: ExternKind) -> CoreDef {
    CoreDef::Export {
        instance,
        name: name.to_string(),
        kind,
    }
}

/// Every import of every instance is given, by an earlier instance, a lowering or a
/// resource intrinsic that exists; and the export lifts an existing instance's function.
fn assert_resolved(f: &Flattened) {
    let in_range = |d: &CoreDef, before: usize| match d {
        CoreDef::Export { instance, .. } => *instance < before,
        CoreDef::Lowered(i) => *i < f.lowerings.len(),
        CoreDef::Resource(i) => *i < f.resources.len(),
        CoreDef::Adapter(i) => *i < f.adapters.len(),
        CoreDef::Task(i) => *i < f.task_builtins.len(),
    };
    for (i, inst) in f.instances.iter().enumerate() {
        let module = &f.modules[inst.module];
        assert_eq!(inst.imports.len(), module.imports.len(), "instance {i}");
        for (d, imp) in inst.imports.iter().zip(&module.imports) {
            assert!(in_range(d, i), "instance {i} import {imp:?} <- {d}");
            if let CoreDef::Export { kind, .. } = d {
                assert_eq!(*kind, imp.kind, "instance {i} import {imp:?} <- {d}");
            }
            if matches!(d, CoreDef::Lowered(_) | CoreDef::Resource(_)) {
                assert_eq!(imp.kind, ExternKind::Func, "instance {i} import {imp:?}");
            }
        }
    }
    for l in &f.lowerings {
        for d in [&l.options.memory, &l.options.realloc]
            .into_iter()
            .flatten()
        {
            assert!(
                in_range(d, f.instances.len()),
                "{} {}: {d}",
                l.import,
                l.func
            );
        }
    }
    assert!(in_range(&f.export.core_func, f.instances.len()));
}

#[test]
fn component_core_module_with_a_lowered_import_and_run() {
    let f = flat(
        r#"(component
            (import "wasi:cli/stdout@0.2.6" (instance $stdout
                (export "get-stdout" (func (result u32)))))
            (core module $m
                (import "host" "get-stdout" (func (result i32)))
                (func (export "run") (result i32) call 0))
            (core func $get (canon lower (func $stdout "get-stdout")))
            (core instance $host (export "get-stdout" (func $get)))
            (core instance $i (instantiate $m (with "host" (instance $host))))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $e (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $e)))"#,
    );
    assert_resolved(&f);
    assert_eq!(f.modules.len(), 1);
    assert_eq!(f.instances.len(), 1);
    assert_eq!(f.instances[0].imports, [CoreDef::Lowered(0)]);
    assert_eq!(f.lowerings.len(), 1);
    assert_eq!(f.lowerings[0].import, "wasi:cli/stdout@0.2.6");
    assert_eq!(f.lowerings[0].func, "get-stdout");
    assert_eq!(f.lowerings[0].options, CanonOptions::default());
    assert!(f.resources.is_empty());
    assert_eq!(f.export.instance, "wasi:cli/run@0.2.0");
    assert_eq!(f.export.func, "run");
    assert_eq!(f.export.core_func, export(0, "run", ExternKind::Func));
    assert_eq!(f.export.options, CanonOptions::default());
}

/// wit-component's pattern: main is instantiated on a shim's stubs, the lowerings that
/// need main's memory and realloc are made afterwards, and a fixup fills the shim's table.
#[test]
fn component_shim_and_fixup() {
    let f = flat(
        r#"(component
            (import "wasi:io/streams@0.2.6" (instance $streams
                (export "output-stream" (type (sub resource)))
                (export "write" (func (param "s" string)))))
            (alias export $streams "output-stream" (type $os))
            (core module $main
                (import "wasi:io/streams@0.2.0" "write" (func (param i32 i32)))
                (import "wasi:io/streams@0.2.0" "[resource-drop]output-stream" (func (param i32)))
                (memory (export "memory") 1)
                (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
                (func (export "wasi:cli/run@0.2.0#run") (result i32) i32.const 0))
            (core module $shim
                (type $w (func (param i32 i32)))
                (table (export "$imports") 1 1 funcref)
                (func (export "0") (type $w)
                    local.get 0 local.get 1 i32.const 0 call_indirect (type $w)))
            (core module $fixup
                (import "" "$imports" (table 1 1 funcref))
                (import "" "0" (func (param i32 i32)))
                (elem (i32.const 0) func 0))
            (core instance $shim (instantiate $shim))
            (core func $drop (canon resource.drop $os))
            (core instance $streams-core
                (export "write" (func $shim "0"))
                (export "[resource-drop]output-stream" (func $drop)))
            (core instance $main (instantiate $main
                (with "wasi:io/streams@0.2.0" (instance $streams-core))))
            (alias core export $main "memory" (core memory $mem))
            (alias core export $main "cabi_realloc" (core func $realloc))
            (core func $write (canon lower (func $streams "write")
                (memory $mem) (realloc $realloc) string-encoding=utf8))
            (core instance $fixup-args
                (export "$imports" (table $shim "$imports"))
                (export "0" (func $write)))
            (core instance (instantiate $fixup (with "" (instance $fixup-args))))
            (func $run (result (result)) (canon lift (core func $main "wasi:cli/run@0.2.0#run")))
            (component $shim-component
                (import "import-func-run" (func $f (result (result))))
                (export "run" (func $f)))
            (instance $e (instantiate $shim-component (with "import-func-run" (func $run))))
            (export "wasi:cli/run@0.2.0" (instance $e)))"#,
    );
    println!("{f}");
    assert_resolved(&f);
    assert_eq!(f.modules.len(), 3);
    // Definition order: main, shim, fixup; instantiation order: shim, main, fixup.
    let modules: Vec<usize> = f.instances.iter().map(|i| i.module).collect();
    assert_eq!(modules, [1, 0, 2]);
    assert_eq!(
        f.instances[1].imports,
        [export(0, "0", ExternKind::Func), CoreDef::Resource(0)]
    );
    assert_eq!(
        f.instances[2].imports,
        [
            export(0, "$imports", ExternKind::Table),
            CoreDef::Lowered(0)
        ]
    );
    assert_eq!(
        f.resources,
        [ResourceIntrinsic {
            kind: ResourceIntrinsicKind::Drop,
            resource: "wasi:io/streams@0.2.6#output-stream".to_string(),
            guest: None,
            instance: 0,
        }]
    );
    let write = &f.lowerings[0];
    assert_eq!(
        (&write.import[..], &write.func[..]),
        ("wasi:io/streams@0.2.6", "write")
    );
    assert_eq!(
        write.options.memory,
        Some(export(1, "memory", ExternKind::Memory))
    );
    assert_eq!(
        write.options.realloc,
        Some(export(1, "cabi_realloc", ExternKind::Func))
    );
    assert_eq!(write.options.string_encoding, StringEncoding::Utf8);
    assert_eq!(
        f.export.core_func,
        export(1, "wasi:cli/run@0.2.0#run", ExternKind::Func)
    );
}

/// The lowering, the core instance and the lift all inside a nested component that gets the
/// host instance as an argument; outer aliases of a type and a module; the root re-exports
/// the nested component's exported instance.
#[test]
fn component_nested_components_and_outer_aliases() {
    let f = flat(
        r#"(component $root
            (import "wasi:cli/stdout@0.2.6" (instance $stdout
                (export "get-stdout" (func (result u32)))))
            (core module $m
                (import "host" "get-stdout" (func (result i32)))
                (func (export "run") (result i32) call 0))
            (component $inner
                (import "out" (instance $o (export "get-stdout" (func (result u32)))))
                (alias outer $root $m (core module $m))
                (type $run-type (func (result (result))))
                (core func $get (canon lower (func $o "get-stdout")))
                (core instance $host (export "get-stdout" (func $get)))
                (core instance $i (instantiate $m (with "host" (instance $host))))
                (func $run (type $run-type) (canon lift (core func $i "run")))
                (component $shim
                    (alias outer $inner $run-type (type $t))
                    (import "import-func-run" (func $f (type $t)))
                    (export "run" (func $f)))
                (instance $e (instantiate $shim (with "import-func-run" (func $run))))
                (export "run-instance" (instance $e)))
            (instance $inner-i (instantiate $inner (with "out" (instance $stdout))))
            (alias export $inner-i "run-instance" (instance $ri))
            (export "wasi:cli/run@0.2.3" (instance $ri)))"#,
    );
    assert_resolved(&f);
    assert_eq!(f.modules.len(), 1);
    assert_eq!(f.instances.len(), 1);
    assert_eq!(f.lowerings.len(), 1);
    assert_eq!(f.lowerings[0].import, "wasi:cli/stdout@0.2.6");
    assert_eq!(f.lowerings[0].func, "get-stdout");
    assert_eq!(f.export.instance, "wasi:cli/run@0.2.3");
    assert_eq!(f.export.core_func, export(0, "run", ExternKind::Func));
}

/// A resource one interface re-exports (`(eq)` to another interface's, or to its own) is
/// the resource it is equal to, whichever alias the intrinsic names it by.
#[test]
fn component_resources_are_named_by_their_defining_interface() {
    let f = flat(
        r#"(component $root
            (import "wasi:io/error@0.2.6" (instance $error
                (export "error" (type (sub resource)))))
            (alias export $error "error" (type $e))
            (import "wasi:io/streams@0.2.6" (instance $streams
                (alias outer $root $e (type $e2))
                (export "error" (type (eq $e2)))
                (export "output-stream" (type $os (sub resource)))
                (export "same-stream" (type (eq $os)))
                (type $rec (record (field "a" u32)))
                (export "rec" (type (eq $rec)))))
            (alias export $streams "error" (type $se))
            (alias export $streams "same-stream" (type $ss))
            (alias export $streams "output-stream" (type $os))
            (core func $d1 (canon resource.drop $se))
            (core func $d2 (canon resource.drop $ss))
            (core func $d3 (canon resource.drop $os))
            (core module $m
                (import "x" "d1" (func (param i32)))
                (import "x" "d2" (func (param i32)))
                (import "x" "d3" (func (param i32)))
                (func (export "run") (result i32) i32.const 0))
            (core instance $x
                (export "d1" (func $d1)) (export "d2" (func $d2)) (export "d3" (func $d3)))
            (core instance $i (instantiate $m (with "x" (instance $x))))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $ex (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $ex)))"#,
    );
    assert_resolved(&f);
    let names: Vec<&str> = f.resources.iter().map(|r| r.resource.as_str()).collect();
    assert_eq!(
        names,
        [
            "wasi:io/error@0.2.6#error",
            "wasi:io/streams@0.2.6#output-stream",
            "wasi:io/streams@0.2.6#output-stream",
        ]
    );
    assert_eq!(
        f.instances[0].imports,
        [
            CoreDef::Resource(0),
            CoreDef::Resource(1),
            CoreDef::Resource(2)
        ]
    );
}

/// A nested component instantiated twice gets two core instances of its one module.
#[test]
fn component_nested_component_instantiated_twice() {
    let f = flat(
        r#"(component
            (component $c
                (core module $m (func (export "run") (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "run")))
                (instance $e (export "run" (func $run)))
                (export "e" (instance $e)))
            (instance $a (instantiate $c))
            (instance $b (instantiate $c))
            (alias export $b "e" (instance $be))
            (export "wasi:cli/run@0.2.0" (instance $be)))"#,
    );
    assert_resolved(&f);
    assert_eq!(f.modules.len(), 1);
    assert_eq!(f.instances.len(), 2);
    assert_eq!(f.export.core_func, export(1, "run", ExternKind::Func));
}

/// A function lifted in one nested component and lowered into another becomes a fused
/// adapter with its type, and a resource a component defines gets its intrinsics on that
/// component instance's table.
#[test]
fn compositions_flatten_into_adapters_and_guest_resources() {
    let f = flat(
        r#"(component
            (component $lib
                (type $r (resource (rep i32)))
                (export $re "r" (type $r))
                (core func $new (canon resource.new $r))
                (core module $m
                    (import "" "new" (func $new (param i32) (result i32)))
                    (memory (export "memory") 1)
                    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 8)
                    (func (export "make") (param i32 i32) (result i32) local.get 1 call $new))
                (core instance $i (instantiate $m (with "" (instance (export "new" (func $new))))))
                (func $make (param "s" string) (result (own $re))
                    (canon lift (core func $i "make") (memory (core memory $i "memory"))
                        (realloc (core func $i "realloc"))))
                (export "make" (func $make)))
            (instance $l (instantiate $lib))
            (alias export $l "make" (func $make))
            (core module $mem (memory (export "memory") 1)
                (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 16))
            (core instance $mi (instantiate $mem))
            (core func $lowered (canon lower (func $make) (memory (core memory $mi "memory"))
                (realloc (core func $mi "realloc"))))
            (core module $app
                (import "" "make" (func (param i32 i32) (result i32)))
                (func (export "run") (result i32) i32.const 0))
            (core instance $ai (instantiate $app (with "" (instance (export "make" (func $lowered))))))
            (func $run (result (result)) (canon lift (core func $ai "run")))
            (instance $e (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $e)))"#,
    );
    assert_resolved(&f);
    assert_eq!(f.adapters.len(), 1);
    let a = &f.adapters[0];
    assert_eq!(
        a.ty,
        aot_abi::ctypes::CFuncType {
            params: vec![aot_abi::ctypes::CType::String],
            result: Some(aot_abi::ctypes::CType::Own(0)),
        }
    );
    assert_ne!(a.callee_instance, a.caller_instance);
    assert_eq!(f.guest_resources.len(), 1);
    assert_eq!(f.guest_resources[0].instance, a.callee_instance);
    assert_eq!(f.resources.len(), 1);
    assert_eq!(f.resources[0].guest, Some(0));
    assert_eq!(f.resources[0].kind, ResourceIntrinsicKind::New);
    assert!(f.instances[2].imports.contains(&CoreDef::Adapter(0)), "{f}");
}

#[test]
fn component_unsupported_constructs_are_errors_with_offsets() {
    let run = r#"
        (core module $m (func (export "run") (result i32) i32.const 0))
        (core instance $i (instantiate $m))
        (func $run (result (result)) (canon lift (core func $i "run")))
        (instance $e (export "run" (func $run)))
        (export "wasi:cli/run@0.2.0" (instance $e))"#;
    let cases = [(
        format!(r#"(component (import "f" (func)) {run})"#),
        r#"import "f" of a func"#,
    )];
    for (wat, construct) in cases {
        let e = flatten_err(&wat);
        let message = e.to_string();
        assert!(
            message.contains(&format!("component construct {construct}"))
                && message.contains("is not supported yet"),
            "{message}"
        );
        assert!(e.offset.is_some(), "{message}");
    }
    // Other exports beside `run` are left alone, as `wasmtime run` leaves them
    // (componentize-py exports its initialiser).
    let f = flat(&format!(
        r#"(component {run} (export "other" (instance $e)))"#
    ));
    assert_eq!(f.export.instance, "wasi:cli/run@0.2.0");
    // Exports: no run, two, or the wrong one.
    for wat in [
        "(component)".to_string(),
        format!(r#"(component {run} (export "wasi:cli/run@0.3.0" (instance $e)))"#),
        r#"(component
            (core module $m (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (export "run" (func $run)))"#
            .to_string(),
    ] {
        let e = flatten_err(&wat);
        assert!(e.message.contains("wasi:cli/run@0.2.x"), "{e}");
    }
    let e = flatten_err("(module)");
    assert_eq!(e.message, "not a component");
    // What is asynchronous (streams and futures, async lowers and lifts, waiting) and start
    // functions: refused with an offset, by validation or by the flattener. The task
    // builtins a synchronous component may import without using them are accepted.
    for (wat, words) in [
        (
            "(component (type $s (stream u8)) (core func (canon stream.new $s)))",
            "stream.new",
        ),
        (
            r#"(component
                (import "wasi:cli/environment@0.2.0" (instance $e (export "get-arguments" (func (result (list string))))))
                (core module $m (memory (export "m") 1))
                (core instance $i (instantiate $m))
                (core func (canon lower (func $e "get-arguments") async (memory (core memory $i "m")))))"#,
            "async",
        ),
        (
            r#"(component
                (core module $m (memory (export "m") 1))
                (core instance $i (instantiate $m))
                (core func (canon waitable-set.wait (memory (core memory $i "m")))))"#,
            "waitable-set.wait",
        ),
        (
            r#"(component
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (start $f))"#,
            "",
        ),
    ] {
        let e = flatten_err(wat);
        assert!(e.offset.is_some(), "{e}");
        assert!(e.message.contains(words), "{e}");
    }
    for wat in [
        "(component (core func (canon context.get i32 0)) (core func (canon context.set i32 0)))",
        "(component (core func (canon task.cancel)) (core func (canon waitable-set.new)))",
        "(component (core func (canon subtask.drop)) (core func (canon waitable.join)))",
    ] {
        let e = flatten_err(wat);
        assert!(e.message.contains("wasi:cli/run@0.2.x"), "{wat}: {e}");
    }
    // Invalid components are refused by validation, before anything else.
    let e = flatten_err(r#"(component (core module $m) (core instance (instantiate 7)))"#);
    assert!(e.offset.is_some(), "{e}");
}

/// The Rust programs of examples/rust/ (each directory is a package of the same name).
fn rust_examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/rust");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Builds the Rust example `program` for wasm32-wasip2, or says why it cannot.
fn build_rust_component(program: &str) -> Result<PathBuf, String> {
    build_rust_components(&[program]).and_then(|mut v| v.pop().ok_or_else(String::new))
}

/// Builds the Rust examples `programs` for wasm32-wasip2 (one cargo call), or says why not.
fn build_rust_components(programs: &[&str]) -> Result<Vec<PathBuf>, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace directory")?;
    let target_dir = workspace.join("target/examples");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(workspace.join("examples/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for p in programs {
        cmd.args(["-p", p]);
    }
    for v in crate::test_tools::CLEARED_CARGO_ENV {
        cmd.env_remove(v);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(format!(
                "cargo build --target wasm32-wasip2 failed (is the target installed?): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return Err(format!("cannot run cargo: {e}")),
    }
    programs
        .iter()
        .map(|program| {
            let wasm = target_dir
                .join("wasm32-wasip2/release")
                .join(format!("{program}.wasm"));
            if wasm.is_file() {
                Ok(wasm)
            } else {
                Err(format!("{} was not built", wasm.display()))
            }
        })
        .collect()
}

/// The real Rust component `program`, flattened; `None` (a printed skip) without the
/// toolchain, a failure under CI.
fn flatten_rust(program: &str) -> Option<Flattened> {
    let what = format!("flattening the Rust component {program}");
    match build_rust_component(program) {
        Ok(wasm) => Some(flatten_file(&wasm)),
        Err(why) => {
            crate::test_tools::skip_missing(&what, &why);
            None
        }
    }
}

fn flatten_file(wasm: &Path) -> Flattened {
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    let f = flatten(&bytes, &wasm.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    // Every module is a core module the core front end can read.
    for m in &f.modules {
        assert!(!crate::module::is_component(m.bytes(&bytes)));
        assert_eq!(m.bytes(&bytes).get(0..4), Some(&b"\0asm"[..]));
    }
    f
}

/// wit-component's layout: main (module 0), optionally the preview1 adapter (when a
/// dependency imports `wasi_snapshot_preview1`), shim, fixup; the shim is instantiated first
/// and main second; the export lifts main's `wasi:cli/run@0.2.0#run`. Returns main's
/// instance.
fn assert_rust_layout(f: &Flattened) -> usize {
    assert_resolved(f);
    assert!(
        (3..=4).contains(&f.modules.len()),
        "main, [adapter], shim, fixup"
    );
    let shim = f.modules.len() - 2;
    assert!(
        f.modules[shim].imports.is_empty(),
        "the shim imports nothing"
    );
    assert_eq!(f.instances.len(), f.modules.len());
    assert_eq!(f.instances[0].module, shim);
    let main = 1;
    assert_eq!(f.instances[main].module, 0);
    if f.modules.len() == 4 {
        // The adapter runs on main's memory and allocator.
        let adapter = &f.instances[2];
        assert_eq!(adapter.module, 1);
        let imports = &f.modules[1].imports;
        for (imp, d) in imports.iter().zip(&adapter.imports) {
            if imp.module == "env" && imp.name == "memory" {
                assert_eq!(*d, export(main, "memory", ExternKind::Memory));
            }
        }
    }
    assert_eq!(
        f.export.core_func,
        export(main, "wasi:cli/run@0.2.0#run", ExternKind::Func)
    );
    assert_eq!(f.export.instance, "wasi:cli/run@0.2.0");
    assert_eq!(f.export.options, CanonOptions::default());
    // Every host function main imports is a lowering or resource drop, directly or through
    // the shim (whose stubs the fixup fills with lowerings or adapter functions).
    assert!(f.instances[main].imports.iter().all(|d| matches!(
        d,
        CoreDef::Lowered(_) | CoreDef::Resource(_) | CoreDef::Export { instance: 0, .. }
    )));
    for l in &f.lowerings {
        assert!(l.import.starts_with("wasi:"), "{}", l.import);
        assert_eq!(l.options.post_return, None);
        if let Some(m) = &l.options.memory {
            assert_eq!(*m, export(main, "memory", ExternKind::Memory));
        }
        if let Some(CoreDef::Export { instance, kind, .. }) = &l.options.realloc {
            assert!(*instance == main || *instance == 2 && f.modules.len() == 4);
            assert_eq!(*kind, ExternKind::Func);
        }
    }
    assert!(
        f.resources
            .iter()
            .all(|r| r.kind == ResourceIntrinsicKind::Drop && r.resource.starts_with("wasi:"))
    );
    main
}

/// Run with `--nocapture` to see the flattened hello.
#[test]
fn component_rust_hello_flattens() {
    let Some(f) = flatten_rust("hello") else {
        return;
    };
    println!("{f}");
    assert_rust_layout(&f);
    assert_eq!(f.modules.len(), 3, "main, shim, fixup");
    assert_eq!(f.lowerings.len(), 13, "canon lower (COMPONENTS.md)");
    assert_eq!(f.resources.len(), 6, "resource.drop (COMPONENTS.md)");
    assert!(
        f.lowerings
            .iter()
            .any(|l| l.import == "wasi:cli/stdout@0.2.6"
                && l.func == "get-stdout"
                && l.options == CanonOptions::default())
    );
    assert!(
        f.resources
            .iter()
            .any(|r| r.resource == "wasi:io/streams@0.2.6#output-stream")
    );
}

#[test]
fn component_rust_files_flattens() {
    let Some(f) = flatten_rust("files") else {
        return;
    };
    println!("{f}");
    assert_rust_layout(&f);
    assert_eq!(f.modules.len(), 3, "main, shim, fixup");
    // What Rust 1.95's std imports for this program (COMPONENTS.md counts another one).
    assert_eq!(f.lowerings.len(), 36);
    assert_eq!(f.resources.len(), 8);
    assert!(
        f.lowerings
            .iter()
            .any(|l| l.import.starts_with("wasi:filesystem/types@0.2.")
                && l.options.memory.is_some())
    );
}

/// Every Rust example, as a wasip2 component, flattens into wit-component's layout.
#[test]
fn component_rust_examples_all_flatten() {
    let programs = rust_examples();
    let names: Vec<&str> = programs.iter().map(String::as_str).collect();
    let wasms = match build_rust_components(&names) {
        Ok(w) => w,
        Err(why) => {
            crate::test_tools::skip_missing("flattening the Rust examples as components", &why);
            return;
        }
    };
    for (name, wasm) in names.iter().zip(&wasms) {
        let f = flatten_file(wasm);
        assert_rust_layout(&f);
        println!(
            "{name}: {} modules, {} instances, {} lowerings, {} resource drops",
            f.modules.len(),
            f.instances.len(),
            f.lowerings.len(),
            f.resources.len()
        );
    }
}
