//! Component-model value types as fused adapters see them, and the canonical ABI's layout
//! rules over them: size, alignment, flattening, and the core signature of a lifted or
//! lowered function. The compiler derives the types from a component's binary and the
//! runtime moves values by them, so both use these one definitions.
//!
//! Names of fields and cases do not matter to the ABI and are not kept; tuples are
//! records, `enum` is a variant without payloads, `option` and `result` are the variants
//! they stand for (the canonical ABI's "despecialisation").

use crate::ValType;
use crate::codec::{DecodeError, DecodeResult, Reader, Writer};

/// A value type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    Bool,
    S8,
    U8,
    S16,
    U16,
    S32,
    U32,
    S64,
    U64,
    F32,
    F64,
    Char,
    String,
    List(Box<CType>),
    /// Fields in order (also tuples).
    Record(Vec<CType>),
    /// Cases in order, each with an optional payload (also enum, option, result).
    Variant(Vec<Option<CType>>),
    /// Number of flags.
    Flags(u32),
    /// A handle to a resource, by the program-wide resource type id.
    Own(u32),
    Borrow(u32),
}

/// A function type.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CFuncType {
    pub params: Vec<CType>,
    pub result: Option<CType>,
}

/// The resource id of every host resource in a [`CType::Own`] or [`CType::Borrow`]: the
/// runtime moves a host handle between component instances' tables by the type the handle
/// has there, so no other identity is needed.
pub const HOST_RESOURCE: u32 = u32::MAX;

/// At most this many flat parameters are passed as core parameters; more go through
/// memory.
pub const MAX_FLAT_PARAMS: usize = 16;
/// At most this many flat results are returned as core results; more go through memory.
pub const MAX_FLAT_RESULTS: usize = 1;

impl CType {
    /// `option<t>`.
    pub fn option(t: CType) -> CType {
        CType::Variant(vec![None, Some(t)])
    }

    /// `result<ok, err>`.
    pub fn result(ok: Option<CType>, err: Option<CType>) -> CType {
        CType::Variant(vec![ok, err])
    }

    /// `enum` of `n` cases.
    pub fn enumeration(n: u32) -> CType {
        CType::Variant(vec![None; n as usize])
    }

    /// Bytes a value occupies in memory.
    pub fn size(&self) -> u32 {
        match self {
            CType::Bool | CType::S8 | CType::U8 => 1,
            CType::S16 | CType::U16 => 2,
            CType::S32
            | CType::U32
            | CType::F32
            | CType::Char
            | CType::Own(_)
            | CType::Borrow(_) => 4,
            CType::S64 | CType::U64 | CType::F64 => 8,
            CType::String | CType::List(_) => 8,
            CType::Record(fields) => {
                let mut s = 0;
                for f in fields {
                    s = align_to(s, f.align()) + f.size();
                }
                align_to(s, self.align())
            }
            CType::Variant(cases) => {
                let mut s = discriminant_size(cases.len());
                s = align_to(s, max_case_align(cases));
                let payload = cases.iter().flatten().map(CType::size).max().unwrap_or(0);
                align_to(s + payload, self.align())
            }
            CType::Flags(n) => match n {
                0 => 0,
                1..=8 => 1,
                9..=16 => 2,
                _ => 4 * n.div_ceil(32),
            },
        }
    }

    /// Alignment in memory.
    pub fn align(&self) -> u32 {
        match self {
            CType::Bool | CType::S8 | CType::U8 => 1,
            CType::S16 | CType::U16 => 2,
            CType::S32
            | CType::U32
            | CType::F32
            | CType::Char
            | CType::Own(_)
            | CType::Borrow(_) => 4,
            CType::S64 | CType::U64 | CType::F64 => 8,
            CType::String | CType::List(_) => 4,
            CType::Record(fields) => fields.iter().map(CType::align).max().unwrap_or(1),
            CType::Variant(cases) => discriminant_size(cases.len()).max(max_case_align(cases)),
            CType::Flags(n) => match n {
                0..=8 => 1,
                9..=16 => 2,
                _ => 4,
            },
        }
    }

    /// The offset of each field of a record (panics on anything else: callers match first).
    pub fn field_offsets(fields: &[CType]) -> Vec<u32> {
        let mut s = 0;
        fields
            .iter()
            .map(|f| {
                s = align_to(s, f.align());
                let at = s;
                s += f.size();
                at
            })
            .collect()
    }

    /// The offset of a variant's payload after its discriminant.
    pub fn payload_offset(cases: &[Option<CType>]) -> u32 {
        align_to(discriminant_size(cases.len()), max_case_align(cases))
    }

