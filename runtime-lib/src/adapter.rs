//! The canonical ABI value engine of fused adapters: moving a call's arguments from the
//! caller component instance to the callee and its result back, when a function lifted
//! in one instance is lowered into another. This module is the only place canonical-ABI
//! values are moved between components; the compiler's adapter trampolines hand it the
//! caller's flat core arguments as [`ValRaw`]s and the runtime glue calls, in order,
//! [`lift_params`], [`lower_params`], the callee, [`lift_results`], [`lower_results`],
//! and the callee's post-return.
//!
//! What it owns: the value tree ([`Val`]); lifting from and lowering to flat core values
//! and linear memory, with every check the canonical ABI makes on the way (pointer
//! alignment and bounds, discriminants, `char`s, string encodings, list lengths) and the
//! allocation sequences it prescribes for the receiving side's `realloc`; and the string
//! transcoding between the three `string-encoding` options. Layouts (size, alignment,
//! flattening, signatures) are `aot_abi::ctypes`'s, never re-derived here. What it does
//! not own: running guest code and keeping handle tables, both behind [`Side`], so the
//! engine holds no global state and runs against a fake side in unit tests.
//!
//! A value is lifted whole before it is lowered (the canonical ABI's own model), where
//! wasmtime's fused adapters interleave reads of the source with writes to the
//! destination. The values and memory contents that result are the same; what can differ
//! is only which check fails first when the caller's values are bad *and* the callee's
//! allocator misbehaves, and whether the callee's realloc already ran when a caller
//! value turns out invalid.
//!
//! Errors carry the words wasmtime's fused adapters use (its `Trap` codes and the
//! transcoding libcalls' messages, see [`AbiError::message`]), not those of its
//! host-side typed lifting, which checks the same rules in other words.
//!
//! Floats move bit for bit: the canonical ABI lets an implementation pass any NaN
//! through, and wasmtime's adapters copy the bits.

use core::fmt;

use aot_abi::ValRaw;
use aot_abi::ctypes::{CFuncType, CType, discriminant_size};

use crate::resources::HandleError;
use crate::trap::Trap;

/// A component-model value, as the engine holds it between lifting and lowering.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Bool(bool),
    S8(i8),
    U8(u8),
    S16(i16),
    U16(u16),
    S32(i32),
    U32(u32),
    S64(i64),
    U64(u64),
    F32(f32),
    F64(f64),
    Char(char),
    String(Str),
    /// A list, one value per element.
    List(Vec<Val>),
    /// A `list<u8>` or `list<s8>` as its bytes: lifting gives this form for them, so
    /// bulk data costs one byte per element rather than a `Val` each. Lowering accepts
    /// either form.
    Bytes(Vec<u8>),
    /// Fields in order (also tuples).
    Record(Vec<Val>),
    /// A case index and its payload (also enum, option, result).
    Variant {
        case: u32,
        payload: Option<Box<Val>>,
    },
    /// The flags as 32-bit words, flag `i` being bit `i % 32` of word `i / 32`; there are
    /// `ceil(n / 32)` words for `n` flags.
    Flags(Vec<u32>),
    /// A resource handle in transit: the token [`Side::lift_own`] returned, which the
    /// receiving side's [`Side::lower_own`] turns into a handle of its own.
    Own(u32),
    /// As [`Val::Own`], for a borrow.
    Borrow(u32),
}

impl Val {
    /// A string as if lifted from UTF-8.
    pub fn string(text: &str) -> Val {
        Val::String(Str {
            text: text.to_owned(),
            origin: Origin::Utf8,
        })
    }
}

/// A lifted string: its text, and how it was encoded where it was lifted from, because
/// the canonical ABI's allocation sequence in the destination depends on the source's
/// encoding and number of code units (both recoverable from these two).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Str {
    pub text: String,
    pub origin: Origin,
}

/// The encoding a string was lifted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Utf8,
    Utf16,
    /// `latin1+utf16`, untagged (Latin-1).
    Latin1,
    /// `latin1+utf16`, tagged (UTF-16).
    CompactUtf16,
}

/// A side's `string-encoding` canonical option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StringEncoding {
    #[default]
    Utf8,
    Utf16,
    /// `latin1+utf16`.
    CompactUtf16,
}

impl StringEncoding {
    /// From a glue plan's byte (0 UTF-8, 1 UTF-16, 2 `latin1+utf16`).
    pub fn from_u8(b: u8) -> Option<StringEncoding> {
        Some(match b {
            0 => StringEncoding::Utf8,
            1 => StringEncoding::Utf16,
            2 => StringEncoding::CompactUtf16,
            _ => return None,
        })
    }
}

/// One side of an adapted call: the caller (values are lifted from it and the result
/// lowered into it) or the callee (the other way round).
pub trait Side {
    /// The side's linear memory (current view; may move after `realloc`, so the engine
    /// takes it anew after every call of `realloc`). Empty without a memory option.
    fn memory(&mut self) -> &mut [u8];
    /// The side's `realloc(old_ptr, old_size, align, new_size) -> ptr`; `Err` is a trap
    /// to propagate. The engine checks the pointer returned.
    fn realloc(
        &mut self,
        old_ptr: u32,
        old_size: u32,
        align: u32,
        new_size: u32,
    ) -> Result<u32, AdapterError>;
    /// The side's `string-encoding` option.
    fn string_encoding(&self) -> StringEncoding {
        StringEncoding::Utf8
    }
    /// Takes the own handle `handle` of resource type `resource` out of the side's table
    /// (lifting), returning a token for [`Side::lower_own`] on the other side.
    fn lift_own(&mut self, handle: u32, resource: u32) -> Result<u32, AdapterError>;
    /// Makes a new own handle in the side's table for a lifted `token` (lowering).
    fn lower_own(&mut self, token: u32, resource: u32) -> Result<u32, AdapterError>;
    /// Lends the handle `handle` (own or borrow) for the call, returning a token.
    fn lift_borrow(&mut self, handle: u32, resource: u32) -> Result<u32, AdapterError>;
    /// Makes a borrow handle in the side's table for a lent `token` (or gives the
    /// representation itself when the side defines the resource, as the canonical ABI's
    /// `lower_borrow` does).
    fn lower_borrow(&mut self, token: u32, resource: u32) -> Result<u32, AdapterError>;
}

