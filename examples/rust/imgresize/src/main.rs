//! Image resizing with `fast_image_resize`: `imgresize N` resizes a generated 1920x1080
//! RGBA image N times, to four sizes with three filters, and prints a checksum of every
//! result. A benchmark of a crate with SIMD paths (convolutions in fixed point, so the
//! results are the same with or without SIMD and on every target).

use std::process::ExitCode;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;

fn source() -> Image<'static> {
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 4) as usize];
    let mut rng: u32 = 0x1234_5678;
    for (i, px) in pixels.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i as u32 % WIDTH, i as u32 / WIDTH);
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        // Gradients, a checkerboard and some noise: smooth areas and sharp edges.
        px[0] = (x * 255 / WIDTH) as u8;
        px[1] = (y * 255 / HEIGHT) as u8;
        px[2] = if (x / 64 + y / 64) % 2 == 0 { 230 } else { 20 } ^ (rng as u8 & 15);
        px[3] = 255 - (rng >> 24) as u8 % 32;
    }
    Image::from_vec_u8(WIDTH, HEIGHT, pixels, PixelType::U8x4).expect("the buffer fits")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() -> ExitCode {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "1".to_string());
    let Ok(rounds) = arg.parse::<u32>() else {
        eprintln!("usage: imgresize <rounds> (got {arg:?})");
        return ExitCode::from(2);
    };
    let src = source();
    let mut resizer = Resizer::new();
    // fast_image_resize assumes SIMD on every wasm32 engine and would use it in the plain
    // build too: without `+simd128`, its scalar code, so that the two builds compare.
    #[cfg(all(target_family = "wasm", not(target_feature = "simd128")))]
    // SAFETY: no extension is always supported.
    unsafe {
        resizer.set_cpu_extensions(fast_image_resize::CpuExtensions::None);
    }
    let sizes = [(1280, 720), (640, 360), (2560, 1440), (333, 777)];
    let filters = [
        ResizeAlg::Convolution(FilterType::Bilinear),
        ResizeAlg::Convolution(FilterType::CatmullRom),
        ResizeAlg::Convolution(FilterType::Lanczos3),
    ];
    let mut sums = Vec::new();
    for round in 0..rounds {
        for &(w, h) in &sizes {
            for alg in &filters {
                let mut dst = Image::new(w, h, PixelType::U8x4);
                let options = ResizeOptions::new().resize_alg(*alg);
                if let Err(e) = resizer.resize(&src, &mut dst, &options) {
                    eprintln!("resize to {w}x{h}: {e}");
                    return ExitCode::FAILURE;
                }
                if round == 0 {
                    sums.push(format!("{w}x{h} {:016x}", fnv1a(dst.buffer())));
                }
            }
        }
    }
    println!("{rounds} rounds; {}", sums.join(", "));
    ExitCode::SUCCESS
}
