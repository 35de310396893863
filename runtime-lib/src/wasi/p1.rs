//! The preview 1 face: one `aot_wasi_p1_<name>` C function per entry of
//! `aot_abi::foreach_wasi_p1!`, each a thin translation between guest memory and the host
//! objects of the interface modules.
//!
//! The exported functions are generated from the contract's list, so each has exactly the
//! signature the compiler checks imports against; each calls the function of the same name
//! below, which takes the context and the caller's memory and returns `Result<()>` or, for
//! `proc_exit`, how to end the process.
//!
//! Semantics are wasmtime 49's (`wasmtime-wasi`'s preview 1 adapter): the same errno for
//! the same mistake, the same rights, the same descriptor numbering, the same order of
//! checks. Where wasmtime ends the program instead of returning an errno (a guest pointer
//! out of bounds, misaligned or overflowing, an argument that is not a valid enum or flag
//! value or does not fit its type, `random_get` of more than 64 MiB, `proc_exit` with a
//! status of 126 or more), the function fails with a [`GuestError`] and the exported
//! function prints `error: wasi_snapshot_preview1::<name>: <what>` on stderr and exits with
//! status 1, as `wasmtime run` does (its message is longer; the status is the same). Effects
//! that happened before the mistake was found stay, as in wasmtime: `path_open` with an
//! out-of-bounds result pointer has opened (and maybe created) the file.
//!
//! Arguments are checked as wasmtime's generated glue checks them, before the function
//! body runs: enum and flag arguments first, in parameter order. Results returned through
//! pointers are written after the body has done its work.

#![allow(
    clippy::too_many_arguments,
    reason = "the functions have the preview 1 signatures"
)]

use std::sync::Arc;

use super::ctx::{Descriptor, DirDesc, FileDesc, WasiCtx};
use super::filesystem::{
    Advice, Datetime, DescriptorFlags, DescriptorStat, DescriptorType, NewTimestamp, OpenFlags,
    Opened,
};
use super::guest::{GuestError, GuestMemory};
use super::io::Stdio;
use super::types::*;
use super::{cli, clocks, random};

/// How a preview 1 function's result becomes its Wasm result; `func` names the function
/// in the message of a guest error, which ends the process.
pub trait P1Return {
    type Abi;
    fn into_abi(self, func: &str) -> Self::Abi;
}

impl P1Return for Result<()> {
    type Abi = i32;
    fn into_abi(self, func: &str) -> i32 {
        match self {
            Ok(()) => Errno::Success.raw(),
            Err(Error::Errno(e)) => e.raw(),
            Err(Error::Guest(e)) => end_with_guest_error(func, e),
        }
    }
}

/// What `proc_exit` asks for: the process's exit status, or a guest error.
pub struct ProcExit(core::result::Result<i32, GuestError>);

impl P1Return for ProcExit {
    type Abi = ();
    fn into_abi(self, func: &str) {
        match self.0 {
            Ok(code) => cli::exit(code),
            Err(e) => end_with_guest_error(func, e),
        }
    }
}

/// Ends the process for guest error `e` in `func`, as `wasmtime run` does: a message on
/// stderr, exit status 1. Nothing needs flushing: guest output is unbuffered.
#[cold]
fn end_with_guest_error(func: &str, e: GuestError) -> ! {
    let _ = Stdio::Stderr.write_all(guest_error_line(func, e).as_bytes());
    cli::exit(1)
}

fn guest_error_line(func: &str, e: GuestError) -> String {
    format!("error: {}::{func}: {e}\n", aot_abi::wasi::WASI_P1_MODULE)
}

macro_rules! p1_exports {
    ($( $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? ; )*) => {
        /// The functions generated code imports, under the symbols
        /// `aot_abi::wasi::wasi_p1_symbol(name)`.
        pub mod exports {
            use super::*;
            $(
                #[unsafe(export_name = concat!("aot_wasi_p1_", stringify!($name)))]
                pub unsafe extern "C" fn $name(vmctx: *mut u8, $($arg: $ty),*) $(-> $ret)? {
                    // SAFETY: generated code passes the calling instance's vmctx, and no
                    // Wasm code runs until this host function returns.
                    let mut memory = unsafe { GuestMemory::of_caller(vmctx) };
                    // No lock is held here: a guest error can end the process at once.
                    // SAFETY: as above.
                    let ctx = unsafe { crate::wasi::ctx_of_caller(vmctx) };
                    let result = super::$name(ctx, &mut memory, $($arg),*);
                    P1Return::into_abi(result, stringify!($name))
                }
            )*
        }
    };
}

aot_abi::foreach_wasi_p1!(p1_exports);

type Mem<'a, 'm> = &'a mut GuestMemory<'m>;

/// A guest pointer or size: preview 1 passes them as i32 but means u32.
fn u(v: i32) -> u32 {
    v as u32
}

/// An argument of witx type `ty`, `bits` (8, 16 or 32) wide, that wasmtime converts from
/// the i32 with a checked conversion (enums, flags and the 8- and 16-bit integers), so a
/// negative or too large value is a guest error. (Plain 32- and 64-bit integers, pointers
/// and descriptors are reinterpreted as unsigned, never rejected.)
fn narrow_arg(v: i32, ty: &'static str, bits: u32) -> core::result::Result<u32, GuestError> {
    match u32::try_from(v) {
        Ok(u) if bits >= 32 || u >> bits == 0 => Ok(u),
        _ => Err(GuestError::IntOutOfRange {
            ty,
            value: v.into(),
        }),
    }
}

/// A flags argument of witx type `ty`, `bits` wide, with the defined bits `all`.
fn flag_arg(
    v: i32,
    ty: &'static str,
    bits: u32,
    all: u32,
) -> core::result::Result<u32, GuestError> {
    let v = narrow_arg(v, ty, bits)?;
    if v & !all != 0 {
        return Err(GuestError::InvalidFlags {
            ty,
            value: v.into(),
        });
    }
    Ok(v)
}

/// An enum argument of witx type `ty`, `bits` wide, with the values `0..=max`.
fn enum_arg(
    v: i32,
    ty: &'static str,
    bits: u32,
    max: u32,
) -> core::result::Result<u32, GuestError> {
    let v = narrow_arg(v, ty, bits)?;
    if v > max {
        return Err(GuestError::InvalidEnum {
            ty,
            value: v.into(),
        });
    }
    Ok(v)
}

/// A `rights` argument: wasmtime converts the i64 with a checked conversion too.
fn rights(v: i64) -> core::result::Result<u64, GuestError> {
    let r = u64::try_from(v).map_err(|_| GuestError::IntOutOfRange {
        ty: "Rights",
        value: v,
    })?;
    if r & !rights::ALL != 0 {
        return Err(GuestError::InvalidFlags {
            ty: "Rights",
            value: r,
        });
    }
    Ok(r)
}

fn lookup_follow(v: i32) -> core::result::Result<bool, GuestError> {
    Ok(flag_arg(v, "Lookupflags", 32, lookupflags::ALL)? & lookupflags::SYMLINK_FOLLOW != 0)
}

fn fd_flags_arg(v: i32) -> core::result::Result<u16, GuestError> {
    Ok(flag_arg(v, "Fdflags", 16, fdflags::ALL.into())? as u16)
}

/// A descriptor that must be a directory (`EBADF` otherwise).
fn dir_fd(ctx: &WasiCtx, fd: i32) -> Result<Arc<DirDesc>> {
    match ctx.fds.get(fd)? {
        Descriptor::Directory(d) => Ok(d),
        _ => Err(Errno::Badf.into()),
    }
}

/// A descriptor that must be a file (`EBADF` otherwise).
fn file_fd(ctx: &WasiCtx, fd: i32) -> Result<Arc<FileDesc>> {
    match ctx.fds.get(fd)? {
        Descriptor::File(f) => Ok(f),
        _ => Err(Errno::Badf.into()),
    }
}

/// A file that seeking applies to: stdio is `ESPIPE`, anything else `EBADF`.
fn seekable(ctx: &WasiCtx, fd: i32) -> Result<Arc<FileDesc>> {
    match ctx.fds.get(fd)? {
        Descriptor::File(f) => Ok(f),
        Descriptor::Stdio { .. } => Err(Errno::Spipe.into()),
        Descriptor::Directory(_) => Err(Errno::Badf.into()),
    }
}

fn filetype(t: DescriptorType) -> u8 {
    match t {
        DescriptorType::Unknown => filetype::UNKNOWN,
        DescriptorType::BlockDevice => filetype::BLOCK_DEVICE,
        DescriptorType::CharacterDevice => filetype::CHARACTER_DEVICE,
        DescriptorType::Directory => filetype::DIRECTORY,
        DescriptorType::SymbolicLink => filetype::SYMBOLIC_LINK,
        DescriptorType::RegularFile => filetype::REGULAR_FILE,
    }
}

/// A terminal is a character device; any other stdio stream has no type, as in wasmtime.
fn stdio_filetype(isatty: bool) -> u8 {
    if isatty {
        filetype::CHARACTER_DEVICE
    } else {
        filetype::UNKNOWN
    }
}

