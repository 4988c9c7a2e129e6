//! `clip_train_step`, `data_wait_fraction`, `cpu_mfu`: the default CLIP model
//! (experiments/clip_fashion.yaml, built through the plugins) trained by the real
//! `Trainer` on an in-memory synthetic Fashion-MNIST-shaped dataset, against the PyTorch
//! eager script bench/clip_train_step.py building the identical model, interleaved.
//!
//! - Before timing, the Python model loads plexus's initial weights and batch and must
//!   reproduce plexus's loss and parameter count (proof that it is the same model).
//! - plexus: each repetition trains STEPS+1 steps with `Trainer::train_epoch`; steps/s is
//!   timed between the first and last step hooks (the end-of-epoch checkpoint is
//!   outside), the data-wait fraction is `Trainer::data_seconds` (gather + captions +
//!   tokenize + to device) over step time.
//! - PyTorch: a long-lived `--serve` process runs STEPS steps per repetition on a fixed
//!   synthetic batch (no data work at all; plexus's data assembly counts against plexus).
//! - cpu_mfu: analytic FLOPs per step (`plexus_bench::clip_train_step_flops`) × steps/s
//!   over the best f32 1024² GEMM through libtorch, measured in every repetition.
//!
//! - plexus trains with the config's `train.step_threads` (`auto`): with more than one
//!   thread each step's batch is split over threads (core/runtime/src/train/parallel.rs);
//!   PyTorch gets the same thread count through `torch.set_num_threads`.
//!
//! Usage: clip_train_step [--reps R=5] [--steps S=8] [--device cpu|cuda] [--bf16]
//!        [--name clip_train_step[_SUFFIX]] [--py-arg ARG]...   (threads: BENCH_THREADS, default 1)
//! A name `clip_train_step_SUFFIX` records `data_wait_fraction_SUFFIX` and `cpu_mfu_SUFFIX`.
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::Rc;
use std::time::Instant;

use plexus::config::ExperimentConfig;
use plexus::data::CaptionedImages;
use plexus::model::DualEncoder;
use plexus::plugins::{default_search_path, Registry};
use plexus::run_dir::RunDir;
use plexus::train::{Precision, TrainConfig, Trainer};
use plexus_bench::{clip_train_step_flops, median, paired_ratio, record, TowerShape};
use plexus_plugin::{Hparams, Loss, TensorMap};
use tch::{nn, Device, Kind, Tensor};

const CONFIG: &str = "experiments/clip_fashion.yaml";
const CLASSES: [&str; 10] = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];

fn section(cfg: &ExperimentConfig, path: &str) -> Hparams {
    let value = cfg.lookup(path).cloned().unwrap_or(serde_json::Value::Null);
    Hparams::new(value, format!("{}: {path}", cfg.file))
}

struct Args {
    reps: usize,
    steps: usize,
    device: String,
    bf16: bool,
    name: String,
    py_args: Vec<String>,
}

