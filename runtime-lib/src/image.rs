//! Copy-on-write mappings of the executable's own read-only bytes.
//!
//! The compiler lays large active data segments out in the executable so that a host page
//! of the linear memory that a segment covers whole is a whole page of the executable file
//! too (`aot_abi::data_image_align`). Mapping such pages `MAP_PRIVATE` from the file over
//! the memory gives the memory the segment's bytes without the kernel zeroing fresh pages
//! for them, without copying, and without reading any page the program never touches; the
//! first write to a page gives the process its own copy, so the file never changes.
//!
//! Where the bytes are in the file comes from the program headers the kernel (or qemu)
//! passed in the auxiliary vector; the file is `/proc/self/exe`, which names the very
//! inode that was executed even if its path has since been replaced. Anything unexpected
//! (no `/proc`, bytes not in a read-only loaded segment of the executable, as in unit
//! tests, an offset not lined up with the host page size, the file not holding the bytes
//! the process sees) makes [`map_private`] decline, and the caller copies instead.

use core::ffi::c_void;

/// A loaded, read-only part of the executable: bytes at `[start, end)` in memory are the
/// file's bytes at `offset..`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Load {
    start: usize,
    end: usize,
    offset: u64,
}

/// Where the file holds the `len` bytes the process sees at `addr`, if they lie inside
/// one of `loads`.
fn file_offset(loads: &[Load], addr: usize, len: usize) -> Option<u64> {
    let end = addr.checked_add(len)?;
    let load = loads.iter().find(|l| l.start <= addr && end <= l.end)?;
    Some(load.offset + (addr - load.start) as u64)
}

/// The read-only `PT_LOAD` segments of the running executable, from its program headers.
fn read_only_loads() -> Vec<Load> {
    // SAFETY: getauxval has no preconditions; it returns 0 for an entry the kernel did not
    // pass.
    let (phdr, phnum, phent) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR) as usize,
            libc::getauxval(libc::AT_PHNUM) as usize,
            libc::getauxval(libc::AT_PHENT) as usize,
        )
    };
    if phdr == 0 || phent != size_of::<libc::Elf64_Phdr>() {
        return Vec::new();
    }
    // SAFETY: the kernel's AT_PHDR points at the executable's AT_PHNUM program headers of
    // AT_PHENT bytes each (checked above to be Elf64_Phdr's size), mapped for the life of
    // the process; both targets are 64-bit.
    let headers = unsafe { crate::raw_slice(phdr as *const libc::Elf64_Phdr, phnum) };
    // The load bias: 0 for a static executable, the difference between where the headers
    // are and where they say they are for a position-independent one. Without PT_PHDR
    // the bias is unknown; assuming 0 is checked by [`map_private`]'s comparison.
    let bias = headers
        .iter()
        .find(|h| h.p_type == libc::PT_PHDR)
        .map_or(0, |h| phdr.wrapping_sub(h.p_vaddr as usize));
    headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W == 0)
        .map(|h| {
            let start = bias.wrapping_add(h.p_vaddr as usize);
            Load {
                start,
                // Only the file-backed part: the rest of p_memsz is zero-filled.
                end: start.wrapping_add(h.p_filesz as usize),
                offset: h.p_offset,
            }
        })
        .collect()
}

/// The executable, opened read-only, closed when dropped.
struct Exe(libc::c_int);

