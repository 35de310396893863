//! The engine against fake sides: a `Vec<u8>` memory with a bump allocator that grows
//! (and so moves) the memory, recording every realloc and handle transfer.

use super::*;
use aot_abi::TrapKind;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    /// old_ptr, old_size, align, new_size, returned.
    Realloc(u32, u32, u32, u32, u32),
    LiftOwn(u32, u32),
    LowerOwn(u32, u32),
    LiftBorrow(u32, u32),
    LowerBorrow(u32, u32),
}

const PAGE: usize = 65536;

struct Fake {
    mem: Vec<u8>,
    top: u32,
    enc: StringEncoding,
    ops: Vec<Op>,
    /// What realloc returns instead of allocating.
    forced: Option<u32>,
    realloc_traps: bool,
    next_handle: u32,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            mem: vec![0; PAGE],
            // Below this, tests place a caller's data by hand.
            top: 4096,
            enc: StringEncoding::Utf8,
            ops: Vec::new(),
            forced: None,
            realloc_traps: false,
            next_handle: 1,
        }
    }

    fn with(enc: StringEncoding) -> Fake {
        Fake { enc, ..Fake::new() }
    }

    fn put(&mut self, at: u32, bytes: &[u8]) {
        self.mem[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }

    fn put_u32s(&mut self, at: u32, words: &[u32]) {
        for (i, w) in words.iter().enumerate() {
            self.put(at + 4 * i as u32, &w.to_le_bytes());
        }
    }

    fn get(&self, at: u32, len: u32) -> &[u8] {
        &self.mem[at as usize..(at + len) as usize]
    }

    fn u32_at(&self, at: u32) -> u32 {
        u32::from_le_bytes(self.get(at, 4).try_into().unwrap())
    }

    fn reallocs(&self) -> Vec<(u32, u32, u32, u32)> {
        self.ops
            .iter()
            .filter_map(|op| match *op {
                Op::Realloc(p, o, a, n, _) => Some((p, o, a, n)),
                _ => None,
            })
            .collect()
    }

    fn handle_ops(&self) -> Vec<Op> {
        self.ops
            .iter()
            .filter(|op| !matches!(op, Op::Realloc(..)))
            .cloned()
            .collect()
    }
}

impl Side for Fake {
    fn memory(&mut self) -> &mut [u8] {
        &mut self.mem
    }

    fn realloc(&mut self, old_ptr: u32, old_size: u32, align: u32, new_size: u32) -> Result<u32> {
        if self.realloc_traps {
            return Err(Trap {
                kind: TrapKind::UnreachableCodeReached,
                pc: 0,
                backtrace: Vec::new(),
                detail: None,
            }
            .into());
        }
        let ptr = if let Some(p) = self.forced {
            p
        } else if old_ptr != 0 && new_size <= old_size {
            old_ptr
        } else {
            let p = self.top.div_ceil(align) * align;
            self.top = p + new_size;
            if self.top as usize > self.mem.len() {
                // Growing reallocates the vector: the memory moves, as a grown linear
                // memory may.
                let pages = (self.top as usize).div_ceil(PAGE);
                let mut grown = vec![0; pages * PAGE];
                grown[..self.mem.len()].copy_from_slice(&self.mem);
                self.mem = grown;
            }
            let keep = old_size.min(new_size) as usize;
            self.mem
                .copy_within(old_ptr as usize..old_ptr as usize + keep, p as usize);
            p
        };
        self.ops
            .push(Op::Realloc(old_ptr, old_size, align, new_size, ptr));
        Ok(ptr)
    }

    fn string_encoding(&self) -> StringEncoding {
        self.enc
    }

    fn lift_own(&mut self, handle: u32, resource: u32) -> Result<u32> {
        self.ops.push(Op::LiftOwn(handle, resource));
        if handle == 0 {
            return Err(HandleError::Unknown(0).into());
        }
        Ok(handle + 100)
    }

    fn lower_own(&mut self, token: u32, resource: u32) -> Result<u32> {
        self.ops.push(Op::LowerOwn(token, resource));
        self.next_handle += 1;
        Ok(self.next_handle - 1)
    }

    fn lift_borrow(&mut self, handle: u32, resource: u32) -> Result<u32> {
        self.ops.push(Op::LiftBorrow(handle, resource));
        Ok(handle + 200)
    }

