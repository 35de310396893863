//! `wasi:sockets` 0.2: the network capability, TCP and UDP sockets over non-blocking host
//! sockets, and name lookup. This module owns the types every sockets interface shares:
//! the `error-code` enum and its mapping from host errors, IP socket addresses (lifted
//! from flat parameters and from memory, lowered into memory), the address checks
//! wasmtime applies before any system call, and the `children` rule of wasmtime's
//! resource table (a socket cannot be dropped while a stream or pollable it handed out
//! lives).
//!
//! Access follows `wasmtime run`: without `--inherit-network` the `network` resource
//! exists but creating a socket fails with `access-denied`; with it every address may be
//! bound and connected to. Name lookup needs a grant of its own in wasmtime
//! (`-S allow-ip-name-lookup`), which aot has no flag for, so it is denied either way
//! ([`lookup`]).
//!
//! The WASI state machines (`start-`/`finish-` pairs, `would-block`, `not-in-progress`)
//! live in [`tcp`] and [`udp`]; no call blocks except the `blocking-` stream functions
//! and `poll`.

mod lookup;
mod tcp;
mod udp;

use std::any::Any;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::{Arc, Mutex, Weak};

use rustix::io::Errno;

use super::{Call, R, le32, le64, p2_fns, rt};
use crate::Locked;
use crate::wasi::io::StreamError;

/// `wasi:sockets/network.error-code`, with the WIT's case numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorCode {
    Unknown = 0,
    AccessDenied = 1,
    NotSupported = 2,
    InvalidArgument = 3,
    OutOfMemory = 4,
    Timeout = 5,
    ConcurrencyConflict = 6,
    NotInProgress = 7,
    WouldBlock = 8,
    InvalidState = 9,
    #[allow(dead_code, reason = "a WIT case wasmtime's host never reports")]
    NewSocketLimit = 10,
    AddressNotBindable = 11,
    AddressInUse = 12,
    RemoteUnreachable = 13,
    ConnectionRefused = 14,
    ConnectionReset = 15,
    ConnectionAborted = 16,
    DatagramTooLarge = 17,
    NameUnresolvable = 18,
    #[allow(dead_code, reason = "a WIT case wasmtime's host never reports")]
    TemporaryResolverFailure = 19,
    PermanentResolverFailure = 20,
}

impl From<Errno> for ErrorCode {
    /// wasmtime's mapping: host errors go through its socket layer's codes, where
    /// `EPIPE` and anything unlisted become `unknown` (no `would-block` or
    /// `new-socket-limit` comes from a system call).
    fn from(e: Errno) -> ErrorCode {
        match e {
            Errno::PERM | Errno::ACCESS => ErrorCode::AccessDenied,
            Errno::ADDRINUSE => ErrorCode::AddressInUse,
            Errno::ADDRNOTAVAIL => ErrorCode::AddressNotBindable,
            Errno::TIMEDOUT => ErrorCode::Timeout,
            Errno::CONNREFUSED => ErrorCode::ConnectionRefused,
            Errno::CONNRESET => ErrorCode::ConnectionReset,
            Errno::CONNABORTED => ErrorCode::ConnectionAborted,
            Errno::INVAL => ErrorCode::InvalidArgument,
            Errno::HOSTUNREACH
            | Errno::HOSTDOWN
            | Errno::NETDOWN
            | Errno::NETUNREACH
            | Errno::NONET => ErrorCode::RemoteUnreachable,
            Errno::ISCONN | Errno::NOTCONN | Errno::DESTADDRREQ => ErrorCode::InvalidState,
            Errno::MSGSIZE => ErrorCode::DatagramTooLarge,
            Errno::NOMEM | Errno::NOBUFS => ErrorCode::OutOfMemory,
            Errno::OPNOTSUPP
            | Errno::NOPROTOOPT
            | Errno::PFNOSUPPORT
            | Errno::PROTONOSUPPORT
            | Errno::PROTOTYPE
            | Errno::SOCKTNOSUPPORT
            | Errno::AFNOSUPPORT => ErrorCode::NotSupported,
            _ => ErrorCode::Unknown,
        }
    }
}

