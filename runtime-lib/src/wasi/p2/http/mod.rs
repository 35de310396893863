//! `wasi:http` 0.2: `types` and `outgoing-handler`. This module owns the HTTP resources
//! (fields, requests, responses, their options, bodies and futures), their canonical ABI
//! lowering, and the rules wasmtime's `-S http` applies to them: header validation and
//! immutability ([`fields`]), the checks of the request setters, content-length on bodies
//! ([`body`]), and the resources wasmtime records as children of another (a body's stream,
//! a future's pollable), whose parent cannot be dropped or consumed while they live
//! ("resource has children").
//!
//! No request is sent yet. `outgoing-handler.handle` checks the request as wasmtime does
//! (an invalid method, an unsupported scheme, a missing authority or path are answered at
//! once with wasmtime's codes), then returns a future that is already resolved to
//! [`UNREACHABLE`]: `connection-refused`, the code wasmtime gives for every destination it
//! cannot connect to (its `p2_error_from_connect` maps any connect failure to it). A guest
//! thus sees what it would see from wasmtime on a machine where the host is unreachable;
//! never a trap. (For a name that does not resolve, wasmtime says `DNS-error` instead; aot
//! resolves nothing, so it does not tell the two apart.)
//!
//! The request's body stays writable until that future is dropped, and what is written is
//! discarded. wasmtime closes the body's stream when its connection attempt fails, which
//! races with the guest still writing it (componentize-js's `fetch` with a body then
//! sometimes aborts with "event loop error"); aot gives the outcome of the guest winning
//! that race, every time.
//!
//! Incoming requests and responses exist as objects (with their bodies in memory and
//! trailers known up front) but nothing creates them until there is an HTTP client or an
//! `incoming-handler` export.

mod body;
mod error;
mod fields;

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

use body::{BodyKind, BodyReader, BodySink, BodyState, MemorySource};
pub use error::ErrorCode;
use fields::{FieldError, FieldMap};

use super::io::Pollable;
use super::{Call, Object, R, le32, le64, p2_fns, rt};
use crate::Locked;

/// What every request is answered with until aot makes HTTP requests (see the module
/// documentation).
pub const UNREACHABLE: ErrorCode = ErrorCode::ConnectionRefused;

/// The trap wasmtime raises when a resource is dropped or consumed while a resource it
/// handed out (a stream, a pollable) still lives.
const HAS_CHILDREN: &str = "resource has children";

/// The handles a resource handed out that wasmtime records as its children.
#[derive(Default)]
struct Children(Mutex<Vec<Weak<dyn Any + Send + Sync>>>);

impl Children {
    fn add(&self, child: Weak<dyn Any + Send + Sync>) {
        let mut list = self.0.locked();
        list.retain(|w| w.strong_count() > 0);
        list.push(child);
    }

    /// Whether one still has a handle (an object lives only while its handle does, or
    /// during a call that uses it, and no other call runs meanwhile).
    fn any_alive(&self) -> bool {
        self.0.locked().iter().any(|w| w.strong_count() > 0)
    }
}

/// `method`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
    Other(String),
}

/// `scheme`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    Other(String),
}

/// `fields` (also `headers` and `trailers`).
pub struct Fields(Mutex<FieldMap>);

/// `outgoing-request`.
pub struct OutgoingRequest(Mutex<Request>);

struct Request {
    method: Method,
    path_with_query: Option<String>,
    scheme: Option<Scheme>,
    authority: Option<String>,
    /// Frozen.
    headers: FieldMap,
    /// Set once `body` was called.
    body: Option<BodyReader>,
}

/// `request-options`: timeouts in nanoseconds.
#[derive(Default)]
pub struct RequestOptions(Mutex<[Option<u64>; 3]>);

const CONNECT: usize = 0;
const FIRST_BYTE: usize = 1;
const BETWEEN_BYTES: usize = 2;

/// `outgoing-response`.
pub struct OutgoingResponse(Mutex<Response>);

pub struct Response {
    status: u16,
    headers: FieldMap,
    body: Option<BodyReader>,
}

/// `response-outparam`: where the response to an incoming request is delivered.
pub struct ResponseOutparam {
    pub slot: Arc<Mutex<Option<Result<Response, ErrorCode>>>>,
}

/// `outgoing-body`.
pub struct OutgoingBody {
    state: Arc<BodyState>,
    stream_taken: Mutex<bool>,
    children: Children,
}

/// `incoming-body`.
pub struct IncomingBody {
    stream: Mutex<Option<Arc<MemorySource>>>,
    trailers: Result<Option<FieldMap>, ErrorCode>,
    children: Children,
}

impl IncomingBody {
    /// A body of `data` followed by `trailers`.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "incoming messages come with the HTTP client")
    )]
    pub fn new(data: Vec<u8>, trailers: Result<Option<FieldMap>, ErrorCode>) -> IncomingBody {
        IncomingBody {
            stream: Mutex::new(Some(Arc::new(MemorySource::new(data)))),
            trailers,
            children: Children::default(),
        }
    }
}

/// The state of a future resource: resolved until `get` takes the value.
enum Future<T> {
    Ready(T),
    Consumed,
}

impl<T> Future<T> {
    fn take(&mut self) -> Option<T> {
        match std::mem::replace(self, Future::Consumed) {
            Future::Ready(v) => Some(v),
            Future::Consumed => None,
        }
    }
}

/// `future-trailers`.
pub struct FutureTrailers {
    state: Mutex<Future<Result<Option<FieldMap>, ErrorCode>>>,
    children: Children,
}

/// `incoming-response`.
pub struct IncomingResponse {
    pub status: u16,
    pub headers: FieldMap,
    pub body: Mutex<Option<IncomingBody>>,
}

/// `incoming-request`.
pub struct IncomingRequest {
    pub method: Method,
    pub path_with_query: Option<String>,
    pub scheme: Option<Scheme>,
    pub authority: Option<String>,
    pub headers: FieldMap,
    pub body: Mutex<Option<IncomingBody>>,
}

/// `future-incoming-response`.
pub struct FutureIncomingResponse {
    state: Mutex<Future<Result<IncomingResponse, ErrorCode>>>,
    /// The sent request's body: its stream stays open while this lives.
    _request_body: Option<BodyReader>,
    children: Children,
}

// ---- lifting and lowering ----