    /// Appends the flat core types of a value of this type.
    pub fn flatten_into(&self, out: &mut Vec<ValType>) {
        match self {
            CType::Bool
            | CType::S8
            | CType::U8
            | CType::S16
            | CType::U16
            | CType::S32
            | CType::U32
            | CType::Char
            | CType::Own(_)
            | CType::Borrow(_) => out.push(ValType::I32),
            CType::S64 | CType::U64 => out.push(ValType::I64),
            CType::F32 => out.push(ValType::F32),
            CType::F64 => out.push(ValType::F64),
            CType::String | CType::List(_) => {
                out.push(ValType::I32);
                out.push(ValType::I32);
            }
            CType::Record(fields) => fields.iter().for_each(|f| f.flatten_into(out)),
            CType::Variant(cases) => {
                let mut joined: Vec<ValType> = Vec::new();
                for case in cases.iter().flatten() {
                    let mut flat = Vec::new();
                    case.flatten_into(&mut flat);
                    for (i, t) in flat.into_iter().enumerate() {
                        match joined.get_mut(i) {
                            Some(slot) => *slot = join(*slot, t),
                            None => joined.push(t),
                        }
                    }
                }
                out.push(ValType::I32);
                out.extend(joined);
            }
            CType::Flags(n) => {
                for _ in 0..n.div_ceil(32) {
                    out.push(ValType::I32);
                }
            }
        }
    }

    pub fn flat(&self) -> Vec<ValType> {
        let mut v = Vec::new();
        self.flatten_into(&mut v);
        v
    }

    pub fn encode(&self, w: &mut Writer) {
        match self {
            CType::Bool => w.u8(0),
            CType::S8 => w.u8(1),
            CType::U8 => w.u8(2),
            CType::S16 => w.u8(3),
            CType::U16 => w.u8(4),
            CType::S32 => w.u8(5),
            CType::U32 => w.u8(6),
            CType::S64 => w.u8(7),
            CType::U64 => w.u8(8),
            CType::F32 => w.u8(9),
            CType::F64 => w.u8(10),
            CType::Char => w.u8(11),
            CType::String => w.u8(12),
            CType::List(t) => {
                w.u8(13);
                t.encode(w);
            }
            CType::Record(fields) => {
                w.u8(14);
                w.seq(fields, |w, f| f.encode(w));
            }
            CType::Variant(cases) => {
                w.u8(15);
                w.seq(cases, |w, c| match c {
                    None => w.u8(0),
                    Some(t) => {
                        w.u8(1);
                        t.encode(w);
                    }
                });
            }
            CType::Flags(n) => {
                w.u8(16);
                w.u32(*n);
            }
            CType::Own(r) => {
                w.u8(17);
                w.u32(*r);
            }
            CType::Borrow(r) => {
                w.u8(18);
                w.u32(*r);
            }
        }
    }

    pub fn decode(r: &mut Reader) -> DecodeResult<CType> {
        Self::decode_depth(r, 0)
    }

    fn decode_depth(r: &mut Reader, depth: u32) -> DecodeResult<CType> {
        // Types are finite trees; the bound only keeps a corrupt blob from recursing deeply.
        if depth > 1000 {
            return Err(DecodeError("component type nested too deeply"));
        }
        let d = depth + 1;
        Ok(match r.u8()? {
            0 => CType::Bool,
            1 => CType::S8,
            2 => CType::U8,
            3 => CType::S16,
            4 => CType::U16,
            5 => CType::S32,
            6 => CType::U32,
            7 => CType::S64,
            8 => CType::U64,
            9 => CType::F32,
            10 => CType::F64,
            11 => CType::Char,
            12 => CType::String,
            13 => CType::List(Box::new(Self::decode_depth(r, d)?)),
            14 => CType::Record(r.seq(|r| Self::decode_depth(r, d))?),
            15 => CType::Variant(r.seq(|r| match r.u8()? {
                0 => Ok(None),
                1 => Self::decode_depth(r, d).map(Some),
                _ => Err(DecodeError("bad variant case")),
            })?),
            16 => CType::Flags(r.u32()?),
            17 => CType::Own(r.u32()?),
            18 => CType::Borrow(r.u32()?),
            _ => return Err(DecodeError("bad component type")),
        })
    }
}

impl CFuncType {
    /// The flat parameters (before the 16-parameter rule).
    pub fn flat_params(&self) -> Vec<ValType> {
        let mut v = Vec::new();
        for p in &self.params {
            p.flatten_into(&mut v);
        }
        v
    }

    /// The flat results (before the 1-result rule).
    pub fn flat_results(&self) -> Vec<ValType> {
        self.result.as_ref().map(CType::flat).unwrap_or_default()
    }

    /// Whether the parameters go through memory (more than 16 flat values).
    pub fn params_in_memory(&self) -> bool {
        self.flat_params().len() > MAX_FLAT_PARAMS
    }

    /// Whether the results go through memory (more than one flat value).
    pub fn results_in_memory(&self) -> bool {
        self.flat_results().len() > MAX_FLAT_RESULTS
    }

    /// The parameters as one record (how they are laid out when passed in memory).
    pub fn params_record(&self) -> CType {
        CType::Record(self.params.clone())
    }

    /// The core type of the function as its caller imports it (`canon lower`): params in
    /// memory become one pointer; results in memory become a pointer parameter the caller
    /// provides.
    pub fn lowered_signature(&self) -> (Vec<ValType>, Vec<ValType>) {
        let mut params = if self.params_in_memory() {
            vec![ValType::I32]
        } else {
            self.flat_params()
        };
        let results = if self.results_in_memory() {
            params.push(ValType::I32);
            Vec::new()
        } else {
            self.flat_results()
        };
        (params, results)
    }

