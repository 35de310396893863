//! The imports the runtime itself provides, matched at compile time: the compiler turns an
//! import listed here into a host-call trampoline that calls [`host_import_symbol`]
//! directly, so an executable links exactly the host functions it imports and nothing is
//! looked up by name when it starts.
//!
//! Three sets: WASI preview 1 (every command program), wasi-threads' `thread-spawn`
//! (`wasm32-wasip1-threads` programs; such a program's shared memory import is provided by
//! the runtime too, see [`host_provides_memory`]) and the test host (`aot_test`, only
//! when the compiler is asked for it: aot's own tests use it to exercise host functions
//! that call back into Wasm).

use crate::{FuncType, ValType};

/// Module name of the test host's imports.
pub const TEST_HOST_MODULE: &str = "aot_test";

/// The test host's functions: (name, params, results, symbol).
///
/// `call(f)` calls `f`, a funcref of type `[] -> []`, from host code: the host frame sits
/// between the caller's Wasm frames and `f`'s, and a trap in `f` unwinds through it. The
/// `print*` functions are what the spec suite's `spectest` module prints with (one line
/// `spectest: <values>` on stdout each). `host_ref(n)` makes the host reference `n` (an
/// externref), `host_ref_number(r)` reads it back (-1 for null, -2 for anything else), and
/// `gc_roots()` shows the GC's view of the stack: it visits the reference slots of every
/// Wasm frame from its caller outwards (as the collector will), prints their host numbers
/// sorted on one line `spectest: roots <n>...` (`null` for a null slot), replaces each
/// host reference `n` with `n + 10`, and returns how many slots it visited.
const TEST_HOST: &[(&str, &[ValType], &[ValType], &str)] = {
    use ValType::{ExternRef, F32, F64, FuncRef, I32, I64};
    &[
        ("call", &[FuncRef], &[], "aot_test_call"),
        ("host_ref", &[I32], &[ExternRef], "aot_test_host_ref"),
        (
            "host_ref_number",
            &[ExternRef],
            &[I32],
            "aot_test_host_ref_number",
        ),
        ("gc_roots", &[], &[I32], "aot_test_gc_roots"),
        ("print", &[], &[], "aot_test_print"),
        ("print_i32", &[I32], &[], "aot_test_print_i32"),
        ("print_i64", &[I64], &[], "aot_test_print_i64"),
        ("print_f32", &[F32], &[], "aot_test_print_f32"),
        ("print_f64", &[F64], &[], "aot_test_print_f64"),
        ("print_i32_f32", &[I32, F32], &[], "aot_test_print_i32_f32"),
        ("print_f64_f64", &[F64, F64], &[], "aot_test_print_f64_f64"),
    ]
};

/// The spec suite's `spectest` host module, as a Wasm module over the test host: print
/// functions, four immutable globals of value 666 (666.6 for floats), a funcref table of
/// 10..20 elements and a memory of 1..2 pages. Test harnesses compile it (with the test
/// host) beside a script's modules; the spec driver instantiates it first.
pub const SPECTEST_WAT: &str = r#"(module
  (import "aot_test" "print" (func $print))
  (import "aot_test" "print_i32" (func $print_i32 (param i32)))
  (import "aot_test" "print_i64" (func $print_i64 (param i64)))
  (import "aot_test" "print_f32" (func $print_f32 (param f32)))
  (import "aot_test" "print_f64" (func $print_f64 (param f64)))
  (import "aot_test" "print_i32_f32" (func $print_i32_f32 (param i32 f32)))
  (import "aot_test" "print_f64_f64" (func $print_f64_f64 (param f64 f64)))
  (export "print" (func $print))
  (export "print_i32" (func $print_i32))
  (export "print_i64" (func $print_i64))
  (export "print_f32" (func $print_f32))
  (export "print_f64" (func $print_f64))
  (export "print_i32_f32" (func $print_i32_f32))
  (export "print_f64_f64" (func $print_f64_f64))
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2)
  (memory (export "shared_memory") 1 2 shared))
"#;

/// The symbol of the runtime function implementing `module::name` with type `ty`, if the
/// runtime provides it (`test_host`: whether the test host is available).
pub fn host_import_symbol(
    module: &str,
    name: &str,
    ty: &FuncType,
    test_host: bool,
) -> Option<String> {
    if module == crate::wasi::WASI_P1_MODULE {
        return (crate::wasi::wasi_p1_signature(name).as_ref() == Some(ty))
            .then(|| crate::wasi::wasi_p1_symbol(name));
    }
    if crate::wasi::is_thread_spawn(module, name, ty) {
        return Some(crate::wasi::THREAD_SPAWN_SYMBOL.to_string());
    }
    if test_host && module == TEST_HOST_MODULE {
        return TEST_HOST
            .iter()
            .find(|(n, params, results, _)| {
                *n == name && ty.params == *params && ty.results == *results
            })
            .map(|(_, _, _, symbol)| symbol.to_string());
    }
    None
}

/// Whether the runtime creates the memory for an import of type `ty` when nothing else
/// provides it: a shared memory, as `wasm32-wasip1-threads` programs import
/// (`env::memory`) and `wasmtime run -S threads` creates from the import's own type. The
/// instances of every thread share it.
pub fn host_provides_memory(ty: &crate::MemoryType) -> bool {
    ty.shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ft(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType {
            params: params.to_vec(),
            results: results.to_vec(),
        }
    }

    #[test]
    fn wasi_imports_match_by_name_and_exact_type() {
        let fd_close = ft(&[ValType::I32], &[ValType::I32]);
        assert_eq!(
            host_import_symbol("wasi_snapshot_preview1", "fd_close", &fd_close, false),
            Some("aot_wasi_p1_fd_close".into())
        );
        let wrong = ft(&[ValType::I64], &[ValType::I32]);
        assert_eq!(
            host_import_symbol("wasi_snapshot_preview1", "fd_close", &wrong, false),
            None
        );
        assert_eq!(host_import_symbol("env", "fd_close", &fd_close, true), None);
    }

    #[test]
    fn the_test_host_exists_only_when_asked_for() {
        let call = ft(&[ValType::FuncRef], &[]);
        assert_eq!(host_import_symbol("aot_test", "call", &call, false), None);
        assert_eq!(
            host_import_symbol("aot_test", "call", &call, true),
            Some("aot_test_call".into())
        );
        assert_eq!(
            host_import_symbol("aot_test", "call", &ft(&[], &[]), true),
            None
        );
    }
}