fn timestamp(t: Option<Datetime>) -> Result<u64> {
    let t = t.unwrap_or(Datetime {
        seconds: 0,
        nanoseconds: 0,
    });
    t.seconds
        .checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(t.nanoseconds.into()))
        .ok_or(Errno::Overflow.into())
}

/// `filestat` of a file or directory: wasmtime reports device 1 and the metadata hash as
/// the inode number.
fn filestat(s: &DescriptorStat) -> Result<Filestat> {
    Ok(Filestat {
        dev: 1,
        ino: s.hash.lower,
        filetype: filetype(s.type_),
        nlink: s.link_count,
        size: s.size,
        atim: timestamp(s.data_access_timestamp)?,
        mtim: timestamp(s.data_modification_timestamp)?,
        ctim: timestamp(s.status_change_timestamp)?,
    })
}

/// The new value of one timestamp from `fstflags`: setting it and setting it to now at
/// once is `EINVAL`.
fn new_timestamp(set: bool, now: bool, ts: u64) -> Result<NewTimestamp> {
    match (set, now) {
        (true, true) => Err(Errno::Inval.into()),
        (true, false) => Ok(NewTimestamp::Timestamp(Datetime {
            seconds: ts / 1_000_000_000,
            nanoseconds: (ts % 1_000_000_000) as u32,
        })),
        (false, true) => Ok(NewTimestamp::Now),
        (false, false) => Ok(NewTimestamp::NoChange),
    }
}

/// The new access and modification times from an `fstflags` argument (already checked by
/// [`fst_flags_arg`]).
fn new_timestamps(f: u16, atim: i64, mtim: i64) -> Result<(NewTimestamp, NewTimestamp)> {
    let a = new_timestamp(
        f & fstflags::ATIM != 0,
        f & fstflags::ATIM_NOW != 0,
        atim as u64,
    )?;
    let m = new_timestamp(
        f & fstflags::MTIM != 0,
        f & fstflags::MTIM_NOW != 0,
        mtim as u64,
    )?;
    Ok((a, m))
}

fn fst_flags_arg(v: i32) -> core::result::Result<u16, GuestError> {
    Ok(flag_arg(v, "Fstflags", 16, fstflags::ALL.into())? as u16)
}

/// Writes each argument or variable NUL-terminated into `buf` and a pointer to each into
/// the array at `ptrs`.
fn write_strings<'s>(
    mem: Mem,
    ptrs: i32,
    buf: i32,
    strings: impl Iterator<Item = Vec<u8>> + 's,
) -> Result<()> {
    let (mut ptr, mut at) = (u(ptrs), u(buf));
    for mut s in strings {
        s.push(0);
        mem.write_u32(ptr, at)?;
        mem.write_bytes(at, &s)?;
        ptr = ptr.checked_add(4).ok_or(GuestError::PointerOverflow)?;
        at = u32::try_from(s.len())
            .ok()
            .and_then(|len| at.checked_add(len))
            .ok_or(GuestError::PointerOverflow)?;
    }
    Ok(())
}

/// Count and total NUL-terminated size of `strings`.
fn string_sizes(
    mem: Mem,
    count_ptr: i32,
    size_ptr: i32,
    sizes: impl Iterator<Item = usize>,
) -> Result<()> {
    let (mut count, mut total) = (0usize, 0usize);
    for len in sizes {
        count += 1;
        total = total.checked_add(len + 1).ok_or(Errno::Overflow)?;
    }
    let (count, total) = (u32::try_from(count)?, u32::try_from(total)?);
    mem.write_u32(u(count_ptr), count)?;
    Ok(mem.write_u32(u(size_ptr), total)?)
}

fn env_entries(ctx: &WasiCtx) -> impl Iterator<Item = Vec<u8>> + '_ {
    ctx.env
        .iter()
        .map(|(k, v)| [k.as_slice(), b"=", v.as_slice()].concat())
}

fn args_get(ctx: &WasiCtx, mem: Mem, argv: i32, argv_buf: i32) -> Result<()> {
    write_strings(mem, argv, argv_buf, ctx.args.iter().cloned())
}

fn args_sizes_get(ctx: &WasiCtx, mem: Mem, argc: i32, argv_buf_size: i32) -> Result<()> {
    string_sizes(mem, argc, argv_buf_size, ctx.args.iter().map(Vec::len))
}

fn environ_get(ctx: &WasiCtx, mem: Mem, environ: i32, environ_buf: i32) -> Result<()> {
    write_strings(mem, environ, environ_buf, env_entries(ctx))
}

fn environ_sizes_get(ctx: &WasiCtx, mem: Mem, count: i32, buf_size: i32) -> Result<()> {
    string_sizes(
        mem,
        count,
        buf_size,
        ctx.env.iter().map(|(k, v)| k.len() + 1 + v.len()),
    )
}

fn clock_id(id: i32) -> core::result::Result<u32, GuestError> {
    enum_arg(id, "Clockid", 32, clockid::THREAD_CPUTIME_ID)
}

/// The CPU-time clocks are valid ids without a clock behind them: `EBADF`, as wasmtime.
fn clock_res_get(ctx: &WasiCtx, mem: Mem, id: i32, resolution: i32) -> Result<()> {
    let res = match clock_id(id)? {
        clockid::REALTIME => clocks::wall_resolution(),
        clockid::MONOTONIC => ctx.monotonic.resolution(),
        _ => return Err(Errno::Badf.into()),
    };
    Ok(mem.write_u64(u(resolution), res)?)
}

fn clock_time_get(ctx: &WasiCtx, mem: Mem, id: i32, _precision: i64, time: i32) -> Result<()> {
    let now = match clock_id(id)? {
        clockid::REALTIME => timestamp(Some(clocks::wall_now()))?,
        clockid::MONOTONIC => ctx.monotonic.now(),
        _ => return Err(Errno::Badf.into()),
    };
    Ok(mem.write_u64(u(time), now)?)
}

fn fd_advise(ctx: &WasiCtx, _mem: Mem, fd: i32, offset: i64, len: i64, advice: i32) -> Result<()> {
    let advice = match enum_arg(advice, "Advice", 8, ADVICE_MAX)? {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        _ => Advice::NoReuse,
    };
    Ok(file_fd(ctx, fd)?
        .file
        .advise(offset as u64, len as u64, advice)?)
}

fn fd_allocate(ctx: &WasiCtx, _mem: Mem, fd: i32, _offset: i64, _len: i64) -> Result<()> {
    file_fd(ctx, fd)?;
    Err(Errno::Notsup.into())
}

fn fd_close(ctx: &WasiCtx, _mem: Mem, fd: i32) -> Result<()> {
    ctx.fds.remove(fd)?;
    Ok(())
}

fn fd_datasync(ctx: &WasiCtx, _mem: Mem, fd: i32) -> Result<()> {
    Ok(file_fd(ctx, fd)?.file.sync_data()?)
}

fn fd_fdstat_get(ctx: &WasiCtx, mem: Mem, fd: i32, stat: i32) -> Result<()> {
    let fdstat = match ctx.fds.get(fd)? {
        Descriptor::Stdio { stream, isatty } => {
            let r = if stream == Stdio::Stdin {
                rights::FD_READ
            } else {
                rights::FD_WRITE
            };
            Fdstat {
                filetype: stdio_filetype(isatty),
                flags: 0,
                rights_base: r,
                rights_inheriting: r,
            }
        }
        Descriptor::Directory(d) if d.preopen_path.is_some() => Fdstat {
            filetype: filetype::DIRECTORY,
            flags: 0,
            rights_base: rights::PREOPEN_BASE,
            rights_inheriting: rights::PREOPEN_INHERITING,
        },
        Descriptor::Directory(d) => {
            let mut r = rights::ALL
                & !(rights::FD_SEEK
                    | rights::FD_FILESTAT_SET_SIZE
                    | rights::PATH_FILESTAT_SET_SIZE);
            // A directory's write access is "mutate", never FD_WRITE.
            r &= !rights::FD_WRITE;
            if !d.dir.open_mode().read {
                r &= !(rights::FD_READ | rights::FD_READDIR);
            }
            Fdstat {
                filetype: filetype::DIRECTORY,
                flags: 0,
                rights_base: r,
                rights_inheriting: r,
            }
        }
        Descriptor::File(f) => {
            let mut r = rights::ALL;
            let mode = f.file.open_mode();
            if !mode.read {
                r &= !(rights::FD_READ | rights::FD_READDIR);
            }
            if !mode.write {
                r &= !rights::FD_WRITE;
            }
            let mut flags = 0;
            if f.append() {
                flags |= fdflags::APPEND;
            }
            if f.nonblocking() {
                flags |= fdflags::NONBLOCK;
            }
            Fdstat {
                filetype: filetype(f.file.get_type()?),
                flags,
                rights_base: r,
                rights_inheriting: r,
            }
        }
    };
    Ok(mem.write_record(u(stat), ALIGN_64, &fdstat.to_bytes())?)
}

