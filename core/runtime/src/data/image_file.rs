//! PNG/JPEG files → normalised `[C, H, W]` pixels, with the training augmentations
//! (random crop, horizontal flip) drawn from the caller's per-example RNG.
use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::example::Location;
use crate::error::{Error, Result};

/// How image files become pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageConfig {
    /// `[height, width]` every image is resized to (bilinear), before cropping.
    pub resize: [u32; 2],
    /// `[height, width]` of the crop: random while augmenting, centred otherwise.
    /// Absent = no crop (the output is the resized image).
    pub crop: Option<[u32; 2]>,
    /// Mirror left–right with probability 1/2 while augmenting.
    pub hflip: bool,
    /// 1 (grey, the `image` crate's Rec. 709 luma) or 3 (RGB) output channels.
    pub channels: usize,
    /// Per-channel mean and standard deviation subtracted/divided after scaling to [0, 1].
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self { resize: [224, 224], crop: None, hflip: false, channels: 3, mean: vec![0.5; 3], std: vec![0.5; 3] }
    }
}

impl ImageConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Data(format!("image config: {m}")));
        if self.channels != 1 && self.channels != 3 {
            return bad(format!("`channels` is {}; use 1 or 3", self.channels));
        }
        if self.mean.len() != self.channels || self.std.len() != self.channels {
            return bad(format!("`mean` and `std` need {} values each (one per channel)", self.channels));
        }
        if self.std.iter().any(|&s| s <= 0.0) {
            return bad("every `std` value must be positive".into());
        }
        if self.resize.contains(&0) {
            return bad("`resize` sizes must be positive".into());
        }
        if let Some([h, w]) = self.crop {
            if h == 0 || w == 0 || h > self.resize[0] || w > self.resize[1] {
                return bad(format!("`crop` [{h}, {w}] must be positive and fit in `resize` {:?}", self.resize));
            }
        }
        Ok(())
    }

    /// `[C, H, W]` of the output.
    pub fn shape(&self) -> [usize; 3] {
        let [h, w] = self.crop.unwrap_or(self.resize);
        [self.channels, h as usize, w as usize]
    }

    /// Decodes `path` into `[C * H * W]` channel-major normalised pixels. With `augment`,
    /// the crop offset and flip come from `rng`; without, the crop is centred and no flip.
    pub fn load(&self, path: &Path, augment: bool, rng: &mut impl Rng) -> Result<Vec<f32>> {
        self.load_at(&Location::File(path.to_path_buf()), augment, rng)
    }

    /// [`ImageConfig::load`] for a file or a tar member.
    pub fn load_at(&self, at: &Location, augment: bool, rng: &mut impl Rng) -> Result<Vec<f32>> {
        let shown = at.display();
        let img = image::io::Reader::new(Cursor::new(at.read()?))
            .with_guessed_format()
            .map_err(|e| Error::Data(format!("{shown}: cannot read image: {e}")))?
            .decode()
            .map_err(|e| Error::Data(format!("{shown}: cannot decode image: {e}")))?;
        let [rh, rw] = self.resize;
        let img = img.resize_exact(rw, rh, FilterType::Triangle);
        let (planes, width): (Vec<Vec<u8>>, usize) = if self.channels == 1 {
            (vec![img.to_luma8().into_raw()], rw as usize)
        } else {
            let rgb = img.to_rgb8().into_raw();
            ((0..3).map(|c| rgb.iter().skip(c).step_by(3).copied().collect()).collect(), rw as usize)
        };
        let [_, ch, cw] = self.shape();
        let (top, left) = if augment {
            (rng.gen_range(0..=rh as usize - ch), rng.gen_range(0..=rw as usize - cw))
        } else {
            ((rh as usize - ch) / 2, (rw as usize - cw) / 2)
        };
        let flip = augment && self.hflip && rng.gen_bool(0.5);
        let mut out = Vec::with_capacity(self.channels * ch * cw);
        for (c, plane) in planes.iter().enumerate() {
            for y in top..top + ch {
                for x in 0..cw {
                    let sx = if flip { left + cw - 1 - x } else { left + x };
                    let v = plane[y * width + sx] as f32 / 255.0;
                    out.push((v - self.mean[c]) / self.std[c]);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A 4×4 RGB image whose red channel is the column index × 10.
    fn ramp(path: &Path) {
        let img = image::RgbImage::from_fn(4, 4, |x, y| image::Rgb([(x * 10) as u8, (y * 10) as u8, 255]));
        img.save(path).unwrap();
    }

    fn cfg() -> ImageConfig {
        ImageConfig { resize: [4, 4], crop: None, hflip: false, channels: 3, mean: vec![0.0; 3], std: vec![1.0; 3] }
    }

    #[test]
    fn png_and_jpeg_decode_to_channel_major_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        ramp(&png);
        let px = cfg().load(&png, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(px.len(), 3 * 16);
        assert_eq!(px[..4], [0.0, 10.0 / 255.0, 20.0 / 255.0, 30.0 / 255.0]); // red, row 0
        assert_eq!(px[16 + 4], 10.0 / 255.0); // green, row 1
        assert!(px[32..].iter().all(|&b| b == 1.0)); // blue

        let jpg = dir.path().join("b.jpg");
        image::RgbImage::from_pixel(8, 8, image::Rgb([200, 100, 50])).save(&jpg).unwrap();
        let c = ImageConfig { resize: [4, 4], channels: 1, mean: vec![0.5], std: vec![0.5], ..cfg() };
        let px = c.load(&jpg, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(px.len(), 16);
        let grey = (0.2126 * 200.0 + 0.7152 * 100.0 + 0.0722 * 50.0) / 255.0; // Rec. 709 luma
        assert!(px.iter().all(|&v| (v - (grey - 0.5) / 0.5).abs() < 0.03), "{px:?}");
    }

    #[test]
    fn crop_and_flip_move_pixels_as_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        ramp(&png);
        let c = ImageConfig { crop: Some([2, 2]), hflip: true, ..cfg() };
        let centre = c.load(&png, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
        assert_eq!(centre[..2], [10.0 / 255.0, 20.0 / 255.0]);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let px = c.load(&png, true, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            seen.insert(((px[0] * 255.0).round() as i32, (px[1] * 255.0).round() as i32));
        }
        // Left offsets 0..=2, either direction: every adjacent column pair appears.
        for pair in [(0, 10), (10, 20), (20, 30), (10, 0), (20, 10), (30, 20)] {
            assert!(seen.contains(&pair), "{pair:?} never drawn: {seen:?}");
        }
    }

    #[test]
    fn corrupt_png_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("broken.png");
        ramp(&png);
        let bytes = std::fs::read(&png).unwrap();
        std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
        let e = cfg().load(&png, false, &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot decode image", png.display())), "{e}");
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert!(ImageConfig { channels: 2, ..cfg() }.validate().unwrap_err().to_string().contains("`channels`"));
        assert!(ImageConfig { crop: Some([5, 1]), ..cfg() }.validate().unwrap_err().to_string().contains("`crop`"));
        assert!(ImageConfig { mean: vec![0.0], ..cfg() }.validate().unwrap_err().to_string().contains("`mean`"));
    }
}
