//! The `wasi:filesystem` host objects: directories and files, in the shape of WASI 0.2's
//! `descriptor` resource, so that preview 1 (and later 0.2) are thin faces over them.
//!
//! All path resolution goes through cap-std: a path is always resolved beneath a [`Dir`]
//! handle, and cap-std refuses any `..`, absolute path or symlink that would leave it
//! (`NotPermitted`). Nothing here joins, normalises or inspects paths by hand.
//!
//! Behaviour follows wasmtime's `wasmtime-wasi` (49), whose `wasmtime run` grants
//! preopened directories full read and mutate rights: the same cap-std calls, the same
//! open options and the same mapping of OS errors to [`ErrorCode`]. Every function blocks
//! the calling thread; there is nothing else to run meanwhile.

use std::io;
use std::num::NonZeroU64;
use std::path::{Component, Path};
use std::time::SystemTime;

use cap_fs_ext::{
    DirExt, FileTypeExt, FollowSymlinks, MetadataExt, OpenOptionsFollowExt, OpenOptionsMaybeDirExt,
    SystemTimeSpec,
};
use cap_std::fs::{Metadata, OpenOptions, OpenOptionsExt};
use rustix::fd::AsFd;
use rustix::fs::{
    Advice as OsAdvice, AtFlags, FileType, OFlags, Statx, StatxFlags, Timespec, Timestamps,
};

/// `wasi:filesystem/types.error-code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(
    dead_code,
    reason = "the full WASI 0.2 enumeration; not every code is produced on Linux"
)]
pub enum ErrorCode {
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
}

pub type FsResult<T> = Result<T, ErrorCode>;

impl From<&io::Error> for ErrorCode {
    /// wasmtime's mapping: the errnos it knows by number, then a few `io::ErrorKind`s
    /// (cap-std reports a sandbox escape as `PermissionDenied` without an errno), then `Io`.
    fn from(err: &io::Error) -> ErrorCode {
        use rustix::io::Errno as E;
        if let Some(raw) = err.raw_os_error() {
            let code = match E::from_raw_os_error(raw) {
                E::PIPE => Some(ErrorCode::Pipe),
                E::PERM => Some(ErrorCode::NotPermitted),
                E::NOENT => Some(ErrorCode::NoEntry),
                E::NOMEM => Some(ErrorCode::InsufficientMemory),
                E::IO => Some(ErrorCode::Io),
                E::BADF => Some(ErrorCode::BadDescriptor),
                E::BUSY => Some(ErrorCode::Busy),
                E::ACCESS => Some(ErrorCode::Access),
                E::NOTDIR => Some(ErrorCode::NotDirectory),
                E::ISDIR => Some(ErrorCode::IsDirectory),
                E::INVAL => Some(ErrorCode::Invalid),
                E::EXIST => Some(ErrorCode::Exist),
                E::FBIG => Some(ErrorCode::FileTooLarge),
                E::NOSPC => Some(ErrorCode::InsufficientSpace),
                E::SPIPE => Some(ErrorCode::InvalidSeek),
                E::MLINK => Some(ErrorCode::TooManyLinks),
                E::NAMETOOLONG => Some(ErrorCode::NameTooLong),
                E::NOTEMPTY => Some(ErrorCode::NotEmpty),
                E::LOOP => Some(ErrorCode::Loop),
                E::OVERFLOW => Some(ErrorCode::Overflow),
                E::ILSEQ => Some(ErrorCode::IllegalByteSequence),
                E::NOTSUP => Some(ErrorCode::Unsupported),
                E::ALREADY => Some(ErrorCode::Already),
                E::INPROGRESS => Some(ErrorCode::InProgress),
                E::INTR => Some(ErrorCode::Interrupted),
                _ => None,
            };
            if let Some(code) = code {
                return code;
            }
        }
        match err.kind() {
            io::ErrorKind::NotFound => ErrorCode::NoEntry,
            io::ErrorKind::PermissionDenied => ErrorCode::NotPermitted,
            io::ErrorKind::AlreadyExists => ErrorCode::Exist,
            io::ErrorKind::InvalidInput => ErrorCode::Invalid,
            _ => ErrorCode::Io,
        }
    }
}

impl From<io::Error> for ErrorCode {
    fn from(err: io::Error) -> ErrorCode {
        ErrorCode::from(&err)
    }
}

impl From<rustix::io::Errno> for ErrorCode {
    fn from(err: rustix::io::Errno) -> ErrorCode {
        ErrorCode::from(io::Error::from(err))
    }
}

/// `descriptor-type`, as wasmtime derives it from a file type (FIFOs and sockets are
/// `Unknown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorType {
    Unknown,
    BlockDevice,
    CharacterDevice,
    Directory,
    SymbolicLink,
    RegularFile,
}

