//! Ends with the exit status named by its argument: `exit-codes N` calls
//! `std::process::exit(N)` after a line on stdout and one on stderr; `exit-codes err`
//! returns an error from `main` (Rust prints `Error: ...` and exits 1).

use std::process::ExitCode;

fn main() -> Result<ExitCode, String> {
    let arg = std::env::args().nth(1).unwrap_or_default();
    if arg == "err" {
        return Err("main returned an error".to_string());
    }
    let Ok(code) = arg.parse::<i32>() else {
        eprintln!("usage: exit-codes <N>|err (got {arg:?})");
        return Ok(ExitCode::from(2));
    };
    println!("exiting with {code}");
    eprintln!("to stderr before exit({code})");
    std::process::exit(code);
}
