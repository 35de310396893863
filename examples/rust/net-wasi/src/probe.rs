//! The raw imports and the probe itself (see the crate documentation).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

type Ret = *mut u8;

#[link(wasm_import_module = "wasi:sockets/instance-network@0.2.0")]
unsafe extern "C" {
    #[link_name = "instance-network"]
    fn instance_network() -> i32;
}

#[link(wasm_import_module = "wasi:sockets/network@0.2.0")]
unsafe extern "C" {
    #[link_name = "[resource-drop]network"]
    fn drop_network(h: i32);
}

#[link(wasm_import_module = "wasi:sockets/tcp-create-socket@0.2.0")]
unsafe extern "C" {
    #[link_name = "create-tcp-socket"]
    fn create_tcp_socket(family: i32, ret: Ret);
}

#[link(wasm_import_module = "wasi:sockets/udp-create-socket@0.2.0")]
unsafe extern "C" {
    #[link_name = "create-udp-socket"]
    fn create_udp_socket(family: i32, ret: Ret);
}

#[rustfmt::skip]
#[link(wasm_import_module = "wasi:sockets/tcp@0.2.0")]
unsafe extern "C" {
    #[link_name = "[method]tcp-socket.start-bind"]
    fn tcp_start_bind(s: i32, n: i32, c: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.finish-bind"]
    fn tcp_finish_bind(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.start-connect"]
    fn tcp_start_connect(s: i32, n: i32, c: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.finish-connect"]
    fn tcp_finish_connect(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.start-listen"]
    fn tcp_start_listen(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.finish-listen"]
    fn tcp_finish_listen(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.accept"]
    fn tcp_accept(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.local-address"]
    fn tcp_local_address(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.remote-address"]
    fn tcp_remote_address(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.is-listening"]
    fn tcp_is_listening(s: i32) -> i32;
    #[link_name = "[method]tcp-socket.address-family"]
    fn tcp_address_family(s: i32) -> i32;
    #[link_name = "[method]tcp-socket.set-listen-backlog-size"]
    fn tcp_set_listen_backlog_size(s: i32, v: i64, ret: Ret);
    #[link_name = "[method]tcp-socket.keep-alive-enabled"]
    fn tcp_keep_alive_enabled(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.set-keep-alive-enabled"]
    fn tcp_set_keep_alive_enabled(s: i32, v: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.keep-alive-idle-time"]
    fn tcp_keep_alive_idle_time(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.set-keep-alive-idle-time"]
    fn tcp_set_keep_alive_idle_time(s: i32, v: i64, ret: Ret);
    #[link_name = "[method]tcp-socket.keep-alive-interval"]
    fn tcp_keep_alive_interval(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.set-keep-alive-interval"]
    fn tcp_set_keep_alive_interval(s: i32, v: i64, ret: Ret);
    #[link_name = "[method]tcp-socket.keep-alive-count"]
    fn tcp_keep_alive_count(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.set-keep-alive-count"]
    fn tcp_set_keep_alive_count(s: i32, v: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.hop-limit"]
    fn tcp_hop_limit(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.set-hop-limit"]
    fn tcp_set_hop_limit(s: i32, v: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.receive-buffer-size"]
    fn tcp_receive_buffer_size(s: i32, ret: Ret);
    #[link_name = "[method]tcp-socket.set-receive-buffer-size"]
    fn tcp_set_receive_buffer_size(s: i32, v: i64, ret: Ret);
    #[link_name = "[method]tcp-socket.set-send-buffer-size"]
    fn tcp_set_send_buffer_size(s: i32, v: i64, ret: Ret);
    #[link_name = "[method]tcp-socket.subscribe"]
    fn tcp_subscribe(s: i32) -> i32;
    #[link_name = "[method]tcp-socket.shutdown"]
    fn tcp_shutdown(s: i32, how: i32, ret: Ret);
    #[link_name = "[resource-drop]tcp-socket"]
    fn drop_tcp(s: i32);
}

#[rustfmt::skip]
#[link(wasm_import_module = "wasi:sockets/udp@0.2.0")]
unsafe extern "C" {
    #[link_name = "[method]udp-socket.start-bind"]
    fn udp_start_bind(s: i32, n: i32, c: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: Ret);
    #[link_name = "[method]udp-socket.finish-bind"]
    fn udp_finish_bind(s: i32, ret: Ret);
    #[link_name = "[method]udp-socket.stream"]
    fn udp_stream(s: i32, some: i32, c: i32, a0: i32, a1: i32, a2: i32, a3: i32, a4: i32, a5: i32, a6: i32, a7: i32, a8: i32, a9: i32, a10: i32, ret: Ret);
    #[link_name = "[method]udp-socket.local-address"]
    fn udp_local_address(s: i32, ret: Ret);
    #[link_name = "[method]udp-socket.remote-address"]
    fn udp_remote_address(s: i32, ret: Ret);
    #[link_name = "[method]udp-socket.unicast-hop-limit"]
    fn udp_unicast_hop_limit(s: i32, ret: Ret);
    #[link_name = "[method]udp-socket.set-unicast-hop-limit"]
    fn udp_set_unicast_hop_limit(s: i32, v: i32, ret: Ret);
    #[link_name = "[method]udp-socket.subscribe"]
    fn udp_subscribe(s: i32) -> i32;
    #[link_name = "[resource-drop]udp-socket"]
    fn drop_udp(s: i32);
    #[link_name = "[method]incoming-datagram-stream.receive"]
    fn udp_receive(s: i32, max: i64, ret: Ret);
    #[link_name = "[method]incoming-datagram-stream.subscribe"]
    fn udp_incoming_subscribe(s: i32) -> i32;
    #[link_name = "[resource-drop]incoming-datagram-stream"]
    fn drop_incoming(s: i32);
    #[link_name = "[method]outgoing-datagram-stream.check-send"]
    fn udp_check_send(s: i32, ret: Ret);
    #[link_name = "[method]outgoing-datagram-stream.send"]
    fn udp_send(s: i32, ptr: *const u8, len: i32, ret: Ret);
    #[link_name = "[resource-drop]outgoing-datagram-stream"]
    fn drop_outgoing(s: i32);
}

#[link(wasm_import_module = "wasi:sockets/ip-name-lookup@0.2.0")]
unsafe extern "C" {
    #[link_name = "resolve-addresses"]
    fn resolve_addresses(n: i32, ptr: *const u8, len: i32, ret: Ret);
}

#[link(wasm_import_module = "wasi:io/poll@0.2.0")]
unsafe extern "C" {
    #[link_name = "[method]pollable.block"]
    fn pollable_block(p: i32);
    #[link_name = "[method]pollable.ready"]
    fn pollable_ready(p: i32) -> i32;
    #[link_name = "[resource-drop]pollable"]
    fn drop_pollable(p: i32);
}

#[link(wasm_import_module = "wasi:io/streams@0.2.0")]
unsafe extern "C" {
    #[link_name = "[method]input-stream.read"]
    fn input_read(s: i32, len: i64, ret: Ret);
    #[link_name = "[method]input-stream.blocking-read"]
    fn input_blocking_read(s: i32, len: i64, ret: Ret);
    #[link_name = "[resource-drop]input-stream"]
    fn drop_input(s: i32);
    #[link_name = "[method]output-stream.check-write"]
    fn output_check_write(s: i32, ret: Ret);
    #[link_name = "[method]output-stream.write"]
    fn output_write(s: i32, ptr: *const u8, len: i32, ret: Ret);
    #[link_name = "[method]output-stream.subscribe"]
    fn output_subscribe(s: i32) -> i32;
    #[link_name = "[method]output-stream.blocking-flush"]
    fn output_blocking_flush(s: i32, ret: Ret);
    #[link_name = "[resource-drop]output-stream"]
    fn drop_output(s: i32);
}

#[link(wasm_import_module = "wasi:io/error@0.2.0")]
unsafe extern "C" {
    #[link_name = "[resource-drop]error"]
    fn drop_error(e: i32);
}

const CODES: [&str; 21] = [
    "unknown",
    "access-denied",
    "not-supported",
    "invalid-argument",
    "out-of-memory",
    "timeout",
    "concurrency-conflict",
    "not-in-progress",
    "would-block",
    "invalid-state",
    "new-socket-limit",
    "address-not-bindable",
    "address-in-use",
    "remote-unreachable",
    "connection-refused",
    "connection-reset",
    "connection-aborted",
    "datagram-too-large",
    "name-unresolvable",
    "temporary-resolver-failure",
    "permanent-resolver-failure",
];

/// A return area, aligned for any result.
#[repr(C, align(8))]
struct Area([u8; 64]);

impl Area {
    fn new() -> Area {
        Area([0xaa; 64])
    }
    fn ptr(&mut self) -> Ret {
        self.0.as_mut_ptr()
    }
    fn u32_at(&self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap())
    }
    fn u64_at(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.0[at..at + 8].try_into().unwrap())
    }
    /// The error of a `result<T, error-code>` whose payload is at `at`, if it is one.
    fn err(&self, at: usize) -> Option<&'static str> {
        match self.0[0] {
            0 => None,
            1 => Some(CODES.get(self.0[at] as usize).copied().unwrap_or("?")),
            d => panic!("bad result discriminant {d}"),
        }
    }
}

fn call(f: impl FnOnce(Ret)) -> Area {
    let mut a = Area::new();
    f(a.ptr());
    a
}

/// `result<_, error-code>` as text.
fn unit(f: impl FnOnce(Ret)) -> String {
    let a = call(f);
    a.err(1).map_or("ok".to_string(), str::to_string)
}

/// `result<own<..>, error-code>`.
fn handle(f: impl FnOnce(Ret)) -> Result<i32, &'static str> {
    let a = call(f);
    match a.err(4) {
        Some(e) => Err(e),
        None => Ok(a.u32_at(4) as i32),
    }
}

fn handles<const N: usize>(f: impl FnOnce(Ret)) -> Result<[i32; N], &'static str> {
    let a = call(f);
    match a.err(4) {
        Some(e) => Err(e),
        None => Ok(std::array::from_fn(|i| a.u32_at(4 + 4 * i) as i32)),
    }
}

fn socket_address(a: &Area, at: usize) -> SocketAddr {
    let b = &a.0[at..];
    let port = u16::from_le_bytes([b[4], b[5]]);
    match b[0] {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(b[6], b[7], b[8], b[9])), port),
        1 => {
            let s = |i: usize| u16::from_le_bytes([b[12 + 2 * i], b[13 + 2 * i]]);
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(
                    s(0),
                    s(1),
                    s(2),
                    s(3),
                    s(4),
                    s(5),
                    s(6),
                    s(7),
                )),
                port,
            )
        }
        d => panic!("bad address discriminant {d}"),
    }
}

/// `result<ip-socket-address, error-code>`.
fn address(f: impl FnOnce(Ret)) -> Result<SocketAddr, &'static str> {
    let a = call(f);
    match a.err(4) {
        Some(e) => Err(e),
        None => Ok(socket_address(&a, 4)),
    }
}

fn show_address(r: Result<SocketAddr, &str>) -> String {
    match r {
        Ok(a) => format!(
            "{} port {}",
            a.ip(),
            if a.port() == 0 { "zero" } else { "set" }
        ),
        Err(e) => e.to_string(),
    }
}

/// The flat form of an `ip-socket-address`: the case and 11 values.
fn flat(a: SocketAddr) -> [i32; 12] {
    let mut v = [0i32; 12];
    match a {
        SocketAddr::V4(a) => {
            v[1] = a.port().into();
            for (i, o) in a.ip().octets().iter().enumerate() {
                v[2 + i] = (*o).into();
            }
        }
        SocketAddr::V6(a) => {
            v[0] = 1;
            v[1] = a.port().into();
            v[2] = a.flowinfo() as i32;
            for (i, s) in a.ip().segments().iter().enumerate() {
                v[3 + i] = (*s).into();
            }
            v[11] = a.scope_id() as i32;
        }
    }
    v
}

fn tcp_bind(s: i32, n: i32, a: SocketAddr) -> String {
    let v = flat(a);
    unit(|r| unsafe {
        tcp_start_bind(
            s, n, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], r,
        )
    })
}

fn tcp_connect(s: i32, n: i32, a: SocketAddr) -> String {
    let v = flat(a);
    unit(|r| unsafe {
        tcp_start_connect(
            s, n, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], r,
        )
    })
}

fn udp_bind(s: i32, n: i32, a: SocketAddr) -> String {
    let v = flat(a);
    unit(|r| unsafe {
        udp_start_bind(
            s, n, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], r,
        )
    })
}

fn udp_streams(s: i32, to: Option<SocketAddr>) -> Result<[i32; 2], &'static str> {
    let (some, v) = match to {
        Some(a) => (1, flat(a)),
        None => (0, [0; 12]),
    };
    handles(|r| unsafe {
        udp_stream(
            s, some, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], r,
        )
    })
}

fn show<T: std::fmt::Debug>(r: Result<T, &str>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn u64_result(f: impl FnOnce(Ret)) -> Result<u64, &'static str> {
    let a = call(f);
    a.err(8).map_or(Ok(a.u64_at(8)), Err)
}

fn u32_result(f: impl FnOnce(Ret)) -> Result<u32, &'static str> {
    let a = call(f);
    a.err(4).map_or(Ok(a.u32_at(4)), Err)
}

fn u8_result(f: impl FnOnce(Ret)) -> Result<u8, &'static str> {
    let a = call(f);
    a.err(1).map_or(Ok(a.0[1]), Err)
}

