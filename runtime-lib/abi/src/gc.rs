//! Garbage-collected objects (Wasm GC) as both sides see them: what a reference word
//! means, how structs and arrays are laid out, the per-type information the collector and
//! the casts read, and the allocation window generated code bumps through.
//!
//! References are whole 64-bit words (not heap offsets): table slots, globals and the
//! values Cranelift keeps in stack slots hold them unchanged, no base is added on each
//! access, and the heap need not be one contiguous reservation. The low two bits tell the
//! kinds apart, so the conversions between `anyref` and `externref` are no-ops and
//! `ref.eq` is a word compare:
//!
//! | word | meaning |
//! |---|---|
//! | `0` | null, in every hierarchy |
//! | `w & 1 == 1` | an i31: `((v as u32) << 1 \| 1) as u64` |
//! | `w & 3 == 2` | a host reference `n` (`externref` made by the host) as `n << 2 \| 2` |
//! | `w & 3 == 0`, `w != 0` | pointer to a GC object (8-aligned) |
//!
//! Every object starts with one header word: a `*const VMGcTypeInfo`. While a collection
//! runs, a copied object's header holds its new address with bit 0 set instead.
//!
//! ```text
//! struct: [0] header  [8..] fields in declaration order, each aligned to its size (at most
//!                           8); size rounded up to 8 (8 for no fields)
//! array:  [0] header  [8] length: u32  [12] unused  [16..] elements
//! exn:    [0] header  [8] *const VMTag  [16..] one 16-byte slot per payload value
//! ```
//! Declaration order is what subtyping needs: a subtype's fields extend its supertype's, so
//! every field a supertype declares is at the same offset in all its subtypes and
//! `struct.get $super` reads any of them. (Sorting fields by size would save padding but
//! move inherited fields.) A v128 field may sit at an 8-aligned offset: both targets'
//! vector loads accept that. [`struct_layout`] is the one function both sides use.

use core::mem::{offset_of, size_of};

use crate::{HeapType, RefTop, ValType, meta::FieldType};

/// The null reference.
pub const NULL_REF: u64 = 0;
/// Low bit set: an i31 value.
pub const I31_TAG: u64 = 1;
/// Low two bits `10`: a host reference.
pub const HOST_REF_TAG: u64 = 2;
/// Mask of the tag bits.
pub const REF_TAG_MASK: u64 = 3;

/// The word of host reference `n` (`ref.extern n` in a spec script; `n < 2^62`).
pub const fn host_ref(n: u64) -> u64 {
    (n << 2) | HOST_REF_TAG
}

/// The host reference number in `w`, if `w` is one.
pub const fn host_ref_number(w: u64) -> Option<u64> {
    if w & REF_TAG_MASK == HOST_REF_TAG {
        Some(w >> 2)
    } else {
        None
    }
}

/// `ref.i31 v`: the low 31 bits of `v`.
pub const fn i31_ref(v: u32) -> u64 {
    ((v << 1) | 1) as u64
}

/// Whether `w` points at a GC object (what a collector traces).
pub const fn is_object(w: u64) -> bool {
    w != 0 && w & REF_TAG_MASK == 0
}

/// [`VMGcTypeInfo::kind`] of a struct type.
pub const GC_KIND_STRUCT: u32 = 1;
/// [`VMGcTypeInfo::kind`] of an array type.
pub const GC_KIND_ARRAY: u32 = 2;
/// [`VMGcTypeInfo::kind`] of an exception (`crate::VMException`): laid out and traced as a
/// struct whose fields are the tag pointer (untraced) and the payload slots. One info per
/// tag function type ([`crate::VMTag::gc_info`]); it is in no cast's supertype display.
pub const GC_KIND_EXN: u32 = 3;

