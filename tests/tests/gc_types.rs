//! The compiler and the runtime agree on GC types: the layouts, subtype depths and traced
//! fields generated code will use (`aot::module::ModuleInfo`'s accessors, by module type
//! index) are those of the `VMGcTypeInfo`s the runtime builds for the same module's
//! canonical types, which the collector and the casts read.
//!
//! The runtime cannot be linked into a host test binary (it defines `main` and refers to
//! the executable's `aot_program`), so its type registry, which depends on `aot_abi` and
//! std only, is compiled in here from its source.

// Only part of the registry is used here.
#[allow(dead_code)]
#[path = "../../runtime-lib/src/types.rs"]
mod runtime_types;

use aot::module::ModuleInfo;
use aot_abi::gc::{GC_KIND_ARRAY, GC_KIND_STRUCT, VMGcTypeInfo};

const TYPES: &str = r#"(module
  (type $f (func (param i32)))
  (type $a (sub (struct (field i8) (field (ref null $f)) (field v128) (field anyref) (field (mut i16)))))
  (type $b (sub $a (struct (field i8) (field (ref null $f)) (field v128) (field anyref) (field (mut i16)) (field (ref $a)) (field f64))))
  (type $c (sub final $b (struct (field i8) (field (ref null $f)) (field v128) (field anyref) (field (mut i16)) (field (ref $a)) (field f64) (field externref))))
  (rec
    (type $node (struct (field i32) (field (ref null $node)) (field (ref null $g))))
    (type $g (func (result (ref $node)))))
  (type $refs (array (mut (ref null $a))))
  (type $bytes (array i8))
  (type $shorts (sub (array (mut i16))))
  (type $funcs (array funcref))
  (type $vecs (array v128))
  (type $empty (struct)))"#;

fn parse(wat: &str) -> ModuleInfo<'static> {
    let wasm: &'static [u8] = wat::parse_str(wat).expect("test module").leak();
    let opts = aot::Options::new(aot::Target::for_arch(aot::target::Arch::X86_64));
    aot::module::parse(wasm, "types.wat", &opts).expect("valid module")
}

fn runtime_info(id: u32) -> Option<&'static VMGcTypeInfo> {
    let p = runtime_types::gc_type_info(id);
    // SAFETY: non-null infos are leaked by the runtime and never change.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// # Safety
/// `ptr` must point at `len` values.
unsafe fn slice<T: Copy>(ptr: *const T, len: u32) -> Vec<T> {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(ptr, len as usize) }.to_vec()
}

#[test]
fn compiler_layouts_are_the_runtime_type_infos() {
    let info = parse(TYPES);
    let ids = runtime_types::canonical_ids(&info.meta);
    let n = info.meta.types.len() as u32;
    let mut structs = 0;
    let mut arrays = 0;
    for t in 0..n {
        let rt = runtime_info(ids[t as usize]);
        if info.is_func_type(t) {
            assert!(rt.is_none(), "type {t} is a function type");
            continue;
        }
        let rt = rt.unwrap_or_else(|| panic!("type {t} has no runtime info"));
        assert_eq!(rt.type_id, ids[t as usize]);
        assert_eq!(rt.depth, info.subtype_depth(t), "depth of type {t}");
        // SAFETY: the display has depth + 1 entries, the ref offsets num_ref_offsets.
        let (display, ref_offsets) = unsafe {
            (
                slice(rt.display, rt.depth + 1),
                slice(rt.ref_offsets, rt.num_ref_offsets),
            )
        };
        assert_eq!(display[rt.depth as usize], rt as *const VMGcTypeInfo);
        if let Some(s) = info.meta.type_defs[t as usize].supertype {
            let sup = runtime_info(ids[s as usize]).expect("supertype info");
            assert_eq!(display[info.subtype_depth(s) as usize], sup as *const _);
        }
        if let Some(layout) = info.struct_layout(t) {
            structs += 1;
            assert_eq!(rt.kind, GC_KIND_STRUCT);
            assert_eq!(rt.size, layout.size, "size of struct {t}");
            assert_eq!(
                ref_offsets, layout.ref_offsets,
                "traced fields of struct {t}"
            );
        } else {
            arrays += 1;
            assert_eq!(rt.kind, GC_KIND_ARRAY);
            assert_eq!(Some(rt.size), info.array_elem_size(t), "elements of {t}");
            assert_eq!(
                Some(rt.elem_is_ref == 1),
                info.array_elem_is_traced(t),
                "elements of {t}"
            );
        }
    }
    assert_eq!((structs, arrays), (5, 5));
    // The figures themselves, so that a change to both sides at once is seen too.
    let layout = |t| info.struct_layout(t).expect("struct");
    assert_eq!(
        layout(1).ref_offsets,
        vec![40],
        "funcref-typed fields are not traced"
    );
    assert_eq!(
        (layout(3).size, layout(3).ref_offsets.clone()),
        (80, vec![40, 56, 72])
    );
    assert_eq!(
        layout(4).ref_offsets,
        vec![16],
        "(ref null $g) is a function reference"
    );
    assert_eq!(layout(11).size, 8);
    assert_eq!(
        (6..11).map(|t| info.array_elem_size(t)).collect::<Vec<_>>(),
        [Some(8), Some(1), Some(2), Some(8), Some(16)].to_vec()
    );
    assert!(!info.is_final(8) && info.is_final(7) && info.is_final(3) && !info.is_final(2));
}
