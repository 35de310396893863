//! Codegen tests: each `tests/disas/*.wat` holds a module at the top and, below it, the
//! machine code `aot` generates for each function on each target, in a `;;` comment
//! block. A codegen change shows up here as a readable diff. `AOT_TEST_BLESS=1`
//! rewrites the expectations from the current compiler.
//!
//! A line `;; option: memory0-fixed` in the module's part compiles it with memory 0 at
//! `aot_abi::fixed_memory0_base`, as `aot` does for a program that allows it; a line
//! `;; option: global-in-register` lets it keep a global in the pinned register
//! (`aot::scan::register_global`), as `aot` does for a program of one instance.

use std::path::Path;

const MARKER: &str = ";; ---- generated code below (AOT_TEST_BLESS=1 to update) ----";
const TARGETS: [&str; 2] = ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"];

fn generated(
    wasm: &[u8],
    file: &str,
    memory0_fixed: bool,
    global_in_register: bool,
) -> Result<String, String> {
    let mut out = String::new();
    for t in TARGETS {
        let target = t.parse::<aot::Target>()?;
        let mut opts = aot::Options::new(target);
        opts.allow_unknown_imports = true;
        opts.memory0_fixed = memory0_fixed;
        opts.global_in_register = global_in_register;
        let funcs = aot::disassemble_module(wasm, file, &opts).map_err(|e| e.to_string())?;
        for (name, code) in funcs {
            out.push_str(&format!(";; {t} {name}\n"));
            // Debug-tag annotations are frame metadata, not code.
            for line in code.lines().filter(|l| !l.contains("^-- debug @")) {
                out.push_str(&format!(";;   {}\n", line.trim_end()));
            }
        }
    }
    Ok(out)
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("disas");
    let bless = std::env::var_os("AOT_TEST_BLESS").is_some();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/disas exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    entries.sort();
    let (mut passed, mut failed) = (0, 0);
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("readable test file");
        let (source, expected) = match text.find(MARKER) {
            Some(i) => (&text[..i], &text[i + MARKER.len()..]),
            None => (text.as_str(), ""),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let actual = wat::parse_str(source)
            .map_err(|e| e.to_string())
            .and_then(|wasm| {
                let option = |o: &str| {
                    source
                        .lines()
                        .any(|l| l.trim() == format!(";; option: {o}"))
                };
                generated(
                    &wasm,
                    &name,
                    option("memory0-fixed"),
                    option("global-in-register"),
                )
            });
        let actual = match actual {
            Ok(a) => a,
            Err(e) => {
                println!("FAIL {name}: {e}");
                failed += 1;
                continue;
            }
        };
        if bless {
            let new = format!(
                "{}{MARKER}\n{actual}",
                source.trim_end_matches('\n').to_string() + "\n\n"
            );
            std::fs::write(&path, new).expect("writable test file");
            println!("blessed {name}");
            passed += 1;
        } else if expected.trim() == actual.trim() {
            println!("ok {name}");
            passed += 1;
        } else {
            println!("FAIL {name}: generated code differs (AOT_TEST_BLESS=1 to accept):");
            for (e, a) in expected.trim().lines().zip(actual.trim().lines()) {
                if e != a {
                    println!("  expected: {e}\n  actual:   {a}");
                    break;
                }
            }
            failed += 1;
        }
    }
    println!("disas: {passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
