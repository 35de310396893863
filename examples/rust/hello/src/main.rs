//! The smallest WASI command: one line on stdout. The benchmark times its start-up.

fn main() {
    println!("Hello, world!");
}
