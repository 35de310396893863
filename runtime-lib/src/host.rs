//! The `spectest` host module built in Rust, for the runtime's unit tests (the spec suite
//! itself runs against the compiled `aot_abi::host::SPECTEST_WAT`): print functions, four
//! immutable globals, a funcref table (10..20) and a memory (1..2 pages).
//!
//! Host functions are plain `extern "C"` functions with the Wasm signature after the vmctx
//! (which, for host imports, is the importing instance's own).

use std::collections::HashMap;

use aot_abi::{BoundsMode, FuncType, GlobalType, MemoryType, TableType, ValRaw, ValType};

use crate::instance::{Extern, FuncHandle, GlobalRef, MemoryRef, intern_type};
use crate::memory::Memory;
use crate::table::Table;

// The print functions are the test host's, which the spec suite's compiled spectest
// module imports.
use crate::test_host::{
    aot_test_print as print, aot_test_print_f32 as print_f32, aot_test_print_f64 as print_f64,
    aot_test_print_f64_f64 as print_f64_f64, aot_test_print_i32 as print_i32,
    aot_test_print_i32_f32 as print_i32_f32, aot_test_print_i64 as print_i64,
};

/// The exports of `spectest`. Its memory is created with bounds mode `mode`, which must be
/// GuardPages if any module that imports it was compiled for guard pages.
pub fn spectest(mode: BoundsMode) -> Result<HashMap<String, Extern>, String> {
    use ValType::{F32, F64, I32, I64};
    let mut exports = HashMap::new();
    let funcs: [(&str, *const u8, &[ValType]); 7] = [
        ("print", print as *const u8, &[]),
        ("print_i32", print_i32 as *const u8, &[I32]),
        ("print_i64", print_i64 as *const u8, &[I64]),
        ("print_f32", print_f32 as *const u8, &[F32]),
        ("print_f64", print_f64 as *const u8, &[F64]),
        ("print_i32_f32", print_i32_f32 as *const u8, &[I32, F32]),
        ("print_f64_f64", print_f64_f64 as *const u8, &[F64, F64]),
    ];
    for (name, code, params) in funcs {
        let ty = FuncType {
            params: params.to_vec(),
            results: Vec::new(),
        };
        let func = FuncHandle {
            code,
            vmctx: core::ptr::null_mut(),
            type_id: intern_type(&ty),
        };
        exports.insert(name.to_string(), Extern::Func(func));
    }

    let globals = [
        ("global_i32", I32, ValRaw::from_u32(666)),
        ("global_i64", I64, ValRaw::from_u64(666)),
        ("global_f32", F32, ValRaw::from_u32(666.6f32.to_bits())),
        ("global_f64", F64, ValRaw::from_u64(666.6f64.to_bits())),
    ];
    for (name, ty, value) in globals {
        let global = GlobalRef::host(GlobalType { ty, mutable: false }, value);
        exports.insert(name.to_string(), Extern::Global(global));
    }

    let table_type = TableType {
        elem: ValType::FuncRef,
        min: 10,
        max: Some(20),
        table64: false,
    };
    let table = Table::new(table_type, 0)?;
    exports.insert(
        "table".to_string(),
        Extern::Table(Box::leak(Box::new(table.into()))),
    );

    let memory_type = MemoryType {
        min: 1,
        max: Some(2),
        shared: false,
        memory64: false,
        page_size_log2: 16,
    };
    let memory = Memory::new(&memory_type, mode).map_err(|e| format!("spectest memory: {e}"))?;
    exports.insert(
        "memory".to_string(),
        Extern::Memory(MemoryRef::host(memory, mode)),
    );
    Ok(exports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Locked;

    #[test]
    fn exports_have_the_spec_types_and_values() {
        let exports = spectest(BoundsMode::Explicit).expect("spectest builds");
        let Some(Extern::Func(f)) = exports.get("print_i32_f32") else {
            panic!("print_i32_f32 is a function");
        };
        let expected = FuncType {
            params: vec![ValType::I32, ValType::F32],
            results: vec![],
        };
        assert_eq!(f.type_id, intern_type(&expected));
        assert!(
            f.vmctx.is_null(),
            "host functions bind the importer's vmctx"
        );
        let Some(Extern::Global(g)) = exports.get("global_f64") else {
            panic!("global_f64 is a global");
        };
        assert_eq!(f64::from_bits(g.get().u64()), 666.6);
        assert!(!g.ty().mutable);
        let Some(Extern::Global(g)) = exports.get("global_i32") else {
            panic!("global_i32 is a global");
        };
        assert_eq!(g.get().u32(), 666);
        let Some(Extern::Table(t)) = exports.get("table") else {
            panic!("table is a table");
        };
        assert_eq!(
            t.locked().current_type(),
            TableType {
                elem: ValType::FuncRef,
                min: 10,
                max: Some(20),
                table64: false,
            }
        );
        let Some(Extern::Memory(m)) = exports.get("memory") else {
            panic!("memory is a memory");
        };
        assert_eq!(m.current_type().min, 1);
        assert_eq!(m.current_type().max, Some(2));
        assert_eq!(m.len_bytes(), 65536);
        assert_eq!(m.grow(1), Some(1));
        assert_eq!(
            m.len_bytes(),
            2 * 65536,
            "the def generated code reads follows grow"
        );
        assert_eq!(m.grow(1), None);
    }
}
