//! The GC heap of a store: allocation of Wasm GC objects, and the collector that frees
//! them (the object layout and reference words are `aot_abi::gc`'s).
//!
//! **Algorithm: a semispace copying collector (Cheney) beside a non-moving large-object
//! space.** Managed-language programs allocate mostly short-lived objects, so a collection
//! should cost in proportion to what survives, not to what died: copying touches only live
//! objects, compacts them for free (memory stays bounded however much a program churns),
//! lets generated code allocate by bumping a pointer (`VMStoreContext::gc_top`, inline, no
//! free lists), and frees cycles like everything else unreachable. Objects of
//! `GC_LARGE_OBJECT_BYTES` or more are not worth copying: they live in their own
//! allocations, are marked in place (bit 1 of the header) and freed when unmarked.
//!
//! **Roots are exact**: the references in Wasm frames that Cranelift's stack maps record
//! (the caller hands them to [`Heap::collect`] through a visitor, and they are rewritten
//! when their objects move), the reference globals, tables and element segments registered
//! with [`Heap::add_root`], the host's own temporary roots ([`Heap::host_roots`]), and the
//! uncaught exception a host-call trampoline has yet to rethrow
//! (`crate::exceptions::visit_roots`). Exceptions are GC objects too (kind `GC_KIND_EXN`),
//! traced like structs through their tag type's info.
//!
//! **Sizing**: after a collection that leaves `L` live bytes the next allocation window
//! gives room for `max(GROWTH * L, L + MIN_WINDOW)`, so collection work per allocated
//! byte stays at most `1 / (GROWTH - 1)` and a program with a small live set stays small.
//! The space the window lives in is kept for the next collection's copy (zeroed where it
//! was used before) unless it is far too big or too small; the whole heap (live copying
//! space and large objects) never exceeds the store's maximum, past which an allocation
//! fails with `GcHeapOutOfMemory`.
//!
//! **Stress mode** (`AOT_GC_STRESS=1` in the host environment of a produced executable,
//! for tests): every allocation that leaves generated code collects, and the space objects
//! were copied from is unmapped at once, so a reference the stack maps missed faults at
//! its next use instead of reading a stale copy.
//!
//! `AOT_GC_MAX_HEAP=<bytes>` (tests) lowers the maximum heap below the program's.
//!
//! `AOT_GC_STATS=1` makes the program print one line of figures to stderr at exit
//! ([`print_stats_if_asked`]), for the GC benchmarks.
//!
//! GC objects never cross threads: wasi-threads programs with GC types are refused at
//! compile time, so a heap is used by the one thread of its store.

use core::ptr;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aot_abi::gc::{
    GC_ALIGN, GC_ARRAY_DATA, GC_ARRAY_LEN, GC_KIND_ARRAY, GC_LARGE_OBJECT_BYTES,
    GC_MAX_OBJECT_BYTES, VMGcTypeInfo, array_size, is_object,
};
use aot_abi::{TrapKind, VMGlobal, VMStoreContext, VMTableDef};

use crate::trap::StackStart;

/// The default maximum heap. wasmtime's GC heap is a 32-bit space that grows by doubling:
/// a 1 GiB array fits, a 2 GiB one does not, and a program keeping ever more objects live
/// fails at about 4 GB of RSS. A copying collector needs room for a second copy of the
/// live data while it collects, so 2 GiB gives the same outcomes at about the same peak
/// memory.
pub(crate) const DEFAULT_MAX_HEAP: u64 = 2 << 30;
/// Smallest allocation window after a collection: below it collections would run too
/// often for too little to free.
const MIN_WINDOW: usize = 4 << 20;
/// The window grows to this many times the live bytes (see the module doc).
const GROWTH: usize = 4;
/// Large objects allocated since the last collection that trigger one (beyond twice the
/// large objects that survived it), so that short-lived large arrays are freed too.
const LARGE_TRIGGER: u64 = 32 << 20;

/// Header bit of a copied object in from-space: the rest is its new address.
const FORWARDED: u64 = 1;
/// Header bit of a large object marked live during a collection.
const MARKED: u64 = 2;

/// Something outside Wasm frames that holds references for as long as the store lives.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Root {
    /// A global of a traced reference type: the word at its start.
    Global(*mut VMGlobal),
    /// A table of a traced reference type: its elements.
    Table(*mut VMTableDef),
    /// An evaluated element segment of a traced reference type.
    Segment(*const Mutex<Vec<usize>>),
}

// SAFETY: roots point at storage that lives as long as the store; a store and its heap are
// used by one thread at a time.
unsafe impl Send for Root {}

/// Figures for `AOT_GC_STATS`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stats {
    pub collections: u64,
    pub max_pause: Duration,
    pub total_pause: Duration,
    /// Largest heap footprint seen: the copying space's capacity in use plus large
    /// objects, measured after each collection.
    pub peak_bytes: u64,
}

/// One contiguous region objects are bump-allocated in.
struct Space {
    start: *mut u8,
    cap: usize,
    /// Bytes from `start` that have ever been handed out (beyond them the mapping is
    /// still the kernel's zero pages).
    dirty: usize,
}

