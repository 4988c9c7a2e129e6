//! `data_wait_files`: the trainer's data-wait fraction when the default CLIP experiment
//! (experiments/clip_fashion.yaml's model, loss, batch and optimiser) reads Fashion-MNIST
//! from files through the loader's decode workers instead of from memory: the first
//! LIMIT training images are written as 28×28 grey PNGs with a caption (a template of
//! the config, drawn per image) and a label, either as WebDataset shards of 1,000
//! examples or as a JSONL manifest of PNG files, then one epoch trains with WORKERS
//! workers. The fraction is `Trainer::data_seconds` (waiting for decoded batches,
//! captions, tokenize, to device) over the time between the epoch's start and its last
//! step (the end-of-epoch checkpoint is outside).
//!
//! Usage: data_wait_files [webdataset|manifest] [WORKERS=2] [LIMIT=10000]
//! Needs data/fashion-mnist (`make data`); threads: BENCH_THREADS (default 1).
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

use plexus::config::ExperimentConfig;
use plexus::data::{load_fashion_mnist, open_shards, Loader, LoaderConfig, Manifest};
use plexus::model::DualEncoder;
use plexus::plugins::{default_search_path, Registry};
use plexus::run_dir::RunDir;
use plexus::train::{TrainConfig, Trainer};
use plexus_plugin::{Hparams, Loss};
use rand::{Rng, SeedableRng};
use tch::{nn, Device};

const CONFIG: &str = "experiments/clip_fashion.yaml";

fn section(cfg: &ExperimentConfig, path: &str) -> Hparams {
    let value = cfg.lookup(path).cloned().unwrap_or(serde_json::Value::Null);
    Hparams::new(value, format!("{}: {path}", cfg.file))
}

fn png(pixels: &[u8]) -> Vec<u8> {
    let img = image::GrayImage::from_raw(28, 28, pixels.to_vec()).expect("28x28");
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageOutputFormat::Png).expect("encode png");
    out.into_inner()
}

