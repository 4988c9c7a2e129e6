//! `rhai_overhead`: the default CLIP experiment (a given config) driven by its Rhai
//! script versus the same composition written as a plain Rust program against the
//! library. Both load the data, build the same components in the same order with the
//! same seed, train, and evaluate; their metrics must agree, proving it is the same work.
//!
//! Usage: rhai_overhead CONFIG [REPS] [key=value ...]
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use plexus::config::{ConfigNode, ExperimentConfig};
use plexus::plugins::{default_search_path, Registry};
use plexus::run_dir::RunDir;
use plexus::runner::{run, RunOptions};
use plexus::train::{TrainConfig, Trainer};
use plexus_bench::{interleave, median, record};
use plexus_plugin::{Hparams, Metric};
use tch::nn;

fn section(cfg: &ExperimentConfig, path: &str) -> Hparams {
    let value = cfg.lookup(path).cloned().unwrap_or(serde_json::Value::Null);
    Hparams::new(value, format!("{}: {path}", cfg.file))
}

/// scripts/clip.rhai, line for line, in Rust.
fn plain(config: &str, overrides: &[String], runs: &PathBuf) -> f64 {
    let cfg = ExperimentConfig::load(config, overrides).expect("config");
    let seed: u64 = cfg.setting("seed", 0).unwrap();
    let threads: i32 = cfg.setting("threads", 0).unwrap();
    plexus::runner::pin_threads(if threads > 0 { threads } else { 2 });
    tch::manual_seed(seed as i64);
    let registry = Registry::discover(&default_search_path(&[]));
    let root = ConfigNode::root(config, cfg.root.clone());
    let data_cfg = |split: &str| -> plexus::data::CaptionedImages {
        let node = root.child("data").unwrap().unwrap().child(split).unwrap().unwrap();
        let v = node.value();
        let templates: Vec<String> = serde_json::from_value(v["templates"].clone()).unwrap();
        let mut d = plexus::data::load_fashion_mnist(&PathBuf::from(v["root"].as_str().unwrap()), split, templates).unwrap();
        let limit = v["limit"].as_u64().unwrap_or(0) as usize;
        if limit > 0 && limit < d.len() {
            d.images = d.images.narrow(0, 0, limit as i64);
            d.labels.truncate(limit);
        }
        d
    };
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let train = data_cfg("train");
    let test = data_cfg("test");
    let mut tok = registry.tokenizer("word", &(vs.root() / "word1"), &section(&cfg, "model.tokenizer")).unwrap();
    tok.fit(&train.all_captions()).unwrap();
    let image = registry.encoder("vit", &(vs.root() / "visual"), &section(&cfg, "model.image")).unwrap();
    let mut text_cfg = section(&cfg, "model.text");
    text_cfg.value["vocab_size"] = serde_json::json!(tok.vocab_size());
    let text = registry.encoder("text_transformer", &(vs.root() / "text"), &text_cfg).unwrap();
    let model = Rc::new(plexus::model::DualEncoder::new(Rc::new(image), Rc::new(text), Rc::new(RefCell::new(tok)), tch::Device::Cpu).unwrap());
    let loss = registry.loss("clip", &(vs.root() / "clip_loss"), &section(&cfg, "loss")).unwrap();
    let sampler = registry.sampler("shuffle", &(vs.root() / "shuffle5"), &Hparams::new(serde_json::json!({}), "bench")).unwrap();
    let train_cfg: TrainConfig = section(&cfg, "train").parse().unwrap();
    let run_dir = RefCell::new(RunDir::create(runs, "plain").unwrap());
    let ckpt = run_dir.borrow().path().join("checkpoints");
    let mut trainer = Trainer::new(&vs, model.clone(), Rc::new(loss), Rc::new(sampler), train_cfg.clone(), seed, ckpt, None, Default::default()).unwrap();
    let metrics: Vec<Box<dyn Metric>> = vec![
        registry.metric("zero_shot", &vs.root(), &section(&cfg, "evaluation.zero_shot")).unwrap(),
        registry.metric("retrieval", &vs.root(), &section(&cfg, "evaluation.retrieval")).unwrap(),
    ];
    for _ in 0..train_cfg.epochs {
        trainer.train_epoch(&train, &run_dir, &mut |_| Ok(())).unwrap();
    }
    let refs: Vec<&dyn Metric> = metrics.iter().map(|m| m.as_ref()).collect();
    let scores = plexus::eval::evaluate(&model, &test, &refs, 1000).unwrap();
    let dir = run_dir.borrow().path().join("embeddings");
    for split in [&train, &test] {
        plexus::eval::export_embeddings(&model, split, &dir.join(format!("{}.safetensors", split.split)), 1000).unwrap();
    }
    scores.iter().find(|(k, _)| k == "zero_shot_top1").unwrap().1
}

fn scripted(config: &str, overrides: &[String], runs: &PathBuf) -> f64 {
    let opts = RunOptions {
        script: "scripts/clip.rhai".into(),
        config: config.into(),
        overrides: overrides.to_vec(),
        runs_dir: runs.clone(),
        ..Default::default()
    };
    run(&opts).expect("scripted run").metrics["zero_shot_top1"].as_f64().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = args.first().cloned().unwrap_or_else(|| "experiments/clip_fashion_tiny.yaml".into());
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let overrides: Vec<String> = args.iter().skip(2).cloned().collect();
    let runs = std::env::temp_dir().join(format!("plexus-bench-{}", std::process::id()));
    let (mut zs_plain, mut zs_script) = (f64::NAN, f64::NAN);
    let (t_script, t_plain) = interleave(
        reps,
        || plexus_bench::time(|| zs_script = scripted(&config, &overrides, &runs)),
        || plexus_bench::time(|| zs_plain = plain(&config, &overrides, &runs)),
    );
    let _ = std::fs::remove_dir_all(&runs);
    assert_eq!(zs_plain, zs_script, "the Rust and Rhai versions must compute the same thing");
    let (s, p) = (median(t_script.clone()), median(t_plain.clone()));
    let overhead = s / p - 1.0;
    println!("rhai_overhead  config {config}  reps {reps}");
    println!("  rhai script   median {s:.3} s   {t_script:.3?}");
    println!("  plain rust    median {p:.3} s   {t_plain:.3?}");
    println!("  overhead      {:+.2}%  (goal <= 1%)   zero_shot_top1 identical: {zs_plain}", overhead * 100.0);
    record(std::path::Path::new("bench/results.json"), "rhai_overhead", s, p, s / p, "seconds per run (ratio = rhai / plain)");
}
