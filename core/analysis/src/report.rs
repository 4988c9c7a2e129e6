//! `analyze_run`: every analysis of one run's exported embeddings, as one flat report,
//! plus the plots written beside them; `compare_runs`: linear CKA between two runs.
use std::path::Path;
use std::time::Instant;

use ndarray::{concatenate, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::cka::linear_cka;
use crate::error::{Error, Result};
use crate::geometry::{alignment, modality_gap, uniformity};
use crate::io::{embeddings_path, load_embeddings, Embeddings};
use crate::plot::{scatter_plot, spectrum_plot};
use crate::probe::{linear_probe, whiten, ProbeOptions};
use crate::spectrum::{effective_rank_of_spectrum, singular_values, Pca};
use crate::stats::{center, l2_normalize_rows, permutation, to_f64};

/// Wang & Isola's exponents: alignment α = 2, uniformity t = 2.
const ALIGN_ALPHA: f64 = 2.0;
const UNIFORM_T: f64 = 2.0;

#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    pub probe: ProbeOptions,
    /// Points per modality drawn in the PCA plot (a seeded subset; all are used to fit it).
    pub max_plot_points: Option<usize>,
}

/// All numbers of one analysis. Serialises to a flat JSON object. Accuracies are
/// fractions; geometry is measured on L2-normalised embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisReport {
    pub split: String,
    /// Rows of the analysed split and of the probe's training split.
    pub n: usize,
    pub n_train: usize,
    pub dim: usize,
    pub classes: usize,
    /// Ridge-classifier probe on frozen image features: top-1 on `split`, the chosen
    /// alpha and its validation top-1.
    pub probe_ridge_top1: f64,
    pub probe_ridge_alpha: f64,
    pub probe_ridge_val_top1: f64,
    /// Multinomial logistic-regression probe: top-1, chosen C, validation top-1, L-BFGS
    /// iterations of the final fit and whether it met its tolerance.
    pub probe_logreg_top1: f64,
    pub probe_logreg_c: f64,
    pub probe_logreg_val_top1: f64,
    pub probe_logreg_iterations: usize,
    pub probe_logreg_converged: bool,
    /// Distance between the centroids of normalised image and text embeddings.
    pub modality_gap: f64,
    /// Mean squared distance of paired image/text embeddings (α = 2).
    pub alignment: f64,
    /// log E exp(−2‖xᵢ − xⱼ‖²) within each modality.
    pub uniformity_image: f64,
    pub uniformity_text: f64,
    /// Roy & Vetterli effective rank of the centred, normalised embeddings.
    pub effective_rank_image: f64,
    pub effective_rank_text: f64,
    /// Linear CKA between the image and the text embeddings of the same examples; null
    /// when a modality has collapsed to a constant (CKA is undefined there).
    pub cka_image_text: Option<f64>,
    /// `metrics.zero_shot_top1` of the run's `summary.json`, when it has one, so the
    /// probe can be read beside zero-shot accuracy.
    pub zero_shot_top1: Option<f64>,
    pub spectrum_plot: String,
    pub pca_plot: String,
    pub seconds: f64,
}

impl AnalysisReport {
    /// The report as a flat JSON object (`{"probe_ridge_top1": 0.87, ...}`).
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }
}

/// Analyses `<run_dir>/embeddings/<split>.safetensors`; the probes train on
/// `<run_dir>/embeddings/train.safetensors` (with `split = "train"` they report training
/// accuracy). Writes `analysis_spectrum_<split>.png` and `analysis_pca_<split>.png` into
/// `run_dir`.
pub fn analyze_run(run_dir: &Path, split: &str) -> Result<AnalysisReport> {
    analyze_run_with(run_dir, split, &AnalysisOptions::default())
}