fn fd_fdstat_set_flags(ctx: &WasiCtx, _mem: Mem, fd: i32, fd_flags: i32) -> Result<()> {
    let new = fd_flags_arg(fd_flags)?;
    let f = file_fd(ctx, fd)?;
    // Only APPEND and NONBLOCK can change.
    if new & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
        return Err(Errno::Inval.into());
    }
    f.set_flags(new & fdflags::APPEND != 0, new & fdflags::NONBLOCK != 0);
    Ok(())
}

fn fd_fdstat_set_rights(
    ctx: &WasiCtx,
    _mem: Mem,
    fd: i32,
    base: i64,
    inheriting: i64,
) -> Result<()> {
    rights(base)?;
    rights(inheriting)?;
    match ctx.fds.get(fd)? {
        Descriptor::Stdio { .. } => Err(Errno::Badf.into()),
        _ => Err(Errno::Notsup.into()),
    }
}

fn fd_filestat_get(ctx: &WasiCtx, mem: Mem, fd: i32, buf: i32) -> Result<()> {
    let stat = match ctx.fds.get(fd)? {
        Descriptor::Stdio { isatty, .. } => Filestat {
            filetype: stdio_filetype(isatty),
            ..Filestat::default()
        },
        Descriptor::Directory(d) => filestat(&d.dir.stat()?)?,
        Descriptor::File(f) => filestat(&f.file.stat()?)?,
    };
    Ok(mem.write_record(u(buf), ALIGN_64, &stat.to_bytes())?)
}

fn fd_filestat_set_size(ctx: &WasiCtx, _mem: Mem, fd: i32, size: i64) -> Result<()> {
    Ok(file_fd(ctx, fd)?.file.set_size(size as u64)?)
}

fn fd_filestat_set_times(
    ctx: &WasiCtx,
    _mem: Mem,
    fd: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> Result<()> {
    let (atim, mtim) = new_timestamps(fst_flags_arg(fst_flags)?, atim, mtim)?;
    match ctx.fds.get(fd)? {
        Descriptor::Directory(d) => Ok(d.dir.set_times(atim, mtim)?),
        Descriptor::File(f) => Ok(f.file.set_times(atim, mtim)?),
        Descriptor::Stdio { .. } => Err(Errno::Badf.into()),
    }
}

fn fd_pread(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    nread: i32,
) -> Result<()> {
    let (ptr, len) = mem.first_nonempty_iovec(u(iovs), u(iovs_len))?;
    let n = match ctx.fds.get(fd)? {
        Descriptor::File(f) => stream_read(mem, ptr, len, |buf| {
            Ok(f.file.read_at(buf, offset as u64)?)
        })?,
        Descriptor::Stdio {
            stream: Stdio::Stdin,
            ..
        } => return Err(Errno::Spipe.into()),
        _ => return Err(Errno::Badf.into()),
    };
    Ok(mem.write_u32(u(nread), n)?)
}

/// The most one stdin read or `fd_pread` returns: what wasmtime's input streams give.
const STREAM_READ_MAX: u32 = 64 * 1024;

/// Reads at most `len` (and at most [`STREAM_READ_MAX`]) bytes with `read` into the guest
/// buffer at `ptr`, as wasmtime's stream reads do: the bytes are read first and then
/// copied, so only those read must fit in memory (a buffer that runs past the end of
/// memory is fine at end of file).
fn stream_read(
    mem: Mem,
    ptr: u32,
    len: u32,
    read: impl FnOnce(&mut [u8]) -> Result<usize>,
) -> Result<u32> {
    let want = len.min(STREAM_READ_MAX);
    let n = match mem.slice_mut(ptr, want) {
        Ok(buf) => read(buf)?,
        Err(_) => {
            let mut staging = vec![0u8; want as usize];
            let n = read(&mut staging)?;
            mem.write_bytes(ptr, &staging[..n])?;
            n
        }
    };
    Ok(u32::try_from(n)?)
}

fn fd_prestat_get(ctx: &WasiCtx, mem: Mem, fd: i32, buf: i32) -> Result<()> {
    match ctx.fds.get(fd)? {
        Descriptor::Directory(d) => match &d.preopen_path {
            Some(p) => {
                Ok(mem.write_record(u(buf), ALIGN_32, &prestat_dir(u32::try_from(p.len())?))?)
            }
            None => Err(Errno::Badf.into()),
        },
        _ => Err(Errno::Badf.into()),
    }
}

fn fd_prestat_dir_name(ctx: &WasiCtx, mem: Mem, fd: i32, path: i32, path_len: i32) -> Result<()> {
    match ctx.fds.get(fd)? {
        Descriptor::Directory(d) => match &d.preopen_path {
            Some(p) => {
                if p.len() > u(path_len) as usize {
                    return Err(Errno::Nametoolong.into());
                }
                Ok(mem.write_bytes(u(path), p.as_bytes())?)
            }
            None => Err(Errno::Notdir.into()),
        },
        _ => Err(Errno::Notdir.into()),
    }
}

#[derive(Clone, Copy)]
enum WriteAt {
    Position,
    Offset(u64),
}

/// `fd_write` and `fd_pwrite`: one buffer per call, as wasmtime.
fn write(ctx: &WasiCtx, mem: Mem, fd: i32, iovs: i32, iovs_len: i32, at: WriteAt) -> Result<u32> {
    let (ptr, len) = mem.first_nonempty_iovec(u(iovs), u(iovs_len))?;
    match ctx.fds.get(fd)? {
        Descriptor::File(f) => {
            let data = mem.slice(ptr, len)?;
            // Read once: the flags and position may change under another thread meanwhile,
            // and this write is judged by what they were when it started.
            let (append, position) = (f.append(), f.position());
            // Linux pwrite semantics: in append mode the offset is ignored.
            let n = match (append, at) {
                (true, _) => f.file.append(data)?,
                (false, WriteAt::Offset(off)) => f.file.write_at(data, off)?,
                (false, WriteAt::Position) => f.file.write_at(data, position)?,
            };
            if let WriteAt::Position = at {
                f.set_position(if append {
                    f.file.stat()?.size
                } else {
                    position.checked_add(n as u64).ok_or(Errno::Overflow)?
                });
            }
            Ok(u32::try_from(n)?)
        }
        Descriptor::Stdio {
            stream: stream @ (Stdio::Stdout | Stdio::Stderr),
            ..
        } => match at {
            WriteAt::Offset(_) => Err(Errno::Spipe.into()),
            WriteAt::Position => Ok(u32::try_from(stream.write_all(mem.slice(ptr, len)?)?)?),
        },
        _ => Err(Errno::Badf.into()),
    }
}

fn fd_pwrite(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    offset: i64,
    nwritten: i32,
) -> Result<()> {
    let n = write(ctx, mem, fd, iovs, iovs_len, WriteAt::Offset(offset as u64))?;
    Ok(mem.write_u32(u(nwritten), n)?)
}

fn fd_write(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    iovs: i32,
    iovs_len: i32,
    nwritten: i32,
) -> Result<()> {
    let n = write(ctx, mem, fd, iovs, iovs_len, WriteAt::Position)?;
    Ok(mem.write_u32(u(nwritten), n)?)
}

fn fd_read(ctx: &WasiCtx, mem: Mem, fd: i32, iovs: i32, iovs_len: i32, nread: i32) -> Result<()> {
    let (ptr, len) = mem.first_nonempty_iovec(u(iovs), u(iovs_len))?;
    let n = match ctx.fds.get(fd)? {
        // Files are read straight into the whole buffer, which must fit even at end of file.
        Descriptor::File(f) => {
            let position = f.position();
            let n = f.file.read_at(mem.slice_mut(ptr, len)?, position)?;
            f.set_position(position.checked_add(n as u64).ok_or(Errno::Overflow)?);
            u32::try_from(n)?
        }
        // wasmtime's stdin stream answers a read of nothing with nothing, which its preview
        // 1 adapter reports as EINTR.
        Descriptor::Stdio {
            stream: Stdio::Stdin,
            ..
        } if len == 0 => return Err(Errno::Intr.into()),
        Descriptor::Stdio {
            stream: Stdio::Stdin,
            ..
        } => stream_read(mem, ptr, len, |buf| Ok(Stdio::Stdin.read(buf)?))?,
        _ => return Err(Errno::Badf.into()),
    };
    Ok(mem.write_u32(u(nread), n)?)
}

/// Writes `entries` (a `dirent` header and a name each) into the `buf_len` bytes at `buf`,
/// cutting the last one off where the buffer ends; returns the bytes used. A full buffer
/// tells the guest to call again from the cookie of the last complete entry.
fn write_dirents<'e>(
    mem: Mem,
    buf: u32,
    buf_len: u32,
    entries: impl Iterator<Item = &'e ([u8; DIRENT_SIZE], Vec<u8>)>,
) -> Result<u32> {
    let (mut at, mut cap) = (buf, buf_len);
    for (header, name) in entries {
        for part in [&header[..], &name[..]] {
            let n = cap.min(u32::try_from(part.len()).unwrap_or(u32::MAX));
            mem.write_bytes(at, &part[..n as usize])?;
            at = at.checked_add(n).ok_or(GuestError::PointerOverflow)?;
            cap -= n;
            if cap == 0 {
                return Ok(buf_len);
            }
        }
    }
    Ok(buf_len - cap)
}

