//! `wasi:filesystem` 0.2 (`types` and `preopens`): the descriptor and directory-entry-stream
//! resources over the host core's [`Dir`] and [`File`], the same objects preview 1 uses.
//! Preopens are the very directories of the preview 1 table (one grant, two faces).
//!
//! This module owns only the face: which descriptor kinds an operation accepts (a file
//! where a directory is needed is `not-directory`, the reverse `bad-descriptor`, as in
//! wasmtime), lifting the flags, enums and variants of the arguments (an enum or variant
//! discriminant out of range traps as wasmtime's lifting does; unknown flag bits are
//! ignored) and writing each result in its canonical ABI layout. Every filesystem
//! operation, path resolution and sandboxing included, is the core's.
//!
//! Results are written field by field after the whole result area is checked to lie in
//! memory, as wasmtime checks it before it lowers: padding and the unused part of a
//! variant's payload are left as they were.

use std::sync::{Arc, Mutex};

use super::io::{FileSink, FileSource, FsError};
use super::{Call, Object, R, le32, le64, p2_fns, rt};
use crate::Locked;
use crate::wasi::ctx::{Descriptor, DirDesc};
use crate::wasi::filesystem::{
    Advice, Datetime, DescriptorFlags, DescriptorStat, DescriptorType, Dir, DirectoryEntry,
    ErrorCode, File, FsResult, MetadataHashValue, NewTimestamp, OpenFlags, Opened,
};

/// A `descriptor`: a directory (a preopen shares the preview 1 table's) or a file, which
/// the streams made from it share.
enum Desc {
    Dir(Arc<DirDesc>),
    File(Arc<File>),
}

impl Desc {
    /// The file, for file-only operations.
    fn file(&self) -> FsResult<&Arc<File>> {
        match self {
            Desc::File(f) => Ok(f),
            Desc::Dir(_) => Err(ErrorCode::BadDescriptor),
        }
    }

    /// The directory, for operations on paths beneath it.
    fn dir(&self) -> FsResult<&Dir> {
        match self {
            Desc::Dir(d) => Ok(&d.dir),
            Desc::File(_) => Err(ErrorCode::NotDirectory),
        }
    }

    fn stat(&self) -> FsResult<DescriptorStat> {
        match self {
            Desc::Dir(d) => d.dir.stat(),
            Desc::File(f) => f.stat(),
        }
    }
}

/// A `directory-entry-stream`: the listing is read whole when the stream is made (every
/// entry's type costs a stat), then handed out one entry at a time.
struct EntryStream(Mutex<std::vec::IntoIter<FsResult<DirectoryEntry>>>);

/// A result area: its size and alignment, and where a `result`'s or `option`'s payload
/// starts (after the one-byte discriminant, aligned to the payload's alignment).
#[derive(Clone, Copy, Debug)]
struct Layout {
    size: u32,
    align: u32,
    payload: u32,
}

/// `result<_, error-code>`, `result<descriptor-type, error-code>`,
/// `result<descriptor-flags, error-code>` and `option<error-code>`: all bytes.
const BYTE_RESULT: Layout = Layout {
    size: 2,
    align: 1,
    payload: 1,
};
/// `result<own<T>, error-code>`.
const HANDLE_RESULT: Layout = Layout {
    size: 8,
    align: 4,
    payload: 4,
};
/// `result<string, error-code>`.
const STRING_RESULT: Layout = Layout {
    size: 12,
    align: 4,
    payload: 4,
};
/// `result<tuple<list<u8>, bool>, error-code>`.
const READ_RESULT: Layout = Layout {
    size: 16,
    align: 4,
    payload: 4,
};
/// `result<filesize, error-code>`.
const FILESIZE_RESULT: Layout = Layout {
    size: 16,
    align: 8,
    payload: 8,
};
/// `result<descriptor-stat, error-code>`: the stat record is 96 bytes.
const STAT_RESULT: Layout = Layout {
    size: 104,
    align: 8,
    payload: 8,
};
/// `result<metadata-hash-value, error-code>`.
const HASH_RESULT: Layout = Layout {
    size: 24,
    align: 8,
    payload: 8,
};
/// `result<option<directory-entry>, error-code>`: the option at 4, its entry at 8.
const ENTRY_RESULT: Layout = Layout {
    size: 20,
    align: 4,
    payload: 4,
};
/// `list<tuple<own<descriptor>, string>>`: the (pointer, length) pair.
const LIST: Layout = Layout {
    size: 8,
    align: 4,
    payload: 0,
};
/// One `tuple<own<descriptor>, string>` of that list.
const PREOPEN_SIZE: u32 = 12;

/// Fields to write: (offset, bytes).
type Fields = Vec<(u32, Vec<u8>)>;

/// The fields of a `result<T, error-code>` (or, with `BYTE_RESULT`, an
/// `option<error-code>` read the other way round): discriminant 0 and the payload's
/// fields (offsets relative to the payload), or discriminant 1 and the code.
fn result_fields(layout: Layout, r: Result<Fields, ErrorCode>) -> Fields {
    match r {
        Ok(payload) => std::iter::once((0, vec![0]))
            .chain(payload.into_iter().map(|(at, b)| (layout.payload + at, b)))
            .collect(),
        Err(e) => vec![(0, vec![1]), (layout.payload, vec![error_code(e)])],
    }
}

