//! File operations beyond `files`, each printing its result (errors with kind and errno):
//! hard links, syncs, setting both timestamps to the nanosecond, sparse and large files,
//! writes to read-only and reads from write-only files, directories used as files and
//! the reverse, exclusive creation and truncation, renames that replace, copies, appends
//! after a seek, symlinks to directories and dangling ones, and listings by entry type.
//!
//! Runs in an empty preopened directory (argument 1, default `/data`) and leaves behind
//! the files listed at its end.

use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/data".to_string()),
    );
    if let Err(e) = run(&root) {
        println!("error: {e}");
        std::process::exit(1);
    }
}

/// Adds the failing step to an error, so the output says which step failed.
fn at<T>(step: &str, r: io::Result<T>) -> io::Result<T> {
    r.map_err(|e| io::Error::new(e.kind(), format!("{step}: {e}")))
}

/// Prints how a step that may fail ended.
fn report<T: std::fmt::Debug>(step: &str, r: io::Result<T>) {
    match r {
        Ok(v) => println!("{step}: ok {v:?}"),
        Err(e) => match e.raw_os_error() {
            Some(errno) => println!("{step}: {:?} (errno {errno})", e.kind()),
            None => println!("{step}: {:?}", e.kind()),
        },
    }
}

fn since_epoch(t: io::Result<SystemTime>) -> Option<Duration> {
    t.ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok())
}

