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

pub fn time(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
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
