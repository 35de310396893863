//! `wasi:sockets/udp` and `udp-create-socket` 0.2: a UDP socket is a non-blocking host
//! socket; once bound, `stream` (optionally connecting it) hands out one pair of datagram
//! streams over the same descriptor. While that pair lives the socket cannot be bound,
//! streamed again or dropped, as in wasmtime.
//!
//! Receiving takes what the kernel has queued, up to 16 datagrams a call; sending hands
//! each datagram to the kernel at once, after wasmtime's checks of its address.

use std::net::SocketAddr;
use std::sync::Arc;

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, SocketType};

use super::tcp::{
    hop_limit, receive_buffer_size, send_buffer_size, set_hop_limit, set_receive_buffer_size,
    set_send_buffer_size,
};
use super::{
    Children, ErrorCode, Family, SOCKET_ADDRESS_SIZE, SockResult, check_network, drop_parent,
    is_valid_family, is_valid_remote, lift_socket_address, network_arg, new_socket, ret_handles,
    ret_result, ret_socket_address, ret_u8, ret_u32, ret_u64, ret_unit, socket_address_bytes,
    socket_address_from_bytes,
};
use crate::Locked;
use crate::wasi::p2::io::Pollable;
use crate::wasi::p2::{Call, Object, R, le32, le64, p2_fns, rt};

/// The most datagrams one `receive` returns and one `check-send` permits (wasmtime's).
const MAX_DATAGRAMS: usize = 16;

/// The largest UDP payload, and the receive buffer for one datagram.
const MAX_DATAGRAM_SIZE: usize = u16::MAX as usize;

/// The most bytes one `receive` gathers before returning (wasmtime's read budget).
const RECEIVE_BUDGET: usize = 64 * 1024;

/// What wasmtime tracks beside the host socket.
struct State {
    /// `start-bind` succeeded and awaits `finish-bind`.
    binding: bool,
    bound: bool,
    /// The connected peer, as the kernel reports it after `stream`.
    remote: Option<SocketAddr>,
}

/// A `udp-socket` resource.
pub struct UdpSocket {
    fd: Arc<OwnedFd>,
    family: Family,
    state: std::sync::Mutex<State>,
    /// Pollables and datagram streams.
    children: Children,
    /// The datagram streams alone: while one lives, `stream` traps.
    streams: Children,
}

impl UdpSocket {
    fn start_bind(&self, addr: SocketAddr) -> SockResult<()> {
        let mut st = self.state.locked();
        if st.binding {
            return Err(ErrorCode::ConcurrencyConflict);
        }
        if self.streams.any_alive() || st.bound {
            return Err(ErrorCode::InvalidState);
        }
        if !is_valid_family(addr.ip(), self.family) {
            return Err(ErrorCode::InvalidArgument);
        }
        rustix::net::bind(&*self.fd, &addr).map_err(|e| match e {
            Errno::AFNOSUPPORT => ErrorCode::InvalidArgument,
            e => e.into(),
        })?;
        st.bound = true;
        st.binding = true;
        Ok(())
    }

    fn finish_bind(&self) -> SockResult<()> {
        let mut st = self.state.locked();
        if !st.binding {
            return Err(ErrorCode::NotInProgress);
        }
        st.binding = false;
        Ok(())
    }

    /// Connects to `remote`, or disconnects with `None`, before streams are made.
    fn connect(&self, remote: Option<SocketAddr>) -> SockResult<Option<SocketAddr>> {
        let mut st = self.state.locked();
        if !st.bound {
            return Err(ErrorCode::InvalidState);
        }
        match remote {
            Some(addr) => {
                if !is_valid_family(addr.ip(), self.family) || !is_valid_remote(addr) {
                    return Err(ErrorCode::InvalidArgument);
                }
                let r = match rustix::net::connect(&*self.fd, &addr) {
                    // Linux keeps the old route's local address: dissolve, then connect.
                    Err(Errno::INVAL) => {
                        let _ = rustix::net::connect_unspec(&*self.fd);
                        rustix::net::connect(&*self.fd, &addr)
                    }
                    r => r,
                };
                st.remote = self.peer();
                match r {
                    Ok(()) | Err(Errno::INPROGRESS) => {}
                    Err(Errno::AFNOSUPPORT) => return Err(ErrorCode::InvalidArgument),
                    Err(e) => return Err(e.into()),
                }
            }
            None if st.remote.is_some() => {
                let r = rustix::net::connect_unspec(&*self.fd);
                st.remote = self.peer();
                r?;
            }
            None => {}
        }
        Ok(st.remote)
    }

