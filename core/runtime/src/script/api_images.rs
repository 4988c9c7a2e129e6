//! Image-generation helpers for scripts (DALL-E 2, `scripts/dalle2.rhai`):
//!
//! - `data.batches(epoch, B)` / `data.eval_batches(B)` on a `dataset("fashion_mnist", ..)`:
//!   script-driven loops over captioned images, `#{image, label, caption, index, size}`;
//! - `save_image_grid(images, rows, "name.png")`: a PNG grid written atomically into the
//!   run folder;
//! - `clip_score(image_embeds, text_embeds)`: 100 · mean of max(cos, 0) over paired rows;
//! - `x.to_device_of(y)`: `x` on `y`'s device (e.g. labels built with `tensor([..])`, which
//!   live on the CPU, next to logits on a GPU).
use std::rc::Rc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rhai::{Array, Dynamic, Engine, Map};
use tch::{Device, Kind, Tensor};

use super::api_tensor::TensorValue;
use super::convert::{rt, RhaiResult};
use super::handles::DatasetHandle;
use super::Shared;
use crate::data::CaptionedImages;

/// The batches of one pass over a Fashion-MNIST-style dataset, in `order`.
#[derive(Clone)]
pub struct ImageBatches {
    data: Rc<CaptionedImages>,
    order: Rc<Vec<i64>>,
    /// Template index per example of `order`.
    templates: Rc<Vec<usize>>,
    next: usize,
    batch_size: usize,
    device: Device,
}

impl Iterator for ImageBatches {
    type Item = Map;

    /// `image` `[B, C, H, W]` (the dataset's normalisation), `label` `[B]` i64, `index` `[B]`
    /// i64, `caption` (array of B strings), `size`.
    fn next(&mut self) -> Option<Map> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.batch_size).min(self.order.len());
        let rows = &self.order[self.next..end];
        let captions: Array = rows
            .iter()
            .zip(&self.templates[self.next..end])
            .map(|(&i, &t)| Dynamic::from(self.data.caption(self.data.labels[i as usize], t)))
            .collect();
        let labels: Vec<i64> = rows.iter().map(|&i| self.data.labels[i as usize]).collect();
        let index = Tensor::from_slice(rows);
        self.next = end;
        let mut m = Map::new();
        let t = |x: Tensor| Dynamic::from(TensorValue(x.to_device(self.device)));
        m.insert("image".into(), t(self.data.images.index_select(0, &index)));
        m.insert("label".into(), t(Tensor::from_slice(&labels)));
        m.insert("index".into(), t(index));
        m.insert("caption".into(), captions.into());
        m.insert("size".into(), (rows.len() as i64).into());
        Some(m)
    }
}

fn batches(s: &Shared, d: &DatasetHandle, epoch: Option<i64>, batch_size: i64) -> RhaiResult<ImageBatches> {
    if batch_size < 1 || epoch.is_some_and(|e| e < 0) {
        return Err(rt(format!("batches: need epoch >= 0 and batch_size >= 1, got {}, {batch_size}", epoch.unwrap_or(0))));
    }
    let (seed, device) = (s.borrow().seed, s.borrow().device);
    let n = d.0.len();
    let mut order: Vec<i64> = (0..n as i64).collect();
    // Training order and caption templates depend only on (seed, epoch); evaluation keeps
    // the file order and the first template.
    let templates = match epoch {
        Some(epoch) => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            order.shuffle(&mut rng);
            (0..n).map(|_| rng.gen_range(0..d.0.templates.len())).collect()
        }
        None => vec![0; n],
    };
    Ok(ImageBatches { data: d.0.clone(), order: Rc::new(order), templates: Rc::new(templates), next: 0, batch_size: batch_size as usize, device })
}

/// `images` `[N, C, H, W]` with values in [0, 1] (clamped; C = 1 grey or 3 RGB) → PNG bytes
/// of a grid of `rows` rows, filled row by row, with a 2-pixel black border between tiles.
pub fn grid_png(images: &Tensor, rows: i64) -> Result<Vec<u8>, String> {
    let size = images.size();
    if size.len() != 4 || !(size[1] == 1 || size[1] == 3) || size.contains(&0) || !images.is_floating_point() {
        return Err(format!("save_image_grid: images must be a non-empty float [N, C, H, W] tensor with C = 1 or 3, got {:?} {size:?}", images.kind()));
    }
    let (n, c, h, w) = (size[0], size[1], size[2], size[3]);
    if rows < 1 || rows > n {
        return Err(format!("save_image_grid: rows must be in [1, {n}] for {n} images, got {rows}"));
    }
    let cols = (n + rows - 1) / rows;
    let pad = 2;
    let (gw, gh) = (cols * (w + pad) + pad, rows * (h + pad) + pad);
    let pixels = (images.detach().to_device(Device::Cpu).to_kind(Kind::Float).clamp(0.0, 1.0) * 255.0).round().to_kind(Kind::Uint8); // [N, C, H, W]
    let pixels: Vec<u8> = Vec::<u8>::try_from(pixels.permute([0, 2, 3, 1]).contiguous().view([-1])).map_err(|e| format!("save_image_grid: {e}"))?; // N·H·W·C
    let mut canvas = image::RgbImage::new(gw as u32, gh as u32);
    for i in 0..n {
        let (r, col) = (i / cols, i % cols);
        for y in 0..h {
            for x in 0..w {
                let at = (((i * h + y) * w + x) * c) as usize;
                let rgb = if c == 1 { [pixels[at]; 3] } else { [pixels[at], pixels[at + 1], pixels[at + 2]] };
                canvas.put_pixel((pad + col * (w + pad) + x) as u32, (pad + r * (h + pad) + y) as u32, image::Rgb(rgb));
            }
        }
    }
    let mut bytes = std::io::Cursor::new(Vec::new());
    canvas.write_to(&mut bytes, image::ImageOutputFormat::Png).map_err(|e| format!("save_image_grid: PNG encoding failed: {e}"))?;
    Ok(bytes.into_inner())
}