/// A canonical ABI rule broken by a side's values or allocator, or a call of the engine
/// that does not fit the adapter's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// A pointer (to a list, string, the parameter or result area, or returned by
    /// realloc) not aligned for what it points to.
    UnalignedPointer,
    /// The parameter or result area out of bounds of memory.
    MemoryOutOfBounds,
    /// A string's bytes out of bounds of memory, or the string too long.
    StringOutOfBounds,
    /// A list's bytes out of bounds of memory, or its byte length over 32 bits.
    ListOutOfBounds,
    InvalidDiscriminant,
    InvalidChar,
    InvalidUtf8,
    InvalidUtf16,
    /// The engine was given values that do not fit the adapter's type (a bug of the
    /// runtime glue or compiler, never of a guest): what did not fit.
    Mismatch(&'static str),
}

impl AbiError {
    /// What wasmtime's fused adapters say (after `wasm trap: ` when
    /// [`AbiError::is_wasm_trap`]).
    pub fn message(self) -> &'static str {
        match self {
            AbiError::UnalignedPointer => "unaligned pointer",
            AbiError::MemoryOutOfBounds => "out of bounds memory access",
            AbiError::StringOutOfBounds => "string content out-of-bounds",
            AbiError::ListOutOfBounds => "list content out-of-bounds",
            AbiError::InvalidDiscriminant => "invalid variant discriminant",
            AbiError::InvalidChar => "invalid `char` bit pattern",
            AbiError::InvalidUtf8 => "invalid utf8 encoding",
            AbiError::InvalidUtf16 => "invalid utf16 encoding",
            AbiError::Mismatch(what) => what,
        }
    }

    /// Whether wasmtime raises this as a trap of the adapter's Wasm code (a `wasm trap:`
    /// report), rather than as an error returned by its string transcoding host
    /// functions (the bad encodings).
    pub fn is_wasm_trap(self) -> bool {
        !matches!(
            self,
            AbiError::InvalidUtf8 | AbiError::InvalidUtf16 | AbiError::Mismatch(_)
        )
    }
}

/// Why moving a value failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterError {
    Abi(AbiError),
    /// A handle operation of a side failed.
    Handle(HandleError),
    /// A trap in guest code a side ran for the engine (its realloc), to re-raise as is.
    Trap(Box<Trap>),
}

