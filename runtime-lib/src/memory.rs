//! Linear memories: one address-space reservation per memory, made accessible page by page.
//!
//! A [`Memory`] reserves its whole address range once (`PROT_NONE`, `MAP_NORESERVE`, so
//! nothing is committed) and makes `[0, current_length)` read-write; `memory.grow` only
//! changes protections. So the base never moves, which generated code relies on (it may
//! hoist the base load), and in `BoundsMode::GuardPages` an out-of-bounds access lands on an
//! inaccessible page and faults at a recorded trap site.
//!
//! Reservation size: `GUARDED_RESERVATION` (4 GiB index space plus the guard region) for a
//! memory whose accesses go unchecked (`BoundsMode::guarded`: 32-bit, 64 KiB pages,
//! `GuardPages` mode); otherwise (explicit bounds checks) the declared maximum, capped at
//! [`EXPLICIT_RESERVATION_CAP`] ([`MEMORY64_RESERVATION_CAP`] for a 64-bit memory) but
//! never below the minimum. A memory cannot grow past its reservation: such a grow fails
//! like one the OS refuses.
//!
//! Sizes are in the memory's own pages (64 KiB, or one byte with custom page sizes); only
//! protections change in host pages, so the bytes between a one-byte-page memory's end and
//! the end of its last host page are accessible, which is why such memories are checked.
//!
//! The `VMMemoryDef` that generated code reads lives in a `Box`, so its address is stable
//! for the memory's life and can be stored in a vmctx (defined memories copy it; imports
//! point to it).
//!
//! Placement: anywhere the kernel chooses, or, for a memory 0 the compiled code assumes at
//! `aot_abi::fixed_memory0_base` ([`Placement::Fixed`]), exactly there with
//! `MAP_FIXED_NOREPLACE`, or not at all: such code has the address baked in, so a memory
//! anywhere else would be silently wrong.
//!
//! A memory 0 whose code folds 32-bit address sums into its accesses
//! (`aot_abi::MODULE_FLAG_MEMORY0_FOLDED`, [`Placement::Fixed`] with `folded`) reserves
//! `aot_abi::FOLDED_RESERVATION` instead and stays one page below 4 GiB; it is published in
//! [`folded_memory`] for the fault handler (`crate::folded`).
//!
//! The bulk operations (memory.copy/init) are methods here; they check every bound
//! before writing anything, as the spec requires, and fail with `MemoryOutOfBounds`.

use core::ffi::c_void;
use core::ops::Range;
use core::ptr::{self, NonNull};

use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use aot_abi::{
    BoundsMode, FOLDED_MAX_PAGES, FOLDED_RESERVATION, GUARDED_RESERVATION, MemoryType, TrapKind,
    VMMemoryDef,
};

use crate::Locked;

/// Largest reservation for a memory with explicit bounds checks (and no smaller declared
/// maximum). 4 GiB covers every 32-bit memory.
pub const EXPLICIT_RESERVATION_CAP: u64 = 4 << 30;

/// Largest reservation for a 64-bit memory (and no smaller declared maximum): such a memory
/// can grow past 4 GiB, up to this. It is reserved whole when the memory is created, so it
/// stays close to the guarded reservation of a 32-bit memory (6 GiB): under qemu, reserved
/// address space costs memory.
pub const MEMORY64_RESERVATION_CAP: u64 = 8 << 30;

/// Reads `def`'s length. An atomic access because other threads read it while one grows
/// a shared memory (generated code reads it with a plain 64-bit load, which is atomic on
/// both targets); Acquire pairs with [`store_length`]'s Release, so a thread that sees the
/// new length also sees the pages made accessible before it.
///
/// # Safety
/// `def` must be a live `VMMemoryDef` (every one the runtime hands out lives as long as its
/// memory), whose length field is accessed only through these two functions and generated
/// code's aligned loads.
pub(crate) unsafe fn load_length(def: *mut VMMemoryDef) -> u64 {
    // SAFETY: per the contract; the u64 field is 8-byte aligned (repr(C) after a pointer).
    unsafe { AtomicU64::from_ptr(core::ptr::addr_of_mut!((*def).current_length)) }
        .load(Ordering::Acquire)
}