/// `result<list<u8>, stream-error>` as text, dropping an error resource.
fn read(s: i32, n: i64, blocking: bool) -> String {
    let a = call(|r| unsafe {
        if blocking {
            input_blocking_read(s, n, r)
        } else {
            input_read(s, n, r)
        }
    });
    stream_result(&a, |a| {
        let (p, l) = (a.u32_at(4) as usize, a.u32_at(8) as usize);
        // SAFETY: the host lowered the list into this memory with our realloc.
        let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, l) };
        format!("{:?}", String::from_utf8_lossy(bytes))
    })
}

fn stream_result(a: &Area, ok: impl FnOnce(&Area) -> String) -> String {
    match a.0[0] {
        0 => ok(a),
        _ => {
            let case = a.0[4];
            if case == 0 {
                unsafe { drop_error(a.u32_at(8) as i32) };
                "last-operation-failed".to_string()
            } else {
                "closed".to_string()
            }
        }
    }
}

fn write(s: i32, bytes: &[u8]) -> String {
    let a = call(|r| unsafe { output_check_write(s, r) });
    if a.0[0] != 0 {
        return format!("check-write {}", stream_result(&a, |_| String::new()));
    }
    let permitted = a.u64_at(8);
    let a = call(|r| unsafe { output_write(s, bytes.as_ptr(), bytes.len() as i32, r) });
    let w = stream_result(&a, |_| "ok".to_string());
    let a = call(|r| unsafe { output_blocking_flush(s, r) });
    let f = stream_result(&a, |_| "ok".to_string());
    format!("permitted>0 {}, write {w}, flush {f}", permitted > 0)
}