/// A plain file name ending in `.png`: grids go into the run folder and nowhere else.
fn grid_name(name: &str) -> RhaiResult<&str> {
    let plain = !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.');
    if !plain || !name.ends_with(".png") {
        return Err(rt(format!("save_image_grid: `{name}` must be a plain file name ending in .png (it is written into the run folder)")));
    }
    Ok(name)
}

/// CLIP score of paired rows `[N, D]`: 100 · mean_i max(cos(image_i, text_i), 0).
pub fn clip_score(image_embeds: &Tensor, text_embeds: &Tensor) -> Result<f64, String> {
    let (a, b) = (image_embeds.size(), text_embeds.size());
    if a.len() != 2 || a != b || a[0] == 0 || !image_embeds.is_floating_point() || !text_embeds.is_floating_point() {
        return Err(format!("clip_score: image_embeds {a:?} and text_embeds {b:?} must be float [N, D] of the same shape"));
    }
    let cos = Tensor::cosine_similarity(&image_embeds.to_kind(Kind::Float), &text_embeds.to_kind(Kind::Float), 1, 1e-8); // [N]
    Ok(100.0 * cos.clamp_min(0.0).mean(Kind::Float).double_value(&[]))
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine.register_type_with_name::<ImageBatches>("ImageBatches").register_iterator::<ImageBatches>();
    let (s1, s2) = (session.clone(), session.clone());
    engine
        .register_fn("batches", move |d: &mut DatasetHandle, epoch: i64, batch_size: i64| batches(&s1, d, Some(epoch), batch_size))
        .register_fn("eval_batches", move |d: &mut DatasetHandle, batch_size: i64| batches(&s2, d, None, batch_size))
        .register_fn("clip_score", |images: TensorValue, texts: TensorValue| clip_score(&images.0, &texts.0).map_err(rt))
        .register_fn("to_device_of", |x: &mut TensorValue, y: TensorValue| TensorValue(x.0.to_device(y.0.device())));

    let s = session.clone();
    engine.register_fn("save_image_grid", move |images: TensorValue, rows: i64, name: &str| -> RhaiResult<String> {
        let name = grid_name(name)?;
        let bytes = grid_png(&images.0, rows).map_err(rt)?;
        let session = s.borrow();
        let path = session.run.borrow().write(name, &bytes).map_err(rt)?;
        Ok(path.display().to_string())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_each_tile_row_by_row() {
        // Three 2×2 grey tiles of values 0, 0.5, 1 in a grid of 2 rows → 2 columns.
        let tiles = Tensor::from_slice(&[0f32, 0.5, 1.0]).view([3, 1, 1, 1]).expand([3, 1, 2, 2], false).contiguous();
        let png = grid_png(&tiles, 2).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (2 * 4 + 2, 2 * 4 + 2));
        assert_eq!(img.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(6, 3).0, [128, 128, 128]);
        assert_eq!(img.get_pixel(3, 7).0, [255, 255, 255]);
        assert!(grid_png(&tiles, 4).unwrap_err().contains("rows"));
        assert!(grid_png(&tiles.view([3, 4]), 1).unwrap_err().contains("[N, C, H, W]"));
        assert!(grid_name("../x.png").is_err() && grid_name("x.jpg").is_err() && grid_name("samples.png").is_ok());
    }

    #[test]
    fn clip_score_is_100_for_parallel_and_0_for_opposite_rows() {
        let a = Tensor::from_slice(&[1f32, 0.0, 0.0, 2.0]).view([2, 2]);
        let b = Tensor::from_slice(&[3f32, 0.0, 0.0, -1.0]).view([2, 2]);
        assert!((clip_score(&a, &b).unwrap() - 50.0).abs() < 1e-4);
        assert!((clip_score(&a, &a).unwrap() - 100.0).abs() < 1e-4);
        assert!(clip_score(&a, &b.narrow(0, 0, 1)).unwrap_err().contains("same shape"));
    }
}