/// Writes `fields` into the result area at `retptr`, which must be aligned and lie in
/// memory as a whole.
fn store(cx: &Call, retptr: i32, layout: Layout, fields: &[(u32, Vec<u8>)]) -> R<()> {
    let ptr = retptr as u32;
    if !ptr.is_multiple_of(layout.align) {
        return Err(cx.trap("unaligned pointer"));
    }
    if cx.mem().slice(ptr, layout.size).is_err() {
        return Err(cx.trap("pointer out of bounds of memory"));
    }
    let refs: Vec<(u32, &[u8])> = fields.iter().map(|(at, b)| (*at, b.as_slice())).collect();
    cx.ret(retptr, layout.align, &refs)
}

/// Writes `r` as a `result<T, error-code>`, the payload's fields given by `ok` (which
/// may lower lists or make handles, and so runs only on success).
fn finish<T>(
    cx: &Call,
    retptr: i32,
    layout: Layout,
    r: FsResult<T>,
    ok: impl FnOnce(T) -> R<Fields>,
) -> R<()> {
    let fields = match r {
        Ok(v) => result_fields(layout, Ok(ok(v)?)),
        Err(e) => result_fields(layout, Err(e)),
    };
    store(cx, retptr, layout, &fields)
}

fn unit(cx: &Call, retptr: i32, r: FsResult<()>) -> R<()> {
    finish(cx, retptr, BYTE_RESULT, r, |()| Ok(Vec::new()))
}

/// `error-code`'s case index.
fn error_code(e: ErrorCode) -> u8 {
    use ErrorCode::*;
    match e {
        Access => 0,
        WouldBlock => 1,
        Already => 2,
        BadDescriptor => 3,
        Busy => 4,
        Deadlock => 5,
        Quota => 6,
        Exist => 7,
        FileTooLarge => 8,
        IllegalByteSequence => 9,
        InProgress => 10,
        Interrupted => 11,
        Invalid => 12,
        Io => 13,
        IsDirectory => 14,
        Loop => 15,
        TooManyLinks => 16,
        MessageSize => 17,
        NameTooLong => 18,
        NoDevice => 19,
        NoEntry => 20,
        NoLock => 21,
        InsufficientMemory => 22,
        InsufficientSpace => 23,
        NotDirectory => 24,
        NotEmpty => 25,
        NotRecoverable => 26,
        Unsupported => 27,
        NoTty => 28,
        NoSuchDevice => 29,
        Overflow => 30,
        NotPermitted => 31,
        Pipe => 32,
        ReadOnly => 33,
        InvalidSeek => 34,
        TextFileBusy => 35,
        CrossDevice => 36,
    }
}

/// `descriptor-type`'s case index (the core, like wasmtime, reports FIFOs and sockets as
/// unknown, so cases 4 and 7 never occur).
fn descriptor_type(t: DescriptorType) -> u8 {
    match t {
        DescriptorType::Unknown => 0,
        DescriptorType::BlockDevice => 1,
        DescriptorType::CharacterDevice => 2,
        DescriptorType::Directory => 3,
        DescriptorType::SymbolicLink => 5,
        DescriptorType::RegularFile => 6,
    }
}

mod bits {
    pub const SYMLINK_FOLLOW: i32 = 1;

    pub const CREATE: i32 = 1;
    pub const DIRECTORY: i32 = 1 << 1;
    pub const EXCLUSIVE: i32 = 1 << 2;
    pub const TRUNCATE: i32 = 1 << 3;

    pub const READ: u8 = 1;
    pub const WRITE: u8 = 1 << 1;
    pub const FILE_INTEGRITY_SYNC: u8 = 1 << 2;
    pub const DATA_INTEGRITY_SYNC: u8 = 1 << 3;
    pub const REQUESTED_WRITE_SYNC: u8 = 1 << 4;
    pub const MUTATE_DIRECTORY: u8 = 1 << 5;
}

fn follow(path_flags: i32) -> bool {
    path_flags & bits::SYMLINK_FOLLOW != 0
}

fn open_flags(v: i32) -> OpenFlags {
    OpenFlags {
        create: v & bits::CREATE != 0,
        directory: v & bits::DIRECTORY != 0,
        exclusive: v & bits::EXCLUSIVE != 0,
        truncate: v & bits::TRUNCATE != 0,
    }
}

/// `descriptor-flags` asked for at open; mutate-directory asks for nothing the grant does
/// not already give.
fn descriptor_flags_arg(v: i32) -> DescriptorFlags {
    let v = v as u8;
    DescriptorFlags {
        read: v & bits::READ != 0,
        write: v & bits::WRITE != 0,
        file_integrity_sync: v & bits::FILE_INTEGRITY_SYNC != 0,
        data_integrity_sync: v & bits::DATA_INTEGRITY_SYNC != 0,
        requested_write_sync: v & bits::REQUESTED_WRITE_SYNC != 0,
    }
}

/// The `descriptor-flags` of a descriptor: a directory's write access is mutate-directory.
fn descriptor_flags_bits(f: DescriptorFlags, is_dir: bool) -> u8 {
    let mut v = 0;
    for (set, bit) in [
        (f.read, bits::READ),
        (
            f.write,
            if is_dir {
                bits::MUTATE_DIRECTORY
            } else {
                bits::WRITE
            },
        ),
        (f.file_integrity_sync, bits::FILE_INTEGRITY_SYNC),
        (f.data_integrity_sync, bits::DATA_INTEGRITY_SYNC),
        (f.requested_write_sync, bits::REQUESTED_WRITE_SYNC),
    ] {
        if set {
            v |= bit;
        }
    }
    v
}

