//! `plugin_overhead`: the default experiment's ViT image encoder called through the
//! dynamic plugin (Registry → libplexus_vision.so → guarded `Box<dyn Encoder>`) against
//! the same `VisionTransformer` source (plugins/vision/src/vit.rs) compiled statically into this binary, with
//! the same weights (copied) and the same input; outputs are asserted identical.
//!
//! Each repetition times CALLS forward+backward passes of each, interleaved; the
//! overhead is the median of the per-repetition ratios dynamic / static, minus 1. On a
//! noisy VM one repetition's ratio scatters by ~10 %, so resolving 0.5 % takes hundreds of
//! repetitions: `make bench` runs 401 single calls at batch 32 (a smaller batch also makes
//! any fixed per-call cost weigh more than at the experiment's 256). With
//! one thread (the default) the times are this thread's CPU time, which other processes
//! on a shared machine do not inflate; with more, wall time. A second, batch-1 forward-only
//! measurement makes any per-call cost visible (printed, not the headline).
//!
//! Usage: plugin_overhead [REPS=15] [CALLS=10] [BATCH=256]   (threads: BENCH_THREADS)
use plexus::config::ExperimentConfig;
use plexus::plugins::{default_search_path, Registry};
use plexus_bench::{interleave, median, paired_ratio, record, thread_cpu_time, time};
use plexus_plugin::{Encoder, Hparams};

// The plugin's own source, compiled into this binary. (Linking the plexus-vision rlib is
// not possible next to plexus-metrics: each exports the same `#[no_mangle]` plugin
// declaration symbols.)
#[path = "../../../plugins/vision/src/vit.rs"]
mod vit;
use vit::{VisionTransformer, VitConfig};
use tch::{nn, Device, Kind, Tensor};

/// Repetitions of the batch-1 forward check, at most.
const SMALL_REPS: usize = 41;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let reps = args.first().copied().unwrap_or(15);
    let calls = args.get(1).copied().unwrap_or(10);
    let batch = args.get(2).copied().unwrap_or(256) as i64;
    let threads = plexus_bench::threads();
    plexus::runner::configure_process(threads);
    tch::manual_seed(0);

    let cfg = ExperimentConfig::load("experiments/clip_fashion.yaml", &[]).expect("config");
    let image_cfg = cfg.lookup("model.image").cloned().expect("model.image");
    let registry = Registry::discover(&default_search_path(&[]));
    let vs_dyn = nn::VarStore::new(Device::Cpu);
    let dynamic = registry.encoder("vit", &(vs_dyn.root() / "visual"), &Hparams::new(image_cfg.clone(), "model.image")).unwrap();
    let mut vs_static = nn::VarStore::new(Device::Cpu);
    let vit_cfg: VitConfig = serde_json::from_value(image_cfg).expect("vit config");
    let statik = VisionTransformer::new(&(vs_static.root() / "visual"), &vit_cfg).unwrap();
    vs_static.copy(&vs_dyn).expect("same parameter names and shapes");

    let (c, s) = (vit_cfg.in_channels, vit_cfg.image_size);
    let images = Tensor::randn([batch, c, s, s], (Kind::Float, Device::Cpu));
    let (a, b) = (dynamic.encode(&images, true).unwrap(), statik.encode(&images, true).unwrap());
    assert!(a.equal(&b), "the dynamic and static encoders must compute the same thing");

    let clock = |f: &mut dyn FnMut()| if threads == 1 { thread_cpu_time(f) } else { time(f) };
    let train_calls = |enc: &dyn Encoder| {
        clock(&mut || {
            for _ in 0..calls {
                let out = enc.encode(&images, true).unwrap();
                out.sum(Kind::Float).backward();
            }
        })
    };
    let (t_dyn, t_static) = interleave(reps, || train_calls(dynamic.as_ref()), || train_calls(&statik));
    let (d, st) = (median(t_dyn.clone()), median(t_static.clone()));
    let ratio = paired_ratio(&t_dyn, &t_static);

    // Per-call cost on the smallest input (forward only), where a boundary cost would show.
    let one = images.narrow(0, 0, 1);
    let small = |enc: &dyn Encoder| clock(&mut || tch::no_grad(|| (0..500).for_each(|_| drop(enc.encode(&one, false).unwrap())))) / 500.0;
    let small_reps = reps.min(SMALL_REPS); // 500 calls each: enough to see a per-call cost
    let (s_dyn, s_static) = interleave(small_reps, || small(dynamic.as_ref()), || small(&statik));
    let (sd, ss) = (median(s_dyn.clone()), median(s_static.clone()));
    let small_ratio = paired_ratio(&s_dyn, &s_static);

    let clock_name = if threads == 1 { "thread CPU time" } else { "wall time" };
    println!("plugin_overhead  vit {:?}  batch {batch}  threads {threads}  reps {reps} × {calls} forward+backward  ({clock_name})", [c, s, s]);
    println!("  dynamic plugin  median {:.4} s  {t_dyn:.4?}", d);
    println!("  static link     median {:.4} s  {t_static:.4?}", st);
    println!("  overhead        {:+.2}%  (median of per-repetition ratios; goal <= 0.5%)", (ratio - 1.0) * 100.0);
    println!("  batch-1 forward: dynamic {:.1} µs, static {:.1} µs per call ({:+.2}%)", sd * 1e6, ss * 1e6, (small_ratio - 1.0) * 100.0);
    record(&plexus_bench::results_path(), "plugin_overhead", d, st, ratio, "seconds per repetition (ratio = dynamic / static)");
}