/// [`analyze_run`] with explicit options.
pub fn analyze_run_with(run_dir: &Path, split: &str, opts: &AnalysisOptions) -> Result<AnalysisReport> {
    let start = Instant::now();
    if split.is_empty() || split.contains(['/', '\\']) || split.starts_with('.') {
        return Err(Error::Invalid(format!("split `{split}` is not a split name (e.g. `test`)")));
    }
    if !run_dir.is_dir() {
        return Err(Error::Invalid(format!("{}: not a run folder", run_dir.display())));
    }
    let eval = load_embeddings(&embeddings_path(run_dir, split))?;
    let train = if split == "train" { eval.clone() } else { load_embeddings(&embeddings_path(run_dir, "train"))? };
    if train.dim() != eval.dim() {
        return Err(Error::Invalid(format!("train embeddings have {} dimensions but {split} has {}", train.dim(), eval.dim())));
    }
    let mut report = analyze(&eval, &train, split, run_dir, opts)?;
    report.zero_shot_top1 = summary_metric(run_dir, "zero_shot_top1");
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

fn analyze(eval: &Embeddings, train: &Embeddings, split: &str, out_dir: &Path, opts: &AnalysisOptions) -> Result<AnalysisReport> {
    let image = l2_normalize_rows(to_f64(&eval.image).view());
    let text = l2_normalize_rows(to_f64(&eval.text).view());
    let train_image = l2_normalize_rows(to_f64(&train.image).view());
    let labels = eval.labels.to_vec();
    let train_labels = train.labels.to_vec();

    let (ptrain, ptest) = whiten(train_image.view(), image.view())?;
    let probe = linear_probe(ptrain.view(), &train_labels, ptest.view(), &labels, &opts.probe)?;

    let s_image = singular_values(center(image.view()).view())?;
    let s_text = singular_values(center(text.view()).view())?;
    let spectrum_path = out_dir.join(format!("analysis_spectrum_{split}.png"));
    spectrum_plot(&spectrum_path, &format!("singular values, {split} (centred, normalised)"), &[("image", s_image.view()), ("text", s_text.view())])?;
    let pca_path = out_dir.join(format!("analysis_pca_{split}.png"));
    pca_plot(&pca_path, split, &image, &text, opts.max_plot_points.unwrap_or(2000))?;

    let mut classes = train_labels.clone();
    classes.extend_from_slice(&labels);
    classes.sort_unstable();
    classes.dedup();
    Ok(AnalysisReport {
        split: split.to_string(),
        n: eval.len(),
        n_train: train.len(),
        dim: eval.dim(),
        classes: classes.len(),
        probe_ridge_top1: probe.ridge_top1,
        probe_ridge_alpha: probe.ridge_alpha,
        probe_ridge_val_top1: probe.ridge_val_top1,
        probe_logreg_top1: probe.logreg_top1,
        probe_logreg_c: probe.logreg_c,
        probe_logreg_val_top1: probe.logreg_val_top1,
        probe_logreg_iterations: probe.logreg_iterations,
        probe_logreg_converged: probe.logreg_converged,
        modality_gap: modality_gap(image.view(), text.view())?,
        alignment: alignment(image.view(), text.view(), ALIGN_ALPHA)?,
        uniformity_image: uniformity(image.view(), UNIFORM_T)?,
        uniformity_text: uniformity(text.view(), UNIFORM_T)?,
        effective_rank_image: effective_rank_of_spectrum(s_image.view()),
        effective_rank_text: effective_rank_of_spectrum(s_text.view()),
        cka_image_text: linear_cka(image.view(), text.view()).ok(),
        zero_shot_top1: None,
        spectrum_plot: spectrum_path.display().to_string(),
        pca_plot: pca_path.display().to_string(),
        seconds: 0.0,
    })
}

/// `metrics.<key>` of `<run_dir>/summary.json`; None when absent or unreadable (the
/// analysis does not depend on it).
fn summary_metric(run_dir: &Path, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(run_dir.join("summary.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("metrics")?.get(key)?.as_f64()
}

/// PCA fitted on both modalities together, so the gap between them is visible.
fn pca_plot(path: &Path, split: &str, image: &Array2<f64>, text: &Array2<f64>, max_points: usize) -> Result<()> {
    let both = concatenate(Axis(0), &[image.view(), text.view()]).map_err(|e| Error::linalg("PCA stacking", e))?;
    let pca = Pca::fit(both.view(), 2.min(both.ncols()).min(both.nrows()))?;
    let mut pick = permutation(image.nrows(), 1);
    pick.truncate(max_points.max(1));
    let project = |m: &Array2<f64>| -> Result<Array2<f64>> {
        let p = pca.project(m.select(Axis(0), &pick).view())?;
        // A 1-D embedding gives one component; plot it against zero.
        Ok(if p.ncols() == 2 { p } else { concatenate(Axis(1), &[p.view(), Array2::zeros((p.nrows(), 1)).view()]).map_err(|e| Error::linalg("PCA", e))? })
    };
    let (pi, pt) = (project(image)?, project(text)?);
    let r = &pca.explained_variance_ratio;
    let axis = |k: usize| format!("PC{} ({:.1}% of variance)", k + 1, 100.0 * r.get(k).copied().unwrap_or(0.0));
    scatter_plot(path, &format!("PCA of both modalities, {split}"), (&axis(0), &axis(1)), &[("image", pi.view()), ("text", pt.view())])
}

/// Linear CKA between two runs' embeddings of the same inputs (same split, same rows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunComparison {
    pub split: String,
    pub n: usize,
    pub cka_image: f64,
    pub cka_text: f64,
}

/// Compares `<a>/embeddings/<split>.safetensors` with `<b>/…`. The label vectors must be
/// equal, a cheap check that both runs embedded the same inputs in the same order.
pub fn compare_runs(a: &Path, b: &Path, split: &str) -> Result<RunComparison> {
    let (pa, pb) = (embeddings_path(a, split), embeddings_path(b, split));
    let (ea, eb) = (load_embeddings(&pa)?, load_embeddings(&pb)?);
    if ea.labels != eb.labels {
        return Err(Error::Invalid(format!(
            "{} and {}: labels differ, so the runs did not embed the same inputs in the same order",
            pa.display(),
            pb.display()
        )));
    }
    Ok(RunComparison {
        split: split.to_string(),
        n: ea.len(),
        cka_image: linear_cka(to_f64(&ea.image).view(), to_f64(&eb.image).view())?,
        cka_text: linear_cka(to_f64(&ea.text).view(), to_f64(&eb.text).view())?,
    })
}
