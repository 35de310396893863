//! A file tool working inside one preopened directory (argument 1, default `/data`):
//! creates, writes, appends, reads, seeks, truncates, renames, lists (sorted), stats,
//! symlinks, sets times on and removes files and directories, printing each step and its
//! result. Errors that a step expects are printed with their kind; an unexpected error
//! ends the program with `error: ...` and exit status 1.
//!
//! The directory must hold `input.txt` (see examples/fixtures/files/); the program leaves
//! behind `work/` with `b.txt`, `notes/` and `truncated.bin`, and `input.txt` unchanged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

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

fn run(root: &Path) -> io::Result<()> {
    let input = at("read input.txt", fs::read_to_string(root.join("input.txt")))?;
    println!(
        "input.txt: {} bytes, {} lines, first line {:?}",
        input.len(),
        input.lines().count(),
        input.lines().next().unwrap_or("")
    );

    let work = root.join("work");
    at("mkdir work", fs::create_dir(&work))?;
    println!("mkdir work");
    expect_error("mkdir work again", fs::create_dir(&work));

    let a = work.join("a.txt");
    at("write a.txt", fs::write(&a, "hello\n"))?;
    let mut f = at(
        "open a.txt for append",
        OpenOptions::new().append(true).open(&a),
    )?;
    at("append to a.txt", f.write_all(b"world\n"))?;
    drop(f);
    println!(
        "a.txt holds {:?}",
        at("read a.txt", fs::read_to_string(&a))?
    );

    at("rename a.txt", fs::rename(&a, work.join("b.txt")))?;
    println!("renamed a.txt to b.txt; a.txt exists: {}", a.exists());
    expect_error("read a.txt after the rename", fs::read(&a));

    // 10,000 bytes of a pattern; read back from the middle after a seek.
    let c = work.join("c.bin");
    let pattern: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    at("write c.bin", fs::write(&c, &pattern))?;
    let mut f = at(
        "open c.bin",
        OpenOptions::new().read(true).write(true).open(&c),
    )?;
    let pos = at("seek c.bin", f.seek(SeekFrom::Start(5000)))?;
    let mut middle = [0u8; 8];
    at("read c.bin", f.read_exact(&mut middle))?;
    println!(
        "c.bin at {pos}: {middle:?} (expected {:?})",
        &pattern[5000..5008]
    );
    let end = at("seek c.bin end", f.seek(SeekFrom::End(-10)))?;
    println!("c.bin: seek to end-10 gives {end}");
    at("truncate c.bin", f.set_len(1234))?;
    let mtime = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    at("set c.bin mtime", f.set_modified(mtime))?;
    drop(f);
    let meta = at("stat c.bin", fs::metadata(&c))?;
    println!(
        "c.bin after truncation: len {}, mtime is 2020-09-13: {}",
        meta.len(),
        meta.modified().ok() == Some(mtime)
    );
    at("rename c.bin", fs::rename(&c, work.join("truncated.bin")))?;

    let notes = work.join("notes");
    at("mkdir notes", fs::create_dir(&notes))?;
    at(
        "write notes/d.txt",
        fs::write(notes.join("d.txt"), "in a subdirectory\n"),
    )?;
    at(
        "mkdir -p deep",
        fs::create_dir_all(work.join("deep/er/est")),
    )?;
    at(
        "write deep file",
        fs::write(work.join("deep/er/est/e.txt"), "deep\n"),
    )?;

    let link = work.join("link");
    #[allow(deprecated)] // soft_link is std's only stable symlink call on WASI.
    let made = fs::soft_link("b.txt", &link);
    at("symlink link -> b.txt", made)?;
    println!("link -> {:?}", at("readlink", fs::read_link(&link))?);
    println!(
        "through the link: {:?}",
        at("read link", fs::read_to_string(&link))?
    );
    let lmeta = at("lstat link", fs::symlink_metadata(&link))?;
    println!(
        "link: is_symlink {}, target len {}",
        lmeta.file_type().is_symlink(),
        at("stat link", fs::metadata(&link))?.len()
    );

    list(&work)?;
    let meta = at("stat b.txt", fs::metadata(work.join("b.txt")))?;
    println!(
        "b.txt: len {} is_file {} is_dir {}",
        meta.len(),
        meta.is_file(),
        meta.is_dir()
    );
    let meta = at("stat notes", fs::metadata(&notes))?;
    println!("notes: is_file {} is_dir {}", meta.is_file(), meta.is_dir());
    expect_error("stat missing.txt", fs::metadata(work.join("missing.txt")));
    expect_error("rmdir notes (not empty)", fs::remove_dir(&notes));
    expect_error("open notes as a file for writing", File::create(&notes));

    at("remove link", fs::remove_file(&link))?;
    at("remove deep", fs::remove_dir_all(work.join("deep")))?;
    println!("removed link and deep/");
    list(&work)?;
    Ok(())
}

/// Prints the directory's entries sorted by name, with type and size.
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
        let size = if ty.is_file() {
            at("entry metadata", entry.metadata())?.len()
        } else {
            0
        };
        entries.push((entry.file_name().to_string_lossy().into_owned(), kind, size));
    }
    entries.sort();
    println!("{} holds {} entries:", dir.display(), entries.len());
    for (name, kind, size) in entries {
        println!("  {name} {kind} {size}");
    }
    Ok(())
}

/// A step that must fail: prints how it failed (or that it did not).
fn expect_error<T>(step: &str, r: io::Result<T>) {
    match r {
        Ok(_) => println!("{step}: unexpectedly succeeded"),
        Err(e) => match e.raw_os_error() {
            Some(errno) => println!("{step}: failed as expected ({:?}, errno {errno})", e.kind()),
            None => println!("{step}: failed as expected ({:?})", e.kind()),
        },
    }
}