/// Writes `def`'s length (see [`load_length`]).
///
/// # Safety
/// As for [`load_length`].
pub(crate) unsafe fn store_length(def: *mut VMMemoryDef, len: u64) {
    // SAFETY: as in `load_length`.
    unsafe { AtomicU64::from_ptr(core::ptr::addr_of_mut!((*def).current_length)) }
        .store(len, Ordering::Release)
}

/// Bytes past every reservation that stay inaccessible for the memory's life.
const TRAILING_GUARD: usize = 64 << 10;

/// Where a memory's reservation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the kernel finds room.
    Anywhere,
    /// At [`fixed_memory0_base`], which the module's code uses as memory 0's base
    /// (`aot_abi::MODULE_FLAG_MEMORY0_FIXED`); only for a guarded memory. `folded`: the
    /// code also folds address sums (`aot_abi::MODULE_FLAG_MEMORY0_FOLDED`).
    Fixed { folded: bool },
}

/// The memory whose code folds address sums, if one exists: at most one per process, as
/// it lives at the fixed base. Read by the fault handler (`crate::folded`).
static FOLDED_MEMORY: AtomicPtr<VMMemoryDef> = AtomicPtr::new(ptr::null_mut());

/// The base and current length of the memory whose code folds address sums, if any.
/// Async-signal-safe.
pub(crate) fn folded_memory() -> Option<(usize, u64)> {
    let def = FOLDED_MEMORY.load(Ordering::Acquire);
    if def.is_null() {
        return None;
    }
    // SAFETY: the pointer is published only while its memory lives (cleared in `Drop`
    // before the definition is freed), and the memory is never shared with another thread.
    unsafe { Some(((*def).base as usize, load_length(def))) }
}

pub struct Memory {
    /// A leaked `Box`, freed in `Drop`. Generated code and builtins reach it through the
    /// pointer [`Memory::def`] hands out, so this side too only uses raw-pointer accesses
    /// (never a long-lived reference that such writes could invalidate).
    def: NonNull<VMMemoryDef>,
    /// Start of the reservation; the same as `def.base`, for the life of the memory.
    base: *mut u8,
    /// Bytes reserved at `base`.
    reserved: usize,
    ty: MemoryType,
    /// Pages this memory may never exceed: the declared maximum or the index-space limit.
    max_pages: u64,
}

// SAFETY: a Memory exclusively owns its reservation and its VMMemoryDef; the raw pointers
// are only addresses of those, so moving the owner to another thread is sound.
unsafe impl Send for Memory {}

impl Memory {
    /// Reserves and maps a memory of type `ty` with `ty.min` pages accessible.
    pub fn new(ty: &MemoryType, mode: BoundsMode) -> Result<Memory, String> {
        Memory::new_at(ty, mode, Placement::Anywhere)
    }

