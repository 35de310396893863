//! The library side of the composition test (see compose-app).
use std::cell::Cell;
wit_bindgen::generate!({
    world: "lib",
    path: "../wit",
    with: { "wasi:io/streams@0.2.12": wasip2::io::streams, "wasi:io/error@0.2.12": wasip2::io::error, "wasi:io/poll@0.2.12": wasip2::io::poll },
});

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

impl exports::aot::demo::mix::Guest for Lib {
    fn scalars(
        a: bool, b: i8, c: u8, d: i16, e: u16, f: i32, g: u32, h: i64, i: u64, j: f32, k: f64,
        l: char,
    ) -> (bool, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, char) {
        (!a, b.wrapping_neg(), c.wrapping_add(1), d.wrapping_neg(), e.wrapping_add(1),
         f.wrapping_neg(), g.wrapping_add(1), h.wrapping_neg(), i.wrapping_add(1), j * 2.0,
         k / 2.0, char::from_u32(l as u32 + 1).unwrap_or('?'))
    }
    fn many(
        a: u32, b: u64, c: String, d: Vec<u8>, e: f32, f: f64, g: u16, h: i8, i: char, j: bool,
        k: String, l: (u64, u64, u64),
    ) -> String {
        format!("{a} {b} {c} {d:?} {e} {f} {g} {h} {i} {j} {k} {l:?}")
    }
    fn entries(xs: Vec<mix::Entry>) -> Vec<Vec<String>> {
        xs.into_iter()
            .map(|e| {
                let mut v = vec![e.key, format!("{:?}", e.score), e.weight.to_string()];
                v.extend(e.tags);
                v
            })
            .collect()
    }
    fn convert(xs: Vec<mix::Num>) -> Vec<mix::Num> {
        xs.into_iter().map(convert_one).collect()
    }
    fn convert_one(x: mix::Num) -> mix::Num {
        convert_one(x)
    }
    fn halve(x: Option<f32>) -> Option<f64> {
        x.map(|v| f64::from(v) / 2.0)
    }
    fn to_float(x: u32) -> f32 {
        x as f32 + 0.5
    }
    fn flip(w: mix::Wide, s: mix::Small) -> (mix::Wide, mix::Small) {
        (mix::Wide::all() - w, mix::Small::all() - s)
    }
    fn bytes(b: Vec<u8>) -> Vec<u8> {
        b.iter().rev().map(|x| x ^ 0x55).collect()
    }
    fn points(p: Vec<(i16, f64)>) -> Vec<(i16, f64)> {
        p.into_iter().map(|(a, b)| (a.wrapping_mul(-3), b * 1.5)).collect()
    }
    fn chars(s: Vec<char>) -> Vec<char> {
        s.into_iter().rev().collect()
    }
    fn bools(b: Vec<bool>) -> Vec<bool> {
        b.into_iter().map(|x| !x).collect()
    }
    fn levels(l: Vec<mix::Level>) -> Result<Vec<mix::Level>, mix::Level> {
        if l.len() > 3 { Err(l[0]) } else { Ok(l.into_iter().rev().collect()) }
    }
    fn nested(x: Vec<Vec<Vec<u32>>>) -> Option<Vec<Option<String>>> {
        if x.is_empty() {
            return None;
        }
        Some(
            x.into_iter()
                .map(|inner| {
                    let s: u32 = inner.iter().flatten().sum();
                    (s > 0).then(|| format!("{}:{s}", inner.len()))
                })
                .collect(),
        )
    }
    fn counters(n: u32) -> Vec<Counter> {
        (0..n).map(|i| Counter::new(MyCounter::new(100 + i))).collect()
    }
    fn sum_all(cs: Vec<CounterBorrow<'_>>) -> u32 {
        cs.iter().map(|c| c.get::<MyCounter>().get()).sum()
    }
    fn write_to(out: &wasip2::io::streams::OutputStream, msg: String) -> u32 {
        let line = format!("lib writes: {msg}\n");
        out.blocking_write_and_flush(line.as_bytes()).map_or(0, |()| line.len() as u32)
    }
    fn forward(
        out: wasip2::io::streams::OutputStream,
        msg: String,
    ) -> wasip2::io::streams::OutputStream {
        let _ = out.blocking_write_and_flush(format!("lib forwards: {msg}\n").as_bytes());
        out
    }
    fn maybe_counter(c: Option<Counter>) -> Result<Counter, String> {
        match c {
            Some(c) => {
                c.get::<MyCounter>().increment(7);
                Ok(c)
            }
            None => Err("no counter".to_string()),
        }
    }
}

use exports::aot::demo::mix;

fn convert_one(x: mix::Num) -> mix::Num {
    use mix::Num::*;
    match x {
        Small(v) => Big(u64::from(v) << 40),
        Big(v) => Real(v as f64 / 3.0),
        Real(v) => Text(format!("{v:.3}")),
        Text(s) => Pair((s.len() as f32 / 4.0, -(s.len() as i64))),
        Pair((a, b)) => if b == 0 { Nothing } else { Small((a as i64 + b) as u8) },
        Nothing => Small(255),
    }
}

export!(Lib);
