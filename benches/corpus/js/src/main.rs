//! A JavaScript engine (boa) running a workload script embedded in the binary: `js N`
//! renders an N×N ray-traced image (objects, prototype methods, floating point), sorts and
//! reduces arrays of records with closures, and builds and scans strings and Maps. The
//! script returns a summary line that is printed. Exercises an interpreter's dispatch
//! loop, property lookup, garbage collection and many small calls.

use boa_engine::{Context, Source};
use std::process::ExitCode;

const WORKLOAD: &str = include_str!("workload.js");

fn main() -> ExitCode {
    let Some(n) = std::env::args().nth(1).and_then(|a| a.parse::<u32>().ok()) else {
        eprintln!("usage: js N");
        return ExitCode::from(2);
    };
    let mut context = Context::default();
    let source = format!("const N = {n};\n{WORKLOAD}");
    let result = context
        .eval(Source::from_bytes(&source))
        .and_then(|v| v.to_string(&mut context));
    match result {
        Ok(line) => {
            println!("{}", line.to_std_string_escaped());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("js: {e}");
            ExitCode::FAILURE
        }
    }
}