fn run(root: &Path) -> io::Result<()> {
    // Hard links: one file under two names.
    let f = root.join("f.txt");
    let hard = root.join("hard.txt");
    at("write f.txt", fs::write(&f, "first\n"))?;
    at("hard link", fs::hard_link(&f, &hard))?;
    at("append via hard.txt", {
        let mut h = OpenOptions::new().append(true).open(&hard)?;
        h.write_all(b"second\n")
    })?;
    println!(
        "f.txt through its other name: {:?}",
        fs::read_to_string(&f)?
    );
    report("hard link again", fs::hard_link(&f, &hard));
    report(
        "hard link a missing file",
        fs::hard_link(root.join("nope"), root.join("x")),
    );
    at("remove f.txt", fs::remove_file(&f))?;
    println!(
        "hard.txt after f.txt is gone: {:?}",
        fs::read_to_string(&hard)?
    );

    // Syncs, and both timestamps set to the nanosecond.
    let file = at(
        "open hard.txt",
        OpenOptions::new().read(true).write(true).open(&hard),
    )?;
    report("sync_all", file.sync_all());
    report("sync_data", file.sync_data());
    let accessed = UNIX_EPOCH + Duration::new(1_500_000_000, 123_456_789);
    let modified = UNIX_EPOCH + Duration::new(1_600_000_000, 987_654_321);
    at(
        "set times",
        file.set_times(
            FileTimes::new()
                .set_accessed(accessed)
                .set_modified(modified),
        ),
    )?;
    let meta = at("stat hard.txt", file.metadata())?;
    println!(
        "times: accessed {:?}, modified {:?}",
        since_epoch(meta.accessed()),
        since_epoch(meta.modified())
    );
    let later = UNIX_EPOCH + Duration::new(1_700_000_000, 1);
    at("set modified only", file.set_modified(later))?;
    let meta = at("stat hard.txt", fs::metadata(&hard))?;
    println!(
        "times: accessed {:?}, modified {:?}",
        since_epoch(meta.accessed()),
        since_epoch(meta.modified())
    );
    drop(file);

    // A read-only file refuses writes and size changes; a write-only one, reads.
    let mut ro = at("open read-only", File::open(&hard))?;
    report("write to a read-only file", ro.write_all(b"x"));
    report("set_len of a read-only file", ro.set_len(1));
    let mut text = String::new();
    report("read it", ro.read_to_string(&mut text));
    let mut wo = at(
        "open write-only",
        OpenOptions::new().write(true).open(&hard),
    )?;
    report("read a write-only file", wo.read(&mut [0u8; 4]));
    report("write it", wo.write(b"F"));

    // Directories where files are expected, and the reverse.
    let dir = root.join("dir");
    at("mkdir dir", fs::create_dir(&dir))?;
    report("read a directory as a file", fs::read(&dir));
    report("write a directory as a file", fs::write(&dir, "x"));
    report("list a file", fs::read_dir(&hard).map(|_| ()));
    report("mkdir under a file", fs::create_dir(hard.join("sub")));
    let as_file = at("open dir as a file", File::open(&dir))?;
    let meta = at("stat it", as_file.metadata())?;
    println!(
        "dir opened as a file: is_dir {} is_file {}",
        meta.is_dir(),
        meta.is_file()
    );
    report("read from it", (&as_file).read(&mut [0u8; 4]));
    drop(as_file);

    // Exclusive creation, truncation.
    report(
        "create_new over hard.txt",
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&hard)
            .map(|_| ()),
    );
    let t = root.join("t.txt");
    at("write t.txt", fs::write(&t, "0123456789"))?;
    at(
        "truncate t.txt",
        OpenOptions::new().write(true).truncate(true).open(&t),
    )?;
    println!("t.txt after truncation: {} bytes", fs::metadata(&t)?.len());

    // A sparse file: a write past the end leaves zeros behind it.
    let sparse = root.join("sparse.bin");
    let mut s = at("create sparse.bin", File::create(&sparse))?;
    at("seek past the end", s.seek(SeekFrom::Start(100_000)))?;
    at("write after the hole", s.write_all(b"end"))?;
    drop(s);
    let bytes = at("read sparse.bin", fs::read(&sparse))?;
    println!(
        "sparse.bin: {} bytes, {} of them zero, ends with {:?}",
        bytes.len(),
        bytes.iter().filter(|&&b| b == 0).count(),
        String::from_utf8_lossy(&bytes[bytes.len() - 3..])
    );

    // A large file written in one call and read back whole.
    let big = root.join("big.bin");
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i % 253) as u8).collect();
    at("write big.bin", fs::write(&big, &data))?;
    let back = at("read big.bin", fs::read(&big))?;
    println!("big.bin: {} bytes, identical {}", back.len(), back == data);
    let mut bf = at("open big.bin", File::open(&big))?;
    at("seek big.bin", bf.seek(SeekFrom::End(-5)))?;
    let mut tail = Vec::new();
    at("read its tail", bf.read_to_end(&mut tail))?;
    println!("big.bin tail: {tail:?}");
    drop(bf);
    at("copy big.bin", fs::copy(&big, root.join("copy.bin")))?;
    println!(
        "copy.bin identical: {}",
        fs::read(root.join("copy.bin"))? == data
    );
    at("remove big.bin", fs::remove_file(&big))?;
    at("remove copy.bin", fs::remove_file(root.join("copy.bin")))?;

    // Appends go to the end whatever the position.
    let mut ap = at(
        "open t.txt read+append",
        OpenOptions::new().read(true).append(true).open(&t),
    )?;
    at("append", ap.write_all(b"abc"))?;
    at("seek to 1", ap.seek(SeekFrom::Start(1)))?;
    at("append again", ap.write_all(b"def"))?;
    at("seek to 0", ap.seek(SeekFrom::Start(0)))?;
    let mut s = String::new();
    at("read t.txt", ap.read_to_string(&mut s))?;
    println!("t.txt read back through the same descriptor: {s:?}");
    drop(ap);
    println!("t.txt: {:?}", at("read t.txt", fs::read_to_string(&t))?);

    // Renames that replace a file, move a directory, or are refused.
    at("write r1", fs::write(root.join("r1"), "one"))?;
    at("write r2", fs::write(root.join("r2"), "two"))?;
    at(
        "rename r1 over r2",
        fs::rename(root.join("r1"), root.join("r2")),
    )?;
    println!("r2 now holds {:?}", fs::read_to_string(root.join("r2"))?);
    at("mkdir dir/inner", fs::create_dir(dir.join("inner")))?;
    at("write dir/inner/x", fs::write(dir.join("inner/x"), "x"))?;
    at("mkdir other", fs::create_dir(root.join("other")))?;
    at(
        "rename dir/inner to other/moved",
        fs::rename(dir.join("inner"), root.join("other/moved")),
    )?;
    report(
        "rename a directory over a file",
        fs::rename(root.join("other"), root.join("r2")),
    );
    report(
        "rename a file over a directory",
        fs::rename(root.join("r2"), root.join("other")),
    );
    at("mkdir empty", fs::create_dir(root.join("empty")))?;
    report(
        "rename a directory over a non-empty one",
        fs::rename(root.join("empty"), root.join("other")),
    );
    report(
        "rename a directory over an empty one",
        fs::rename(root.join("other"), root.join("empty")),
    );
    report(
        "rename a directory into itself",
        fs::rename(root.join("empty"), root.join("empty/moved/in")),
    );

    // Symlinks: to a directory (followed through), dangling.
    #[allow(deprecated)] // soft_link is std's only stable symlink call on WASI.
    let made = fs::soft_link("empty", root.join("to-dir"));
    at("symlink to-dir -> empty", made)?;
    println!(
        "through to-dir: {:?}",
        fs::read_to_string(root.join("to-dir/moved/x"))?
    );
    #[allow(deprecated)]
    let made = fs::soft_link("missing-target", root.join("dangling"));
    at("symlink dangling", made)?;
    report(
        "stat dangling",
        fs::metadata(root.join("dangling")).map(|_| ()),
    );
    report(
        "lstat dangling is a symlink",
        fs::symlink_metadata(root.join("dangling")).map(|m| m.file_type().is_symlink()),
    );
    report("read dangling", fs::read(root.join("dangling")));
    report(
        "create through dangling",
        fs::write(root.join("dangling"), "made"),
    );
    report(
        "remove_dir on a symlink",
        fs::remove_dir(root.join("to-dir")),
    );
    report("readlink a file", fs::read_link(&t));

    // remove_dir_all over a tree with a symlink in it leaves the symlink's target alone.
    at(
        "mkdir -p tree/a/b",
        fs::create_dir_all(root.join("tree/a/b")),
    )?;
    at("write tree/a/b/c", fs::write(root.join("tree/a/b/c"), "c"))?;
    #[allow(deprecated)]
    let made = fs::soft_link("../../empty", root.join("tree/a/link"));
    at("symlink tree/a/link", made)?;
    at("remove tree", fs::remove_dir_all(root.join("tree")))?;
    println!(
        "empty/moved/x survives: {}",
        root.join("empty/moved/x").exists()
    );

    list(root)?;
    Ok(())
}

/// Prints the directory's entries sorted by name, with their type (from the listing,
/// without following symlinks).
fn list(dir: &Path) -> io::Result<()> {
    let mut entries = Vec::new();
    for entry in at("readdir", fs::read_dir(dir))? {
        let entry = at("readdir entry", entry)?;
        let ty = at("entry type", entry.file_type())?;
        let kind = if ty.is_symlink() {
            "symlink"
        } else if ty.is_dir() {
            "dir"
        } else {
            "file"
        };
        entries.push(format!("{} {kind}", entry.file_name().to_string_lossy()));
    }
    entries.sort();
    println!("{} holds: {}", dir.display(), entries.join(", "));
    Ok(())
}
