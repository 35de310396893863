//! `wasi:sockets/ip-name-lookup` 0.2: a name becomes a stream of IP addresses. Numeric
//! names (dotted IPv4 in any of the URL standard's forms, IPv6 with or without
//! brackets) are answered without a lookup; other names go to the system resolver
//! (`/etc/hosts`, then DNS), whose every failure is `name-unresolvable`, as in wasmtime.
//!
//! wasmtime resolves names only under a grant of its own (`-S allow-ip-name-lookup`,
//! off even with `-S inherit-network`), and so does aot (`--allow-ip-name-lookup`):
//! without it every lookup fails with `permanent-resolver-failure`, as under wasmtime.
//! Resolution is done when `resolve-addresses` returns, so the stream's pollable is always
//! ready.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use super::{
    Children, ErrorCode, IP_ADDRESS_SIZE, SockResult, drop_parent, ip_address_bytes, network_arg,
    ret_result, ret_u32,
};
use crate::Locked;
use crate::wasi::p2::io::Pollable;
use crate::wasi::p2::{Call, Object, p2_fns, rt};

/// Whether name lookups are granted (see the module documentation).
fn lookup_allowed(cx: &Call) -> bool {
    cx.wasi.allow_ip_name_lookup
}

pub struct ResolveStream {
    /// What is left to hand out, or the error every call reports.
    addresses: Mutex<SockResult<std::vec::IntoIter<IpAddr>>>,
    children: Children,
}

/// How a name is to be resolved, or why it is not a name.
#[derive(Debug, PartialEq, Eq)]
enum Name {
    Ip(IpAddr),
    Domain(String),
}

/// Reads `name` as the URL standard's host parser does (which wasmtime uses): brackets
/// around IPv6, IPv4 in its numeric forms, else a domain (ASCII here: no IDNA mapping),
/// lower-cased, without forbidden code points.
fn parse_name(name: &str) -> SockResult<Name> {
    if let Some(inner) = name.strip_prefix('[') {
        return match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(a)) => Ok(Name::Ip(a.into())),
            _ => Err(ErrorCode::InvalidArgument),
        };
    }
    if let Ok(a) = name.parse::<Ipv6Addr>() {
        return Ok(Name::Ip(a.into()));
    }
    const FORBIDDEN: &[u8] = b" #%/:<>?@[\\]^|";
    if name.is_empty()
        || !name.is_ascii()
        || name
            .bytes()
            .any(|b| b.is_ascii_control() || FORBIDDEN.contains(&b))
    {
        return Err(ErrorCode::InvalidArgument);
    }
    let domain = name.to_ascii_lowercase();
    if ends_in_number(&domain) {
        return parse_ipv4(&domain)
            .map(|a| Name::Ip(a.into()))
            .ok_or(ErrorCode::InvalidArgument);
    }
    Ok(Name::Domain(domain))
}

/// Whether the last label (ignoring one trailing dot) is a number, which makes the
/// host an IPv4 address or invalid.
fn ends_in_number(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or("");
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    last.strip_prefix("0x")
        .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The URL standard's IPv4 parser: 1 to 4 parts, each decimal, `0x` hex or `0` octal;
/// the last fills the remaining bytes.
fn parse_ipv4(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|p| parse_ipv4_number(p))
        .collect::<Option<Vec<u64>>>()?;
    let (last, init) = numbers.split_last()?;
    if init.iter().any(|&n| n > 255) || *last >= 256u64.pow(5 - numbers.len() as u32) {
        return None;
    }
    let mut value = *last;
    for (i, n) in init.iter().enumerate() {
        value += n << (8 * (3 - i));
    }
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(h) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (h, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&n| n <= u32::MAX as u64)
}

/// Resolves `name`: `Err` for a name that is none (reported by `resolve-addresses`
/// itself), `Ok(Err)` for a failed lookup (reported by `resolve-next-address`).
fn resolve(name: &str) -> SockResult<SockResult<Vec<IpAddr>>> {
    match parse_name(name)? {
        Name::Ip(ip) => Ok(Ok(vec![ip])),
        Name::Domain(domain) => Ok(match (domain.as_str(), 0).to_socket_addrs() {
            Ok(addrs) => Ok(addrs.map(|a| a.ip().to_canonical()).collect()),
            Err(_) => Err(ErrorCode::NameUnresolvable),
        }),
    }
}