/// A failed stream operation on a socket. Its `wasi:io/error` reads as wasmtime's does:
/// the name of its socket-layer code (`ConnectionReset`, `Other`).
pub fn stream_failure(code: ErrorCode) -> StreamError {
    let name = match code {
        ErrorCode::Unknown => "Other".to_string(),
        other => format!("{other:?}"),
    };
    StreamError::LastOperationFailed(io::Error::other(name))
}

pub type SockResult<T> = Result<T, ErrorCode>;

/// `ip-address-family`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// Lifts the enum's flat discriminant.
    fn lift(cx: &Call, discriminant: i32) -> R<Family> {
        match discriminant as u32 {
            0 => Ok(Family::Ipv4),
            1 => Ok(Family::Ipv6),
            d => Err(cx.trap(format!("unexpected discriminant: {d}"))),
        }
    }

    fn lower(self) -> i32 {
        match self {
            Family::Ipv4 => 0,
            Family::Ipv6 => 1,
        }
    }

    fn unspecified(self) -> SocketAddr {
        match self {
            Family::Ipv4 => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
            Family::Ipv6 => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
        }
    }

    fn rustix(self) -> rustix::net::AddressFamily {
        match self {
            Family::Ipv4 => rustix::net::AddressFamily::INET,
            Family::Ipv6 => rustix::net::AddressFamily::INET6,
        }
    }
}

/// A new non-blocking, close-on-exec socket; IPv6 ones are IPv6-only, as WASI requires.
fn new_socket(family: Family, kind: rustix::net::SocketType) -> SockResult<rustix::fd::OwnedFd> {
    use rustix::net::SocketFlags;
    let fd = rustix::net::socket_with(
        family.rustix(),
        kind,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    if family == Family::Ipv6 {
        rustix::net::sockopt::set_ipv6_v6only(&fd, true)?;
    }
    Ok(fd)
}

/// Whether the program may create sockets: the `--inherit-network` grant. wasmtime
/// checks it when a socket is created, so `instance-network` always succeeds.
fn check_network(cx: &Call) -> SockResult<()> {
    if cx.wasi.inherit_network {
        Ok(())
    } else {
        Err(ErrorCode::AccessDenied)
    }
}

// The address checks wasmtime makes before a system call sees the address.

/// IPv4 addresses in the deprecated IPv4-compatible IPv6 form (`::a.b.c.d`).
fn is_deprecated_ipv4_compatible(a: Ipv6Addr) -> bool {
    matches!(a.segments(), [0, 0, 0, 0, 0, 0, _, _])
        && a != Ipv6Addr::UNSPECIFIED
        && a != Ipv6Addr::LOCALHOST
}

/// Whether `ip` suits a socket of `family`; IPv4-mapped and IPv4-compatible IPv6
/// addresses suit neither.
fn is_valid_family(ip: IpAddr, family: Family) -> bool {
    match (family, ip) {
        (Family::Ipv4, IpAddr::V4(_)) => true,
        (Family::Ipv6, IpAddr::V6(v6)) => {
            !is_deprecated_ipv4_compatible(v6) && v6.to_ipv4_mapped().is_none()
        }
        _ => false,
    }
}

fn is_valid_remote(addr: SocketAddr) -> bool {
    !addr.ip().to_canonical().is_unspecified() && addr.port() != 0
}

fn is_valid_unicast(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

/// Lifts an `ip-socket-address` from its flat form: the case, then the 11 values of the
/// longer case (IPv4 uses the first 5: port and 4 octets; IPv6 all: port, flow info,
/// 8 segments, scope id). Narrow integers keep their low bits, as the canonical ABI
/// lifts them.
pub fn lift_socket_address(cx: &Call, case: i32, v: [i32; 11]) -> R<SocketAddr> {
    match case as u32 {
        0 => Ok(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(v[1] as u8, v[2] as u8, v[3] as u8, v[4] as u8),
            v[0] as u16,
        ))),
        1 => {
            let s = |i: usize| v[i] as u16;
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s(2), s(3), s(4), s(5), s(6), s(7), s(8), s(9)),
                v[0] as u16,
                v[1] as u32,
                v[10] as u32,
            )))
        }
        d => Err(cx.trap(format!("unexpected discriminant: {d}"))),
    }
}