    /// [`Memory::new`], with the reservation placed as `placement` says.
    pub fn new_at(
        ty: &MemoryType,
        mode: BoundsMode,
        placement: Placement,
    ) -> Result<Memory, String> {
        let folded = matches!(placement, Placement::Fixed { folded: true });
        let mut max_pages = ty.max.unwrap_or(u64::MAX).min(ty.max_index_pages());
        if folded {
            max_pages = max_pages.min(FOLDED_MAX_PAGES);
        }
        if ty.min > max_pages {
            return Err(format!(
                "memory minimum of {} pages exceeds its maximum of {max_pages} pages",
                ty.min
            ));
        }
        // Cannot overflow: min <= max_index_pages, whose bytes fit in 64 bits.
        let min_bytes = ty.min << ty.page_size_log2;
        let reserve = if folded {
            FOLDED_RESERVATION
        } else if mode.guarded(ty) {
            GUARDED_RESERVATION
        } else {
            let cap = if ty.memory64 {
                MEMORY64_RESERVATION_CAP
            } else {
                EXPLICIT_RESERVATION_CAP
            };
            max_pages
                .checked_mul(ty.page_size())
                .map_or(cap, |b| b.min(cap))
                .max(min_bytes)
        };
        // A zero-sized memory still gets one inaccessible page, so its base is a real,
        // unique address.
        let reserved = usize::try_from(reserve)
            .ok()
            .and_then(|r| r.checked_next_multiple_of(page_size()))
            .ok_or_else(|| format!("memory of {} pages does not fit the address space", ty.min))?
            .max(page_size());
        // A trailing inaccessible region that is never made accessible: whatever the kernel
        // maps next to the reservation, an access just past it faults.
        let mapped = reserved + TRAILING_GUARD;
        let base = match placement {
            Placement::Anywhere => reserve_anywhere(mapped).map_err(|e| {
                format!("cannot reserve {reserved} bytes of address space for a memory: {e}")
            })?,
            Placement::Fixed { .. } => {
                if !mode.guarded(ty) {
                    return Err(
                        "memory 0 is compiled for a fixed address but is not a guarded memory"
                            .into(),
                    );
                }
                if folded && ty.shared {
                    return Err(
                        "memory 0 is compiled with folded address sums but is shared".into(),
                    );
                }

                let at = fixed_memory0_base();
                reserve_fixed(at, mapped).map_err(|e| {
                    format!(
                        "cannot place memory 0 at its fixed address {at:#x} ({mapped} bytes of \
                         address space), which this executable's code was compiled for: {e}"
                    )
                })?
            }
        };
        let def = Box::new(VMMemoryDef {
            base: base as *mut u8,
            current_length: 0,
        });
        let mut mem = Memory {
            def: NonNull::from(Box::leak(def)),
            base: base as *mut u8,
            reserved,
            ty: *ty,
            max_pages,
        };
        // On failure `mem` is dropped, which unmaps the reservation.
        mem.make_accessible(0, min_bytes)
            .map_err(|e| format!("cannot map {} pages of memory: {e}", ty.min))?;
        mem.set_length(min_bytes);
        if folded {
            FOLDED_MEMORY.store(mem.def.as_ptr(), Ordering::Release);
        }
        Ok(mem)
    }

