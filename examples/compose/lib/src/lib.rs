//! The library side of the composition test (see compose-app).
use std::cell::Cell;
wit_bindgen::generate!({ world: "lib", path: "../wit" });

// The library side of the composition test: each function returns something derived from
// its arguments, and the resource prints when its destructor runs.
use exports::aot::demo::text::*;

struct Lib;
struct MyCounter { n: Cell<u32>, name: String }

impl GuestCounter for MyCounter {
    fn new(start: u32) -> Self { MyCounter { n: Cell::new(start), name: format!("counter@{start}") } }
    fn increment(&self, by: u32) { self.n.set(self.n.get() + by) }
    fn get(&self) -> u32 { self.n.get() }
    fn name(&self) -> String { self.name.clone() }
}

impl Drop for MyCounter {
    fn drop(&mut self) { eprintln!("lib: dropping {} at {}", self.name, self.n.get()); }
}

impl Guest for Lib {
    type Counter = MyCounter;
    fn upper(s: String) -> String { s.to_uppercase() }
    fn split(s: String, sep: char) -> Vec<String> { s.split(sep).map(str::to_string).collect() }
    fn summarize(xs: Vec<u32>, label: String) -> Stats {
        Stats { count: xs.len() as u32, sum: xs.iter().map(|&x| x as u64).sum(), label: format!("<{label}>") }
    }
    fn classify(xs: Vec<i32>) -> Shape {
        match xs.len() { 0 => Shape::Empty, 1 => Shape::One(xs[0]), _ => Shape::Many(xs) }
    }
    fn pick(c: Color, p: Perms) -> Option<String> {
        if p.is_empty() { None } else { Some(format!("{c:?} with {p:?}")) }
    }
    fn checked(n: i64) -> Result<f64, String> {
        if n < 0 { Err(format!("negative: {n}")) } else { Ok((n as f64).sqrt()) }
    }
    fn total(c: CounterBorrow<'_>) -> u32 { c.get::<MyCounter>().get() * 10 }
    fn consume(c: Counter) -> u32 { let v = c.get::<MyCounter>().get(); v + 1000 }
}

export!(Lib);
