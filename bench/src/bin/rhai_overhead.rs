//! `rhai_overhead`: the default CLIP experiment (a given config) driven by its Rhai
//! script versus the same composition written as a plain Rust function against the
//! library. Both run inside the same run machinery (`plexus::runner`: run folder,
//! manifest, logs, summary, plots), load the data, build the same components in the same
//! order with the same seed, train, and evaluate; their metrics must agree, proving it is
//! the same work.
//!
//! Timed as this thread's CPU time when the run is pinned to one libtorch thread (pass
//! `threads=1`: every kernel then runs on this thread, and other processes taking the
//! core away do not count), wall time otherwise; the ratio is the median of the
//! per-repetition ratios.
//!
//! Usage: rhai_overhead CONFIG [REPS] [key=value ...]
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use plexus::config::{ConfigNode, ExperimentConfig};
use plexus::model::DualEncoder;
use plexus::runner::{run, run_with_rust_driver, RunOptions};
use plexus::script::Shared;
use plexus::train::{TrainConfig, Trainer};
use plexus_bench::{interleave, median, paired_ratio, record};
use plexus_plugin::{Hparams, Metric};

fn section(cfg: &ExperimentConfig, path: &str) -> Hparams {
    let value = cfg.lookup(path).cloned().unwrap_or(serde_json::Value::Null);
    Hparams::new(value, format!("{}: {path}", cfg.file))
}

/// scripts/clip.rhai, line for line, in Rust, inside the same run machinery (run folder,
/// manifest, logs, summary, plots) as the scripted run: only the driver differs.
fn plain(config: &str, overrides: &[String], runs: &Path) -> f64 {
    let opts = options(config, overrides, runs);
    let mut drive = |session: &Shared| -> plexus::Result<()> {
        let s = session.borrow();
        let root = ConfigNode::root(config, s.config.root.clone());
        let data = |split: &str| -> plexus::data::CaptionedImages {
            let v = root.child("data").unwrap().unwrap().child(split).unwrap().unwrap().value().clone();
            let templates: Vec<String> = serde_json::from_value(v["templates"].clone()).unwrap();
            let mut d = plexus::data::load_fashion_mnist(&PathBuf::from(v["root"].as_str().unwrap()), split, templates).unwrap();
            let limit = v["limit"].as_u64().unwrap_or(0) as usize;
            if limit > 0 && limit < d.len() {
                d.images = d.images.narrow(0, 0, limit as i64);
                d.labels.truncate(limit);
            }
            d
        };
        let (train, test) = (data("train"), data("test"));
        println!("train {} examples, test {}; device {}, seed {}", train.len(), test.len(), plexus::device::describe(s.device), s.seed);
        let reg = &s.registry;
        let mut tok = reg.tokenizer("word", &(s.vs.root() / "word1"), &section(&s.config, "model.tokenizer"))?;
        tok.fit(&train.all_captions())?;
        let image = reg.encoder("vit", &(s.vs.root() / "visual"), &section(&s.config, "model.image"))?;
        let mut text_cfg = section(&s.config, "model.text");
        text_cfg.value["vocab_size"] = serde_json::json!(tok.vocab_size());
        let text = reg.encoder("text_transformer", &(s.vs.root() / "text"), &text_cfg)?;
        let model = Rc::new(DualEncoder::new(Rc::new(image), Rc::new(text), Rc::new(RefCell::new(tok)), s.device)?);
        let loss = reg.loss("clip", &(s.vs.root() / "clip_loss"), &section(&s.config, "loss"))?;
        let sampler = reg.sampler("shuffle", &(s.vs.root() / "shuffle5"), &Hparams::new(serde_json::json!({}), "bench"))?;
        let train_cfg: TrainConfig = section(&s.config, "train").parse()?;
        let run = s.run.clone();
        let ckpt = run.borrow().path().join("checkpoints");
        let mut trainer = Trainer::new(&s.vs, model.clone(), Rc::new(loss), Rc::new(sampler), train_cfg.clone(), s.seed, ckpt, None, Default::default())?;
        let metrics: Vec<Box<dyn Metric>> = vec![
            reg.metric("zero_shot", &s.vs.root(), &section(&s.config, "evaluation.zero_shot"))?,
            reg.metric("retrieval", &s.vs.root(), &section(&s.config, "evaluation.retrieval"))?,
        ];
        for epoch in 0..train_cfg.epochs {
            let stats = trainer.train_epoch(&train, &run, &mut |_| Ok(()))?;
            println!("epoch {epoch}: loss {} ({} examples/s)", stats.loss, stats.examples_per_second);
        }
        let refs: Vec<&dyn Metric> = metrics.iter().map(|m| m.as_ref()).collect();
        let scores: serde_json::Map<String, serde_json::Value> =
            plexus::eval::evaluate(&model, &test, &refs, 1000)?.into_iter().map(|(k, v)| (k, v.into())).collect();
        let mut record = serde_json::json!({ "step": trainer.step() });
        record.as_object_mut().unwrap().extend(scores.clone());
        run.borrow_mut().log_metrics(&record)?;
        let dir = run.borrow().path().join("embeddings");
        for split in [&train, &test] {
            plexus::eval::export_embeddings(&model, split, &dir.join(format!("{}.safetensors", split.split)), 1000)?;
        }
        drop(s);
        session.borrow_mut().summary.extend(scores);
        Ok(())
    };
    let outcome = run_with_rust_driver(&opts, &mut drive).expect("plain Rust run");
    outcome.metrics["zero_shot_top1"].as_f64().unwrap()
}