    /// Makes `[from, to)` of the reservation read-write, widened to whole host pages.
    fn make_accessible(&mut self, from: u64, to: u64) -> Result<(), std::io::Error> {
        if to <= from {
            return Ok(());
        }
        if to > self.reserved as u64 {
            return Err(std::io::Error::from_raw_os_error(libc::ENOMEM));
        }
        let host_page = page_size() as u64;
        let from = from - from % host_page;
        // The reservation is a whole number of host pages, so this stays inside it.
        let to = to.next_multiple_of(host_page);
        // SAFETY: [from, to) lies inside our reservation (checked above) and `from` is a
        // multiple of the host page size.
        let rc = unsafe {
            libc::mprotect(
                self.base.add(from as usize) as *mut c_void,
                (to - from) as usize,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// The record generated code reads; its address is stable for the memory's life.
    pub fn def(&self) -> *mut VMMemoryDef {
        self.def.as_ptr()
    }

    fn length(&self) -> u64 {
        // SAFETY: `def` is this memory's own live allocation.
        unsafe { load_length(self.def.as_ptr()) }
    }

    fn set_length(&mut self, len: u64) {
        // SAFETY: as in `length`.
        unsafe { store_length(self.def.as_ptr(), len) }
    }

    /// `memory.grow`: returns the old size in pages, or None when the new size would pass
    /// the declared maximum or the index-space limit, or the memory cannot be mapped.
    pub fn grow(&mut self, delta_pages: u64) -> Option<u64> {
        let old = self.size_pages();
        let new = old
            .checked_add(delta_pages)
            .filter(|n| *n <= self.max_pages)?;
        let old_len = self.length();
        let new_len = new << self.ty.page_size_log2;
        self.make_accessible(old_len, new_len).ok()?;
        self.set_length(new_len);
        Some(old)
    }

    pub fn size_pages(&self) -> u64 {
        self.length() >> self.ty.page_size_log2
    }

    /// The declared type (its `min` is not updated by grow).
    pub fn ty(&self) -> &MemoryType {
        &self.ty
    }

    /// The accessible bytes.
    pub fn as_slice_mut(&mut self) -> &mut [u8] {
        // SAFETY: [base, base + current_length) is mapped read-write and owned by this
        // memory; the &mut self borrow keeps host-side aliases out for the slice's life
        // (generated code does not run while the host holds it).
        unsafe { core::slice::from_raw_parts_mut(self.base, self.length() as usize) }
    }

    /// The accessible bytes, read-only.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: as in `as_slice_mut`; the shared borrow excludes host-side writes.
        unsafe { core::slice::from_raw_parts(self.base, self.length() as usize) }
    }

    /// memory.copy within this memory (the ranges may overlap: a memmove).
    pub fn copy_within(&mut self, dst: u64, src: u64, len: u64) -> Result<(), TrapKind> {
        let d = checked_range(dst, len, self.length())?;
        let s = checked_range(src, len, self.length())?;
        self.as_slice_mut().copy_within(s, d.start);
        Ok(())
    }

    /// memory.copy from another memory.
    pub fn copy_from(
        &mut self,
        src_memory: &Memory,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapKind> {
        let d = checked_range(dst, len, self.length())?;
        let s = checked_range(src, len, src_memory.length())?;
        self.as_slice_mut()[d].copy_from_slice(&src_memory.as_slice()[s]);
        Ok(())
    }

    /// memory.copy between memories that may be one and the same: a module can import one
    /// memory twice, or name its own memory as both source and destination.
    pub fn copy(
        dst_memory: &Mutex<Memory>,
        src_memory: &Mutex<Memory>,
        dst: u64,
        src: u64,
        len: u64,
    ) -> Result<(), TrapKind> {
        if core::ptr::eq(dst_memory, src_memory) {
            return dst_memory.locked().copy_within(dst, src, len);
        }
        let (mut d, s) = crate::lock_pair(dst_memory, src_memory);
        d.copy_from(&s, dst, src, len)
    }

    /// memory.init from the bytes of a data segment (empty once dropped).
    pub fn init(&mut self, dst: u64, segment: &[u8], src: u64, len: u64) -> Result<(), TrapKind> {
        let s = checked_range(src, len, segment.len() as u64)?;
        let d = checked_range(dst, len, self.length())?;
        self.as_slice_mut()[d].copy_from_slice(&segment[s]);
        Ok(())
    }
}

impl Memory {
    /// An active data segment's initialisation, which is memory.init of the whole segment at
    /// `dst`: the host pages it covers whole are mapped copy-on-write from the executable
    /// when its bytes are laid out for that (`crate::image`), the rest is copied. The
    /// bounds are checked first, as memory.init checks them.
    ///
    /// Not for shared memories: other threads may be using the pages, and a shared memory's
    /// segments are passive in practice (initialised once, by the module's own code).
    pub fn init_active(&mut self, dst: u64, segment: &[u8]) -> Result<(), TrapKind> {
        let d = checked_range(dst, segment.len() as u64, self.length())?;
        if !self.ty.shared && segment.len() as u64 >= aot_abi::DATA_IMAGE_MIN_LEN {
            let page = page_size();
            let first = d.start.next_multiple_of(page);
            let last = d.end - d.end % page;
            if first < last {
                let head = first - d.start;
                let whole = &segment[head..head + (last - first)];
                // SAFETY: [first, last) is page-aligned and inside the accessible length
                // (checked above); the memory is not shared, so no other thread's code uses
                // it, and `&mut self` keeps host references out while its pages change.
                if unsafe { crate::image::map_private(self.base.add(first), whole) } {
                    let tail = head + (last - first);
                    let mem = self.as_slice_mut();
                    mem[d.start..first].copy_from_slice(&segment[..head]);
                    mem[last..d.end].copy_from_slice(&segment[tail..]);
                    return Ok(());
                }
            }
        }
        self.as_slice_mut()[d].copy_from_slice(segment);
        Ok(())
    }
}

/// Memory 0's fixed address on this target (`aot_abi::MODULE_FLAG_MEMORY0_FIXED`).
pub fn fixed_memory0_base() -> usize {
    aot_abi::fixed_memory0_base(aot_abi::Arch::NATIVE) as usize
}

/// A fresh inaccessible, uncommitted reservation of `len` bytes where the kernel chooses.
fn reserve_anywhere(len: usize) -> Result<*mut c_void, std::io::Error> {
    // SAFETY: a fresh private anonymous mapping at an address of the kernel's choosing;
    // nothing else is affected.
    let base = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(base)
    }
}

/// A fresh inaccessible, uncommitted reservation of `len` bytes at exactly `addr`, or an
/// error if any part of that range is already mapped, which is left as it was (memory 0 at
/// its fixed base, see `aot_abi::fixed_memory0_base` for why that range is free; the main
/// thread's stack guard, in the part of the stack not grown yet).
pub(crate) fn reserve_fixed(addr: usize, len: usize) -> Result<*mut c_void, String> {
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping: it fails, or (a
    // kernel before 4.17, or qemu-user when the range is taken) treats the address as a
    // hint, which is checked below.
    let base = unsafe {
        libc::mmap(
            addr as *mut c_void,
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE
                | libc::MAP_ANONYMOUS
                | libc::MAP_NORESERVE
                | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EEXIST) {
            "part of the range is already in use".into()
        } else {
            e.to_string()
        });
    }
    if base as usize != addr {
        // SAFETY: `base` is the mapping just made elsewhere, used by nothing.
        unsafe { libc::munmap(base, len) };
        return Err("part of the range is already in use".into());
    }
    Ok(base)
}

/// `start..start+len` if it lies within `0..size` (a zero-length range may start at `size`),
/// else a MemoryOutOfBounds trap.
pub(crate) fn checked_range(start: u64, len: u64, size: u64) -> Result<Range<usize>, TrapKind> {
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start as usize..end as usize),
        _ => Err(TrapKind::MemoryOutOfBounds),
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // Unpublished before the definition is freed (see `folded_memory`).
        let _ = FOLDED_MEMORY.compare_exchange(
            self.def.as_ptr(),
            ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        // SAFETY: the reservation was mapped by `new` with exactly this base and length,
        // and `def` came from `Box::leak` there; nothing refers to either once the owner
        // is gone.
        unsafe {
            libc::munmap(self.base as *mut c_void, self.reserved + TRAILING_GUARD);
            drop(Box::from_raw(self.def.as_ptr()));
        }
    }
}

/// The host page size.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::test_code::aot_rt_test_load32;
    use crate::trap::call_guarded;
    use crate::trap::tests::{LOAD32, fake_module, trap_pc};
    use aot_abi::WASM_PAGE_SIZE;

