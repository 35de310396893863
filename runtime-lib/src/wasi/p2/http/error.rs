//! `wasi:http/types.error-code`: the value, its canonical ABI memory layout (lowering into
//! a result area) and its flat form (lifting, for `response-outparam.set`).
//!
//! Layout (checked against the shared type model in the tests): a one-byte discriminant,
//! the payload at offset 8 (the widest payload, `option<u64>`, is 8-aligned), 32 bytes in
//! all. Payload offsets below are relative to the start of the `error-code` value.

use std::fmt;

/// Bytes an `error-code` occupies in memory.
pub const SIZE: u32 = 32;
/// Its alignment.
pub const ALIGN: u32 = 8;
/// Where its payload starts.
const PAYLOAD: usize = 8;

/// Places a string's bytes in guest memory; returns its (pointer, length).
pub type Lower<'a, E> = dyn FnMut(&[u8]) -> Result<(u32, u32), E> + 'a;

/// `field-size-payload`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSize {
    pub field_name: Option<String>,
    pub field_size: Option<u32>,
}

/// `error-code`, case for case in WIT order (the discriminant is the position).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    DnsTimeout,
    DnsError {
        rcode: Option<String>,
        info_code: Option<u16>,
    },
    DestinationNotFound,
    DestinationUnavailable,
    DestinationIpProhibited,
    DestinationIpUnroutable,
    ConnectionRefused,
    ConnectionTerminated,
    ConnectionTimeout,
    ConnectionReadTimeout,
    ConnectionWriteTimeout,
    ConnectionLimitReached,
    TlsProtocolError,
    TlsCertificateError,
    TlsAlertReceived {
        alert_id: Option<u8>,
        alert_message: Option<String>,
    },
    HttpRequestDenied,
    HttpRequestLengthRequired,
    HttpRequestBodySize(Option<u64>),
    HttpRequestMethodInvalid,
    HttpRequestUriInvalid,
    HttpRequestUriTooLong,
    HttpRequestHeaderSectionSize(Option<u32>),
    HttpRequestHeaderSize(Option<FieldSize>),
    HttpRequestTrailerSectionSize(Option<u32>),
    HttpRequestTrailerSize(FieldSize),
    HttpResponseIncomplete,
    HttpResponseHeaderSectionSize(Option<u32>),
    HttpResponseHeaderSize(FieldSize),
    HttpResponseBodySize(Option<u64>),
    HttpResponseTrailerSectionSize(Option<u32>),
    HttpResponseTrailerSize(FieldSize),
    HttpResponseTransferCoding(Option<String>),
    HttpResponseContentCoding(Option<String>),
    HttpResponseTimeout,
    HttpUpgradeFailed,
    HttpProtocolError,
    LoopDetected,
    ConfigurationError,
    InternalError(Option<String>),
}

/// An `error-code` carried by a stream's `io-error`, so that `http-error-code` can recover
/// it (a body stream's write beyond its `content-length`).
#[derive(Debug)]
pub struct HttpFailure(pub ErrorCode);

impl fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for HttpFailure {}

/// The `error-code` an `io-error` carries, if it came from an HTTP body stream.
pub fn carried(e: &std::io::Error) -> Option<ErrorCode> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<HttpFailure>())
        .map(|f| f.0.clone())
}

/// Writes the little-endian `bytes` at `at` of `out`.
fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Lowers `option<string>` at `at`: discriminant, then (pointer, length) at `at + 4`.
fn put_opt_string<E>(
    out: &mut [u8],
    at: usize,
    s: &Option<String>,
    lower: &mut Lower<'_, E>,
) -> Result<(), E> {
    if let Some(s) = s {
        let (p, l) = lower(s.as_bytes())?;
        out[at] = 1;
        put(out, at + 4, &p.to_le_bytes());
        put(out, at + 8, &l.to_le_bytes());
    }
    Ok(())
}

/// Lowers `option<u32>` at `at`: discriminant, then the value at `at + 4`.
fn put_opt_u32(out: &mut [u8], at: usize, v: Option<u32>) {
    if let Some(v) = v {
        out[at] = 1;
        put(out, at + 4, &v.to_le_bytes());
    }
}

