//! Sockets on loopback, in one thread (wasm32-wasip2 has none to spare): a TCP echo over
//! 127.0.0.1 and over [::1], UDP datagrams both ways, resolving `localhost`, the errors a
//! closed port and a taken port give, non-blocking accept, a read timeout and socket
//! options. Each step prints its outcome without port numbers (the OS picks them), so the
//! output is the same on every run; a failing step prints its error kind and message and
//! the program goes on, so a run without network access shows where each one is denied.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
    UdpSocket,
};
use std::time::Duration;

fn main() {
    report("tcp v4", tcp_echo(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    report("tcp v6", tcp_echo(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    report("udp v4", udp(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    report("udp v6", udp(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    report("lookup", lookup());
    report("refused", refused());
    report("in use", in_use());
    report("nonblocking", nonblocking());
    report("options", options());
}

fn report(step: &str, r: io::Result<()>) {
    match r {
        Ok(()) => println!("{step}: ok"),
        Err(e) => println!("{step}: error {:?}: {e}", e.kind()),
    }
}

/// A step's error with the operation it came from.
fn at<T>(what: &str, r: io::Result<T>) -> io::Result<T> {
    r.map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))
}

fn describe(addr: SocketAddr) -> String {
    format!(
        "{} port {}",
        addr.ip(),
        if addr.port() == 0 { "zero" } else { "set" }
    )
}

fn tcp_echo(ip: IpAddr) -> io::Result<()> {
    let listener = at("bind", TcpListener::bind(SocketAddr::new(ip, 0)))?;
    let addr = at("local_addr", listener.local_addr())?;
    println!("  listening on {}", describe(addr));
    let mut client = at("connect", TcpStream::connect(addr))?;
    let (mut server, peer) = at("accept", listener.accept())?;
    let client_addr = at("client local_addr", client.local_addr())?;
    println!(
        "  accepted {}; it is the client: {}; client peer is the listener: {}",
        describe(peer),
        peer == client_addr,
        at("peer_addr", client.peer_addr())? == addr
    );
    println!(
        "  server local is the listener address: {}",
        at("server local_addr", server.local_addr())? == addr
    );

    let message = b"hello over tcp";
    at("client write", client.write_all(message))?;
    let mut got = [0u8; 14];
    at("server read", server.read_exact(&mut got))?;
    println!("  server got {:?}", String::from_utf8_lossy(&got));
    let reply: Vec<u8> = got.iter().map(u8::to_ascii_uppercase).collect();
    at("server write", server.write_all(&reply))?;
    let mut back = [0u8; 14];
    at("client read", client.read_exact(&mut back))?;
    println!("  client got {:?}", String::from_utf8_lossy(&back));

    // A larger transfer than one stream budget, written before it is read: the kernel
    // buffers hold it all.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    at("client write big", client.write_all(&big))?;
    at("client shutdown write", client.shutdown(Shutdown::Write))?;
    let mut received = Vec::new();
    at("server read to end", server.read_to_end(&mut received))?;
    println!(
        "  server read {} bytes to the end, intact: {}",
        received.len(),
        received == big
    );
    drop(server);
    let mut rest = Vec::new();
    let n = at("client read after close", client.read_to_end(&mut rest))?;
    println!("  client reads {n} bytes after the server closed");
    Ok(())
}

fn udp(ip: IpAddr) -> io::Result<()> {
    let a = at("bind a", UdpSocket::bind(SocketAddr::new(ip, 0)))?;
    let b = at("bind b", UdpSocket::bind(SocketAddr::new(ip, 0)))?;
    let a_addr = at("a local_addr", a.local_addr())?;
    let b_addr = at("b local_addr", b.local_addr())?;
    println!("  bound {} and {}", describe(a_addr), describe(b_addr));
    let sent = at("send_to", a.send_to(b"ping", b_addr))?;
    let mut buf = [0u8; 64];
    let (n, from) = at("recv_from", b.recv_from(&mut buf))?;
    println!(
        "  sent {sent}, b got {:?} from a: {}",
        String::from_utf8_lossy(&buf[..n]),
        from == a_addr
    );
    at("connect", b.connect(a_addr))?;
    at("send", b.send(b"pong"))?;
    let (n, from) = at("a recv_from", a.recv_from(&mut buf))?;
    println!(
        "  a got {:?} from b: {}",
        String::from_utf8_lossy(&buf[..n]),
        from == b_addr
    );
    println!(
        "  b peer is a: {}",
        at("peer_addr", b.peer_addr())? == a_addr
    );
    // A datagram larger than the receive buffer given is cut to fit.
    at("send_to long", a.send_to(&[7u8; 100], b_addr))?;
    let mut small = [0u8; 10];
    let n = at("recv short", b.recv(&mut small))?;
    println!("  a 100-byte datagram read into 10 bytes gives {n}");
    Ok(())
}

fn lookup() -> io::Result<()> {
    // A numeric name is parsed by the guest; no lookup is made.
    let numeric: Vec<SocketAddr> = at("numeric", ("10.1.2.3", 80).to_socket_addrs())?.collect();
    println!("  10.1.2.3:80 -> {numeric:?}");
    let mut addrs: Vec<String> = at("localhost", ("localhost", 8080).to_socket_addrs())?
        .map(|a| a.to_string())
        .collect();
    addrs.sort();
    addrs.dedup();
    println!("  localhost:8080 -> {}", addrs.join(", "));
    Ok(())
}

fn refused() -> io::Result<()> {
    // A port that was just free: bind, note it, close.
    let port = {
        let l = at("bind", TcpListener::bind("127.0.0.1:0"))?;
        at("local_addr", l.local_addr())?.port()
    };
    match TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => println!("  connect to a closed port succeeded"),
        Err(e) => println!("  connect to a closed port: {:?}", e.kind()),
    }
    Ok(())
}

fn in_use() -> io::Result<()> {
    let first = at("bind", TcpListener::bind("127.0.0.1:0"))?;
    let addr = at("local_addr", first.local_addr())?;
    match TcpListener::bind(addr) {
        Ok(_) => println!("  second tcp bind succeeded"),
        Err(e) => println!("  second tcp bind: {:?}", e.kind()),
    }
    let u = at("udp bind", UdpSocket::bind("127.0.0.1:0"))?;
    let uaddr = at("udp local_addr", u.local_addr())?;
    match UdpSocket::bind(uaddr) {
        Ok(_) => println!("  second udp bind succeeded"),
        Err(e) => println!("  second udp bind: {:?}", e.kind()),
    }
    Ok(())
}

fn nonblocking() -> io::Result<()> {
    let listener = at("bind", TcpListener::bind("127.0.0.1:0"))?;
    at("set_nonblocking", listener.set_nonblocking(true))?;
    match listener.accept() {
        Ok(_) => println!("  accept with nobody connecting succeeded"),
        Err(e) => println!("  accept with nobody connecting: {:?}", e.kind()),
    }
    let addr = at("local_addr", listener.local_addr())?;
    let client = at("connect", TcpStream::connect(addr))?;
    // The connection is queued by the kernel by now; accept may still race it, so wait.
    let mut tries = 0;
    let (server, _) = loop {
        match listener.accept() {
            Ok(s) => break s,
            Err(e) if e.kind() == ErrorKind::WouldBlock && tries < 1000 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("accept: {e}"))),
        }
    };
    println!("  accepted after the connect");
    at("server set_nonblocking", server.set_nonblocking(true))?;
    let mut buf = [0u8; 8];
    match (&server).read(&mut buf) {
        Ok(n) => println!("  read with nothing sent gives {n} bytes"),
        Err(e) => println!("  read with nothing sent: {:?}", e.kind()),
    }
    at(
        "client read timeout",
        client.set_read_timeout(Some(Duration::from_millis(20))),
    )?;
    match (&client).read(&mut buf) {
        Ok(n) => println!("  read with a timeout gives {n} bytes"),
        Err(e) => println!("  read with a timeout: {:?}", e.kind()),
    }
    Ok(())
}

fn options() -> io::Result<()> {
    let listener = at("bind", TcpListener::bind("127.0.0.1:0"))?;
    let addr = at("local_addr", listener.local_addr())?;
    let client = at("connect", TcpStream::connect(addr))?;
    at("set_ttl", client.set_ttl(42))?;
    println!("  ttl after set_ttl(42): {}", at("ttl", client.ttl())?);
    match client.set_nodelay(true) {
        Ok(()) => println!("  nodelay: {:?}", client.nodelay()),
        Err(e) => println!("  set_nodelay: {:?}", e.kind()),
    }
    let u = at("udp bind", UdpSocket::bind("127.0.0.1:0"))?;
    at("udp set_ttl", u.set_ttl(7))?;
    println!("  udp ttl after set_ttl(7): {}", at("udp ttl", u.ttl())?);
    match u.set_broadcast(true) {
        Ok(()) => println!("  broadcast: {:?}", u.broadcast()),
        Err(e) => println!("  set_broadcast: {:?}", e.kind()),
    }
    Ok(())
}