fn block_on(p: i32) {
    unsafe {
        pollable_block(p);
        drop_pollable(p);
    }
}

fn v4(a: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
}

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

pub fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let net = unsafe { instance_network() };
    match mode.as_str() {
        "" => {
            tcp(net);
            udp(net);
            lookup(net);
            println!("done");
        }
        "drop-with-pollable" => {
            let s = handle(|r| unsafe { create_tcp_socket(0, r) }).unwrap();
            let _p = unsafe { tcp_subscribe(s) };
            println!("dropping a socket whose pollable lives");
            unsafe { drop_tcp(s) };
            println!("not reached");
        }
        "bad-family" => {
            println!("creating a socket of family 5");
            let r = handle(|r| unsafe { create_tcp_socket(5, r) });
            println!("not reached: {r:?}");
        }
        "bad-address-case" => {
            let s = handle(|r| unsafe { create_tcp_socket(0, r) }).unwrap();
            println!("binding an address of case 2");
            let a =
                unit(|r| unsafe { tcp_start_bind(s, net, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, r) });
            println!("not reached: {a}");
        }
        "stream-twice" => {
            let s = handle(|r| unsafe { create_udp_socket(0, r) }).unwrap();
            println!("bind {}", udp_bind(s, net, v4(LOOPBACK, 0)));
            println!("finish {}", unit(|r| unsafe { udp_finish_bind(s, r) }));
            println!("stream {}", show(udp_streams(s, None)));
            println!("streaming again while the streams live");
            println!("not reached: {}", show(udp_streams(s, None)));
        }
        "send-unpermitted" => {
            let s = handle(|r| unsafe { create_udp_socket(0, r) }).unwrap();
            println!("bind {}", udp_bind(s, net, v4(LOOPBACK, 0)));
            println!("finish {}", unit(|r| unsafe { udp_finish_bind(s, r) }));
            let [_, out] = udp_streams(s, None).unwrap();
            let d = Datagram::new(b"x", Some(v4(LOOPBACK, 9)));
            println!("sending without check-send");
            let r = u64_result(|r| unsafe { udp_send(out, d.0.as_ptr().cast(), 1, r) });
            println!("not reached: {r:?}");
        }
        other => println!("unknown mode {other}"),
    }
}

