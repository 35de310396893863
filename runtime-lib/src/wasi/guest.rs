//! Guest memory as WASI host functions see it: the calling instance's memory 0, addressed
//! by 32-bit guest pointers, every access checked against the memory's current length, and
//! the guest errors that end the program instead of becoming an errno.
//!
//! As in wasmtime (which follows the witx rule "a function shall trap" on such pointers): an
//! access that does not fit in memory, a value at an address not aligned to its size, or
//! pointer arithmetic that overflows 32 bits is a [`GuestError`], never an `EFAULT` and
//! never a host fault (with guard pages the bytes past `current_length` are inaccessible, so
//! an unchecked access would crash the process). Byte buffers and strings need no alignment;
//! integers, pointers and records do (their natural alignment, 8 for the 64-bit ones).
//!
//! Each host call may copy at most [`HOSTCALL_FUEL`] bytes of iovec arrays, buffers, strings
//! and subscriptions between guest and host, as in wasmtime: asking for more is `ENOMEM`,
//! checked before the memory is touched.
//!
//! Invariant: while a [`GuestMemory`] exists no Wasm code runs (host functions do not call
//! back into Wasm), so the memory can neither grow nor be touched by anyone else, and the
//! borrow rules of `&self`/`&mut self` are the only aliasing rules that matter.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;

use super::types::{Errno, Error, IOVEC_SIZE};

/// What one host call may copy between guest and host: wasmtime's default hostcall fuel.
pub const HOSTCALL_FUEL: u64 = 128 << 20;

/// A mistake in a call that wasmtime does not report to the guest: the program ends (exit
/// status 1) with this as the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestError {
    /// `len` bytes at `ptr` are not all inside the memory.
    OutOfBounds { ptr: u32, len: u32 },
    /// A `len`-byte value at `ptr`, which needs `align`-byte alignment.
    NotAligned { ptr: u32, len: u32, align: u32 },
    /// A guest address computed from the call's arguments does not fit in 32 bits.
    PointerOverflow,
    /// An integer argument does not fit the witx type `ty` (for example 256 as a `u8`).
    IntOutOfRange { ty: &'static str, value: i64 },
    /// An argument that is not one of the values of the witx enum `ty`.
    InvalidEnum { ty: &'static str, value: u64 },
    /// An argument with bits that the witx flags type `ty` does not define.
    InvalidFlags { ty: &'static str, value: u64 },
    /// `random_get` of more bytes than wasmtime produces in one call.
    RandomTooLong { len: u32, limit: u32 },
    /// `proc_exit` with a status a shell could mistake for a signal or a missing command.
    InvalidExitStatus,
}

impl fmt::Display for GuestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            GuestError::OutOfBounds { ptr, len } => {
                write!(f, "pointer out of bounds: {len} bytes at {ptr:#x}")
            }
            GuestError::NotAligned { ptr, len, align } => {
                write!(f, "pointer not aligned to {align}: {len} bytes at {ptr:#x}")
            }
            GuestError::PointerOverflow => f.write_str("pointer overflow"),
            GuestError::IntOutOfRange { ty, value } => {
                write!(f, "integer argument {value} does not fit {ty}")
            }
            GuestError::InvalidEnum { ty, value } => write!(f, "invalid enum value {ty}: {value}"),
            GuestError::InvalidFlags { ty, value } => {
                write!(f, "invalid flag value {ty}: {value:#x}")
            }
            GuestError::RandomTooLong { len, limit } => {
                write!(f, "requested len {len} exceeds limit {limit}")
            }
            GuestError::InvalidExitStatus => {
                f.write_str("exit with invalid exit status outside of [0..126)")
            }
        }
    }
}

/// The length of host data to be written at `ptr`: more than 4 GiB never fits.
fn byte_len(ptr: u32, bytes: &[u8]) -> Result<u32, GuestError> {
    u32::try_from(bytes.len()).map_err(|_| GuestError::OutOfBounds { ptr, len: u32::MAX })
}

/// A view of one linear memory for the duration of a host call.
pub struct GuestMemory<'a> {
    base: *mut u8,
    len: usize,
    /// Bytes this call may still copy ([`HOSTCALL_FUEL`] at the start of each call).
    fuel: Cell<u64>,
    _memory: PhantomData<&'a mut [u8]>,
}

