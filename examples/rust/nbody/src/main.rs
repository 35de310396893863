//! The n-body simulation of the Computer Language Benchmarks Game (Jovian planets, the
//! symplectic integrator): `nbody N` advances N steps of 0.01 and prints the system's
//! energy before and after. A benchmark kernel: f64 arithmetic, sqrt, small arrays.
//!
//! The output is the same on every IEEE-754 machine: only +, -, *, / and sqrt, which
//! are correctly rounded, in a fixed order.

// Index loops over the three coordinates are the kernel's usual shape (and what the
// other implementations of this benchmark compile).
#![allow(clippy::needless_range_loop)]

use std::f64::consts::PI;
use std::process::ExitCode;

const SOLAR_MASS: f64 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f64 = 365.24;
const N: usize = 5;

#[derive(Clone, Copy)]
struct Body {
    pos: [f64; 3],
    vel: [f64; 3],
    mass: f64,
}

fn bodies() -> [Body; N] {
    let body = |pos: [f64; 3], vel: [f64; 3], mass: f64| Body {
        pos,
        vel: vel.map(|v| v * DAYS_PER_YEAR),
        mass: mass * SOLAR_MASS,
    };
    [
        // Sun
        body([0.0; 3], [0.0; 3], 1.0),
        // Jupiter
        body(
            [
                4.841_431_442_464_72e0,
                -1.160_320_044_027_428_4e0,
                -1.036_220_444_711_231_1e-1,
            ],
            [
                1.660_076_642_744_037e-3,
                7.699_011_184_197_404e-3,
                -6.904_600_169_720_63e-5,
            ],
            9.547_919_384_243_266e-4,
        ),
        // Saturn
        body(
            [
                8.343_366_718_244_58e0,
                4.124_798_564_124_305e0,
                -4.035_234_171_143_214e-1,
            ],
            [
                -2.767_425_107_268_624e-3,
                4.998_528_012_349_172e-3,
                2.304_172_975_737_639_3e-5,
            ],
            2.858_859_806_661_308e-4,
        ),
        // Uranus
        body(
            [
                1.289_436_956_213_913_1e1,
                -1.511_115_140_169_863_1e1,
                -2.233_075_788_926_557_3e-1,
            ],
            [
                2.964_601_375_647_616e-3,
                2.378_471_739_594_809_5e-3,
                -2.965_895_685_402_375_6e-5,
            ],
            4.366_244_043_351_563e-5,
        ),
        // Neptune
        body(
            [
                1.537_969_711_485_091_1e1,
                -2.591_931_460_998_796_4e1,
                1.792_587_729_503_711_8e-1,
            ],
            [
                2.680_677_724_903_893_2e-3,
                1.628_241_700_382_423e-3,
                -9.515_922_545_197_159e-5,
            ],
            5.151_389_020_466_114_5e-5,
        ),
    ]
}

/// Gives the system zero total momentum by adjusting the Sun's velocity.
fn offset_momentum(b: &mut [Body; N]) {
    let mut p = [0.0; 3];
    for body in b.iter() {
        for k in 0..3 {
            p[k] += body.vel[k] * body.mass;
        }
    }
    for k in 0..3 {
        b[0].vel[k] = -p[k] / SOLAR_MASS;
    }
}

fn energy(b: &[Body; N]) -> f64 {
    let mut e = 0.0;
    for i in 0..N {
        let v = b[i].vel;
        e += 0.5 * b[i].mass * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        for j in i + 1..N {
            let d = [
                b[i].pos[0] - b[j].pos[0],
                b[i].pos[1] - b[j].pos[1],
                b[i].pos[2] - b[j].pos[2],
            ];
            e -= b[i].mass * b[j].mass / (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        }
    }
    e
}

fn advance(b: &mut [Body; N], dt: f64) {
    for i in 0..N {
        for j in i + 1..N {
            let d = [
                b[i].pos[0] - b[j].pos[0],
                b[i].pos[1] - b[j].pos[1],
                b[i].pos[2] - b[j].pos[2],
            ];
            let d2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
            let mag = dt / (d2 * d2.sqrt());
            let (mi, mj) = (b[i].mass * mag, b[j].mass * mag);
            for k in 0..3 {
                b[i].vel[k] -= d[k] * mj;
                b[j].vel[k] += d[k] * mi;
            }
        }
    }
    for body in b.iter_mut() {
        for k in 0..3 {
            body.pos[k] += dt * body.vel[k];
        }
    }
}

fn main() -> ExitCode {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "1000".to_string());
    let Ok(steps) = arg.parse::<u64>() else {
        eprintln!("usage: nbody <steps> (got {arg:?})");
        return ExitCode::from(2);
    };
    let mut b = bodies();
    offset_momentum(&mut b);
    println!("{:.9}", energy(&b));
    for _ in 0..steps {
        advance(&mut b, 0.01);
    }
    println!("{:.9}", energy(&b));
    ExitCode::SUCCESS
}
