//! Tries to reach files outside its one preopened directory (argument 1, default `/data`)
//! and prints, for each attempt, whether it was denied. Expected: every escape denied,
//! the two controls inside the directory allowed; exit status 0 exactly then.
//!
//! The host side (tests/tests/examples.rs, "sandbox" fixture) lays out
//! `ROOT/secret.txt` outside the preopen and `ROOT/data/` as the preopen holding
//! `inside.txt`, `sub/`, `up -> ../secret.txt` and `abs -> ROOT/secret.txt` (absolute).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/data".to_string());
    let d = |p: &str| format!("{root}/{p}");
    let mut escapes = 0;
    let mut denied = 0;
    let mut controls_ok = true;

    let mut escape = |what: &str, r: io::Result<String>| {
        escapes += 1;
        match r {
            Ok(got) => println!("{what}: ALLOWED ({got})"),
            Err(e) => {
                denied += 1;
                println!("{what}: denied ({})", describe(&e));
            }
        }
    };

    escape("read ../secret.txt", read(&d("../secret.txt")));
    escape(
        "read sub/../../secret.txt",
        read(&d("sub/../../secret.txt")),
    );
    escape(
        "read /secret.txt (absolute, no preopen)",
        read("/secret.txt"),
    );
    escape("read /etc/passwd", read("/etc/passwd"));
    escape("read relative ../secret.txt", read("../secret.txt"));
    escape("read through symlink up -> ../secret.txt", read(&d("up")));
    escape(
        "read through symlink abs -> absolute host path",
        read(&d("abs")),
    );
    escape(
        "stat ..",
        fs::metadata(d("..")).map(|m| format!("is_dir {}", m.is_dir())),
    );
    escape(
        "list ..",
        fs::read_dir(d("..")).map(|it| format!("{} entries", it.count())),
    );
    escape("create ../escaped.txt", write(&d("../escaped.txt")));
    escape("create through symlink up (truncating)", write(&d("up")));
    escape(
        "mkdir ../escaped-dir",
        fs::create_dir(d("../escaped-dir")).map(|()| "created".into()),
    );
    escape(
        "rename inside.txt to ../moved.txt",
        fs::rename(d("inside.txt"), d("../moved.txt")).map(|()| "renamed".into()),
    );
    escape(
        "hard link ../secret.txt as hl",
        fs::hard_link(d("../secret.txt"), d("hl")).map(|()| "linked".into()),
    );
    // A runner may refuse to create a link whose target leaves the directory, or create it
    // and refuse to follow it; either way the secret stays out of reach.
    #[allow(deprecated)] // soft_link is std's only stable symlink call on WASI.
    let made = fs::soft_link("../secret.txt", d("made"));
    match &made {
        Ok(()) => println!("create symlink made -> ../secret.txt: created"),
        Err(e) => println!(
            "create symlink made -> ../secret.txt: refused ({})",
            describe(e)
        ),
    }
    escape(
        "read through the new symlink made",
        made.and_then(|()| read(&d("made"))),
    );
    escape(
        "remove ../secret.txt",
        fs::remove_file(d("../secret.txt")).map(|()| "removed".into()),
    );

    for (what, r) in [
        ("control: read inside.txt", read(&d("inside.txt"))),
        (
            "control: list sub/..",
            fs::read_dir(d("sub/..")).map(|it| format!("{} entries", it.count())),
        ),
    ] {
        match r {
            Ok(got) => println!("{what}: allowed ({got})"),
            Err(e) => {
                controls_ok = false;
                println!("{what}: FAILED ({})", describe(&e));
            }
        }
    }
    // Leave the preopen as the host made it apart from the dangling link.
    let _ = fs::remove_file(d("made"));

    println!("{denied} of {escapes} escapes denied");
    if denied != escapes || !controls_ok {
        std::process::exit(1);
    }
}

fn read(path: &str) -> io::Result<String> {
    let bytes = fs::read(Path::new(path))?;
    Ok(format!("{} bytes", bytes.len()))
}

fn write(path: &str) -> io::Result<String> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    Ok("opened for writing".to_string())
}

/// The error kind and WASI errno: the point where runners must agree.
fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => format!("{:?}, errno {errno}", e.kind()),
        None => format!("{:?}", e.kind()),
    }
}