/// The trap wasmtime's lifting raises for an enum or variant case that does not exist.
fn bad_discriminant(cx: &Call, d: i32) -> super::Fail {
    cx.trap(format!("unexpected discriminant: {}", d as u32))
}

fn advice_arg(cx: &Call, v: i32) -> R<Advice> {
    Ok(match v {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(bad_discriminant(cx, v)),
    })
}

/// A lifted `new-timestamp`; a time is checked (see [`new_timestamp`]) only once the
/// descriptor has been, as wasmtime orders the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimestampArg {
    NoChange,
    Now,
    At { seconds: u64, nanoseconds: u32 },
}

fn timestamp_arg(cx: &Call, disc: i32, seconds: i64, nanoseconds: i32) -> R<TimestampArg> {
    Ok(match disc {
        0 => TimestampArg::NoChange,
        1 => TimestampArg::Now,
        2 => TimestampArg::At {
            seconds: seconds as u64,
            nanoseconds: nanoseconds as u32,
        },
        _ => return Err(bad_discriminant(cx, disc)),
    })
}

/// wasmtime's reading of a `datetime` as a system time: nanoseconds past a second carry
/// into the seconds, and a time the host cannot represent (past `i64` seconds) is an
/// `overflow`.
fn new_timestamp(t: TimestampArg) -> FsResult<NewTimestamp> {
    const NANOS: u32 = 1_000_000_000;
    Ok(match t {
        TimestampArg::NoChange => NewTimestamp::NoChange,
        TimestampArg::Now => NewTimestamp::Now,
        TimestampArg::At {
            seconds,
            nanoseconds,
        } => {
            let seconds = seconds
                .checked_add(u64::from(nanoseconds / NANOS))
                .filter(|s| i64::try_from(*s).is_ok())
                .ok_or(ErrorCode::Overflow)?;
            NewTimestamp::Timestamp(Datetime {
                seconds,
                nanoseconds: nanoseconds % NANOS,
            })
        }
    })
}

/// The fields of an `option<datetime>` at `at`.
fn option_datetime(at: u32, t: Option<Datetime>, out: &mut Fields) {
    match t {
        None => out.push((at, vec![0])),
        Some(t) => {
            out.push((at, vec![1]));
            out.push((at + 8, le64(t.seconds).to_vec()));
            out.push((at + 16, le32(t.nanoseconds).to_vec()));
        }
    }
}

/// The fields of a `descriptor-stat` record.
fn stat_fields(s: &DescriptorStat) -> Fields {
    let mut out = vec![
        (0, vec![descriptor_type(s.type_)]),
        (8, le64(s.link_count).to_vec()),
        (16, le64(s.size).to_vec()),
    ];
    option_datetime(24, s.data_access_timestamp, &mut out);
    option_datetime(48, s.data_modification_timestamp, &mut out);
    option_datetime(72, s.status_change_timestamp, &mut out);
    out
}

fn hash_fields(h: MetadataHashValue) -> Fields {
    vec![(0, le64(h.lower).to_vec()), (8, le64(h.upper).to_vec())]
}

/// The fields of an `option<directory-entry>` whose name is already lowered at
/// (`name_ptr`, `name_len`).
fn entry_fields(entry: Option<(DescriptorType, u32, u32)>) -> Fields {
    match entry {
        None => vec![(0, vec![0])],
        Some((t, name_ptr, name_len)) => vec![
            (0, vec![1]),
            (4, vec![descriptor_type(t)]),
            (8, le32(name_ptr).to_vec()),
            (12, le32(name_len).to_vec()),
        ],
    }
}

/// The descriptor a handle stands for.
fn desc(cx: &Call, handle: i32) -> R<Arc<Desc>> {
    cx.get_other::<Desc>(handle, rt::DESCRIPTOR)
}

/// A new descriptor handle.
fn push_desc(cx: &Call, d: Desc) -> R<i32> {
    cx.push_other(rt::DESCRIPTOR, d)
}