fn fd_readdir(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    bufused: i32,
) -> Result<()> {
    let dir = &dir_fd(ctx, fd)?.dir;
    let listing = dir.read_directory()?;
    let dir_ino = dir.stat()?.hash.lower;
    let cookie = usize::try_from(cookie as u64)?;
    // Cookies: 0 starts at ".", entry k's `d_next` is k + 1 (wasmtime's numbering; ".."
    // gets the directory's own inode, as wasmtime gives it).
    let mut entries = vec![
        (
            dirent_header(1, dir_ino, 1, filetype::DIRECTORY),
            b".".to_vec(),
        ),
        (
            dirent_header(2, dir_ino, 2, filetype::DIRECTORY),
            b"..".to_vec(),
        ),
    ];
    for (entry, next) in listing.into_iter().zip(3u64..) {
        let entry = entry?;
        let ino = dir.metadata_hash_at_nofollow(&entry.name)?.lower;
        let namlen = u32::try_from(entry.name.len())?;
        entries.push((
            dirent_header(next, ino, namlen, filetype(entry.type_)),
            entry.name.into_bytes(),
        ));
    }
    let used = write_dirents(mem, u(buf), u(buf_len), entries.iter().skip(cookie))?;
    Ok(mem.write_u32(u(bufused), used)?)
}

fn fd_renumber(ctx: &WasiCtx, _mem: Mem, fd: i32, to: i32) -> Result<()> {
    Ok(ctx.fds.renumber(fd, to)?)
}

fn fd_seek(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    offset: i64,
    whence_arg: i32,
    newoffset: i32,
) -> Result<()> {
    let whence = enum_arg(whence_arg, "Whence", 8, whence::END.into())? as u8;
    let f = seekable(ctx, fd)?;
    let pos = match whence {
        whence::SET if offset >= 0 => offset as u64,
        whence::CUR => f
            .position()
            .checked_add_signed(offset)
            .ok_or(Errno::Inval)?,
        whence::END => f
            .file
            .stat()?
            .size
            .checked_add_signed(offset)
            .ok_or(Errno::Inval)?,
        _ => return Err(Errno::Inval.into()),
    };
    f.set_position(pos);
    Ok(mem.write_u64(u(newoffset), pos)?)
}

fn fd_sync(ctx: &WasiCtx, _mem: Mem, fd: i32) -> Result<()> {
    Ok(file_fd(ctx, fd)?.file.sync()?)
}

fn fd_tell(ctx: &WasiCtx, mem: Mem, fd: i32, offset: i32) -> Result<()> {
    let pos = seekable(ctx, fd)?.position();
    Ok(mem.write_u64(u(offset), pos)?)
}

fn path_create_directory(ctx: &WasiCtx, mem: Mem, fd: i32, path: i32, path_len: i32) -> Result<()> {
    let dir = &dir_fd(ctx, fd)?.dir;
    let path = mem.read_str(u(path), u(path_len))?;
    Ok(dir.create_directory_at(&path)?)
}

fn path_filestat_get(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    lookup: i32,
    path: i32,
    path_len: i32,
    buf: i32,
) -> Result<()> {
    let follow = lookup_follow(lookup)?;
    let dir = &dir_fd(ctx, fd)?.dir;
    let path = mem.read_str(u(path), u(path_len))?;
    let stat = filestat(&dir.stat_at(follow, &path)?)?;
    Ok(mem.write_record(u(buf), ALIGN_64, &stat.to_bytes())?)
}

fn path_filestat_set_times(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    lookup: i32,
    path: i32,
    path_len: i32,
    atim: i64,
    mtim: i64,
    fst_flags: i32,
) -> Result<()> {
    let follow = lookup_follow(lookup)?;
    let (atim, mtim) = new_timestamps(fst_flags_arg(fst_flags)?, atim, mtim)?;
    let dir = &dir_fd(ctx, fd)?.dir;
    let path = mem.read_str(u(path), u(path_len))?;
    Ok(dir.set_times_at(follow, &path, atim, mtim)?)
}

fn path_link(
    ctx: &WasiCtx,
    mem: Mem,
    old_fd: i32,
    old_flags: i32,
    old_path: i32,
    old_path_len: i32,
    new_fd: i32,
    new_path: i32,
    new_path_len: i32,
) -> Result<()> {
    let follow = lookup_follow(old_flags)?;
    let old_dir = &dir_fd(ctx, old_fd)?.dir;
    let new_dir = &dir_fd(ctx, new_fd)?.dir;
    let old_path = mem.read_str(u(old_path), u(old_path_len))?;
    let new_path = mem.read_str(u(new_path), u(new_path_len))?;
    Ok(old_dir.link_at(follow, &old_path, new_dir, &new_path)?)
}

fn path_open(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    dirflags: i32,
    path: i32,
    path_len: i32,
    open_flags: i32,
    rights_base: i64,
    rights_inheriting: i64,
    fd_flags: i32,
    opened_fd: i32,
) -> Result<()> {
    let follow = lookup_follow(dirflags)?;
    let o = flag_arg(open_flags, "Oflags", 16, oflags::ALL.into())? as u16;
    let base = rights(rights_base)?;
    rights(rights_inheriting)?;
    let fdf = fd_flags_arg(fd_flags)?;
    // The path is read before the directory is looked up, as in wasmtime.
    let path = mem.read_str(u(path), u(path_len))?;
    let oflags = OpenFlags {
        create: o & oflags::CREAT != 0,
        directory: o & oflags::DIRECTORY != 0,
        exclusive: o & oflags::EXCL != 0,
        truncate: o & oflags::TRUNC != 0,
    };
    let flags = DescriptorFlags {
        read: base & rights::FD_READ != 0,
        write: base & rights::FD_WRITE != 0,
        file_integrity_sync: fdf & fdflags::SYNC != 0,
        data_integrity_sync: fdf & fdflags::DSYNC != 0,
        requested_write_sync: fdf & fdflags::RSYNC != 0,
    };
    let dir = match ctx.fds.get(fd)? {
        Descriptor::Directory(d) => d,
        Descriptor::File(_) => return Err(Errno::Notdir.into()),
        Descriptor::Stdio { .. } => return Err(Errno::Badf.into()),
    };
    // Opening may block (a FIFO waits for a writer): the table is not locked meanwhile.
    let desc = match dir.dir.open_at(follow, &path, oflags, flags)? {
        Opened::Dir(dir) => Descriptor::Directory(Arc::new(DirDesc {
            dir,
            preopen_path: None,
        })),
        Opened::File(file) => Descriptor::File(Arc::new(FileDesc::new(
            file,
            fdf & fdflags::APPEND != 0,
            fdf & fdflags::NONBLOCK != 0,
        ))),
    };
    let new_fd = ctx.fds.push(desc)?;
    // As in wasmtime, a bad result pointer is found only now, with the file open (and maybe
    // created): the guest error ends the program, which closes it.
    Ok(mem.write_u32(u(opened_fd), new_fd)?)
}

fn path_readlink(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    path: i32,
    path_len: i32,
    buf: i32,
    buf_len: i32,
    bufused: i32,
) -> Result<()> {
    let dir = &dir_fd(ctx, fd)?.dir;
    let path = mem.read_str(u(path), u(path_len))?;
    let mut link = dir.readlink_at(&path)?.into_bytes();
    link.truncate(u(buf_len) as usize);
    let n = u32::try_from(link.len())?;
    mem.write_bytes(u(buf), &link)?;
    Ok(mem.write_u32(u(bufused), n)?)
}

fn path_remove_directory(ctx: &WasiCtx, mem: Mem, fd: i32, path: i32, path_len: i32) -> Result<()> {
    let dir = &dir_fd(ctx, fd)?.dir;
    let path = mem.read_str(u(path), u(path_len))?;
    Ok(dir.remove_directory_at(&path)?)
}

fn path_rename(
    ctx: &WasiCtx,
    mem: Mem,
    fd: i32,
    old_path: i32,
    old_path_len: i32,
    new_fd: i32,
    new_path: i32,
    new_path_len: i32,
) -> Result<()> {
    let old_dir = &dir_fd(ctx, fd)?.dir;
    let new_dir = &dir_fd(ctx, new_fd)?.dir;
    let old_path = mem.read_str(u(old_path), u(old_path_len))?;
    let new_path = mem.read_str(u(new_path), u(new_path_len))?;
    Ok(old_dir.rename_at(&old_path, new_dir, &new_path)?)
}