    fn mem_type(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            min,
            max,
            shared: false,
            memory64: false,
            page_size_log2: 16,
        }
    }

    /// Loads a u32 at `addr` through the fake module's load (a recorded trap site).
    fn guarded_load(addr: *const u8) -> Result<u32, crate::trap::Trap> {
        let mut v = 0;
        call_guarded(|| {
            // SAFETY: test code; a fault is caught by the guarded call.
            v = unsafe { aot_rt_test_load32(ptr::null_mut(), addr) }
        })?;
        Ok(v)
    }

    #[test]
    fn grow_respects_the_declared_maximum() {
        for mode in [BoundsMode::GuardPages, BoundsMode::Explicit] {
            let mut m = Memory::new(&mem_type(1, Some(3)), mode).unwrap();
            assert_eq!(m.size_pages(), 1);
            assert_eq!(m.as_slice_mut().len(), 65536);
            assert_eq!(m.grow(1), Some(1));
            assert_eq!(m.grow(2), None);
            assert_eq!(m.size_pages(), 2);
            assert_eq!(m.grow(1), Some(2));
            assert_eq!(m.grow(0), Some(3));
            assert_eq!(m.grow(1), None);
            assert_eq!(m.grow(u64::MAX), None);
            assert_eq!(m.ty(), &mem_type(1, Some(3)));
            // SAFETY: def points at the memory's live record.
            let def = unsafe { &*m.def() };
            assert_eq!(def.current_length, 3 * 65536);
        }
    }

    #[test]
    fn grow_stops_at_the_32_bit_index_space() {
        let mut m = Memory::new(&mem_type(0, None), BoundsMode::Explicit).unwrap();
        assert_eq!(m.size_pages(), 0);
        assert_eq!(m.grow(65537), None);
        assert_eq!(m.grow(2), Some(0));
        assert_eq!(m.grow(65535), None);
        assert_eq!(m.size_pages(), 2);
    }

    #[test]
    fn base_is_stable_and_contents_survive_grow() {
        let mut m = Memory::new(&mem_type(1, None), BoundsMode::GuardPages).unwrap();
        let def = m.def();
        // SAFETY: def points at the memory's live record.
        let base = unsafe { (*def).base };
        m.as_slice_mut()[65535] = 7;
        assert_eq!(m.grow(4), Some(1));
        assert_eq!(m.def(), def);
        // SAFETY: as above.
        assert_eq!(unsafe { (*def).base }, base);
        let s = m.as_slice_mut();
        assert_eq!(s.len(), 5 * 65536);
        assert_eq!(s[65535], 7);
        assert!(s[65536..].iter().all(|b| *b == 0));
        s[5 * 65536 - 1] = 1;
    }

    /// The fixed placement puts the reservation exactly at the contract's address, faults
    /// past the length are out-of-bounds traps there too, and a second memory cannot take
    /// the same range (nor move elsewhere): the only test here that uses the address.
    #[test]
    fn fixed_placement_is_exact_exclusive_and_traps_past_the_length() {
        let desc = fake_module();
        let ty = mem_type(1, None);
        let mut m = Memory::new_at(
            &ty,
            BoundsMode::GuardPages,
            Placement::Fixed { folded: false },
        )
        .unwrap();
        // SAFETY: def points at the memory's live record.
        let base = unsafe { (*m.def()).base };
        assert_eq!(base as usize, fixed_memory0_base());
        m.as_slice_mut()[65532..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(guarded_load(base.wrapping_add(65532)), Ok(0x0403_0201));
        let trap = guarded_load(base.wrapping_add(65536)).unwrap_err();
        assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
        assert_eq!(trap.pc, trap_pc(desc, LOAD32));
        assert_eq!(m.grow(1), Some(1));
        assert_eq!(guarded_load(base.wrapping_add(65536)), Ok(0));
        let far = base.wrapping_add((GUARDED_RESERVATION - 4) as usize);
        assert_eq!(
            guarded_load(far).unwrap_err().kind,
            TrapKind::MemoryOutOfBounds
        );

        let e = Memory::new_at(
            &ty,
            BoundsMode::GuardPages,
            Placement::Fixed { folded: false },
        )
        .err()
        .unwrap();
        assert!(
            e.starts_with(&format!(
                "cannot place memory 0 at its fixed address {:#x}",
                fixed_memory0_base()
            )) && e.ends_with("part of the range is already in use"),
            "{e}"
        );
        let e = Memory::new_at(
            &ty,
            BoundsMode::Explicit,
            Placement::Fixed { folded: false },
        )
        .err()
        .unwrap();
        assert!(e.contains("not a guarded memory"), "{e}");
        drop(m);
        // Freed with its memory, the range can be had again.
        let again = Memory::new_at(
            &ty,
            BoundsMode::GuardPages,
            Placement::Fixed { folded: false },
        )
        .unwrap();
        // SAFETY: def points at the memory's live record.
        assert_eq!(
            unsafe { (*again.def()).base } as usize,
            fixed_memory0_base()
        );
    }

    #[test]
    fn zero_sized_memories_have_a_base() {
        let m = Memory::new(&mem_type(0, Some(0)), BoundsMode::Explicit).unwrap();
        // SAFETY: def points at the memory's live record.
        let def = unsafe { &*m.def() };
        assert!(!def.base.is_null());
        assert_eq!(def.current_length, 0);
    }

    #[test]
    fn invalid_types_are_errors() {
        let e = Memory::new(&mem_type(4, Some(2)), BoundsMode::GuardPages)
            .err()
            .unwrap();
        assert!(e.contains("exceeds its maximum"), "{e}");
        let e = Memory::new(&mem_type(70000, None), BoundsMode::GuardPages)
            .err()
            .unwrap();
        assert!(e.contains("exceeds its maximum of 65536 pages"), "{e}");
    }

    #[test]
    fn access_past_the_length_traps_until_grown() {
        let desc = fake_module();
        for mode in [BoundsMode::GuardPages, BoundsMode::Explicit] {
            let mut m = Memory::new(&mem_type(1, Some(2)), mode).unwrap();
            m.as_slice_mut()[65532..].copy_from_slice(&[1, 2, 3, 4]);
            // SAFETY: def points at the memory's live record.
            let base = unsafe { (*m.def()).base };
            assert_eq!(guarded_load(base.wrapping_add(65532)), Ok(0x0403_0201));
            let trap = guarded_load(base.wrapping_add(65536)).unwrap_err();
            assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
            assert_eq!(trap.pc, trap_pc(desc, LOAD32));
            // Straddling the end also faults.
            let trap = guarded_load(base.wrapping_add(65534)).unwrap_err();
            assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
            assert_eq!(m.grow(1), Some(1));
            assert_eq!(guarded_load(base.wrapping_add(65536)), Ok(0));
            assert_eq!(guarded_load(base.wrapping_add(65534)), Ok(0x0403));
            let trap = guarded_load(base.wrapping_add(2 * 65536)).unwrap_err();
            assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
        }
    }

    #[test]
    fn guarded_reservation_covers_the_whole_index_space() {
        let m = Memory::new(&mem_type(1, Some(1)), BoundsMode::GuardPages).unwrap();
        assert_eq!(m.reserved as u64, GUARDED_RESERVATION);
        // SAFETY: def points at the memory's live record.
        let base = unsafe { (*m.def()).base };
        // The farthest address a 32-bit index plus offset below the guard size can reach
        // is reserved, inaccessible, and faults at the trap site.
        let far = base.wrapping_add((GUARDED_RESERVATION - 4) as usize);
        assert_eq!(
            guarded_load(far).unwrap_err().kind,
            TrapKind::MemoryOutOfBounds
        );
        let explicit = Memory::new(&mem_type(1, Some(3)), BoundsMode::Explicit).unwrap();
        assert_eq!(explicit.reserved as u64, 3 * WASM_PAGE_SIZE);
    }

    #[test]
    fn one_byte_pages_count_bytes_and_get_no_guard_reservation() {
        let ty = MemoryType {
            page_size_log2: 0,
            ..mem_type(3, None)
        };
        let mut m = Memory::new(&ty, BoundsMode::GuardPages).unwrap();
        assert_eq!(m.size_pages(), 3);
        assert_eq!(m.as_slice().len(), 3);
        assert_eq!(m.grow(5), Some(3));
        assert_eq!(m.as_slice().len(), 8);
        assert_eq!(m.init(7, &[1], 0, 1), Ok(()));
        assert_eq!(m.init(8, &[1], 0, 1), OOB);
        // Accesses are checked explicitly, so the reservation is what it may grow to.
        assert_eq!(m.reserved as u64, EXPLICIT_RESERVATION_CAP);
        assert_eq!(m.grow(EXPLICIT_RESERVATION_CAP), None);
    }

    #[test]
    fn memory64_grows_past_4_gib_up_to_its_reservation() {
        let ty = MemoryType {
            memory64: true,
            ..mem_type(1, None)
        };
        let mut m = Memory::new(&ty, BoundsMode::GuardPages).unwrap();
        assert_eq!(m.reserved as u64, MEMORY64_RESERVATION_CAP);
        assert_eq!(m.grow(1 << 16), Some(1));
        assert_eq!(m.size_pages(), (1 << 16) + 1);
        let past_4_gib = (4 << 30) + 5;
        assert_eq!(m.init(past_4_gib, &[9], 0, 1), Ok(()));
        assert_eq!(m.as_slice()[past_4_gib as usize], 9);
        assert_eq!(m.grow(MEMORY64_RESERVATION_CAP >> 16), None);
        assert_eq!(m.grow(u64::MAX), None);
        let bounded = MemoryType {
            memory64: true,
            ..mem_type(1, Some(2))
        };
        let m = Memory::new(&bounded, BoundsMode::GuardPages).unwrap();
        assert_eq!(
            m.reserved as u64,
            2 * WASM_PAGE_SIZE,
            "the declared maximum"
        );
    }

    const OOB: Result<(), TrapKind> = Err(TrapKind::MemoryOutOfBounds);

    fn one_page() -> Memory {
        Memory::new(&mem_type(1, None), BoundsMode::Explicit).unwrap()
    }

    #[test]
    fn ranges_allow_zero_length_at_the_end_only() {
        assert_eq!(checked_range(0, 10, 10), Ok(0..10));
        assert_eq!(checked_range(10, 0, 10), Ok(10..10));
        assert_eq!(checked_range(11, 0, 10), Err(TrapKind::MemoryOutOfBounds));
        assert_eq!(checked_range(5, 6, 10), Err(TrapKind::MemoryOutOfBounds));
        assert_eq!(
            checked_range(u64::MAX, 2, 10),
            Err(TrapKind::MemoryOutOfBounds)
        );
    }

    #[test]
    fn copy_within_is_a_memmove() {
        let mut m = one_page();
        m.as_slice_mut()[10..15].copy_from_slice(&[1, 2, 3, 4, 5]);
        assert_eq!(m.copy_within(11, 10, 4), Ok(()));
        assert_eq!(m.as_slice()[10..15], [1, 1, 2, 3, 4]);
        assert_eq!(m.copy_within(10, 11, 4), Ok(()));
        assert_eq!(m.as_slice()[10..15], [1, 2, 3, 4, 4]);
        let end = WASM_PAGE_SIZE;
        assert_eq!(m.copy_within(end - 2, 10, 3), OOB);
        assert_eq!(m.copy_within(10, end - 2, 3), OOB);
        assert_eq!(m.copy_within(end, end, 0), Ok(()));
        assert_eq!(m.copy_within(0, u64::MAX, 2), OOB);
        assert_eq!(m.as_slice()[10..15], [1, 2, 3, 4, 4]);
    }

    #[test]
    fn copy_between_memories_and_within_one_under_two_names() {
        let a = Mutex::new(one_page());
        let b = Mutex::new(Memory::new(&mem_type(2, None), BoundsMode::Explicit).unwrap());
        b.locked().as_slice_mut()[..3].copy_from_slice(&[4, 5, 6]);
        assert_eq!(Memory::copy(&a, &b, 1, 0, 3), Ok(()));
        assert_eq!(a.locked().as_slice()[..4], [0, 4, 5, 6]);
        assert_eq!(Memory::copy(&a, &a, 0, 1, 3), Ok(()), "no double borrow");
        assert_eq!(a.locked().as_slice()[..4], [4, 5, 6, 6]);
        assert_eq!(
            Memory::copy(&a, &b, 0, 2 * WASM_PAGE_SIZE - 1, 2),
            OOB,
            "past the source"
        );
        assert_eq!(
            Memory::copy(&a, &b, WASM_PAGE_SIZE - 1, 0, 2),
            OOB,
            "past the destination"
        );
        assert_eq!(a.locked().as_slice()[WASM_PAGE_SIZE as usize - 1], 0);
    }

    #[test]
    fn init_checks_segment_and_memory_bounds() {
        let mut m = one_page();
        let end = WASM_PAGE_SIZE;
        assert_eq!(m.init(100, b"wxyz", 1, 3), Ok(()));
        assert_eq!(m.as_slice()[100..103], *b"xyz");
        assert_eq!(m.init(0, b"wxyz", 2, 3), OOB, "past the segment");
        assert_eq!(m.init(end - 1, b"wxyz", 0, 2), OOB, "past the memory");
        assert_eq!(
            m.init(end, b"wxyz", 4, 0),
            Ok(()),
            "zero length at both ends"
        );
        assert_eq!(m.init(0, b"", 0, 1), OOB, "a dropped segment has length 0");
        assert_eq!(m.as_slice()[0], 0);
    }
}
