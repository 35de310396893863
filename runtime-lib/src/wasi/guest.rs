//! Guest memory as WASI host functions see it: the calling instance's memory 0, addressed
//! by 32-bit guest pointers, every access checked against the memory's current length.
//!
//! An access that does not fit is `EFAULT`, never a host fault: with guard pages the bytes
//! past `current_length` are inaccessible, so an unchecked access would crash the process.
//! Guest pointers need no alignment (values are read and written byte-wise, little-endian).
//!
//! Invariant: while a [`GuestMemory`] exists no Wasm code runs (host functions do not call
//! back into Wasm), so the memory can neither grow nor be touched by anyone else, and the
//! borrow rules of `&self`/`&mut self` are the only aliasing rules that matter.

use core::marker::PhantomData;
use core::ops::Range;

use super::types::{Errno, Result};

/// A view of one linear memory for the duration of a host call.
pub struct GuestMemory<'a> {
    base: *mut u8,
    len: usize,
    _memory: PhantomData<&'a mut [u8]>,
}

impl<'a> GuestMemory<'a> {
    /// The memory 0 of the instance whose vmctx is `vmctx`; an empty memory if it has none
    /// (every non-empty access is then `EFAULT`).
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
            _memory: PhantomData,
        }
    }

    /// A view of a host buffer (for tests and for memories that are plain slices).
    pub fn from_slice(bytes: &'a mut [u8]) -> GuestMemory<'a> {
        GuestMemory {
            base: bytes.as_mut_ptr(),
            len: bytes.len(),
            _memory: PhantomData,
        }
    }

    /// The host range of the `len` guest bytes at `ptr`, or `EFAULT`.
    fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
        if end > self.len {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// Checks that `len` bytes at `ptr` are in bounds, before an operation whose effect
    /// could not be undone if writing its result then failed.
    pub fn check(&self, ptr: u32, len: u32) -> Result<()> {
        self.range(ptr, len).map(drop)
    }

    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8]> {
        let r = self.range(ptr, len)?;
        if r.is_empty() {
            return Ok(&[]);
        }
        // SAFETY: `r` lies within the memory (checked above), which is valid for `'a`, and
        // `&self` excludes any `&mut` view from this object meanwhile.
        Ok(unsafe { core::slice::from_raw_parts(self.base.add(r.start), r.len()) })
    }

    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8]> {
        let r = self.range(ptr, len)?;
        if r.is_empty() {
            return Ok(&mut []);
        }
        // SAFETY: as in `slice`; `&mut self` makes this the only view.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.base.add(r.start), r.len()) })
    }

    pub fn write_bytes(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        let len = u32::try_from(bytes.len())?;
        self.slice_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    fn read_array<const N: usize>(&self, ptr: u32) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(ptr, N as u32)?);
        Ok(out)
    }

    pub fn read_u8(&self, ptr: u32) -> Result<u8> {
        Ok(self.read_array::<1>(ptr)?[0])
    }

    pub fn read_u16(&self, ptr: u32) -> Result<u16> {
        self.read_array(ptr).map(u16::from_le_bytes)
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32> {
        self.read_array(ptr).map(u32::from_le_bytes)
    }

    pub fn read_u64(&self, ptr: u32) -> Result<u64> {
        self.read_array(ptr).map(u64::from_le_bytes)
    }

    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A path or other string argument: `len` bytes at `ptr` that must be UTF-8
    /// (`EILSEQ` otherwise, as wasmtime).
    pub fn read_str(&self, ptr: u32, len: u32) -> Result<String> {
        let bytes = self.slice(ptr, len)?;
        core::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| Errno::Ilseq)
    }

    /// The first non-empty buffer of the `count` iovecs (`{buf: u32, buf_len: u32}`) at
    /// `iovs`, as `(ptr, len)`, or an empty one if all are empty. Preview 1 reads and
    /// writes move one buffer per call, as in wasmtime; callers loop over short counts.
    /// The buffer itself is checked when it is used, after the descriptor (so a bad
    /// descriptor is `EBADF` whatever the buffer, as in wasmtime).
    pub fn first_nonempty_iovec(&self, iovs: u32, count: u32) -> Result<(u32, u32)> {
        for i in 0..count {
            let at = i
                .checked_mul(super::types::IOVEC_SIZE)
                .and_then(|o| iovs.checked_add(o))
                .ok_or(Errno::Fault)?;
            let buf = self.read_u32(at)?;
            let len = self.read_u32(at.checked_add(4).ok_or(Errno::Fault)?)?;
            if len != 0 {
                return Ok((buf, len));
            }
        }
        Ok((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_is_efault_never_a_crash() {
        let mut bytes = [0u8; 16];
        let mut m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.read_u32(12), Ok(0));
        assert_eq!(m.read_u32(13), Err(Errno::Fault));
        assert_eq!(m.read_u64(u32::MAX), Err(Errno::Fault));
        assert_eq!(m.write_u64(9, 1), Err(Errno::Fault));
        assert_eq!(m.slice(16, 0).map(<[u8]>::len), Ok(0));
        assert_eq!(m.slice(17, 0).map(<[u8]>::len), Err(Errno::Fault));
        assert_eq!(
            m.slice(u32::MAX, u32::MAX).map(<[u8]>::len),
            Err(Errno::Fault)
        );
        let mut empty = GuestMemory::from_slice(&mut []);
        assert_eq!(empty.write_bytes(0, b"x"), Err(Errno::Fault));
        assert_eq!(empty.write_bytes(0, b""), Ok(()));
    }

    #[test]
    fn values_are_little_endian_and_unaligned() {
        let mut bytes = [0u8; 16];
        let mut m = GuestMemory::from_slice(&mut bytes);
        m.write_u32(1, 0x0403_0201).unwrap();
        assert_eq!(m.read_u8(1), Ok(1));
        assert_eq!(m.read_u16(2), Ok(0x0302));
        m.write_u64(7, u64::MAX - 1).unwrap();
        assert_eq!(m.read_u64(7), Ok(u64::MAX - 1));
        let _ = m;
        assert_eq!(bytes[1..5], [1, 2, 3, 4]);
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
            Err(Errno::Fault),
            "buffer out of bounds"
        );
        assert_eq!(
            m.first_nonempty_iovec(60, 1),
            Err(Errno::Fault),
            "iovec array out of bounds"
        );
        assert_eq!(
            m.first_nonempty_iovec(u32::MAX - 3, 2),
            Err(Errno::Fault),
            "address overflow"
        );
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut bytes = *b"ok\xff";
        let m = GuestMemory::from_slice(&mut bytes);
        assert_eq!(m.read_str(0, 2).as_deref(), Ok("ok"));
        assert_eq!(m.read_str(0, 3), Err(Errno::Ilseq));
        assert_eq!(m.read_str(2, 5), Err(Errno::Fault));
    }
}
