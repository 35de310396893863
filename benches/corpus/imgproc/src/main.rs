//! Image processing with the image crate (PNG codec only): `imgproc N` generates an N×N RGB
//! image (gradients, rings and noise), applies a Gaussian blur, a Lanczos3 downscale and a
//! Catmull-Rom upscale, brightness, contrast and hue rotation, a 3x3 sharpen, converts to
//! grey, encodes the result as PNG in memory, decodes it back, checks the round trip, and
//! prints the PNG size and a pixel checksum. Exercises float convolution loops, pixel
//! conversions, and the deflate/inflate and filters of the PNG codec.

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::{self, FilterType};
use image::{ImageEncoder, Rgb, RgbImage};
use std::process::ExitCode;

fn generate(n: u32) -> RgbImage {
    let mut seed = 0x9e37_79b9u32;
    RgbImage::from_fn(n, n, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let (cx, cy) = (x as i64 - i64::from(n / 2), y as i64 - i64::from(n / 3));
        let ring = ((cx * cx + cy * cy) / 97 % 64) as u8;
        Rgb([
            (x * 255 / n) as u8 ^ ring,
            (y * 255 / n) as u8,
            ring.wrapping_mul(3) ^ (seed as u8 & 0x1f),
        ])
    })
}

fn fnv(data: &[u8], mut h: u64) -> u64 {
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn main() -> ExitCode {
    let Some(n) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<u32>().ok())
        .filter(|&n| n >= 8)
    else {
        eprintln!("usage: imgproc SIDE (>= 8)");
        return ExitCode::from(2);
    };
    let img = generate(n);
    let blurred = imageops::blur(&img, 2.5);
    let small = imageops::resize(&blurred, n / 2, n / 3, FilterType::Lanczos3);
    let big = imageops::resize(&small, n, n, FilterType::CatmullRom);
    let mut adjusted = imageops::brighten(&big, 12);
    imageops::colorops::contrast_in_place(&mut adjusted, 18.0);
    imageops::colorops::huerotate_in_place(&mut adjusted, 45);
    let sharp = imageops::filter3x3(
        &adjusted,
        &[0.0, -1.0, 0.0, -1.0, 5.0, -1.0, 0.0, -1.0, 0.0],
    );
    let grey = imageops::grayscale(&sharp);
    let mut sum = fnv(sharp.as_raw(), 0xcbf2_9ce4_8422_2325);
    sum = fnv(grey.as_raw(), sum);

    let mut png = Vec::new();
    let encoder =
        PngEncoder::new_with_quality(&mut png, CompressionType::Default, PngFilter::Adaptive);
    if let Err(e) = encoder.write_image(sharp.as_raw(), n, n, image::ExtendedColorType::Rgb8) {
        eprintln!("imgproc: PNG encoding failed: {e}");
        return ExitCode::FAILURE;
    }
    let decoded = match image::load_from_memory_with_format(&png, image::ImageFormat::Png) {
        Ok(d) => d.into_rgb8(),
        Err(e) => {
            eprintln!("imgproc: PNG decoding failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    if decoded.as_raw() != sharp.as_raw() {
        eprintln!("imgproc: the PNG round trip changed the pixels");
        return ExitCode::FAILURE;
    }
    println!(
        "imgproc {n}x{n}: png {} bytes, pixel checksum {sum:016x}",
        png.len()
    );
    ExitCode::SUCCESS
}