impl DescriptorType {
    fn of_mode(mode: u16) -> DescriptorType {
        match FileType::from_raw_mode(mode.into()) {
            FileType::Directory => DescriptorType::Directory,
            FileType::Symlink => DescriptorType::SymbolicLink,
            FileType::BlockDevice => DescriptorType::BlockDevice,
            FileType::CharacterDevice => DescriptorType::CharacterDevice,
            FileType::RegularFile => DescriptorType::RegularFile,
            _ => DescriptorType::Unknown,
        }
    }

    fn of(ft: cap_std::fs::FileType) -> DescriptorType {
        if ft.is_dir() {
            DescriptorType::Directory
        } else if ft.is_symlink() {
            DescriptorType::SymbolicLink
        } else if ft.is_block_device() {
            DescriptorType::BlockDevice
        } else if ft.is_char_device() {
            DescriptorType::CharacterDevice
        } else if ft.is_file() {
            DescriptorType::RegularFile
        } else {
            DescriptorType::Unknown
        }
    }
}

/// `wasi:clocks/wall-clock.datetime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datetime {
    pub seconds: u64,
    pub nanoseconds: u32,
}

impl Datetime {
    /// None for times before the epoch, which WASI cannot express.
    fn of_statx(t: rustix::fs::StatxTimestamp) -> Option<Datetime> {
        Some(Datetime {
            seconds: u64::try_from(t.tv_sec).ok()?,
            nanoseconds: t.tv_nsec,
        })
    }

    /// None for times before the epoch, which WASI cannot express.
    fn of(t: SystemTime) -> Option<Datetime> {
        let d = t.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        Some(Datetime {
            seconds: d.as_secs(),
            nanoseconds: d.subsec_nanos(),
        })
    }
}

/// `descriptor-stat`. The status-change time is the file's creation (birth) time, as
/// wasmtime reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorStat {
    pub type_: DescriptorType,
    pub link_count: u64,
    pub size: u64,
    pub data_access_timestamp: Option<Datetime>,
    pub data_modification_timestamp: Option<Datetime>,
    pub status_change_timestamp: Option<Datetime>,
    /// wasmtime's `metadata-hash` of the same metadata, computed together so that preview
    /// 1 does not stat twice.
    pub hash: MetadataHashValue,
}

/// The `statx` fields [`DescriptorStat`] needs, birth time included.
const STATX_MASK: StatxFlags = StatxFlags::BASIC_STATS.union(StatxFlags::BTIME);

impl DescriptorStat {
    /// From `statx`, which (unlike std's `fstat` on musl) gives the birth time that
    /// wasmtime, built against glibc, reports.
    fn of_statx(s: &Statx) -> DescriptorStat {
        let time = |flag: StatxFlags, t| {
            if s.stx_mask & flag.bits() != 0 {
                Datetime::of_statx(t)
            } else {
                None
            }
        };
        let dev = rustix::fs::makedev(s.stx_dev_major, s.stx_dev_minor);
        DescriptorStat {
            type_: DescriptorType::of_mode(s.stx_mode),
            link_count: s.stx_nlink.into(),
            size: s.stx_size,
            data_access_timestamp: time(StatxFlags::ATIME, s.stx_atime),
            data_modification_timestamp: time(StatxFlags::MTIME, s.stx_mtime),
            status_change_timestamp: time(StatxFlags::BTIME, s.stx_btime),
            hash: MetadataHashValue::of_ids(dev, s.stx_ino),
        }
    }

    /// Stats the object `fd` refers to (an `O_PATH` descriptor works too); `fallback`
    /// gives its metadata where `statx` is unavailable (Linux before 4.11, some seccomp
    /// policies), without a birth time.
    fn of_fd(
        fd: impl AsFd,
        fallback: impl FnOnce() -> io::Result<Metadata>,
    ) -> FsResult<DescriptorStat> {
        DescriptorStat::statx_or(
            rustix::fs::statx(fd, c"", AtFlags::EMPTY_PATH, STATX_MASK),
            fallback,
        )
    }

    fn statx_or(
        result: rustix::io::Result<Statx>,
        fallback: impl FnOnce() -> io::Result<Metadata>,
    ) -> FsResult<DescriptorStat> {
        match result {
            Ok(s) => Ok(DescriptorStat::of_statx(&s)),
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                Ok(DescriptorStat::of(&fallback()?))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn of(meta: &Metadata) -> DescriptorStat {
        DescriptorStat {
            type_: DescriptorType::of(meta.file_type()),
            link_count: meta.nlink(),
            size: meta.len(),
            data_access_timestamp: meta
                .accessed()
                .ok()
                .and_then(|t| Datetime::of(t.into_std())),
            data_modification_timestamp: meta
                .modified()
                .ok()
                .and_then(|t| Datetime::of(t.into_std())),
            status_change_timestamp: meta.created().ok().and_then(|t| Datetime::of(t.into_std())),
            hash: MetadataHashValue::of(meta),
        }
    }
}

/// `metadata-hash-value`: an opaque identity of a file (preview 1 reports `lower` as the
/// inode number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetadataHashValue {
    pub lower: u64,
    pub upper: u64,
}

impl MetadataHashValue {
    /// wasmtime's hash: std's `DefaultHasher` (fixed keys) over device and inode, and the
    /// upper half xor-ed with the bits of pi, so guests see the same inode numbers.
    fn of(meta: &Metadata) -> MetadataHashValue {
        MetadataHashValue::of_ids(meta.dev(), meta.ino())
    }

