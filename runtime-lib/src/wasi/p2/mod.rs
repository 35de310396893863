//! WASI 0.2: the face of the host a component's lowered imports call, over the same host
//! core preview 1 uses ([`super::filesystem`], [`super::io`], [`super::clocks`],
//! [`super::random`], [`super::cli`]): one filesystem, clock and stream implementation,
//! two faces.
//!
//! Every function is exported under the symbol the compiler's `wasi_p2::symbol_for` gives
//! it (`aot_wasi_p2_<package>__<interface>__<function>`) with the exact flat core
//! signature the canonical ABI lowers its WIT type to, and is called through a host-call
//! trampoline with a [`GlueCtx`] (the lowering's memory, realloc and string encoding).
//! So lifting the arguments and lowering the results is written out here per function,
//! from the layouts of its types; nothing interprets a type at run time.
//!
//! Resources: each component instance holds its host handles in a handle table of its own
//! ([`crate::resources::HandleTable`]); a handle's representation is the index of a host
//! [`Object`] in the one object table of the store. Both live in [`State`]. A fused
//! adapter moves an own handle from one instance's table to another's, or lends a borrow
//! for the call ([`move_handle`]), the object staying where it is. A misuse (unknown
//! handle, wrong type, a dangling borrow) ends the program with the trap wasmtime raises
//! for it.
//!
//! Locks: the state's lock is held only to look up, insert or remove; objects are `Arc`s
//! cloned out of it before any blocking I/O.

mod cli;
mod clocks;
mod filesystem;
mod http;
pub(crate) mod io;
mod random;
mod sockets;

use std::sync::{Arc, Mutex};

use crate::Locked;
use crate::component::GlueCtx;
use crate::resources::{HandleError, HandleTable, ResourceType};
use crate::trap::Trap;

use super::WasiCtx;
use super::guest::{GuestError, GuestMemory};

/// The resource types the host defines (ids in the handle table).
pub mod rt {
    use crate::resources::ResourceType;
    pub const ERROR: ResourceType = ResourceType(1);
    pub const POLLABLE: ResourceType = ResourceType(2);
    pub const INPUT_STREAM: ResourceType = ResourceType(3);
    pub const OUTPUT_STREAM: ResourceType = ResourceType(4);
    pub const DESCRIPTOR: ResourceType = ResourceType(5);
    pub const DIRECTORY_ENTRY_STREAM: ResourceType = ResourceType(6);
    pub const NETWORK: ResourceType = ResourceType(7);
    pub const TCP_SOCKET: ResourceType = ResourceType(8);
    pub const UDP_SOCKET: ResourceType = ResourceType(9);
    pub const INCOMING_DATAGRAM_STREAM: ResourceType = ResourceType(10);
    pub const OUTGOING_DATAGRAM_STREAM: ResourceType = ResourceType(11);
    pub const RESOLVE_ADDRESS_STREAM: ResourceType = ResourceType(12);
    pub const TERMINAL_INPUT: ResourceType = ResourceType(13);
    pub const TERMINAL_OUTPUT: ResourceType = ResourceType(14);
    pub const FIELDS: ResourceType = ResourceType(15);
    pub const INCOMING_REQUEST: ResourceType = ResourceType(16);
    pub const OUTGOING_REQUEST: ResourceType = ResourceType(17);
    pub const REQUEST_OPTIONS: ResourceType = ResourceType(18);
    pub const RESPONSE_OUTPARAM: ResourceType = ResourceType(19);
    pub const INCOMING_RESPONSE: ResourceType = ResourceType(20);
    pub const INCOMING_BODY: ResourceType = ResourceType(21);
    pub const FUTURE_TRAILERS: ResourceType = ResourceType(22);
    pub const OUTGOING_RESPONSE: ResourceType = ResourceType(23);
    pub const OUTGOING_BODY: ResourceType = ResourceType(24);
    pub const FUTURE_INCOMING_RESPONSE: ResourceType = ResourceType(25);
}

