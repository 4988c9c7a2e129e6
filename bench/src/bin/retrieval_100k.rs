//! `retrieval_100k`: image↔text retrieval (R@1/5/10, fraction recall@1/5/10, MRR, both
//! directions) over N image and N text embeddings, pair i ↔ i relevant, one thread.
//!
//! - plexus: the `retrieval` metric over all N queries per direction, chunked (never
//!   the N² matrix); its time, and the peak resident memory of this process (`VmHWM`,
//!   everything: libtorch, the embeddings, the blocks) read right after, before Python.
//! - torchmetrics (RetrievalHitRate, RetrievalRecall, RetrievalMRR) keeps every score of
//!   an update in memory (N² = 10¹⁰ at N = 100k, with targets and indexes), so it runs on
//!   SAMPLE queries per direction against all N items, in blocks, and its time per query
//!   is extrapolated linearly to N queries. plexus scores the same sampled queries
//!   (`retrieval_from_sims`) and the scores must agree to 1e-5.
//!
//! Usage: retrieval_100k [N=100000] [DIM=256] [SAMPLE=100] [CHUNK=512]
use std::process::Command;

use plexus_bench::{python, record, results_path, time};
use plexus_plugin::serde_json::{self, json, Value};
use plexus_plugin::tch::{Device, Kind, Tensor};
use plexus_plugin::{Metric, TensorMap};

const KS: [i64; 3] = [1, 5, 10];

const TORCHMETRICS: &str = r#"
import json, sys, time, numpy as np, torch
from torchmetrics.retrieval import RetrievalHitRate, RetrievalRecall, RetrievalMRR
torch.set_num_threads(1)
m = json.load(open(sys.argv[1]))
load = lambda p: torch.from_numpy(np.fromfile(p, dtype="<f4").reshape(m["n"], m["dim"]))
img, txt = load(m["images"]), load(m["texts"])
sample = torch.tensor(m["sample"])
out, seconds = {}, 0.0
for name, queries, items in [("i2t", img, txt), ("t2i", txt, img)]:
    parts = []
    for block in sample.split(m["block"]):
        t = time.perf_counter()
        q = queries[block] / queries[block].norm(dim=1, keepdim=True)
        sims = q @ (items / items.norm(dim=1, keepdim=True)).T
        rel = torch.zeros_like(sims, dtype=torch.bool)
        rel[torch.arange(len(block)), block] = True
        # torchmetrics counts an item scored <= 0 as irrelevant; shift cosines into (0, 2].
        p, tg = (sims + 1.0001).reshape(-1), rel.reshape(-1)
        idx = torch.arange(len(block)).unsqueeze(1).expand_as(sims).reshape(-1)
        s = {}
        for k in (1, 5, 10):
            s[f"r{k}"] = RetrievalHitRate(top_k=k)(p, tg, indexes=idx).item()
            s[f"recall{k}"] = RetrievalRecall(top_k=k)(p, tg, indexes=idx).item()
        s["mrr"] = RetrievalMRR()(p, tg, indexes=idx).item()
        seconds += time.perf_counter() - t
        parts.append((len(block), s))
        del sims, rel, p, tg, idx
    for key in parts[0][1]:
        out[f"{name}_{key}"] = sum(n * s[key] for n, s in parts) / len(sample)
print(json.dumps({"seconds": seconds, "scores": out}))
"#;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()).map_or(f64::NAN, |kb| kb / 1024.0)
}

fn normalized(t: &Tensor) -> Tensor {
    t / t.norm_scalaropt_dim(2, [1i64].as_slice(), true)
}