impl Space {
    fn map(cap: usize) -> Option<Space> {
        let cap = cap.next_multiple_of(crate::memory::page_size());
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                cap,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        (p != libc::MAP_FAILED).then_some(Space {
            start: p.cast(),
            cap,
            dirty: 0,
        })
    }

    fn contains(&self, p: usize) -> bool {
        p.wrapping_sub(self.start as usize) < self.cap
    }

    fn end(&self) -> usize {
        self.start as usize + self.cap
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        // SAFETY: the mapping came from `Space::map` and nothing refers into it any more
        // (the collector dropped it after copying every live object out).
        unsafe { libc::munmap(self.start.cast(), self.cap) };
    }
}

/// The heap of one store. Not used from several threads at once (see the module doc);
/// the store keeps it behind a lock anyway, as it does its other host state.
pub(crate) struct Heap {
    /// The space the allocation window is in (None until the first allocation).
    space: Option<Space>,
    /// The space objects were copied out of at the last collection, kept to copy into
    /// at the next.
    spare: Option<Space>,
    /// Large objects: address and size.
    large: Vec<(*mut u8, usize)>,
    large_bytes: u64,
    large_since_gc: u64,
    large_live_after_gc: u64,
    /// Bytes the last collection left live in the copying space.
    copy_live: u64,
    max: u64,
    roots: Vec<Root>,
    /// References the runtime holds across an allocation (constant expressions).
    host_roots: Vec<u64>,
    stress: Option<bool>,
    stats: Stats,
}

// SAFETY: raw pointers into mappings and allocations this heap owns; see `Root`.
unsafe impl Send for Heap {}

/// A visitor of reference slots; the collector rewrites each slot it is given.
pub(crate) type SlotVisitor<'a> = &'a mut dyn FnMut(*mut u64);

impl Heap {
    pub(crate) const fn new() -> Heap {
        Heap {
            space: None,
            spare: None,
            large: Vec::new(),
            large_bytes: 0,
            large_since_gc: 0,
            large_live_after_gc: 0,
            copy_live: 0,
            max: DEFAULT_MAX_HEAP,
            roots: Vec::new(),
            host_roots: Vec::new(),
            stress: None,
            stats: Stats {
                collections: 0,
                max_pause: Duration::ZERO,
                total_pause: Duration::ZERO,
                peak_bytes: 0,
            },
        }
    }

    /// Sets the maximum heap size (the program's `--max-gc-heap`).
    pub(crate) fn set_max(&mut self, max: u64) {
        self.max = max;
    }

    pub(crate) fn add_root(&mut self, root: Root) {
        self.roots.push(root);
    }

    /// Forgets the roots added since [`Heap::roots_len`] returned `mark` (those of an
    /// instance whose instantiation failed, whose storage goes away).
    pub(crate) fn truncate_roots(&mut self, mark: usize) {
        self.roots.truncate(mark);
    }

    pub(crate) fn roots_len(&self) -> usize {
        self.roots.len()
    }