fn path_symlink(
    ctx: &WasiCtx,
    mem: Mem,
    old_path: i32,
    old_path_len: i32,
    fd: i32,
    new_path: i32,
    new_path_len: i32,
) -> Result<()> {
    let dir = &dir_fd(ctx, fd)?.dir;
    let target = mem.read_str(u(old_path), u(old_path_len))?;
    let link = mem.read_str(u(new_path), u(new_path_len))?;
    Ok(dir.symlink_at(&target, &link)?)
}

fn path_unlink_file(ctx: &WasiCtx, mem: Mem, fd: i32, path: i32, path_len: i32) -> Result<()> {
    let dir = &dir_fd(ctx, fd)?.dir;
    let path = mem.read_str_unmetered(u(path), u(path_len))?;
    Ok(dir.unlink_file_at(&path)?)
}

fn poll_oneoff(
    ctx: &WasiCtx,
    mem: Mem,
    subs: i32,
    events: i32,
    nsubscriptions: i32,
    nevents: i32,
) -> Result<()> {
    let n = super::poll::poll_oneoff(ctx, mem, u(subs), u(events), u(nsubscriptions))?;
    Ok(mem.write_u32(u(nevents), n)?)
}

/// Exits with `code`. Like wasmtime, a status of 126 or more (as unsigned) is a guest error
/// (reported, exit status 1): those statuses are the shell's for signals and commands that
/// cannot run.
fn proc_exit(_ctx: &WasiCtx, _mem: Mem, code: i32) -> ProcExit {
    ProcExit(if (code as u32) < 126 {
        Ok(code)
    } else {
        Err(GuestError::InvalidExitStatus)
    })
}

fn proc_raise(_ctx: &WasiCtx, _mem: Mem, sig: i32) -> Result<()> {
    enum_arg(sig, "Signal", 8, SIGNAL_MAX)?;
    Err(Errno::Notsup.into())
}

fn sched_yield(_ctx: &WasiCtx, _mem: Mem) -> Result<()> {
    rustix::thread::sched_yield();
    Ok(())
}

/// The most `random_get` produces in one call; wasmtime ends the program for more.
const RANDOM_MAX: u32 = 64 << 20;

fn random_get(_ctx: &WasiCtx, mem: Mem, buf: i32, buf_len: i32) -> Result<()> {
    if u(buf_len) > RANDOM_MAX {
        return Err(GuestError::RandomTooLong {
            len: u(buf_len),
            limit: RANDOM_MAX,
        }
        .into());
    }
    Ok(random::fill(mem.slice_mut(u(buf), u(buf_len))?)?)
}

/// No socket can be granted to a preview 1 program (wasmtime's adapter has no socket
/// support either): every open descriptor is `ENOTSOCK`, any other `EBADF`.
fn not_a_socket(ctx: &WasiCtx, fd: i32) -> Result<()> {
    ctx.fds.get(fd)?;
    Err(Errno::Notsock.into())
}

fn sock_accept(ctx: &WasiCtx, _mem: Mem, fd: i32, fd_flags: i32, _result_fd: i32) -> Result<()> {
    fd_flags_arg(fd_flags)?;
    not_a_socket(ctx, fd)
}

fn sock_recv(
    ctx: &WasiCtx,
    _mem: Mem,
    fd: i32,
    _ri_data: i32,
    _ri_data_len: i32,
    ri_flags: i32,
    _ro_datalen: i32,
    _ro_flags: i32,
) -> Result<()> {
    flag_arg(ri_flags, "Riflags", 16, RIFLAGS_ALL.into())?;
    not_a_socket(ctx, fd)
}

fn sock_send(
    ctx: &WasiCtx,
    _mem: Mem,
    fd: i32,
    _si_data: i32,
    _si_data_len: i32,
    si_flags: i32,
    _so_datalen: i32,
) -> Result<()> {
    // `siflags` is a plain u16 (no flags are defined), so only its width is checked.
    narrow_arg(si_flags, "u16", 16)?;
    not_a_socket(ctx, fd)
}