/// Lowers `option<u64>` at `at`: discriminant, then the value at `at + 8`.
fn put_opt_u64(out: &mut [u8], at: usize, v: Option<u64>) {
    if let Some(v) = v {
        out[at] = 1;
        put(out, at + 8, &v.to_le_bytes());
    }
}

/// Lowers `field-size-payload` at `at`: the name (`option<string>`, 12 bytes), then the
/// size (`option<u32>`) at `at + 12`.
fn put_field_size<E>(
    out: &mut [u8],
    at: usize,
    p: &FieldSize,
    lower: &mut Lower<'_, E>,
) -> Result<(), E> {
    put_opt_string(out, at, &p.field_name, lower)?;
    put_opt_u32(out, at + 12, p.field_size);
    Ok(())
}

impl ErrorCode {
    /// The case's discriminant.
    pub fn discriminant(&self) -> u8 {
        use ErrorCode::*;
        match self {
            DnsTimeout => 0,
            DnsError { .. } => 1,
            DestinationNotFound => 2,
            DestinationUnavailable => 3,
            DestinationIpProhibited => 4,
            DestinationIpUnroutable => 5,
            ConnectionRefused => 6,
            ConnectionTerminated => 7,
            ConnectionTimeout => 8,
            ConnectionReadTimeout => 9,
            ConnectionWriteTimeout => 10,
            ConnectionLimitReached => 11,
            TlsProtocolError => 12,
            TlsCertificateError => 13,
            TlsAlertReceived { .. } => 14,
            HttpRequestDenied => 15,
            HttpRequestLengthRequired => 16,
            HttpRequestBodySize(_) => 17,
            HttpRequestMethodInvalid => 18,
            HttpRequestUriInvalid => 19,
            HttpRequestUriTooLong => 20,
            HttpRequestHeaderSectionSize(_) => 21,
            HttpRequestHeaderSize(_) => 22,
            HttpRequestTrailerSectionSize(_) => 23,
            HttpRequestTrailerSize(_) => 24,
            HttpResponseIncomplete => 25,
            HttpResponseHeaderSectionSize(_) => 26,
            HttpResponseHeaderSize(_) => 27,
            HttpResponseBodySize(_) => 28,
            HttpResponseTrailerSectionSize(_) => 29,
            HttpResponseTrailerSize(_) => 30,
            HttpResponseTransferCoding(_) => 31,
            HttpResponseContentCoding(_) => 32,
            HttpResponseTimeout => 33,
            HttpUpgradeFailed => 34,
            HttpProtocolError => 35,
            LoopDetected => 36,
            ConfigurationError => 37,
            InternalError(_) => 38,
        }
    }

    /// The value's [`SIZE`] bytes in memory; `lower` places each string in guest memory
    /// and returns its (pointer, length). Bytes no case uses are zero.
    pub fn store<E>(&self, lower: &mut Lower<'_, E>) -> Result<[u8; SIZE as usize], E> {
        use ErrorCode::*;
        let mut out = [0u8; SIZE as usize];
        out[0] = self.discriminant();
        let at = PAYLOAD;
        match self {
            DnsError { rcode, info_code } => {
                // record { rcode: option<string> (12 bytes), info-code: option<u16> at 12 }
                put_opt_string(&mut out, at, rcode, lower)?;
                if let Some(v) = info_code {
                    out[at + 12] = 1;
                    put(&mut out, at + 14, &v.to_le_bytes());
                }
            }
            TlsAlertReceived {
                alert_id,
                alert_message,
            } => {
                // record { alert-id: option<u8> (2 bytes), alert-message: option<string> at 4 }
                if let Some(v) = alert_id {
                    out[at] = 1;
                    out[at + 1] = *v;
                }
                put_opt_string(&mut out, at + 4, alert_message, lower)?;
            }
            HttpRequestBodySize(v) | HttpResponseBodySize(v) => put_opt_u64(&mut out, at, *v),
            HttpRequestHeaderSectionSize(v)
            | HttpRequestTrailerSectionSize(v)
            | HttpResponseHeaderSectionSize(v)
            | HttpResponseTrailerSectionSize(v) => put_opt_u32(&mut out, at, *v),
            HttpRequestHeaderSize(Some(p)) => {
                out[at] = 1;
                put_field_size(&mut out, at + 4, p, lower)?;
            }
            HttpRequestTrailerSize(p) | HttpResponseHeaderSize(p) | HttpResponseTrailerSize(p) => {
                put_field_size(&mut out, at, p, lower)?
            }
            HttpResponseTransferCoding(s) | HttpResponseContentCoding(s) | InternalError(s) => {
                put_opt_string(&mut out, at, s, lower)?
            }
            _ => {}
        }
        Ok(out)
    }

