//! Calls every function of wasi:http/types and wasi:http/outgoing-handler 0.2 directly and
//! prints what they answer. Modes: `types` (fields, requests, responses, options, bodies),
//! `setters` (the request setters' checks on valid and invalid inputs), `handle`
//! (requests to `localhost:1`, where nothing listens, and malformed ones), and
//! the traps: `drop-body-with-stream`, `finish-body-with-stream`,
//! `drop-future-with-pollable`, `fields-over-budget`. Built for wasm32-wasip2 only;
//! elsewhere it says so and fails.

#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod p2 {
    use wasip2::cli::stdout;
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, FutureIncomingResponse, HeaderError, Method, OutgoingBody,
        OutgoingRequest, OutgoingResponse, RequestOptions, Scheme, http_error_code,
    };
    use wasip2::io::streams::StreamError;

    fn say(s: &str) {
        let out = stdout::get_stdout();
        for chunk in format!("{s}\n").as_bytes().chunks(4096) {
            out.blocking_write_and_flush(chunk).expect("stdout");
        }
    }

    fn text(values: Vec<Vec<u8>>) -> Vec<String> {
        values
            .into_iter()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .collect()
    }

    fn entries(f: &Fields) -> Vec<(String, String)> {
        f.entries()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect()
    }

    fn he(r: Result<(), HeaderError>) -> String {
        match r {
            Ok(()) => "ok".into(),
            Err(e) => format!("{e:?}"),
        }
    }

    fn unit(r: Result<(), ()>) -> &'static str {
        if r.is_ok() { "ok" } else { "refused" }
    }

    fn fields_functions() {
        let f = Fields::new();
        say(&format!("append X-Alpha: {}", he(f.append("X-Alpha", b"one"))));
        say(&format!("append x-alpha: {}", he(f.append("x-alpha", b"two"))));
        say(&format!("get X-ALPHA: {:?}", text(f.get("X-ALPHA"))));
        say(&format!("get absent: {:?}", text(f.get("absent"))));
        say(&format!("get invalid name: {:?}", text(f.get("bad name"))));
        say(&format!("has x-Alpha: {}, has absent: {}, has invalid: {}", f.has("x-Alpha"), f.has("absent"), f.has("a b")));
        for name in ["bad name", "", "a:b", "(x)", "é"] {
            say(&format!("append {name:?}: {}", he(f.append(name, b"v"))));
        }
        for value in [&b"a\nb"[..], b"a\x7fb", b"a\x00b"] {
            say(&format!("append value {value:?}: {}", he(f.append("x-v", value))));
        }
        for value in [&b"tab\there"[..], b"", b"\xff\x80 high"] {
            say(&format!("append value {value:?}: {}", he(f.append("x-ok", value))));
        }
        for name in ["Connection", "keep-alive", "Proxy-Authenticate", "proxy-authorization", "proxy-connection", "Transfer-Encoding", "upgrade", "HOST", "http2-settings", "te", "cookie"] {
            say(&format!("append {name}: {}, set: {}, delete: {}", he(f.append(name, b"x")), he(f.set(name, &[b"y".to_vec()])), he(f.delete(name))));
        }
        for value in ["+5", "-5", " 5", "", "5x", "18446744073709551616", "007", "18446744073709551615"] {
            say(&format!("set content-length {value:?}: {}", he(f.set("Content-Length", &[value.as_bytes().to_vec()]))));
        }
        say(&format!("content-length: {:?}", text(f.get("content-length"))));
        say(&format!("set content-length twice: {}", he(f.set("content-length", &[b"1".to_vec(), b"02".to_vec()]))));
        say(&format!("content-length: {:?}", text(f.get("content-length"))));
        say(&format!("delete content-length: {}", he(f.delete("content-length"))));
        say(&format!("entries: {:?}", entries(&f)));

        let g = Fields::new();
        for n in ["a", "b", "c", "d"] {
            g.append(n, n.as_bytes()).expect("append");
        }
        g.append("b", b"b2").expect("append");
        say(&format!("set b [B, B2]: {}", he(g.set("b", &[b"B".to_vec(), b"B2".to_vec()]))));
        say(&format!("entries: {:?}", entries(&g)));
        say(&format!("delete A: {}", he(g.delete("A"))));
        say(&format!("entries: {:?}", entries(&g)));
        say(&format!("set b []: {}", he(g.set("b", &[]))));
        say(&format!("delete absent: {}", he(g.delete("absent"))));
        say(&format!("set e []: {}", he(g.set("e", &[]))));
        say(&format!("set bad value: {}", he(g.set("c", &[b"ok".to_vec(), b"bad\r".to_vec()]))));
        say(&format!("entries: {:?}", entries(&g)));

        let list = |l: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            l.iter().map(|(a, b)| (a.to_string(), b.as_bytes().to_vec())).collect()
        };
        match Fields::from_list(&list(&[("z", "1"), ("Y", "2"), ("z", "3")])) {
            Ok(h) => say(&format!("from-list: {:?}", entries(&h))),
            Err(e) => say(&format!("from-list: {e:?}")),
        }
        for bad in [[("a", "1"), ("Connection", "x")], [("a", "1"), ("b c", "x")], [("a", "1"), ("b", "\n")]] {
            say(&format!("from-list {:?}: {:?}", bad, Fields::from_list(&list(&bad)).err()));
        }
        let empty = Fields::from_list(&[]).expect("empty list");
        say(&format!("from-list []: {:?}", entries(&empty)));

        let copy = g.clone();
        say(&format!("clone then append: {}", he(copy.append("f", b"f"))));
        say(&format!("original: {:?}", entries(&g)));
        say(&format!("clone: {:?}", entries(&copy)));
    }

    fn request_functions() {
        let headers = Fields::from_list(&[("x-test".into(), b"1".to_vec())]).expect("from-list");
        let req = OutgoingRequest::new(headers);
        say(&format!("defaults: {:?} {:?} {:?} {:?}", req.method(), req.path_with_query(), req.scheme(), req.authority()));
        let h = req.headers();
        say(&format!("headers: {:?}", entries(&h)));
        say(&format!("headers immutable: append {}, set {}, delete {}", he(h.append("x", b"1")), he(h.set("x-test", &[])), he(h.delete("x-test"))));
        say(&format!("immutable but forbidden first: {}, invalid first: {}", he(h.append("host", b"h")), he(h.append("a b", b"h"))));
        say(&format!("immutable, bad value: append {}, set {}", he(h.append("x", b"\n")), he(h.set("x", &[b"\n".to_vec()]))));
        let c = h.clone();
        say(&format!("clone of immutable: append {}", he(c.append("x", b"1"))));
        say(&format!("request headers after: {:?}", entries(&req.headers())));

        for m in [Method::Other("PROPFIND".into()), Method::Other("get".into()), Method::Other("BAD METHOD".into()), Method::Other(String::new()), Method::Other("GET".into()), Method::Post] {
            let shown = format!("{m:?}");
            say(&format!("set-method {shown}: {} -> {:?}", unit(req.set_method(&m)), req.method()));
        }
        for p in [Some("/a/b?q=1&r=%20"), Some(""), Some("/a b"), Some("*"), Some("no-slash"), Some("/\u{e9}"), None, Some("/x")] {
            say(&format!("set-path-with-query {p:?}: {} -> {:?}", unit(req.set_path_with_query(p)), req.path_with_query()));
        }
        for s in [Some(Scheme::Https), Some(Scheme::Other("ftp".into())), Some(Scheme::Other("ht tp".into())), Some(Scheme::Other(String::new())), Some(Scheme::Other("HTTP".into())), None, Some(Scheme::Http)] {
            let shown = format!("{s:?}");
            say(&format!("set-scheme {shown}: {} -> {:?}", unit(req.set_scheme(s.as_ref())), req.scheme()));
        }
        for a in [Some("example.com:8080"), Some("example.com:"), Some("example.com:abc"), Some("example.com:65536"), Some("[::1]"), Some("[::1]:443"), Some("a b"), Some(""), Some("user@host"), None, Some("localhost:1")] {
            say(&format!("set-authority {a:?}: {} -> {:?}", unit(req.set_authority(a)), req.authority()));
        }
        match req.body() {
            Ok(body) => {
                say("body: ok");
                say(&format!("second body: {}", if req.body().is_ok() { "ok" } else { "refused" }));
                let stream = body.write().expect("write");
                say(&format!("second write: {}", if body.write().is_ok() { "ok" } else { "refused" }));
                say(&format!("check-write: {:?}", stream.check_write().ok()));
                say(&format!("write: {:?}", stream.write(b"hello").is_ok()));
                say(&format!("flush: {:?}", stream.flush().is_ok()));
                drop(stream);
                let trailers = Fields::from_list(&[("x-trailer".into(), b"t".to_vec())]).expect("trailers");
                say(&format!("finish with trailers: {:?}", OutgoingBody::finish(body, Some(trailers))));
            }
            Err(()) => say("body: refused"),
        }
        drop(req);

        let opts = RequestOptions::new();
        say(&format!("options: {:?} {:?} {:?}", opts.connect_timeout(), opts.first_byte_timeout(), opts.between_bytes_timeout()));
        say(&format!("set: {} {} {}", unit(opts.set_connect_timeout(Some(5))), unit(opts.set_first_byte_timeout(Some(u64::MAX))), unit(opts.set_between_bytes_timeout(Some(0)))));
        say(&format!("options: {:?} {:?} {:?}", opts.connect_timeout(), opts.first_byte_timeout(), opts.between_bytes_timeout()));
        say(&format!("unset: {}", unit(opts.set_connect_timeout(None))));
        say(&format!("connect-timeout: {:?}", opts.connect_timeout()));
    }

    fn response_functions() {
        let headers = Fields::from_list(&[("content-type".into(), b"text/plain".to_vec())]).expect("from-list");
        let resp = OutgoingResponse::new(headers);
        say(&format!("status: {}", resp.status_code()));
        for s in [99u16, 100, 404, 599, 999, 1000, 0, 65535] {
            say(&format!("set-status-code {s}: {} -> {}", unit(resp.set_status_code(s)), resp.status_code()));
        }
        let h = resp.headers();
        say(&format!("headers: {:?}, append: {}", entries(&h), he(h.append("x", b"y"))));
        let body = resp.body().expect("body");
        say(&format!("second body: {}", if resp.body().is_ok() { "ok" } else { "refused" }));
        let stream = body.write().expect("write");
        say(&format!("write: {:?}", stream.write(b"response").is_ok()));
        drop(stream);
        say(&format!("finish: {:?}", OutgoingBody::finish(body, None)));
    }

    fn body_size_functions() {
        // content-length 5, 3 bytes written: finish reports the short body.
        let req = OutgoingRequest::new(Fields::from_list(&[("content-length".into(), b"5".to_vec())]).expect("h"));
        let body = req.body().expect("body");
        let stream = body.write().expect("write");
        say(&format!("write 3 of 5: {:?}", stream.write(b"abc").is_ok()));
        drop(stream);
        say(&format!("finish: {:?}", OutgoingBody::finish(body, None)));

        // content-length 2, 5 bytes written: the write fails with an error-code inside.
        let resp = OutgoingResponse::new(Fields::from_list(&[("content-length".into(), b"2".to_vec())]).expect("h"));
        let body = resp.body().expect("body");
        let stream = body.write().expect("write");
        match stream.write(b"hello") {
            Ok(()) => say("write 5 of 2: ok"),
            Err(StreamError::Closed) => say("write 5 of 2: closed"),
            Err(StreamError::LastOperationFailed(e)) => {
                say(&format!("write 5 of 2: failed, http-error-code {:?}", http_error_code(&e)));
            }
        }
        drop(stream);
        say(&format!("finish: {:?}", OutgoingBody::finish(body, None)));

        // content-length 0, nothing written; and dropping a body instead of finishing it.
        let req = OutgoingRequest::new(Fields::from_list(&[("content-length".into(), b"0".to_vec())]).expect("h"));
        let body = req.body().expect("body");
        say(&format!("finish empty: {:?}", OutgoingBody::finish(body, None)));
        let req = OutgoingRequest::new(Fields::new());
        drop(req.body().expect("body"));
        say("dropped an unfinished body");
    }

    pub fn types() {
        fields_functions();
        request_functions();
        response_functions();
        body_size_functions();
    }

    fn request(scheme: Option<Scheme>, authority: Option<&str>, path: Option<&str>) -> OutgoingRequest {
        let req = OutgoingRequest::new(Fields::from_list(&[("accept".into(), b"*/*".to_vec())]).expect("h"));
        req.set_scheme(scheme.as_ref()).expect("scheme");
        req.set_authority(authority).expect("authority");
        req.set_path_with_query(path).expect("path");
        req
    }

    /// Waits for the future, then takes its value twice.
    fn outcome(label: &str, f: FutureIncomingResponse) {
        let p = f.subscribe();
        p.block();
        say(&format!("{label}: ready {}", p.ready()));
        drop(p);
        let show = |v: Option<Result<Result<wasip2::http::types::IncomingResponse, ErrorCode>, ()>>| match v {
            None => "pending".to_string(),
            Some(Ok(Ok(r))) => format!("response {}", r.status()),
            Some(Ok(Err(e))) => format!("error {e:?}"),
            Some(Err(())) => "already taken".to_string(),
        };
        say(&format!("{label}: {}", show(f.get())));
        say(&format!("{label}: {}", show(f.get())));
    }

    fn send(label: &str, req: OutgoingRequest, options: Option<RequestOptions>) {
        match outgoing_handler::handle(req, options) {
            Ok(f) => outcome(label, f),
            Err(e) => say(&format!("{label}: handle refused {e:?}")),
        }
    }

    pub fn handle() {
        send("get http", request(Some(Scheme::Http), Some("localhost:1"), Some("/")), None);
        send("get 127.0.0.1", request(Some(Scheme::Http), Some("127.0.0.1:1"), Some("/a?b=c")), None);
        send("get https", request(Some(Scheme::Https), Some("localhost:1"), Some("/")), None);
        send("no scheme", request(None, Some("localhost:1"), Some("/")), None);
        send("scheme other http", request(Some(Scheme::Other("http".into())), Some("localhost:1"), Some("/")), None);
        send("scheme ftp", request(Some(Scheme::Other("ftp".into())), Some("localhost:1"), Some("/")), None);
        send("no authority", request(Some(Scheme::Http), None, Some("/")), None);
        send("no path", request(Some(Scheme::Http), Some("localhost:1"), None), None);
        let custom = request(Some(Scheme::Http), Some("localhost:1"), Some("/"));
        custom.set_method(&Method::Other("PROPFIND".into())).expect("method");
        send("propfind", custom, None);

        let opts = RequestOptions::new();
        opts.set_connect_timeout(Some(1_000_000_000)).expect("timeout");
        send("with options", request(Some(Scheme::Http), Some("localhost:1"), Some("/")), Some(opts));

        // A body written and finished before the request is handed over.
        let post = request(Some(Scheme::Http), Some("localhost:1"), Some("/post"));
        post.set_method(&Method::Post).expect("method");
        let body = post.body().expect("body");
        let stream = body.write().expect("write");
        stream.blocking_write_and_flush(b"some body").expect("write");
        drop(stream);
        OutgoingBody::finish(body, None).expect("finish");
        send("post", post, None);

        // A future dropped without being asked.
        let f = outgoing_handler::handle(request(Some(Scheme::Http), Some("localhost:1"), Some("/")), None);
        say(&format!("dropped future: {}", f.is_ok()));
    }

    pub fn drop_body_with_stream() {
        let req = OutgoingRequest::new(Fields::new());
        let body = req.body().expect("body");
        let stream = body.write().expect("write");
        say("dropping the body while its stream lives");
        drop(body);
        drop(stream);
        say("not reached");
    }

    pub fn finish_body_with_stream() {
        let req = OutgoingRequest::new(Fields::new());
        let body = req.body().expect("body");
        let stream = body.write().expect("write");
        say("finishing the body while its stream lives");
        let r = OutgoingBody::finish(body, None);
        drop(stream);
        say(&format!("not reached: {r:?}"));
    }

    pub fn drop_future_with_pollable() {
        let req = OutgoingRequest::new(Fields::new());
        req.set_authority(Some("localhost:1")).expect("authority");
        req.set_path_with_query(Some("/")).expect("path");
        req.set_scheme(Some(&Scheme::Http)).expect("scheme");
        let f = outgoing_handler::handle(req, None).expect("handle");
        let p = f.subscribe();
        say("dropping the future while its pollable lives");
        drop(f);
        drop(p);
        say("not reached");
    }

    /// Inputs for the request setters: paths, authorities, schemes and methods, valid and
    /// not, each tried on all four.
    const SETTER_INPUTS: &[&str] = &[
        "", "*", "/*", "?q", "?", "/", "//x", "#frag", "/a#b", "/?#", "??", "/a?b#c d",
        "no-slash", "a/b", "/a?b c", "/a?\u{e9}", "/%zz", "/a|b", "/{x}", "a\"b", "/a\\b",
        "/a^b", "/a`b", "/<x>", "GET", "get", "PROPFIND", "a b", "ftp", "http", "HTTPS",
        "1ftp", "ht-tp", "h+t.p", "example.com", "example.com:", "example.com:0",
        "example.com:99999", ":80", "[::1]", "[::1", "::1", "[::1]:", "user@host",
        "u:p@h:1", "a@b@c", "h/x", "h?x", "h#x", "%41", "x y", "\u{fc}", "a,b", "a;b", "a=b",
        "a~b", "a!b", "a$b", "a'b", "a(b)", "a*b", "~", "\u{e9}",
    ];

    pub fn setters() {
        let req = OutgoingRequest::new(Fields::new());
        for a in SETTER_INPUTS {
            let a = a.to_string();
            say(&format!("path {a:?}: {}", unit(req.set_path_with_query(Some(&a)))));
            say(&format!("authority {a:?}: {}", unit(req.set_authority(Some(&a)))));
            say(&format!("scheme {a:?}: {}", unit(req.set_scheme(Some(&Scheme::Other(a.clone()))))));
            say(&format!("method {a:?}: {}", unit(req.set_method(&Method::Other(a.clone())))));
        }
    }

    pub fn fields_over_budget() {
        let f = Fields::new();
        let value = vec![b'v'; 1000];
        for i in 0.. {
            if let Err(e) = f.append(&format!("x-{i}"), &value) {
                say(&format!("append {i}: {e:?}"));
                return;
            }
            if i % 50 == 0 {
                say(&format!("{i} fields"));
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("types");
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    match mode {
        "types" => p2::types(),
        "handle" => p2::handle(),
        "drop-body-with-stream" => p2::drop_body_with_stream(),
        "finish-body-with-stream" => p2::finish_body_with_stream(),
        "drop-future-with-pollable" => p2::drop_future_with_pollable(),
        "fields-over-budget" => p2::fields_over_budget(),
        "setters" => p2::setters(),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
    #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
    {
        eprintln!("wasi-http {mode}: this program needs wasm32-wasip2");
        std::process::exit(2);
    }
}