    fn peer(&self) -> Option<SocketAddr> {
        let peer = rustix::net::getpeername(&*self.fd).ok().flatten()?;
        SocketAddr::try_from(peer)
            .ok()
            .filter(|a| *a != self.family.unspecified())
    }

    fn local_address(&self) -> SockResult<SocketAddr> {
        if !self.state.locked().bound {
            return Err(ErrorCode::InvalidState);
        }
        SocketAddr::try_from(rustix::net::getsockname(&*self.fd)?)
            .map_err(|_| ErrorCode::NotSupported)
    }
}

/// `incoming-datagram-stream`.
pub struct Incoming {
    fd: Arc<OwnedFd>,
    /// Datagrams from elsewhere are skipped: the kernel filters only what arrives after
    /// the connect.
    connected: Option<SocketAddr>,
}

impl Incoming {
    fn receive(&self, max: u64) -> SockResult<Vec<(Vec<u8>, SocketAddr)>> {
        let max = usize::try_from(max)
            .unwrap_or(usize::MAX)
            .min(MAX_DATAGRAMS);
        let mut out = Vec::new();
        let mut total = 0;
        while out.len() < max && total < RECEIVE_BUDGET {
            let mut buf = vec![0u8; MAX_DATAGRAM_SIZE];
            match rustix::net::recvfrom(&*self.fd, &mut buf[..], RecvFlags::DONTWAIT) {
                Ok((n, _, from)) => {
                    let Some(from) = from.and_then(|a| SocketAddr::try_from(a).ok()) else {
                        continue;
                    };
                    if self.connected.is_some_and(|c| c != from) {
                        continue;
                    }
                    buf.truncate(n);
                    total += 1 + n;
                    out.push((buf, from));
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(_) if !out.is_empty() => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

/// `outgoing-datagram-stream`.
pub struct Outgoing {
    fd: Arc<OwnedFd>,
    family: Family,
    connected: Option<SocketAddr>,
    /// What the last `check-send` permitted; each `send` uses it up.
    permit: std::sync::Mutex<usize>,
}

impl Outgoing {
    fn send_one(&self, data: &[u8], to: Option<SocketAddr>) -> SockResult<()> {
        if data.len() > MAX_DATAGRAM_SIZE {
            return Err(ErrorCode::DatagramTooLarge);
        }
        let to = match (to, self.connected) {
            (Some(a), _) if !is_valid_remote(a) || !is_valid_family(a.ip(), self.family) => {
                return Err(ErrorCode::InvalidArgument);
            }
            (Some(a), Some(c)) if a != c => return Err(ErrorCode::InvalidArgument),
            (Some(a), _) => a,
            (None, Some(c)) => c,
            (None, None) => return Err(ErrorCode::InvalidArgument),
        };
        loop {
            let r = if self.connected == Some(to) {
                rustix::net::send(&*self.fd, data, SendFlags::DONTWAIT)
            } else {
                rustix::net::sendto(&*self.fd, data, SendFlags::DONTWAIT, &to)
            };
            return match r {
                Ok(_) => Ok(()),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => Err(ErrorCode::WouldBlock),
                Err(e) => Err(e.into()),
            };
        }
    }
}

fn socket(cx: &Call, handle: i32) -> R<Arc<UdpSocket>> {
    cx.get_other::<UdpSocket>(handle, rt::UDP_SOCKET)
}

/// One element of a `list<outgoing-datagram>` (44 bytes, alignment 4): `data` at 0, the
/// `option<ip-socket-address>` at 8 (its address at 12).
const OUTGOING_DATAGRAM_SIZE: u32 = 44;

/// Lifts a `list<outgoing-datagram>` argument, checking it as wasmtime does before the
/// call.
fn outgoing_datagrams(cx: &Call, ptr: i32, len: i32) -> R<Vec<(Vec<u8>, Option<SocketAddr>)>> {
    let oob = || cx.trap("list pointer/length out of bounds of memory");
    let size = (len as u32)
        .checked_mul(OUTGOING_DATAGRAM_SIZE)
        .ok_or_else(oob)?;
    let records = cx
        .mem()
        .slice(ptr as u32, size)
        .map_err(|_| oob())?
        .to_vec();
    if !(ptr as u32).is_multiple_of(4) {
        return Err(cx.trap("list pointer is not aligned"));
    }
    let mut out = Vec::with_capacity(records.len() / OUTGOING_DATAGRAM_SIZE as usize);
    for r in records.chunks_exact(OUTGOING_DATAGRAM_SIZE as usize) {
        let word = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        let data = cx.bytes_arg(word(0) as i32, word(4) as i32)?;
        let to = match r[8] {
            0 => None,
            1 => {
                let mut a = [0u8; SOCKET_ADDRESS_SIZE];
                a.copy_from_slice(&r[12..12 + SOCKET_ADDRESS_SIZE]);
                Some(
                    socket_address_from_bytes(&a)
                        .map_err(|d| cx.trap(format!("unexpected discriminant: {}", d.0)))?,
                )
            }
            _ => return Err(cx.trap("invalid option discriminant")),
        };
        out.push((data, to));
    }
    Ok(out)
}

/// Size of an `incoming-datagram` in memory (alignment 4): `data` at 0, the address at 8.
const INCOMING_DATAGRAM_SIZE: u32 = 40;

p2_fns! {
    fn aot_wasi_p2_sockets__udp_create_socket__create_udp_socket(cx, family: i32, retptr: i32) {
        let family = Family::lift(&cx, family)?;
        let created = check_network(&cx).and_then(|()| new_socket(family, SocketType::DGRAM));
        match created {
            Ok(fd) => {
                let socket = UdpSocket {
                    fd: Arc::new(fd),
                    family,
                    state: std::sync::Mutex::new(State { binding: false, bound: false, remote: None }),
                    children: Children::default(),
                    streams: Children::default(),
                };
                let h = cx.push_other(rt::UDP_SOCKET, socket)?;
                ret_u32(&cx, retptr, Ok(h as u32))
            }
            Err(e) => ret_u32(&cx, retptr, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__start_bind(cx, this: i32, network: i32, case: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        network_arg(&cx, network)?;
        let addr = lift_socket_address(&cx, case, [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10])?;
        ret_unit(&cx, retptr, s.start_bind(addr))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__finish_bind(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, s.finish_bind())
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__stream(cx, this: i32, some: i32, case: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let remote = match some as u32 {
            0 => None,
            1 => Some(lift_socket_address(&cx, case, [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10])?),
            _ => return Err(cx.trap("invalid option discriminant")),
        };
        if s.streams.any_alive() {
            return Err(cx.trap("UDP streams not dropped yet"));
        }
        match s.connect(remote) {
            Ok(connected) => {
                let incoming = Arc::new(Incoming { fd: s.fd.clone(), connected });
                let outgoing = Arc::new(Outgoing {
                    fd: s.fd.clone(),
                    family: s.family,
                    connected,
                    permit: std::sync::Mutex::new(0),
                });
                for children in [&s.children, &s.streams] {
                    children.add(&incoming);
                    children.add(&outgoing);
                }
                let i = cx.push(rt::INCOMING_DATAGRAM_STREAM, Object::Other(incoming))?;
                let o = cx.push(rt::OUTGOING_DATAGRAM_STREAM, Object::Other(outgoing))?;
                ret_handles(&cx, retptr, Ok(&[i, o]))
            }
            Err(e) => ret_handles(&cx, retptr, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__local_address(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_socket_address(&cx, retptr, s.local_address())
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__remote_address(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        let remote = s.state.locked().remote;
        ret_socket_address(&cx, retptr, remote.ok_or(ErrorCode::InvalidState))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__address_family(cx, this: i32) -> i32 {
        Ok(socket(&cx, this)?.family.lower())
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__unicast_hop_limit(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_u8(&cx, retptr, hop_limit(&s.fd, s.family))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__set_unicast_hop_limit(cx, this: i32, value: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, set_hop_limit(&s.fd, s.family, value as u8))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__receive_buffer_size(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_u64(&cx, retptr, receive_buffer_size(&s.fd))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__set_receive_buffer_size(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, set_receive_buffer_size(&s.fd, value as u64))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__send_buffer_size(cx, this: i32, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_u64(&cx, retptr, send_buffer_size(&s.fd))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__set_send_buffer_size(cx, this: i32, value: i64, retptr: i32) {
        let s = socket(&cx, this)?;
        ret_unit(&cx, retptr, set_send_buffer_size(&s.fd, value as u64))
    }

    fn aot_wasi_p2_sockets__udp__method__udp_socket__subscribe(cx, this: i32) -> i32 {
        // No socket-level operation of UDP waits.
        let s = socket(&cx, this)?;
        let p = Arc::new(Pollable::Ready);
        s.children.add(&p);
        cx.push(rt::POLLABLE, Object::Pollable(p))
    }

    fn aot_wasi_p2_sockets__udp__resource_drop__udp_socket(cx, handle: i32) {
        drop_parent(&cx, handle, rt::UDP_SOCKET, |o| match o {
            Object::Other(o) => o.downcast_ref::<UdpSocket>().is_some_and(|s| s.children.any_alive()),
            _ => false,
        })
    }

    fn aot_wasi_p2_sockets__udp__method__incoming_datagram_stream__receive(cx, this: i32, max: i64, retptr: i32) {
        let s = cx.get_other::<Incoming>(this, rt::INCOMING_DATAGRAM_STREAM)?;
        match s.receive(max as u64) {
            Ok(datagrams) => {
                let n = u32::try_from(datagrams.len()).map_err(|_| cx.trap("list too long"))?;
                let array = cx.alloc(n * INCOMING_DATAGRAM_SIZE, 4)?;
                for (i, (data, from)) in datagrams.iter().enumerate() {
                    let (p, l) = cx.lower_bytes(data)?;
                    let at = array + INCOMING_DATAGRAM_SIZE * i as u32;
                    cx.ret(at as i32, 4, &[(0, &le32(p)), (4, &le32(l)), (8, &socket_address_bytes(*from))])?;
                }
                let list = [le32(array), le32(n)].concat();
                ret_result(&cx, retptr, 4, Ok(&list))
            }
            Err(e) => ret_result(&cx, retptr, 4, Err(e)),
        }
    }

    fn aot_wasi_p2_sockets__udp__method__incoming_datagram_stream__subscribe(cx, this: i32) -> i32 {
        let s = cx.get_other::<Incoming>(this, rt::INCOMING_DATAGRAM_STREAM)?;
        cx.push(rt::POLLABLE, Object::Pollable(Arc::new(Pollable::Fd { fd: s.fd.clone(), write: false })))
    }

    fn aot_wasi_p2_sockets__udp__resource_drop__incoming_datagram_stream(cx, handle: i32) {
        cx.drop_handle(handle, rt::INCOMING_DATAGRAM_STREAM)
    }

    fn aot_wasi_p2_sockets__udp__method__outgoing_datagram_stream__check_send(cx, this: i32, retptr: i32) {
        let s = cx.get_other::<Outgoing>(this, rt::OUTGOING_DATAGRAM_STREAM)?;
        *s.permit.locked() = MAX_DATAGRAMS;
        ret_u64(&cx, retptr, Ok(MAX_DATAGRAMS as u64))
    }

    fn aot_wasi_p2_sockets__udp__method__outgoing_datagram_stream__send(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let s = cx.get_other::<Outgoing>(this, rt::OUTGOING_DATAGRAM_STREAM)?;
        let datagrams = outgoing_datagrams(&cx, ptr, len)?;
        if datagrams.is_empty() {
            return ret_result(&cx, retptr, 8, Ok(&le64(0)));
        }
        {
            // Each send must be permitted by the `check-send` before it.
            let mut permit = s.permit.locked();
            if datagrams.len() > *permit {
                return Err(cx.trap("unpermitted: argument exceeds permitted size"));
            }
            *permit = 0;
        }
        let mut sent = 0u64;
        for (data, to) in &datagrams {
            match s.send_one(data, *to) {
                Ok(()) => sent += 1,
                Err(ErrorCode::WouldBlock) => break,
                // A send after one that succeeded never reports an error.
                Err(_) if sent > 0 => break,
                Err(e) => return ret_result(&cx, retptr, 8, Err(e)),
            }
        }
        ret_result(&cx, retptr, 8, Ok(&le64(sent)))
    }

    fn aot_wasi_p2_sockets__udp__method__outgoing_datagram_stream__subscribe(cx, this: i32) -> i32 {
        let s = cx.get_other::<Outgoing>(this, rt::OUTGOING_DATAGRAM_STREAM)?;
        cx.push(rt::POLLABLE, Object::Pollable(Arc::new(Pollable::Fd { fd: s.fd.clone(), write: true })))
    }

    fn aot_wasi_p2_sockets__udp__resource_drop__outgoing_datagram_stream(cx, handle: i32) {
        cx.drop_handle(handle, rt::OUTGOING_DATAGRAM_STREAM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fd::AsFd;

    fn bound(addr: &str) -> UdpSocket {
        let s = UdpSocket {
            fd: Arc::new(new_socket(Family::Ipv4, SocketType::DGRAM).unwrap()),
            family: Family::Ipv4,
            state: std::sync::Mutex::new(State {
                binding: false,
                bound: false,
                remote: None,
            }),
            children: Children::default(),
            streams: Children::default(),
        };
        assert_eq!(s.connect(None), Err(ErrorCode::InvalidState));
        s.start_bind(addr.parse().unwrap()).unwrap();
        s.finish_bind().unwrap();
        assert_eq!(s.finish_bind(), Err(ErrorCode::NotInProgress));
        s
    }

    #[test]
    fn datagrams_over_loopback() {
        let a = bound("127.0.0.1:0");
        let b = bound("127.0.0.1:0");
        let b_addr = b.local_address().unwrap();
        let a_addr = a.local_address().unwrap();
        assert_eq!(a.start_bind(b_addr), Err(ErrorCode::InvalidState));
        let out = Outgoing {
            fd: a.fd.clone(),
            family: a.family,
            connected: a.connect(None).unwrap(),
            permit: std::sync::Mutex::new(0),
        };
        assert_eq!(out.send_one(b"x", None), Err(ErrorCode::InvalidArgument));
        out.send_one(b"hello", Some(b_addr)).unwrap();
        let connected = b.connect(Some(a_addr)).unwrap();
        assert_eq!(connected, Some(a_addr));
        let incoming = Incoming {
            fd: b.fd.clone(),
            connected,
        };
        let mut got = Vec::new();
        while got.is_empty() {
            rustix::event::poll(
                &mut [rustix::event::PollFd::from_borrowed_fd(
                    b.fd.as_fd(),
                    rustix::event::PollFlags::IN,
                )],
                None,
            )
            .unwrap();
            got = incoming.receive(16).unwrap();
        }
        assert_eq!(got, vec![(b"hello".to_vec(), a_addr)]);
        assert_eq!(incoming.receive(16).unwrap(), vec![]);
    }
}