fn tcp(net: i32) {
    println!("== tcp");
    let l = handle(|r| unsafe { create_tcp_socket(0, r) });
    println!("create v4: {}", show(l.map(|_| "socket")));
    let Ok(l) = l else { return };
    println!(
        "family {} listening {}",
        unsafe { tcp_address_family(l) },
        unsafe { tcp_is_listening(l) }
    );
    println!(
        "local before bind: {}",
        show_address(address(|r| unsafe { tcp_local_address(l, r) }))
    );
    println!(
        "remote before bind: {}",
        show_address(address(|r| unsafe { tcp_remote_address(l, r) }))
    );
    println!(
        "finish-bind unstarted: {}",
        unit(|r| unsafe { tcp_finish_bind(l, r) })
    );
    println!(
        "listen unbound: {}",
        unit(|r| unsafe { tcp_start_listen(l, r) })
    );
    println!(
        "bind v6 address: {}",
        tcp_bind(l, net, "[::1]:0".parse().unwrap())
    );
    println!(
        "bind multicast: {}",
        tcp_bind(l, net, v4([224, 0, 0, 1], 0))
    );
    println!(
        "bind broadcast: {}",
        tcp_bind(l, net, v4([255, 255, 255, 255], 0))
    );
    println!("bind loopback: {}", tcp_bind(l, net, v4(LOOPBACK, 0)));
    println!(
        "bind again before finish: {}",
        tcp_bind(l, net, v4(LOOPBACK, 0))
    );
    println!(
        "finish-bind: {}",
        unit(|r| unsafe { tcp_finish_bind(l, r) })
    );
    println!(
        "finish-bind again: {}",
        unit(|r| unsafe { tcp_finish_bind(l, r) })
    );
    println!("bind when bound: {}", tcp_bind(l, net, v4(LOOPBACK, 0)));
    let addr = address(|r| unsafe { tcp_local_address(l, r) });
    println!("local after bind: {}", show_address(addr));
    let Ok(addr) = addr else { return };
    println!(
        "backlog 0: {}",
        unit(|r| unsafe { tcp_set_listen_backlog_size(l, 0, r) })
    );
    println!(
        "backlog 10: {}",
        unit(|r| unsafe { tcp_set_listen_backlog_size(l, 10, r) })
    );
    println!(
        "accept before listen: {}",
        show(handles::<3>(|r| unsafe { tcp_accept(l, r) }).map(|_| ()))
    );
    println!("listen: {}", unit(|r| unsafe { tcp_start_listen(l, r) }));
    println!(
        "listen again before finish: {}",
        unit(|r| unsafe { tcp_start_listen(l, r) })
    );
    println!(
        "accept before finish-listen: {}",
        show(handles::<3>(|r| unsafe { tcp_accept(l, r) }).map(|_| ()))
    );
    println!(
        "finish-listen: {}",
        unit(|r| unsafe { tcp_finish_listen(l, r) })
    );
    println!(
        "finish-listen again: {}",
        unit(|r| unsafe { tcp_finish_listen(l, r) })
    );
    println!(
        "listen when listening: {}",
        unit(|r| unsafe { tcp_start_listen(l, r) })
    );
    println!("listening {}", unsafe { tcp_is_listening(l) });
    println!(
        "backlog 20 when listening: {}",
        unit(|r| unsafe { tcp_set_listen_backlog_size(l, 20, r) })
    );
    let p = unsafe { tcp_subscribe(l) };
    println!("listener ready with nobody connecting: {}", unsafe {
        pollable_ready(p)
    });
    options(l);

    let c = handle(|r| unsafe { create_tcp_socket(0, r) }).unwrap();
    println!(
        "connect to 0.0.0.0: {}",
        tcp_connect(c, net, v4([0, 0, 0, 0], addr.port()))
    );
    println!(
        "connect to port 0: {}",
        tcp_connect(c, net, v4(LOOPBACK, 0))
    );
    println!(
        "connect to v6: {}",
        tcp_connect(c, net, "[::1]:80".parse().unwrap())
    );
    println!(
        "finish-connect unstarted: {}",
        show(handles::<2>(|r| unsafe { tcp_finish_connect(c, r) }).map(|_| ()))
    );
    println!("connect: {}", tcp_connect(c, net, addr));
    println!("connect again: {}", tcp_connect(c, net, addr));
    println!(
        "listen while connecting: {}",
        unit(|r| unsafe { tcp_start_listen(c, r) })
    );
    println!(
        "local while connecting: {}",
        show_address(address(|r| unsafe { tcp_local_address(c, r) }))
    );
    println!(
        "hop-limit while connecting: {}",
        show(u8_result(|r| unsafe { tcp_hop_limit(c, r) }))
    );
    println!(
        "shutdown while connecting: {}",
        unit(|r| unsafe { tcp_shutdown(c, 2, r) })
    );
    let cp = unsafe { tcp_subscribe(c) };
    unsafe { pollable_block(cp) };
    let streams = handles::<2>(|r| unsafe { tcp_finish_connect(c, r) });
    println!("finish-connect: {}", show(streams.map(|_| "streams")));
    let Ok([cin, cout]) = streams else { return };
    println!("connected socket's pollable ready: {}", unsafe {
        pollable_ready(cp)
    });
    unsafe { drop_pollable(cp) };
    println!(
        "finish-connect again: {}",
        show(handles::<2>(|r| unsafe { tcp_finish_connect(c, r) }).map(|_| ()))
    );
    println!("connect when connected: {}", tcp_connect(c, net, addr));
    println!(
        "client remote is the listener: {}",
        address(|r| unsafe { tcp_remote_address(c, r) }) == Ok(addr)
    );
    println!("client listening {}", unsafe { tcp_is_listening(c) });
    println!("listener ready with a connection queued: {}", unsafe {
        pollable_ready(p)
    });
    unsafe { drop_pollable(p) };
    let accepted = handles::<3>(|r| unsafe { tcp_accept(l, r) });
    println!("accept: {}", show(accepted.map(|_| "socket and streams")));
    let Ok([s, sin, sout]) = accepted else { return };
    println!(
        "accept again: {}",
        show(handles::<3>(|r| unsafe { tcp_accept(l, r) }).map(|_| ()))
    );
    println!(
        "accepted remote is the client: {}",
        address(|r| unsafe { tcp_remote_address(s, r) })
            == address(|r| unsafe { tcp_local_address(c, r) })
    );
    println!(
        "accepted: family {} listening {}",
        unsafe { tcp_address_family(s) },
        unsafe { tcp_is_listening(s) }
    );
    println!(
        "accepted hop-limit: {}",
        show(u8_result(|r| unsafe { tcp_hop_limit(s, r) }))
    );
    println!("accepted bind: {}", tcp_bind(s, net, v4(LOOPBACK, 0)));
    println!(
        "accepted listen: {}",
        unit(|r| unsafe { tcp_start_listen(s, r) })
    );

    println!("client write: {}", write(cout, b"hello"));
    println!("server read: {}", read(sin, 100, true));
    println!("server read nothing: {}", read(sin, 100, false));
    println!("server read 0 bytes: {}", read(sin, 0, false));
    println!("server write: {}", write(sout, b"world"));
    println!("client read 3: {}", read(cin, 3, true));
    println!("client read rest: {}", read(cin, 100, true));
    fill(cout, sin);
    println!(
        "client shutdown send: {}",
        unit(|r| unsafe { tcp_shutdown(c, 1, r) })
    );
    println!("client write after shutdown: {}", write(cout, b"late"));
    println!(
        "server read after client shutdown: {}",
        read(sin, 100, true)
    );
    println!("server read again: {}", read(sin, 100, false));
    println!(
        "server shutdown receive: {}",
        unit(|r| unsafe { tcp_shutdown(s, 0, r) })
    );
    println!("server write still: {}", write(sout, b"still"));
    println!("client read it: {}", read(cin, 100, true));
    println!(
        "server shutdown both: {}",
        unit(|r| unsafe { tcp_shutdown(s, 2, r) })
    );
    println!("client read at end: {}", read(cin, 100, true));
    unsafe {
        drop_input(sin);
        drop_output(sout);
        drop_tcp(s);
        drop_input(cin);
        drop_output(cout);
        drop_tcp(c);
        drop_tcp(l);
    }

    // A port nobody listens on: the listener's, now closed.
    let c = handle(|r| unsafe { create_tcp_socket(0, r) }).unwrap();
    println!("connect to a closed port: {}", tcp_connect(c, net, addr));
    block_on(unsafe { tcp_subscribe(c) });
    println!(
        "finish-connect: {}",
        show(handles::<2>(|r| unsafe { tcp_finish_connect(c, r) }).map(|_| ()))
    );
    println!(
        "finish-connect again: {}",
        show(handles::<2>(|r| unsafe { tcp_finish_connect(c, r) }).map(|_| ()))
    );
    println!(
        "local after refusal: {}",
        show_address(address(|r| unsafe { tcp_local_address(c, r) }))
    );
    println!(
        "remote after refusal: {}",
        show_address(address(|r| unsafe { tcp_remote_address(c, r) }))
    );
    println!(
        "hop-limit after refusal: {}",
        show(u8_result(|r| unsafe { tcp_hop_limit(c, r) }))
    );
    println!(
        "backlog after refusal: {}",
        unit(|r| unsafe { tcp_set_listen_backlog_size(c, 5, r) })
    );
    println!("connect after refusal: {}", tcp_connect(c, net, addr));
    unsafe { drop_tcp(c) };

    let v6 = handle(|r| unsafe { create_tcp_socket(1, r) }).unwrap();
    println!("v6 family {}", unsafe { tcp_address_family(v6) });
    println!(
        "v6 bind v4-mapped: {}",
        tcp_bind(v6, net, "[::ffff:127.0.0.1]:0".parse().unwrap())
    );
    println!(
        "v6 bind v4-compatible: {}",
        tcp_bind(v6, net, "[::127.0.0.1]:0".parse().unwrap())
    );
    println!("v6 bind v4: {}", tcp_bind(v6, net, v4(LOOPBACK, 0)));
    println!(
        "v6 bind ::1: {}",
        tcp_bind(v6, net, "[::1]:0".parse().unwrap())
    );
    println!("v6 finish: {}", unit(|r| unsafe { tcp_finish_bind(v6, r) }));
    println!(
        "v6 local: {}",
        show_address(address(|r| unsafe { tcp_local_address(v6, r) }))
    );
    println!(
        "v6 hop-limit set 9: {}",
        unit(|r| unsafe { tcp_set_hop_limit(v6, 9, r) })
    );
    println!(
        "v6 hop-limit: {}",
        show(u8_result(|r| unsafe { tcp_hop_limit(v6, r) }))
    );
    unsafe { drop_tcp(v6) };
}

