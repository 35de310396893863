//! The `memmove` generated code calls for a `memory.copy` too long to copy inline
//! (`aot_abi::MEMMOVE_SYMBOL`). musl's `memmove`/`memcpy` start a `rep movsq` whatever the
//! length, and its start-up cost dominates the copies of a few dozen to a few hundred bytes
//! that C and Rust code make through their `memcpy` (sqlite: 288,000 copies of 33 bytes
//! or more per run, two thirds of them at most 64 bytes). Those are copied here in 16-byte
//! vectors (SSE2 on x86_64, NEON on aarch64, both baseline); longer ones still go to
//! musl, where `rep movsq` is the fast way.

/// Longer copies go to the C library.
const LOOP_MAX: usize = 4096;

/// `memmove(dst, src, n)`: the ranges may overlap either way round.
///
/// # Safety
/// `src..src + n` must be readable and `dst..dst + n` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aot_memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if !(16..=LOOP_MAX).contains(&n) {
        // SAFETY: the caller's contract is memmove's.
        unsafe { core::ptr::copy(src, dst, n) };
    } else if n <= 64 {
        // SAFETY: 16 <= n <= 64, so every access lies inside the two ranges.
        unsafe { move_16_to_64(dst, src, n) };
    } else if (dst as usize).wrapping_sub(src as usize) >= n {
        // dst below src, or no overlap: copying upwards never overwrites a byte not yet
        // read. SAFETY: 64 < n, accesses inside the ranges.
        unsafe { move_up(dst, src, n) };
    } else {
        // SAFETY: as above.
        unsafe { move_down(dst, src, n) };
    }
    dst
}

/// 16 to 64 bytes: every load before any store, so overlap does not matter.
///
/// # Safety
/// 16 <= n <= 64 and the ranges valid for `n` bytes.
#[inline(always)]
unsafe fn move_16_to_64(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY (all accesses below): every offset is within [0, n - 16] as 16 <= n <= 64.
    unsafe {
        if n <= 32 {
            let a = v::load(src);
            let b = v::load(src.add(n - 16));
            v::store(dst, a);
            v::store(dst.add(n - 16), b);
        } else {
            let a = v::load(src);
            let b = v::load(src.add(16));
            let c = v::load(src.add(n - 32));
            let d = v::load(src.add(n - 16));
            v::store(dst, a);
            v::store(dst.add(16), b);
            v::store(dst.add(n - 32), c);
            v::store(dst.add(n - 16), d);
        }
    }
}

/// Upwards in 64-byte blocks, the last 64 bytes read first and written last (they may
/// overlap the last block). With `dst` below `src`, a block's stores end at or before the
/// next block's start in `src`.
///
/// # Safety
/// n > 64, the ranges valid, and `dst` not inside `(src, src + n)`.
#[inline(always)]
unsafe fn move_up(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY (all accesses below): offsets stay within [0, n - 16] since i + 64 < n in
    // the loop and n > 64 for the tail.
    unsafe {
        let tail = v::load4(src.add(n - 64));
        let mut i = 0;
        while i + 64 < n {
            let block = v::load4(src.add(i));
            v::store4(dst.add(i), block);
            i += 64;
        }
        v::store4(dst.add(n - 64), tail);
    }
}

/// Downwards in 64-byte blocks, the first 64 bytes read first and written last: the mirror
/// of [`move_up`] for `dst` inside `(src, src + n)`.
///
/// # Safety
/// n > 64 and the ranges valid.
#[inline(always)]
unsafe fn move_down(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY (all accesses below): offsets stay within [0, n - 16] since the loop runs
    // while i > 64, reading [i - 64, i).
    unsafe {
        let head = v::load4(src);
        let mut i = n;
        while i > 64 {
            let block = v::load4(src.add(i - 64));
            v::store4(dst.add(i - 64), block);
            i -= 64;
        }
        v::store4(dst, head);
    }
}

/// 16-byte unaligned vector loads and stores: explicit intrinsics, so the compiler cannot
/// turn these loops back into a call of the C library's `memmove`.
mod v {
    #[cfg(target_arch = "x86_64")]
    mod arch {
        use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
        pub type V = __m128i;
        /// # Safety
        /// `p..p + 16` readable.
        #[inline(always)]
        pub unsafe fn load(p: *const u8) -> V {
            // SAFETY: SSE2 is baseline on x86_64; the caller vouches for the bytes.
            unsafe { _mm_loadu_si128(p.cast()) }
        }
        /// # Safety
        /// `p..p + 16` writable.
        #[inline(always)]
        pub unsafe fn store(p: *mut u8, v: V) {
            // SAFETY: as in `load`.
            unsafe { _mm_storeu_si128(p.cast(), v) }
        }
    }

    #[cfg(target_arch = "aarch64")]
    mod arch {
        use core::arch::aarch64::{uint8x16_t, vld1q_u8, vst1q_u8};
        pub type V = uint8x16_t;
        /// # Safety
        /// `p..p + 16` readable.
        #[inline(always)]
        pub unsafe fn load(p: *const u8) -> V {
            // SAFETY: NEON is baseline on aarch64; the caller vouches for the bytes.
            unsafe { vld1q_u8(p) }
        }
        /// # Safety
        /// `p..p + 16` writable.
        #[inline(always)]
        pub unsafe fn store(p: *mut u8, v: V) {
            // SAFETY: as in `load`.
            unsafe { vst1q_u8(p, v) }
        }
    }

    pub use arch::{load, store};

    /// # Safety
    /// `p..p + 64` readable.
    #[inline(always)]
    pub unsafe fn load4(p: *const u8) -> [arch::V; 4] {
        // SAFETY: the four 16-byte parts of the caller's 64 bytes.
        unsafe { [load(p), load(p.add(16)), load(p.add(32)), load(p.add(48))] }
    }

    /// # Safety
    /// `p..p + 64` writable.
    #[inline(always)]
    pub unsafe fn store4(p: *mut u8, v: [arch::V; 4]) {
        // SAFETY: as in `load4`.
        unsafe {
            store(p, v[0]);
            store(p.add(16), v[1]);
            store(p.add(32), v[2]);
            store(p.add(48), v[3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::aot_memmove;

    /// Every length up to past the loop limit, at overlapping offsets both ways and
    /// apart, against a byte-by-byte reference.
    #[test]
    fn moves_like_memmove() {
        let lens = (0..300).chain([511, 512, 513, 1000, 4095, 4096, 4097, 5000]);
        for n in lens {
            for (d, s) in [
                (0, 0),
                (0, 1),
                (1, 0),
                (0, 17),
                (17, 0),
                (3, 64),
                (64, 3),
                (0, 6000),
                (6000, 0),
            ] {
                let mut buf: Vec<u8> = (0..12000u32).map(|i| (i * 7 + i / 251) as u8).collect();
                let mut want = buf.clone();
                let tmp: Vec<u8> = want[s..s + n].to_vec();
                want[d..d + n].copy_from_slice(&tmp);
                let base = buf.as_mut_ptr();
                // SAFETY: both ranges lie inside `buf` (12000 bytes, n + offset < 12000).
                let r = unsafe { aot_memmove(base.add(d), base.add(s), n) };
                assert_eq!(r, base.wrapping_add(d));
                assert!(buf == want, "n {n}, dst {d}, src {s}");
            }
        }
    }
}