impl AdapterError {
    pub fn message(&self) -> String {
        match self {
            AdapterError::Abi(e) => e.message().to_owned(),
            AdapterError::Handle(e) => e.message(),
            AdapterError::Trap(t) => t.message().to_owned(),
        }
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl From<AbiError> for AdapterError {
    fn from(e: AbiError) -> AdapterError {
        AdapterError::Abi(e)
    }
}

impl From<HandleError> for AdapterError {
    fn from(e: HandleError) -> AdapterError {
        AdapterError::Handle(e)
    }
}

impl From<Trap> for AdapterError {
    fn from(t: Trap) -> AdapterError {
        AdapterError::Trap(Box::new(t))
    }
}

type Result<T, E = AdapterError> = core::result::Result<T, E>;

/// The caller's arguments, lifted.
#[derive(Clone, Debug, PartialEq)]
pub struct CallerArgs {
    pub params: Vec<Val>,
    /// Where the caller wants the result stored, when results go through memory.
    pub retptr: Option<u32>,
}

/// Lifts the caller's core arguments `args` (its lowered signature,
/// [`CFuncType::lowered_signature`]) into values.
pub fn lift_params(ty: &CFuncType, caller: &mut dyn Side, args: &[ValRaw]) -> Result<CallerArgs> {
    let (sig, _) = ty.lowered_signature();
    if args.len() != sig.len() {
        return Err(mismatch("wrong number of core arguments for the adapter"));
    }
    let (args, retptr) = match (ty.results_in_memory(), args.split_last()) {
        (true, Some((last, rest))) => (rest, Some(last.u32())),
        _ => (args, None),
    };
    let params = if ty.params_in_memory() {
        let ptr = args
            .first()
            .ok_or_else(|| mismatch("no parameter pointer"))?
            .u32();
        let record = ty.params_record();
        check_range(
            caller,
            ptr,
            u64::from(record.size()),
            record.align(),
            AbiError::MemoryOutOfBounds,
        )?;
        load_fields(caller, ptr, &ty.params)?
    } else {
        let mut flat = Flat::new(args);
        let params = ty
            .params
            .iter()
            .map(|t| lift_flat(caller, &mut flat, t))
            .collect::<Result<Vec<_>>>()?;
        flat.finish()?;
        params
    };
    Ok(CallerArgs { params, retptr })
}

/// Lowers `vals` into the callee's core arguments (its lifted signature,
/// [`CFuncType::lifted_signature`]): flat, or one pointer to the parameters stored in
/// an area the callee's realloc provides.
pub fn lower_params(ty: &CFuncType, callee: &mut dyn Side, vals: &[Val]) -> Result<Vec<ValRaw>> {
    if vals.len() != ty.params.len() {
        return Err(mismatch("wrong number of parameter values"));
    }
    if ty.params_in_memory() {
        let record = ty.params_record();
        // The area comes first, as in the canonical ABI, so the callee's allocator sees
        // it before any string or list inside.
        let ptr = alloc(
            callee,
            record.align(),
            record.size(),
            AbiError::MemoryOutOfBounds,
        )?;
        store_fields(callee, ptr, &ty.params, vals)?;
        Ok(vec![ValRaw::from_u32(ptr)])
    } else {
        let mut out = Vec::new();
        for (t, v) in ty.params.iter().zip(vals) {
            lower_flat(callee, t, v, &mut out)?;
        }
        Ok(out)
    }
}

/// Lifts the callee's core results (its lifted signature): flat, or read through the
/// pointer it returned.
pub fn lift_results(
    ty: &CFuncType,
    callee: &mut dyn Side,
    results: &[ValRaw],
) -> Result<Option<Val>> {
    let (_, sig) = ty.lifted_signature();
    if results.len() != sig.len() {
        return Err(mismatch("wrong number of core results for the adapter"));
    }
    let Some(t) = &ty.result else {
        return Ok(None);
    };
    if ty.results_in_memory() {
        let ptr = results
            .first()
            .ok_or_else(|| mismatch("no result pointer"))?
            .u32();
        check_range(
            callee,
            ptr,
            u64::from(t.size()),
            t.align(),
            AbiError::MemoryOutOfBounds,
        )?;
        load(callee, ptr, t).map(Some)
    } else {
        let mut flat = Flat::new(results);
        let v = lift_flat(callee, &mut flat, t)?;
        flat.finish()?;
        Ok(Some(v))
    }
}

/// Lowers the result into the caller: flat core results, or stored at the caller's
/// `retptr` (from [`CallerArgs::retptr`]) and no core results.
pub fn lower_results(
    ty: &CFuncType,
    caller: &mut dyn Side,
    val: Option<&Val>,
    retptr: Option<u32>,
) -> Result<Vec<ValRaw>> {
    let (t, v) = match (&ty.result, val) {
        (None, None) => return Ok(Vec::new()),
        (Some(t), Some(v)) => (t, v),
        _ => return Err(mismatch("result value does not match the result type")),
    };
    if ty.results_in_memory() {
        let ptr = retptr.ok_or_else(|| mismatch("no return pointer"))?;
        check_range(
            caller,
            ptr,
            u64::from(t.size()),
            t.align(),
            AbiError::MemoryOutOfBounds,
        )?;
        store(caller, ptr, t, v)?;
        Ok(Vec::new())
    } else {
        let mut out = Vec::new();
        lower_flat(caller, t, v, &mut out)?;
        Ok(out)
    }
}

fn mismatch(what: &'static str) -> AdapterError {
    AdapterError::Abi(AbiError::Mismatch(what))
}

// ---------------------------------------------------------------------------------------
// Flat values

/// The flat core values being lifted, consumed in order.
struct Flat<'a> {
    vals: &'a [ValRaw],
}

impl<'a> Flat<'a> {
    fn new(vals: &'a [ValRaw]) -> Flat<'a> {
        Flat { vals }
    }

    fn next(&mut self) -> Result<ValRaw> {
        let (first, rest) = self
            .vals
            .split_first()
            .ok_or_else(|| mismatch("too few flat values"))?;
        self.vals = rest;
        Ok(*first)
    }

    fn take(&mut self, n: usize) -> Result<&'a [ValRaw]> {
        if n > self.vals.len() {
            return Err(mismatch("too few flat values"));
        }
        let (taken, rest) = self.vals.split_at(n);
        self.vals = rest;
        Ok(taken)
    }