/// Writes without blocking until the stream takes no more (the peer reads nothing
/// meanwhile), then reads it all on the other side and flushes.
fn fill(out: i32, inp: i32) {
    let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 253) as u8).collect();
    let mut written = 0usize;
    let mut full = false;
    while written < 64 << 20 {
        let a = call(|r| unsafe { output_check_write(out, r) });
        if a.0[0] != 0 {
            println!("fill: check-write failed");
            return;
        }
        let n = (a.u64_at(8) as usize).min(chunk.len());
        if n == 0 {
            full = true;
            break;
        }
        let a = call(|r| unsafe { output_write(out, chunk.as_ptr(), n as i32, r) });
        if a.0[0] != 0 {
            println!("fill: write failed");
            return;
        }
        written += n;
    }
    let p = unsafe { output_subscribe(out) };
    println!(
        "fill: the stream filled up: {full}; its pollable ready: {}",
        unsafe { pollable_ready(p) }
    );
    let mut read_back = 0usize;
    while read_back < written {
        let a = call(|r| unsafe { input_blocking_read(inp, 1 << 20, r) });
        if a.0[0] != 0 {
            println!("fill: read failed");
            return;
        }
        read_back += a.u32_at(8) as usize;
    }
    println!(
        "fill: read back as much as written: {}",
        read_back == written
    );
    block_on(p);
    let a = call(|r| unsafe { output_blocking_flush(out, r) });
    println!("fill: flushed: {}", stream_result(&a, |_| "ok".to_string()));
}