impl Exe {
    fn open() -> Option<Exe> {
        // SAFETY: a NUL-terminated path; the descriptor is owned by the returned value.
        let fd =
            unsafe { libc::open(c"/proc/self/exe".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        (fd >= 0).then_some(Exe(fd))
    }

    /// Whether the file holds `expected` at `offset`.
    fn holds(&self, offset: u64, expected: &[u8]) -> bool {
        let mut buf = [0u8; 64];
        let n = expected.len().min(buf.len());
        // SAFETY: reads at most `buf.len()` bytes into `buf`.
        let got = unsafe { libc::pread(self.0, buf.as_mut_ptr().cast(), n, offset as libc::off_t) };
        got == n as isize && buf[..n] == expected[..n]
    }
}

impl Drop for Exe {
    fn drop(&mut self) {
        // SAFETY: the descriptor is this value's own.
        unsafe { libc::close(self.0) };
    }
}

/// Replaces the pages at `dst` with a private, writable mapping of the executable's pages
/// that hold `bytes`, so that they read as `bytes`; returns false, changing nothing, when
/// that cannot be done.
///
/// # Safety
/// `[dst, dst + bytes.len())` must be host-page-aligned, lie inside an accessible
/// (read-write) part of a reservation the caller owns, and nothing may hold a reference
/// into it: its pages are replaced. `bytes` must lie in the executable's read-only image
/// (or anywhere else, in which case nothing is mapped).
pub(crate) unsafe fn map_private(dst: *mut u8, bytes: &[u8]) -> bool {
    let page = crate::memory::page_size();
    let len = bytes.len();
    if len == 0 || !len.is_multiple_of(page) || !(dst as usize).is_multiple_of(page) {
        return false;
    }
    let Some(offset) = file_offset(&read_only_loads(), bytes.as_ptr() as usize, len) else {
        return false;
    };
    if !offset.is_multiple_of(page as u64) {
        return false;
    }
    let Some(exe) = Exe::open() else {
        return false;
    };
    // The program headers place the bytes there; a cheap look at the file confirms it
    // (a wrong load bias would otherwise map the wrong bytes).
    if !exe.holds(offset, bytes) {
        return false;
    }
    // SAFETY: per the contract the range is page-aligned and inside the caller's own
    // accessible reservation, which MAP_FIXED replaces and nothing else uses.
    let mapped = unsafe {
        libc::mmap(
            dst.cast(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_FIXED,
            exe.0,
            offset as libc::off_t,
        )
    };
    if mapped == dst.cast() {
        return true;
    }
    if mapped != libc::MAP_FAILED {
        // A kernel that ignored MAP_FIXED: undo the stray mapping.
        // SAFETY: the mapping just made, of `len` bytes, that nothing refers to.
        unsafe { libc::munmap(mapped, len) };
    }
    // SAFETY: as above.
    unsafe { restore_anonymous(dst, len) };
    false
}

/// Puts fresh zero pages back at `dst`: a failed MAP_FIXED may already have unmapped the
/// range, and a hole in a reservation would let the kernel place another mapping inside
/// the memory. Zero is what a memory being instantiated holds there (the caller copies the
/// segment over them next); a failure leaves nothing sound to continue with.
///
/// # Safety
/// As [`map_private`].
unsafe fn restore_anonymous(dst: *mut u8, len: usize) {
    // SAFETY: per the contract, the range is the caller's own.
    let p = unsafe {
        libc::mmap(
            dst as *mut c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    };
    if p != dst.cast() {
        eprintln!(
            "aot runtime: cannot restore memory pages: {}",
            std::io::Error::last_os_error()
        );
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_found_only_inside_a_segment() {
        let loads = [
            Load {
                start: 0x1000,
                end: 0x3000,
                offset: 0,
            },
            Load {
                start: 0x10000,
                end: 0x18000,
                offset: 0x5000,
            },
        ];
        assert_eq!(file_offset(&loads, 0x1000, 0x2000), Some(0));
        assert_eq!(file_offset(&loads, 0x12000, 0x1000), Some(0x7000));
        assert_eq!(file_offset(&loads, 0x2000, 0x2000), None, "past the end");
        assert_eq!(file_offset(&loads, 0x8000, 0x10), None, "between");
        assert_eq!(file_offset(&loads, usize::MAX, 2), None);
    }

    const IMAGE_LEN: usize = 3 * 4096;

    /// Page-aligned, non-zero bytes in the test executable's read-only image.
    #[repr(C, align(65536))]
    struct Aligned([u8; IMAGE_LEN]);

    static IMAGE: Aligned = Aligned(pattern());

    const fn pattern() -> [u8; IMAGE_LEN] {
        let mut a = [0u8; IMAGE_LEN];
        let mut i = 0;
        while i < IMAGE_LEN {
            a[i] = (i % 251) as u8 + 1;
            i += 1;
        }
        a
    }

    fn one_page_memory() -> crate::memory::Memory {
        crate::memory::Memory::new(
            &aot_abi::MemoryType {
                min: 1,
                max: None,
                shared: false,
                memory64: false,
                page_size_log2: 16,
            },
            aot_abi::BoundsMode::Explicit,
        )
        .unwrap()
    }

    #[test]
    fn read_only_bytes_of_the_executable_are_mapped_copy_on_write() {
        if crate::memory::page_size() != 4096 {
            return; // IMAGE is sized for 4 KiB pages.
        }
        let mut mem = one_page_memory();
        let base = mem.as_slice_mut().as_mut_ptr();
        // SAFETY: the memory's first three pages, accessible and not otherwise referenced.
        assert!(unsafe { map_private(base, &IMAGE.0) }, "mapped");
        assert!(mem.as_slice()[..IMAGE_LEN] == IMAGE.0, "reads as the image");
        assert!(mem.as_slice()[IMAGE_LEN..].iter().all(|b| *b == 0));
        mem.as_slice_mut()[5] = 0;
        mem.as_slice_mut()[IMAGE_LEN - 1] = 0;
        assert_eq!(IMAGE.0[5], 6, "writes stay private");
        let offset = file_offset(&read_only_loads(), IMAGE.0.as_ptr() as usize, IMAGE_LEN)
            .expect("in the image");
        let exe = Exe::open().expect("/proc/self/exe");
        assert!(exe.holds(offset, &IMAGE.0), "the file is unchanged");
        assert_eq!(mem.as_slice()[4], 5);
    }

    #[test]
    fn bytes_outside_the_executable_image_are_not_mapped() {
        let page = crate::memory::page_size();
        let heap = vec![7u8; 2 * page];
        let mut dst = one_page_memory();
        let base = dst.as_slice_mut().as_mut_ptr();
        // SAFETY: the memory's first page(s), accessible and not otherwise referenced.
        let aligned = &heap[heap.as_ptr().align_offset(page)..][..page];
        assert!(!unsafe { map_private(base, aligned) });
        assert!(dst.as_slice().iter().all(|b| *b == 0));
    }
}