    fn of_ids(dev: u64, ino: u64) -> MetadataHashValue {
        use std::hash::Hasher;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        hasher.write_u64(dev);
        hasher.write_u64(ino);
        let lower = hasher.finish();
        MetadataHashValue {
            lower,
            upper: lower ^ 4_614_256_656_552_045_848,
        }
    }
}

/// `new-timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewTimestamp {
    NoChange,
    Now,
    Timestamp(Datetime),
}

impl NewTimestamp {
    fn to_spec(self) -> FsResult<Option<SystemTimeSpec>> {
        Ok(match self {
            NewTimestamp::NoChange => None,
            NewTimestamp::Now => Some(SystemTimeSpec::SymbolicNow),
            NewTimestamp::Timestamp(t) => {
                let d = std::time::Duration::new(t.seconds, t.nanoseconds);
                let st = SystemTime::UNIX_EPOCH
                    .checked_add(d)
                    .ok_or(ErrorCode::Overflow)?;
                Some(SystemTimeSpec::Absolute(
                    cap_std::time::SystemTime::from_std(st),
                ))
            }
        })
    }

    fn to_timespec(self) -> FsResult<Timespec> {
        Ok(match self {
            NewTimestamp::NoChange => Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT,
            },
            NewTimestamp::Now => Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_NOW,
            },
            NewTimestamp::Timestamp(t) => Timespec {
                tv_sec: t.seconds.try_into().map_err(|_| ErrorCode::Overflow)?,
                tv_nsec: t.nanoseconds.into(),
            },
        })
    }
}

/// `open-flags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    pub create: bool,
    pub directory: bool,
    pub exclusive: bool,
    pub truncate: bool,
}

/// `descriptor-flags`, the ones a guest can ask for when opening.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescriptorFlags {
    pub read: bool,
    pub write: bool,
    pub file_integrity_sync: bool,
    pub data_integrity_sync: bool,
    pub requested_write_sync: bool,
}

/// `advice`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advice {
    Normal,
    Sequential,
    Random,
    WillNeed,
    DontNeed,
    NoReuse,
}

/// How a descriptor was opened: cap-std cannot read the access mode back from the OS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMode {
    pub read: bool,
    pub write: bool,
}

/// `directory-entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub type_: DescriptorType,
    pub name: String,
}

/// What identifies a file: two descriptors with equal identities refer to the same
/// object (`is-same-object`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// `get-flags`: the access mode recorded at open (the OS cannot give it back for `O_PATH`
/// descriptors) and the sync flags the OS reports, decoded as wasmtime decodes them
/// (`O_DSYNC` as requested-write-sync, `O_RSYNC` as data-integrity-sync). For a directory,
/// `write` stands for mutate-directory.
fn descriptor_flags(fd: impl AsFd, mode: OpenMode) -> FsResult<DescriptorFlags> {
    let os = rustix::fs::fcntl_getfl(fd)?;
    Ok(DescriptorFlags {
        read: mode.read,
        write: mode.write,
        file_integrity_sync: os.contains(OFlags::SYNC),
        data_integrity_sync: os.contains(OFlags::RSYNC),
        requested_write_sync: os.contains(OFlags::DSYNC),
    })
}

/// A directory descriptor.
#[derive(Debug)]
pub struct Dir {
    dir: cap_std::fs::Dir,
    open_mode: OpenMode,
}

/// A file descriptor. Reads and writes take explicit offsets; a current position is
/// preview 1 state, kept by its descriptor table.
#[derive(Debug)]
pub struct File {
    file: cap_std::fs::File,
    open_mode: OpenMode,
}

/// What [`Dir::open_at`] opened.
#[derive(Debug)]
pub enum Opened {
    Dir(Dir),
    File(File),
}