fn options(s: i32) {
    println!(
        "keep-alive: {}",
        show(u8_result(|r| unsafe { tcp_keep_alive_enabled(s, r) }))
    );
    println!(
        "keep-alive on: {}",
        unit(|r| unsafe { tcp_set_keep_alive_enabled(s, 1, r) })
    );
    println!(
        "keep-alive: {}",
        show(u8_result(|r| unsafe { tcp_keep_alive_enabled(s, r) }))
    );
    println!(
        "idle 0: {}",
        unit(|r| unsafe { tcp_set_keep_alive_idle_time(s, 0, r) })
    );
    println!(
        "idle 1ns: {}",
        unit(|r| unsafe { tcp_set_keep_alive_idle_time(s, 1, r) })
    );
    println!(
        "idle: {}",
        show(u64_result(|r| unsafe { tcp_keep_alive_idle_time(s, r) }))
    );
    println!(
        "idle 90s: {}",
        unit(|r| unsafe { tcp_set_keep_alive_idle_time(s, 90_000_000_000, r) })
    );
    println!(
        "idle: {}",
        show(u64_result(|r| unsafe { tcp_keep_alive_idle_time(s, r) }))
    );
    println!(
        "interval 0: {}",
        unit(|r| unsafe { tcp_set_keep_alive_interval(s, 0, r) })
    );
    println!(
        "interval max: {}",
        unit(|r| unsafe { tcp_set_keep_alive_interval(s, -1, r) })
    );
    println!(
        "interval: {}",
        show(u64_result(|r| unsafe { tcp_keep_alive_interval(s, r) }))
    );
    println!(
        "count 0: {}",
        unit(|r| unsafe { tcp_set_keep_alive_count(s, 0, r) })
    );
    println!(
        "count 1000: {}",
        unit(|r| unsafe { tcp_set_keep_alive_count(s, 1000, r) })
    );
    println!(
        "count: {}",
        show(u32_result(|r| unsafe { tcp_keep_alive_count(s, r) }))
    );
    println!(
        "hop-limit 0: {}",
        unit(|r| unsafe { tcp_set_hop_limit(s, 0, r) })
    );
    println!(
        "hop-limit 300 (44 as u8): {}",
        unit(|r| unsafe { tcp_set_hop_limit(s, 300, r) })
    );
    println!(
        "hop-limit: {}",
        show(u8_result(|r| unsafe { tcp_hop_limit(s, r) }))
    );
    println!(
        "receive buffer 0: {}",
        unit(|r| unsafe { tcp_set_receive_buffer_size(s, 0, r) })
    );
    println!(
        "receive buffer 65536: {}",
        unit(|r| unsafe { tcp_set_receive_buffer_size(s, 65536, r) })
    );
    println!(
        "receive buffer: {}",
        show(u64_result(|r| unsafe { tcp_receive_buffer_size(s, r) }))
    );
    println!(
        "send buffer huge: {}",
        unit(|r| unsafe { tcp_set_send_buffer_size(s, -1, r) })
    );
}