    /// The core type of the function the component exports (`canon lift`): params in
    /// memory become one pointer the callee's realloc provided; results in memory are
    /// returned as one pointer.
    pub fn lifted_signature(&self) -> (Vec<ValType>, Vec<ValType>) {
        let params = if self.params_in_memory() {
            vec![ValType::I32]
        } else {
            self.flat_params()
        };
        let results = if self.results_in_memory() {
            vec![ValType::I32]
        } else {
            self.flat_results()
        };
        (params, results)
    }

    pub fn encode(&self, w: &mut Writer) {
        w.seq(&self.params, |w, p| p.encode(w));
        match &self.result {
            None => w.u8(0),
            Some(t) => {
                w.u8(1);
                t.encode(w);
            }
        }
    }

    pub fn decode(r: &mut Reader) -> DecodeResult<CFuncType> {
        let params = r.seq(CType::decode)?;
        let result = match r.u8()? {
            0 => None,
            1 => Some(CType::decode(r)?),
            _ => return Err(DecodeError("bad function result")),
        };
        Ok(CFuncType { params, result })
    }
}

fn align_to(x: u32, align: u32) -> u32 {
    x.div_ceil(align) * align
}

/// Bytes of a variant's discriminant for `n` cases.
pub fn discriminant_size(n: usize) -> u32 {
    if n <= 1 << 8 {
        1
    } else if n <= 1 << 16 {
        2
    } else {
        4
    }
}

fn max_case_align(cases: &[Option<CType>]) -> u32 {
    cases.iter().flatten().map(CType::align).max().unwrap_or(1)
}

/// The canonical ABI's join of two flat types in one variant slot.
fn join(a: ValType, b: ValType) -> ValType {
    use ValType::*;
    match (a, b) {
        _ if a == b => a,
        (I32, F32) | (F32, I32) => I32,
        _ => I64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValType::*;

    #[test]
    fn layouts_follow_the_canonical_abi() {
        // result<u64, stream-error> with stream-error = variant { failed(own), closed }.
        let stream_error = CType::Variant(vec![Some(CType::Own(1)), None]);
        let r = CType::result(Some(CType::U64), Some(stream_error.clone()));
        assert_eq!((r.size(), r.align()), (16, 8));
        assert_eq!(r.flat(), vec![I32, I64, I32]);
        assert_eq!(
            CType::payload_offset(&[Some(CType::U64), Some(stream_error)]),
            8
        );
        // record { a: u8, b: u32, c: u16 } -> offsets 0, 4, 8, size 12.
        let fields = vec![CType::U8, CType::U32, CType::U16];
        assert_eq!(CType::field_offsets(&fields), vec![0, 4, 8]);
        assert_eq!(CType::Record(fields).size(), 12);
        // option<f32> and a variant joining f32 with i64.
        assert_eq!(CType::option(CType::F32).flat(), vec![I32, F32]);
        let v = CType::Variant(vec![Some(CType::F32), Some(CType::S64)]);
        assert_eq!(v.flat(), vec![I32, I64]);
        assert_eq!(
            CType::Variant(vec![Some(CType::F32), Some(CType::U32)]).flat(),
            vec![I32, I32]
        );
        // Flags: 0, 8, 9, 33 flags.
        assert_eq!([0, 8, 9, 33].map(|n| CType::Flags(n).size()), [0, 1, 2, 8]);
        assert_eq!(CType::Flags(33).flat(), vec![I32, I32]);
        // A 257-case enum has a two-byte discriminant.
        assert_eq!(CType::enumeration(257).size(), 2);
        assert_eq!(CType::String.flat(), vec![I32, I32]);
    }

    #[test]
    fn signatures_apply_the_flat_limits() {
        let f = CFuncType {
            params: vec![CType::String, CType::String],
            result: Some(CType::result(Some(CType::String), Some(CType::String))),
        };
        assert_eq!(
            f.lowered_signature(),
            (vec![I32, I32, I32, I32, I32], vec![])
        );
        assert_eq!(f.lifted_signature(), (vec![I32, I32, I32, I32], vec![I32]));
        let many = CFuncType {
            params: vec![CType::U32; 17],
            result: Some(CType::U32),
        };
        assert_eq!(many.lowered_signature(), (vec![I32], vec![I32]));
        assert!(many.params_in_memory());
    }

    #[test]
    fn types_round_trip() {
        let f = CFuncType {
            params: vec![
                CType::List(Box::new(CType::Record(vec![CType::Char, CType::Borrow(3)]))),
                CType::Flags(40),
            ],
            result: Some(CType::Variant(vec![
                None,
                Some(CType::Own(2)),
                Some(CType::F64),
            ])),
        };
        let mut w = Writer::new();
        f.encode(&mut w);
        let mut r = Reader::new(&w.buf);
        assert_eq!(CFuncType::decode(&mut r), Ok(f));
    }
}