    /// The runtime's own roots: push a reference before an allocation that may collect,
    /// pop it (moved, perhaps) after.
    pub(crate) fn host_roots(&mut self) -> &mut Vec<u64> {
        &mut self.host_roots
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether the stress mode is on. The first call (every allocation that leaves
    /// generated code makes it before anything looks at `max`) also reads
    /// `AOT_GC_MAX_HEAP=<bytes>`, a test knob that lowers the maximum: the fuzz test keeps
    /// the huge arrays of random lengths from taking gigabytes (wasmtime refuses them
    /// anyway: its heap cannot grow that far).
    fn stress(&mut self) -> bool {
        if let Some(stress) = self.stress {
            return stress;
        }
        let stress = std::env::var_os("AOT_GC_STRESS").is_some_and(|v| v == "1");
        if let Some(max) = std::env::var("AOT_GC_MAX_HEAP")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.max = self.max.min(max);
        }
        self.stress = Some(stress);
        stress
    }

    /// Allocates an object of `size` bytes (a multiple of `GC_ALIGN`) described by
    /// `info`, zeroed but for its header, collecting first if the window is full.
    /// `stack` visits the reference slots of the Wasm frames of the current thread.
    ///
    /// # Safety
    /// `ctx` is this heap's store context; `info` is a live `VMGcTypeInfo`; every root
    /// registered and every slot `stack` visits holds a valid reference word.
    pub(crate) unsafe fn alloc(
        &mut self,
        ctx: &VMStoreContext,
        info: *const VMGcTypeInfo,
        size: u64,
        stack: &mut dyn FnMut(SlotVisitor),
    ) -> Result<*mut u8, TrapKind> {
        if size > GC_MAX_OBJECT_BYTES {
            return Err(TrapKind::AllocationTooLarge);
        }
        let size = size.next_multiple_of(GC_ALIGN as u64);
        let obj = if size >= GC_LARGE_OBJECT_BYTES {
            // SAFETY: forwarded from the caller.
            unsafe { self.alloc_large(ctx, size, stack)? }
        } else {
            let size = size as usize;
            let stress = self.stress();
            let top = ctx.gc_top.load(Ordering::Relaxed);
            let fits = self.space.is_some()
                && top + size <= ctx.gc_limit.load(Ordering::Relaxed)
                && !stress;
            if !fits {
                // SAFETY: forwarded from the caller.
                unsafe { self.collect(ctx, size as u64, stack)? };
            }
            let top = ctx.gc_top.load(Ordering::Relaxed);
            ctx.gc_top.store(top + size, Ordering::Relaxed);
            if stress {
                // Send the next allocation back here too.
                ctx.gc_limit.store(top + size, Ordering::Relaxed);
            }
            top as *mut u8
        };
        // SAFETY: `obj` is at least one word, 8-aligned, and ours.
        unsafe { obj.cast::<u64>().write(info as u64) };
        Ok(obj)
    }

    /// # Safety
    /// As [`Heap::alloc`].
    unsafe fn alloc_large(
        &mut self,
        ctx: &VMStoreContext,
        size: u64,
        stack: &mut dyn FnMut(SlotVisitor),
    ) -> Result<*mut u8, TrapKind> {
        let trigger = LARGE_TRIGGER.max(2 * self.large_live_after_gc);
        let used = |h: &Heap| h.copy_live + h.large_bytes + size;
        if self.stress() || self.large_since_gc + size > trigger || used(self) > self.max {
            // SAFETY: forwarded from the caller.
            unsafe { self.collect(ctx, 0, stack)? };
            if used(self) > self.max {
                return Err(TrapKind::GcHeapOutOfMemory);
            }
        }
        let layout = std::alloc::Layout::from_size_align(size as usize, 16)
            .map_err(|_| TrapKind::AllocationTooLarge)?;
        // SAFETY: a non-zero size (at least a header).
        let p = unsafe { std::alloc::alloc_zeroed(layout) };
        if p.is_null() {
            return Err(TrapKind::GcHeapOutOfMemory);
        }
        self.large.push((p, size as usize));
        self.large_bytes += size;
        self.large_since_gc += size;
        Ok(p)
    }

    /// Bytes of memory the heap holds: the part of the copying space handed out so far
    /// plus large objects.
    fn footprint(&self) -> u64 {
        self.large_bytes
            + self
                .space
                .as_ref()
                .map_or(0, |s| (s.dirty.min(s.cap)) as u64)
    }

    /// Collects: copies everything reachable into a new space, frees unreachable large
    /// objects, and opens a window with room for `request` more bytes.
    ///
    /// # Safety
    /// As [`Heap::alloc`].
    pub(crate) unsafe fn collect(
        &mut self,
        ctx: &VMStoreContext,
        request: u64,
        stack: &mut dyn FnMut(SlotVisitor),
    ) -> Result<(), TrapKind> {
        let started = Instant::now();
        let stress = self.stress();
        let from = self.space.take();
        let from_used = from
            .as_ref()
            .map_or(0, |s| ctx.gc_top.load(Ordering::Relaxed) - s.start as usize);
        // The copy needs at most `from_used` bytes; the new window up to GROWTH times that.
        let need = from_used + request as usize;
        let want = (GROWTH + 1) * from_used + request as usize + MIN_WINDOW;
        let to = match self.spare.take() {
            Some(s) if !stress && s.cap >= need + MIN_WINDOW.min(want) && s.cap <= 4 * want => s,
            _ => Space::map(want).ok_or(TrapKind::GcHeapOutOfMemory)?,
        };
        let mut cheney = Cheney {
            from: from.as_ref(),
            top: to.start as usize,
            large_stack: Vec::new(),
        };
        {
            let mut visit = |slot: *mut u64| {
                // SAFETY: slots hold valid reference words (the caller's contract).
                unsafe { cheney.forward_slot(slot) }
            };
            stack(&mut visit);
            for root in &self.roots {
                // SAFETY: roots registered by the runtime point at live storage.
                unsafe { visit_root(*root, &mut visit) };
            }
            for w in &mut self.host_roots {
                visit(w);
            }
            crate::exceptions::visit_roots(&mut visit);
        }
        // SAFETY: every object between the scan pointer and `top` was copied above.
        unsafe { cheney.scan(to.start as usize) };
        let live = cheney.top - to.start as usize;
        self.copy_live = live as u64;
        self.sweep_large();
        let mut to = to;
        // The window: room for GROWTH * live (or MIN_WINDOW more), at least `request`,
        // within the space and the maximum heap.
        let budget = (self.max.saturating_sub(self.large_bytes)) as usize;
        let window_end = (to.start as usize + (GROWTH * live).max(live + MIN_WINDOW))
            .max(cheney.top + request as usize)
            .min(to.end())
            .min(to.start as usize + budget.max(live));
        if cheney.top + request as usize > window_end {
            // Keep the heap consistent (everything was copied) before failing.
            self.install(ctx, to, cheney.top, cheney.top, from, stress);
            return Err(TrapKind::GcHeapOutOfMemory);
        }
        let used_before = to.dirty;
        let zero_end = window_end.min(to.start as usize + used_before);
        if zero_end > cheney.top {
            // SAFETY: [top, zero_end) is inside the space and holds only dead copies of a
            // previous cycle; generated code expects fresh objects to be zero.
            unsafe { ptr::write_bytes(cheney.top as *mut u8, 0, zero_end - cheney.top) };
        }
        to.dirty = to.dirty.max(window_end - to.start as usize);
        let limit = if stress { cheney.top } else { window_end };
        let top = cheney.top;
        self.install(ctx, to, top, limit, from, stress);
        let pause = started.elapsed();
        self.stats.collections += 1;
        self.stats.total_pause += pause;
        self.stats.max_pause = self.stats.max_pause.max(pause);
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.footprint());
        Ok(())
    }