/// What the collector and the casts know of one canonical struct or array type (or of the
/// exceptions of one tag type, [`GC_KIND_EXN`]). The runtime builds one per canonical type
/// id when it interns the type's rec group and never frees it (its address is the type's
/// identity in casts); vmctx's `gc_types` array points at them.
#[repr(C)]
#[derive(Debug)]
pub struct VMGcTypeInfo {
    /// [`GC_KIND_STRUCT`], [`GC_KIND_ARRAY`] or [`GC_KIND_EXN`].
    pub kind: u32,
    /// The runtime's canonical type id.
    pub type_id: u32,
    /// Length of the declared supertype chain above it (0: no supertype). At most 63 by
    /// validation.
    pub depth: u32,
    /// A struct's (or exception's) whole size in bytes, header included; an array's
    /// element size.
    pub size: u32,
    /// A struct's (or exception's) number of traced reference fields.
    pub num_ref_offsets: u32,
    /// An array's elements are traced references (1) or not (0).
    pub elem_is_ref: u32,
    /// A struct's (or exception's) traced reference fields, as byte offsets from the
    /// object's start.
    pub ref_offsets: *const u32,
    /// The supertype chain from the root down: `display[depth]` is this type's own info,
    /// so `t <: s` iff `t.depth >= s.depth && t.display[s.depth] == s`.
    pub display: *const *const VMGcTypeInfo,
}

// SAFETY: the pointed-to arrays are immutable and live for the whole process.
unsafe impl Sync for VMGcTypeInfo {}
// SAFETY: as above.
unsafe impl Send for VMGcTypeInfo {}

pub const GCINFO_KIND: u32 = offset_of!(VMGcTypeInfo, kind) as u32;
pub const GCINFO_DEPTH: u32 = offset_of!(VMGcTypeInfo, depth) as u32;
pub const GCINFO_SIZE: u32 = offset_of!(VMGcTypeInfo, size) as u32;
pub const GCINFO_DISPLAY: u32 = offset_of!(VMGcTypeInfo, display) as u32;

/// Bytes of an object header.
pub const GC_HEADER_SIZE: u32 = 8;
/// Offset of an array's length (u32).
pub const GC_ARRAY_LEN: u32 = 8;
/// Offset of an array's first element.
pub const GC_ARRAY_DATA: u32 = 16;
/// Every object's size is a multiple of this, and so is every object's address.
pub const GC_ALIGN: u32 = 8;
/// Objects of this size or more are allocated by the runtime outside the copying space
/// (never inline): copying them would cost more than it compacts.
pub const GC_LARGE_OBJECT_BYTES: u64 = 32 * 1024;
/// The largest object wasmtime allocates: a request over it traps "allocation size too
/// large" instead of exhausting the heap.
pub const GC_MAX_OBJECT_BYTES: u64 = u32::MAX as u64;

/// Bytes of one field or element of storage type `f`: 1 or 2 for packed types, 8 for a
/// reference.
pub fn storage_size(f: &FieldType) -> u32 {
    match (f.packed, f.ty) {
        (8, _) => 1,
        (16, _) => 2,
        (_, Some(ValType::I32 | ValType::F32)) => 4,
        (_, Some(ValType::I64 | ValType::F64)) => 8,
        (_, Some(ValType::V128)) => 16,
        (_, Some(ValType::FuncRef | ValType::ExternRef | ValType::Ref(_))) => 8,
        (_, None) => unreachable!("FieldType invariant: unpacked fields have a type"),
    }
}

/// Whether a value of type `ty` is a word the collector traces: a reference in the `any`,
/// `extern` or `exn` hierarchy (function references point into instances and never move).
/// `is_func` tells whether a concrete type index names a function type.
pub fn is_traced(ty: &ValType, is_func: impl Fn(u32) -> bool) -> bool {
    match ty {
        ValType::ExternRef => true,
        ValType::Ref(r) => r.heap.top(is_func) != RefTop::Func,
        _ => false,
    }
}

/// Where a struct type's fields are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructLayout {
    /// Whole object size, header included, a multiple of [`GC_ALIGN`].
    pub size: u32,
    /// Byte offset of each field from the object's start, in declaration order.
    pub offsets: Vec<u32>,
    /// Offsets of the traced reference fields, ascending.
    pub ref_offsets: Vec<u32>,
}

