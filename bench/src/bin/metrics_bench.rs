//! `metrics_bench`: plexus-metrics against the Python references on the same data, one
//! thread each, scores asserted equal.
//! - captions: BLEU-1..4 + ROUGE-L + CIDEr-D over CANDS candidates × 5 references
//!   (already tokenised, so pycocoevalcap's Java tokenizer is not part of either timing);
//!   median of 7 plexus and 3 pycocoevalcap repetitions;
//! - retrieval: R@1/5/10, fraction recall@k and MRR both ways between N images and 5N
//!   captions (embeddings in, scores out) against torchmetrics' RetrievalHitRate,
//!   RetrievalRecall and RetrievalMRR; peak memory of each process is reported.
//!
//! Usage: metrics_bench [CANDS=5000] [IMAGES=2000] [DIM=256]
//! Ratios (> 1 = plexus faster) are merged into bench/results.json.
use std::process::Command;

use plexus_bench::{median, record, time};
use plexus_plugin::serde_json::{self, json, Value};
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Metric, TensorMap};

fn python() -> String {
    std::env::var("PLEXUS_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into())
}

fn run_python(script: &str, input: &std::path::Path) -> Value {
    let out = Command::new(python()).arg("-c").arg(script).arg(input).env("OMP_NUM_THREADS", "1").output().expect("python");
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().expect("output")).expect("json")
}

/// Peak resident memory of this process (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()).map_or(f64::NAN, |kb| kb / 1024.0)
}

/// COCO-like captions: 8..16 words from a Zipf-ish 2,000-word vocabulary, candidates
/// often edited copies of a reference.
fn captions(n: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let mut s = 0x1234_5678_9abc_def0u64;
    let mut next = move |m: usize| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % m as u64) as usize
    };
    let word = |next: &mut dyn FnMut(usize) -> usize| {
        let rank = 1 + next(2000); // Zipf-ish: small ids are frequent
        format!("w{}", next(rank))
    };
    let sentence = |next: &mut dyn FnMut(usize) -> usize| (0..8 + next(9)).map(|_| word(next)).collect::<Vec<_>>();
    let (mut cands, mut refs) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let rs: Vec<Vec<String>> = (0..5).map(|_| sentence(&mut next)).collect();
        let mut c = if next(3) > 0 { rs[next(5)].clone() } else { sentence(&mut next) };
        for _ in 0..next(4) {
            let i = next(c.len());
            c[i] = format!("w{}", next(300));
        }
        cands.push(c.join(" "));
        refs.push(rs.into_iter().map(|r| r.join(" ")).collect());
    }
    (cands, refs)
}

const COCO: &str = r#"
import json, sys, time
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.cider.cider import Cider
d = json.load(open(sys.argv[1]))
res = {i: [c] for i, c in enumerate(d["cands"])}
gts = {i: r for i, r in enumerate(d["refs"])}
times = []
for _ in range(3):
    t = time.perf_counter()
    b, _ = Bleu(4).compute_score(gts, res, verbose=0)
    r, _ = Rouge().compute_score(gts, res)
    c, _ = Cider().compute_score(gts, res)
    times.append(time.perf_counter() - t)
print(json.dumps({"seconds": sorted(times)[1], "scores": list(b) + [float(r), float(c)]}))
"#;