    fn install(
        &mut self,
        ctx: &VMStoreContext,
        to: Space,
        top: usize,
        limit: usize,
        from: Option<Space>,
        stress: bool,
    ) {
        ctx.gc_top.store(top, Ordering::Relaxed);
        ctx.gc_limit.store(limit, Ordering::Relaxed);
        self.space = Some(to);
        // In stress mode `from` is unmapped here, so stale references fault.
        self.spare = if stress { None } else { from };
    }

    fn sweep_large(&mut self) {
        let mut live = 0u64;
        self.large.retain(|&(p, size)| {
            // SAFETY: `p` is a large object's header, allocated by `alloc_large`.
            let header = unsafe { &mut *p.cast::<u64>() };
            if *header & MARKED != 0 {
                *header &= !MARKED;
                live += size as u64;
                true
            } else {
                // SAFETY: allocated with this layout in `alloc_large`; unreachable now.
                unsafe {
                    std::alloc::dealloc(p, std::alloc::Layout::from_size_align_unchecked(size, 16))
                };
                false
            }
        });
        self.large_bytes = live;
        self.large_live_after_gc = live;
        self.large_since_gc = 0;
    }
}

impl Drop for Heap {
    fn drop(&mut self) {
        for &(p, size) in &self.large {
            // SAFETY: allocated with this layout in `alloc_large`; the heap is going away.
            unsafe {
                std::alloc::dealloc(p, std::alloc::Layout::from_size_align_unchecked(size, 16))
            };
        }
    }
}

/// # Safety
/// `root` points at live storage holding valid reference words.
unsafe fn visit_root(root: Root, visit: &mut dyn FnMut(*mut u64)) {
    match root {
        Root::Global(g) => visit(g.cast::<u64>()),
        Root::Table(def) => {
            // SAFETY: per the contract; a table's def describes its element array.
            let (base, len) = unsafe { ((*def).base.cast::<u64>(), (*def).current_elements) };
            for i in 0..len as usize {
                // SAFETY: `i` is below the table's length.
                visit(unsafe { base.add(i) });
            }
        }
        Root::Segment(seg) => {
            // SAFETY: per the contract.
            let mut words = unsafe { &*seg }.lock().unwrap_or_else(|e| e.into_inner());
            for w in words.iter_mut() {
                visit((w as *mut usize).cast());
            }
        }
    }
}

/// The state of one copying pass.
struct Cheney<'a> {
    from: Option<&'a Space>,
    /// Where the next copied object goes in to-space.
    top: usize,
    /// Large objects marked but not yet scanned.
    large_stack: Vec<*mut u8>,
}

impl Cheney<'_> {
    /// # Safety
    /// `slot` holds a valid reference word.
    unsafe fn forward_slot(&mut self, slot: *mut u64) {
        // SAFETY: per the contract.
        let w = unsafe { slot.read() };
        if !is_object(w) {
            return;
        }
        let obj = w as *mut u8;
        if self.from.is_some_and(|f| f.contains(w as usize)) {
            // SAFETY: an object of from-space: its header is readable.
            let header = unsafe { obj.cast::<u64>().read() };
            let new = if header & FORWARDED != 0 {
                header & !FORWARDED
            } else {
                // SAFETY: an unforwarded object's header is its type info.
                let size = unsafe { object_size(obj, header as *const VMGcTypeInfo) };
                let new = self.top as *mut u8;
                // SAFETY: to-space has room for every live object of from-space (it is at
                // least as large as from-space's used part) and does not overlap it.
                unsafe {
                    ptr::copy_nonoverlapping(obj, new, size);
                    obj.cast::<u64>().write(new as u64 | FORWARDED);
                }
                self.top += size;
                new as u64
            };
            // SAFETY: per the contract.
            unsafe { slot.write(new) };
        } else {
            // A large object (objects of to-space are never behind a slot not yet visited:
            // each slot is visited once and to-space addresses appear only in rewritten
            // slots).
            // SAFETY: a large object's header is readable.
            let header = unsafe { &mut *obj.cast::<u64>() };
            if *header & MARKED == 0 {
                *header |= MARKED;
                self.large_stack.push(obj);
            }
        }
    }

    /// Scans the objects copied to `[scan, top)` and the marked large objects until no
    /// object is left unscanned.
    ///
    /// # Safety
    /// Every object in to-space from `scan` up and on the large stack is a copied or
    /// marked live object.
    unsafe fn scan(&mut self, mut scan: usize) {
        loop {
            while scan < self.top {
                let obj = scan as *mut u8;
                // SAFETY: a copied object; its header is its type info.
                let info = unsafe { obj.cast::<*const VMGcTypeInfo>().read() };
                // SAFETY: as above.
                unsafe {
                    scan += object_size(obj, info);
                    self.scan_fields(obj, info);
                }
            }
            let Some(obj) = self.large_stack.pop() else {
                break;
            };
            // SAFETY: a marked large object; its header is its info with the mark bit.
            unsafe {
                let info = (obj.cast::<u64>().read() & !MARKED) as *const VMGcTypeInfo;
                self.scan_fields(obj, info);
            }
        }
    }

    /// # Safety
    /// `obj` is a live object described by `info`.
    unsafe fn scan_fields(&mut self, obj: *mut u8, info: *const VMGcTypeInfo) {
        // SAFETY: per the contract.
        let info = unsafe { &*info };
        if info.kind == GC_KIND_ARRAY {
            if info.elem_is_ref != 0 {
                // SAFETY: an array's length is at GC_ARRAY_LEN; its elements follow.
                unsafe {
                    let len = obj.add(GC_ARRAY_LEN as usize).cast::<u32>().read();
                    let data = obj.add(GC_ARRAY_DATA as usize).cast::<u64>();
                    for i in 0..len as usize {
                        self.forward_slot(data.add(i));
                    }
                }
            }
        } else {
            // SAFETY: the info's offsets array has `num_ref_offsets` entries, each inside
            // the struct.
            unsafe {
                for i in 0..info.num_ref_offsets as usize {
                    let off = *info.ref_offsets.add(i);
                    self.forward_slot(obj.add(off as usize).cast());
                }
            }
        }
    }
}