/// Size of an `ip-socket-address` in memory (alignment 4).
pub const SOCKET_ADDRESS_SIZE: usize = 32;

/// An `ip-socket-address` as the canonical ABI lays it out in memory: the case byte,
/// then at offset 4 the record (`port` at 0; IPv4: the octets at 2; IPv6: `flow-info`
/// at 4, the segments at 8, `scope-id` at 24).
pub fn socket_address_bytes(addr: SocketAddr) -> [u8; SOCKET_ADDRESS_SIZE] {
    let mut b = [0u8; SOCKET_ADDRESS_SIZE];
    match addr {
        SocketAddr::V4(a) => {
            b[0] = 0;
            b[4..6].copy_from_slice(&a.port().to_le_bytes());
            b[6..10].copy_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            b[0] = 1;
            b[4..6].copy_from_slice(&a.port().to_le_bytes());
            b[8..12].copy_from_slice(&a.flowinfo().to_le_bytes());
            for (i, s) in a.ip().segments().iter().enumerate() {
                b[12 + 2 * i..14 + 2 * i].copy_from_slice(&s.to_le_bytes());
            }
            b[28..32].copy_from_slice(&a.scope_id().to_le_bytes());
        }
    }
    b
}

/// Why bytes in memory are not an `ip-socket-address`: a case other than 0 or 1.
#[derive(Debug, PartialEq, Eq)]
pub struct BadDiscriminant(pub u8);

/// Reads an `ip-socket-address` from its memory layout (see [`socket_address_bytes`]).
pub fn socket_address_from_bytes(
    b: &[u8; SOCKET_ADDRESS_SIZE],
) -> Result<SocketAddr, BadDiscriminant> {
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    match b[0] {
        0 => Ok(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(b[6], b[7], b[8], b[9]),
            u16_at(4),
        ))),
        1 => {
            let mut segments = [0u16; 8];
            for (i, s) in segments.iter_mut().enumerate() {
                *s = u16_at(12 + 2 * i);
            }
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(segments),
                u16_at(4),
                u32_at(8),
                u32_at(28),
            )))
        }
        d => Err(BadDiscriminant(d)),
    }
}

/// Size of an `ip-address` in memory (alignment 2).
pub const IP_ADDRESS_SIZE: usize = 18;

/// An `ip-address` in memory: the case byte, then at offset 2 the 4 octets or the 8
/// segments.
pub fn ip_address_bytes(ip: IpAddr) -> [u8; IP_ADDRESS_SIZE] {
    let mut b = [0u8; IP_ADDRESS_SIZE];
    match ip {
        IpAddr::V4(a) => {
            b[0] = 0;
            b[2..6].copy_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            b[0] = 1;
            for (i, s) in a.segments().iter().enumerate() {
                b[2 + 2 * i..4 + 2 * i].copy_from_slice(&s.to_le_bytes());
            }
        }
    }
    b
}

/// Writes `result<T, error-code>` at `retptr`, where `T` lowers to `ok` and has
/// alignment `align` (1 for `result<_, error-code>`): the case byte, then the payload or
/// the error's byte at offset `align`.
pub fn ret_result(cx: &Call, retptr: i32, align: u32, r: SockResult<&[u8]>) -> R<()> {
    match r {
        Ok(ok) => cx.ret(retptr, align, &[(0, &[0]), (align, ok)]),
        Err(e) => cx.ret(retptr, align, &[(0, &[1]), (align, &[e as u8])]),
    }
}