    fn lower_borrow(&mut self, token: u32, resource: u32) -> Result<u32> {
        self.ops.push(Op::LowerBorrow(token, resource));
        self.next_handle += 1;
        Ok(self.next_handle - 1)
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

fn list(t: CType) -> CType {
    CType::List(Box::new(t))
}

fn some(v: Val) -> Val {
    Val::Variant {
        case: 1,
        payload: Some(Box::new(v)),
    }
}

fn case(case: u32, v: Val) -> Val {
    Val::Variant {
        case,
        payload: Some(Box::new(v)),
    }
}

fn bare(case: u32) -> Val {
    Val::Variant {
        case,
        payload: None,
    }
}

fn raw32(v: u32) -> ValRaw {
    ValRaw::from_u32(v)
}

fn abi(e: AdapterError) -> AbiError {
    match e {
        AdapterError::Abi(e) => e,
        other => panic!("expected a canonical ABI error, got {other:?}"),
    }
}

fn func(params: Vec<CType>, result: Option<CType>) -> CFuncType {
    CFuncType { params, result }
}

/// A value of every kind of type (handles aside: they change as they move).
fn samples() -> Vec<(CType, Val)> {
    let rec = CType::Record(vec![CType::U8, CType::U64, CType::String, CType::U16]);
    let join = CType::Variant(vec![None, Some(CType::F32), Some(CType::S64)]);
    vec![
        (CType::Bool, Val::Bool(true)),
        (CType::Bool, Val::Bool(false)),
        (CType::S8, Val::S8(-5)),
        (CType::U8, Val::U8(250)),
        (CType::S16, Val::S16(-300)),
        (CType::U16, Val::U16(65000)),
        (CType::S32, Val::S32(-70000)),
        (CType::U32, Val::U32(4_000_000_000)),
        (CType::S64, Val::S64(-(1 << 40))),
        (CType::U64, Val::U64(u64::MAX)),
        (CType::F32, Val::F32(1.5)),
        (CType::F64, Val::F64(-2.25)),
        (CType::Char, Val::Char('€')),
        (CType::Char, Val::Char('\u{10FFFF}')),
        (CType::String, Val::string("héllo wörld")),
        (CType::String, Val::string("")),
        (list(CType::U8), Val::Bytes(vec![1, 2, 3, 255])),
        (list(CType::S8), Val::Bytes(vec![0x80])),
        (list(CType::U32), Val::List(vec![Val::U32(7), Val::U32(8)])),
        (list(CType::String), Val::List(vec![])),
        (
            list(CType::String),
            Val::List(vec![Val::string("a"), Val::string("bc")]),
        ),
        (
            rec.clone(),
            Val::Record(vec![
                Val::U8(1),
                Val::U64(2),
                Val::string("three"),
                Val::U16(4),
            ]),
        ),
        (CType::option(CType::U16), some(Val::U16(9))),
        (CType::option(CType::U16), bare(0)),
        (
            CType::result(Some(CType::String), Some(CType::U8)),
            case(0, Val::string("ok")),
        ),
        (
            CType::result(Some(CType::String), Some(CType::U8)),
            case(1, Val::U8(3)),
        ),
        (CType::result(None, None), bare(1)),
        (CType::enumeration(300), bare(299)),
        (join.clone(), case(1, Val::F32(-0.5))),
        (join.clone(), case(2, Val::S64(-3))),
        (join, bare(0)),
        (
            CType::Variant(vec![Some(CType::F64), Some(CType::U32)]),
            case(1, Val::U32(0xdead_beef)),
        ),
        (CType::Flags(0), Val::Flags(vec![])),
        (CType::Flags(5), Val::Flags(vec![0b10101])),
        (CType::Flags(16), Val::Flags(vec![0x8001])),
        (CType::Flags(40), Val::Flags(vec![0xffff_ffff, 0x80])),
        (
            CType::Record(vec![CType::Char, CType::option(rec.clone())]),
            Val::Record(vec![
                Val::Char('x'),
                some(Val::Record(vec![
                    Val::U8(0),
                    Val::U64(0),
                    Val::string("deep"),
                    Val::U16(0),
                ])),
            ]),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn every_type_round_trips_through_flat_values() {
    for (ty, val) in samples() {
        let mut side = Fake::new();
        let mut flat = Vec::new();
        lower_flat(&mut side, &ty, &val, &mut flat).unwrap();
        assert_eq!(flat.len(), ty.flat().len(), "{ty:?}");
        let mut input = Flat::new(&flat);
        let back = lift_flat(&mut side, &mut input, &ty).unwrap();
        input.finish().unwrap();
        assert_eq!(back, val, "{ty:?}");
    }
}

#[test]
fn every_type_round_trips_through_memory() {
    for (ty, val) in samples() {
        let mut side = Fake::new();
        let ptr = alloc(
            &mut side,
            ty.align(),
            ty.size(),
            AbiError::MemoryOutOfBounds,
        )
        .unwrap();
        store(&mut side, ptr, &ty, &val).unwrap();
        assert_eq!(load(&mut side, ptr, &ty).unwrap(), val, "{ty:?}");
    }
}

#[test]
fn every_type_moves_from_caller_to_callee_and_back() {
    for (ty, val) in samples() {
        // As a parameter and as the result; with the result in memory when it flattens
        // to more than one value.
        let f = func(vec![ty.clone()], Some(ty.clone()));
        let mut caller = Fake::new();
        let mut callee = Fake::new();
        callee.top = 9000;
        let mut args = lower_params(&f, &mut caller, std::slice::from_ref(&val)).unwrap();
        let retptr = f.results_in_memory().then(|| {
            alloc(
                &mut caller,
                ty.align(),
                ty.size(),
                AbiError::MemoryOutOfBounds,
            )
            .unwrap()
        });
        args.extend(retptr.map(raw32));

        let lifted = lift_params(&f, &mut caller, &args).unwrap();
        assert_eq!(lifted.params, vec![val.clone()]);
        assert_eq!(lifted.retptr, retptr);
        let callee_args = lower_params(&f, &mut callee, &lifted.params).unwrap();
        assert_eq!(callee_args.len(), f.lifted_signature().0.len());
        let seen = lift_params(&func(f.params.clone(), None), &mut callee, &callee_args).unwrap();
        assert_eq!(seen.params, vec![val.clone()], "{ty:?}");

        // The callee returns the value: flat, or a pointer to it in its memory.
        let results = if f.results_in_memory() {
            let p = alloc(
                &mut callee,
                ty.align(),
                ty.size(),
                AbiError::MemoryOutOfBounds,
            )
            .unwrap();
            store(&mut callee, p, &ty, &val).unwrap();
            vec![raw32(p)]
        } else {
            let mut out = Vec::new();
            lower_flat(&mut callee, &ty, &val, &mut out).unwrap();
            out
        };
        let result = lift_results(&f, &mut callee, &results).unwrap();
        assert_eq!(result.as_ref(), Some(&val));
        let core = lower_results(&f, &mut caller, result.as_ref(), lifted.retptr).unwrap();
        let got = match retptr {
            Some(p) => {
                assert!(core.is_empty());
                load(&mut caller, p, &ty).unwrap()
            }
            None => {
                let mut input = Flat::new(&core);
                lift_flat(&mut caller, &mut input, &ty).unwrap()
            }
        };
        assert_eq!(got, val, "{ty:?}");
    }
}

#[test]
fn nan_payloads_pass_bit_for_bit() {
    let f32_bits = 0x7fa0_0001;
    let f64_bits = 0xfff0_0000_0000_0042;
    let mut side = Fake::new();
    let mut flat = Vec::new();
    lower_flat(
        &mut side,
        &CType::F32,
        &Val::F32(f32::from_bits(f32_bits)),
        &mut flat,
    )
    .unwrap();
    lower_flat(
        &mut side,
        &CType::F64,
        &Val::F64(f64::from_bits(f64_bits)),
        &mut flat,
    )
    .unwrap();
    assert_eq!((flat[0].u32(), flat[1].u64()), (f32_bits, f64_bits));
    side.put(0, &f32_bits.to_le_bytes());
    match load(&mut side, 0, &CType::F32).unwrap() {
        Val::F32(v) => assert_eq!(v.to_bits(), f32_bits),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nested_lists_of_records_of_strings() {
    let item = CType::Record(vec![CType::String, list(CType::String), CType::U8]);
    let ty = list(item.clone());
    let val = Val::List(
        (0..20u8)
            .map(|i| {
                Val::Record(vec![
                    Val::string(&format!("name {i}")),
                    Val::List((0..i).map(|j| Val::string(&"é".repeat(j.into()))).collect()),
                    Val::U8(i),
                ])
            })
            .collect(),
    );
    let f = func(vec![ty.clone(), ty.clone()], None);
    let mut caller = Fake::new();
    let args = lower_params(&f, &mut caller, &[val.clone(), val.clone()]).unwrap();
    let lifted = lift_params(&f, &mut caller, &args).unwrap();
    let mut callee = Fake::new();
    callee.top = 60000;
    let callee_args = lower_params(&f, &mut callee, &lifted.params).unwrap();
    // The outer array first (20 elements of 20 bytes, align 4), then each element's
    // strings and lists in order.
    assert_eq!(item.size(), 20);
    assert_eq!(callee.reallocs()[0], (0, 0, 4, 400));
    assert_eq!(callee.reallocs()[1], (0, 0, 1, 6));
    let (ptr, len) = (callee_args[0].u32(), callee_args[1].u32());
    assert_eq!(len, 20);
    let name = callee.u32_at(ptr + 20 * 3);
    assert_eq!(callee.get(name, 6), b"name 3");
    // The callee's memory grew (and moved) on the way; everything is still there.
    assert!(callee.mem.len() > PAGE);
    let seen = lift_params(&f, &mut callee, &callee_args).unwrap();
    assert_eq!(seen.params, vec![val.clone(), val]);
}

#[test]
fn variants_join_their_payload_slots() {
    let mut side = Fake::new();
    // variant { f32, s64 }: [i32, i64]; the f32 travels as its bits zero-extended.
    let v = CType::Variant(vec![Some(CType::F32), Some(CType::S64)]);
    let mut flat = Vec::new();
    lower_flat(&mut side, &v, &case(0, Val::F32(1.5)), &mut flat).unwrap();
    assert_eq!(
        flat,
        vec![raw32(0), ValRaw::from_u64(1.5f32.to_bits().into())]
    );
    // Lifting wraps the i64 slot to 32 bits before reinterpreting.
    let garbage = ValRaw::from_u64(0xffff_ffff_0000_0000 | u64::from(2.5f32.to_bits()));
    let back = lift_flat(&mut side, &mut Flat::new(&[raw32(0), garbage]), &v).unwrap();
    assert_eq!(back, case(0, Val::F32(2.5)));
    let back = lift_flat(&mut side, &mut Flat::new(&[raw32(1), garbage]), &v).unwrap();
    assert_eq!(back, case(1, Val::S64(garbage.u64() as i64)));

    // variant { f32, u32 }: one i32 slot.
    let v = CType::Variant(vec![Some(CType::F32), Some(CType::U32)]);
    let mut flat = Vec::new();
    lower_flat(&mut side, &v, &case(0, Val::F32(-1.0)), &mut flat).unwrap();
    assert_eq!(flat, vec![raw32(0), raw32((-1.0f32).to_bits())]);

    // variant { f64, u32, (u8, f32) }: [i32, i64, f32]; shorter payloads are padded with
    // zeros and the padding is ignored on lifting.
    let v = CType::Variant(vec![
        Some(CType::F64),
        Some(CType::U32),
        Some(CType::Record(vec![CType::U8, CType::F32])),
    ]);
    assert_eq!(v.flat().len(), 3);
    let mut flat = Vec::new();
    lower_flat(&mut side, &v, &case(1, Val::U32(7)), &mut flat).unwrap();
    assert_eq!(flat, vec![raw32(1), raw32(7), raw32(0)]);
    let mut flat = Vec::new();
    lower_flat(&mut side, &v, &case(0, Val::F64(0.25)), &mut flat).unwrap();
    assert_eq!(flat[1].u64(), 0.25f64.to_bits());
    let back = lift_flat(
        &mut side,
        &mut Flat::new(&[raw32(1), ValRaw::from_u64(0x5_0000_0009), raw32(123)]),
        &v,
    )
    .unwrap();
    assert_eq!(back, case(1, Val::U32(9)));
}

#[test]
fn integers_are_truncated_and_sign_extended_in_flat_form() {
    let mut side = Fake::new();
    let lift = |side: &mut Fake, ty: CType, v: u32| {
        lift_flat(side, &mut Flat::new(&[raw32(v)]), &ty).unwrap()
    };
    assert_eq!(lift(&mut side, CType::U8, 0x1ff), Val::U8(0xff));
    assert_eq!(lift(&mut side, CType::S8, 0x80), Val::S8(-128));
    assert_eq!(lift(&mut side, CType::U16, 0x1_0002), Val::U16(2));
    assert_eq!(lift(&mut side, CType::S16, 0xffff), Val::S16(-1));
    let mut flat = Vec::new();
    lower_flat(&mut side, &CType::S16, &Val::S16(-1), &mut flat).unwrap();
    lower_flat(&mut side, &CType::S8, &Val::S8(-2), &mut flat).unwrap();
    assert_eq!(flat, vec![raw32(0xffff_ffff), raw32(0xffff_fffe)]);
}

#[test]
fn bools_are_any_non_zero() {
    // The canonical ABI and wasmtime's adapters take any non-zero bool as true (there is
    // no `invalid bool` trap in adapters), and store it back as 1.
    let mut side = Fake::new();
    assert_eq!(
        lift_flat(&mut side, &mut Flat::new(&[raw32(2)]), &CType::Bool).unwrap(),
        Val::Bool(true)
    );
    side.put(0, &[0x80]);
    assert_eq!(load(&mut side, 0, &CType::Bool).unwrap(), Val::Bool(true));
    store(&mut side, 0, &CType::Bool, &Val::Bool(true)).unwrap();
    assert_eq!(side.get(0, 1), [1]);
}

#[test]
fn flags_ignore_and_clear_unused_bits() {
    let mut side = Fake::new();
    let five = CType::Flags(5);
    assert_eq!(
        lift_flat(&mut side, &mut Flat::new(&[raw32(u32::MAX)]), &five).unwrap(),
        Val::Flags(vec![0x1f])
    );
    side.put(0, &[0xff]);
    assert_eq!(load(&mut side, 0, &five).unwrap(), Val::Flags(vec![0x1f]));
    let forty = CType::Flags(40);
    side.put_u32s(8, &[u32::MAX, u32::MAX]);
    assert_eq!(
        load(&mut side, 8, &forty).unwrap(),
        Val::Flags(vec![u32::MAX, 0xff])
    );
    store(&mut side, 16, &forty, &Val::Flags(vec![1, u32::MAX])).unwrap();
    assert_eq!((side.u32_at(16), side.u32_at(20)), (1, 0xff));
    let mut flat = Vec::new();
    lower_flat(&mut side, &five, &Val::Flags(vec![0xff]), &mut flat).unwrap();
    assert_eq!(flat, vec![raw32(0x1f)]);
    // A value with the wrong number of words is the glue's mistake.
    assert!(matches!(
        abi(store(&mut side, 0, &forty, &Val::Flags(vec![1])).unwrap_err()),
        AbiError::Mismatch(_)
    ));
}

// ---------------------------------------------------------------------------------------
// Whole calls

#[test]
fn seventeen_u32_params_go_through_memory() {
    let f = func(vec![CType::U32; 17], Some(CType::U32));
    assert_eq!(f.lowered_signature().0.len(), 1);
    let mut caller = Fake::new();
    let words: Vec<u32> = (0..17).map(|i| 1000 + i).collect();
    caller.put_u32s(64, &words);
    let lifted = lift_params(&f, &mut caller, &[raw32(64)]).unwrap();
    assert_eq!(lifted.retptr, None);
    assert_eq!(
        lifted.params,
        words.iter().map(|&w| Val::U32(w)).collect::<Vec<_>>()
    );
    let mut callee = Fake::new();
    let args = lower_params(&f, &mut callee, &lifted.params).unwrap();
    assert_eq!(callee.reallocs(), vec![(0, 0, 4, 68)]);
    assert_eq!(args.len(), 1);
    let ptr = args[0].u32();
    assert_eq!(
        (0..17)
            .map(|i| callee.u32_at(ptr + 4 * i))
            .collect::<Vec<_>>(),
        words
    );
    // One result, flat.
    let result = lift_results(&f, &mut callee, &[raw32(5)]).unwrap();
    assert_eq!(
        lower_results(&f, &mut caller, result.as_ref(), lifted.retptr).unwrap(),
        vec![raw32(5)]
    );
}

#[test]
fn params_in_memory_with_strings_allocate_the_area_first() {
    let mut params = vec![CType::String; 8];
    params.push(CType::U8);
    let f = func(params, None);
    assert!(f.params_in_memory());
    let vals: Vec<Val> = (0..8)
        .map(|i| Val::string(&format!("s{i}")))
        .chain([Val::U8(9)])
        .collect();
    let mut caller = Fake::new();
    let args = lower_params(&f, &mut caller, &vals).unwrap();
    let lifted = lift_params(&f, &mut caller, &args).unwrap();
    let mut callee = Fake::new();
    let args = lower_params(&f, &mut callee, &lifted.params).unwrap();
    assert_eq!(callee.reallocs()[0], (0, 0, 4, 68));
    assert_eq!(callee.reallocs()[1], (0, 0, 1, 2));
    assert_eq!(lift_params(&f, &mut callee, &args).unwrap().params, vals);
}

#[test]
fn results_through_memory() {
    let ty = CType::result(Some(CType::String), Some(CType::U32));
    let f = func(vec![CType::U32], Some(ty.clone()));
    assert!(f.results_in_memory());
    assert_eq!(f.lowered_signature().0.len(), 2);
    let mut caller = Fake::new();
    let lifted = lift_params(&f, &mut caller, &[raw32(7), raw32(256)]).unwrap();
    assert_eq!(lifted.params, vec![Val::U32(7)]);
    assert_eq!(lifted.retptr, Some(256));

    // The callee returns a pointer to { discriminant, (ptr, len) } in its memory.
    let mut callee = Fake::new();
    callee.put(100, b"hello");
    callee.put(512, &[0, 0, 0, 0]);
    callee.put_u32s(516, &[100, 5]);
    let result = lift_results(&f, &mut callee, &[raw32(512)]).unwrap();
    assert_eq!(result, Some(case(0, Val::string("hello"))));
    let core = lower_results(&f, &mut caller, result.as_ref(), lifted.retptr).unwrap();
    assert!(core.is_empty());
    assert_eq!(caller.reallocs(), vec![(0, 0, 1, 5)]);
    assert_eq!(caller.get(256, 1), [0]);
    let (p, l) = (caller.u32_at(260), caller.u32_at(264));
    assert_eq!(caller.get(p, l), b"hello");
}

#[test]
fn functions_without_params_or_result() {
    let f = func(vec![], None);
    let mut side = Fake::new();
    let lifted = lift_params(&f, &mut side, &[]).unwrap();
    assert!(lifted.params.is_empty() && lifted.retptr.is_none());
    assert!(lower_params(&f, &mut side, &[]).unwrap().is_empty());
    assert_eq!(lift_results(&f, &mut side, &[]).unwrap(), None);
    assert!(lower_results(&f, &mut side, None, None).unwrap().is_empty());
}

#[test]
fn resources_are_transferred_through_the_sides() {
    let f = func(
        vec![CType::Own(1), CType::Borrow(2), list(CType::Own(1))],
        Some(CType::Own(3)),
    );
    let mut caller = Fake::new();
    caller.put_u32s(64, &[11, 12]);
    let args = [raw32(5), raw32(6), raw32(64), raw32(2)];
    let lifted = lift_params(&f, &mut caller, &args).unwrap();
    assert_eq!(
        caller.handle_ops(),
        vec![
            Op::LiftOwn(5, 1),
            Op::LiftBorrow(6, 2),
            Op::LiftOwn(11, 1),
            Op::LiftOwn(12, 1)
        ]
    );
    assert_eq!(
        lifted.params,
        vec![
            Val::Own(105),
            Val::Borrow(206),
            Val::List(vec![Val::Own(111), Val::Own(112)])
        ]
    );
    let mut callee = Fake::new();
    let args = lower_params(&f, &mut callee, &lifted.params).unwrap();
    assert_eq!(
        callee.handle_ops(),
        vec![
            Op::LowerOwn(105, 1),
            Op::LowerBorrow(206, 2),
            Op::LowerOwn(111, 1),
            Op::LowerOwn(112, 1)
        ]
    );
    assert_eq!(&args[..2], &[raw32(1), raw32(2)]);
    let (p, n) = (args[2].u32(), args[3].u32());
    assert_eq!((n, callee.u32_at(p), callee.u32_at(p + 4)), (2, 3, 4));

    // The result, an own handle back.
    callee.ops.clear();
    let result = lift_results(&f, &mut callee, &[raw32(9)]).unwrap();
    assert_eq!(callee.handle_ops(), vec![Op::LiftOwn(9, 3)]);
    caller.ops.clear();
    let core = lower_results(&f, &mut caller, result.as_ref(), None).unwrap();
    assert_eq!(caller.handle_ops(), vec![Op::LowerOwn(109, 3)]);
    assert_eq!(core, vec![raw32(1)]);

    // A handle error of a side is passed through.
    let err = lift_params(&f, &mut caller, &[raw32(0), raw32(6), raw32(64), raw32(0)]);
    assert_eq!(err, Err(AdapterError::Handle(HandleError::Unknown(0))));
    assert_eq!(err.unwrap_err().message(), "unknown handle index 0");
}

// ---------------------------------------------------------------------------------------
// String encodings

/// Lifts `text` stored by `from` and lowers it into a side of encoding `to`; returns the
/// destination, its (ptr, tagged length) and the value lifted back from it.
fn transcode(from: StringEncoding, text: &str, to: StringEncoding) -> (Fake, u32, u32, Val) {
    let mut src = Fake::with(from);
    let mut flat = Vec::new();
    lower_flat(&mut src, &CType::String, &Val::string(text), &mut flat).unwrap();
    let val = lift_flat(&mut src, &mut Flat::new(&flat), &CType::String).unwrap();
    let mut dst = Fake::with(to);
    let mut out = Vec::new();
    lower_flat(&mut dst, &CType::String, &val, &mut out).unwrap();
    let back = lift_flat(&mut dst, &mut Flat::new(&out), &CType::String).unwrap();
    match &back {
        Val::String(s) => assert_eq!(s.text, text),
        other => panic!("{other:?}"),
    }
    (dst, out[0].u32(), out[1].u32(), back)
}

fn origin(v: &Val) -> Origin {
    match v {
        Val::String(s) => s.origin,
        other => panic!("{other:?}"),
    }
}

#[test]
fn strings_are_stored_in_each_encoding() {
    use StringEncoding::*;
    let mut side = Fake::with(Utf16);
    let mut flat = Vec::new();
    lower_flat(&mut side, &CType::String, &Val::string("h€"), &mut flat).unwrap();
    let (p, n) = (flat[0].u32(), flat[1].u32());
    assert_eq!((p % 2, n), (0, 2));
    assert_eq!(side.get(p, 4), [b'h', 0, 0xac, 0x20]);

    let mut side = Fake::with(CompactUtf16);
    let mut flat = Vec::new();
    lower_flat(&mut side, &CType::String, &Val::string("hé"), &mut flat).unwrap();
    let (p, n) = (flat[0].u32(), flat[1].u32());
    assert_eq!(n, 2);
    assert_eq!(side.get(p, 2), [b'h', 0xe9]);
}

#[test]
fn utf8_to_utf16_allocates_the_worst_case_and_shrinks() {
    let (dst, ptr, n, _) = transcode(StringEncoding::Utf8, "héllo", StringEncoding::Utf16);
    assert_eq!(n, 5);
    assert_eq!(dst.reallocs(), vec![(0, 0, 2, 12), (ptr, 12, 2, 10)]);
    // All ASCII: the worst case is exact.
    let (dst, _, _, _) = transcode(StringEncoding::Utf8, "abc", StringEncoding::Utf16);
    assert_eq!(dst.reallocs(), vec![(0, 0, 2, 6)]);
}

#[test]
fn utf16_to_utf8_grows_at_the_first_non_ascii_character() {
    let (dst, ptr, n, _) = transcode(StringEncoding::Utf16, "a€b", StringEncoding::Utf8);
    assert_eq!(n, 5);
    let r = dst.reallocs();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0], (0, 0, 1, 3));
    assert_eq!((r[1].1, r[1].2, r[1].3), (3, 1, 9));
    assert_eq!(r[2], (ptr, 9, 1, 5));
    let (dst, _, _, _) = transcode(StringEncoding::Utf16, "plain", StringEncoding::Utf8);
    assert_eq!(dst.reallocs(), vec![(0, 0, 1, 5)]);
    // Latin-1 to UTF-8: twice the units is the worst case, exact here.
    let (dst, _, n, _) = transcode(StringEncoding::CompactUtf16, "é", StringEncoding::Utf8);
    assert_eq!(n, 2);
    let r = dst.reallocs();
    assert_eq!((r[0], r.len()), ((0, 0, 1, 1), 2));
    assert_eq!((r[1].1, r[1].2, r[1].3), (1, 1, 2));
}

#[test]
fn to_latin1_or_utf16_compresses_when_it_can() {
    use StringEncoding::*;
    // UTF-8 "héllo" (6 bytes) fits Latin-1: shrunk to 5 bytes, untagged.
    let (dst, ptr, n, back) = transcode(Utf8, "héllo", CompactUtf16);
    assert_eq!(n, 5);
    assert_eq!(dst.reallocs(), vec![(0, 0, 2, 6), (ptr, 6, 2, 5)]);
    assert_eq!(dst.get(ptr, 5), b"h\xe9llo");
    assert_eq!(origin(&back), Origin::Latin1);
    // UTF-8 "h€" (4 bytes): inflated to UTF-16 at the euro, shrunk, tagged.
    let (dst, ptr, n, back) = transcode(Utf8, "h€", CompactUtf16);
    assert_eq!(n, 2 | UTF16_TAG);
    let r = dst.reallocs();
    assert_eq!(r[0], (0, 0, 2, 4));
    assert_eq!((r[1].1, r[1].2, r[1].3), (4, 2, 8));
    assert_eq!(r[2], (ptr, 8, 2, 4));
    assert_eq!(dst.get(ptr, 4), [b'h', 0, 0xac, 0x20]);
    assert_eq!(origin(&back), Origin::CompactUtf16);
    // UTF-16 all-Latin-1 of the exact size: one allocation.
    let (dst, _, n, _) = transcode(Utf16, "abc", CompactUtf16);
    assert_eq!((n, dst.reallocs()), (3, vec![(0, 0, 2, 3)]));
}

#[test]
fn between_latin1_or_utf16_sides() {
    use StringEncoding::*;
    // Latin-1 is copied as is (aligned to 2).
    let (dst, _, n, back) = transcode(CompactUtf16, "café", CompactUtf16);
    assert_eq!((n, dst.reallocs()), (4, vec![(0, 0, 2, 4)]));
    assert_eq!(origin(&back), Origin::Latin1);
    // Tagged UTF-16 that is all Latin-1 is compressed after the copy.
    let mut src = Fake::with(CompactUtf16);
    src.put(64, &[b'a', 0, 0xe9, 0]);
    let val = lift_flat(
        &mut src,
        &mut Flat::new(&[raw32(64), raw32(2 | UTF16_TAG)]),
        &CType::String,
    )
    .unwrap();
    assert_eq!(origin(&val), Origin::CompactUtf16);
    let mut dst = Fake::with(CompactUtf16);
    let mut out = Vec::new();
    lower_flat(&mut dst, &CType::String, &val, &mut out).unwrap();
    let ptr = out[0].u32();
    assert_eq!(out[1].u32(), 2);
    assert_eq!(dst.reallocs(), vec![(0, 0, 2, 4), (ptr, 4, 1, 2)]);
    assert_eq!(dst.get(ptr, 2), [b'a', 0xe9]);
    // Tagged UTF-16 that is not stays UTF-16.
    let (dst, ptr, n, _) = transcode(CompactUtf16, "a€", CompactUtf16);
    assert_eq!(n, 2 | UTF16_TAG);
    assert_eq!(dst.reallocs(), vec![(0, 0, 2, 4)]);
    assert_eq!(dst.get(ptr, 4), [b'a', 0, 0xac, 0x20]);
    // Latin-1 and UTF-16 into UTF-16: copies of 2 bytes per unit.
    let (dst, _, n, _) = transcode(CompactUtf16, "é", Utf16);
    assert_eq!((n, dst.reallocs()), (1, vec![(0, 0, 2, 2)]));
    let (dst, _, n, _) = transcode(Utf16, "😀", Utf16);
    assert_eq!((n, dst.reallocs()), (2, vec![(0, 0, 2, 4)]));
}

// ---------------------------------------------------------------------------------------
// Errors

fn lift_string(side: &mut Fake, ptr: u32, len: u32) -> Result<Val> {
    lift_flat(
        side,
        &mut Flat::new(&[raw32(ptr), raw32(len)]),
        &CType::String,
    )
}

#[test]
fn strings_out_of_bounds_or_badly_encoded() {
    let mut side = Fake::new();
    let oob = AbiError::StringOutOfBounds;
    assert_eq!(abi(lift_string(&mut side, 65530, 10).unwrap_err()), oob);
    // ptr + len past 4 GiB does not wrap.
    assert_eq!(abi(lift_string(&mut side, u32::MAX, 2).unwrap_err()), oob);
    // Exactly up to the end is fine.
    assert!(lift_string(&mut side, 65530, 6).is_ok());
    side.put(0, b"ok\xff");
    let e = abi(lift_string(&mut side, 0, 3).unwrap_err());
    assert_eq!(e, AbiError::InvalidUtf8);
    assert_eq!(e.message(), "invalid utf8 encoding");
    assert!(!e.is_wasm_trap());
    assert_eq!(oob.message(), "string content out-of-bounds");
    assert!(oob.is_wasm_trap());

    let mut side = Fake::with(StringEncoding::Utf16);
    side.put(0, &[0x00, 0xd8, b'a', 0]);
    assert_eq!(
        abi(lift_string(&mut side, 0, 2).unwrap_err()),
        AbiError::InvalidUtf16
    );
    assert_eq!(
        abi(lift_string(&mut side, 1, 1).unwrap_err()),
        AbiError::UnalignedPointer
    );
    // Two bytes per unit are bounds-checked.
    assert_eq!(abi(lift_string(&mut side, 65534, 2).unwrap_err()), oob);
    // latin1+utf16 requires alignment 2 for Latin-1 too.
    let mut side = Fake::with(StringEncoding::CompactUtf16);
    assert_eq!(
        abi(lift_string(&mut side, 3, 1).unwrap_err()),
        AbiError::UnalignedPointer
    );
    assert_eq!(
        abi(lift_string(&mut side, 65534, 2 | UTF16_TAG).unwrap_err()),
        oob
    );
}

#[test]
fn bad_discriminants() {
    let mut side = Fake::new();
    let opt = CType::option(CType::U8);
    let e = lift_flat(&mut side, &mut Flat::new(&[raw32(2), raw32(0)]), &opt).unwrap_err();
    assert_eq!(abi(e), AbiError::InvalidDiscriminant);
    assert_eq!(
        AbiError::InvalidDiscriminant.message(),
        "invalid variant discriminant"
    );
    side.put(0, &[2]);
    assert_eq!(
        abi(load(&mut side, 0, &opt).unwrap_err()),
        AbiError::InvalidDiscriminant
    );
    // A 300-case enum reads a two-byte discriminant.
    let e300 = CType::enumeration(300);
    side.put(2, &300u16.to_le_bytes());
    assert_eq!(
        abi(load(&mut side, 2, &e300).unwrap_err()),
        AbiError::InvalidDiscriminant
    );
    side.put(2, &299u16.to_le_bytes());
    assert_eq!(load(&mut side, 2, &e300).unwrap(), bare(299));
    // Lowering a case the type lacks is the glue's mistake, not a guest's.
    let mut out = Vec::new();
    assert!(matches!(
        abi(lower_flat(&mut side, &opt, &bare(5), &mut out).unwrap_err()),
        AbiError::Mismatch(_)
    ));
}

#[test]
fn bad_chars() {
    let mut side = Fake::new();
    for bad in [0xd800, 0xdfff, 0x11_0000, u32::MAX] {
        let e = lift_flat(&mut side, &mut Flat::new(&[raw32(bad)]), &CType::Char).unwrap_err();
        assert_eq!(abi(e), AbiError::InvalidChar);
        side.put(0, &bad.to_le_bytes());
        assert_eq!(
            abi(load(&mut side, 0, &CType::Char).unwrap_err()),
            AbiError::InvalidChar
        );
    }
    assert_eq!(
        AbiError::InvalidChar.message(),
        "invalid `char` bit pattern"
    );
}

#[test]
fn lists_misaligned_out_of_bounds_or_too_long() {
    let mut side = Fake::new();
    let lift = |side: &mut Fake, ty: &CType, ptr: u32, len: u32| {
        lift_flat(side, &mut Flat::new(&[raw32(ptr), raw32(len)]), ty).map_err(abi)
    };
    let words = list(CType::U32);
    assert_eq!(
        lift(&mut side, &words, 2, 1),
        Err(AbiError::UnalignedPointer)
    );
    assert_eq!(
        lift(&mut side, &words, 65532, 2),
        Err(AbiError::ListOutOfBounds)
    );
    assert!(lift(&mut side, &words, 65532, 1).is_ok());
    // 2^29 u64s are 2^32 bytes: over 32 bits, whatever the pointer.
    let longs = list(CType::U64);
    assert_eq!(
        lift(&mut side, &longs, 3, 1 << 29),
        Err(AbiError::ListOutOfBounds)
    );
    assert_eq!(
        lift(&mut side, &list(CType::U8), 65535, 2),
        Err(AbiError::ListOutOfBounds)
    );
    assert_eq!(
        AbiError::ListOutOfBounds.message(),
        "list content out-of-bounds"
    );
    // No valid component has zero-size elements; an empty list of them is harmless.
    let empties = list(CType::Record(vec![]));
    assert!(matches!(
        lift(&mut side, &empties, 0, u32::MAX),
        Err(AbiError::Mismatch(_))
    ));
    assert_eq!(lift(&mut side, &empties, 0, 0), Ok(Val::List(vec![])));
    // Inside a list, each element's own pointers are checked too.
    side.put_u32s(0, &[65000, 1000]);
    assert_eq!(
        lift(&mut side, &list(CType::String), 0, 1),
        Err(AbiError::StringOutOfBounds)
    );
}

#[test]
fn realloc_results_are_checked() {
    let lower = |side: &mut Fake, ty: &CType, val: &Val| {
        let mut out = Vec::new();
        lower_flat(side, ty, val, &mut out).map_err(abi)
    };
    let mut side = Fake::new();
    side.forced = Some(2);
    let words = Val::List(vec![Val::U32(1)]);
    assert_eq!(
        lower(&mut side, &list(CType::U32), &words),
        Err(AbiError::UnalignedPointer)
    );
    side.forced = Some(65532);
    assert_eq!(
        lower(
            &mut side,
            &list(CType::U32),
            &Val::List(vec![Val::U32(1); 2])
        ),
        Err(AbiError::ListOutOfBounds)
    );
    assert_eq!(
        lower(&mut side, &CType::String, &Val::string("0123456789")),
        Err(AbiError::StringOutOfBounds)
    );
    let mut side = Fake::with(StringEncoding::Utf16);
    side.forced = Some(3);
    assert_eq!(
        lower(&mut side, &CType::String, &Val::string("x")),
        Err(AbiError::UnalignedPointer)
    );

    // The parameter area.
    let f = func(vec![CType::U64; 17], None);
    let vals = vec![Val::U64(1); 17];
    let mut side = Fake::new();
    side.forced = Some(4);
    assert_eq!(
        lower_params(&f, &mut side, &vals).map_err(abi),
        Err(AbiError::UnalignedPointer)
    );
    side.forced = Some(65536 - 64);
    assert_eq!(
        lower_params(&f, &mut side, &vals).map_err(abi),
        Err(AbiError::MemoryOutOfBounds)
    );
    assert_eq!(
        AbiError::MemoryOutOfBounds.message(),
        "out of bounds memory access"
    );

    // A trap in realloc is passed through as is.
    let mut side = Fake::new();
    side.realloc_traps = true;
    let e = lower_params(&f, &mut side, &vals).unwrap_err();
    assert!(matches!(&e, AdapterError::Trap(t) if t.kind == TrapKind::UnreachableCodeReached));
}

#[test]
fn parameter_and_result_areas_are_checked() {
    let f = func(vec![CType::U64; 17], Some(CType::String));
    let mut side = Fake::new();
    let lift = |side: &mut Fake, args: &[ValRaw]| lift_params(&f, side, args).map_err(abi);
    assert_eq!(
        lift(&mut side, &[raw32(4), raw32(0)]),
        Err(AbiError::UnalignedPointer)
    );
    assert_eq!(
        lift(&mut side, &[raw32(65536 - 128), raw32(0)]),
        Err(AbiError::MemoryOutOfBounds)
    );
    // The return pointer is checked when the result is stored.
    let lifted = lift_params(&f, &mut side, &[raw32(0), raw32(2)]).unwrap();
    assert_eq!(lifted.retptr, Some(2));
    let s = Val::string("r");
    assert_eq!(
        lower_results(&f, &mut side, Some(&s), Some(2)).map_err(abi),
        Err(AbiError::UnalignedPointer)
    );
    assert_eq!(
        lower_results(&f, &mut side, Some(&s), Some(65532)).map_err(abi),
        Err(AbiError::MemoryOutOfBounds)
    );
    // And the callee's result pointer.
    assert_eq!(
        lift_results(&f, &mut side, &[raw32(65532)]).map_err(abi),
        Err(AbiError::MemoryOutOfBounds)
    );
    assert_eq!(
        lift_results(&f, &mut side, &[raw32(6)]).map_err(abi),
        Err(AbiError::UnalignedPointer)
    );
}

#[test]
fn calls_that_do_not_fit_the_type_are_mismatches() {
    let f = func(vec![CType::U32, CType::String], Some(CType::U8));
    let mut side = Fake::new();
    let is_mismatch = |r: Result<_>| matches!(r.map_err(abi), Err(AbiError::Mismatch(_)));
    assert!(is_mismatch(
        lift_params(&f, &mut side, &[raw32(1)]).map(drop)
    ));
    assert!(is_mismatch(
        lower_params(&f, &mut side, &[Val::U32(1)]).map(drop)
    ));
    assert!(is_mismatch(
        lower_params(&f, &mut side, &[Val::U32(1), Val::U32(2)]).map(drop)
    ));
    assert!(is_mismatch(lift_results(&f, &mut side, &[]).map(drop)));
    assert!(is_mismatch(
        lower_results(&f, &mut side, None, None).map(drop)
    ));
    assert!(is_mismatch(
        lower_results(&f, &mut side, Some(&Val::Bytes(vec![1])), None).map(drop)
    ));
    // A Latin-1 string holding a character past U+00FF cannot have been lifted.
    let bad = Val::String(Str {
        text: "€".into(),
        origin: Origin::Latin1,
    });
    let mut side = Fake::with(StringEncoding::CompactUtf16);
    let mut out = Vec::new();
    assert!(is_mismatch(lower_flat(
        &mut side,
        &CType::String,
        &bad,
        &mut out
    )));
}
