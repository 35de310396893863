//! Strings between components: the part of a fused adapter's work the generated code
//! hands to the runtime (`aot_abi::fused`'s `string` entry). A string is lifted from one
//! side in that side's `string-encoding` (checked for alignment, bounds and valid
//! UTF-8/UTF-16) and stored into the other with the allocation sequence the canonical
//! ABI prescribes for the pair of encodings (utf8, utf16, latin1+utf16): the receiving
//! side's `realloc` sees the same calls as under wasmtime.
//!
//! What it does not own: running guest code and reading memories, both behind [`Side`],
//! so this module holds no global state and runs against a fake side in unit tests.
//!
//! Errors carry the words wasmtime uses (its adapters' trap words and its transcoding
//! libcalls' messages, see [`AbiError::message`]).

use core::fmt;

use aot_abi::fused::Fault;

use crate::resources::HandleError;
use crate::trap::Trap;

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

/// One side of an adapted call: where a string is lifted from or stored into.
pub trait Side {
    /// The side's linear memory (current view; may move after `realloc`, so it is taken
    /// anew after every call of `realloc`). Empty without a memory option.
    fn memory(&mut self) -> &mut [u8];

    /// Calls the side's `realloc(old_ptr, old_size, align, new_size)`.
    fn realloc(
        &mut self,
        old_ptr: u32,
        old_size: u32,
        align: u32,
        new_size: u32,
    ) -> Result<u32, AdapterError>;

    fn string_encoding(&self) -> StringEncoding {
        StringEncoding::Utf8
    }
}

/// A canonical ABI rule broken by a side's string or allocator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiError {
    /// One of the rules generated adapters check too (alignment, bounds).
    Fault(Fault),
    InvalidUtf8,
    InvalidUtf16,
    /// A string the runtime was asked to store in a form it cannot have (a bug of the
    /// runtime glue, never of a guest): what did not fit.
    Mismatch(&'static str),
}

impl AbiError {
    /// What wasmtime says (after `wasm trap: ` when [`AbiError::is_wasm_trap`]).
    pub fn message(self) -> &'static str {
        match self {
            AbiError::Fault(f) => f.message(),
            AbiError::InvalidUtf8 => "invalid utf8 encoding",
            AbiError::InvalidUtf16 => "invalid utf16 encoding",
            AbiError::Mismatch(what) => what,
        }
    }

    /// Whether wasmtime raises this as a trap of the adapter's Wasm code (a `wasm trap:`
    /// report), rather than as an error returned by its string transcoding host
    /// functions (the bad encodings).
    pub fn is_wasm_trap(self) -> bool {
        matches!(self, AbiError::Fault(_))
    }
}