/// A host object a handle stands for. Cloning shares it.
#[derive(Clone)]
pub enum Object {
    /// `wasi:io/error.error`: what the last stream operation failed with.
    Error(Arc<std::io::Error>),
    Pollable(Arc<io::Pollable>),
    InputStream(Arc<io::InputStream>),
    OutputStream(Arc<io::OutputStream>),
    TerminalInput,
    TerminalOutput,
    /// Any other resource, owned by the module that implements it.
    Other(Arc<dyn std::any::Any + Send + Sync>),
}

/// The store's WASI 0.2 state: the component's handle table and the host objects.
#[derive(Default)]
pub struct State {
    tables: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    /// Per component instance, its host handles.
    handles: Vec<HandleTable>,
    /// Indexed by a handle's representation; None once dropped.
    objects: Vec<Option<Object>>,
    free: Vec<u32>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wasi p2 state")
    }
}

/// The host handle table of component instance `instance` (made on first use).
fn handles(t: &mut Tables, instance: u32) -> &mut HandleTable {
    let i = instance as usize;
    if t.handles.len() <= i {
        t.handles.resize_with(i + 1, HandleTable::new);
    }
    &mut t.handles[i]
}

/// A fused adapter passing host handle `handle` of instance `from` to instance `to`: an own
/// handle moves (a new handle in `to`, the old one gone), a borrow is lent to the call
/// `scope` (which must drop it before it returns).
pub fn move_handle(
    wasi: &WasiCtx,
    from: u32,
    to: u32,
    handle: u32,
    borrow: bool,
    scope: crate::resources::CallScope,
) -> Result<u32, HandleError> {
    let mut t = wasi.p2.tables.locked();
    let src = handles(&mut t, from);
    let ty = src.type_of(handle)?;
    if borrow {
        let rep = src.borrow_rep(handle, ty)?;
        handles(&mut t, to).new_borrow(ty, rep, scope)
    } else {
        let rep = src.take_own(handle, ty)?;
        handles(&mut t, to).new_own(ty, rep)
    }
}

/// The adapter call `scope` into instance `instance` returns: its host borrows must be
/// gone.
pub fn end_call(
    wasi: &WasiCtx,
    instance: u32,
    scope: crate::resources::CallScope,
) -> Result<(), HandleError> {
    handles(&mut wasi.p2.tables.locked(), instance).end_call(scope)
}

/// Why a host function ends without its result: a trap (the call's guest frames
/// unwind), or the program exiting.
pub enum Fail {
    Trap(Trap),
}

impl From<Trap> for Fail {
    fn from(t: Trap) -> Fail {
        Fail::Trap(t)
    }
}

pub type R<T> = Result<T, Fail>;

/// One host call: the glue context it was called with and the WASI context.
pub struct Call<'a> {
    pub glue: &'a GlueCtx,
    pub wasi: &'static WasiCtx,
}