fn options(config: &str, overrides: &[String], runs: &Path) -> RunOptions {
    RunOptions {
        script: "scripts/clip.rhai".into(),
        config: config.into(),
        overrides: overrides.to_vec(),
        runs_dir: runs.to_path_buf(),
        ..Default::default()
    }
}

fn scripted(config: &str, overrides: &[String], runs: &Path) -> f64 {
    run(&options(config, overrides, runs)).expect("scripted run").metrics["zero_shot_top1"].as_f64().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = args.first().cloned().unwrap_or_else(|| "experiments/clip_fashion_tiny.yaml".into());
    let reps: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5);
    let overrides: Vec<String> = args.iter().skip(2).cloned().collect();
    let runs = std::env::temp_dir().join(format!("plexus-bench-{}", std::process::id()));
    let (mut zs_plain, mut zs_script) = (f64::NAN, f64::NAN);
    let one_thread = overrides.iter().any(|o| o == "threads=1");
    let clock = |f: &mut dyn FnMut()| if one_thread { plexus_bench::thread_cpu_time(f) } else { plexus_bench::time(f) };
    let (t_script, t_plain) = interleave(
        reps,
        || clock(&mut || zs_script = scripted(&config, &overrides, &runs)),
        || clock(&mut || zs_plain = plain(&config, &overrides, &runs)),
    );
    let _ = std::fs::remove_dir_all(&runs);
    assert_eq!(zs_plain, zs_script, "the Rust and Rhai versions must compute the same thing");
    let (s, p) = (median(t_script.clone()), median(t_plain.clone()));
    let ratio = paired_ratio(&t_script, &t_plain);
    let overhead = ratio - 1.0;
    let clock = if one_thread { "this thread's CPU time" } else { "wall time" };
    println!("rhai_overhead  config {config}  reps {reps}  ({clock})");
    println!("  rhai script   median {s:.3} s   {t_script:.3?}");
    println!("  plain rust    median {p:.3} s   {t_plain:.3?}");
    println!("  overhead      {:+.2}%  (median of per-repetition ratios; goal <= 1%)   zero_shot_top1 identical: {zs_plain}", overhead * 100.0);
    record(&plexus_bench::results_path(), "rhai_overhead", s, p, ratio, &format!("seconds per run, {clock} (ratio = rhai / plain)"));
}