/// # Safety
/// `obj` is an object described by `info`.
unsafe fn object_size(obj: *mut u8, info: *const VMGcTypeInfo) -> usize {
    // SAFETY: per the contract.
    let info = unsafe { &*info };
    if info.kind == GC_KIND_ARRAY {
        // SAFETY: an array's length is at GC_ARRAY_LEN.
        let len = unsafe { obj.add(GC_ARRAY_LEN as usize).cast::<u32>().read() };
        array_size(info.size, len) as usize
    } else {
        info.size as usize
    }
}

/// Prints the heap's figures when the host environment asks (`AOT_GC_STATS=1`), in the
/// one-line form benches/gc.sh reads.
pub(crate) fn print_stats_if_asked(stats: Stats) {
    if std::env::var_os("AOT_GC_STATS").is_some_and(|v| v == "1") {
        eprintln!(
            "aot-gc: collections={} max-pause-us={} total-pause-us={} peak-heap-bytes={}",
            stats.collections,
            stats.max_pause.as_micros(),
            stats.total_pause.as_micros(),
            stats.peak_bytes
        );
    }
}

/// Allocates an object of `size` bytes (header included) described by `info` in the
/// store's heap, collecting if need be: zeroed, its header set to `info`. `start` is the
/// Wasm frame that called the GC stub: the stack roots are its frame's and its callers'
/// ([`crate::trap::visit_stack_roots`]).
///
/// # Safety
/// `vmctx` is the calling instance's; as `crate::trap::visit_stack_roots` for `start`;
/// `info` is a runtime type info.
pub(crate) unsafe fn alloc_slow(
    vmctx: *mut u8,
    start: StackStart,
    info: *const VMGcTypeInfo,
    size: u64,
) -> Result<*mut u8, TrapKind> {
    // SAFETY: per the contract, vmctx is a live instance's.
    let store = unsafe { crate::store::Store::from_vmctx(vmctx) };
    let mut stack = |visit: SlotVisitor| {
        // SAFETY: per this function's contract; the collector runs no Wasm code.
        unsafe { crate::trap::visit_stack_roots(start, visit) }
    };
    // SAFETY: the heap is this store's; the stack slots hold reference words (the
    // compiler maps only traced references).
    unsafe { store.gc().alloc(store.context(), info, size, &mut stack) }
}

/// Unregisters the roots an instantiation added unless it succeeds ([`RootsGuard::keep`]).
pub(crate) struct RootsGuard<'a> {
    store: &'a crate::store::Store,
    mark: usize,
    keep: bool,
}

