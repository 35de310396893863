//! Prints the arguments and environment WASI hands the program: the argument count, every
//! argument after the program name, the whole environment sorted by name, and a few
//! variables looked up one by one (set, empty, unset).
//!
//! argv[0] is only checked for being non-empty: runners spell it differently (wasmtime
//! passes the module path, an `aot` executable its own path).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argc={}", args.len());
    println!(
        "argv[0] non-empty: {}",
        args.first().is_some_and(|a| !a.is_empty())
    );
    for (i, arg) in args.iter().enumerate().skip(1) {
        println!("argv[{i}]={arg:?} ({} bytes)", arg.len());
    }

    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    println!("envc={}", vars.len());
    for (name, value) in &vars {
        println!("env {name}={value:?}");
    }
    for name in ["GREETING", "EMPTY", "MISSING"] {
        match std::env::var(name) {
            Ok(value) => println!("lookup {name}: {value:?}"),
            Err(e) => println!("lookup {name}: {e}"),
        }
    }
}