fn parse_args() -> Args {
    let mut a = Args { reps: 5, steps: 8, device: "cpu".into(), bf16: false, name: "clip_train_step".into(), py_args: vec![] };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--reps" => a.reps = value().parse().expect("--reps N"),
            "--steps" => a.steps = value().parse().expect("--steps N"),
            "--device" => a.device = value(),
            "--name" => a.name = value(),
            "--py-arg" => a.py_args.push(value()),
            "--bf16" => a.bf16 = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// The PyTorch baseline as a long-lived process answering one command per line.
struct Baseline {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    banner: String,
}

impl Baseline {
    fn spawn(vocab: i64, batch: usize, threads: i32, args: &Args) -> Self {
        let mut cmd = Command::new(plexus_bench::python());
        cmd.arg("bench/clip_train_step.py")
            .args(["--serve", "--vocab", &vocab.to_string(), "--batch", &batch.to_string(), "--threads", &threads.to_string()])
            .args(["--device", if args.device.starts_with("cuda") { "cuda" } else { "cpu" }])
            .args(if args.bf16 { vec!["--bf16"] } else { vec![] })
            .args(&args.py_args)
            .env("OMP_NUM_THREADS", threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("start the PyTorch baseline (.venv/bin/python bench/clip_train_step.py)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut b = Self { child, stdin, stdout, banner: String::new() };
        b.banner = b.read_line();
        assert!(b.banner.starts_with("ready "), "baseline did not start: {:?}", b.banner);
        b
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from the baseline");
        line.trim().to_string()
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").and_then(|_| self.stdin.flush()).expect("write to the baseline");
        let answer = self.read_line();
        assert!(!answer.is_empty() && !answer.starts_with("error"), "baseline answered {answer:?} to {command:?}");
        answer
    }
}

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// A Fashion-MNIST-shaped dataset in memory: `n` random images and labels, the real
/// class names and the config's caption templates.
fn synthetic(cfg: &ExperimentConfig, n: usize) -> CaptionedImages {
    let templates: Vec<String> = serde_json::from_value(cfg.lookup("data.train.templates").cloned().expect("templates")).unwrap();
    let labels = Tensor::randint(CLASSES.len() as i64, [n as i64], (Kind::Int64, Device::Cpu));
    CaptionedImages {
        name: "synthetic".into(),
        split: "train".into(),
        images: Tensor::randn([n as i64, 1, 28, 28], (Kind::Float, Device::Cpu)),
        labels: Vec::<i64>::try_from(&labels).unwrap(),
        class_names: CLASSES.iter().map(|s| s.to_string()).collect(),
        templates,
    }
}

/// Writes plexus's parameters and one batch as .npy for the baseline's parity check.
fn dump_for_parity(dir: &Path, vs: &nn::VarStore, vocab: i64, images: &Tensor, tokens: &Tensor) {
    std::fs::create_dir_all(dir).unwrap();
    let mut names = vec![];
    for (name, t) in vs.variables() {
        t.to_device(Device::Cpu).write_npy(dir.join(format!("{name}.npy"))).unwrap();
        names.push(name);
    }
    names.sort();
    images.to_device(Device::Cpu).write_npy(dir.join("__images.npy")).unwrap();
    tokens.to_device(Device::Cpu).write_npy(dir.join("__tokens.npy")).unwrap();
    let manifest = serde_json::json!({"vocab_size": vocab, "params": names});
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

/// Tower shapes of the experiment's model, for the FLOP count: (ViT, C·p², text).
fn shapes(cfg: &ExperimentConfig) -> (TowerShape, u64, TowerShape) {
    let get = |k: &str| cfg.lookup(k).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("{k} missing")) ;
    let (image, patch, channels) = (get("model.image.image_size") as u64, get("model.image.patch_size") as u64, get("model.image.in_channels") as u64);
    let (vw, tw) = (get("model.image.width"), get("model.text.width"));
    let vit = TowerShape {
        tokens: (image / patch).pow(2) + 1,
        width: vw as u64,
        layers: get("model.image.layers") as u64,
        hidden: (vw * get("model.image.mlp_ratio")).round() as u64,
        output_dim: get("model.image.output_dim") as u64,
    };
    let text = TowerShape {
        tokens: get("model.text.context_length") as u64,
        width: tw as u64,
        layers: get("model.text.layers") as u64,
        hidden: (tw * get("model.text.mlp_ratio")).round() as u64,
        output_dim: get("model.text.output_dim") as u64,
    };
    (vit, channels * patch * patch, text)
}

fn main() {
    let args = parse_args();
    let threads = plexus_bench::threads();
    plexus::runner::configure_process(threads);
    tch::manual_seed(0);
    let device = plexus::device::resolve(&args.device).expect("device");
    let cfg = ExperimentConfig::load(CONFIG, &[]).expect("config");
    let mut train_cfg: TrainConfig = section(&cfg, "train").parse().expect("train config");
    let batch = train_cfg.batch_size;
    train_cfg.log_every = 0;
    train_cfg.epochs = 1000; // keeps the schedule's total far away; every repetition is one "epoch"
    if args.bf16 {
        train_cfg.precision = Precision::Bf16;
    }
    let data = synthetic(&cfg, batch * (args.steps + 1));

    let registry = Registry::discover(&default_search_path(&[]));
    let vs = nn::VarStore::new(device);
    let mut tok = registry.tokenizer("word", &(vs.root() / "word1"), &section(&cfg, "model.tokenizer")).unwrap();
    tok.fit(&data.all_captions()).unwrap();
    let vocab = tok.vocab_size();
    let image = registry.encoder("vit", &(vs.root() / "visual"), &section(&cfg, "model.image")).unwrap();
    let mut text_cfg = section(&cfg, "model.text");
    text_cfg.value["vocab_size"] = serde_json::json!(vocab);
    let text = registry.encoder("text_transformer", &(vs.root() / "text"), &text_cfg).unwrap();
    let model = Rc::new(DualEncoder::new(Rc::new(image), Rc::new(text), Rc::new(RefCell::new(tok)), device).unwrap());
    let loss: Rc<Box<dyn Loss>> = Rc::new(registry.loss("clip", &(vs.root() / "clip_loss"), &section(&cfg, "loss")).unwrap());
    let sampler = registry.sampler("shuffle", &(vs.root() / "shuffle"), &Hparams::new(serde_json::json!({}), "bench")).unwrap();
    let scratch = std::env::temp_dir().join(format!("plexus-bench-clip-{}", std::process::id()));
    let run = RefCell::new(RunDir::create(&scratch, "clip_train_step").unwrap());
    let ckpt = run.borrow().path().join("checkpoints");
    let mut trainer = Trainer::new(&vs, model.clone(), loss.clone(), Rc::new(sampler), train_cfg, 0, ckpt, None, Default::default()).unwrap();
    trainer.limit_steps_per_epoch(args.steps + 1);

    // Same model: the baseline loads plexus's weights and batch and must give the same loss.
    let mut baseline = Baseline::spawn(vocab, batch, threads, &args);
    let py_params: i64 = baseline.banner.split_whitespace().nth(1).unwrap().parse().unwrap();
    let plexus_params: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
    assert_eq!(plexus_params, py_params, "parameter counts differ: plexus {plexus_params}, PyTorch {py_params}");
    {
        let images = data.images.narrow(0, 0, batch as i64).to_device(device);
        let captions: Vec<String> = (0..batch).map(|i| data.caption(data.labels[i], i % data.templates.len())).collect();
        let tokens = model.tokenize(&captions).unwrap();
        let inputs = TensorMap::new()
            .with("image_embeds", &model.embed_images(&images, true).unwrap())
            .with("text_embeds", &model.embed_tokens(&tokens, true).unwrap());
        let ours = tch::no_grad(|| loss.compute(&inputs, true).unwrap().loss.double_value(&[]));
        let dir = scratch.join("parity");
        dump_for_parity(&dir, &vs, vocab, &images, &tokens);
        let theirs: f64 = baseline.ask(&format!("parity {}", dir.display())).split_whitespace().next().unwrap().parse().unwrap();
        assert!((ours - theirs).abs() <= 1e-4 * ours.abs().max(1.0), "not the same model: plexus loss {ours}, PyTorch loss {theirs}");
        println!("same model: {plexus_params} parameters, initial loss plexus {ours:.6} / PyTorch {theirs:.6}");
    }

    let cpu = device == Device::Cpu;
    let (mut fractions, mut gemm) = (vec![], vec![]);
    let data_ref = &data;
    let mut plexus_chunk = || {
        let data_before = trainer.data_seconds();
        let start = Instant::now();
        let mut stamps = Vec::with_capacity(args.steps + 1);
        let last = args.steps + 1;
        trainer
            .train_epoch(data_ref, &run, &mut |ev| {
                if stamps.is_empty() || stamps.len() + 1 == last {
                    let _ = ev.loss.double_value(&[]); // syncs an accelerator
                }
                stamps.push(Instant::now());
                Ok(())
            })
            .expect("train");
        assert_eq!(stamps.len(), last);
        let waited = trainer.data_seconds() - data_before;
        fractions.push(waited / (stamps[last - 1] - start).as_secs_f64());
        if cpu {
            gemm.push(plexus_bench::gemm_flops_per_s(1024, 5));
        }
        args.steps as f64 / (stamps[last - 1] - stamps[0]).as_secs_f64()
    };
    let steps = args.steps;
    let mut pytorch_chunk = || steps as f64 / baseline.ask(&format!("run {steps}")).parse::<f64>().unwrap();
    let (ours, theirs) = plexus_bench::interleave(args.reps, &mut plexus_chunk, &mut pytorch_chunk);
    drop(baseline);
    let _ = std::fs::remove_dir_all(&scratch);

    let (p, b) = (median(ours.clone()), median(theirs.clone()));
    let ratio = paired_ratio(&ours, &theirs);
    let results_file = plexus_bench::results_path();
    let results = results_file.as_path();
    let suffix = args.name.strip_prefix("clip_train_step").unwrap_or("");
    let step_threads = trainer.step_threads();
    println!("{}  batch {batch}  threads {threads} (plexus step_threads {step_threads})  device {}  reps {} × {steps} steps", args.name, args.device, args.reps);
    println!("  plexus   median {p:.3} steps/s  {ours:.3?}");
    println!("  pytorch  median {b:.3} steps/s  {theirs:.3?}");
    println!("  ratio    {ratio:.3}  (median of per-repetition ratios; goal >= 1.2)");
    record(results, &args.name, p, b, ratio, "steps/s (ratio = plexus / PyTorch eager)");

    let fraction = median(fractions.clone());
    println!("data_wait_fraction  median {fraction:.4}  {fractions:.4?}  (goal <= 0.02)");
    if cpu {
        record(results, &format!("data_wait_fraction{suffix}"), fraction / p, 1.0 / p, fraction, "seconds per step: data wait, step (ratio = fraction)");
        let (vit, patch_k, txt) = shapes(&cfg);
        let flops = clip_train_step_flops(vit, patch_k, txt, batch as u64) as f64;
        let peak = median(gemm.clone());
        let mfu = flops * p / peak;
        println!(
            "cpu_mfu  {:.3} GFLOP/step; plexus {:.2} GFLOP/s, PyTorch {:.2} GFLOP/s, GEMM peak {:.2} GFLOP/s → plexus {mfu:.3}, PyTorch {:.3}  (goal >= 0.5)",
            flops / 1e9,
            flops * p / 1e9,
            flops * b / 1e9,
            peak / 1e9,
            flops * b / peak
        );
        record(results, &format!("cpu_mfu{suffix}"), flops * p, peak, mfu, "FLOP/s: training step, f32 GEMM peak (ratio = MFU)");
        record(results, &format!("cpu_mfu_pytorch{suffix}"), flops * b, peak, flops * b / peak, "FLOP/s: PyTorch eager step, f32 GEMM peak (ratio = MFU), for context");
    }
}