pub fn ret_unit(cx: &Call, retptr: i32, r: SockResult<()>) -> R<()> {
    ret_result(cx, retptr, 1, r.map(|()| &[][..]))
}

pub fn ret_u8(cx: &Call, retptr: i32, r: SockResult<u8>) -> R<()> {
    let b = r.map(|v| [v]);
    ret_result(cx, retptr, 1, b.as_ref().map(|b| &b[..]).map_err(|e| *e))
}

pub fn ret_bool(cx: &Call, retptr: i32, r: SockResult<bool>) -> R<()> {
    ret_u8(cx, retptr, r.map(u8::from))
}

pub fn ret_u32(cx: &Call, retptr: i32, r: SockResult<u32>) -> R<()> {
    let b = r.map(le32);
    ret_result(cx, retptr, 4, b.as_ref().map(|b| &b[..]).map_err(|e| *e))
}

pub fn ret_u64(cx: &Call, retptr: i32, r: SockResult<u64>) -> R<()> {
    let b = r.map(le64);
    ret_result(cx, retptr, 8, b.as_ref().map(|b| &b[..]).map_err(|e| *e))
}

/// `result<tuple<own<..>, ..>, error-code>`: the handles as consecutive `i32`s.
pub fn ret_handles(cx: &Call, retptr: i32, r: SockResult<&[i32]>) -> R<()> {
    let b = r.map(|hs| hs.iter().flat_map(|h| h.to_le_bytes()).collect::<Vec<u8>>());
    ret_result(cx, retptr, 4, b.as_deref().map_err(|e| *e))
}

pub fn ret_socket_address(cx: &Call, retptr: i32, r: SockResult<SocketAddr>) -> R<()> {
    let b = r.map(socket_address_bytes);
    ret_result(cx, retptr, 4, b.as_ref().map(|b| &b[..]).map_err(|e| *e))
}

/// The resources a resource has handed out that wasmtime records as its children
/// (streams, pollables): while one lives, dropping the parent traps.
#[derive(Default)]
pub struct Children(Mutex<Vec<Weak<dyn Any + Send + Sync>>>);

impl Children {
    pub fn add<T: Any + Send + Sync>(&self, child: &Arc<T>) {
        let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(child) as Weak<_>;
        let mut list = self.0.locked();
        list.retain(|w| w.strong_count() > 0);
        list.push(weak);
    }

    pub fn any_alive(&self) -> bool {
        self.0.locked().iter().any(|w| w.strong_count() > 0)
    }
}

/// `resource.drop` of a resource with [`Children`]: wasmtime's table refuses to delete
/// a parent whose children live.
pub fn drop_parent(
    cx: &Call,
    handle: i32,
    ty: crate::resources::ResourceType,
    children: impl FnOnce(&super::Object) -> bool,
) -> R<()> {
    let object = cx.get(handle, ty)?;
    if children(&object) {
        return Err(cx.trap("resource has children"));
    }
    drop(object);
    cx.drop_handle(handle, ty)
}

/// The `network` capability; all checks are made against the WASI context.
pub struct Network;

/// Checks a `borrow<network>` argument, as wasmtime does before anything else.
fn network_arg(cx: &Call, handle: i32) -> R<()> {
    cx.get_other::<Network>(handle, rt::NETWORK).map(drop)
}