impl<'a> Call<'a> {
    /// # Safety
    /// `raw` must be the context pointer the glue function was called with.
    pub unsafe fn new(raw: *mut u8) -> Call<'a> {
        // SAFETY: per the caller.
        let glue = unsafe { GlueCtx::from_raw(raw) };
        let wasi = super::ctx(glue.store());
        Call { glue, wasi }
    }

    fn state(&self) -> &'static State {
        &self.wasi.p2
    }

    /// A trap saying `message`.
    pub fn trap(&self, message: impl Into<String>) -> Fail {
        Fail::Trap(self.glue.trap(message))
    }

    fn handle_error(&self, e: HandleError) -> Fail {
        self.trap(e.message())
    }

    pub fn guest_error(&self, e: GuestError) -> Fail {
        match e {
            GuestError::NotAligned { .. } => self.trap("unaligned pointer"),
            _ => self.trap("pointer out of bounds of memory"),
        }
    }

    pub fn mem(&self) -> GuestMemory<'a> {
        self.glue.memory()
    }

    /// A new own handle for `object`.
    pub fn push(&self, ty: ResourceType, object: Object) -> R<i32> {
        let mut t = self.state().tables.locked();
        let rep = match t.free.pop() {
            Some(i) => {
                t.objects[i as usize] = Some(object);
                i
            }
            None => {
                t.objects.push(Some(object));
                (t.objects.len() - 1) as u32
            }
        };
        match handles(&mut t, self.glue.instance()).new_own(ty, rep) {
            Ok(h) => Ok(h as i32),
            Err(e) => {
                t.objects[rep as usize] = None;
                t.free.push(rep);
                drop(t);
                Err(self.handle_error(e))
            }
        }
    }

    /// The object a `borrow<T>` (or own) handle argument stands for.
    pub fn get(&self, handle: i32, ty: ResourceType) -> R<Object> {
        let mut t = self.state().tables.locked();
        let rep = handles(&mut t, self.glue.instance())
            .borrow_rep(handle as u32, ty)
            .map_err(|e| self.handle_error(e))?;
        t.objects
            .get(rep as usize)
            .cloned()
            .flatten()
            .ok_or_else(|| self.trap(format!("unknown handle index {handle}")))
    }

    /// The object of type `T` (held as [`Object::Other`]) a borrow or own handle of resource
    /// type `ty` stands for.
    pub fn get_other<T: std::any::Any + Send + Sync>(
        &self,
        handle: i32,
        ty: ResourceType,
    ) -> R<Arc<T>> {
        match self.get(handle, ty)? {
            Object::Other(o) => o
                .downcast::<T>()
                .map_err(|_| self.trap(format!("handle index {handle} used with the wrong type"))),
            _ => Err(self.trap(format!("handle index {handle} used with the wrong type"))),
        }
    }

    /// A new own handle of resource type `ty` for `object` (held as [`Object::Other`]).
    pub fn push_other<T: std::any::Any + Send + Sync>(
        &self,
        ty: ResourceType,
        object: T,
    ) -> R<i32> {
        self.push(ty, Object::Other(Arc::new(object)))
    }

    /// Takes an `own<T>` argument out of the table (the host now owns it).
    pub fn take(&self, handle: i32, ty: ResourceType) -> R<Object> {
        let mut t = self.state().tables.locked();
        let rep = handles(&mut t, self.glue.instance())
            .take_own(handle as u32, ty)
            .map_err(|e| self.handle_error(e))?;
        let object = t.objects.get_mut(rep as usize).and_then(Option::take);
        t.free.push(rep);
        object.ok_or_else(|| self.trap(format!("unknown handle index {handle}")))
    }

    /// `resource.drop` of a host resource: removes the handle; the object is dropped
    /// (closing what it holds) once no call is using it.
    pub fn drop_handle(&self, handle: i32, ty: ResourceType) -> R<()> {
        let mut t = self.state().tables.locked();
        let dropped = handles(&mut t, self.glue.instance())
            .drop_handle(handle as u32, ty)
            .map_err(|e| self.handle_error(e))?;
        // A borrow (lent by another component through an adapter) leaves the object.
        if let crate::resources::Dropped::Own { rep } = dropped {
            let object = t.objects.get_mut(rep as usize).and_then(Option::take);
            t.free.push(rep);
            drop(t);
            drop(object);
        }
        Ok(())
    }

    /// Allocates `size` bytes aligned to `align` with the guest's realloc.
    pub fn alloc(&self, size: u32, align: u32) -> R<u32> {
        Ok(self.glue.realloc(0, 0, align, size)?)
    }

    /// Lowers a `list<u8>` (or a UTF-8 string): allocates and copies; returns (ptr, len).
    pub fn lower_bytes(&self, bytes: &[u8]) -> R<(u32, u32)> {
        let len = u32::try_from(bytes.len()).map_err(|_| self.trap("list too long"))?;
        let ptr = self.alloc(len, 1)?;
        self.mem()
            .write_bytes(ptr, bytes)
            .map_err(|e| self.guest_error(e))?;
        Ok((ptr, len))
    }

    /// Lowers a `list<string>`.
    pub fn lower_strings(&self, items: &[&[u8]]) -> R<(u32, u32)> {
        let n = u32::try_from(items.len()).map_err(|_| self.trap("list too long"))?;
        let array = self.alloc(
            n.checked_mul(8).ok_or_else(|| self.trap("list too long"))?,
            4,
        )?;
        for (i, s) in items.iter().enumerate() {
            let (p, l) = self.lower_bytes(s)?;
            let mut m = self.mem();
            let at = array + 8 * i as u32;
            m.write_u32(at, p).map_err(|e| self.guest_error(e))?;
            m.write_u32(at + 4, l).map_err(|e| self.guest_error(e))?;
        }
        Ok((array, n))
    }

    /// Writes `fields` (offset, bytes) into the result area at `retptr`, which must be
    /// aligned to `align`.
    pub fn ret(&self, retptr: i32, align: u32, fields: &[(u32, &[u8])]) -> R<()> {
        let ptr = retptr as u32;
        if !ptr.is_multiple_of(align) {
            return Err(self.trap("unaligned pointer"));
        }
        let mut m = self.mem();
        for (off, bytes) in fields {
            let at = ptr
                .checked_add(*off)
                .ok_or_else(|| self.trap("pointer out of bounds of memory"))?;
            m.write_bytes(at, bytes).map_err(|e| self.guest_error(e))?;
        }
        Ok(())
    }

    /// The bytes of a `list<u8>` argument.
    pub fn bytes_arg(&self, ptr: i32, len: i32) -> R<Vec<u8>> {
        let m = self.mem();
        m.slice(ptr as u32, len as u32)
            .map(<[u8]>::to_vec)
            .map_err(|_| self.trap("list pointer/length out of bounds of memory"))
    }

    /// A `string` argument (UTF-8 encoding).
    pub fn string_arg(&self, ptr: i32, len: i32) -> R<String> {
        let m = self.mem();
        let bytes = m
            .slice(ptr as u32, len as u32)
            .map_err(|_| self.trap("string content out-of-bounds"))?;
        match core::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(self.trap("invalid utf-8 string")),
        }
    }
}