/// The preopened directories in grant order: the preview 1 table's, which a component
/// (importing no preview 1 function) never changes, so they are still at 3, 4, ...
fn preopens(cx: &Call) -> Vec<(Arc<DirDesc>, String)> {
    let mut out = Vec::new();
    for fd in 3.. {
        match cx.wasi.fds.get(fd) {
            Ok(Descriptor::Directory(d)) => {
                if let Some(name) = d.preopen_path.clone() {
                    out.push((d, name));
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    out
}

/// The error code a stream error carries: the filesystem's own, else the mapping of the
/// OS error (wasmtime maps every I/O error of a stream).
fn stream_error_code(e: &std::io::Error) -> ErrorCode {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<FsError>())
    {
        Some(FsError(code)) => *code,
        None => ErrorCode::from(e),
    }
}

/// The most bytes one `read` returns (wasmtime's `MAX_READ_SIZE_ALLOC`).
const READ_MAX: u64 = 64 * 1024;

fn read(f: &File, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
    let mut buf = vec![0u8; len.min(READ_MAX) as usize];
    let n = f.read_at(&mut buf, offset)?;
    buf.truncate(n);
    // As in wasmtime, only a read of nothing reports the end (a zero-length read too).
    Ok((buf, n == 0))
}

p2_fns! {
    fn aot_wasi_p2_filesystem__types__method__descriptor__read_via_stream(cx, this: i32, offset: i64, retptr: i32) {
        let d = desc(&cx, this)?;
        let r = match &*d {
            Desc::File(f) => Ok(Arc::clone(f)),
            // POSIX's EISDIR for reading a directory.
            Desc::Dir(_) => Err(ErrorCode::IsDirectory),
        };
        finish(&cx, retptr, HANDLE_RESULT, r, |file| {
            let source = FileSource { file, position: (offset as u64).into() };
            let h = cx.push(rt::INPUT_STREAM, Object::InputStream(Arc::new(source)))?;
            Ok(vec![(0, le32(h as u32).to_vec())])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__write_via_stream(cx, this: i32, offset: i64, retptr: i32) {
        let d = desc(&cx, this)?;
        let r = d.file().cloned();
        finish(&cx, retptr, HANDLE_RESULT, r, |file| {
            let sink = FileSink { file, position: (offset as u64).into(), append: false };
            let h = cx.push(rt::OUTPUT_STREAM, Object::OutputStream(Arc::new(sink)))?;
            Ok(vec![(0, le32(h as u32).to_vec())])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__append_via_stream(cx, this: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let r = d.file().cloned();
        finish(&cx, retptr, HANDLE_RESULT, r, |file| {
            let sink = FileSink { file, position: 0.into(), append: true };
            let h = cx.push(rt::OUTPUT_STREAM, Object::OutputStream(Arc::new(sink)))?;
            Ok(vec![(0, le32(h as u32).to_vec())])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__advise(cx, this: i32, offset: i64, len: i64, advice: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let advice = advice_arg(&cx, advice)?;
        let r = d.file().and_then(|f| f.advise(offset as u64, len as u64, advice));
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__sync_data(cx, this: i32, retptr: i32) {
        let r = match &*desc(&cx, this)? {
            Desc::Dir(d) => d.dir.sync_data(),
            Desc::File(f) => f.sync_data(),
        };
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__get_flags(cx, this: i32, retptr: i32) {
        let r = match &*desc(&cx, this)? {
            Desc::Dir(d) => d.dir.descriptor_flags().map(|f| descriptor_flags_bits(f, true)),
            Desc::File(f) => f.descriptor_flags().map(|f| descriptor_flags_bits(f, false)),
        };
        finish(&cx, retptr, BYTE_RESULT, r, |v| Ok(vec![(0, vec![v])]))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__get_type(cx, this: i32, retptr: i32) {
        let r = match &*desc(&cx, this)? {
            Desc::Dir(_) => Ok(DescriptorType::Directory),
            Desc::File(f) => f.get_type(),
        };
        finish(&cx, retptr, BYTE_RESULT, r, |t| Ok(vec![(0, vec![descriptor_type(t)])]))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__set_size(cx, this: i32, size: i64, retptr: i32) {
        let r = desc(&cx, this)?.file().and_then(|f| f.set_size(size as u64));
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__set_times(
        cx, this: i32,
        atim: i32, atim_s: i64, atim_ns: i32,
        mtim: i32, mtim_s: i64, mtim_ns: i32,
        retptr: i32
    ) {
        let d = desc(&cx, this)?;
        let atim = timestamp_arg(&cx, atim, atim_s, atim_ns)?;
        let mtim = timestamp_arg(&cx, mtim, mtim_s, mtim_ns)?;
        let r = (|| {
            let (atim, mtim) = (new_timestamp(atim)?, new_timestamp(mtim)?);
            match &*d {
                Desc::Dir(d) => d.dir.set_times(atim, mtim),
                Desc::File(f) => f.set_times(atim, mtim),
            }
        })();
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__read(cx, this: i32, len: i64, offset: i64, retptr: i32) {
        let r = desc(&cx, this)?.file().and_then(|f| read(f, len as u64, offset as u64));
        finish(&cx, retptr, READ_RESULT, r, |(bytes, end)| {
            let (p, l) = cx.lower_bytes(&bytes)?;
            Ok(vec![(0, le32(p).to_vec()), (4, le32(l).to_vec()), (8, vec![u8::from(end)])])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__write(cx, this: i32, ptr: i32, len: i32, offset: i64, retptr: i32) {
        let d = desc(&cx, this)?;
        let bytes = cx.bytes_arg(ptr, len)?;
        let r = d.file().and_then(|f| f.write_at(&bytes, offset as u64));
        finish(&cx, retptr, FILESIZE_RESULT, r, |n| Ok(vec![(0, le64(n as u64).to_vec())]))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__read_directory(cx, this: i32, retptr: i32) {
        let r = desc(&cx, this)?.dir().and_then(Dir::read_directory);
        finish(&cx, retptr, HANDLE_RESULT, r, |entries| {
            let stream = EntryStream(Mutex::new(entries.into_iter()));
            let h = cx.push_other(rt::DIRECTORY_ENTRY_STREAM, stream)?;
            Ok(vec![(0, le32(h as u32).to_vec())])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__sync(cx, this: i32, retptr: i32) {
        let r = match &*desc(&cx, this)? {
            Desc::Dir(d) => d.dir.sync(),
            Desc::File(f) => f.sync(),
        };
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__create_directory_at(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        let r = d.dir().and_then(|dir| dir.create_directory_at(&path));
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__stat(cx, this: i32, retptr: i32) {
        let r = desc(&cx, this)?.stat();
        finish(&cx, retptr, STAT_RESULT, r, |s| Ok(stat_fields(&s)))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__stat_at(cx, this: i32, path_flags: i32, ptr: i32, len: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        let r = d.dir().and_then(|dir| dir.stat_at(follow(path_flags), &path));
        finish(&cx, retptr, STAT_RESULT, r, |s| Ok(stat_fields(&s)))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__set_times_at(
        cx, this: i32, path_flags: i32, ptr: i32, len: i32,
        atim: i32, atim_s: i64, atim_ns: i32,
        mtim: i32, mtim_s: i64, mtim_ns: i32,
        retptr: i32
    ) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        let atim = timestamp_arg(&cx, atim, atim_s, atim_ns)?;
        let mtim = timestamp_arg(&cx, mtim, mtim_s, mtim_ns)?;
        let r = d.dir().and_then(|dir| {
            let (atim, mtim) = (new_timestamp(atim)?, new_timestamp(mtim)?);
            dir.set_times_at(follow(path_flags), &path, atim, mtim)
        });
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__link_at(
        cx, this: i32, old_path_flags: i32, old_ptr: i32, old_len: i32,
        new_desc: i32, new_ptr: i32, new_len: i32, retptr: i32
    ) {
        let old = desc(&cx, this)?;
        let old_path = cx.string_arg(old_ptr, old_len)?;
        let new = desc(&cx, new_desc)?;
        let new_path = cx.string_arg(new_ptr, new_len)?;
        let r = old.dir().and_then(|old_dir| {
            old_dir.link_at(follow(old_path_flags), &old_path, new.dir()?, &new_path)
        });
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__open_at(
        cx, this: i32, path_flags: i32, ptr: i32, len: i32, oflags: i32, flags: i32, retptr: i32
    ) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        let r = d.dir().and_then(|dir| {
            dir.open_at(follow(path_flags), &path, open_flags(oflags), descriptor_flags_arg(flags))
        });
        finish(&cx, retptr, HANDLE_RESULT, r, |opened| {
            let d = match opened {
                Opened::Dir(dir) => Desc::Dir(Arc::new(DirDesc { dir, preopen_path: None })),
                Opened::File(file) => Desc::File(Arc::new(file)),
            };
            Ok(vec![(0, le32(push_desc(&cx, d)? as u32).to_vec())])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__readlink_at(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        let r = d.dir().and_then(|dir| dir.readlink_at(&path));
        finish(&cx, retptr, STRING_RESULT, r, |target| {
            let (p, l) = cx.lower_bytes(target.as_bytes())?;
            Ok(vec![(0, le32(p).to_vec()), (4, le32(l).to_vec())])
        })
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__remove_directory_at(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        unit(&cx, retptr, d.dir().and_then(|dir| dir.remove_directory_at(&path)))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__rename_at(
        cx, this: i32, old_ptr: i32, old_len: i32, new_desc: i32, new_ptr: i32, new_len: i32, retptr: i32
    ) {
        let old = desc(&cx, this)?;
        let old_path = cx.string_arg(old_ptr, old_len)?;
        let new = desc(&cx, new_desc)?;
        let new_path = cx.string_arg(new_ptr, new_len)?;
        let r = old
            .dir()
            .and_then(|old_dir| old_dir.rename_at(&old_path, new.dir()?, &new_path));
        unit(&cx, retptr, r)
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__symlink_at(
        cx, this: i32, old_ptr: i32, old_len: i32, new_ptr: i32, new_len: i32, retptr: i32
    ) {
        let d = desc(&cx, this)?;
        let target = cx.string_arg(old_ptr, old_len)?;
        let link = cx.string_arg(new_ptr, new_len)?;
        unit(&cx, retptr, d.dir().and_then(|dir| dir.symlink_at(&target, &link)))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__unlink_file_at(cx, this: i32, ptr: i32, len: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        unit(&cx, retptr, d.dir().and_then(|dir| dir.unlink_file_at(&path)))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__is_same_object(cx, this: i32, other: i32) -> i32 {
        let a = desc(&cx, this)?;
        let b = desc(&cx, other)?;
        let identity = |d: &Desc| match d {
            Desc::Dir(d) => d.dir.identity(),
            Desc::File(f) => f.identity(),
        };
        // wasmtime lets no error through this function's `bool`: it traps.
        match (identity(&a), identity(&b)) {
            (Ok(x), Ok(y)) => Ok(i32::from(x == y)),
            (Err(e), _) | (_, Err(e)) => Err(cx.trap(format!("is-same-object: {e:?}"))),
        }
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__metadata_hash(cx, this: i32, retptr: i32) {
        let r = desc(&cx, this)?.stat().map(|s| s.hash);
        finish(&cx, retptr, HASH_RESULT, r, |h| Ok(hash_fields(h)))
    }

    fn aot_wasi_p2_filesystem__types__method__descriptor__metadata_hash_at(cx, this: i32, path_flags: i32, ptr: i32, len: i32, retptr: i32) {
        let d = desc(&cx, this)?;
        let path = cx.string_arg(ptr, len)?;
        let r = d.dir().and_then(|dir| dir.stat_at(follow(path_flags), &path)).map(|s| s.hash);
        finish(&cx, retptr, HASH_RESULT, r, |h| Ok(hash_fields(h)))
    }

    fn aot_wasi_p2_filesystem__types__resource_drop__descriptor(cx, handle: i32) {
        cx.drop_handle(handle, rt::DESCRIPTOR)?;
        Ok(())
    }

    fn aot_wasi_p2_filesystem__types__method__directory_entry_stream__read_directory_entry(cx, this: i32, retptr: i32) {
        let stream = cx.get_other::<EntryStream>(this, rt::DIRECTORY_ENTRY_STREAM)?;
        let next = stream.0.locked().next();
        finish(&cx, retptr, ENTRY_RESULT, next.transpose(), |entry| {
            let lowered = match entry {
                None => None,
                Some(e) => {
                    let (p, l) = cx.lower_bytes(e.name.as_bytes())?;
                    Some((e.type_, p, l))
                }
            };
            Ok(entry_fields(lowered))
        })
    }

    fn aot_wasi_p2_filesystem__types__resource_drop__directory_entry_stream(cx, handle: i32) {
        cx.drop_handle(handle, rt::DIRECTORY_ENTRY_STREAM)?;
        Ok(())
    }

    fn aot_wasi_p2_filesystem__types__filesystem_error_code(cx, err: i32, retptr: i32) {
        let code = match cx.get(err, rt::ERROR)? {
            Object::Error(e) => stream_error_code(&e),
            _ => return Err(cx.trap(format!("handle index {err} used with the wrong type"))),
        };
        // option<error-code>: Some is discriminant 1, the code at 1.
        store(&cx, retptr, BYTE_RESULT, &[(0, vec![1]), (1, vec![error_code(code)])])
    }

    fn aot_wasi_p2_filesystem__preopens__get_directories(cx, retptr: i32) {
        let dirs = preopens(&cx);
        let n = u32::try_from(dirs.len()).map_err(|_| cx.trap("list too long"))?;
        let size = n.checked_mul(PREOPEN_SIZE).ok_or_else(|| cx.trap("list too long"))?;
        let array = cx.alloc(size, 4)?;
        for (i, (dir, name)) in dirs.into_iter().enumerate() {
            let h = push_desc(&cx, Desc::Dir(dir))?;
            let (p, l) = cx.lower_bytes(name.as_bytes())?;
            let at = array + PREOPEN_SIZE * i as u32;
            cx.ret(at as i32, 4, &[(0, &le32(h as u32)), (4, &le32(p)), (8, &le32(l))])?;
        }
        store(&cx, retptr, LIST, &[(0, le32(array).to_vec()), (4, le32(n).to_vec())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_numbered_as_the_wit_lists_them() {
        use ErrorCode::*;
        // filesystem.wit's `enum error-code`, in order.
        let wit = [
            Access,
            WouldBlock,
            Already,
            BadDescriptor,
            Busy,
            Deadlock,
            Quota,
            Exist,
            FileTooLarge,
            IllegalByteSequence,
            InProgress,
            Interrupted,
            Invalid,
            Io,
            IsDirectory,
            Loop,
            TooManyLinks,
            MessageSize,
            NameTooLong,
            NoDevice,
            NoEntry,
            NoLock,
            InsufficientMemory,
            InsufficientSpace,
            NotDirectory,
            NotEmpty,
            NotRecoverable,
            Unsupported,
            NoTty,
            NoSuchDevice,
            Overflow,
            NotPermitted,
            Pipe,
            ReadOnly,
            InvalidSeek,
            TextFileBusy,
            CrossDevice,
        ];
        for (i, code) in wit.into_iter().enumerate() {
            assert_eq!(usize::from(error_code(code)), i, "{code:?}");
        }
    }

    /// Every layout written here is the one the contract's canonical ABI rules give the
    /// WIT type (`descriptor-type` has 8 cases, `error-code` 37, `descriptor-flags` 6).
    #[test]
    fn layouts_are_the_canonical_abis() {
        use aot_abi::ctypes::CType as C;
        let code = || Some(C::enumeration(37));
        let datetime = C::Record(vec![C::U64, C::U32]);
        let stat_fields = vec![
            C::enumeration(8),
            C::U64,
            C::U64,
            C::option(datetime.clone()),
            C::option(datetime.clone()),
            C::option(datetime.clone()),
        ];
        let entry = C::Record(vec![C::enumeration(8), C::String]);
        let preopen = C::Record(vec![C::Own(0), C::String]);
        let cases = [
            (BYTE_RESULT, C::result(None, code())),
            (BYTE_RESULT, C::result(Some(C::enumeration(8)), code())),
            (BYTE_RESULT, C::result(Some(C::Flags(6)), code())),
            (BYTE_RESULT, C::option(C::enumeration(37))),
            (HANDLE_RESULT, C::result(Some(C::Own(0)), code())),
            (STRING_RESULT, C::result(Some(C::String), code())),
            (
                READ_RESULT,
                C::result(
                    Some(C::Record(vec![C::List(Box::new(C::U8)), C::Bool])),
                    code(),
                ),
            ),
            (FILESIZE_RESULT, C::result(Some(C::U64), code())),
            (
                STAT_RESULT,
                C::result(Some(C::Record(stat_fields.clone())), code()),
            ),
            (
                HASH_RESULT,
                C::result(Some(C::Record(vec![C::U64, C::U64])), code()),
            ),
            (
                ENTRY_RESULT,
                C::result(Some(C::option(entry.clone())), code()),
            ),
        ];
        for (layout, t) in cases {
            let C::Variant(variant) = &t else {
                unreachable!()
            };
            assert_eq!(
                (layout.size, layout.align, layout.payload),
                (t.size(), t.align(), C::payload_offset(variant)),
                "{t:?}"
            );
        }
        let list = C::List(Box::new(preopen.clone()));
        assert_eq!((LIST.size, LIST.align), (list.size(), list.align()));
        assert_eq!(PREOPEN_SIZE, preopen.size());
        assert_eq!(C::field_offsets(&[C::Own(0), C::String]), [0, 4]);
        // The offsets stat_fields, option_datetime and entry_fields write at.
        assert_eq!(C::field_offsets(&stat_fields), [0, 8, 16, 24, 48, 72]);
        assert_eq!(C::Record(stat_fields).size(), 96);
        assert_eq!(C::payload_offset(&[None, Some(datetime.clone())]), 8);
        assert_eq!(C::field_offsets(&[C::U64, C::U32]), [0, 8]);
        assert_eq!(C::payload_offset(&[None, Some(entry)]), 4);
        assert_eq!(C::field_offsets(&[C::enumeration(8), C::String]), [0, 4]);
        assert_eq!(
            C::field_offsets(&[C::List(Box::new(C::U8)), C::Bool]),
            [0, 8]
        );
    }

    fn stat() -> DescriptorStat {
        DescriptorStat {
            type_: DescriptorType::RegularFile,
            link_count: 2,
            size: 0x1_0000_0003,
            data_access_timestamp: Some(Datetime {
                seconds: 7,
                nanoseconds: 9,
            }),
            data_modification_timestamp: None,
            status_change_timestamp: Some(Datetime {
                seconds: u64::MAX,
                nanoseconds: 999_999_999,
            }),
            hash: MetadataHashValue { lower: 1, upper: 2 },
        }
    }

    /// The bytes `fields` leave in a `size`-byte area first filled with 0xee.
    fn area(size: usize, fields: &Fields) -> Vec<u8> {
        let mut out = vec![0xee; size];
        for (at, bytes) in fields {
            out[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        out
    }

    #[test]
    fn a_stat_result_has_its_payload_at_8_and_options_of_24_bytes() {
        let bytes = area(104, &result_fields(STAT_RESULT, Ok(stat_fields(&stat()))));
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(bytes[0], 0, "ok");
        assert_eq!(bytes[8], 6, "regular-file");
        assert_eq!(u64_at(16), 2, "link-count");
        assert_eq!(u64_at(24), 0x1_0000_0003, "size");
        assert_eq!((bytes[32], u64_at(40), u32_at(48)), (1, 7, 9), "access");
        assert_eq!(bytes[56], 0, "modification: none");
        assert_eq!(
            &bytes[57..80],
            &[0xee; 23],
            "a none leaves its payload alone"
        );
        assert_eq!(
            (bytes[80], u64_at(88), u32_at(96)),
            (1, u64::MAX, 999_999_999),
            "status change"
        );
        assert_eq!(&bytes[100..], &[0xee; 4], "trailing padding");
        assert_eq!(&bytes[1..8], &[0xee; 7], "padding after the discriminant");

        let err = area(104, &result_fields(STAT_RESULT, Err(ErrorCode::NoEntry)));
        assert_eq!(
            &err[..9],
            &[1, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 20]
        );
        assert!(err[9..].iter().all(|&b| b == 0xee));
    }

    #[test]
    fn small_results_put_the_payload_after_the_discriminant() {
        assert_eq!(
            area(
                2,
                &result_fields(BYTE_RESULT, Err(ErrorCode::BadDescriptor))
            ),
            [1, 3]
        );
        assert_eq!(
            area(2, &result_fields(BYTE_RESULT, Ok(vec![(0, vec![5])]))),
            [0, 5]
        );
        assert_eq!(
            area(2, &result_fields(BYTE_RESULT, Ok(Vec::new()))),
            [0, 0xee]
        );
        assert_eq!(
            area(
                8,
                &result_fields(HANDLE_RESULT, Ok(vec![(0, le32(9).to_vec())]))
            ),
            [0, 0xee, 0xee, 0xee, 9, 0, 0, 0]
        );
        assert_eq!(
            area(
                8,
                &result_fields(HANDLE_RESULT, Err(ErrorCode::IsDirectory))
            ),
            [1, 0xee, 0xee, 0xee, 14, 0xee, 0xee, 0xee]
        );
        let written = area(
            16,
            &result_fields(FILESIZE_RESULT, Ok(vec![(0, le64(1 << 40).to_vec())])),
        );
        assert_eq!(written[0], 0);
        assert_eq!(&written[8..], &(1u64 << 40).to_le_bytes());
    }

    #[test]
    fn directory_entries_and_hashes_lay_out_as_the_abi_says() {
        let some = area(
            20,
            &result_fields(
                ENTRY_RESULT,
                Ok(entry_fields(Some((DescriptorType::Directory, 0x100, 3)))),
            ),
        );
        assert_eq!(
            some,
            [
                0, 0xee, 0xee, 0xee, // ok
                1, 0xee, 0xee, 0xee, // some
                3, 0xee, 0xee, 0xee, // directory
                0, 1, 0, 0, // name pointer
                3, 0, 0, 0, // name length
            ]
        );
        let none = area(20, &result_fields(ENTRY_RESULT, Ok(entry_fields(None))));
        assert_eq!(&none[..8], &[0, 0xee, 0xee, 0xee, 0, 0xee, 0xee, 0xee]);
        let hash = area(
            24,
            &result_fields(
                HASH_RESULT,
                Ok(hash_fields(MetadataHashValue { lower: 3, upper: 4 })),
            ),
        );
        assert_eq!(hash[0], 0);
        assert_eq!(&hash[8..16], &3u64.to_le_bytes());
        assert_eq!(&hash[16..24], &4u64.to_le_bytes());
    }

    #[test]
    fn flags_are_decoded_bit_by_bit_and_unknown_bits_ignored() {
        assert_eq!(
            open_flags(0b1101 | 0x100),
            OpenFlags {
                create: true,
                directory: false,
                exclusive: true,
                truncate: true
            }
        );
        let asked = descriptor_flags_arg(0b10_0011 | 0x40);
        assert!(asked.read && asked.write && !asked.file_integrity_sync);
        assert!(follow(1) && !follow(2));
        let rw = DescriptorFlags {
            read: true,
            write: true,
            ..DescriptorFlags::default()
        };
        assert_eq!(descriptor_flags_bits(rw, false), 0b11);
        assert_eq!(descriptor_flags_bits(rw, true), 0b10_0001);
        let synced = DescriptorFlags {
            file_integrity_sync: true,
            data_integrity_sync: true,
            requested_write_sync: true,
            ..DescriptorFlags::default()
        };
        assert_eq!(descriptor_flags_bits(synced, false), 0b1_1100);
    }

    #[test]
    fn timestamps_carry_nanoseconds_and_overflow_past_i64_seconds() {
        let at = |seconds, nanoseconds| {
            new_timestamp(TimestampArg::At {
                seconds,
                nanoseconds,
            })
        };
        assert_eq!(
            at(5, 2_500_000_000),
            Ok(NewTimestamp::Timestamp(Datetime {
                seconds: 7,
                nanoseconds: 500_000_000
            }))
        );
        assert_eq!(
            at(i64::MAX as u64, 0),
            Ok(NewTimestamp::Timestamp(Datetime {
                seconds: i64::MAX as u64,
                nanoseconds: 0
            }))
        );
        assert_eq!(at(i64::MAX as u64, 1_000_000_000), Err(ErrorCode::Overflow));
        assert_eq!(at(u64::MAX, 4_000_000_000), Err(ErrorCode::Overflow));
        assert_eq!(new_timestamp(TimestampArg::Now), Ok(NewTimestamp::Now));
    }

    #[test]
    fn stream_errors_give_the_filesystem_code_they_carry_or_the_os_errors() {
        let carried = std::io::Error::other(FsError(ErrorCode::BadDescriptor));
        assert_eq!(stream_error_code(&carried), ErrorCode::BadDescriptor);
        let os = std::io::Error::from(rustix::io::Errno::PIPE);
        assert_eq!(stream_error_code(&os), ErrorCode::Pipe);
        let other = std::io::Error::other("something else");
        assert_eq!(stream_error_code(&other), ErrorCode::Io);
    }

    #[test]
    fn reads_stop_at_64_kib_and_report_the_end_only_on_nothing_read() {
        use crate::wasi::filesystem::tests::Tree;
        let tree = Tree::new("p2-read");
        let dir = tree.sandbox();
        let flags = DescriptorFlags {
            read: true,
            ..DescriptorFlags::default()
        };
        let Ok(Opened::File(f)) = dir.open_at(true, "file.txt", OpenFlags::default(), flags) else {
            panic!("open file.txt");
        };
        assert_eq!(read(&f, 100, 0), Ok((b"hello\n".to_vec(), false)));
        assert_eq!(read(&f, 2, 4), Ok((b"o\n".to_vec(), false)));
        assert_eq!(read(&f, 100, 6), Ok((Vec::new(), true)));
        assert_eq!(read(&f, 0, 0), Ok((Vec::new(), true)));
        assert_eq!(read(&f, u64::MAX, 0).map(|(b, _)| b.len()), Ok(6));
        assert_eq!(
            f.write_at(b"x", 0),
            Err(ErrorCode::BadDescriptor),
            "a read-only file refuses writes"
        );
        assert_eq!(
            f.descriptor_flags()
                .map(|fl| descriptor_flags_bits(fl, false)),
            Ok(bits::READ)
        );
        assert_eq!(
            dir.descriptor_flags()
                .map(|fl| descriptor_flags_bits(fl, true)),
            Ok(bits::READ | bits::MUTATE_DIRECTORY),
            "a preopen"
        );
        assert_eq!(f.identity(), f.identity());
        assert_ne!(f.identity().ok(), dir.identity().ok());
        let Ok(Opened::Dir(same)) = dir.open_at(true, ".", OpenFlags::default(), flags) else {
            panic!("open .");
        };
        assert_eq!(same.identity(), dir.identity());
        assert_eq!(same.sync(), Ok(()));
        assert_eq!(
            dir.sync_data(),
            Ok(()),
            "a preopen's O_PATH handle can be synced"
        );
    }
}
