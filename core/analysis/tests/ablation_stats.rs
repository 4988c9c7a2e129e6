//! The ablation statistics on synthetic sweeps with a known effect: the 95% bootstrap
//! intervals cover the true mean and the true paired difference at about the stated
//! rate, a real effect is detected, and the paired t-test p-values and their Holm
//! adjustment match scipy (`ttest_rel`) and a numpy Holm written independently here.
mod common;

use common::*;
use plexus_analysis::ablation_stats::*;

const REPS: usize = 1000;
const SEEDS: usize = 8;
const TRUE_BASELINE: f64 = 0.70;
const TRUE_EFFECT: f64 = 0.02;

/// One synthetic sweep on `SEEDS` seeds: a per-seed effect shared by both variants (what
/// pairing removes) plus independent run noise; the variant is better by `TRUE_EFFECT`.
fn sweep(rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    let seed_effect: Vec<f64> = (0..SEEDS).map(|_| 0.03 * rng.normal()).collect();
    let baseline = seed_effect.iter().map(|s| TRUE_BASELINE + s + 0.01 * rng.normal()).collect();
    let variant = seed_effect.iter().map(|s| TRUE_BASELINE + TRUE_EFFECT + s + 0.01 * rng.normal()).collect();
    (baseline, variant)
}

#[test]
fn ci95_covers_the_true_mean_and_difference_at_the_stated_rate() {
    let mut rng = Rng(2024);
    let (mut mean_hits, mut diff_hits, mut detected) = (0, 0, 0);
    for rep in 0..REPS {
        let (baseline, variant) = sweep(&mut rng);
        let opts = BootstrapOptions { resamples: 2000, level: 0.95, seed: rep as u64 };
        let (lo, hi) = summarize(&baseline, &opts).unwrap().ci.unwrap();
        mean_hits += usize::from(lo <= TRUE_BASELINE && TRUE_BASELINE <= hi);
        let cmp = paired_comparison(&baseline, &variant, &opts).unwrap();
        let (lo, hi) = cmp.ci.unwrap();
        diff_hits += usize::from(lo <= TRUE_EFFECT && TRUE_EFFECT <= hi);
        detected += usize::from(cmp.p_value.unwrap() < 0.05);
    }
    let (mean_cov, diff_cov) = (mean_hits as f64 / REPS as f64, diff_hits as f64 / REPS as f64);
    eprintln!("coverage: mean {mean_cov:.3}, difference {diff_cov:.3}; power {:.3}", detected as f64 / REPS as f64);
    assert!((0.92..=0.98).contains(&mean_cov), "mean CI coverage {mean_cov}");
    assert!((0.92..=0.98).contains(&diff_cov), "difference CI coverage {diff_cov}");
    // The effect is two run-noise standard deviations of a difference: pairing must find it.
    assert!(detected as f64 / REPS as f64 > 0.9, "detected in {detected} of {REPS} sweeps");
}

#[test]
fn no_effect_is_rarely_called_significant() {
    let mut rng = Rng(99);
    let mut false_positives = 0;
    for rep in 0..REPS {
        let (baseline, _) = sweep(&mut rng);
        let (other, _) = sweep(&mut rng);
        let opts = BootstrapOptions { resamples: 200, level: 0.95, seed: rep as u64 };
        false_positives += usize::from(paired_comparison(&baseline, &other, &opts).unwrap().p_value.unwrap() < 0.05);
    }
    let rate = false_positives as f64 / REPS as f64;
    assert!((0.02..=0.08).contains(&rate), "type I error rate {rate}");
}

const REFERENCE: &str = r#"
import json, sys
import numpy as np
from scipy import stats
d = json.load(open(sys.argv[1] + "/pairs.json"))
base = np.array(d["baseline"])
ps = [float(stats.ttest_rel(np.array(v), base).pvalue) for v in d["variants"]]
# Holm by hand: sort ascending, scale by (m - k), running maximum, cap at 1.
p = np.array(ps)
order = np.argsort(p, kind="stable")
adj = np.empty_like(p)
running = 0.0
for k, i in enumerate(order):
    running = max(running, min(1.0, (len(p) - k) * p[i]))
    adj[i] = running
print(json.dumps({"p": ps, "holm": adj.tolist()}))
"#;

#[test]
fn p_values_and_holm_match_scipy() {
    let mut rng = Rng(5);
    let baseline: Vec<f64> = (0..SEEDS).map(|_| 0.7 + 0.03 * rng.normal()).collect();
    // Effects from none to large, so the adjusted p-values span the whole range.
    let variants: Vec<Vec<f64>> = [0.0, 0.003, 0.008, 0.015, 0.03, -0.01]
        .iter()
        .map(|effect| baseline.iter().map(|b| b + effect + 0.01 * rng.normal()).collect())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let pairs = serde_json::json!({"baseline": baseline, "variants": variants});
    std::fs::write(dir.path().join("pairs.json"), pairs.to_string()).unwrap();
    let reference = run_python(REFERENCE, dir.path());
    let want_p: Vec<f64> = serde_json::from_value(reference["p"].clone()).unwrap();
    let want_holm: Vec<f64> = serde_json::from_value(reference["holm"].clone()).unwrap();

    let opts = BootstrapOptions::default();
    let got_p: Vec<f64> = variants.iter().map(|v| paired_comparison(&baseline, v, &opts).unwrap().p_value.unwrap()).collect();
    let got_holm = holm(&got_p);
    for i in 0..variants.len() {
        assert!((got_p[i] - want_p[i]).abs() < 1e-9 * want_p[i].max(1e-3), "p[{i}]: {} vs scipy {}", got_p[i], want_p[i]);
        assert!((got_holm[i] - want_holm[i]).abs() < 1e-9 * want_holm[i].max(1e-3), "holm[{i}]: {} vs {}", got_holm[i], want_holm[i]);
    }
    assert!(got_holm.iter().any(|p| *p < 0.05) && got_holm.iter().any(|p| *p > 0.5), "{got_holm:?}");
}