/// Writes the examples and returns the loader's records (as a manifest) and shard ranges.
fn write_copy(dir: &Path, format: &str, pixels: &[u8], labels: &[i64], captions: &[String]) -> (Manifest, Vec<std::ops::Range<usize>>) {
    let n = labels.len();
    if format == "manifest" {
        let mut lines = Vec::with_capacity(n);
        for i in 0..n {
            std::fs::write(dir.join(format!("{i:06}.png")), png(&pixels[i * 784..(i + 1) * 784])).expect("write png");
            lines.push(serde_json::json!({"image": format!("{i:06}.png"), "caption": captions[i], "label": labels[i]}).to_string());
        }
        let path = dir.join("train.jsonl");
        std::fs::write(&path, lines.join("\n")).expect("write manifest");
        return (Manifest::load(&path).expect("manifest"), vec![]);
    }
    let mut shards = vec![];
    for (s, start) in (0..n).step_by(1000).enumerate() {
        let path = dir.join(format!("train-{s:03}.tar"));
        let mut b = tar::Builder::new(std::fs::File::create(&path).expect("create shard"));
        for i in start..(start + 1000).min(n) {
            for (ext, data) in [("png", png(&pixels[i * 784..(i + 1) * 784])), ("txt", captions[i].clone().into_bytes()), ("cls", labels[i].to_string().into_bytes())] {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, format!("{i:06}.{ext}"), data.as_slice()).expect("append");
            }
        }
        b.finish().expect("finish shard");
        shards.push(path);
    }
    let s = open_shards("fashion-mnist shards", &shards).expect("open shards");
    (s.manifest, s.ranges)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let format = args.first().cloned().unwrap_or_else(|| "webdataset".into());
    assert!(format == "webdataset" || format == "manifest", "format must be webdataset or manifest, got {format}");
    let workers: usize = args.get(1).map_or(2, |a| a.parse().expect("WORKERS"));
    let limit: usize = args.get(2).map_or(10_000, |a| a.parse().expect("LIMIT"));
    plexus::runner::configure_process(plexus_bench::threads());
    tch::manual_seed(0);
    let cfg = ExperimentConfig::load(CONFIG, &[]).expect("config");
    let templates: Vec<String> = serde_json::from_value(cfg.lookup("data.train.templates").cloned().expect("templates")).expect("templates");
    let data = load_fashion_mnist(Path::new("data/fashion-mnist"), "train", templates.clone()).expect("data/fashion-mnist (make data)");
    let n = limit.min(data.len());
    // Back from the standardised tensor to the file's bytes.
    let raw = (data.images.narrow(0, 0, n as i64) * 0.3530 + 0.2860) * 255.0;
    let pixels: Vec<u8> = Vec::<f32>::try_from(raw.round().flatten(0, -1)).expect("pixels").into_iter().map(|v| v as u8).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let captions: Vec<String> = (0..n).map(|i| data.caption(data.labels[i], rng.gen_range(0..templates.len()))).collect();
    let dir = std::env::temp_dir().join(format!("plexus-data-wait-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (manifest, ranges) = write_copy(&dir, &format, &pixels, &data.labels[..n], &captions);

    let mut train_cfg: TrainConfig = section(&cfg, "train").parse().expect("train config");
    train_cfg.log_every = 0;
    let mut loader_cfg = LoaderConfig { workers, batch_size: train_cfg.batch_size, prefetch: 2 * workers, augment: false, ..LoaderConfig::default() };
    loader_cfg.image.resize = [28, 28];
    loader_cfg.image.channels = 1;
    loader_cfg.image.mean = vec![0.2860];
    loader_cfg.image.std = vec![0.3530];
    let mut loader = Loader::new(&manifest, loader_cfg, 0).expect("loader");
    if !ranges.is_empty() {
        loader = loader.with_shards(ranges, 1000).expect("shards");
    }

    let registry = Registry::discover(&default_search_path(&[]));
    let vs = nn::VarStore::new(Device::Cpu);
    let mut tok = registry.tokenizer("word", &(vs.root() / "word1"), &section(&cfg, "model.tokenizer")).expect("tokenizer");
    tok.fit(&data.all_captions()).expect("fit");
    let image = registry.encoder("vit", &(vs.root() / "visual"), &section(&cfg, "model.image")).expect("vit");
    let mut text_cfg = section(&cfg, "model.text");
    text_cfg.value["vocab_size"] = serde_json::json!(tok.vocab_size());
    let text = registry.encoder("text_transformer", &(vs.root() / "text"), &text_cfg).expect("text");
    let model = Rc::new(DualEncoder::new(Rc::new(image), Rc::new(text), Rc::new(RefCell::new(tok)), Device::Cpu).expect("model"));
    let loss: Rc<Box<dyn Loss>> = Rc::new(registry.loss("clip", &(vs.root() / "clip_loss"), &section(&cfg, "loss")).expect("loss"));
    let sampler = registry.sampler("shuffle", &(vs.root() / "shuffle"), &Hparams::new(serde_json::json!({}), "bench")).expect("sampler");
    let run = RefCell::new(RunDir::create(&dir, "data_wait").expect("run dir"));
    let ckpt = run.borrow().path().join("checkpoints");
    let mut trainer = Trainer::new(&vs, model, loss, Rc::new(sampler), train_cfg, 0, ckpt, None, Default::default()).expect("trainer");

    let start = Instant::now();
    let mut last = start;
    let mut steps = 0;
    trainer
        .train_epoch_files(&loader, "train", &run, &mut |_| {
            steps += 1;
            last = Instant::now();
            Ok(())
        })
        .expect("train");
    let seconds = (last - start).as_secs_f64();
    let fraction = trainer.data_seconds() / seconds;
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "data_wait_files {format}: {n} Fashion-MNIST PNGs, {workers} workers, batch {}, {steps} steps in {seconds:.1} s: data wait {:.3} s = {fraction:.4} of step time (goal <= 0.02)",
        trainer.config().batch_size,
        trainer.data_seconds()
    );
    plexus_bench::record(
        &plexus_bench::results_path(),
        &format!("data_wait_fraction_{format}_{workers}w"),
        trainer.data_seconds() / steps as f64,
        seconds / steps as f64,
        fraction,
        "seconds per step: data wait, step (ratio = fraction)",
    );
}
