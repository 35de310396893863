//! Strings against fake sides: a `Vec<u8>` memory with a bump allocator that grows (and
//! so moves) the memory, recording every realloc.

use super::*;
use aot_abi::TrapKind;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    /// old_ptr, old_size, align, new_size, returned.
    Realloc(u32, u32, u32, u32, u32),
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
        }
    }

    fn with(enc: StringEncoding) -> Fake {
        Fake { enc, ..Fake::new() }
    }

    fn put(&mut self, at: u32, bytes: &[u8]) {
        self.mem[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }

    fn get(&self, at: u32, len: u32) -> &[u8] {
        &self.mem[at as usize..(at + len) as usize]
    }

    fn reallocs(&self) -> Vec<(u32, u32, u32, u32)> {
        self.ops
            .iter()
            .map(|Op::Realloc(p, o, a, n, _)| (*p, *o, *a, *n))
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
}

fn abi(e: AdapterError) -> AbiError {
    match e {
        AdapterError::Abi(a) => a,
        other => panic!("{other:?}"),
    }
}

/// Stores `text` into `side` as if lifted from UTF-8; returns (ptr, tagged length).
fn put_str(side: &mut Fake, text: &str) -> (u32, u32) {
    let s = Str {
        text: text.to_owned(),
        origin: Origin::Utf8,
    };
    store_string_into_range(side, &s).unwrap()
}

fn lift_string(side: &mut Fake, ptr: u32, len: u32) -> Result<Str> {
    load_string_from_range(side, ptr, len)
}

// ---------------------------------------------------------------------------------------
// String encodings

/// Stores `text` in a side of encoding `from`, moves it into a side of encoding `to`;
/// returns the destination, its (ptr, tagged length) and the string lifted back from it.
fn transcode(from: StringEncoding, text: &str, to: StringEncoding) -> (Fake, u32, u32, Str) {
    let mut src = Fake::with(from);
    let (p, n) = put_str(&mut src, text);
    let mut dst = Fake::with(to);
    let (ptr, len) = move_string(&mut src, &mut dst, p, n).unwrap();
    let back = lift_string(&mut dst, ptr, len).unwrap();
    assert_eq!(back.text, text);
    (dst, ptr, len, back)
}

fn origin(s: &Str) -> Origin {
    s.origin
}

#[test]
fn strings_are_stored_in_each_encoding() {
    use StringEncoding::*;
    let mut side = Fake::with(Utf16);
    let (p, n) = put_str(&mut side, "h€");
    assert_eq!((p % 2, n), (0, 2));
    assert_eq!(side.get(p, 4), [b'h', 0, 0xac, 0x20]);

    let mut side = Fake::with(CompactUtf16);
    let (p, n) = put_str(&mut side, "hé");
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
    let val = lift_string(&mut src, 64, 2 | UTF16_TAG).unwrap();
    assert_eq!(origin(&val), Origin::CompactUtf16);
    let mut dst = Fake::with(CompactUtf16);
    let (ptr, len) = move_string(&mut src, &mut dst, 64, 2 | UTF16_TAG).unwrap();
    assert_eq!(len, 2);
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

#[test]
fn strings_out_of_bounds_or_badly_encoded() {
    let mut side = Fake::new();
    let oob = AbiError::Fault(Fault::StringOutOfBounds);
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
        AbiError::Fault(Fault::UnalignedPointer)
    );
    // Two bytes per unit are bounds-checked.
    assert_eq!(abi(lift_string(&mut side, 65534, 2).unwrap_err()), oob);
    // latin1+utf16 requires alignment 2 for Latin-1 too.
    let mut side = Fake::with(StringEncoding::CompactUtf16);
    assert_eq!(
        abi(lift_string(&mut side, 3, 1).unwrap_err()),
        AbiError::Fault(Fault::UnalignedPointer)
    );
    assert_eq!(
        abi(lift_string(&mut side, 65534, 2 | UTF16_TAG).unwrap_err()),
        oob
    );
}