fn wrong_type(cx: &Call, handle: i32) -> super::Fail {
    cx.trap(format!("handle index {handle} used with the wrong type"))
}

/// Takes an own handle of an [`Object::Other`] resource.
fn take_other<T: Any + Send + Sync>(
    cx: &Call,
    handle: i32,
    ty: crate::resources::ResourceType,
) -> R<Arc<T>> {
    match cx.take(handle, ty)? {
        Object::Other(o) => o.downcast::<T>().map_err(|_| wrong_type(cx, handle)),
        _ => Err(wrong_type(cx, handle)),
    }
}

/// `resource.drop` (or consumption) of a resource whose children must be gone first.
fn drop_parent<T: Any + Send + Sync>(
    cx: &Call,
    handle: i32,
    ty: crate::resources::ResourceType,
    children: impl Fn(&T) -> &Children,
) -> R<Arc<T>> {
    let object = take_other::<T>(cx, handle, ty)?;
    if children(&object).any_alive() {
        return Err(cx.trap(HAS_CHILDREN));
    }
    Ok(object)
}

/// A new pollable handle recorded as a child of `parent` (always ready: every future
/// here is resolved when it is made).
fn child_pollable(cx: &Call, parent: &Children) -> R<i32> {
    let p = Arc::new(Pollable::Ready);
    let weak: Weak<Pollable> = Arc::downgrade(&p);
    let h = cx.push(rt::POLLABLE, Object::Pollable(p))?;
    parent.add(weak);
    Ok(h)
}

fn push_fields(cx: &Call, map: FieldMap) -> R<i32> {
    cx.push_other(rt::FIELDS, Fields(Mutex::new(map)))
}

fn bad_discriminant(cx: &Call, d: i32) -> super::Fail {
    cx.trap(format!("unexpected discriminant: {}", d as u32))
}

fn bad_option(cx: &Call) -> super::Fail {
    cx.trap("invalid option discriminant")
}

/// Lifts an `option<T>` discriminant.
fn option_arg(cx: &Call, disc: i32) -> R<bool> {
    match disc {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad_option(cx)),
    }
}

fn method_arg(cx: &Call, disc: i32, ptr: i32, len: i32) -> R<Method> {
    Ok(match disc {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Post,
        3 => Method::Put,
        4 => Method::Delete,
        5 => Method::Connect,
        6 => Method::Options,
        7 => Method::Trace,
        8 => Method::Patch,
        9 => Method::Other(cx.string_arg(ptr, len)?),
        _ => return Err(bad_discriminant(cx, disc)),
    })
}

fn scheme_arg(cx: &Call, disc: i32, ptr: i32, len: i32) -> R<Scheme> {
    Ok(match disc {
        0 => Scheme::Http,
        1 => Scheme::Https,
        2 => Scheme::Other(cx.string_arg(ptr, len)?),
        _ => return Err(bad_discriminant(cx, disc)),
    })
}

fn opt_string_arg(cx: &Call, disc: i32, ptr: i32, len: i32) -> R<Option<String>> {
    if option_arg(cx, disc)? {
        Ok(Some(cx.string_arg(ptr, len)?))
    } else {
        Ok(None)
    }
}

/// A string's (pointer, length) in guest memory, as 8 bytes.
fn string_words(cx: &Call, s: &str) -> R<[u8; 8]> {
    let (p, l) = cx.lower_bytes(s.as_bytes())?;
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&le32(p));
    out[4..].copy_from_slice(&le32(l));
    Ok(out)
}

/// `option<string>` (12 bytes: discriminant, then the string at 4) at `retptr`.
fn ret_opt_string(cx: &Call, retptr: i32, s: &Option<String>) -> R<()> {
    match s {
        None => cx.ret(retptr, 4, &[(0, &[0])]),
        Some(s) => {
            let w = string_words(cx, s)?;
            cx.ret(retptr, 4, &[(0, &[1]), (4, &w)])
        }
    }
}

/// `method` (12 bytes: discriminant, then `other`'s string at 4) at `retptr + at`.
fn method_fields(cx: &Call, m: &Method) -> R<(u8, Option<[u8; 8]>)> {
    Ok(match m {
        Method::Get => (0, None),
        Method::Head => (1, None),
        Method::Post => (2, None),
        Method::Put => (3, None),
        Method::Delete => (4, None),
        Method::Connect => (5, None),
        Method::Options => (6, None),
        Method::Trace => (7, None),
        Method::Patch => (8, None),
        Method::Other(s) => (9, Some(string_words(cx, s)?)),
    })
}

fn ret_method(cx: &Call, retptr: i32, m: &Method) -> R<()> {
    let (d, s) = method_fields(cx, m)?;
    match s {
        None => cx.ret(retptr, 4, &[(0, &[d])]),
        Some(w) => cx.ret(retptr, 4, &[(0, &[d]), (4, &w)]),
    }
}

/// `option<scheme>` (16 bytes: discriminant, the scheme's at 4, `other`'s string at 8).
fn ret_opt_scheme(cx: &Call, retptr: i32, s: &Option<Scheme>) -> R<()> {
    match s {
        None => cx.ret(retptr, 4, &[(0, &[0])]),
        Some(Scheme::Http) => cx.ret(retptr, 4, &[(0, &[1]), (4, &[0])]),
        Some(Scheme::Https) => cx.ret(retptr, 4, &[(0, &[1]), (4, &[1])]),
        Some(Scheme::Other(s)) => {
            let w = string_words(cx, s)?;
            cx.ret(retptr, 4, &[(0, &[1]), (4, &[2]), (8, &w)])
        }
    }
}

/// `result<own<T>>` (discriminant, handle at 4) at `retptr`.
fn ret_handle_result(cx: &Call, retptr: i32, handle: Option<i32>) -> R<()> {
    match handle {
        Some(h) => cx.ret(retptr, 4, &[(0, &[0]), (4, &le32(h as u32))]),
        None => cx.ret(retptr, 4, &[(0, &[1])]),
    }
}

/// An `error-code`'s 32 bytes, its strings placed in guest memory.
fn error_code_bytes(cx: &Call, e: &ErrorCode) -> R<[u8; error::SIZE as usize]> {
    e.store(&mut |b: &[u8]| cx.lower_bytes(b))
}