impl<'a> RootsGuard<'a> {
    pub(crate) fn new(store: &'a crate::store::Store) -> RootsGuard<'a> {
        RootsGuard {
            store,
            mark: store.gc().roots_len(),
            keep: false,
        }
    }

    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for RootsGuard<'_> {
    fn drop(&mut self) {
        if !self.keep {
            self.store.gc().truncate_roots(self.mark);
        }
    }
}

/// Allocates from the host (constant expressions): `keep` holds the words the caller
/// needs across the allocation, traced ones flagged; they are updated if their objects
/// move. No Wasm frame is live below the host here (instantiation runs outside Wasm).
///
/// # Safety
/// `info` is a live `VMGcTypeInfo`; the flagged words are valid references.
unsafe fn alloc_from_host(
    store: &crate::store::Store,
    info: *const VMGcTypeInfo,
    size: u64,
    keep: &mut [(aot_abi::ValRaw, bool)],
) -> Result<*mut u8, TrapKind> {
    let mut heap = store.gc();
    let base = heap.host_roots.len();
    for (v, traced) in keep.iter() {
        if *traced {
            heap.host_roots.push(v.u64());
        }
    }
    // SAFETY: forwarded from the caller; the host roots hold the flagged words.
    let obj = unsafe { heap.alloc(store.context(), info, size, &mut |_| {}) };
    let moved = heap.host_roots.split_off(base);
    for ((v, _), w) in keep.iter_mut().filter(|(_, t)| *t).zip(moved) {
        *v = aot_abi::ValRaw::from_u64(w);
    }
    obj
}

/// Evaluates a constant expression with GC's instructions (`struct.new`,
/// `array.new_fixed`, `ref.i31`, ...) for an instance being made.
pub(crate) fn eval_gc_const(
    expr: &aot_abi::ConstExpr,
    env: &crate::instance::ConstEnv,
) -> Result<aot_abi::ValRaw, crate::instance::ConstFail> {
    use aot_abi::{CompositeType, ConstOp, ValRaw};
    let meta = env.meta;
    let is_func = |i: u32| {
        matches!(
            meta.type_defs.get(i as usize).map(|d| &d.composite),
            Some(CompositeType::Func) | None
        )
    };
    let info_of = |t: u32| -> Result<*const VMGcTypeInfo, String> {
        let id = *env
            .type_ids
            .get(t as usize)
            .ok_or_else(|| format!("type {t} out of range"))?;
        let info = crate::types::gc_type_info(id);
        if info.is_null() {
            return Err(format!("type {t} is not a struct or array type"));
        }
        Ok(info)
    };
    let trap = crate::instance::ConstFail::Trap;
    // Each value with whether the collector traces it.
    let mut stack: Vec<(ValRaw, bool)> = Vec::new();
    let underflow = || "operand stack underflow".to_string();
    for op in &expr.0 {
        match *op {
            ConstOp::StructNew(t) | ConstOp::StructNewDefault(t) => {
                let Some(CompositeType::Struct(fields)) =
                    meta.type_defs.get(t as usize).map(|d| &d.composite)
                else {
                    return Err(format!("type {t} is not a struct type").into());
                };
                let layout = aot_abi::gc::struct_layout(fields, is_func);
                let info = info_of(t)?;
                // SAFETY: `info` is the type's live info; the stack's flags say which
                // words are references.
                let obj =
                    unsafe { alloc_from_host(env.store, info, layout.size as u64, &mut stack) }
                        .map_err(trap)?;
                if matches!(op, ConstOp::StructNew(_)) {
                    if stack.len() < fields.len() {
                        return Err(underflow().into());
                    }
                    let vals = stack.split_off(stack.len() - fields.len());
                    for ((f, (v, _)), off) in fields.iter().zip(vals).zip(&layout.offsets) {
                        let n = aot_abi::gc::storage_size(f) as usize;
                        // SAFETY: the field lies inside the fresh object.
                        unsafe {
                            ptr::copy_nonoverlapping(v.0.as_ptr(), obj.add(*off as usize), n)
                        };
                    }
                }
                stack.push((ValRaw::from_u64(obj as u64), true));
            }
            ConstOp::ArrayNew(t) | ConstOp::ArrayNewDefault(t) | ConstOp::ArrayNewFixed(t, _) => {
                let Some(CompositeType::Array(elem)) =
                    meta.type_defs.get(t as usize).map(|d| &d.composite)
                else {
                    return Err(format!("type {t} is not an array type").into());
                };
                let elem_size = aot_abi::gc::storage_size(elem) as usize;
                let len = match *op {
                    ConstOp::ArrayNewFixed(_, n) => n,
                    _ => stack.pop().ok_or_else(underflow)?.0.u32(),
                };
                let info = info_of(t)?;
                let size = array_size(elem_size as u32, len);
                // SAFETY: as for structs.
                let obj =
                    unsafe { alloc_from_host(env.store, info, size, &mut stack) }.map_err(trap)?;
                // SAFETY: the length field and `len` elements lie inside the fresh array.
                unsafe { obj.add(GC_ARRAY_LEN as usize).cast::<u32>().write(len) };
                let data = obj.wrapping_add(GC_ARRAY_DATA as usize);
                match *op {
                    ConstOp::ArrayNew(_) => {
                        let (v, _) = stack.pop().ok_or_else(underflow)?;
                        for i in 0..len as usize {
                            // SAFETY: as above.
                            unsafe {
                                ptr::copy_nonoverlapping(
                                    v.0.as_ptr(),
                                    data.add(i * elem_size),
                                    elem_size,
                                )
                            };
                        }
                    }
                    ConstOp::ArrayNewFixed(..) => {
                        if stack.len() < len as usize {
                            return Err(underflow().into());
                        }
                        let vals = stack.split_off(stack.len() - len as usize);
                        for (i, (v, _)) in vals.iter().enumerate() {
                            // SAFETY: as above.
                            unsafe {
                                ptr::copy_nonoverlapping(
                                    v.0.as_ptr(),
                                    data.add(i * elem_size),
                                    elem_size,
                                )
                            };
                        }
                    }
                    _ => {}
                }
                stack.push((ValRaw::from_u64(obj as u64), true));
            }
            ConstOp::RefI31 => {
                let (v, _) = stack.pop().ok_or_else(underflow)?;
                stack.push((ValRaw::from_u64(aot_abi::gc::i31_ref(v.u32())), true));
            }
            ConstOp::AnyConvertExtern | ConstOp::ExternConvertAny => {
                let top = stack.last_mut().ok_or_else(underflow)?;
                top.1 = true;
            }
            ConstOp::GlobalGet(i) => {
                let g = env
                    .globals
                    .get(i as usize)
                    .ok_or_else(|| format!("global.get {i} out of range"))?;
                let traced = aot_abi::gc::is_traced(&g.ty().ty, crate::types::is_func);
                stack.push((g.get(), traced));
            }
            other => {
                // Numeric operators and the other pushes, on untraced values.
                let v = match other {
                    ConstOp::I32Add
                    | ConstOp::I32Sub
                    | ConstOp::I32Mul
                    | ConstOp::I64Add
                    | ConstOp::I64Sub
                    | ConstOp::I64Mul => {
                        let (b, _) = stack.pop().ok_or_else(underflow)?;
                        let (a, _) = stack.pop().ok_or_else(underflow)?;
                        crate::instance::binop(other, a, b)
                    }
                    _ => crate::instance::eval_const(
                        &aot_abi::ConstExpr(vec![other]),
                        env.globals,
                        env.funcref,
                    )?,
                };
                stack.push((v, false));
            }
        }
    }
    match stack.as_slice() {
        [(v, _)] => Ok(*v),
        s => Err(format!("leaves {} values instead of 1", s.len()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aot_abi::gc::{GC_KIND_STRUCT, is_object};

    /// A struct type with two reference fields at 8 and 16 and an i64 at 24.
    fn pair_info() -> &'static VMGcTypeInfo {
        let offsets: &'static [u32] = Box::leak(Box::new([8u32, 16]));
        Box::leak(Box::new(VMGcTypeInfo {
            kind: GC_KIND_STRUCT,
            type_id: 1,
            depth: 0,
            size: 32,
            num_ref_offsets: 2,
            elem_is_ref: 0,
            ref_offsets: offsets.as_ptr(),
            display: ptr::null(),
        }))
    }

    fn ref_array_info() -> &'static VMGcTypeInfo {
        Box::leak(Box::new(VMGcTypeInfo {
            kind: GC_KIND_ARRAY,
            type_id: 2,
            depth: 0,
            size: 8,
            num_ref_offsets: 0,
            elem_is_ref: 1,
            ref_offsets: ptr::null(),
            display: ptr::null(),
        }))
    }

    /// Test harness: a heap whose only roots are `roots` (standing in for Wasm frames).
    struct H {
        heap: Heap,
        ctx: VMStoreContext,
        roots: Vec<u64>,
    }

    impl H {
        fn new() -> H {
            let mut heap = Heap::new();
            heap.stress = Some(false);
            H {
                heap,
                ctx: VMStoreContext::new(),
                roots: Vec::new(),
            }
        }

        fn alloc(&mut self, info: &'static VMGcTypeInfo, size: u64) -> Result<u64, TrapKind> {
            let roots = &mut self.roots;
            let mut stack = |v: SlotVisitor| {
                for r in roots.iter_mut() {
                    v(r);
                }
            };
            // SAFETY: the roots hold words this heap made.
            unsafe { self.heap.alloc(&self.ctx, info, size, &mut stack) }.map(|p| p as u64)
        }

        fn collect(&mut self) {
            let roots = &mut self.roots;
            let mut stack = |v: SlotVisitor| {
                for r in roots.iter_mut() {
                    v(r);
                }
            };
            // SAFETY: as above.
            unsafe { self.heap.collect(&self.ctx, 0, &mut stack) }.expect("collects");
        }

        fn alloc_array(&mut self, len: u32) -> u64 {
            let a = self
                .alloc(ref_array_info(), array_size(8, len))
                .expect("fits");
            // SAFETY: a fresh array object of `len` elements.
            unsafe { ((a + GC_ARRAY_LEN as u64) as *mut u32).write(len) };
            a
        }
    }

    fn field(obj: u64, off: u64) -> *mut u64 {
        (obj + off) as *mut u64
    }

    #[test]
    fn objects_are_zeroed_and_survive_collections_with_their_graph() {
        let mut h = H::new();
        let info = pair_info();
        let a = h.alloc(info, 32).expect("fits");
        // SAFETY: `a` is a fresh 32-byte object.
        unsafe {
            assert_eq!(*field(a, 8), 0);
            assert_eq!(*field(a, 24), 0);
        }
        h.roots.push(a);
        let b = h.alloc(info, 32).expect("fits");
        // SAFETY: fresh objects; a cycle a <-> b with a payload in b.
        unsafe {
            field(h.roots[0], 8).write(b);
            field(b, 8).write(h.roots[0]);
            field(b, 24).write(42);
            field(b, 16).write(aot_abi::gc::i31_ref(7));
        }
        h.collect();
        let a2 = h.roots[0];
        assert_ne!(a2, a, "moved");
        // SAFETY: the moved objects.
        unsafe {
            let b2 = *field(a2, 8);
            assert!(is_object(b2));
            assert_eq!(*field(b2, 8), a2, "the cycle points at the new copy");
            assert_eq!(*field(b2, 24), 42);
            assert_eq!(*field(b2, 16), aot_abi::gc::i31_ref(7), "i31 left alone");
            assert_eq!(
                *(a2 as *const u64),
                info as *const _ as u64,
                "header restored"
            );
        }
    }

    #[test]
    fn dead_cycles_are_freed_and_memory_stays_bounded() {
        let mut h = H::new();
        let info = pair_info();
        h.roots.push(0);
        for i in 0..2_000_000u64 {
            let a = h.alloc(info, 32).expect("fits");
            h.roots[0] = a;
            let b = h.alloc(info, 32).expect("fits");
            let a = h.roots[0];
            // SAFETY: fresh objects: a 2-cycle, then dropped at the next iteration.
            unsafe {
                field(a, 8).write(b);
                field(b, 8).write(a);
                field(a, 24).write(i);
            }
        }
        let s = h.heap.stats();
        assert!(s.collections > 10, "{s:?}");
        // 128 MB were allocated; the heap never held more than a few windows.
        assert!(s.peak_bytes < 32 << 20, "{s:?}");
        // SAFETY: the last object is live.
        assert_eq!(unsafe { *field(h.roots[0], 24) }, 1_999_999);
    }

    #[test]
    fn a_long_list_survives_many_collections() {
        let mut h = H::new();
        let info = pair_info();
        h.roots.push(0);
        for i in 0..200_000u64 {
            let n = h.alloc(info, 32).expect("fits");
            // SAFETY: a fresh node pointing at the list so far.
            unsafe {
                field(n, 8).write(h.roots[0]);
                field(n, 24).write(i);
            }
            h.roots[0] = n;
            // Garbage between the nodes.
            h.alloc(info, 32).expect("fits");
        }
        let mut n = h.roots[0];
        let mut expect = 200_000u64;
        while n != 0 {
            expect -= 1;
            // SAFETY: list nodes.
            unsafe {
                assert_eq!(*field(n, 24), expect);
                n = *field(n, 8);
            }
        }
        assert_eq!(expect, 0);
        assert!(h.heap.stats().collections > 0);
    }

    #[test]
    fn stress_mode_collects_on_every_allocation_and_unmaps_from_space() {
        let mut h = H::new();
        h.heap.stress = Some(true);
        let info = pair_info();
        h.roots.push(0);
        for i in 0..300u64 {
            let n = h.alloc(info, 32).expect("fits");
            // SAFETY: a fresh node pointing at the list so far.
            unsafe {
                field(n, 8).write(h.roots[0]);
                field(n, 24).write(i);
            }
            h.roots[0] = n;
        }
        assert_eq!(h.heap.stats().collections, 300);
        assert!(h.heap.spare.is_none(), "from-space is unmapped");
        let (mut n, mut count) = (h.roots[0], 0);
        while n != 0 {
            count += 1;
            // SAFETY: list nodes, all in the current space.
            n = unsafe { *field(n, 8) };
        }
        assert_eq!(count, 300);
    }

    #[test]
    fn large_arrays_are_marked_in_place_and_freed_when_dead() {
        let mut h = H::new();
        let big = h.alloc_array(100_000);
        h.roots.push(big);
        let small = h.alloc(pair_info(), 32).expect("fits");
        // SAFETY: element 5 of the big array holds the small object.
        unsafe { field(big, GC_ARRAY_DATA as u64 + 5 * 8).write(small) };
        for _ in 0..200 {
            h.alloc_array(10_000); // dead large arrays: 16 MB in all
        }
        h.collect();
        assert_eq!(h.roots[0], big, "large objects do not move");
        // SAFETY: the big array is live.
        let moved = unsafe { *field(big, GC_ARRAY_DATA as u64 + 5 * 8) };
        assert!(is_object(moved));
        assert_eq!(h.heap.large.len(), 1, "dead large arrays freed");
        h.roots.clear();
        h.collect();
        assert!(h.heap.large.is_empty());
    }

    #[test]
    fn limits_give_wasmtimes_errors() {
        let mut h = H::new();
        h.heap.set_max(64 << 20);
        assert_eq!(
            h.alloc(ref_array_info(), 1 << 33),
            Err(TrapKind::AllocationTooLarge)
        );
        assert_eq!(
            h.alloc(ref_array_info(), 1 << 30),
            Err(TrapKind::GcHeapOutOfMemory)
        );
        // Live data up to the maximum, then out of memory.
        let mut n = 0;
        loop {
            match h.alloc(ref_array_info(), 1 << 20) {
                Ok(a) => h.roots.push(a),
                Err(e) => {
                    assert_eq!(e, TrapKind::GcHeapOutOfMemory);
                    break;
                }
            }
            n += 1;
            assert!(n < 100);
        }
        assert!(n >= 60, "{n}");
    }
}
