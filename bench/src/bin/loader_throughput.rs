//! Loader throughput: examples/s decoding PNG (64×64 → 32×32 crop + flip), JPEG (same)
//! and WAV (1 s at 16 kHz → 64×100 log-mel) files of a manifest, and the same PNGs as
//! WebDataset shards (`webdataset`: 4 shards, members read by offset, shard-shuffled
//! order with a 256-example buffer), with 1 and 2 workers.
//! Fixtures are written to a temp folder first and removed after.
//! Run: OMP_NUM_THREADS=1 cargo run --release -p plexus-bench --bin loader_throughput -- [examples=512]
use std::path::{Path, PathBuf};
use std::time::Instant;

use plexus::data::{open_shards, AudioConfig, Loader, LoaderConfig, Manifest};

fn write_fixtures(dir: &Path, n: usize) {
    let spec = hound::WavSpec { channels: 1, sample_rate: 16_000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let (mut png, mut jpg, mut wav) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, (i % 256) as u8]));
        img.save(dir.join(format!("{i}.png"))).expect("write png");
        img.save(dir.join(format!("{i}.jpg"))).expect("write jpeg");
        let mut w = hound::WavWriter::create(dir.join(format!("{i}.wav")), spec).expect("write wav");
        for t in 0..16_000 {
            let x = (2.0 * std::f64::consts::PI * (200.0 + i as f64) * t as f64 / 16_000.0).sin();
            w.write_sample((x * 10_000.0) as i16).expect("write sample");
        }
        w.finalize().expect("finish wav");
        png.push(format!(r#"{{"image": "{i}.png", "caption": "c{i}"}}"#));
        jpg.push(format!(r#"{{"image": "{i}.jpg", "caption": "c{i}"}}"#));
        wav.push(format!(r#"{{"audio": "{i}.wav", "caption": "c{i}"}}"#));
    }
    for (name, lines) in [("png", png), ("jpeg", jpg), ("wav", wav)] {
        std::fs::write(dir.join(format!("{name}.jsonl")), lines.join("\n")).expect("write manifest");
    }
}

/// The PNGs and captions again as 4 tar shards; returns their paths.
fn write_shards(dir: &Path, n: usize) -> Vec<PathBuf> {
    let per = n.div_ceil(4);
    (0..4)
        .map(|s| {
            let path = dir.join(format!("shard-{s}.tar"));
            let mut b = tar::Builder::new(std::fs::File::create(&path).expect("create shard"));
            for i in s * per..((s + 1) * per).min(n) {
                let caption = format!("c{i}");
                b.append_path_with_name(dir.join(format!("{i}.png")), format!("{i:06}.png")).expect("append png");
                let mut h = tar::Header::new_gnu();
                h.set_size(caption.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, format!("{i:06}.txt"), caption.as_bytes()).expect("append caption");
            }
            b.finish().expect("finish shard");
            path
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(512);
    let dir = std::env::temp_dir().join(format!("plexus-loader-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    write_fixtures(&dir, n);
    println!("{:<10} {:>8} {:>14}", "format", "workers", "examples/s");
    let shards = open_shards("shards", &write_shards(&dir, n))?;
    for format in ["png", "jpeg", "wav", "webdataset"] {
        let manifest = if format == "webdataset" { shards.manifest.clone() } else { Manifest::load(&dir.join(format!("{format}.jsonl")))? };
        for workers in [1, 2] {
            let mut cfg = LoaderConfig { workers, batch_size: 32, prefetch: 8, ..LoaderConfig::default() };
            cfg.image.resize = [36, 36];
            cfg.image.crop = Some([32, 32]);
            cfg.image.hflip = true;
            cfg.audio = AudioConfig::default();
            let mut loader = Loader::new(&manifest, cfg, 0)?;
            if format == "webdataset" {
                loader = loader.with_shards(shards.ranges.clone(), 256)?;
            }
            loader.epoch(0).try_for_each(|b| b.map(drop))?; // warm the page cache
            let started = Instant::now();
            let mut count = 0;
            for b in loader.epoch(1) {
                count += b?.len();
            }
            println!("{format:<10} {workers:>8} {:>14.0}", count as f64 / started.elapsed().as_secs_f64());
        }
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
