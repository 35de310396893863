//! The `wasi:random` host: cryptographically secure bytes from the kernel's `getrandom`.

use std::io;

/// Fills `buf` with random bytes, blocking until the kernel's pool is initialised.
pub fn fill(mut buf: &mut [u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::rand::getrandom(&mut *buf, rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => buf = &mut buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_large_buffers_with_varying_bytes() {
        let mut a = vec![0u8; 1 << 20];
        fill(&mut a).unwrap();
        let mut b = vec![0u8; 1 << 20];
        fill(&mut b).unwrap();
        assert_ne!(a, b);
        // A short read that left the tail untouched would leave it zero.
        assert!(a[a.len() - 1024..].iter().any(|&x| x != 0));
        fill(&mut []).unwrap();
    }
}