impl Dir {
    /// Opens host directory `path` with ambient authority, for a preopen grant.
    ///
    /// With `O_PATH`, as cap-std opens it for wasmtime on glibc (cap-std asks std for it,
    /// but std masks custom flags with `O_ACCMODE`, which on musl includes `O_PATH`): a
    /// preopen needs no read permission, and operations on the handle itself that need
    /// a real open file fail as under wasmtime.
    pub fn open_ambient(path: &Path) -> io::Result<Dir> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        Ok(Dir {
            dir: cap_std::fs::Dir::from_std_file(std::fs::File::from(fd)),
            open_mode: OpenMode {
                read: true,
                write: true,
            },
        })
    }

    pub fn open_mode(&self) -> OpenMode {
        self.open_mode
    }

    /// `open-at`, with wasmtime's option choices: a file not opened for writing is opened
    /// for reading, `directory` excludes create/exclusive/truncate, the sync flags are
    /// unsupported, and a directory may always be opened.
    pub fn open_at(
        &self,
        follow: bool,
        path: &str,
        oflags: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Opened> {
        let mut open_mode = OpenMode::default();
        let mut opts = OpenOptions::new();
        opts.maybe_dir(true);
        if oflags.create {
            if oflags.exclusive {
                opts.create_new(true);
            } else {
                opts.create(true);
            }
            opts.write(true);
            open_mode.write = true;
        }
        if oflags.truncate {
            opts.truncate(true).write(true);
            open_mode.write = true;
        }
        if flags.read {
            opts.read(true);
            open_mode.read = true;
        }
        if flags.write {
            opts.write(true);
            open_mode.write = true;
        } else {
            opts.read(true);
            open_mode.read = true;
        }
        opts.follow(if follow {
            FollowSymlinks::Yes
        } else {
            FollowSymlinks::No
        });
        if flags.file_integrity_sync || flags.data_integrity_sync || flags.requested_write_sync {
            return Err(ErrorCode::Unsupported);
        }
        if oflags.directory && (oflags.create || oflags.exclusive || oflags.truncate) {
            return Err(ErrorCode::Invalid);
        }
        let opened = self.dir.open_with(path, &opts)?;
        if opened.metadata()?.is_dir() {
            let dir = cap_std::fs::Dir::from_std_file(opened.into_std());
            Ok(Opened::Dir(Dir { dir, open_mode }))
        } else if oflags.directory {
            Err(ErrorCode::NotDirectory)
        } else {
            Ok(Opened::File(File {
                file: opened,
                open_mode,
            }))
        }
    }

    pub fn create_directory_at(&self, path: &str) -> FsResult<()> {
        Ok(self.dir.create_dir(path)?)
    }

    pub fn stat(&self) -> FsResult<DescriptorStat> {
        DescriptorStat::of_fd(&self.dir, || self.dir.dir_metadata())
    }

    pub fn identity(&self) -> FsResult<Identity> {
        Ok(Identity::of(&self.dir.dir_metadata()?))
    }

    pub fn descriptor_flags(&self) -> FsResult<DescriptorFlags> {
        descriptor_flags(&self.dir, self.open_mode)
    }

    /// `sync` of a directory, through a readable descriptor of it opened for the purpose
    /// (the handle may be `O_PATH`), as wasmtime does.
    pub fn sync(&self) -> FsResult<()> {
        Ok(self.open_self()?.sync_all()?)
    }

    pub fn sync_data(&self) -> FsResult<()> {
        Ok(self.open_self()?.sync_data()?)
    }

    fn open_self(&self) -> io::Result<cap_std::fs::File> {
        self.dir.open_with(".", OpenOptions::new().read(true))
    }

    /// `stat-at`, resolved as cap-std's own `metadata` resolves: a single normal component
    /// that is not followed is looked up in this directory directly (it cannot lead
    /// anywhere else), any other path is opened beneath it with `O_PATH`, then stat'ed.
    pub fn stat_at(&self, follow: bool, path: &str) -> FsResult<DescriptorStat> {
        let mut components = Path::new(path).components();
        if let (false, Some(Component::Normal(name)), None) =
            (follow, components.next(), components.next())
        {
            let result = rustix::fs::statx(&self.dir, name, AtFlags::SYMLINK_NOFOLLOW, STATX_MASK);
            return DescriptorStat::statx_or(result, || self.dir.symlink_metadata(path));
        }
        let mut opts = OpenOptions::new();
        opts.read(true)
            .maybe_dir(true)
            .follow(if follow {
                FollowSymlinks::Yes
            } else {
                FollowSymlinks::No
            })
            .custom_flags(OFlags::PATH.bits() as i32);
        let opened = self.dir.open_with(path, &opts)?;
        DescriptorStat::of_fd(&opened, || opened.metadata())
    }

    /// `metadata-hash-at` without following symlinks, which is all preview 1 needs.
    pub fn metadata_hash_at_nofollow(&self, path: &str) -> FsResult<MetadataHashValue> {
        Ok(MetadataHashValue::of(&self.dir.symlink_metadata(path)?))
    }

    /// `set-times` on the directory itself, through its descriptor as wasmtime does: a
    /// preopen's handle is `O_PATH`, which the OS refuses (`BadDescriptor`).
    pub fn set_times(&self, atim: NewTimestamp, mtim: NewTimestamp) -> FsResult<()> {
        let times = Timestamps {
            last_access: atim.to_timespec()?,
            last_modification: mtim.to_timespec()?,
        };
        Ok(rustix::fs::futimens(&self.dir, &times)?)
    }

    pub fn set_times_at(
        &self,
        follow: bool,
        path: &str,
        atim: NewTimestamp,
        mtim: NewTimestamp,
    ) -> FsResult<()> {
        let (atim, mtim) = (atim.to_spec()?, mtim.to_spec()?);
        if follow {
            Ok(self.dir.set_times(path, atim, mtim)?)
        } else {
            Ok(self.dir.set_symlink_times(path, atim, mtim)?)
        }
    }

    /// `link-at`: hard links never follow a symlink at `old_path`.
    pub fn link_at(
        &self,
        follow: bool,
        old_path: &str,
        new_dir: &Dir,
        new_path: &str,
    ) -> FsResult<()> {
        if follow {
            return Err(ErrorCode::Invalid);
        }
        Ok(self.dir.hard_link(old_path, &new_dir.dir, new_path)?)
    }

    pub fn readlink_at(&self, path: &str) -> FsResult<String> {
        let link = self.dir.read_link(path)?;
        link.into_os_string()
            .into_string()
            .map_err(|_| ErrorCode::IllegalByteSequence)
    }

    pub fn remove_directory_at(&self, path: &str) -> FsResult<()> {
        Ok(self.dir.remove_dir(path)?)
    }

    pub fn rename_at(&self, old_path: &str, new_dir: &Dir, new_path: &str) -> FsResult<()> {
        Ok(self.dir.rename(old_path, &new_dir.dir, new_path)?)
    }

    pub fn symlink_at(&self, target: &str, link_path: &str) -> FsResult<()> {
        Ok(self.dir.symlink(target, link_path)?)
    }

    pub fn unlink_file_at(&self, path: &str) -> FsResult<()> {
        Ok(self.dir.remove_file_or_symlink(path)?)
    }

    /// `read-directory`, collected eagerly (every entry's type costs a stat), in the order
    /// the OS lists them, without `.` and `..`. An entry whose name is not UTF-8 is an
    /// `IllegalByteSequence` in its place.
    pub fn read_directory(&self) -> FsResult<Vec<FsResult<DirectoryEntry>>> {
        let entries = self.dir.entries()?;
        Ok(entries
            .map(|entry| {
                let entry = entry?;
                let type_ = DescriptorType::of(entry.metadata()?.file_type());
                let name = entry
                    .file_name()
                    .into_string()
                    .map_err(|_| ErrorCode::IllegalByteSequence)?;
                Ok(DirectoryEntry { type_, name })
            })
            .collect())
    }
}