/// The layout of a struct with `fields`; see the module doc.
pub fn struct_layout(fields: &[FieldType], is_func: impl Fn(u32) -> bool) -> StructLayout {
    let mut offsets = Vec::with_capacity(fields.len());
    let mut at = GC_HEADER_SIZE;
    for f in fields {
        let size = storage_size(f);
        at = at.next_multiple_of(size.min(GC_ALIGN));
        offsets.push(at);
        at += size;
    }
    let size = at.div_ceil(GC_ALIGN) * GC_ALIGN;
    let mut ref_offsets: Vec<u32> = fields
        .iter()
        .zip(&offsets)
        .filter(|(f, _)| f.packed == 0 && f.ty.is_some_and(|t| is_traced(&t, &is_func)))
        .map(|(_, &o)| o)
        .collect();
    ref_offsets.sort_unstable();
    StructLayout {
        size,
        offsets,
        ref_offsets,
    }
}

/// Bytes of an array object of `len` elements of `elem_size` bytes, rounded up to
/// [`GC_ALIGN`]; no overflow for any u32 length.
pub const fn array_size(elem_size: u32, len: u32) -> u64 {
    let raw = GC_ARRAY_DATA as u64 + elem_size as u64 * len as u64;
    raw.div_ceil(GC_ALIGN as u64) * GC_ALIGN as u64
}

/// Whether heap type `h` of the `any` hierarchy can describe an object's contents through
/// a [`VMGcTypeInfo`]; used by casts to pick the test they need.
pub fn is_abstract_any(h: HeapType) -> bool {
    matches!(
        h,
        HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::Struct
            | HeapType::Array
            | HeapType::None
    )
}

const _: () = assert!(size_of::<VMGcTypeInfo>() == 40);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RefType;

    fn field(ty: ValType) -> FieldType {
        FieldType {
            mutable: true,
            ty: Some(ty),
            packed: 0,
        }
    }

    fn packed(bits: u8) -> FieldType {
        FieldType {
            mutable: false,
            ty: None,
            packed: bits,
        }
    }

    #[test]
    fn words_are_told_apart_by_their_tags() {
        assert!(!is_object(NULL_REF));
        assert!(!is_object(i31_ref(5)));
        assert!(!is_object(host_ref(7)));
        assert!(is_object(0x1000));
        assert_eq!(host_ref_number(host_ref(7)), Some(7));
        assert_eq!(host_ref_number(i31_ref(7)), None);
        // ref.i31 keeps 31 bits: 0x8000_0000 and 0 are the same i31.
        assert_eq!(i31_ref(0x8000_0000), i31_ref(0));
    }

    #[test]
    fn struct_fields_keep_their_order_aligned_for_subtyping() {
        let any = ValType::Ref(RefType {
            nullable: true,
            heap: HeapType::Any,
        });
        let fields = [
            packed(8),
            field(ValType::I32),
            field(any),
            field(ValType::V128),
            packed(16),
            field(ValType::FuncRef),
            field(ValType::F64),
        ];
        let l = struct_layout(&fields, |_| false);
        // i8 at 8, i32 aligned to 12, anyref 16, v128 24 (8-aligned), i16 40, funcref 48,
        // f64 56; 64 bytes.
        assert_eq!(l.offsets, vec![8, 12, 16, 24, 40, 48, 56]);
        assert_eq!(l.size, 64);
        // funcref fields are not traced.
        assert_eq!(l.ref_offsets, vec![16]);
        // A subtype's extra fields leave the inherited ones where they were.
        let sub = struct_layout(
            &[fields.as_slice(), &[packed(8), field(ValType::I64)]].concat(),
            |_| false,
        );
        assert_eq!(sub.offsets[..fields.len()], l.offsets[..]);
        assert_eq!(sub.offsets[fields.len()..], [64, 72]);
    }

    #[test]
    fn empty_struct_is_one_word_and_arrays_round_up() {
        assert_eq!(struct_layout(&[], |_| false).size, 8);
        assert_eq!(array_size(1, 0), 16);
        assert_eq!(array_size(1, 3), 24);
        assert_eq!(array_size(16, u32::MAX), 16 + 16 * u32::MAX as u64);
    }
}
