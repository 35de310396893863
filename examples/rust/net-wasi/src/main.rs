//! A probe of the WASI 0.2 sockets interfaces called directly (raw canonical-ABI imports,
//! no bindings crate): each step of the TCP and UDP state machines, the checks on
//! addresses and option values, and the error each misuse gives, printed one per line
//! without port numbers. An argument selects a misuse that ends in a trap instead.
//!
//! Built for wasm32-wasip2 only; on other targets it says so.

#[cfg(all(target_os = "wasi", target_env = "p2"))]
mod probe;

fn main() {
    #[cfg(all(target_os = "wasi", target_env = "p2"))]
    probe::main();
    #[cfg(not(all(target_os = "wasi", target_env = "p2")))]
    println!("net-wasi needs wasm32-wasip2");
}