/// `result<_, header-error>` (discriminant, the error's at 1), or the trap wasmtime raises
/// for a map over its size budget.
fn ret_header_result(cx: &Call, retptr: i32, r: Result<(), FieldError>) -> R<()> {
    match r {
        Ok(()) => cx.ret(retptr, 1, &[(0, &[0])]),
        Err(e) => match e.header_error() {
            Ok(d) => cx.ret(retptr, 1, &[(0, &[1]), (1, &[d])]),
            Err(message) => Err(cx.trap(message)),
        },
    }
}

/// The bytes of a list argument of `n` elements of `size` bytes aligned to `align`,
/// checked as wasmtime lifts a list (bounds, then alignment).
fn list_arg(cx: &Call, ptr: i32, n: i32, size: u32, align: u32) -> R<Vec<u8>> {
    let oob = || cx.trap("list pointer/length out of bounds of memory");
    let bytes = (n as u32).checked_mul(size).ok_or_else(oob)?;
    let data = cx
        .mem()
        .slice(ptr as u32, bytes)
        .map(<[u8]>::to_vec)
        .map_err(|_| oob())?;
    if !(ptr as u32).is_multiple_of(align) {
        return Err(cx.trap("list pointer is not aligned"));
    }
    Ok(data)
}

fn word(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A `list<tuple<field-name, field-value>>` argument (16-byte elements).
fn entries_arg(cx: &Call, ptr: i32, len: i32) -> R<Vec<(String, Vec<u8>)>> {
    let data = list_arg(cx, ptr, len, 16, 4)?;
    data.chunks_exact(16)
        .map(|e| {
            Ok((
                cx.string_arg(word(e, 0), word(e, 4))?,
                cx.bytes_arg(word(e, 8), word(e, 12))?,
            ))
        })
        .collect()
}

/// A `list<field-value>` argument (8-byte elements).
fn values_arg(cx: &Call, ptr: i32, len: i32) -> R<Vec<Vec<u8>>> {
    let data = list_arg(cx, ptr, len, 8, 4)?;
    data.chunks_exact(8)
        .map(|e| cx.bytes_arg(word(e, 0), word(e, 4)))
        .collect()
}

/// Lowers a list of byte strings; returns (pointer, count).
fn lower_values(cx: &Call, values: &[Vec<u8>]) -> R<(u32, u32)> {
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    cx.lower_strings(&refs)
}

/// Lowers a `list<tuple<field-name, field-value>>`; returns (pointer, count).
fn lower_entries(cx: &Call, entries: &[(String, Vec<u8>)]) -> R<(u32, u32)> {
    let n = u32::try_from(entries.len()).map_err(|_| cx.trap("list too long"))?;
    let size = n.checked_mul(16).ok_or_else(|| cx.trap("list too long"))?;
    let array = cx.alloc(size, 4)?;
    for (i, (name, value)) in entries.iter().enumerate() {
        let (np, nl) = cx.lower_bytes(name.as_bytes())?;
        let (vp, vl) = cx.lower_bytes(value)?;
        // A realloc that returned a bad pointer wraps here and fails `ret`'s bounds check.
        let at = array.wrapping_add(16 * i as u32);
        cx.ret(
            at as i32,
            4,
            &[
                (0, &le32(np)),
                (4, &le32(nl)),
                (8, &le32(vp)),
                (12, &le32(vl)),
            ],
        )?;
    }
    Ok((array, n))
}

// ---- the request setters' checks (the `http` crate's parsers, as wasmtime) ----

fn method_is_valid(m: &Method) -> bool {
    match m {
        Method::Other(s) => http::Method::from_bytes(s.as_bytes()).is_ok(),
        _ => true,
    }
}

fn scheme_is_valid(s: &Scheme) -> bool {
    match s {
        Scheme::Other(s) => s.parse::<http::uri::Scheme>().is_ok(),
        _ => true,
    }
}

/// A path-with-query wasmtime 49 accepts: empty, or one starting with `/` or `?` that the
/// `http` crate parses (so not `*`, nor a lone `#fragment`; found by probing it).
fn path_is_valid(p: &str) -> bool {
    p.is_empty()
        || (matches!(p.as_bytes().first(), Some(b'/' | b'?'))
            && p.parse::<http::uri::PathAndQuery>().is_ok())
}

/// An authority wasmtime accepts: one the `http` crate parses whose port, if a `:` after
/// any IPv6 literal announces one, is a number that fits in 16 bits.
fn authority_is_valid(a: &str) -> bool {
    let has_port = match a.rfind(']') {
        Some(i) => a[i..].contains(':'),
        None => a.contains(':'),
    };
    match a.parse::<http::uri::Authority>() {
        Ok(parsed) => !has_port || parsed.port_u16().is_some(),
        Err(_) => false,
    }
}

/// What wasmtime's `handle` answers at once for `req`, before any connection.
fn check_request(req: &Request) -> Result<(), ErrorCode> {
    if !method_is_valid(&req.method) {
        return Err(ErrorCode::HttpRequestMethodInvalid);
    }
    if let Some(Scheme::Other(s)) = &req.scheme {
        let supported = s
            .parse::<http::uri::Scheme>()
            .is_ok_and(|s| s == http::uri::Scheme::HTTP || s == http::uri::Scheme::HTTPS);
        if !supported {
            return Err(ErrorCode::HttpProtocolError);
        }
    }
    // wasmtime builds the URI: an empty authority does not parse (an invalid URI), and
    // without a path the URI's parts are incomplete (reported as a protocol error).
    let authority = req.authority.as_deref().unwrap_or("");
    if authority.parse::<http::uri::Authority>().is_err() {
        return Err(ErrorCode::HttpRequestUriInvalid);
    }
    if req.path_with_query.is_none() {
        return Err(ErrorCode::HttpProtocolError);
    }
    Ok(())
}

fn fields(cx: &Call, h: i32) -> R<Arc<Fields>> {
    cx.get_other::<Fields>(h, rt::FIELDS)
}

fn outgoing_request(cx: &Call, h: i32) -> R<Arc<OutgoingRequest>> {
    cx.get_other::<OutgoingRequest>(h, rt::OUTGOING_REQUEST)
}

fn request_options(cx: &Call, h: i32) -> R<Arc<RequestOptions>> {
    cx.get_other::<RequestOptions>(h, rt::REQUEST_OPTIONS)
}

fn outgoing_response(cx: &Call, h: i32) -> R<Arc<OutgoingResponse>> {
    cx.get_other::<OutgoingResponse>(h, rt::OUTGOING_RESPONSE)
}

fn incoming_request(cx: &Call, h: i32) -> R<Arc<IncomingRequest>> {
    cx.get_other::<IncomingRequest>(h, rt::INCOMING_REQUEST)
}

fn incoming_response(cx: &Call, h: i32) -> R<Arc<IncomingResponse>> {
    cx.get_other::<IncomingResponse>(h, rt::INCOMING_RESPONSE)
}

/// Opens the body of a request or response with `headers`: none if one was opened already
/// or its `content-length` is not a number.
fn open_body(
    cx: &Call,
    kind: BodyKind,
    headers: &FieldMap,
    body: &mut Option<BodyReader>,
) -> R<Option<i32>> {
    if body.is_some() {
        return Ok(None);
    }
    let Ok(expected) = headers.content_length() else {
        return Ok(None);
    };
    let (state, reader) = BodyState::new(kind, expected);
    let h = cx.push_other(
        rt::OUTGOING_BODY,
        OutgoingBody {
            state,
            stream_taken: Mutex::new(false),
            children: Children::default(),
        },
    )?;
    *body = Some(reader);
    Ok(Some(h))
}

/// `consume` of an incoming request or response: its body, once.
fn consume_body(cx: &Call, body: &Mutex<Option<IncomingBody>>) -> R<Option<i32>> {
    let taken = body.locked().take();
    match taken {
        Some(b) => Ok(Some(cx.push_other(rt::INCOMING_BODY, b)?)),
        None => Ok(None),
    }
}

/// `option<result<result<T, error-code>>>` at `retptr` (56 bytes): the option's
/// discriminant, the outer result's at 8, the inner's at 16, its payload at 24; `ok`
/// writes T's bytes at 24.
fn ret_future_get<T>(
    cx: &Call,
    retptr: i32,
    value: Option<Option<Result<T, ErrorCode>>>,
    ok: impl FnOnce(&Call, T) -> R<Vec<u8>>,
) -> R<()> {
    match value {
        None => cx.ret(retptr, error::ALIGN, &[(0, &[0])]),
        Some(None) => cx.ret(retptr, error::ALIGN, &[(0, &[1]), (8, &[1])]),
        Some(Some(Ok(v))) => {
            let bytes = ok(cx, v)?;
            cx.ret(
                retptr,
                error::ALIGN,
                &[(0, &[1]), (8, &[0]), (16, &[0]), (24, &bytes)],
            )
        }
        Some(Some(Err(e))) => {
            let bytes = error_code_bytes(cx, &e)?;
            cx.ret(
                retptr,
                error::ALIGN,
                &[(0, &[1]), (8, &[0]), (16, &[1]), (24, &bytes)],
            )
        }
    }
}

fn timeout_get(cx: &Call, this: i32, which: usize, retptr: i32) -> R<()> {
    let v = request_options(cx, this)?.0.locked()[which];
    match v {
        None => cx.ret(retptr, 8, &[(0, &[0])]),
        Some(ns) => cx.ret(retptr, 8, &[(0, &[1]), (8, &le64(ns))]),
    }
}

fn timeout_set(cx: &Call, this: i32, which: usize, disc: i32, ns: i64) -> R<i32> {
    let o = request_options(cx, this)?;
    let v = option_arg(cx, disc)?.then_some(ns as u64);
    o.0.locked()[which] = v;
    Ok(0)
}

p2_fns! {
    // ---- fields ----

    fn aot_wasi_p2_http__types__constructor__fields(cx) -> i32 {
        push_fields(&cx, FieldMap::new())
    }

    fn aot_wasi_p2_http__types__static__fields__from_list(cx, ptr: i32, len: i32, retptr: i32) {
        let entries = entries_arg(&cx, ptr, len)?;
        match FieldMap::from_list(&entries) {
            Ok(map) => {
                let h = push_fields(&cx, map)?;
                cx.ret(retptr, 4, &[(0, &[0]), (4, &le32(h as u32))])
            }
            Err(e) => match e.header_error() {
                Ok(d) => cx.ret(retptr, 4, &[(0, &[1]), (4, &[d])]),
                Err(message) => Err(cx.trap(message)),
            },
        }
    }

    fn aot_wasi_p2_http__types__method__fields__get(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let f = fields(&cx, this)?;
        let name = cx.string_arg(ptr, len)?;
        let values = f.0.locked().get(&name);
        let (p, n) = lower_values(&cx, &values)?;
        cx.ret(retptr, 4, &[(0, &le32(p)), (4, &le32(n))])
    }

    fn aot_wasi_p2_http__types__method__fields__has(cx, this: i32, ptr: i32, len: i32) -> i32 {
        let f = fields(&cx, this)?;
        let name = cx.string_arg(ptr, len)?;
        let has = f.0.locked().has(&name);
        Ok(i32::from(has))
    }

    fn aot_wasi_p2_http__types__method__fields__set(cx, this: i32, ptr: i32, len: i32, vptr: i32, vlen: i32, retptr: i32) {
        let f = fields(&cx, this)?;
        let name = cx.string_arg(ptr, len)?;
        let values = values_arg(&cx, vptr, vlen)?;
        let r = f.0.locked().set(&name, &values);
        ret_header_result(&cx, retptr, r)
    }

    fn aot_wasi_p2_http__types__method__fields__delete(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let f = fields(&cx, this)?;
        let name = cx.string_arg(ptr, len)?;
        let r = f.0.locked().delete(&name);
        ret_header_result(&cx, retptr, r)
    }

    fn aot_wasi_p2_http__types__method__fields__append(cx, this: i32, ptr: i32, len: i32, vptr: i32, vlen: i32, retptr: i32) {
        let f = fields(&cx, this)?;
        let name = cx.string_arg(ptr, len)?;
        let value = cx.bytes_arg(vptr, vlen)?;
        let r = f.0.locked().append(&name, &value);
        ret_header_result(&cx, retptr, r)
    }

    fn aot_wasi_p2_http__types__method__fields__entries(cx, this: i32, retptr: i32) {
        let entries = fields(&cx, this)?.0.locked().entries();
        let (p, n) = lower_entries(&cx, &entries)?;
        cx.ret(retptr, 4, &[(0, &le32(p)), (4, &le32(n))])
    }

    fn aot_wasi_p2_http__types__method__fields__clone(cx, this: i32) -> i32 {
        let copy = fields(&cx, this)?.0.locked().mutable_copy();
        push_fields(&cx, copy)
    }

    fn aot_wasi_p2_http__types__resource_drop__fields(cx, handle: i32) {
        cx.drop_handle(handle, rt::FIELDS)
    }

    // ---- incoming-request ----

    fn aot_wasi_p2_http__types__method__incoming_request__method(cx, this: i32, retptr: i32) {
        let r = incoming_request(&cx, this)?;
        ret_method(&cx, retptr, &r.method)
    }

    fn aot_wasi_p2_http__types__method__incoming_request__path_with_query(cx, this: i32, retptr: i32) {
        let r = incoming_request(&cx, this)?;
        ret_opt_string(&cx, retptr, &r.path_with_query)
    }

    fn aot_wasi_p2_http__types__method__incoming_request__scheme(cx, this: i32, retptr: i32) {
        let r = incoming_request(&cx, this)?;
        ret_opt_scheme(&cx, retptr, &r.scheme)
    }

    fn aot_wasi_p2_http__types__method__incoming_request__authority(cx, this: i32, retptr: i32) {
        let r = incoming_request(&cx, this)?;
        ret_opt_string(&cx, retptr, &r.authority)
    }

    fn aot_wasi_p2_http__types__method__incoming_request__headers(cx, this: i32) -> i32 {
        let r = incoming_request(&cx, this)?;
        push_fields(&cx, r.headers.frozen_copy())
    }

    fn aot_wasi_p2_http__types__method__incoming_request__consume(cx, this: i32, retptr: i32) {
        let r = incoming_request(&cx, this)?;
        let h = consume_body(&cx, &r.body)?;
        ret_handle_result(&cx, retptr, h)
    }

    fn aot_wasi_p2_http__types__resource_drop__incoming_request(cx, handle: i32) {
        cx.drop_handle(handle, rt::INCOMING_REQUEST)
    }

    // ---- outgoing-request ----

    fn aot_wasi_p2_http__types__constructor__outgoing_request(cx, headers: i32) -> i32 {
        let f = take_other::<Fields>(&cx, headers, rt::FIELDS)?;
        let mut headers = f.0.locked().clone();
        headers.freeze();
        cx.push_other(
            rt::OUTGOING_REQUEST,
            OutgoingRequest(Mutex::new(Request {
                method: Method::Get,
                path_with_query: None,
                scheme: None,
                authority: None,
                headers,
                body: None,
            })),
        )
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__body(cx, this: i32, retptr: i32) {
        let r = outgoing_request(&cx, this)?;
        let mut req = r.0.locked();
        let req = &mut *req;
        let h = open_body(&cx, BodyKind::Request, &req.headers, &mut req.body)?;
        ret_handle_result(&cx, retptr, h)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__method(cx, this: i32, retptr: i32) {
        let m = outgoing_request(&cx, this)?.0.locked().method.clone();
        ret_method(&cx, retptr, &m)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__set_method(cx, this: i32, disc: i32, ptr: i32, len: i32) -> i32 {
        let r = outgoing_request(&cx, this)?;
        let m = method_arg(&cx, disc, ptr, len)?;
        if !method_is_valid(&m) {
            return Ok(1);
        }
        r.0.locked().method = m;
        Ok(0)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__path_with_query(cx, this: i32, retptr: i32) {
        let p = outgoing_request(&cx, this)?.0.locked().path_with_query.clone();
        ret_opt_string(&cx, retptr, &p)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__set_path_with_query(cx, this: i32, disc: i32, ptr: i32, len: i32) -> i32 {
        let r = outgoing_request(&cx, this)?;
        let p = opt_string_arg(&cx, disc, ptr, len)?;
        if p.as_deref().is_some_and(|p| !path_is_valid(p)) {
            return Ok(1);
        }
        r.0.locked().path_with_query = p;
        Ok(0)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__scheme(cx, this: i32, retptr: i32) {
        let s = outgoing_request(&cx, this)?.0.locked().scheme.clone();
        ret_opt_scheme(&cx, retptr, &s)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__set_scheme(cx, this: i32, odisc: i32, disc: i32, ptr: i32, len: i32) -> i32 {
        let r = outgoing_request(&cx, this)?;
        let s = if option_arg(&cx, odisc)? {
            Some(scheme_arg(&cx, disc, ptr, len)?)
        } else {
            None
        };
        if s.as_ref().is_some_and(|s| !scheme_is_valid(s)) {
            return Ok(1);
        }
        r.0.locked().scheme = s;
        Ok(0)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__authority(cx, this: i32, retptr: i32) {
        let a = outgoing_request(&cx, this)?.0.locked().authority.clone();
        ret_opt_string(&cx, retptr, &a)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__set_authority(cx, this: i32, disc: i32, ptr: i32, len: i32) -> i32 {
        let r = outgoing_request(&cx, this)?;
        let a = opt_string_arg(&cx, disc, ptr, len)?;
        if a.as_deref().is_some_and(|a| !authority_is_valid(a)) {
            return Ok(1);
        }
        r.0.locked().authority = a;
        Ok(0)
    }

    fn aot_wasi_p2_http__types__method__outgoing_request__headers(cx, this: i32) -> i32 {
        let headers = outgoing_request(&cx, this)?.0.locked().headers.frozen_copy();
        push_fields(&cx, headers)
    }

    fn aot_wasi_p2_http__types__resource_drop__outgoing_request(cx, handle: i32) {
        cx.drop_handle(handle, rt::OUTGOING_REQUEST)
    }

    // ---- request-options ----

    fn aot_wasi_p2_http__types__constructor__request_options(cx) -> i32 {
        cx.push_other(rt::REQUEST_OPTIONS, RequestOptions::default())
    }

    fn aot_wasi_p2_http__types__method__request_options__connect_timeout(cx, this: i32, retptr: i32) {
        timeout_get(&cx, this, CONNECT, retptr)
    }

    fn aot_wasi_p2_http__types__method__request_options__set_connect_timeout(cx, this: i32, disc: i32, ns: i64) -> i32 {
        timeout_set(&cx, this, CONNECT, disc, ns)
    }

    fn aot_wasi_p2_http__types__method__request_options__first_byte_timeout(cx, this: i32, retptr: i32) {
        timeout_get(&cx, this, FIRST_BYTE, retptr)
    }

    fn aot_wasi_p2_http__types__method__request_options__set_first_byte_timeout(cx, this: i32, disc: i32, ns: i64) -> i32 {
        timeout_set(&cx, this, FIRST_BYTE, disc, ns)
    }

    fn aot_wasi_p2_http__types__method__request_options__between_bytes_timeout(cx, this: i32, retptr: i32) {
        timeout_get(&cx, this, BETWEEN_BYTES, retptr)
    }

    fn aot_wasi_p2_http__types__method__request_options__set_between_bytes_timeout(cx, this: i32, disc: i32, ns: i64) -> i32 {
        timeout_set(&cx, this, BETWEEN_BYTES, disc, ns)
    }

    fn aot_wasi_p2_http__types__resource_drop__request_options(cx, handle: i32) {
        cx.drop_handle(handle, rt::REQUEST_OPTIONS)
    }

    // ---- response-outparam ----

    fn aot_wasi_p2_http__types__static__response_outparam__set(cx, param: i32, rdisc: i32, a: i32, b: i32, c: i64, d: i32, e: i32, f: i32, g: i32) {
        // Lifting first: the result, then the outparam (wasmtime moves both handles out
        // of the guest's table before the call).
        let value = match rdisc {
            0 => {
                let resp = take_other::<OutgoingResponse>(&cx, a, rt::OUTGOING_RESPONSE)?;
                let mut r = resp.0.locked();
                Ok(Response {
                    status: r.status,
                    headers: r.headers.clone(),
                    body: r.body.take(),
                })
            }
            1 => {
                let flat = [a as i64, b as i64, c, d as i64, e as i64, f as i64, g as i64];
                Err(ErrorCode::from_flat(
                    flat,
                    &mut |p, l| cx.string_arg(p as i32, l as i32),
                    &mut |m| cx.trap(m),
                )?)
            }
            _ => return Err(cx.trap("invalid expected discriminant")),
        };
        let out = take_other::<ResponseOutparam>(&cx, param, rt::RESPONSE_OUTPARAM)?;
        *out.slot.locked() = Some(value);
        Ok(())
    }

    fn aot_wasi_p2_http__types__resource_drop__response_outparam(cx, handle: i32) {
        cx.drop_handle(handle, rt::RESPONSE_OUTPARAM)
    }

    // ---- incoming-response ----

    fn aot_wasi_p2_http__types__method__incoming_response__status(cx, this: i32) -> i32 {
        Ok(i32::from(incoming_response(&cx, this)?.status))
    }

    fn aot_wasi_p2_http__types__method__incoming_response__headers(cx, this: i32) -> i32 {
        let r = incoming_response(&cx, this)?;
        push_fields(&cx, r.headers.frozen_copy())
    }

    fn aot_wasi_p2_http__types__method__incoming_response__consume(cx, this: i32, retptr: i32) {
        let r = incoming_response(&cx, this)?;
        let h = consume_body(&cx, &r.body)?;
        ret_handle_result(&cx, retptr, h)
    }

    fn aot_wasi_p2_http__types__resource_drop__incoming_response(cx, handle: i32) {
        cx.drop_handle(handle, rt::INCOMING_RESPONSE)
    }

    // ---- incoming-body ----

    fn aot_wasi_p2_http__types__method__incoming_body__stream(cx, this: i32, retptr: i32) {
        let b = cx.get_other::<IncomingBody>(this, rt::INCOMING_BODY)?;
        let taken = b.stream.locked().take();
        let h = match taken {
            Some(source) => {
                let weak = Arc::downgrade(&source);
                let h = cx.push(rt::INPUT_STREAM, Object::InputStream(source))?;
                b.children.add(weak);
                Some(h)
            }
            None => None,
        };
        ret_handle_result(&cx, retptr, h)
    }

    fn aot_wasi_p2_http__types__static__incoming_body__finish(cx, this: i32) -> i32 {
        let b = drop_parent::<IncomingBody>(&cx, this, rt::INCOMING_BODY, |b| &b.children)?;
        cx.push_other(
            rt::FUTURE_TRAILERS,
            FutureTrailers {
                state: Mutex::new(Future::Ready(b.trailers.clone())),
                children: Children::default(),
            },
        )
    }

    fn aot_wasi_p2_http__types__resource_drop__incoming_body(cx, handle: i32) {
        drop_parent::<IncomingBody>(&cx, handle, rt::INCOMING_BODY, |b| &b.children).map(drop)
    }

    // ---- future-trailers ----

    fn aot_wasi_p2_http__types__method__future_trailers__subscribe(cx, this: i32) -> i32 {
        let t = cx.get_other::<FutureTrailers>(this, rt::FUTURE_TRAILERS)?;
        child_pollable(&cx, &t.children)
    }

    fn aot_wasi_p2_http__types__method__future_trailers__get(cx, this: i32, retptr: i32) {
        let t = cx.get_other::<FutureTrailers>(this, rt::FUTURE_TRAILERS)?;
        let value = t.state.locked().take();
        // Resolved futures only: `get` never answers "not yet" (none).
        ret_future_get(&cx, retptr, Some(value), |cx, trailers| match trailers {
            None => Ok(vec![0]),
            Some(mut map) => {
                map.freeze();
                let h = push_fields(cx, map)?;
                let mut bytes = vec![1, 0, 0, 0];
                bytes.extend_from_slice(&le32(h as u32));
                Ok(bytes)
            }
        })
    }

    fn aot_wasi_p2_http__types__resource_drop__future_trailers(cx, handle: i32) {
        drop_parent::<FutureTrailers>(&cx, handle, rt::FUTURE_TRAILERS, |t| &t.children).map(drop)
    }

    // ---- outgoing-response ----

    fn aot_wasi_p2_http__types__constructor__outgoing_response(cx, headers: i32) -> i32 {
        let f = take_other::<Fields>(&cx, headers, rt::FIELDS)?;
        let mut headers = f.0.locked().clone();
        headers.freeze();
        cx.push_other(
            rt::OUTGOING_RESPONSE,
            OutgoingResponse(Mutex::new(Response { status: 200, headers, body: None })),
        )
    }

    fn aot_wasi_p2_http__types__method__outgoing_response__status_code(cx, this: i32) -> i32 {
        Ok(i32::from(outgoing_response(&cx, this)?.0.locked().status))
    }

    fn aot_wasi_p2_http__types__method__outgoing_response__set_status_code(cx, this: i32, status: i32) -> i32 {
        let r = outgoing_response(&cx, this)?;
        let status = status as u16;
        if http::StatusCode::from_u16(status).is_err() {
            return Ok(1);
        }
        r.0.locked().status = status;
        Ok(0)
    }

    fn aot_wasi_p2_http__types__method__outgoing_response__headers(cx, this: i32) -> i32 {
        let headers = outgoing_response(&cx, this)?.0.locked().headers.frozen_copy();
        push_fields(&cx, headers)
    }

    fn aot_wasi_p2_http__types__method__outgoing_response__body(cx, this: i32, retptr: i32) {
        let r = outgoing_response(&cx, this)?;
        let mut resp = r.0.locked();
        let resp = &mut *resp;
        let h = open_body(&cx, BodyKind::Response, &resp.headers, &mut resp.body)?;
        ret_handle_result(&cx, retptr, h)
    }

    fn aot_wasi_p2_http__types__resource_drop__outgoing_response(cx, handle: i32) {
        cx.drop_handle(handle, rt::OUTGOING_RESPONSE)
    }

    // ---- outgoing-body ----

    fn aot_wasi_p2_http__types__method__outgoing_body__write(cx, this: i32, retptr: i32) {
        let b = cx.get_other::<OutgoingBody>(this, rt::OUTGOING_BODY)?;
        let first = !std::mem::replace(&mut *b.stream_taken.locked(), true);
        let h = if first {
            let sink = Arc::new(BodySink(b.state.clone()));
            let weak = Arc::downgrade(&sink);
            let h = cx.push(rt::OUTPUT_STREAM, Object::OutputStream(sink))?;
            b.children.add(weak);
            Some(h)
        } else {
            None
        };
        ret_handle_result(&cx, retptr, h)
    }

    fn aot_wasi_p2_http__types__static__outgoing_body__finish(cx, this: i32, disc: i32, trailers: i32, retptr: i32) {
        // The trailers are lifted (moved out of the guest's table) before the call.
        let trailers = if option_arg(&cx, disc)? {
            Some(take_other::<Fields>(&cx, trailers, rt::FIELDS)?)
        } else {
            None
        };
        let b = drop_parent::<OutgoingBody>(&cx, this, rt::OUTGOING_BODY, |b| &b.children)?;
        // Nothing sends the body, so the trailers go nowhere.
        drop(trailers);
        match b.state.finish() {
            Ok(()) => cx.ret(retptr, error::ALIGN, &[(0, &[0])]),
            Err(e) => {
                let bytes = error_code_bytes(&cx, &e)?;
                cx.ret(retptr, error::ALIGN, &[(0, &[1]), (8, &bytes)])
            }
        }
    }

    fn aot_wasi_p2_http__types__resource_drop__outgoing_body(cx, handle: i32) {
        drop_parent::<OutgoingBody>(&cx, handle, rt::OUTGOING_BODY, |b| &b.children).map(drop)
    }

    // ---- future-incoming-response ----

    fn aot_wasi_p2_http__types__method__future_incoming_response__subscribe(cx, this: i32) -> i32 {
        let f = cx.get_other::<FutureIncomingResponse>(this, rt::FUTURE_INCOMING_RESPONSE)?;
        child_pollable(&cx, &f.children)
    }

    fn aot_wasi_p2_http__types__method__future_incoming_response__get(cx, this: i32, retptr: i32) {
        let f = cx.get_other::<FutureIncomingResponse>(this, rt::FUTURE_INCOMING_RESPONSE)?;
        let value = f.state.locked().take();
        ret_future_get(&cx, retptr, Some(value), |cx, resp| {
            let h = cx.push_other(rt::INCOMING_RESPONSE, resp)?;
            Ok(le32(h as u32).to_vec())
        })
    }

    fn aot_wasi_p2_http__types__resource_drop__future_incoming_response(cx, handle: i32) {
        drop_parent::<FutureIncomingResponse>(&cx, handle, rt::FUTURE_INCOMING_RESPONSE, |f| &f.children).map(drop)
    }

    // ---- http-error-code ----

    fn aot_wasi_p2_http__types__http_error_code(cx, err: i32, retptr: i32) {
        let code = match cx.get(err, rt::ERROR)? {
            Object::Error(e) => error::carried(&e),
            _ => return Err(wrong_type(&cx, err)),
        };
        match code {
            None => cx.ret(retptr, error::ALIGN, &[(0, &[0])]),
            Some(code) => {
                let bytes = error_code_bytes(&cx, &code)?;
                cx.ret(retptr, error::ALIGN, &[(0, &[1]), (8, &bytes)])
            }
        }
    }

    // ---- outgoing-handler ----

    fn aot_wasi_p2_http__outgoing_handler__handle(cx, request: i32, disc: i32, options: i32, retptr: i32) {
        // Lifting: the request, then the options, both moved out of the guest's table.
        let r = take_other::<OutgoingRequest>(&cx, request, rt::OUTGOING_REQUEST)?;
        if option_arg(&cx, disc)? {
            // The timeouts would bound a connection; none is made.
            drop(take_other::<RequestOptions>(&cx, options, rt::REQUEST_OPTIONS)?);
        }
        let mut req = r.0.locked();
        let body = req.body.take();
        match check_request(&req) {
            Ok(()) => {
                let h = cx.push_other(
                    rt::FUTURE_INCOMING_RESPONSE,
                    FutureIncomingResponse {
                        state: Mutex::new(Future::Ready(Err(UNREACHABLE))),
                        _request_body: body,
                        children: Children::default(),
                    },
                )?;
                cx.ret(retptr, error::ALIGN, &[(0, &[0]), (8, &le32(h as u32))])
            }
            Err(e) => {
                let bytes = error_code_bytes(&cx, &e)?;
                cx.ret(retptr, error::ALIGN, &[(0, &[1]), (8, &bytes)])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aot_abi::ctypes::CType;

    fn opt(t: CType) -> CType {
        CType::option(t)
    }

    fn res(ok: Option<CType>, err: Option<CType>) -> CType {
        CType::result(ok, err)
    }

    /// The result layouts written above, checked against the shared type model.
    #[test]
    fn result_layouts_are_the_canonical_abis() {
        let ec = error::tests::error_code_ctype();
        let own = CType::Own(0);
        // method, scheme: a string payload at 4, 12 bytes.
        let method = CType::Variant({
            let mut c = vec![None; 10];
            c[9] = Some(CType::String);
            c
        });
        assert_eq!((method.size(), method.align()), (12, 4));
        let scheme = CType::Variant(vec![None, None, Some(CType::String)]);
        let opt_scheme = opt(scheme.clone());
        assert_eq!((opt_scheme.size(), opt_scheme.align()), (16, 4));
        assert_eq!(CType::payload_offset(&[None, Some(scheme)]), 4);
        assert_eq!(opt(CType::String).size(), 12);
        // result<own<T>>: handle at 4; result<own fields, header-error> the same.
        assert_eq!(CType::payload_offset(&[Some(own.clone()), None]), 4);
        assert_eq!(
            CType::payload_offset(&[Some(own.clone()), Some(CType::enumeration(3))]),
            4
        );
        // result<_, header-error>: the error at 1.
        let hr = res(None, Some(CType::enumeration(3)));
        assert_eq!((hr.size(), hr.align()), (2, 1));
        // option<duration>: the value at 8.
        assert_eq!(CType::payload_offset(&[None, Some(CType::U64)]), 8);
        // result<_, error-code>, option<error-code>, result<own, error-code>: at 8.
        for t in [
            res(None, Some(ec.clone())),
            opt(ec.clone()),
            res(Some(own.clone()), Some(ec.clone())),
        ] {
            assert_eq!((t.size(), t.align()), (40, 8));
            let CType::Variant(cases) = &t else {
                unreachable!()
            };
            assert_eq!(CType::payload_offset(cases), 8);
        }
        // The futures' get: option at 0, outer result at 8, inner at 16, payload at 24.
        for inner_ok in [own.clone(), opt(own.clone())] {
            let inner = res(Some(inner_ok), Some(ec.clone()));
            let outer = res(Some(inner.clone()), None);
            let whole = opt(outer.clone());
            assert_eq!((whole.size(), whole.align()), (56, 8));
            assert_eq!(CType::payload_offset(&[None, Some(outer.clone())]), 8);
            assert_eq!(CType::payload_offset(&[Some(inner.clone()), None]), 8);
            let CType::Variant(cases) = &inner else {
                unreachable!()
            };
            assert_eq!(CType::payload_offset(cases), 8);
        }
        // option<own trailers> inside: the handle at 4.
        assert_eq!(CType::payload_offset(&[None, Some(own)]), 4);
        // list<tuple<string, list<u8>>> elements are 16 bytes, list<list<u8>> 8.
        let entry = CType::Record(vec![CType::String, CType::List(Box::new(CType::U8))]);
        assert_eq!((entry.size(), entry.align()), (16, 4));
        assert_eq!(CType::List(Box::new(CType::U8)).size(), 8);
    }

    #[test]
    fn request_setters_check_as_the_http_crate_does() {
        assert!(method_is_valid(&Method::Other("PROPFIND".into())));
        assert!(method_is_valid(&Method::Other("get".into())));
        assert!(!method_is_valid(&Method::Other("BAD METHOD".into())));
        assert!(!method_is_valid(&Method::Other(String::new())));
        assert!(scheme_is_valid(&Scheme::Other("ftp".into())));
        assert!(!scheme_is_valid(&Scheme::Other("ht tp".into())));
        assert!(path_is_valid("/a/b?q=1"));
        assert!(path_is_valid(""));
        assert!(path_is_valid("?q"));
        assert!(path_is_valid("/a#b"));
        assert!(!path_is_valid("*"));
        assert!(!path_is_valid("#frag"));
        assert!(!path_is_valid("no-slash"));
        assert!(scheme_is_valid(&Scheme::Other(String::new())));
        assert!(!path_is_valid("/a b"));
        for ok in [
            "example.com",
            "example.com:443",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:443",
        ] {
            assert!(authority_is_valid(ok), "{ok}");
        }
        for bad in [
            "example.com:",
            "example.com:abc",
            "example.com:65536",
            "[::1]:x",
            "a b",
        ] {
            assert!(!authority_is_valid(bad), "{bad}");
        }
    }

    fn request(scheme: Option<Scheme>, authority: Option<&str>, path: Option<&str>) -> Request {
        Request {
            method: Method::Get,
            path_with_query: path.map(str::to_string),
            scheme,
            authority: authority.map(str::to_string),
            headers: FieldMap::new(),
            body: None,
        }
    }

    #[test]
    fn handle_answers_a_malformed_request_at_once() {
        let ok = request(Some(Scheme::Http), Some("localhost:1"), Some("/"));
        assert_eq!(check_request(&ok), Ok(()));
        let no_scheme = request(None, Some("localhost"), Some("/"));
        assert_eq!(check_request(&no_scheme), Ok(()));
        let http = request(Some(Scheme::Other("http".into())), Some("h"), Some("/"));
        assert_eq!(check_request(&http), Ok(()));
        let ftp = request(Some(Scheme::Other("ftp".into())), Some("h"), Some("/"));
        assert_eq!(check_request(&ftp), Err(ErrorCode::HttpProtocolError));
        let no_authority = request(Some(Scheme::Http), None, Some("/"));
        assert_eq!(
            check_request(&no_authority),
            Err(ErrorCode::HttpRequestUriInvalid)
        );
        let no_path = request(Some(Scheme::Http), Some("h"), None);
        assert_eq!(check_request(&no_path), Err(ErrorCode::HttpProtocolError));
        let mut bad_method = request(Some(Scheme::Http), Some("h"), Some("/"));
        bad_method.method = Method::Other("a b".into());
        assert_eq!(
            check_request(&bad_method),
            Err(ErrorCode::HttpRequestMethodInvalid)
        );
    }

    #[test]
    fn an_incoming_body_streams_once_then_has_its_trailers() {
        use crate::wasi::p2::io::Source;
        let incoming = IncomingBody::new(b"body".to_vec(), Ok(None));
        let stream = incoming.stream.locked().take();
        assert_eq!(
            stream.map(|s| s.read(10, false).ok()),
            Some(Some(b"body".to_vec()))
        );
        assert!(incoming.stream.locked().is_none());
        assert!(matches!(incoming.trailers, Ok(None)));
        assert!(!incoming.children.any_alive());
    }
}