p2_fns! {
    fn aot_wasi_p2_sockets__instance_network__instance_network(cx) -> i32 {
        cx.push_other(rt::NETWORK, Network)
    }

    fn aot_wasi_p2_sockets__network__resource_drop__network(cx, handle: i32) {
        cx.drop_handle(handle, rt::NETWORK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_socket_address_layout() {
        let a: SocketAddr = "192.168.1.20:8080".parse().unwrap();
        let b = socket_address_bytes(a);
        assert_eq!(b[0], 0);
        assert_eq!(&b[4..6], &8080u16.to_le_bytes());
        assert_eq!(&b[6..10], &[192, 168, 1, 20]);
        assert!(b[10..].iter().all(|&x| x == 0));
        assert_eq!(socket_address_from_bytes(&b), Ok(a));
    }

    #[test]
    fn ipv6_socket_address_layout() {
        let a = SocketAddr::V6(SocketAddrV6::new(
            "2001:db8::1:ff".parse().unwrap(),
            443,
            0x0102_0304,
            7,
        ));
        let b = socket_address_bytes(a);
        assert_eq!(b[0], 1);
        assert_eq!(&b[4..6], &443u16.to_le_bytes());
        assert_eq!(&b[8..12], &0x0102_0304u32.to_le_bytes());
        assert_eq!(&b[12..14], &0x2001u16.to_le_bytes());
        assert_eq!(&b[14..16], &0x0db8u16.to_le_bytes());
        assert_eq!(&b[24..26], &1u16.to_le_bytes());
        assert_eq!(&b[26..28], &0xffu16.to_le_bytes());
        assert_eq!(&b[28..32], &7u32.to_le_bytes());
        assert_eq!(socket_address_from_bytes(&b), Ok(a));
    }

    #[test]
    fn socket_address_case_out_of_range() {
        let mut b = [0u8; SOCKET_ADDRESS_SIZE];
        b[0] = 2;
        assert_eq!(socket_address_from_bytes(&b), Err(BadDiscriminant(2)));
    }

    #[test]
    fn ip_address_layout() {
        let v4 = ip_address_bytes("127.0.0.1".parse().unwrap());
        assert_eq!(&v4[..6], &[0, 0, 127, 0, 0, 1]);
        let v6 = ip_address_bytes("::1".parse().unwrap());
        assert_eq!(v6[0], 1);
        assert!(v6[2..16].iter().all(|&x| x == 0));
        assert_eq!(&v6[16..18], &1u16.to_le_bytes());
    }

    #[test]
    fn address_checks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(is_valid_family(ip("10.0.0.1"), Family::Ipv4));
        assert!(!is_valid_family(ip("10.0.0.1"), Family::Ipv6));
        assert!(is_valid_family(ip("::1"), Family::Ipv6));
        assert!(is_valid_family(ip("::"), Family::Ipv6));
        assert!(!is_valid_family(ip("::ffff:10.0.0.1"), Family::Ipv6));
        assert!(!is_valid_family(ip("::10.0.0.1"), Family::Ipv6));
        assert!(!is_valid_unicast(ip("224.0.0.1")));
        assert!(!is_valid_unicast(ip("255.255.255.255")));
        assert!(!is_valid_unicast(ip("ff02::1")));
        assert!(is_valid_unicast(ip("0.0.0.0")));
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(!is_valid_remote(sa("0.0.0.0:80")));
        assert!(!is_valid_remote(sa("[::ffff:0.0.0.0]:80")));
        assert!(!is_valid_remote(sa("127.0.0.1:0")));
        assert!(is_valid_remote(sa("127.0.0.1:80")));
    }

    #[test]
    fn errno_mapping() {
        assert_eq!(
            ErrorCode::from(Errno::CONNREFUSED),
            ErrorCode::ConnectionRefused
        );
        assert_eq!(ErrorCode::from(Errno::ADDRINUSE), ErrorCode::AddressInUse);
        assert_eq!(ErrorCode::from(Errno::PIPE), ErrorCode::Unknown);
        assert_eq!(ErrorCode::from(Errno::AGAIN), ErrorCode::Unknown);
        assert_eq!(ErrorCode::from(Errno::AFNOSUPPORT), ErrorCode::NotSupported);
        assert_eq!(ErrorCode::PermanentResolverFailure as u8, 20);
    }
}