impl File {
    pub fn open_mode(&self) -> OpenMode {
        self.open_mode
    }

    pub fn get_type(&self) -> FsResult<DescriptorType> {
        Ok(DescriptorType::of(self.file.metadata()?.file_type()))
    }

    pub fn stat(&self) -> FsResult<DescriptorStat> {
        DescriptorStat::of_fd(&self.file, || self.file.metadata())
    }

    pub fn identity(&self) -> FsResult<Identity> {
        Ok(Identity::of(&self.file.metadata()?))
    }

    pub fn descriptor_flags(&self) -> FsResult<DescriptorFlags> {
        descriptor_flags(&self.file, self.open_mode)
    }

    /// Reads at `offset` into `buf`; 0 at the end of the file.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        loop {
            match rustix::io::pread(&self.file, &mut *buf, offset) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return Ok(r?),
            }
        }
    }

    /// Writes `buf` at `offset` (one write; the count may be short).
    pub fn write_at(&self, buf: &[u8], offset: u64) -> FsResult<usize> {
        loop {
            match rustix::io::pwrite(&self.file, buf, offset) {
                Err(rustix::io::Errno::INTR) => continue,
                r => return Ok(r?),
            }
        }
    }

    /// Writes `buf` at the end of the file, atomically with finding the end where the OS
    /// allows (`RWF_APPEND`, Linux 4.16), as wasmtime's `append` does.
    pub fn append(&self, buf: &[u8]) -> FsResult<usize> {
        let slices = [io::IoSlice::new(buf)];
        loop {
            match rustix::io::pwritev2(&self.file, &slices, 0, rustix::io::ReadWriteFlags::APPEND) {
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP) => break,
                r => return Ok(r?),
            }
        }
        let end = self.file.metadata()?.len();
        self.write_at(buf, end)
    }

    pub fn set_size(&self, size: u64) -> FsResult<()> {
        Ok(self.file.set_len(size)?)
    }

    pub fn set_times(&self, atim: NewTimestamp, mtim: NewTimestamp) -> FsResult<()> {
        let times = Timestamps {
            last_access: atim.to_timespec()?,
            last_modification: mtim.to_timespec()?,
        };
        Ok(rustix::fs::futimens(&self.file, &times)?)
    }

    pub fn sync(&self) -> FsResult<()> {
        Ok(self.file.sync_all()?)
    }

    pub fn sync_data(&self) -> FsResult<()> {
        Ok(self.file.sync_data()?)
    }

    pub fn advise(&self, offset: u64, len: u64, advice: Advice) -> FsResult<()> {
        let advice = match advice {
            Advice::Normal => OsAdvice::Normal,
            Advice::Sequential => OsAdvice::Sequential,
            Advice::Random => OsAdvice::Random,
            Advice::WillNeed => OsAdvice::WillNeed,
            Advice::DontNeed => OsAdvice::DontNeed,
            Advice::NoReuse => OsAdvice::NoReuse,
        };
        Ok(rustix::fs::fadvise(
            &self.file,
            offset,
            NonZeroU64::new(len),
            advice,
        )?)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A scratch tree: `root/sandbox/{file.txt, sub/inner.txt, links...}` and
    /// `root/outside.txt`, removed on drop.
    pub(crate) struct Tree {
        pub root: std::path::PathBuf,
    }

    impl Tree {
        pub(crate) fn new(tag: &str) -> Tree {
            let root = std::env::temp_dir().join(format!("aot-wasi-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let sandbox = root.join("sandbox");
            std::fs::create_dir_all(sandbox.join("sub")).unwrap();
            std::fs::write(sandbox.join("file.txt"), "hello\n").unwrap();
            std::fs::write(sandbox.join("sub/inner.txt"), "inner\n").unwrap();
            std::fs::write(root.join("outside.txt"), "secret\n").unwrap();
            symlink("../outside.txt", sandbox.join("link_out")).unwrap();
            symlink("/etc/hostname", sandbox.join("link_abs")).unwrap();
            symlink("file.txt", sandbox.join("link_in")).unwrap();
            symlink("..", sandbox.join("link_up")).unwrap();
            Tree { root }
        }

        pub(crate) fn sandbox(&self) -> Dir {
            Dir::open_ambient(&self.root.join("sandbox")).unwrap()
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    const READ: DescriptorFlags = DescriptorFlags {
        read: true,
        write: false,
        file_integrity_sync: false,
        data_integrity_sync: false,
        requested_write_sync: false,
    };

    fn open(dir: &Dir, follow: bool, path: &str) -> FsResult<Opened> {
        dir.open_at(follow, path, OpenFlags::default(), READ)
    }

    #[test]
    fn escapes_from_the_sandbox_are_not_permitted() {
        let tree = Tree::new("escape");
        let d = tree.sandbox();
        for path in [
            "../outside.txt",
            "/etc/passwd",
            "sub/../../outside.txt",
            "..",
            "link_up/outside.txt",
        ] {
            assert_eq!(
                open(&d, true, path).err(),
                Some(ErrorCode::NotPermitted),
                "open {path}"
            );
            assert_eq!(
                d.stat_at(true, path).err(),
                Some(ErrorCode::NotPermitted),
                "stat {path}"
            );
        }
        // Symlinks that lead out: refused when followed; not following them is a loop error
        // for open (O_NOFOLLOW) and the link itself for stat.
        for link in ["link_out", "link_abs"] {
            assert_eq!(
                open(&d, true, link).err(),
                Some(ErrorCode::NotPermitted),
                "{link}"
            );
            assert_eq!(open(&d, false, link).err(), Some(ErrorCode::Loop), "{link}");
            assert_eq!(
                d.stat_at(false, link).map(|s| s.type_),
                Ok(DescriptorType::SymbolicLink)
            );
        }
        assert_eq!(
            d.create_directory_at("../made").err(),
            Some(ErrorCode::NotPermitted)
        );
        assert!(!tree.root.join("made").exists());
        assert_eq!(
            d.unlink_file_at("../outside.txt").err(),
            Some(ErrorCode::NotPermitted)
        );
        assert!(tree.root.join("outside.txt").exists());
        assert_eq!(
            d.symlink_at("/etc/passwd", "abs").err(),
            Some(ErrorCode::NotPermitted)
        );
        assert_eq!(
            d.rename_at("file.txt", &d, "../moved").err(),
            Some(ErrorCode::NotPermitted)
        );
        assert_eq!(
            d.link_at(false, "file.txt", &d, "../linked").err(),
            Some(ErrorCode::NotPermitted)
        );
    }

    #[test]
    fn paths_inside_the_sandbox_resolve() {
        let tree = Tree::new("inside");
        let d = tree.sandbox();
        let Ok(Opened::File(f)) = open(&d, true, "sub/../link_in") else {
            panic!("a symlink inside the sandbox opens");
        };
        let mut buf = [0u8; 16];
        assert_eq!(f.read_at(&mut buf, 1), Ok(5));
        assert_eq!(&buf[..5], b"ello\n");
        assert_eq!(
            f.open_mode(),
            OpenMode {
                read: true,
                write: false
            }
        );
        assert!(matches!(open(&d, true, "."), Ok(Opened::Dir(_))));
        assert!(matches!(open(&d, true, "sub"), Ok(Opened::Dir(_))));
        assert_eq!(open(&d, true, "missing").err(), Some(ErrorCode::NoEntry));
        assert_eq!(open(&d, true, "").err(), Some(ErrorCode::NoEntry));
        assert_eq!(
            open(&d, true, "file.txt/").err(),
            Some(ErrorCode::NotDirectory)
        );
        let dir_only = OpenFlags {
            directory: true,
            ..OpenFlags::default()
        };
        assert_eq!(
            d.open_at(true, "file.txt", dir_only, READ).err(),
            Some(ErrorCode::NotDirectory)
        );
        let bad = OpenFlags {
            directory: true,
            create: true,
            ..OpenFlags::default()
        };
        assert_eq!(
            d.open_at(true, "x", bad, READ).err(),
            Some(ErrorCode::Invalid)
        );
        let sync = DescriptorFlags {
            file_integrity_sync: true,
            ..READ
        };
        assert_eq!(
            d.open_at(true, "file.txt", OpenFlags::default(), sync)
                .err(),
            Some(ErrorCode::Unsupported)
        );
    }

    #[test]
    fn files_are_created_written_appended_and_removed() {
        let tree = Tree::new("write");
        let d = tree.sandbox();
        let create = OpenFlags {
            create: true,
            exclusive: true,
            ..OpenFlags::default()
        };
        let rw = DescriptorFlags {
            write: true,
            ..READ
        };
        let Ok(Opened::File(f)) = d.open_at(true, "new.txt", create, rw) else {
            panic!("create");
        };
        assert_eq!(
            d.open_at(true, "new.txt", create, rw).err(),
            Some(ErrorCode::Exist)
        );
        assert_eq!(f.write_at(b"hello world", 0), Ok(11));
        assert_eq!(f.write_at(b"HE", 0), Ok(2));
        assert_eq!(f.append(b"!"), Ok(1));
        assert_eq!(
            std::fs::read(tree.root.join("sandbox/new.txt")).unwrap(),
            b"HEllo world!"
        );
        f.set_size(2).unwrap();
        assert_eq!(f.stat().map(|s| s.size), Ok(2));
        let t = Datetime {
            seconds: 1_000_000,
            nanoseconds: 5,
        };
        f.set_times(NewTimestamp::Timestamp(t), NewTimestamp::NoChange)
            .unwrap();
        assert_eq!(f.stat().map(|s| s.data_access_timestamp), Ok(Some(t)));
        d.set_times_at(
            true,
            "new.txt",
            NewTimestamp::NoChange,
            NewTimestamp::Timestamp(t),
        )
        .unwrap();
        assert_eq!(
            d.stat_at(true, "new.txt")
                .map(|s| s.data_modification_timestamp),
            Ok(Some(t))
        );
        let at_t = NewTimestamp::Timestamp(t);
        assert_eq!(
            d.set_times(at_t, at_t),
            Err(ErrorCode::BadDescriptor),
            "O_PATH preopen"
        );
        let Ok(Opened::Dir(sub)) = open(&d, true, "sub") else {
            panic!("open sub");
        };
        sub.set_times(at_t, at_t).unwrap();
        assert_eq!(
            sub.stat().map(|s| s.data_modification_timestamp),
            Ok(Some(t))
        );
        d.create_directory_at("dir").unwrap();
        assert_eq!(d.create_directory_at("dir").err(), Some(ErrorCode::Exist));
        d.rename_at("new.txt", &d, "dir/moved.txt").unwrap();
        d.link_at(false, "dir/moved.txt", &d, "dir/hard.txt")
            .unwrap();
        assert_eq!(
            d.link_at(true, "dir/moved.txt", &d, "dir/x").err(),
            Some(ErrorCode::Invalid)
        );
        assert_eq!(
            d.stat_at(false, "dir/hard.txt").map(|s| s.link_count),
            Ok(2)
        );
        d.symlink_at("moved.txt", "dir/sym").unwrap();
        assert_eq!(d.readlink_at("dir/sym").as_deref(), Ok("moved.txt"));
        assert_eq!(
            d.readlink_at("dir/moved.txt").err(),
            Some(ErrorCode::Invalid)
        );
        assert_eq!(
            d.remove_directory_at("dir").err(),
            Some(ErrorCode::NotEmpty)
        );
        assert_eq!(d.unlink_file_at("dir").err(), Some(ErrorCode::IsDirectory));
        assert_eq!(
            d.remove_directory_at("dir/sym").err(),
            Some(ErrorCode::NotDirectory)
        );
        for name in ["dir/sym", "dir/hard.txt", "dir/moved.txt"] {
            d.unlink_file_at(name).unwrap();
        }
        d.remove_directory_at("dir").unwrap();
        assert_eq!(d.remove_directory_at("dir").err(), Some(ErrorCode::NoEntry));
    }

    #[test]
    fn directory_listings_omit_dot_entries_and_give_types() {
        let tree = Tree::new("list");
        let d = tree.sandbox();
        let mut entries: Vec<_> = d
            .read_directory()
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.type_)).collect();
        use DescriptorType::*;
        assert_eq!(
            names,
            [
                ("file.txt", RegularFile),
                ("link_abs", SymbolicLink),
                ("link_in", SymbolicLink),
                ("link_out", SymbolicLink),
                ("link_up", SymbolicLink),
                ("sub", Directory)
            ]
        );
    }

    #[test]
    fn every_way_of_stating_a_file_agrees() {
        // Birth times come from statx on every path (std's fstat on musl has none), so a
        // file stat'ed by descriptor, by path followed or not, and by a multi-component
        // path gives the same record.
        let tree = Tree::new("stat");
        let d = tree.sandbox();
        let Ok(Opened::File(f)) = open(&d, true, "sub/inner.txt") else {
            panic!("open");
        };
        let by_fd = f.stat().unwrap();
        assert_eq!(by_fd.type_, DescriptorType::RegularFile);
        assert_eq!(by_fd.size, 6);
        assert_eq!(d.stat_at(true, "sub/inner.txt"), Ok(by_fd.clone()));
        assert_eq!(d.stat_at(false, "sub/inner.txt"), Ok(by_fd.clone()));
        assert_eq!(d.stat_at(false, "sub/../sub/inner.txt"), Ok(by_fd.clone()));
        let Ok(Opened::Dir(sub)) = open(&d, true, "sub") else {
            panic!("open sub");
        };
        assert_eq!(sub.stat_at(false, "inner.txt"), Ok(by_fd));
        assert_eq!(sub.stat(), d.stat_at(true, "sub"));
        assert_eq!(
            d.stat_at(false, "link_in").map(|s| s.type_),
            Ok(DescriptorType::SymbolicLink)
        );
        assert_eq!(
            d.stat_at(false, "sub/../link_in").map(|s| s.type_),
            Ok(DescriptorType::SymbolicLink)
        );
        assert_eq!(
            d.stat_at(true, "file.txt/").err(),
            Some(ErrorCode::NotDirectory)
        );
        assert_eq!(
            d.stat_at(false, "file.txt/").map(|s| s.type_),
            Ok(DescriptorType::RegularFile)
        );
    }

    #[test]
    fn metadata_hash_is_wasmtimes() {
        let tree = Tree::new("hash");
        let d = tree.sandbox();
        let meta = std::fs::metadata(tree.root.join("sandbox/file.txt")).unwrap();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        use std::hash::Hasher;
        hasher.write_u64(std::os::unix::fs::MetadataExt::dev(&meta));
        hasher.write_u64(std::os::unix::fs::MetadataExt::ino(&meta));
        let expected = hasher.finish();
        assert_eq!(
            d.stat_at(true, "file.txt").map(|s| s.hash.lower),
            Ok(expected)
        );
        assert_eq!(
            d.metadata_hash_at_nofollow("file.txt").map(|h| h.lower),
            Ok(expected)
        );
        assert_ne!(
            d.metadata_hash_at_nofollow("link_in").map(|h| h.lower),
            Ok(expected)
        );
    }

    #[test]
    fn os_errors_map_like_wasmtime() {
        let e = |errno: rustix::io::Errno| ErrorCode::from(io::Error::from(errno));
        assert_eq!(e(rustix::io::Errno::NOENT), ErrorCode::NoEntry);
        assert_eq!(e(rustix::io::Errno::LOOP), ErrorCode::Loop);
        assert_eq!(
            e(rustix::io::Errno::ROFS),
            ErrorCode::Io,
            "wasmtime does not map EROFS"
        );
        assert_eq!(e(rustix::io::Errno::AGAIN), ErrorCode::Io);
        let escape = io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a path led outside of the filesystem",
        );
        assert_eq!(ErrorCode::from(&escape), ErrorCode::NotPermitted);
        assert_eq!(ErrorCode::from(&io::Error::other("x")), ErrorCode::Io);
    }
}
