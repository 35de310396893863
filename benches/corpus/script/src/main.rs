//! A script interpreter (rhai, an AST-walking interpreter for an embedded scripting
//! language): `script N` runs a workload script embedded in the binary with N as its size:
//! recursive calls, loops, closures, arrays (sort, map, filter, reduce), object maps and
//! string building. It prints the script's summary line. Exercises dynamic values, variable
//! lookup, function calls through the interpreter, and allocation.

use rhai::{Engine, Scope};
use std::process::ExitCode;

const WORKLOAD: &str = include_str!("workload.rhai");

fn main() -> ExitCode {
    let Some(n) = std::env::args().nth(1).and_then(|a| a.parse::<i64>().ok()) else {
        eprintln!("usage: script N");
        return ExitCode::from(2);
    };
    let mut engine = Engine::new();
    // The workload recurses deeper than the default limits of a debug-oriented engine.
    engine.set_max_call_levels(256);
    let mut scope = Scope::new();
    scope.push_constant("N", n);
    match engine.eval_with_scope::<String>(&mut scope, WORKLOAD) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("script: {e}");
            ExitCode::FAILURE
        }
    }
}