fn caption_bench(n: usize, dir: &std::path::Path) {
    let (cands, refs) = captions(n);
    let input = dir.join("captions.json");
    std::fs::write(&input, serde_json::to_vec(&json!({"cands": cands, "refs": refs})).unwrap()).unwrap();
    let py = run_python(COCO, &input);
    let mut ours = Vec::new();
    let times: Vec<f64> = (0..7)
        .map(|_| {
            time(|| {
                // What `plexus score caption` runs on tokenised captions (pycocoevalcap is
                // timed without its tokenizer too).
                let scores = plexus_metrics::caption_scores(plexus_metrics::CaptionMetric::All, &cands, &refs, false).unwrap();
                ours = scores.iter().map(|(_, v)| *v).collect();
            })
        })
        .collect();
    let want: Vec<f64> = py["scores"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let diff = ours.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(diff <= 1e-6, "scores differ by {diff:e}: {ours:?} vs {want:?}");
    let (t_rust, t_py) = (median(times), py["seconds"].as_f64().unwrap());
    println!(
        "captions  {n} cands x 5 refs: plexus {t_rust:.3} s, pycocoevalcap {t_py:.3} s, ratio {:.1}x (goal >= 20x); max |score diff| {diff:.1e}",
        t_py / t_rust
    );
    println!("          bleu_1..4 {:.4} {:.4} {:.4} {:.4}  rouge_l {:.4}  cider {:.4}", ours[0], ours[1], ours[2], ours[3], ours[4], ours[5]);
    record(std::path::Path::new("bench/results.json"), "caption_metrics", t_rust, t_py, t_py / t_rust, "seconds (ratio = pycocoevalcap / plexus)");
}

const TORCHMETRICS: &str = r#"
import json, resource, sys, time, torch
from torchmetrics.retrieval import RetrievalHitRate, RetrievalRecall, RetrievalMRR
torch.set_num_threads(1)
meta = json.load(open(sys.argv[1]))
raw = lambda name, dtype, shape: torch.frombuffer(bytearray(open(meta[name], "rb").read()), dtype=dtype).reshape(shape)
n, dim = meta["images_n"], meta["dim"]
img, txt = raw("images", torch.float32, (n, dim)), raw("texts", torch.float32, (5 * n, dim))
owner = torch.arange(n).repeat_interleave(5)
t = time.perf_counter()
img = img / img.norm(dim=1, keepdim=True)
txt = txt / txt.norm(dim=1, keepdim=True)
out = {}
for name, q, items, rel in [("i2t", img, txt, owner.unsqueeze(0) == torch.arange(len(img)).unsqueeze(1)),
                            ("t2i", txt, img, owner.unsqueeze(1) == torch.arange(len(img)).unsqueeze(0))]:
    sims = q @ items.T
    # torchmetrics counts an item scored <= 0 as irrelevant; shift cosines into (0, 2].
    p, tg = (sims + 1.0001).reshape(-1), rel.reshape(-1)
    idx = torch.arange(sims.shape[0]).unsqueeze(1).expand_as(sims).reshape(-1)
    for k in (1, 5, 10):
        out[f"{name}_r{k}"] = RetrievalHitRate(top_k=k)(p, tg, indexes=idx).item()
        out[f"{name}_recall{k}"] = RetrievalRecall(top_k=k)(p, tg, indexes=idx).item()
    out[f"{name}_mrr"] = RetrievalMRR()(p, tg, indexes=idx).item()
    del sims, p, tg, idx
secs = time.perf_counter() - t
print(json.dumps({"seconds": secs, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "scores": out}))
"#;

fn retrieval_bench(images: i64, dim: i64, dir: &std::path::Path) {
    tch::manual_seed(0);
    let img = Tensor::randn([images, dim], (Kind::Float, tch::Device::Cpu));
    // Five captions per image: noisy copies of their image's embedding.
    let owner = Tensor::arange(images, (Kind::Int64, tch::Device::Cpu)).repeat_interleave_self_int(5, 0, None);
    let txt = img.index_select(0, &owner) * 0.3 + Tensor::randn([images * 5, dim], (Kind::Float, tch::Device::Cpu));
    // Raw little-endian f32 files (the venv has no Python safetensors package).
    let raw = |name: &str, t: &Tensor| {
        let v = Vec::<f32>::try_from(t.flatten(0, -1)).unwrap();
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let meta = json!({"images": raw("images.f32", &img), "texts": raw("texts.f32", &txt), "images_n": images, "dim": dim});
    let path = dir.join("embeds.json");
    std::fs::write(&path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let py = run_python(TORCHMETRICS, &path);
    let metric = plexus_metrics::Retrieval::new(&plexus_metrics::RetrievalConfig { ks: vec![1, 5, 10], chunk: 1024, fraction_recall: true }).unwrap();
    let groups = Tensor::arange(images, (Kind::Int64, tch::Device::Cpu));
    let inputs = TensorMap::new().with("image_embeds", &img).with("text_embeds", &txt).with("image_groups", &groups).with("text_groups", &owner);
    let mut scores = Vec::new();
    let times: Vec<f64> = (0..3).map(|_| time(|| scores = metric.compute(&inputs).unwrap())).collect();
    let mut diff = 0.0f64;
    for (k, v) in py["scores"].as_object().unwrap() {
        let ours = scores.iter().find(|(n, _)| n == k).unwrap_or_else(|| panic!("no {k}")).1;
        diff = diff.max((ours - v.as_f64().unwrap()).abs());
    }
    assert!(diff <= 1e-5, "retrieval scores differ by {diff:e}");
    let (t_rust, t_py) = (median(times), py["seconds"].as_f64().unwrap());
    println!(
        "retrieval {images} images x {} captions (dim {dim}), both directions: plexus {t_rust:.3} s, torchmetrics {t_py:.3} s, ratio {:.1}x (goal >= 10x); \
         peak memory plexus {:.0} MiB (whole process), torchmetrics {:.0} MiB; max |score diff| {diff:.1e}",
        images * 5,
        t_py / t_rust,
        peak_rss_mib(),
        py["peak_mib"].as_f64().unwrap()
    );
    record(std::path::Path::new("bench/results.json"), "retrieval_metrics", t_rust, t_py, t_py / t_rust, "seconds (ratio = torchmetrics / plexus)");
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let cands = args.first().copied().unwrap_or(5000);
    let images = args.get(1).copied().unwrap_or(2000) as i64;
    let dim = args.get(2).copied().unwrap_or(256) as i64;
    plexus::runner::configure_process(1);
    let dir = std::env::temp_dir().join(format!("plexus-metrics-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    caption_bench(cands, &dir);
    retrieval_bench(images, dim, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}