fn sock_shutdown(ctx: &WasiCtx, _mem: Mem, fd: i32, how: i32) -> Result<()> {
    flag_arg(how, "Sdflags", 8, SDFLAGS_ALL.into())?;
    not_a_socket(ctx, fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::filesystem::tests::Tree;

    /// Guest memory layout of these tests: scratch values from 0, strings from 256,
    /// buffers from 1024.
    const OUT: i32 = 0;
    const STR: i32 = 256;
    const BUF: i32 = 1024;

    struct Guest {
        ctx: WasiCtx,
        bytes: Vec<u8>,
        _tree: Tree,
    }

    impl Guest {
        /// A context with `tree`'s sandbox preopened as fd 3 ("/sandbox").
        fn new(tag: &str) -> Guest {
            let tree = Tree::new(tag);
            let preopens = vec![(tree.sandbox(), "/sandbox".to_string())];
            Guest {
                ctx: WasiCtx::new(vec![b"prog".to_vec()], Vec::new(), preopens).unwrap(),
                bytes: vec![0u8; 64 * 1024],
                _tree: tree,
            }
        }

        /// Runs `f` on the context and memory, returning its errno.
        fn call(&mut self, f: impl FnOnce(&WasiCtx, Mem) -> Result<()>) -> i32 {
            let mut mem = GuestMemory::from_slice(&mut self.bytes);
            match f(&self.ctx, &mut mem) {
                Ok(()) => 0,
                Err(Error::Errno(e)) => e.raw(),
                Err(Error::Guest(e)) => panic!("unexpected guest error: {e}"),
            }
        }

        /// Runs `f`, which must fail with a guest error (the exported function would end
        /// the process), and returns that.
        fn guest_error(&mut self, f: impl FnOnce(&WasiCtx, Mem) -> Result<()>) -> GuestError {
            let mut mem = GuestMemory::from_slice(&mut self.bytes);
            match f(&self.ctx, &mut mem) {
                Err(Error::Guest(e)) => e,
                other => panic!("expected a guest error, got {other:?}"),
            }
        }

        fn put_str(&mut self, s: &str) -> (i32, i32) {
            self.bytes[STR as usize..][..s.len()].copy_from_slice(s.as_bytes());
            (STR, s.len() as i32)
        }

        fn u32_at(&self, at: i32) -> u32 {
            u32::from_le_bytes(self.bytes[at as usize..][..4].try_into().unwrap())
        }

        fn open(&mut self, dir: i32, follow: bool, path: &str, rights: i64) -> (i32, u32) {
            let (p, l) = self.put_str(path);
            let e =
                self.call(|c, m| path_open(c, m, dir, follow as i32, p, l, 0, rights, 0, 0, OUT));
            (e, self.u32_at(OUT))
        }
    }

    #[test]
    fn path_open_errnos_are_wasmtimes() {
        let mut g = Guest::new("p1-open");
        let read = rights::FD_READ as i64;
        for path in [
            "../outside.txt",
            "/etc/passwd",
            "sub/../../outside.txt",
            "link_up/x",
        ] {
            assert_eq!(g.open(3, true, path, read).0, Errno::Perm.raw(), "{path}");
        }
        assert_eq!(g.open(3, true, "link_out", read).0, Errno::Perm.raw());
        assert_eq!(g.open(3, false, "link_out", read).0, Errno::Loop.raw());
        assert_eq!(g.open(3, true, "missing", read).0, Errno::Noent.raw());
        assert_eq!(
            g.open(0, true, "file.txt", read).0,
            Errno::Badf.raw(),
            "stdin is no directory"
        );
        assert_eq!(g.open(9, true, "file.txt", read).0, Errno::Badf.raw());
        let (e, fd) = g.open(3, true, "link_in", read);
        assert_eq!((e, fd), (0, 4), "the first free number after the preopen");
        assert_eq!(
            g.open(4, true, "x", read).0,
            Errno::Notdir.raw(),
            "a file is no directory"
        );
        let (p, l) = g.put_str("file.txt");
        assert_eq!(
            g.guest_error(|c, m| path_open(c, m, 3, 1, p, l, 0, 1 << 40, 0, 0, OUT)),
            GuestError::InvalidFlags {
                ty: "Rights",
                value: 1 << 40
            }
        );
        // Reading it through the face, in two reads, and seeking.
        g.bytes[OUT as usize + 8..][..8].copy_from_slice(&[0, 4, 0, 0, 3, 0, 0, 0]);
        assert_eq!(g.call(|c, m| fd_read(c, m, 4, OUT + 8, 1, OUT)), 0);
        assert_eq!((g.u32_at(OUT), &g.bytes[1024..1027]), (3, &b"hel"[..]));
        assert_eq!(g.call(|c, m| fd_read(c, m, 4, OUT + 8, 1, OUT)), 0);
        assert_eq!(&g.bytes[1024..1027], b"lo\n");
        assert_eq!(
            g.call(|c, m| fd_seek(c, m, 4, -2, whence::END.into(), OUT)),
            0
        );
        assert_eq!(g.u32_at(OUT), 4);
        assert_eq!(
            g.call(|c, m| fd_seek(c, m, 4, -5, whence::CUR.into(), OUT)),
            Errno::Inval.raw()
        );
        assert_eq!(
            g.call(|c, m| fd_seek(c, m, 1, 0, whence::CUR.into(), OUT)),
            Errno::Spipe.raw()
        );
        assert_eq!(
            g.guest_error(|c, m| fd_seek(c, m, 4, 0, 3, OUT)),
            GuestError::InvalidEnum {
                ty: "Whence",
                value: 3
            }
        );
        assert_eq!(
            g.guest_error(|c, m| fd_seek(c, m, 99, 0, 256, OUT)),
            GuestError::IntOutOfRange {
                ty: "Whence",
                value: 256
            },
            "arguments are checked before the descriptor"
        );
    }

    #[test]
    fn preopens_and_stdio_report_as_in_wasmtime() {
        let mut g = Guest::new("p1-prestat");
        assert_eq!(g.call(|c, m| fd_prestat_get(c, m, 3, OUT)), 0);
        assert_eq!((g.bytes[0], g.u32_at(4)), (0, 8));
        assert_eq!(g.call(|c, m| fd_prestat_dir_name(c, m, 3, BUF, 8)), 0);
        assert_eq!(&g.bytes[BUF as usize..][..8], b"/sandbox");
        assert_eq!(
            g.call(|c, m| fd_prestat_dir_name(c, m, 3, BUF, 7)),
            Errno::Nametoolong.raw()
        );
        assert_eq!(
            g.call(|c, m| fd_prestat_get(c, m, 0, OUT)),
            Errno::Badf.raw()
        );
        assert_eq!(
            g.call(|c, m| fd_prestat_dir_name(c, m, 0, BUF, 8)),
            Errno::Notdir.raw()
        );
        assert_eq!(
            g.call(|c, m| fd_prestat_get(c, m, 4, OUT)),
            Errno::Badf.raw()
        );
        assert_eq!(g.call(|c, m| fd_fdstat_get(c, m, 3, OUT)), 0);
        let base = u64::from_le_bytes(g.bytes[8..16].try_into().unwrap());
        assert_eq!(
            (g.bytes[0], base),
            (filetype::DIRECTORY, rights::PREOPEN_BASE)
        );
        assert_eq!(g.call(|c, m| fd_fdstat_get(c, m, 1, OUT)), 0);
        let base = u64::from_le_bytes(g.bytes[8..16].try_into().unwrap());
        assert_eq!(base, rights::FD_WRITE);
        assert_eq!(
            g.call(|c, m| sock_accept(c, m, 1, 0, OUT)),
            Errno::Notsock.raw()
        );
        assert_eq!(g.call(|c, m| sock_shutdown(c, m, 7, 1)), Errno::Badf.raw());
    }

    fn oob(ptr: u32, len: u32) -> GuestError {
        GuestError::OutOfBounds { ptr, len }
    }

    #[test]
    fn bad_guest_pointers_are_guest_errors_where_wasmtime_finds_them() {
        let mut g = Guest::new("p1-fault");
        // iovec {buf: 0xfffffff0, len: 32}: the buffer is out of bounds.
        g.bytes[..8].copy_from_slice(&[0xf0, 0xff, 0xff, 0xff, 32, 0, 0, 0]);
        assert_eq!(
            g.guest_error(|c, m| fd_write(c, m, 1, 0, 1, 64)),
            oob(0xffff_fff0, 32)
        );
        assert_eq!(
            g.call(|c, m| fd_write(c, m, 77, 0, 1, 64)),
            Errno::Badf.raw(),
            "the buffer is used after the descriptor is checked"
        );
        assert_eq!(
            g.guest_error(|c, m| fd_write(c, m, 77, -8, 1, 64)),
            oob(0xffff_fff8, 4),
            "the iovecs are read before"
        );
        assert_eq!(
            g.guest_error(|c, m| fd_fdstat_get(c, m, 1, -4)),
            oob(0xffff_fffc, 24)
        );
        assert_eq!(
            g.guest_error(|c, m| fd_fdstat_get(c, m, 1, 4)),
            GuestError::NotAligned {
                ptr: 4,
                len: 24,
                align: 8
            }
        );
        assert_eq!(
            g.call(|c, m| fd_fdstat_get(c, m, 99, -4)),
            Errno::Badf.raw(),
            "nothing to write"
        );
        assert_eq!(
            g.guest_error(|c, m| clock_time_get(c, m, 1, 0, 4)),
            GuestError::NotAligned {
                ptr: 4,
                len: 8,
                align: 8
            }
        );
        assert_eq!(
            g.guest_error(|c, m| args_get(c, m, -2, 0)),
            oob(0xffff_fffe, 4)
        );
        assert_eq!(
            g.guest_error(|c, m| random_get(c, m, 65_000, 1000)),
            oob(65_000, 1000)
        );
        assert_eq!(
            g.guest_error(|c, m| path_create_directory(c, m, 3, 65_530, 100)),
            oob(65_530, 100)
        );
        assert_eq!(
            g.call(|c, m| path_create_directory(c, m, 0, 65_530, 100)),
            Errno::Badf.raw(),
            "the directory is checked first"
        );
        // As in wasmtime, the file is opened before its number cannot be written.
        let (p, _) = g.put_str("file.txt");
        assert_eq!(
            g.guest_error(|c, m| path_open(c, m, 3, 1, p, 8, 0, 2, 0, 0, -1)),
            oob(u32::MAX, 4)
        );
        assert!(g.ctx.fds.get(4).is_ok());
    }

    #[test]
    fn stream_reads_need_room_only_for_what_they_read() {
        let mut g = Guest::new("p1-pread");
        let (p, l) = g.put_str("file.txt");
        assert_eq!(
            g.call(|c, m| path_open(c, m, 3, 1, p, l, 0, 2, 0, 0, OUT)),
            0
        );
        let fd = g.u32_at(OUT) as i32;
        let end = g.bytes.len() as u32;
        // A 100-byte buffer 4 bytes before the end of memory: at end of file nothing is
        // read, so nothing needs to fit; at offset 1 the 5 bytes read do not fit.
        let iov = |g: &mut Guest, ptr: u32, len: u32| {
            g.bytes[8..12].copy_from_slice(&ptr.to_le_bytes());
            g.bytes[12..16].copy_from_slice(&len.to_le_bytes());
        };
        iov(&mut g, end - 4, 100);
        assert_eq!(g.call(|c, m| fd_pread(c, m, fd, 8, 1, 100, OUT)), 0);
        assert_eq!(g.u32_at(OUT), 0);
        assert_eq!(
            g.guest_error(|c, m| fd_pread(c, m, fd, 8, 1, 1, OUT)),
            oob(end - 4, 5)
        );
        iov(&mut g, end - 5, 100);
        assert_eq!(g.call(|c, m| fd_pread(c, m, fd, 8, 1, 1, OUT)), 0);
        assert_eq!(
            (g.u32_at(OUT), &g.bytes[end as usize - 5..]),
            (5, &b"ello\n"[..])
        );
        // fd_read of a file needs the whole buffer, even at end of file.
        assert_eq!(
            g.call(|c, m| fd_seek(c, m, fd, 0, whence::END.into(), OUT)),
            0
        );
        iov(&mut g, end - 4, 100);
        assert_eq!(
            g.guest_error(|c, m| fd_read(c, m, fd, 8, 1, OUT)),
            oob(end - 4, 100)
        );
        // A read of nothing from stdin is EINTR (whatever stdin is), a pread of nothing 0.
        iov(&mut g, 0, 0);
        assert_eq!(
            g.call(|c, m| fd_read(c, m, 0, 8, 1, OUT)),
            Errno::Intr.raw()
        );
        assert_eq!(g.call(|c, m| fd_pread(c, m, fd, 8, 1, 0, OUT)), 0);
    }

    #[test]
    fn each_call_may_copy_128_mib() {
        let mut g = Guest::new("p1-fuel");
        assert_eq!(
            g.call(|c, m| fd_write(c, m, 1, 0, (16 << 20) + 1, OUT)),
            Errno::Nomem.raw()
        );
        assert_eq!(
            g.call(|c, m| fd_write(c, m, 77, 0, (16 << 20) + 1, OUT)),
            Errno::Nomem.raw(),
            "before the descriptor is checked"
        );
        assert_eq!(
            g.call(|c, m| path_open(c, m, 3, 1, 0, (128 << 20) + 1, 0, 2, 0, 0, OUT)),
            Errno::Nomem.raw()
        );
        assert_eq!(
            g.guest_error(|c, m| path_open(c, m, 3, 1, 0, 128 << 20, 0, 2, 0, 0, OUT)),
            oob(0, 128 << 20)
        );
        assert_eq!(
            g.guest_error(|c, m| path_unlink_file(c, m, 3, 0, (128 << 20) + 1)),
            oob(0, (128 << 20) + 1),
            "wasmtime's path_unlink_file does not pay for its path"
        );
        // Two paths share one allowance.
        g.put_str("file.txt");
        assert_eq!(
            g.call(|c, m| path_rename(c, m, 3, STR, 4, 3, STR, (128 << 20) - 3)),
            Errno::Nomem.raw()
        );
    }

    #[test]
    fn arguments_wasmtime_rejects_are_guest_errors() {
        let mut g = Guest::new("p1-args");
        assert_eq!(
            g.guest_error(|c, m| clock_res_get(c, m, 4, OUT)),
            GuestError::InvalidEnum {
                ty: "Clockid",
                value: 4
            }
        );
        for id in [2, 3] {
            assert_eq!(
                g.call(|c, m| clock_time_get(c, m, id, 0, OUT)),
                Errno::Badf.raw(),
                "no CPU-time clocks, as in wasmtime"
            );
            assert_eq!(
                g.call(|c, m| clock_res_get(c, m, id, -8)),
                Errno::Badf.raw()
            );
        }
        assert_eq!(
            g.guest_error(|c, m| fd_advise(c, m, 3, 0, 0, 6)),
            GuestError::InvalidEnum {
                ty: "Advice",
                value: 6
            }
        );
        assert_eq!(
            g.guest_error(|c, m| proc_raise(c, m, 31)),
            GuestError::InvalidEnum {
                ty: "Signal",
                value: 31
            }
        );
        assert_eq!(g.call(|c, m| proc_raise(c, m, 30)), Errno::Notsup.raw());
        assert_eq!(
            g.guest_error(|c, m| sock_send(c, m, 1, 0, 0, 0x1_0000, 0)),
            GuestError::IntOutOfRange {
                ty: "u16",
                value: 0x1_0000
            }
        );
        assert_eq!(
            g.call(|c, m| sock_send(c, m, 1, 0, 0, 0xffff, 0)),
            Errno::Notsock.raw(),
            "siflags is a plain u16"
        );
        assert_eq!(
            g.guest_error(|c, m| fd_filestat_set_times(c, m, 3, 0, 0, 16)),
            GuestError::InvalidFlags {
                ty: "Fstflags",
                value: 16
            }
        );
        assert_eq!(
            g.call(|c, m| fd_filestat_set_times(c, m, 3, 0, 0, 1 | 2)),
            Errno::Inval.raw(),
            "set and now together is an errno"
        );
        assert_eq!(
            g.guest_error(|c, m| random_get(c, m, 0, (64 << 20) + 1)),
            GuestError::RandomTooLong {
                len: (64 << 20) + 1,
                limit: 64 << 20
            }
        );
        let mut mem = GuestMemory::from_slice(&mut g.bytes);
        assert_eq!(proc_exit(&g.ctx, &mut mem, 125).0, Ok(125));
        for status in [126, -1] {
            assert_eq!(
                proc_exit(&g.ctx, &mut mem, status).0,
                Err(GuestError::InvalidExitStatus)
            );
        }
        assert_eq!(
            guest_error_line("proc_exit", GuestError::InvalidExitStatus),
            "error: wasi_snapshot_preview1::proc_exit: exit with invalid exit status outside of [0..126)\n"
        );
    }

    #[test]
    fn readdir_in_small_buffers_visits_every_entry_once() {
        let mut g = Guest::new("p1-readdir");
        // Read with a buffer that holds about one entry, resuming from the last complete
        // entry's d_next each time, as wasi-libc does.
        let mut names = Vec::new();
        let mut cookie = 0i64;
        for _ in 0..100 {
            assert_eq!(g.call(|c, m| fd_readdir(c, m, 3, BUF, 40, cookie, OUT)), 0);
            let used = g.u32_at(OUT) as usize;
            let entry = &g.bytes[BUF as usize..][..used];
            if used < DIRENT_SIZE {
                assert_eq!(used, 0, "a partial header only when the buffer is full");
                break;
            }
            let namlen = u32::from_le_bytes(entry[16..20].try_into().unwrap()) as usize;
            if DIRENT_SIZE + namlen > used {
                // Cut off: a real guest would retry with a larger buffer.
                assert_eq!(used, 40);
                assert_eq!(g.call(|c, m| fd_readdir(c, m, 3, BUF, 200, cookie, OUT)), 0);
            }
            let entry = &g.bytes[BUF as usize..][..DIRENT_SIZE + namlen];
            names.push(String::from_utf8(entry[DIRENT_SIZE..].to_vec()).unwrap());
            cookie = i64::from_le_bytes(entry[..8].try_into().unwrap());
        }
        names.sort();
        let expected = [
            ".", "..", "file.txt", "link_abs", "link_in", "link_out", "link_up", "sub",
        ];
        assert_eq!(names, expected);
        assert_eq!(g.call(|c, m| fd_readdir(c, m, 3, BUF, 200, 1000, OUT)), 0);
        assert_eq!(g.u32_at(OUT), 0, "a cookie past the end reads nothing");
        assert_eq!(
            g.call(|c, m| fd_readdir(c, m, 1, BUF, 200, 0, OUT)),
            Errno::Badf.raw()
        );
    }

    fn dirent(next: u64, name: &str) -> ([u8; DIRENT_SIZE], Vec<u8>) {
        (
            dirent_header(next, 7, name.len() as u32, filetype::REGULAR_FILE),
            name.as_bytes().to_vec(),
        )
    }

    #[test]
    fn dirents_fill_the_buffer_and_cut_the_last_entry() {
        let entries = [dirent(1, "."), dirent(2, ".."), dirent(3, "abc")];
        let mut bytes = vec![0xaau8; 256];
        let mut mem = GuestMemory::from_slice(&mut bytes);
        // Everything fits: 25 + 26 + 27 bytes.
        assert_eq!(write_dirents(&mut mem, 16, 200, entries.iter()), Ok(78));
        // A buffer that ends inside the third header reports itself full.
        assert_eq!(write_dirents(&mut mem, 16, 60, entries.iter()), Ok(60));
        // Resuming from cookie 2 (the second entry's d_next) starts at "abc".
        assert_eq!(
            write_dirents(&mut mem, 0, 100, entries.iter().skip(2)),
            Ok(27)
        );
        let _ = mem;
        assert_eq!(u64::from_le_bytes(bytes[0..8].try_into().unwrap()), 3);
        assert_eq!(&bytes[24..27], b"abc");
        // A buffer that does not fit in memory is a guest error where an entry does not fit.
        let mut small = [0u8; 30];
        let mut mem = GuestMemory::from_slice(&mut small);
        assert_eq!(
            write_dirents(&mut mem, 0, 100, entries.iter()),
            Err(oob(25, 24).into())
        );
        assert_eq!(write_dirents(&mut mem, 0, 0, entries.iter()), Ok(0));
    }

    #[test]
    fn flag_and_enum_arguments_are_validated_as_wasmtime_converts_them() {
        let flags = |value| GuestError::InvalidFlags { ty: "T", value };
        let range = |value| GuestError::IntOutOfRange { ty: "T", value };
        assert_eq!(flag_arg(0b11, "T", 16, 0b11), Ok(3));
        assert_eq!(flag_arg(0b100, "T", 16, 0b11), Err(flags(0b100)));
        assert_eq!(flag_arg(0x1_0000, "T", 16, u32::MAX), Err(range(0x1_0000)));
        assert_eq!(flag_arg(-1, "T", 16, 0xffff), Err(range(-1)));
        assert_eq!(flag_arg(-1, "T", 32, u32::MAX), Err(range(-1)));
        assert_eq!(enum_arg(2, "T", 8, 2), Ok(2));
        assert_eq!(
            enum_arg(3, "T", 8, 2),
            Err(GuestError::InvalidEnum { ty: "T", value: 3 })
        );
        assert_eq!(enum_arg(256, "T", 8, 2), Err(range(256)));
        assert_eq!(rights(rights::ALL as i64), Ok(rights::ALL));
        assert_eq!(
            rights(1 << 30),
            Err(GuestError::InvalidFlags {
                ty: "Rights",
                value: 1 << 30
            })
        );
        assert_eq!(
            rights(-1),
            Err(GuestError::IntOutOfRange {
                ty: "Rights",
                value: -1
            })
        );
        assert_eq!(lookup_follow(1), Ok(true));
        assert!(lookup_follow(2).is_err());
        assert_eq!(clock_id(3), Ok(3));
        assert!(clock_id(4).is_err() && clock_id(-1).is_err());
    }

    #[test]
    fn timestamps_set_and_now_together_are_invalid() {
        assert_eq!(new_timestamps(1 | 2, 0, 0), Err(Errno::Inval.into()));
        assert_eq!(new_timestamps(4 | 8, 0, 0), Err(Errno::Inval.into()));
        assert_eq!(
            new_timestamps(1 | 8, 1_500_000_000, 0),
            Ok((
                NewTimestamp::Timestamp(Datetime {
                    seconds: 1,
                    nanoseconds: 500_000_000
                }),
                NewTimestamp::Now
            ))
        );
        assert_eq!(
            timestamp(Some(Datetime {
                seconds: u64::MAX,
                nanoseconds: 0
            })),
            Err(Errno::Overflow.into())
        );
    }

    /// One guest thread's view: its own memory, a context shared with other threads.
    struct GuestThread<'c> {
        ctx: &'c WasiCtx,
        bytes: Vec<u8>,
    }

    impl<'c> GuestThread<'c> {
        fn new(ctx: &'c WasiCtx) -> GuestThread<'c> {
            GuestThread {
                ctx,
                bytes: vec![0u8; 64 * 1024],
            }
        }

        fn call(&mut self, f: impl FnOnce(&WasiCtx, Mem) -> Result<()>) -> Result<()> {
            let mut mem = GuestMemory::from_slice(&mut self.bytes);
            f(self.ctx, &mut mem)
        }

        fn u32_at(&self, at: i32) -> u32 {
            u32::from_le_bytes(self.bytes[at as usize..][..4].try_into().unwrap())
        }

        fn put(&mut self, at: i32, bytes: &[u8]) -> (i32, i32) {
            self.bytes[at as usize..][..bytes.len()].copy_from_slice(bytes);
            (at, bytes.len() as i32)
        }

        /// Creates (or truncates) `path` in the preopen at 3 for writing; its descriptor.
        fn create(&mut self, path: &str) -> Result<i32> {
            let (p, l) = self.put(STR, path.as_bytes());
            let o = (oflags::CREAT | oflags::TRUNC) as i32;
            let r = (rights::FD_WRITE | rights::FD_READ) as i64;
            self.call(|c, m| path_open(c, m, 3, 0, p, l, o, r, r, 0, OUT))?;
            Ok(self.u32_at(OUT) as i32)
        }

        /// Writes all of `data` to `fd` through `fd_write` (iovec at 16, data at `BUF`).
        fn write_all(&mut self, fd: i32, data: &[u8]) -> Result<()> {
            let mut done = 0;
            while done < data.len() {
                let (buf, len) = self.put(BUF, &data[done..]);
                self.put(16, &[buf.to_le_bytes(), len.to_le_bytes()].concat());
                self.call(|c, m| fd_write(c, m, fd, 16, 1, OUT))?;
                done += self.u32_at(OUT) as usize;
            }
            Ok(())
        }
    }

    fn shared_ctx(tree: &Tree) -> WasiCtx {
        let preopens = vec![(tree.sandbox(), "/sandbox".to_string())];
        WasiCtx::new(vec![b"prog".to_vec()], Vec::new(), preopens).unwrap()
    }

    #[test]
    fn a_sleeping_poll_does_not_stop_other_threads_calls() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        let tree = Tree::new("p1-poll-threads");
        let ctx = shared_ctx(&tree);
        let (a_entering, a_returned) = (AtomicBool::new(false), AtomicBool::new(false));
        std::thread::scope(|s| {
            let a = s.spawn(|| {
                let mut t = GuestThread::new(&ctx);
                // One relative monotonic clock subscription of 1.5 s, userdata 77, at 0.
                let mut sub = [0u8; 48];
                sub[0..8].copy_from_slice(&77u64.to_le_bytes());
                sub[8] = eventtype::CLOCK;
                sub[16..20].copy_from_slice(&clockid::MONOTONIC.to_le_bytes());
                sub[24..32].copy_from_slice(&1_500_000_000u64.to_le_bytes());
                t.put(0, &sub);
                a_entering.store(true, SeqCst);
                let r = t.call(|c, m| poll_oneoff(c, m, 0, 1024, 1, 512));
                a_returned.store(true, SeqCst);
                let userdata = u64::from_le_bytes(t.bytes[1024..1032].try_into().unwrap());
                (r, t.u32_at(512), userdata, t.bytes[1024 + 10])
            });
            let b = s.spawn(|| {
                while !a_entering.load(SeqCst) {
                    std::thread::yield_now();
                }
                let mut t = GuestThread::new(&ctx);
                let fd = t.create("from-b.txt").unwrap();
                for i in 0..5 {
                    let clock = clockid::MONOTONIC as i32;
                    assert_eq!(t.call(|c, m| clock_time_get(c, m, clock, 0, 8)), Ok(()));
                    t.write_all(fd, format!("line {i}\n").as_bytes()).unwrap();
                    assert_eq!(t.call(|c, m| fd_fdstat_get(c, m, fd, 64)), Ok(()));
                    assert_eq!(t.bytes[64], filetype::REGULAR_FILE);
                }
                assert_eq!(t.call(|c, m| fd_close(c, m, fd)), Ok(()));
                a_returned.load(SeqCst)
            });
            let a_returned_before_b_finished = b.join().unwrap();
            assert!(
                !a_returned_before_b_finished,
                "B's calls waited for A's poll_oneoff to return"
            );
            let (r, nevents, userdata, type_) = a.join().unwrap();
            assert_eq!(r, Ok(()));
            assert_eq!((nevents, userdata, type_), (1, 77, eventtype::CLOCK));
        });
        let written = std::fs::read(tree.root.join("sandbox/from-b.txt")).unwrap();
        assert_eq!(written, b"line 0\nline 1\nline 2\nline 3\nline 4\n");
    }

    #[test]
    fn threads_opening_writing_and_closing_at_once_get_their_own_descriptors() {
        use std::collections::HashSet;
        use std::sync::Mutex;
        const ROUNDS: usize = 200;
        let tree = Tree::new("p1-open-threads");
        let ctx = shared_ctx(&tree);
        // The numbers some thread holds open right now: a number handed out twice at once
        // would be found here.
        let held = Mutex::new(HashSet::new());
        let highest = std::sync::atomic::AtomicI32::new(0);
        std::thread::scope(|s| {
            for thread in 0..2 {
                let (ctx, held, highest) = (&ctx, &held, &highest);
                s.spawn(move || {
                    let mut t = GuestThread::new(ctx);
                    for round in 0..ROUNDS {
                        // Two files open at once, so that numbers interleave with the
                        // other thread's.
                        let names = [0, 1].map(|k| format!("t{thread}-r{round}-{k}.txt"));
                        let fds = names.clone().map(|name| t.create(&name).unwrap());
                        for fd in fds {
                            // At most four are open at once, and numbers are reused.
                            assert!((4..=7).contains(&fd), "fd {fd}");
                            highest.fetch_max(fd, std::sync::atomic::Ordering::Relaxed);
                            assert!(held.lock().unwrap().insert(fd), "fd {fd} handed out twice");
                        }
                        for (fd, name) in fds.iter().zip(&names) {
                            t.write_all(*fd, name.as_bytes()).unwrap();
                            t.write_all(*fd, b"\n").unwrap();
                        }
                        for fd in fds {
                            assert!(held.lock().unwrap().remove(&fd));
                            assert_eq!(t.call(|c, m| fd_close(c, m, fd)), Ok(()));
                        }
                    }
                });
            }
        });
        for thread in 0..2 {
            for round in 0..ROUNDS {
                for k in 0..2 {
                    let name = format!("t{thread}-r{round}-{k}.txt");
                    let text = std::fs::read_to_string(tree.root.join("sandbox").join(&name));
                    assert_eq!(text.unwrap(), format!("{name}\n"));
                }
            }
        }
        // Every number was freed again: the next is the highest, as in wasmtime.
        let mut t = GuestThread::new(&ctx);
        assert_eq!(t.create("last.txt"), Ok(highest.into_inner()));
    }

    #[test]
    fn a_descriptor_closed_or_renumbered_while_in_use_stays_usable_by_its_user() {
        let mut g = Guest::new("p1-close-in-use");
        let (e, fd) = g.open(3, true, "file.txt", rights::FD_READ as i64);
        assert_eq!((e, fd), (0, 4));
        // What a call on another thread holds while it blocks in the file.
        let in_use = g.ctx.fds.get(4).unwrap();
        assert_eq!(g.call(|c, m| fd_close(c, m, 4)), 0);
        assert_eq!(g.call(|c, m| fd_close(c, m, 4)), Errno::Badf.raw());
        let Descriptor::File(f) = &in_use else {
            panic!("file.txt is a file");
        };
        let mut buf = [0u8; 5];
        assert_eq!(
            f.file.read_at(&mut buf, 0),
            Ok(5),
            "still open for its user"
        );
        assert_eq!(&buf, b"hello");
        // Renumbering over a descriptor in use frees only the number too.
        assert_eq!(g.open(3, true, "file.txt", rights::FD_READ as i64), (0, 4));
        assert_eq!(g.open(3, true, "sub", rights::FD_READ as i64), (0, 5));
        let in_use = g.ctx.fds.get(4).unwrap();
        assert_eq!(g.call(|c, m| fd_renumber(c, m, 5, 4)), 0);
        assert!(matches!(g.ctx.fds.get(4), Ok(Descriptor::Directory(_))));
        let Descriptor::File(f) = &in_use else {
            panic!("file.txt is a file");
        };
        assert_eq!(f.file.read_at(&mut buf, 1), Ok(5));
        assert_eq!(&buf, b"ello\n");
    }
}