    fn finish(&self) -> Result<()> {
        if self.vals.is_empty() {
            Ok(())
        } else {
            Err(mismatch("too many flat values"))
        }
    }
}

// A slot holds its value in its low bytes (`ValRaw`), so reading a narrower type from a
// wider joined variant slot (i32 or f32 from i64, f32 from i32) by its low bytes is
// exactly the canonical ABI's wrap-and-reinterpret coercion; writing zeroes the rest,
// which is its zero-extension. No slot types need tracking.

fn lift_flat(side: &mut dyn Side, flat: &mut Flat<'_>, ty: &CType) -> Result<Val> {
    Ok(match ty {
        CType::Bool => Val::Bool(flat.next()?.u32() != 0),
        CType::S8 => Val::S8(flat.next()?.u32() as u8 as i8),
        CType::U8 => Val::U8(flat.next()?.u32() as u8),
        CType::S16 => Val::S16(flat.next()?.u32() as u16 as i16),
        CType::U16 => Val::U16(flat.next()?.u32() as u16),
        CType::S32 => Val::S32(flat.next()?.u32() as i32),
        CType::U32 => Val::U32(flat.next()?.u32()),
        CType::S64 => Val::S64(flat.next()?.u64() as i64),
        CType::U64 => Val::U64(flat.next()?.u64()),
        CType::F32 => Val::F32(f32::from_bits(flat.next()?.u32())),
        CType::F64 => Val::F64(f64::from_bits(flat.next()?.u64())),
        CType::Char => Val::Char(to_char(flat.next()?.u32())?),
        CType::String => {
            let ptr = flat.next()?.u32();
            let len = flat.next()?.u32();
            Val::String(load_string_from_range(side, ptr, len)?)
        }
        CType::List(elem) => {
            let ptr = flat.next()?.u32();
            let len = flat.next()?.u32();
            load_list_from_range(side, ptr, len, elem)?
        }
        CType::Record(fields) => Val::Record(
            fields
                .iter()
                .map(|f| lift_flat(side, flat, f))
                .collect::<Result<_>>()?,
        ),
        CType::Variant(cases) => {
            let payload_slots = ty.flat().len().saturating_sub(1);
            let case = flat.next()?.u32();
            let slots = flat.take(payload_slots)?;
            let case_ty = case_type(cases, case)?;
            let payload = match case_ty {
                Some(t) => {
                    // The case may use fewer slots than the variant: the rest is padding.
                    let mut inner = Flat::new(slots);
                    Some(Box::new(lift_flat(side, &mut inner, t)?))
                }
                None => None,
            };
            Val::Variant { case, payload }
        }
        CType::Flags(n) => {
            let words = (0..n.div_ceil(32))
                .map(|i| Ok(flat.next()?.u32() & flag_mask(*n, i)))
                .collect::<Result<_>>()?;
            Val::Flags(words)
        }
        CType::Own(r) => Val::Own(side.lift_own(flat.next()?.u32(), *r)?),
        CType::Borrow(r) => Val::Borrow(side.lift_borrow(flat.next()?.u32(), *r)?),
    })
}

fn lower_flat(side: &mut dyn Side, ty: &CType, val: &Val, out: &mut Vec<ValRaw>) -> Result<()> {
    let u32v = |v: u32| ValRaw::from_u32(v);
    match (ty, val) {
        (CType::Bool, Val::Bool(b)) => out.push(u32v(u32::from(*b))),
        // Signed values go sign-extended to 32 bits, as the core i32 they are.
        (CType::S8, Val::S8(v)) => out.push(u32v(i32::from(*v) as u32)),
        (CType::U8, Val::U8(v)) => out.push(u32v(u32::from(*v))),
        (CType::S16, Val::S16(v)) => out.push(u32v(i32::from(*v) as u32)),
        (CType::U16, Val::U16(v)) => out.push(u32v(u32::from(*v))),
        (CType::S32, Val::S32(v)) => out.push(u32v(*v as u32)),
        (CType::U32, Val::U32(v)) => out.push(u32v(*v)),
        (CType::S64, Val::S64(v)) => out.push(ValRaw::from_u64(*v as u64)),
        (CType::U64, Val::U64(v)) => out.push(ValRaw::from_u64(*v)),
        (CType::F32, Val::F32(v)) => out.push(u32v(v.to_bits())),
        (CType::F64, Val::F64(v)) => out.push(ValRaw::from_u64(v.to_bits())),
        (CType::Char, Val::Char(c)) => out.push(u32v(u32::from(*c))),
        (CType::String, Val::String(s)) => {
            let (ptr, len) = store_string_into_range(side, s)?;
            out.extend([u32v(ptr), u32v(len)]);
        }
        (CType::List(elem), _) => {
            let (ptr, len) = store_list_into_range(side, elem, val)?;
            out.extend([u32v(ptr), u32v(len)]);
        }
        (CType::Record(fields), Val::Record(vals)) if fields.len() == vals.len() => {
            for (f, v) in fields.iter().zip(vals) {
                lower_flat(side, f, v, out)?;
            }
        }
        (CType::Variant(cases), Val::Variant { case, payload }) => {
            let end = out.len() + ty.flat().len();
            out.push(u32v(*case));
            match (value_case_type(cases, *case)?, payload) {
                (Some(t), Some(p)) => lower_flat(side, t, p, out)?,
                (None, None) => {}
                _ => return Err(mismatch("variant payload does not match its case")),
            }
            out.resize(end, ValRaw::default());
        }
        (CType::Flags(n), Val::Flags(words)) => {
            check_flag_words(*n, words)?;
            for (i, w) in (0..).zip(words) {
                out.push(u32v(w & flag_mask(*n, i)));
            }
        }
        (CType::Own(r), Val::Own(token)) => out.push(u32v(side.lower_own(*token, *r)?)),
        (CType::Borrow(r), Val::Borrow(token)) => out.push(u32v(side.lower_borrow(*token, *r)?)),
        _ => return Err(mismatch("value does not match its type")),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Memory

/// Checks that `[ptr, ptr + len)` is in the side's memory and `ptr` is aligned:
/// misalignment is reported before bounds, as wasmtime's adapters check them.
fn check_range(side: &mut dyn Side, ptr: u32, len: u64, align: u32, oob: AbiError) -> Result<()> {
    if !ptr.is_multiple_of(align) {
        return Err(AbiError::UnalignedPointer.into());
    }
    let size = u64::try_from(side.memory().len()).unwrap_or(u64::MAX);
    if u64::from(ptr) + len > size {
        return Err(oob.into());
    }
    Ok(())
}

/// `ptr + offset` within a range already checked; overflow would mean the check was
/// skipped, so it is reported as out of bounds rather than wrapped.
fn at(ptr: u32, offset: u32) -> Result<u32> {
    ptr.checked_add(offset)
        .ok_or(AdapterError::Abi(AbiError::MemoryOutOfBounds))
}

fn read<const N: usize>(side: &mut dyn Side, ptr: u32) -> Result<[u8; N]> {
    let mem = side.memory();
    let start = ptr as usize;
    start
        .checked_add(N)
        .and_then(|end| mem.get(start..end))
        .and_then(|b| b.try_into().ok())
        .ok_or(AdapterError::Abi(AbiError::MemoryOutOfBounds))
}

fn read_u32(side: &mut dyn Side, ptr: u32) -> Result<u32> {
    read::<4>(side, ptr).map(u32::from_le_bytes)
}

fn read_bytes(side: &mut dyn Side, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let mem = side.memory();
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| mem.get(start..end))
        .map(<[u8]>::to_vec)
        .ok_or(AdapterError::Abi(AbiError::MemoryOutOfBounds))
}

fn write(side: &mut dyn Side, ptr: u32, bytes: &[u8]) -> Result<()> {
    let mem = side.memory();
    let start = ptr as usize;
    start
        .checked_add(bytes.len())
        .and_then(|end| mem.get_mut(start..end))
        .map(|dst| dst.copy_from_slice(bytes))
        .ok_or(AdapterError::Abi(AbiError::MemoryOutOfBounds))
}

/// Reads the `size`-byte little-endian integer at `ptr` (a discriminant or flags word).
fn read_uint(side: &mut dyn Side, ptr: u32, size: u32) -> Result<u32> {
    Ok(match size {
        1 => u32::from(read::<1>(side, ptr)?[0]),
        2 => u32::from(u16::from_le_bytes(read::<2>(side, ptr)?)),
        _ => read_u32(side, ptr)?,
    })
}

fn write_uint(side: &mut dyn Side, ptr: u32, size: u32, v: u32) -> Result<()> {
    let bytes = v.to_le_bytes();
    write(side, ptr, &bytes[..size.min(4) as usize])
}

/// Loads a value of type `ty` at `ptr`, in a range the caller checked.
fn load(side: &mut dyn Side, ptr: u32, ty: &CType) -> Result<Val> {
    Ok(match ty {
        CType::Bool => Val::Bool(read::<1>(side, ptr)?[0] != 0),
        CType::S8 => Val::S8(i8::from_le_bytes(read(side, ptr)?)),
        CType::U8 => Val::U8(read::<1>(side, ptr)?[0]),
        CType::S16 => Val::S16(i16::from_le_bytes(read(side, ptr)?)),
        CType::U16 => Val::U16(u16::from_le_bytes(read(side, ptr)?)),
        CType::S32 => Val::S32(i32::from_le_bytes(read(side, ptr)?)),
        CType::U32 => Val::U32(read_u32(side, ptr)?),
        CType::S64 => Val::S64(i64::from_le_bytes(read(side, ptr)?)),
        CType::U64 => Val::U64(u64::from_le_bytes(read(side, ptr)?)),
        CType::F32 => Val::F32(f32::from_bits(read_u32(side, ptr)?)),
        CType::F64 => Val::F64(f64::from_bits(u64::from_le_bytes(read(side, ptr)?))),
        CType::Char => Val::Char(to_char(read_u32(side, ptr)?)?),
        CType::String => {
            let begin = read_u32(side, ptr)?;
            let len = read_u32(side, at(ptr, 4)?)?;
            Val::String(load_string_from_range(side, begin, len)?)
        }
        CType::List(elem) => {
            let begin = read_u32(side, ptr)?;
            let len = read_u32(side, at(ptr, 4)?)?;
            load_list_from_range(side, begin, len, elem)?
        }
        CType::Record(fields) => Val::Record(load_fields(side, ptr, fields)?),
        CType::Variant(cases) => {
            let case = read_uint(side, ptr, discriminant_size(cases.len()))?;
            let payload = match case_type(cases, case)? {
                Some(t) => Some(Box::new(load(
                    side,
                    at(ptr, CType::payload_offset(cases))?,
                    t,
                )?)),
                None => None,
            };
            Val::Variant { case, payload }
        }
        CType::Flags(n) => {
            let words = match ty.size() {
                0 => Vec::new(),
                size @ (1 | 2) => vec![read_uint(side, ptr, size)? & flag_mask(*n, 0)],
                _ => (0..n.div_ceil(32))
                    .map(|i| Ok(read_u32(side, at(ptr, 4 * i)?)? & flag_mask(*n, i)))
                    .collect::<Result<_>>()?,
            };
            Val::Flags(words)
        }
        CType::Own(r) => {
            let handle = read_u32(side, ptr)?;
            Val::Own(side.lift_own(handle, *r)?)
        }
        CType::Borrow(r) => {
            let handle = read_u32(side, ptr)?;
            Val::Borrow(side.lift_borrow(handle, *r)?)
        }
    })
}

fn load_fields(side: &mut dyn Side, ptr: u32, fields: &[CType]) -> Result<Vec<Val>> {
    fields
        .iter()
        .zip(CType::field_offsets(fields))
        .map(|(f, off)| load(side, at(ptr, off)?, f))
        .collect()
}

/// Stores `val` of type `ty` at `ptr`, in a range the caller checked (or allocated).
fn store(side: &mut dyn Side, ptr: u32, ty: &CType, val: &Val) -> Result<()> {
    match (ty, val) {
        (CType::Bool, Val::Bool(b)) => write(side, ptr, &[u8::from(*b)]),
        (CType::S8, Val::S8(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::U8, Val::U8(v)) => write(side, ptr, &[*v]),
        (CType::S16, Val::S16(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::U16, Val::U16(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::S32, Val::S32(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::U32, Val::U32(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::S64, Val::S64(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::U64, Val::U64(v)) => write(side, ptr, &v.to_le_bytes()),
        (CType::F32, Val::F32(v)) => write(side, ptr, &v.to_bits().to_le_bytes()),
        (CType::F64, Val::F64(v)) => write(side, ptr, &v.to_bits().to_le_bytes()),
        (CType::Char, Val::Char(c)) => write(side, ptr, &u32::from(*c).to_le_bytes()),
        (CType::String, Val::String(s)) => {
            let (begin, len) = store_string_into_range(side, s)?;
            write_pair(side, ptr, begin, len)
        }
        (CType::List(elem), _) => {
            let (begin, len) = store_list_into_range(side, elem, val)?;
            write_pair(side, ptr, begin, len)
        }
        (CType::Record(fields), Val::Record(vals)) => store_fields(side, ptr, fields, vals),
        (CType::Variant(cases), Val::Variant { case, payload }) => {
            let case_ty = value_case_type(cases, *case)?;
            write_uint(side, ptr, discriminant_size(cases.len()), *case)?;
            match (case_ty, payload) {
                (Some(t), Some(p)) => store(side, at(ptr, CType::payload_offset(cases))?, t, p),
                (None, None) => Ok(()),
                _ => Err(mismatch("variant payload does not match its case")),
            }
        }
        (CType::Flags(n), Val::Flags(words)) => {
            check_flag_words(*n, words)?;
            match ty.size() {
                0 => Ok(()),
                size @ (1 | 2) => {
                    let w = words.first().copied().unwrap_or(0);
                    write_uint(side, ptr, size, w & flag_mask(*n, 0))
                }
                _ => {
                    for (i, w) in (0..).zip(words) {
                        write(side, at(ptr, 4 * i)?, &(w & flag_mask(*n, i)).to_le_bytes())?;
                    }
                    Ok(())
                }
            }
        }
        (CType::Own(r), Val::Own(token)) => {
            let handle = side.lower_own(*token, *r)?;
            write(side, ptr, &handle.to_le_bytes())
        }
        (CType::Borrow(r), Val::Borrow(token)) => {
            let handle = side.lower_borrow(*token, *r)?;
            write(side, ptr, &handle.to_le_bytes())
        }
        _ => Err(mismatch("value does not match its type")),
    }
}

fn store_fields(side: &mut dyn Side, ptr: u32, fields: &[CType], vals: &[Val]) -> Result<()> {
    if fields.len() != vals.len() {
        return Err(mismatch("record value has the wrong number of fields"));
    }
    for ((f, v), off) in fields.iter().zip(vals).zip(CType::field_offsets(fields)) {
        store(side, at(ptr, off)?, f, v)?;
    }
    Ok(())
}

fn write_pair(side: &mut dyn Side, ptr: u32, a: u32, b: u32) -> Result<()> {
    write(side, ptr, &a.to_le_bytes())?;
    write(side, at(ptr, 4)?, &b.to_le_bytes())
}

/// `realloc(0, 0, align, size)` with the returned pointer checked; `oob` is the error
/// for a pointer whose allocation does not fit in memory.
fn alloc(side: &mut dyn Side, align: u32, size: u32, oob: AbiError) -> Result<u32> {
    realloc(side, 0, 0, align, size, oob)
}

fn realloc(
    side: &mut dyn Side,
    old_ptr: u32,
    old_size: u32,
    align: u32,
    new_size: u32,
    oob: AbiError,
) -> Result<u32> {
    let ptr = side.realloc(old_ptr, old_size, align, new_size)?;
    check_range(side, ptr, u64::from(new_size), align, oob)?;
    Ok(ptr)
}

// ---------------------------------------------------------------------------------------
// Scalars, variants, flags

fn to_char(i: u32) -> Result<char> {
    // `char::from_u32` rejects exactly what the canonical ABI does: surrogates and
    // values past U+10FFFF.
    char::from_u32(i).ok_or(AdapterError::Abi(AbiError::InvalidChar))
}

/// The payload type of case `case`, or the discriminant error if there is no such case.
fn case_type(cases: &[Option<CType>], case: u32) -> Result<Option<&CType>> {
    cases
        .get(case as usize)
        .map(Option::as_ref)
        .ok_or(AdapterError::Abi(AbiError::InvalidDiscriminant))
}

/// The payload type of a value's case: a case the type lacks cannot have been lifted, so
/// it is the glue's mistake rather than a guest's.
fn value_case_type(cases: &[Option<CType>], case: u32) -> Result<Option<&CType>> {
    case_type(cases, case).map_err(|_| mismatch("variant case out of range"))
}

/// The bits of flags word `i` (of `n` flags) that are flags: the rest are ignored on
/// lifting and cleared on lowering, as wasmtime's adapters mask them.
fn flag_mask(n: u32, i: u32) -> u32 {
    let last = n.div_ceil(32).saturating_sub(1);
    if i == last && !n.is_multiple_of(32) {
        (1 << (n % 32)) - 1
    } else {
        u32::MAX
    }
}

fn check_flag_words(n: u32, words: &[u32]) -> Result<()> {
    if words.len() == n.div_ceil(32) as usize {
        Ok(())
    } else {
        Err(mismatch("flags value has the wrong number of words"))
    }
}

// ---------------------------------------------------------------------------------------
// Lists

fn load_list_from_range(side: &mut dyn Side, ptr: u32, len: u32, elem: &CType) -> Result<Val> {
    let size = elem.size();
    let byte_len = u64::from(len) * u64::from(size);
    // The byte length must fit the 32-bit address space whatever the memory's size.
    if byte_len > u64::from(u32::MAX) {
        return Err(AbiError::ListOutOfBounds.into());
    }
    check_range(side, ptr, byte_len, elem.align(), AbiError::ListOutOfBounds)?;
    if matches!(elem, CType::U8 | CType::S8) {
        return read_bytes(side, ptr, len).map(Val::Bytes);
    }
    // Only the memory bounds the number of elements, so zero-size elements could ask for
    // billions of values; no valid component has them (empty records, tuples and flags
    // are rejected by validation), so such a type is the compiler's mistake.
    if size == 0 && len > 0 {
        return Err(mismatch("a list of zero-size elements"));
    }
    let mut items = Vec::with_capacity(len as usize);
    for i in 0..len {
        items.push(load(side, at(ptr, i * size)?, elem)?);
    }
    Ok(Val::List(items))
}

/// Allocates the list's elements in the side's memory and stores them; returns
/// (pointer, length).
fn store_list_into_range(side: &mut dyn Side, elem: &CType, val: &Val) -> Result<(u32, u32)> {
    let n = match val {
        Val::List(items) => items.len(),
        Val::Bytes(b) if matches!(elem, CType::U8 | CType::S8) => b.len(),
        _ => return Err(mismatch("value does not match its type")),
    };
    let size = elem.size();
    let len = u32::try_from(n).map_err(|_| AbiError::ListOutOfBounds)?;
    let byte_len = len
        .checked_mul(size)
        .ok_or(AdapterError::Abi(AbiError::ListOutOfBounds))?;
    let ptr = alloc(side, elem.align(), byte_len, AbiError::ListOutOfBounds)?;
    match val {
        Val::Bytes(b) => write(side, ptr, b)?,
        Val::List(items) => {
            // Elements are stored one by one: one holding a string or list calls realloc,
            // which may move the memory, so no view of it is kept across elements.
            for (i, item) in (0..).zip(items) {
                store(side, at(ptr, i * size)?, elem, item)?;
            }
        }
        _ => {}
    }
    Ok((ptr, len))
}

// ---------------------------------------------------------------------------------------
// Strings

/// The `latin1+utf16` length tag: set when the string is UTF-16.
const UTF16_TAG: u32 = 1 << 31;

/// wasmtime's bound on a string's byte length (the canonical ABI's is 2^28 - 1; this is
/// the one `wasmtime run` enforces).
const MAX_STRING_BYTE_LENGTH: u64 = (1 << 31) - 1;

fn load_string_from_range(side: &mut dyn Side, ptr: u32, tagged_len: u32) -> Result<Str> {
    let (align, byte_len, origin) = match side.string_encoding() {
        StringEncoding::Utf8 => (1, u64::from(tagged_len), Origin::Utf8),
        StringEncoding::Utf16 => (2, 2 * u64::from(tagged_len), Origin::Utf16),
        StringEncoding::CompactUtf16 if tagged_len & UTF16_TAG != 0 => (
            2,
            2 * u64::from(tagged_len ^ UTF16_TAG),
            Origin::CompactUtf16,
        ),
        StringEncoding::CompactUtf16 => (2, u64::from(tagged_len), Origin::Latin1),
    };
    check_range(side, ptr, byte_len, align, AbiError::StringOutOfBounds)?;
    if byte_len > MAX_STRING_BYTE_LENGTH {
        return Err(AbiError::StringOutOfBounds.into());
    }
    // In bounds and at most 2^31 - 1, so it fits in u32.
    let bytes = read_bytes(side, ptr, byte_len as u32)?;
    let text = match origin {
        Origin::Utf8 => String::from_utf8(bytes).map_err(|_| AbiError::InvalidUtf8)?,
        Origin::Utf16 | Origin::CompactUtf16 => {
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<core::result::Result<String, _>>()
                .map_err(|_| AbiError::InvalidUtf16)?
        }
        Origin::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    Ok(Str { text, origin })
}

/// The string's code units in the encoding it was lifted from.
fn source_units(s: &Str) -> usize {
    match s.origin {
        Origin::Utf8 => s.text.len(),
        Origin::Utf16 | Origin::CompactUtf16 => s.text.encode_utf16().count(),
        Origin::Latin1 => s.text.chars().count(),
    }
}

fn utf16_bytes(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// `n * k` as an allocation size, or the string error if it does not fit.
fn string_size(n: usize, k: usize) -> Result<u32> {
    n.checked_mul(k)
        .and_then(|s| u32::try_from(s).ok())
        .ok_or(AdapterError::Abi(AbiError::StringOutOfBounds))
}

/// Stores a string in the side's encoding, with the canonical ABI's allocation
/// sequence for the pair of encodings; returns (pointer, tagged code units).
fn store_string_into_range(side: &mut dyn Side, s: &Str) -> Result<(u32, u32)> {
    let n = source_units(s);
    match (side.string_encoding(), s.origin) {
        (StringEncoding::Utf8, Origin::Utf8) => store_copy(side, s.text.as_bytes(), 1, n),
        (StringEncoding::Utf8, Origin::Utf16 | Origin::CompactUtf16) => {
            store_to_utf8(side, &s.text, n, string_size(n, 3)?)
        }
        (StringEncoding::Utf8, Origin::Latin1) => {
            store_to_utf8(side, &s.text, n, string_size(n, 2)?)
        }
        (StringEncoding::Utf16, Origin::Utf8) => store_utf8_to_utf16(side, &s.text, n),
        (StringEncoding::Utf16, _) => store_copy(side, &utf16_bytes(&s.text), 2, n),
        (StringEncoding::CompactUtf16, Origin::Utf8 | Origin::Utf16) => {
            store_to_latin1_or_utf16(side, &s.text, n)
        }
        (StringEncoding::CompactUtf16, Origin::Latin1) => {
            let latin1 = s
                .text
                .chars()
                .map(|c| u8::try_from(c).map_err(|_| mismatch("a Latin-1 string past U+00FF")))
                .collect::<Result<Vec<u8>>>()?;
            store_copy(side, &latin1, 2, n)
        }
        (StringEncoding::CompactUtf16, Origin::CompactUtf16) => {
            store_probably_utf16_to_latin1_or_utf16(side, &s.text, n)
        }
    }
}

/// Same number of code units on both sides: one allocation of the exact size.
fn store_copy(side: &mut dyn Side, bytes: &[u8], align: u32, units: usize) -> Result<(u32, u32)> {
    let size = string_size(bytes.len(), 1)?;
    let ptr = alloc(side, align, size, AbiError::StringOutOfBounds)?;
    write(side, ptr, bytes)?;
    Ok((ptr, string_size(units, 1)?))
}

/// UTF-16 or Latin-1 to UTF-8: optimistically one byte per source code unit, grown to the
/// worst case at the first non-ASCII character, then shrunk to fit.
fn store_to_utf8(side: &mut dyn Side, text: &str, n: usize, worst: u32) -> Result<(u32, u32)> {
    let src_units = string_size(n, 1)?;
    let mut ptr = alloc(side, 1, src_units, AbiError::StringOutOfBounds)?;
    let bytes = text.as_bytes();
    // While the text is ASCII, code units, characters and UTF-8 bytes coincide.
    let ascii = bytes
        .iter()
        .position(|b| !b.is_ascii())
        .unwrap_or(bytes.len());
    write(side, ptr, &bytes[..ascii])?;
    if ascii == bytes.len() {
        return Ok((ptr, src_units));
    }
    ptr = realloc(side, ptr, src_units, 1, worst, AbiError::StringOutOfBounds)?;
    write(side, at(ptr, ascii as u32)?, &bytes[ascii..])?;
    let len = string_size(bytes.len(), 1)?;
    if worst > len {
        ptr = realloc(side, ptr, worst, 1, len, AbiError::StringOutOfBounds)?;
    }
    Ok((ptr, len))
}

/// UTF-8 to UTF-16: the worst case (a code unit per byte), shrunk to fit.
fn store_utf8_to_utf16(side: &mut dyn Side, text: &str, n: usize) -> Result<(u32, u32)> {
    let worst = string_size(n, 2)?;
    let mut ptr = alloc(side, 2, worst, AbiError::StringOutOfBounds)?;
    let encoded = utf16_bytes(text);
    write(side, ptr, &encoded)?;
    let len = string_size(encoded.len(), 1)?;
    if len < worst {
        ptr = realloc(side, ptr, worst, 2, len, AbiError::StringOutOfBounds)?;
    }
    Ok((ptr, len / 2))
}

/// UTF-8 or UTF-16 to `latin1+utf16`: Latin-1 in a byte per source code unit while it
/// lasts; at the first character past U+00FF, the worst-case UTF-16 buffer, shrunk to fit.
fn store_to_latin1_or_utf16(side: &mut dyn Side, text: &str, n: usize) -> Result<(u32, u32)> {
    let src_units = string_size(n, 1)?;
    let mut ptr = alloc(side, 2, src_units, AbiError::StringOutOfBounds)?;
    let latin1: Vec<u8> = text.chars().map_while(|c| u8::try_from(c).ok()).collect();
    write(side, ptr, &latin1)?;
    let latin1_len = string_size(latin1.len(), 1)?;
    if latin1.len() == text.chars().count() {
        if latin1_len < src_units {
            ptr = realloc(
                side,
                ptr,
                src_units,
                2,
                latin1_len,
                AbiError::StringOutOfBounds,
            )?;
        }
        return Ok((ptr, latin1_len));
    }
    let worst = string_size(n, 2)?;
    ptr = realloc(side, ptr, src_units, 2, worst, AbiError::StringOutOfBounds)?;
    // The Latin-1 prefix inflated in place and the rest encoded give the whole string's
    // UTF-16, written at once.
    let encoded = utf16_bytes(text);
    write(side, ptr, &encoded)?;
    let len = string_size(encoded.len(), 1)?;
    if worst > len {
        ptr = realloc(side, ptr, worst, 2, len, AbiError::StringOutOfBounds)?;
    }
    Ok((ptr, (len / 2) | UTF16_TAG))
}

/// Tagged `latin1+utf16` to `latin1+utf16`: copied as UTF-16, then compressed to Latin-1
/// (and shrunk) if every character fits.
fn store_probably_utf16_to_latin1_or_utf16(
    side: &mut dyn Side,
    text: &str,
    n: usize,
) -> Result<(u32, u32)> {
    let byte_len = string_size(n, 2)?;
    let mut ptr = alloc(side, 2, byte_len, AbiError::StringOutOfBounds)?;
    let encoded = utf16_bytes(text);
    write(side, ptr, &encoded)?;
    let units = string_size(n, 1)?;
    if text.chars().any(|c| u32::from(c) > 0xff) {
        return Ok((ptr, units | UTF16_TAG));
    }
    let latin1: Vec<u8> = text.chars().filter_map(|c| u8::try_from(c).ok()).collect();
    write(side, ptr, &latin1)?;
    ptr = realloc(side, ptr, byte_len, 1, units, AbiError::StringOutOfBounds)?;
    Ok((ptr, units))
}

#[cfg(test)]
mod tests;
