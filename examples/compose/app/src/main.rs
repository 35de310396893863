//! The command side of the composition test: calls every function of aot:demo/text,
//! which compose-lib implements, and prints what comes back.
wit_bindgen::generate!({
    world: "app",
    path: "../wit",
    with: { "wasi:io/streams@0.2.12": wasip2::io::streams, "wasi:io/error@0.2.12": wasip2::io::error, "wasi:io/poll@0.2.12": wasip2::io::poll },
});
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
    mix_calls();
    println!("done");
}

fn mix_calls() {
    use aot::demo::mix::*;
    println!("scalars: {:?}", scalars(true, -128, 255, -32768, 65535, i32::MIN, u32::MAX, i64::MIN, u64::MAX, 1.25, -0.0, 'a'));
    println!("scalars: {:?}", scalars(false, 5, 0, 7, 1, -9, 0, 3, 0, f32::INFINITY, f64::MAX, '\u{10FFFE}'));
    println!("scalars nan: {:?}", scalars(false, 0, 0, 0, 0, 0, 0, 0, 0, f32::NAN, f64::NAN, '\u{D7FF}').9.is_nan());
    println!("many: {}", many(1, 2, "drei", &[4, 5], 6.5, 7.25, 8, -9, 'ü', true, "elf", (12, 13, 14)));
    let es = [
        Entry { key: "k1".into(), tags: vec!["a".into(), "".into(), "ççç".into()], score: Some(0.5), weight: 3 },
        Entry { key: "".into(), tags: vec![], score: None, weight: 65535 },
    ];
    println!("entries: {:?}", entries(&es));
    println!("entries empty: {:?}", entries(&[]));
    let nums = [Num::Small(200), Num::Big(u64::MAX), Num::Real(-1.5), Num::Text("hello".into()), Num::Pair((2.0, 5)), Num::Pair((1.0, 0)), Num::Nothing];
    println!("convert: {:?}", convert(&nums));
    for n in nums {
        println!("convert-one: {:?}", convert_one(&n));
    }
    println!("halve: {:?} {:?}", halve(Some(3.0)), halve(None));
    println!("to-float: {}", to_float(16_777_217));
    println!("flip: {:?}", flip(Wide::W0 | Wide::W17 | Wide::W31, Small::A | Small::I));
    println!("bytes: {:?}", bytes(&[0, 1, 2, 0xff, 0x55]));
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let back = bytes(&big);
    println!("bytes big: {} {} {}", back.len(), back[0], back[69_999]);
    println!("points: {:?}", points(&[(1, 0.5), (-32768, -2.0), (100, 1e300)]));
    println!("chars: {:?}", chars(&['a', 'é', '€', '😀', '\0']));
    println!("bools: {:?}", bools(&[true, false, false, true]));
    println!("levels: {:?}", levels(&[Level::Low, Level::High]));
    println!("levels err: {:?}", levels(&[Level::Mid, Level::Low, Level::Low, Level::High]));
    println!("nested: {:?}", nested(&[vec![vec![1, 2], vec![]], vec![], vec![vec![0], vec![0, 0]], vec![vec![u32::MAX / 2]]]));
    println!("nested none: {:?}", nested(&[]));
    let cs = counters(3);
    for c in &cs {
        c.increment(1);
    }
    println!("counters: {:?}", cs.iter().map(|c| c.get()).collect::<Vec<_>>());
    println!("sum-all: {}", sum_all(&cs.iter().collect::<Vec<_>>()));
    drop(cs);
    let m = maybe_counter(Some(aot::demo::text::Counter::new(40))).expect("a counter");
    println!("maybe-counter: {} {:?}", m.get(), maybe_counter(None).err());
    let out = wasip2::cli::stdout::get_stdout();
    println!("write-to: {}", write_to(&out, "through a borrowed stream"));
    let out = forward(out, "through an owned stream");
    println!("write-to again: {}", write_to(&out, "after the round trip"));
    drop(out);
}