/// plexus's scores for the sampled queries of one direction (`queries[sample]` against every item).
fn sample_scores(prefix: &str, queries: &Tensor, items: &Tensor, sample: &[i64]) -> Vec<(String, f64)> {
    let ids = Tensor::from_slice(sample);
    let sims = normalized(&queries.index_select(0, &ids)).matmul(&normalized(items).tr()); // [S, N]
    let relevant: Vec<Vec<i64>> = sample.iter().map(|&i| vec![i]).collect();
    let scores = plexus_metrics::retrieval_from_sims(&sims, &relevant, &KS, 64).expect("sample scores");
    scores.into_iter().filter(|(k, _)| k != "medr").map(|(k, v)| (format!("{prefix}_{k}"), v)).collect()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(100_000) as i64;
    let dim = args.get(1).copied().unwrap_or(256) as i64;
    let samples = args.get(2).copied().unwrap_or(100).min(n as usize);
    let chunk = args.get(3).copied().unwrap_or(512) as i64;
    plexus::runner::configure_process(1);

    tch::manual_seed(0);
    let images = Tensor::randn([n, dim], (Kind::Float, Device::Cpu));
    let texts = &images * 0.3 + Tensor::randn([n, dim], (Kind::Float, Device::Cpu)); // noisy copies: non-trivial ranks
    let metric = plexus_metrics::Retrieval::new(&plexus_metrics::RetrievalConfig { ks: KS.to_vec(), chunk, fraction_recall: true }).expect("config");
    let inputs = TensorMap::new().with("image_embeds", &images).with("text_embeds", &texts);
    let mut full = Vec::new();
    let t_plexus = time(|| full = metric.compute(&inputs).expect("retrieval"));
    let peak = peak_rss_mib();
    let get = |k: &str| full.iter().find(|(name, _)| name == k).map_or(f64::NAN, |s| s.1);
    println!(
        "retrieval {n} x {n} (dim {dim}, chunk {chunk}), both directions, plexus: {t_plexus:.1} s, peak RSS {peak:.0} MiB (goal <= 1024); \
         i2t R@1 {:.4} R@10 {:.4} MRR {:.4}, t2i R@1 {:.4}",
        get("i2t_r1"),
        get("i2t_r10"),
        get("i2t_mrr"),
        get("t2i_r1")
    );

    // The same sampled queries for torchmetrics and for plexus.
    let step = (n as usize / samples.max(1)).max(1);
    let sample: Vec<i64> = (0..samples).map(|i| (i * step) as i64).collect();
    let dir = std::env::temp_dir().join(format!("plexus-retrieval-100k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let raw = |name: &str, t: &Tensor| {
        let v = Vec::<f32>::try_from(t.flatten(0, -1)).expect("f32");
        let path = dir.join(name);
        std::fs::write(&path, v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()).expect("write");
        path
    };
    let meta = json!({"images": raw("images.f32", &images), "texts": raw("texts.f32", &texts), "n": n, "dim": dim, "sample": sample, "block": 25});
    let meta_path = dir.join("meta.json");
    std::fs::write(&meta_path, serde_json::to_vec(&meta).expect("json")).expect("write");
    let out = Command::new(python()).arg("-c").arg(TORCHMETRICS).arg(&meta_path).env("OMP_NUM_THREADS", "1").output().expect("python");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "torchmetrics failed: {}", String::from_utf8_lossy(&out.stderr));
    let py: Value = serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().expect("output")).expect("json");

    let mut ours = sample_scores("i2t", &images, &texts, &sample);
    ours.extend(sample_scores("t2i", &texts, &images, &sample));
    let mut diff = 0.0f64;
    for (k, v) in py["scores"].as_object().expect("scores") {
        let mine = ours.iter().find(|(name, _)| name == k).unwrap_or_else(|| panic!("plexus has no {k}")).1;
        diff = diff.max((mine - v.as_f64().expect("number")).abs());
    }
    assert!(diff <= 1e-5, "sampled retrieval scores differ by {diff:e}");
    let t_tm_sample = py["seconds"].as_f64().expect("seconds");
    let t_tm = t_tm_sample * n as f64 / samples as f64;
    println!(
        "  torchmetrics: {t_tm_sample:.1} s for {samples} queries per direction against all {n} items -> {t_tm:.0} s extrapolated to {n} queries; \
         ratio {:.0}x (goal >= 10x); sampled scores agree to {diff:.1e}",
        t_tm / t_plexus
    );
    record(&results_path(), "retrieval_100k", t_plexus, t_tm, t_tm / t_plexus, "seconds, baseline extrapolated from sampled queries (ratio = torchmetrics / plexus)");
    record(&results_path(), "retrieval_100k_peak_rss", peak, 1024.0, peak / 1024.0, "MiB, whole plexus process (ratio = peak / 1 GiB goal)");
}
