//! The command side of the composition test: calls every function of aot:demo/text,
//! which compose-lib implements, and prints what comes back.
wit_bindgen::generate!({ world: "app", path: "../wit" });
use aot::demo::text::*;

fn main() {
    println!("upper: {}", upper("héllo, wörld"));
    println!("split: {:?}", split("a,bb,,ccc", ','));
    println!("split one: {:?}", split("", '-'));
    let s = summarize(&[1, 2, 3, 4_000_000_000], "nums");
    println!("summarize: count={} sum={} label={}", s.count, s.sum, s.label);
    for xs in [&[][..], &[7][..], &[1, -2, 3][..]] {
        println!("classify {:?}: {:?}", xs, classify(xs));
    }
    println!("pick: {:?}", pick(Color::Green, Perms::READ | Perms::EXEC));
    println!("pick none: {:?}", pick(Color::Red, Perms::empty()));
    println!("checked: {:?} {:?}", checked(16), checked(-3));
    let c = Counter::new(5);
    c.increment(3);
    println!("counter: {} {}", c.get(), c.name());
    println!("total: {}", total(&c));
    let d = Counter::new(1);
    println!("consume: {}", consume(d));
    let big: String = "x".repeat(100_000);
    println!("upper big: {}", upper(&big).len());
    drop(c);
    println!("done");
}