impl<'a> GuestMemory<'a> {
    /// The memory 0 of the instance whose vmctx is `vmctx`; an empty memory if it has none
    /// (every non-empty access is then out of bounds).
    ///
    /// # Safety
    /// `vmctx` must be the vmctx of a live instance (host functions receive the caller's),
    /// and no Wasm code may run while the returned view is alive.
    pub unsafe fn of_caller(vmctx: *mut u8) -> GuestMemory<'a> {
        // SAFETY: guaranteed by the caller.
        let instance = unsafe { crate::instance::Instance::from_vmctx(vmctx) };
        match instance.memory(0) {
            Some(memory) => {
                let len = usize::try_from(memory.len_bytes()).unwrap_or(usize::MAX);
                // SAFETY: the memory's accessible bytes are [base, base + len) and stay so
                // while no Wasm code runs; the caller guarantees that.
                unsafe { GuestMemory::from_raw(memory.base(), len) }
            }
            None => GuestMemory::from_slice(&mut []),
        }
    }

    /// # Safety
    /// `[base, base + len)` must be readable and writable, and used through nothing else,
    /// for `'a`.
    pub unsafe fn from_raw(base: *mut u8, len: usize) -> GuestMemory<'a> {
        GuestMemory {
            base,
            len,
            fuel: Cell::new(HOSTCALL_FUEL),
            _memory: PhantomData,
        }
    }

    /// A view of a host buffer (for tests and for memories that are plain slices).
    pub fn from_slice(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory {
            base: bytes.as_mut_ptr(),
            len: bytes.len(),
            fuel: Cell::new(HOSTCALL_FUEL),
            _memory: PhantomData,
        }
    }

    /// The host range of the `len` guest bytes at `ptr`.
    fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>, GuestError> {
        let start = ptr as usize;
        match start.checked_add(len as usize) {
            Some(end) if end <= self.len => Ok(start..end),
            _ => Err(GuestError::OutOfBounds { ptr, len }),
        }
    }

    /// As `range`, for a value that needs `align`-byte alignment.
    fn aligned(&self, ptr: u32, len: u32, align: u32) -> Result<Range<usize>, GuestError> {
        let r = self.range(ptr, len)?;
        if !ptr.is_multiple_of(align) {
            return Err(GuestError::NotAligned { ptr, len, align });
        }
        Ok(r)
    }

    /// Takes `bytes` from this call's copy allowance; `ENOMEM` if it does not have them.
    pub fn consume_fuel(&self, bytes: u64) -> Result<(), Errno> {
        let left = self.fuel.get();
        if bytes > left {
            return Err(Errno::Nomem);
        }
        self.fuel.set(left - bytes);
        Ok(())
    }

    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], GuestError> {
        let r = self.range(ptr, len)?;
        if r.is_empty() {
            return Ok(&[]);
        }
        // SAFETY: `r` lies within the memory (checked above), which is valid for `'a`, and
        // `&self` excludes any `&mut` view from this object meanwhile.
        Ok(unsafe { core::slice::from_raw_parts(self.base.add(r.start), r.len()) })
    }

    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], GuestError> {
        let r = self.range(ptr, len)?;
        if r.is_empty() {
            return Ok(&mut []);
        }
        // SAFETY: as in `slice`; `&mut self` makes this the only view.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.base.add(r.start), r.len()) })
    }

    /// Writes a byte buffer (no alignment needed).
    pub fn write_bytes(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), GuestError> {
        let len = byte_len(ptr, bytes)?;
        self.slice_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes a record (`fdstat`, `filestat`, `event`...) that needs `align`-byte alignment.
    pub fn write_record(&mut self, ptr: u32, align: u32, bytes: &[u8]) -> Result<(), GuestError> {
        self.aligned(ptr, byte_len(ptr, bytes)?, align)?;
        self.write_bytes(ptr, bytes)
    }

    /// The `N` bytes of a naturally aligned `N`-byte value at `ptr`.
    fn read_array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], GuestError> {
        self.aligned(ptr, N as u32, N as u32)?;
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(ptr, N as u32)?);
        Ok(out)
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8, GuestError> {
        Ok(self.read_array::<1>(ptr)?[0])
    }

    pub fn read_u16(&self, ptr: u32) -> Result<u16, GuestError> {
        self.read_array(ptr).map(u16::from_le_bytes)
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32, GuestError> {
        self.read_array(ptr).map(u32::from_le_bytes)
    }

    pub fn read_u64(&self, ptr: u32) -> Result<u64, GuestError> {
        self.read_array(ptr).map(u64::from_le_bytes)
    }

    /// Writes a `u32` (a size, a descriptor or a guest pointer), 4-byte aligned.
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), GuestError> {
        self.write_record(ptr, 4, &v.to_le_bytes())
    }

    /// Writes a `u64` (a timestamp or a file size), 8-byte aligned.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), GuestError> {
        self.write_record(ptr, 8, &v.to_le_bytes())
    }

    /// A path or other string argument of `len` bytes at `ptr`: paid for from the call's
    /// allowance (`ENOMEM`), inside memory (a guest error) and UTF-8 (`EILSEQ`), in that
    /// order, as wasmtime checks them.
    pub fn read_str(&self, ptr: u32, len: u32) -> Result<String, Error> {
        self.consume_fuel(len.into())?;
        self.read_str_unmetered(ptr, len)
    }

    /// As [`read_str`](Self::read_str) without the allowance (wasmtime's `path_unlink_file`
    /// reads its path so).
    pub fn read_str_unmetered(&self, ptr: u32, len: u32) -> Result<String, Error> {
        let bytes = self.slice(ptr, len)?;
        core::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Errno::Ilseq.into())
    }

    /// The first non-empty buffer of the `count` iovecs (`{buf: u32, buf_len: u32}`,
    /// 4-byte aligned) at `iovs`, as `(ptr, len)`, or an empty one if all are empty.
    /// Preview 1 reads and writes move one buffer per call, as in wasmtime; callers loop
    /// over short counts.
    ///
    /// The array and the chosen buffer are paid for from the call's allowance. The buffer
    /// itself is checked when it is used, after the descriptor (so a bad descriptor is
    /// `EBADF` whatever the buffer, as in wasmtime); the iovecs are read before.
    pub fn first_nonempty_iovec(&self, iovs: u32, count: u32) -> Result<(u32, u32), Error> {
        self.consume_fuel(u64::from(count) * u64::from(IOVEC_SIZE))?;
        for i in 0..count {
            let at = i
                .checked_mul(IOVEC_SIZE)
                .and_then(|o| iovs.checked_add(o))
                .ok_or(GuestError::PointerOverflow)?;
            let buf = self.read_u32(at)?;
            let len = self.read_u32(at.checked_add(4).ok_or(GuestError::PointerOverflow)?)?;
            if len != 0 {
                self.consume_fuel(len.into())?;
                return Ok((buf, len));
            }
        }
        Ok((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oob(ptr: u32, len: u32) -> GuestError {
        GuestError::OutOfBounds { ptr, len }
    }

    #[test]
    fn out_of_bounds_is_a_guest_error_never_a_crash() {
        let mut bytes = [0u8; 16];
        let mut m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.read_u32(12), Ok(0));
        assert_eq!(m.read_u64(16), Err(oob(16, 8)));
        assert_eq!(m.read_u64(u32::MAX), Err(oob(u32::MAX, 8)));
        assert_eq!(m.write_u64(16, 1), Err(oob(16, 8)));
        assert_eq!(m.slice(16, 0).map(<[u8]>::len), Ok(0));
        assert_eq!(m.slice(17, 0).map(<[u8]>::len), Err(oob(17, 0)));
        assert_eq!(
            m.slice(u32::MAX, u32::MAX).map(<[u8]>::len),
            Err(oob(u32::MAX, u32::MAX))
        );
        let mut empty = GuestMemory::from_slice(&mut []);
        assert_eq!(empty.write_bytes(0, b"x"), Err(oob(0, 1)));
        assert_eq!(empty.write_bytes(0, b""), Ok(()));
    }

    #[test]
    fn values_are_little_endian_and_naturally_aligned() {
        let mut bytes = [0u8; 32];
        let mut m = GuestMemory::from_slice(&mut bytes);
        m.write_u32(4, 0x0403_0201).unwrap();
        assert_eq!(m.read_u8(5), Ok(2));
        assert_eq!(m.read_u16(6), Ok(0x0403));
        m.write_u64(8, u64::MAX - 1).unwrap();
        assert_eq!(m.read_u64(8), Ok(u64::MAX - 1));
        let misaligned = |ptr, len, align| GuestError::NotAligned { ptr, len, align };
        assert_eq!(m.read_u16(5), Err(misaligned(5, 2, 2)));
        assert_eq!(m.read_u32(6), Err(misaligned(6, 4, 4)));
        assert_eq!(m.read_u64(4), Err(misaligned(4, 8, 8)));
        assert_eq!(m.write_u32(2, 0), Err(misaligned(2, 4, 4)));
        assert_eq!(m.write_u64(12, 0), Err(misaligned(12, 8, 8)));
        assert_eq!(m.write_record(20, 8, &[0; 8]), Err(misaligned(20, 8, 8)));
        // Bounds come first, as in wasmtime; byte buffers need no alignment.
        assert_eq!(m.write_u64(28, 0), Err(oob(28, 8)));
        assert_eq!(m.write_bytes(17, b"abc"), Ok(()));
        let _ = m;
        assert_eq!(bytes[4..8], [1, 2, 3, 4]);
        assert_eq!(&bytes[17..20], b"abc");
    }

    #[test]
    fn iovecs_pick_the_first_nonempty_buffer() {
        let mut bytes = [0u8; 64];
        // iovec 0: empty, iovec 1: 5 bytes at 40, iovec 2: out of bounds.
        bytes[0..8].copy_from_slice(&[40, 0, 0, 0, 0, 0, 0, 0]);
        bytes[8..16].copy_from_slice(&[40, 0, 0, 0, 5, 0, 0, 0]);
        bytes[16..24].copy_from_slice(&[0xf0, 0xff, 0xff, 0xff, 32, 0, 0, 0]);
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.first_nonempty_iovec(0, 3), Ok((40, 5)));
        assert_eq!(m.first_nonempty_iovec(0, 1), Ok((0, 0)));
        let (ptr, len) = m.first_nonempty_iovec(16, 1).unwrap();
        assert_eq!(
            m.slice(ptr, len).map(<[u8]>::len),
            Err(oob(ptr, len)),
            "buffer out of bounds"
        );
        assert_eq!(
            m.first_nonempty_iovec(60, 1),
            Err(oob(64, 4).into()),
            "iovec array out of bounds"
        );
        assert_eq!(
            m.first_nonempty_iovec(2, 1),
            Err(GuestError::NotAligned {
                ptr: 2,
                len: 4,
                align: 4
            }
            .into())
        );
        assert_eq!(
            m.first_nonempty_iovec(u32::MAX - 3, 2),
            Err(oob(u32::MAX - 3, 4).into())
        );
    }

    #[test]
    fn each_call_may_copy_128_mib() {
        let mut bytes = [0u8; 64];
        bytes[0..8].copy_from_slice(&[32, 0, 0, 0, 0xf8, 0xff, 0xff, 0x07]);
        // 16 Mi iovecs (128 MiB) are allowed (the walk then leaves the memory); one more is
        // not, before anything is read.
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.first_nonempty_iovec(8, 16 << 20), Err(oob(64, 4).into()));
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(
            m.first_nonempty_iovec(u32::MAX, (16 << 20) + 1),
            Err(Errno::Nomem.into())
        );
        // One iovec (8 bytes) and its 128 MiB - 8 byte buffer exactly use up the allowance.
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.first_nonempty_iovec(0, 1), Ok((32, (128 << 20) - 8)));
        assert_eq!(m.consume_fuel(1), Err(Errno::Nomem));
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.read_str(0, (128 << 20) + 1), Err(Errno::Nomem.into()));
        assert_eq!(
            m.read_str(0, 128 << 20),
            Err(oob(0, 128 << 20).into()),
            "within the allowance, the bounds decide"
        );
        assert_eq!(
            m.read_str(0, 1),
            Err(Errno::Nomem.into()),
            "the allowance is per call"
        );
        assert_eq!(
            m.read_str_unmetered(0, (128 << 20) + 1),
            Err(oob(0, (128 << 20) + 1).into())
        );
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut bytes = *b"ok\xff";
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.read_str(0, 2).as_deref(), Ok("ok"));
        assert_eq!(m.read_str(0, 3), Err(Errno::Ilseq.into()));
        assert_eq!(m.read_str(2, 5), Err(oob(2, 5).into()));
    }

    #[test]
    fn guest_errors_read_as_one_line() {
        assert_eq!(
            oob(0x7fff_fff0, 4).to_string(),
            "pointer out of bounds: 4 bytes at 0x7ffffff0"
        );
        assert_eq!(
            GuestError::InvalidEnum {
                ty: "Whence",
                value: 3
            }
            .to_string(),
            "invalid enum value Whence: 3"
        );
        assert_eq!(
            GuestError::InvalidExitStatus.to_string(),
            "exit with invalid exit status outside of [0..126)"
        );
    }
}
