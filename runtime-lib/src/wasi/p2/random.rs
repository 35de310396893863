//! `wasi:random` 0.2: the secure, insecure and seed interfaces, all from the kernel's
//! `getrandom` (as wasmtime's defaults are all unpredictable).

use super::{Call, R, le32, le64, p2_fns};
use crate::wasi::random;

fn bytes(cx: &Call, len: i64, retptr: i32) -> R<()> {
    let len = usize::try_from(len as u64).map_err(|_| cx.trap("random bytes: length too large"))?;
    let mut buf = vec![0u8; len];
    random::fill(&mut buf).map_err(|e| cx.trap(format!("getrandom: {e}")))?;
    let (p, l) = cx.lower_bytes(&buf)?;
    cx.ret(retptr, 4, &[(0, &le32(p)), (4, &le32(l))])
}

fn u64_random(cx: &Call) -> R<i64> {
    let mut b = [0u8; 8];
    random::fill(&mut b).map_err(|e| cx.trap(format!("getrandom: {e}")))?;
    Ok(i64::from_le_bytes(b))
}

p2_fns! {
    fn aot_wasi_p2_random__random__get_random_bytes(cx, len: i64, retptr: i32) {
        bytes(&cx, len, retptr)
    }

    fn aot_wasi_p2_random__random__get_random_u64(cx) -> i64 {
        u64_random(&cx)
    }

    fn aot_wasi_p2_random__insecure__get_insecure_random_bytes(cx, len: i64, retptr: i32) {
        bytes(&cx, len, retptr)
    }

    fn aot_wasi_p2_random__insecure__get_insecure_random_u64(cx) -> i64 {
        u64_random(&cx)
    }

    fn aot_wasi_p2_random__insecure_seed__insecure_seed(cx, retptr: i32) {
        let a = u64_random(&cx)? as u64;
        let b = u64_random(&cx)? as u64;
        cx.ret(retptr, 8, &[(0, &le64(a)), (8, &le64(b))])
    }
}