impl From<Fault> for AbiError {
    fn from(f: Fault) -> AbiError {
        AbiError::Fault(f)
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
impl From<Fault> for AdapterError {
    fn from(f: Fault) -> AdapterError {
        AdapterError::Abi(AbiError::Fault(f))
    }
}

fn mismatch(what: &'static str) -> AdapterError {
    AdapterError::Abi(AbiError::Mismatch(what))
}

/// Moves the string at (`ptr`, `tagged_len`) in `from` into `to`; returns its pointer and
/// tagged length there.
pub fn move_string(
    from: &mut dyn Side,
    to: &mut dyn Side,
    ptr: u32,
    tagged_len: u32,
) -> Result<(u32, u32)> {
    let s = load_string_from_range(from, ptr, tagged_len)?;
    store_string_into_range(to, &s)
}

// ---------------------------------------------------------------------------------------
// Memory

/// Checks that `[ptr, ptr + len)` is in the side's memory and `ptr` is aligned:
/// misalignment is reported before bounds, as wasmtime's adapters check them.
fn check_range(side: &mut dyn Side, ptr: u32, len: u64, align: u32, oob: Fault) -> Result<()> {
    if !ptr.is_multiple_of(align) {
        return Err(Fault::UnalignedPointer.into());
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
        .ok_or(AdapterError::from(Fault::MemoryOutOfBounds))
}

fn read_bytes(side: &mut dyn Side, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let mem = side.memory();
    let start = ptr as usize;
    start
        .checked_add(len as usize)
        .and_then(|end| mem.get(start..end))
        .map(<[u8]>::to_vec)
        .ok_or(AdapterError::from(Fault::MemoryOutOfBounds))
}

fn write(side: &mut dyn Side, ptr: u32, bytes: &[u8]) -> Result<()> {
    let mem = side.memory();
    let start = ptr as usize;
    start
        .checked_add(bytes.len())
        .and_then(|end| mem.get_mut(start..end))
        .map(|dst| dst.copy_from_slice(bytes))
        .ok_or(AdapterError::from(Fault::MemoryOutOfBounds))
}

/// `realloc(0, 0, align, size)` with the returned pointer checked; `oob` is the error
/// for a pointer whose allocation does not fit in memory.
pub fn alloc(side: &mut dyn Side, align: u32, size: u32, oob: Fault) -> Result<u32> {
    realloc(side, 0, 0, align, size, oob)
}

fn realloc(
    side: &mut dyn Side,
    old_ptr: u32,
    old_size: u32,
    align: u32,
    new_size: u32,
    oob: Fault,
) -> Result<u32> {
    let ptr = side.realloc(old_ptr, old_size, align, new_size)?;
    check_range(side, ptr, u64::from(new_size), align, oob)?;
    Ok(ptr)
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
    check_range(side, ptr, byte_len, align, Fault::StringOutOfBounds)?;
    if byte_len > MAX_STRING_BYTE_LENGTH {
        return Err(Fault::StringOutOfBounds.into());
    }
    // In bounds and at most 2^31 - 1, so it fits in u32.
    let bytes = read_bytes(side, ptr, byte_len as u32)?;
    let text = match origin {
        Origin::Utf8 => {
            String::from_utf8(bytes).map_err(|_| AdapterError::Abi(AbiError::InvalidUtf8))?
        }
        Origin::Utf16 | Origin::CompactUtf16 => {
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<core::result::Result<String, _>>()
                .map_err(|_| AdapterError::Abi(AbiError::InvalidUtf16))?
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
        .ok_or(AdapterError::from(Fault::StringOutOfBounds))
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
    let ptr = alloc(side, align, size, Fault::StringOutOfBounds)?;
    write(side, ptr, bytes)?;
    Ok((ptr, string_size(units, 1)?))
}

/// UTF-16 or Latin-1 to UTF-8: optimistically one byte per source code unit, grown to the
/// worst case at the first non-ASCII character, then shrunk to fit.
fn store_to_utf8(side: &mut dyn Side, text: &str, n: usize, worst: u32) -> Result<(u32, u32)> {
    let src_units = string_size(n, 1)?;
    let mut ptr = alloc(side, 1, src_units, Fault::StringOutOfBounds)?;
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
    ptr = realloc(side, ptr, src_units, 1, worst, Fault::StringOutOfBounds)?;
    write(side, at(ptr, ascii as u32)?, &bytes[ascii..])?;
    let len = string_size(bytes.len(), 1)?;
    if worst > len {
        ptr = realloc(side, ptr, worst, 1, len, Fault::StringOutOfBounds)?;
    }
    Ok((ptr, len))
}

/// UTF-8 to UTF-16: the worst case (a code unit per byte), shrunk to fit.
fn store_utf8_to_utf16(side: &mut dyn Side, text: &str, n: usize) -> Result<(u32, u32)> {
    let worst = string_size(n, 2)?;
    let mut ptr = alloc(side, 2, worst, Fault::StringOutOfBounds)?;
    let encoded = utf16_bytes(text);
    write(side, ptr, &encoded)?;
    let len = string_size(encoded.len(), 1)?;
    if len < worst {
        ptr = realloc(side, ptr, worst, 2, len, Fault::StringOutOfBounds)?;
    }
    Ok((ptr, len / 2))
}

/// UTF-8 or UTF-16 to `latin1+utf16`: Latin-1 in a byte per source code unit while it
/// lasts; at the first character past U+00FF, the worst-case UTF-16 buffer, shrunk to fit.
fn store_to_latin1_or_utf16(side: &mut dyn Side, text: &str, n: usize) -> Result<(u32, u32)> {
    let src_units = string_size(n, 1)?;
    let mut ptr = alloc(side, 2, src_units, Fault::StringOutOfBounds)?;
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
                Fault::StringOutOfBounds,
            )?;
        }
        return Ok((ptr, latin1_len));
    }
    let worst = string_size(n, 2)?;
    ptr = realloc(side, ptr, src_units, 2, worst, Fault::StringOutOfBounds)?;
    // The Latin-1 prefix inflated in place and the rest encoded give the whole string's
    // UTF-16, written at once.
    let encoded = utf16_bytes(text);
    write(side, ptr, &encoded)?;
    let len = string_size(encoded.len(), 1)?;
    if worst > len {
        ptr = realloc(side, ptr, worst, 2, len, Fault::StringOutOfBounds)?;
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
    let mut ptr = alloc(side, 2, byte_len, Fault::StringOutOfBounds)?;
    let encoded = utf16_bytes(text);
    write(side, ptr, &encoded)?;
    let units = string_size(n, 1)?;
    if text.chars().any(|c| u32::from(c) > 0xff) {
        return Ok((ptr, units | UTF16_TAG));
    }
    let latin1: Vec<u8> = text.chars().filter_map(|c| u8::try_from(c).ok()).collect();
    write(side, ptr, &latin1)?;
    ptr = realloc(side, ptr, byte_len, 1, units, Fault::StringOutOfBounds)?;
    Ok((ptr, units))
}

#[cfg(test)]
mod tests;