    /// Lifts an `error-code` from its seven flat values `[disc, a, b (i64), c, d, e, f]`;
    /// `string` lifts a (pointer, length) pair. A bad discriminant is the error wasmtime's
    /// lifting raises.
    pub fn from_flat<E>(
        flat: [i64; 7],
        string: &mut dyn FnMut(u32, u32) -> Result<String, E>,
        bad: &mut dyn FnMut(String) -> E,
    ) -> Result<ErrorCode, E> {
        use ErrorCode::*;
        let w = |i: usize| flat[i] as u32;
        let mut option = |i: usize| -> Result<bool, E> {
            match w(i) {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(bad("invalid option discriminant".into())),
            }
        };
        // The flat positions of each payload shape.
        let opt_string_at = |i: usize,
                             option: &mut dyn FnMut(usize) -> Result<bool, E>,
                             string: &mut dyn FnMut(u32, u32) -> Result<String, E>|
         -> Result<Option<String>, E> {
            if option(i)? {
                Ok(Some(string(w(i + 1), w(i + 2))?))
            } else {
                Ok(None)
            }
        };
        let opt_u32_at = |i: usize,
                          option: &mut dyn FnMut(usize) -> Result<bool, E>|
         -> Result<Option<u32>, E> { Ok(option(i)?.then(|| w(i + 1))) };
        let field_size_at = |i: usize,
                             option: &mut dyn FnMut(usize) -> Result<bool, E>,
                             string: &mut dyn FnMut(u32, u32) -> Result<String, E>|
         -> Result<FieldSize, E> {
            Ok(FieldSize {
                field_name: opt_string_at(i, option, string)?,
                field_size: opt_u32_at(i + 3, option)?,
            })
        };
        let disc = w(0);
        Ok(match disc {
            0 => DnsTimeout,
            1 => DnsError {
                rcode: opt_string_at(1, &mut option, string)?,
                info_code: option(4)?.then(|| w(5) as u16),
            },
            2 => DestinationNotFound,
            3 => DestinationUnavailable,
            4 => DestinationIpProhibited,
            5 => DestinationIpUnroutable,
            6 => ConnectionRefused,
            7 => ConnectionTerminated,
            8 => ConnectionTimeout,
            9 => ConnectionReadTimeout,
            10 => ConnectionWriteTimeout,
            11 => ConnectionLimitReached,
            12 => TlsProtocolError,
            13 => TlsCertificateError,
            14 => TlsAlertReceived {
                alert_id: option(1)?.then(|| w(2) as u8),
                alert_message: opt_string_at(3, &mut option, string)?,
            },
            15 => HttpRequestDenied,
            16 => HttpRequestLengthRequired,
            17 => HttpRequestBodySize(option(1)?.then(|| flat[2] as u64)),
            18 => HttpRequestMethodInvalid,
            19 => HttpRequestUriInvalid,
            20 => HttpRequestUriTooLong,
            21 => HttpRequestHeaderSectionSize(opt_u32_at(1, &mut option)?),
            22 => HttpRequestHeaderSize(if option(1)? {
                Some(field_size_at(2, &mut option, string)?)
            } else {
                None
            }),
            23 => HttpRequestTrailerSectionSize(opt_u32_at(1, &mut option)?),
            24 => HttpRequestTrailerSize(field_size_at(1, &mut option, string)?),
            25 => HttpResponseIncomplete,
            26 => HttpResponseHeaderSectionSize(opt_u32_at(1, &mut option)?),
            27 => HttpResponseHeaderSize(field_size_at(1, &mut option, string)?),
            28 => HttpResponseBodySize(option(1)?.then(|| flat[2] as u64)),
            29 => HttpResponseTrailerSectionSize(opt_u32_at(1, &mut option)?),
            30 => HttpResponseTrailerSize(field_size_at(1, &mut option, string)?),
            31 => HttpResponseTransferCoding(opt_string_at(1, &mut option, string)?),
            32 => HttpResponseContentCoding(opt_string_at(1, &mut option, string)?),
            33 => HttpResponseTimeout,
            34 => HttpUpgradeFailed,
            35 => HttpProtocolError,
            36 => LoopDetected,
            37 => ConfigurationError,
            38 => InternalError(opt_string_at(1, &mut option, string)?),
            _ => return Err(bad(format!("unexpected discriminant: {disc}"))),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aot_abi::ctypes::CType;

    /// The number of cases.
    const CASES: u32 = 39;

    fn opt(t: CType) -> CType {
        CType::option(t)
    }

    fn field_size() -> CType {
        CType::Record(vec![opt(CType::String), opt(CType::U32)])
    }

    /// `error-code` in the shared type model, case for case.
    pub(crate) fn error_code_ctype() -> CType {
        let mut cases: Vec<Option<CType>> = vec![None; CASES as usize];
        cases[1] = Some(CType::Record(vec![opt(CType::String), opt(CType::U16)]));
        cases[14] = Some(CType::Record(vec![opt(CType::U8), opt(CType::String)]));
        for i in [17, 28] {
            cases[i] = Some(opt(CType::U64));
        }
        for i in [21, 23, 26, 29] {
            cases[i] = Some(opt(CType::U32));
        }
        cases[22] = Some(opt(field_size()));
        for i in [24, 27, 30] {
            cases[i] = Some(field_size());
        }
        for i in [31, 32, 38] {
            cases[i] = Some(opt(CType::String));
        }
        CType::Variant(cases)
    }

    #[test]
    fn error_code_layout_is_the_canonical_abis() {
        let t = error_code_ctype();
        assert_eq!(t.size(), SIZE);
        assert_eq!(t.align(), ALIGN);
        let CType::Variant(cases) = &t else {
            unreachable!()
        };
        assert_eq!(CType::payload_offset(cases), PAYLOAD as u32);
        // Seven flat values, the second i64: what `response-outparam.set` receives.
        use aot_abi::ValType::{I32, I64};
        assert_eq!(t.flat(), vec![I32, I32, I64, I32, I32, I32, I32]);
        // The payload records' field offsets used by `store`.
        let dns = [opt(CType::String), opt(CType::U16)];
        assert_eq!(CType::field_offsets(&dns), vec![0, 12]);
        assert_eq!(opt(CType::U16).size(), 4);
        let tls = [opt(CType::U8), opt(CType::String)];
        assert_eq!(CType::field_offsets(&tls), vec![0, 4]);
        let fs = [opt(CType::String), opt(CType::U32)];
        assert_eq!(CType::field_offsets(&fs), vec![0, 12]);
        assert_eq!(CType::payload_offset(&[None, Some(field_size())]), 4);
        assert_eq!(CType::payload_offset(&[None, Some(CType::U64)]), 8);
        assert_eq!(CType::payload_offset(&[None, Some(CType::U32)]), 4);
        assert_eq!(CType::payload_offset(&[None, Some(CType::String)]), 4);
    }

    fn fake_lower(strings: &mut Vec<Vec<u8>>) -> impl FnMut(&[u8]) -> Result<(u32, u32), ()> {
        move |b: &[u8]| {
            strings.push(b.to_vec());
            Ok((0x1000 * strings.len() as u32, b.len() as u32))
        }
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn store_places_each_payload_where_the_layout_says() {
        let mut strings = Vec::new();
        let mut lower = fake_lower(&mut strings);
        let b = ErrorCode::DnsError {
            rcode: Some("address not available".into()),
            info_code: Some(0x1234),
        }
        .store(&mut lower)
        .unwrap();
        assert_eq!(b[0], 1);
        assert_eq!((b[8], u32_at(&b, 12), u32_at(&b, 16)), (1, 0x1000, 21));
        assert_eq!((b[20], b[22], b[23]), (1, 0x34, 0x12));

        let b = ErrorCode::TlsAlertReceived {
            alert_id: Some(7),
            alert_message: Some("bad".into()),
        }
        .store(&mut lower)
        .unwrap();
        assert_eq!((b[0], b[8], b[9]), (14, 1, 7));
        assert_eq!((b[12], u32_at(&b, 16), u32_at(&b, 20)), (1, 0x2000, 3));

        let b = ErrorCode::HttpRequestBodySize(Some(0x0102_0304_0506_0708))
            .store(&mut lower)
            .unwrap();
        assert_eq!((b[0], b[8]), (17, 1));
        assert_eq!(&b[16..24], &0x0102_0304_0506_0708u64.to_le_bytes());

        let b = ErrorCode::HttpResponseHeaderSectionSize(Some(99))
            .store(&mut lower)
            .unwrap();
        assert_eq!((b[0], b[8], u32_at(&b, 12)), (26, 1, 99));

        let b = ErrorCode::HttpRequestHeaderSize(Some(FieldSize {
            field_name: Some("x".into()),
            field_size: Some(5),
        }))
        .store(&mut lower)
        .unwrap();
        assert_eq!((b[0], b[8], b[12]), (22, 1, 1));
        assert_eq!((u32_at(&b, 16), u32_at(&b, 20)), (0x3000, 1));
        assert_eq!((b[24], u32_at(&b, 28)), (1, 5));

        let b = ErrorCode::HttpResponseTrailerSize(FieldSize {
            field_name: None,
            field_size: Some(6),
        })
        .store(&mut lower)
        .unwrap();
        assert_eq!((b[0], b[8], b[20], u32_at(&b, 24)), (30, 0, 1, 6));

        let b = ErrorCode::InternalError(Some("oops".into()))
            .store(&mut lower)
            .unwrap();
        assert_eq!(
            (b[0], b[8], u32_at(&b, 12), u32_at(&b, 16)),
            (38, 1, 0x4000, 4)
        );

        let b = ErrorCode::ConnectionRefused.store(&mut lower).unwrap();
        assert_eq!(b[0], 6);
        assert!(b[1..].iter().all(|&x| x == 0));
    }

    /// Every case survives lowering to flat values (as a guest would pass it) and lifting.
    #[test]
    fn from_flat_reads_what_a_guest_passes() {
        let strings = ["s0", "s1", "s2"];
        let mut string = |p: u32, l: u32| -> Result<String, String> {
            assert_eq!(l, 2);
            Ok(strings[p as usize].to_string())
        };
        let mut bad = |m: String| m;
        let mut lift = |flat: [i64; 7]| ErrorCode::from_flat(flat, &mut string, &mut bad);
        assert_eq!(
            lift([1, 1, 0, 2, 1, 443, 0]),
            Ok(ErrorCode::DnsError {
                rcode: Some("s0".into()),
                info_code: Some(443)
            })
        );
        assert_eq!(
            lift([14, 1, 9, 1, 1, 2, 0]),
            Ok(ErrorCode::TlsAlertReceived {
                alert_id: Some(9),
                alert_message: Some("s1".into())
            })
        );
        assert_eq!(
            lift([17, 1, 1 << 40, 0, 0, 0, 0]),
            Ok(ErrorCode::HttpRequestBodySize(Some(1 << 40)))
        );
        assert_eq!(
            lift([22, 1, 1, 2, 2, 1, 7]),
            Ok(ErrorCode::HttpRequestHeaderSize(Some(FieldSize {
                field_name: Some("s2".into()),
                field_size: Some(7)
            })))
        );
        assert_eq!(
            lift([24, 0, 0, 0, 1, 8, 0]),
            Ok(ErrorCode::HttpRequestTrailerSize(FieldSize {
                field_name: None,
                field_size: Some(8)
            }))
        );
        assert_eq!(
            lift([38, 0, 0, 0, 0, 0, 0]),
            Ok(ErrorCode::InternalError(None))
        );
        assert_eq!(
            lift([39, 0, 0, 0, 0, 0, 0]),
            Err("unexpected discriminant: 39".into())
        );
        assert_eq!(
            lift([31, 2, 0, 0, 0, 0, 0]),
            Err("invalid option discriminant".into())
        );
        for d in 0..CASES {
            let code = lift([d as i64, 0, 0, 0, 0, 0, 0]);
            let code = code.unwrap_or_else(|e| panic!("case {d}: {e}"));
            assert_eq!(code.discriminant() as u32, d);
        }
    }
}