/// An `outgoing-datagram` as laid out in memory (44 bytes).
#[repr(C, align(4))]
struct Datagram([u8; 44]);

impl Datagram {
    fn new(data: &'static [u8], to: Option<SocketAddr>) -> Datagram {
        let mut d = [0u8; 44];
        d[0..4].copy_from_slice(&(data.as_ptr() as u32).to_le_bytes());
        d[4..8].copy_from_slice(&(data.len() as u32).to_le_bytes());
        if let Some(a) = to {
            d[8] = 1;
            let v = flat(a);
            d[12] = v[0] as u8;
            d[16..18].copy_from_slice(&(v[1] as u16).to_le_bytes());
            match a {
                SocketAddr::V4(a) => d[18..22].copy_from_slice(&a.ip().octets()),
                SocketAddr::V6(a) => {
                    d[20..24].copy_from_slice(&a.flowinfo().to_le_bytes());
                    for (i, s) in a.ip().segments().iter().enumerate() {
                        d[24 + 2 * i..26 + 2 * i].copy_from_slice(&s.to_le_bytes());
                    }
                    d[40..44].copy_from_slice(&a.scope_id().to_le_bytes());
                }
            }
        }
        Datagram(d)
    }
}

fn send(out: i32, ds: &[Datagram]) -> String {
    let permit = u64_result(|r| unsafe { udp_check_send(out, r) });
    let sent = u64_result(|r| unsafe { udp_send(out, ds.as_ptr().cast(), ds.len() as i32, r) });
    format!("permit {}, sent {}", show(permit), show(sent))
}

fn receive(inc: i32, max: i64) -> String {
    let a = call(|r| unsafe { udp_receive(inc, max, r) });
    if let Some(e) = a.err(4) {
        return e.to_string();
    }
    let (p, n) = (a.u32_at(4) as usize, a.u32_at(8) as usize);
    let mut out = Vec::new();
    for i in 0..n {
        // SAFETY: the host lowered `n` 40-byte records at `p` with our realloc.
        let rec = unsafe { std::slice::from_raw_parts((p + 40 * i) as *const u8, 40) };
        let word = |at: usize| u32::from_le_bytes(rec[at..at + 4].try_into().unwrap()) as usize;
        // SAFETY: as above, for the datagram's bytes.
        let data = unsafe { std::slice::from_raw_parts(word(0) as *const u8, word(4)) };
        let mut area = Area::new();
        area.0[..32].copy_from_slice(&rec[8..40]);
        out.push(format!(
            "{:?} from {}",
            String::from_utf8_lossy(data),
            show_address(Ok(socket_address(&area, 0)))
        ));
    }
    format!("{} datagrams [{}]", n, out.join(", "))
}

