//! Shared helpers for the benchmark binaries: interleaved repetitions, medians, and the
//! `bench/results.json` record `{name: {plexus, baseline, ratio, unit}}`.
use std::path::Path;
use std::time::Instant;

/// Median of a sample.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

/// Runs `a` and `b` alternately `reps` times after one warm-up each; returns both timings.
pub fn interleave(reps: usize, mut a: impl FnMut() -> f64, mut b: impl FnMut() -> f64) -> (Vec<f64>, Vec<f64>) {
    a();
    b();
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for i in 0..reps {
        // Alternate which goes first so drift on a noisy machine hits both equally.
        if i % 2 == 0 {
            ta.push(a());
            tb.push(b());
        } else {
            tb.push(b());
            ta.push(a());
        }
    }
    (ta, tb)
}

/// Median of the per-repetition ratios `a[i] / b[i]` of two interleaved samples: pairing
/// cancels the machine's drift between repetitions better than a ratio of medians.
pub fn paired_ratio(a: &[f64], b: &[f64]) -> f64 {
    median(a.iter().zip(b).map(|(x, y)| x / y).collect())
}

pub fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// CPU seconds this thread spends in `f`. With one libtorch thread every kernel (and the
/// autograd engine's CPU work) runs on the calling thread, so this is the work done,
/// untouched by other processes taking the core away; with more threads it misses the
/// workers' time, and callers should use [`time`].
pub fn thread_cpu_time(f: impl FnOnce()) -> f64 {
    fn now() -> f64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid out-pointer for the duration of the call.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }
    let start = now();
    f();
    now() - start
}

/// Merges one comparison into `bench/results.json` (written atomically).
pub fn record(path: &Path, name: &str, plexus: f64, baseline: f64, ratio: f64, unit: &str) {
    let mut all: serde_json::Value = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    all[name] = serde_json::json!({"plexus": plexus, "baseline": baseline, "ratio": ratio, "unit": unit});
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let text = serde_json::to_string_pretty(&all).expect("json") + "\n";
    plexus::run_dir::write_atomic(path, text.as_bytes()).expect("write bench results");
}

/// Shapes of one transformer tower, for counting FLOPs.
#[derive(Debug, Clone, Copy)]
pub struct TowerShape {
    /// Sequence length (ViT: patches + class token).
    pub tokens: u64,
    pub width: u64,
    pub layers: u64,
    /// MLP hidden width (`round(width · mlp_ratio)`).
    pub hidden: u64,
    pub output_dim: u64,
}

/// Forward FLOPs of one transformer tower on `batch` sequences, counting only matrix
/// products at `2·m·n·k` each (LayerNorm, GELU, softmax, adds are left out):
/// per layer `in_proj 2·T·W·3W + QKᵀ 2·T·L·W + AV 2·T·L·W + out_proj 2·T·W·W
/// + c_fc 2·T·W·H + c_proj 2·T·H·W` with `T = batch·L` tokens, then the pooled
/// projection `2·batch·W·D`. Attention is counted as full `L×L` even when causal
/// (libtorch's CPU kernel computes the full product and masks it).
pub fn tower_forward_flops(s: TowerShape, batch: u64) -> u64 {
    let t = batch * s.tokens;
    let per_layer = 2 * t * s.width * 3 * s.width
        + 2 * 2 * t * s.tokens * s.width
        + 2 * t * s.width * s.width
        + 2 * 2 * t * s.width * s.hidden;
    s.layers * per_layer + 2 * batch * s.width * s.output_dim
}

/// FLOPs of one CLIP training step: `3 × forward` (backward ≈ 2 × forward: one product for
/// the input gradient and one for the weight gradient of every matmul), where forward =
/// ViT patch embedding as a matmul (`2·batch·patches·(C·p²)·W`) + both towers + the
/// `[B, D]×[D, B]` logits (`2·B·B·D`). The 3× slightly over-counts the first layer of
/// each tower, whose input needs no gradient.
pub fn clip_train_step_flops(vit: TowerShape, patch_k: u64, text: TowerShape, batch: u64) -> u64 {
    let patches = vit.tokens - 1;
    let patch_embed = 2 * batch * patches * patch_k * vit.width;
    let logits = 2 * batch * batch * vit.output_dim;
    3 * (patch_embed + tower_forward_flops(vit, batch) + tower_forward_flops(text, batch) + logits)
}

/// Measured f32 GEMM throughput through libtorch (`n×n` times `n×n`, `reps` products,
/// best of them), in FLOP/s, at the current `tch::set_num_threads`.
pub fn gemm_flops_per_s(n: i64, reps: usize) -> f64 {
    let opts = (tch::Kind::Float, tch::Device::Cpu);
    let a = tch::Tensor::randn([n, n], opts);
    let b = tch::Tensor::randn([n, n], opts);
    let _ = a.matmul(&b); // warm-up (allocations, MKL/oneDNN init)
    let best = (0..reps).map(|_| time(|| drop(a.matmul(&b)))).fold(f64::INFINITY, f64::min);
    2.0 * (n as f64).powi(3) / best
}

/// Thread count for every benchmark (`BENCH_THREADS`, default 1): both sides of a
/// comparison use it, and libtorch's OpenMP pool is set to it.
pub fn threads() -> i32 {
    std::env::var("BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1)
}

/// Where results go: `BENCH_RESULTS`, default `bench/results.json`.
pub fn results_path() -> std::path::PathBuf {
    std::env::var_os("BENCH_RESULTS").map_or_else(|| "bench/results.json".into(), Into::into)
}

/// The Python of the project venv (or `PLEXUS_PYTHON`).
pub fn python() -> String {
    std::env::var("PLEXUS_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tower_flops_on_a_tiny_shape() {
        // batch 1, L 2, W 2, H 4, D 3, one layer: T = 2 tokens.
        // in_proj 2·2·2·6 = 48, QKᵀ + AV 2·(2·2·2·2) = 32, out_proj 2·2·2·2 = 16,
        // MLP 2·(2·2·2·4) = 64, projection 2·1·2·3 = 12.
        let s = TowerShape { tokens: 2, width: 2, layers: 1, hidden: 4, output_dim: 3 };
        assert_eq!(tower_forward_flops(s, 1), 48 + 32 + 16 + 64 + 12);
        assert_eq!(tower_forward_flops(TowerShape { layers: 3, ..s }, 1), 3 * 160 + 12);
        assert_eq!(tower_forward_flops(s, 5), 5 * tower_forward_flops(s, 1));
    }

    #[test]
    fn clip_step_is_three_forwards() {
        let v = TowerShape { tokens: 5, width: 4, layers: 1, hidden: 8, output_dim: 2 };
        let t = TowerShape { tokens: 3, width: 2, layers: 2, hidden: 4, output_dim: 2 };
        let fwd = 2 * 2 * 4 * 9 * 4 + tower_forward_flops(v, 2) + tower_forward_flops(t, 2) + 2 * 2 * 2 * 2;
        assert_eq!(clip_train_step_flops(v, 9, t, 2), 3 * fwd);
    }

    #[test]
    fn paired_ratio_is_the_median_of_ratios() {
        assert_eq!(paired_ratio(&[2.0, 9.0, 3.0], &[1.0, 3.0, 3.0]), 2.0);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