p2_fns! {
    fn aot_wasi_p2_sockets__ip_name_lookup__resolve_addresses(cx, network: i32, ptr: i32, len: i32, retptr: i32) {
        network_arg(&cx, network)?;
        let name = cx.string_arg(ptr, len)?;
        let resolved = if lookup_allowed(&cx) {
            resolve(&name)
        } else {
            Err(ErrorCode::PermanentResolverFailure)
        };
        match resolved {
            Ok(addresses) => {
                let stream = ResolveStream {
                    addresses: Mutex::new(addresses.map(Vec::into_iter)),
                    children: Children::default(),
                };
                let h = cx.push_other(rt::RESOLVE_ADDRESS_STREAM, stream)?;
                ret_u32(&cx, retptr, Ok(h as u32))
            }
            Err(e) => ret_u32(&cx, retptr, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__ip_name_lookup__method__resolve_address_stream__resolve_next_address(cx, this: i32, retptr: i32) {
        let s = cx.get_other::<ResolveStream>(this, rt::RESOLVE_ADDRESS_STREAM)?;
        let next = match &mut *s.addresses.locked() {
            Ok(addresses) => Ok(addresses.next()),
            Err(e) => Err(*e),
        };
        // result<option<ip-address>, error-code>: alignment 2, the option at 2, its
        // address at 4.
        let mut ok = [0u8; 2 + IP_ADDRESS_SIZE];
        if let Ok(Some(ip)) = next {
            ok[0] = 1;
            ok[2..].copy_from_slice(&ip_address_bytes(ip));
        }
        ret_result(&cx, retptr, 2, next.map(|_| &ok[..]))
    }

    fn aot_wasi_p2_sockets__ip_name_lookup__method__resolve_address_stream__subscribe(cx, this: i32) -> i32 {
        let s = cx.get_other::<ResolveStream>(this, rt::RESOLVE_ADDRESS_STREAM)?;
        let p = Arc::new(Pollable::Ready);
        s.children.add(&p);
        cx.push(rt::POLLABLE, Object::Pollable(p))
    }

    fn aot_wasi_p2_sockets__ip_name_lookup__resource_drop__resolve_address_stream(cx, handle: i32) {
        drop_parent(&cx, handle, rt::RESOLVE_ADDRESS_STREAM, |o| match o {
            Object::Other(o) => o.downcast_ref::<ResolveStream>().is_some_and(|s| s.children.any_alive()),
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> SockResult<Name> {
        Ok(Name::Ip(s.parse().unwrap()))
    }

    #[test]
    fn numeric_names() {
        assert_eq!(parse_name("127.0.0.1"), ip("127.0.0.1"));
        assert_eq!(parse_name("127.1"), ip("127.0.0.1"));
        assert_eq!(parse_name("0x7f.0.0.1"), ip("127.0.0.1"));
        assert_eq!(parse_name("0177.0.0.1"), ip("127.0.0.1"));
        assert_eq!(parse_name("2130706433"), ip("127.0.0.1"));
        assert_eq!(parse_name("10.0.0.1."), ip("10.0.0.1"));
        assert_eq!(parse_name("::1"), ip("::1"));
        assert_eq!(parse_name("[fe80::1]"), ip("fe80::1"));
        assert_eq!(parse_name("256.0.0.1"), Err(ErrorCode::InvalidArgument));
        assert_eq!(parse_name("1.2.3.4.5"), Err(ErrorCode::InvalidArgument));
        assert_eq!(parse_name("[::1"), Err(ErrorCode::InvalidArgument));
        assert_eq!(parse_name("example.123"), Err(ErrorCode::InvalidArgument));
    }

    #[test]
    fn domain_names() {
        assert_eq!(
            parse_name("LocalHost"),
            Ok(Name::Domain("localhost".into()))
        );
        assert_eq!(
            parse_name("a-b.example."),
            Ok(Name::Domain("a-b.example.".into()))
        );
        assert_eq!(parse_name(""), Err(ErrorCode::InvalidArgument));
        assert_eq!(parse_name("a b"), Err(ErrorCode::InvalidArgument));
        assert_eq!(parse_name("a/b"), Err(ErrorCode::InvalidArgument));
        assert_eq!(
            parse_name("bücher.example"),
            Err(ErrorCode::InvalidArgument)
        );
    }

    #[test]
    fn resolves_numeric_without_lookup() {
        assert_eq!(
            resolve("10.1.2.3"),
            Ok(Ok(vec!["10.1.2.3".parse().unwrap()]))
        );
        assert_eq!(resolve("a b"), Err(ErrorCode::InvalidArgument));
    }
}