fn udp(net: i32) {
    println!("== udp");
    let a = handle(|r| unsafe { create_udp_socket(0, r) });
    println!("create v4: {}", show(a.map(|_| "socket")));
    let Ok(a) = a else { return };
    println!("stream unbound: {}", show(udp_streams(a, None)));
    println!(
        "local unbound: {}",
        show_address(address(|r| unsafe { udp_local_address(a, r) }))
    );
    println!(
        "finish-bind unstarted: {}",
        unit(|r| unsafe { udp_finish_bind(a, r) })
    );
    println!(
        "bind v6 address: {}",
        udp_bind(a, net, "[::1]:0".parse().unwrap())
    );
    println!("bind loopback: {}", udp_bind(a, net, v4(LOOPBACK, 0)));
    println!("bind again: {}", udp_bind(a, net, v4(LOOPBACK, 0)));
    println!(
        "finish-bind: {}",
        unit(|r| unsafe { udp_finish_bind(a, r) })
    );
    println!("bind when bound: {}", udp_bind(a, net, v4(LOOPBACK, 0)));
    let a_addr = address(|r| unsafe { udp_local_address(a, r) }).unwrap();
    println!("local: {}", show_address(Ok(a_addr)));
    println!(
        "remote unconnected: {}",
        show_address(address(|r| unsafe { udp_remote_address(a, r) }))
    );
    println!(
        "hop-limit 0: {}",
        unit(|r| unsafe { udp_set_unicast_hop_limit(a, 0, r) })
    );
    println!(
        "hop-limit 5: {}",
        unit(|r| unsafe { udp_set_unicast_hop_limit(a, 5, r) })
    );
    println!(
        "hop-limit: {}",
        show(u8_result(|r| unsafe { udp_unicast_hop_limit(a, r) }))
    );
    let p = unsafe { udp_subscribe(a) };
    println!("socket pollable ready: {}", unsafe { pollable_ready(p) });
    unsafe { drop_pollable(p) };

    let b = handle(|r| unsafe { create_udp_socket(0, r) }).unwrap();
    println!("b bind: {}", udp_bind(b, net, v4(LOOPBACK, 0)));
    println!("b finish: {}", unit(|r| unsafe { udp_finish_bind(b, r) }));
    let b_addr = address(|r| unsafe { udp_local_address(b, r) }).unwrap();

    let [ain, aout] = udp_streams(a, None).unwrap();
    println!("a streams made");
    println!(
        "a bind while streaming: {}",
        udp_bind(a, net, v4(LOOPBACK, 0))
    );
    let inp = unsafe { udp_incoming_subscribe(ain) };
    println!("a incoming ready with nothing sent: {}", unsafe {
        pollable_ready(inp)
    });
    println!("a receive nothing: {}", receive(ain, 10));
    println!("send none: {}", send(aout, &[]));
    println!(
        "send without address: {}",
        send(aout, &[Datagram::new(b"x", None)])
    );
    println!(
        "send to port 0: {}",
        send(aout, &[Datagram::new(b"x", Some(v4(LOOPBACK, 0)))])
    );
    println!(
        "send to v6: {}",
        send(
            aout,
            &[Datagram::new(b"x", Some("[::1]:9".parse().unwrap()))]
        )
    );
    static BIG: [u8; 70000] = [1; 70000];
    println!(
        "send too large: {}",
        send(aout, &[Datagram::new(&BIG, Some(b_addr))])
    );
    println!(
        "send three to b: {}",
        send(
            aout,
            &[
                Datagram::new(b"one", Some(b_addr)),
                Datagram::new(b"two", Some(b_addr)),
                Datagram::new(b"three", Some(b_addr)),
            ]
        )
    );
    println!(
        "send good then bad: {}",
        send(
            aout,
            &[
                Datagram::new(b"four", Some(b_addr)),
                Datagram::new(b"x", None)
            ]
        )
    );

    let [bin, bout] = udp_streams(b, Some(a_addr)).unwrap();
    println!(
        "b connected to a: remote is a {}",
        address(|r| unsafe { udp_remote_address(b, r) }) == Ok(a_addr)
    );
    let bp = unsafe { udp_incoming_subscribe(bin) };
    unsafe { pollable_block(bp) };
    println!("b receive 0: {}", receive(bin, 0));
    println!("b receive 2: {}", receive(bin, 2));
    println!("b receive rest: {}", receive(bin, 10));
    unsafe { drop_pollable(bp) };
    println!(
        "b send to another address: {}",
        send(bout, &[Datagram::new(b"x", Some(v4(LOOPBACK, 9)))])
    );
    println!(
        "b send to a: {}",
        send(bout, &[Datagram::new(b"to a", Some(a_addr))])
    );
    println!(
        "b send connected: {}",
        send(bout, &[Datagram::new(b"implicit", None)])
    );
    unsafe { pollable_block(inp) };
    println!("a incoming ready: {}", unsafe { pollable_ready(inp) });
    println!("a receive: {}", receive(ain, 10));
    unsafe {
        drop_pollable(inp);
        drop_incoming(ain);
        drop_outgoing(aout);
        drop_incoming(bin);
        drop_outgoing(bout);
    }
    let again = udp_streams(b, None);
    println!("b disconnect: {}", show(again.map(|_| "streams")));
    println!(
        "b remote after disconnect: {}",
        show_address(address(|r| unsafe { udp_remote_address(b, r) }))
    );
    if let Ok([i, o]) = again {
        unsafe {
            drop_incoming(i);
            drop_outgoing(o);
        }
    }
    println!(
        "b connect to 0.0.0.0: {}",
        show(udp_streams(b, Some(v4([0, 0, 0, 0], 9))).map(|_| ()))
    );
    unsafe {
        drop_udp(a);
        drop_udp(b);
    }
}

fn lookup(net: i32) {
    println!("== ip-name-lookup");
    for name in ["localhost", "127.0.0.1", "[::1]", "not a name"] {
        let r = handle(|r| unsafe { resolve_addresses(net, name.as_ptr(), name.len() as i32, r) });
        println!("resolve {name:?}: {}", show(r.map(|_| "stream")));
    }
    unsafe { drop_network(net) };
}