/// Little-endian bytes of a u32 (for [`Call::ret`] fields).
pub fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

pub fn le64(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

/// Defines host functions: each body computes a `R<T>`; a failure leaves its trap pending
/// for the trampoline to raise and returns zero.
macro_rules! p2_fns {
    ($( fn $sym:ident ( $cx:ident $(, $arg:ident : $ty:ty)* ) $(-> $ret:ty)? $body:block )*) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $sym(raw: *mut u8 $(, $arg: $ty)*) $(-> $ret)? {
                // SAFETY: the host-call trampoline passes the glue context it was called
                // with, and no Wasm code runs until this function returns (except the
                // guest realloc, called through `Call::alloc`, which views are not held
                // across).
                let $cx = unsafe { $crate::wasi::p2::Call::new(raw) };
                // A closure, so that `?` in the body ends the body, not this function.
                #[allow(clippy::redundant_closure_call)]
                let result: $crate::wasi::p2::R<_> = if $crate::component::may_leave() {
                    (|| $body)()
                } else {
                    Err($crate::wasi::p2::Fail::Trap(
                        $cx.glue.store().host_trap(aot_abi::TrapKind::CannotLeaveComponent),
                    ))
                };
                match result {
                    Ok(v) => v,
                    Err($crate::wasi::p2::Fail::Trap(t)) => {
                        $cx.glue.store().set_pending_trap(t);
                        Default::default()
                    }
                }
            }
        )*
    };
}
pub(crate) use p2_fns;
