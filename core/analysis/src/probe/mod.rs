//! Linear probes on frozen features: a closed-form ridge classifier (fast path) and
//! multinomial logistic regression, each with its L2 strength chosen on a validation
//! split carved from the training set, then refitted on all of it.
mod logistic;
mod ridge;

pub use logistic::{LbfgsOptions, LogisticRegression};
pub use ridge::{RidgeClassifier, RidgeGram};

use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::stats::{accuracy, check_matrix, permutation};

/// How the probes choose their regularisation.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Share of the training set held out for choosing `alpha` / `C`.
    pub val_fraction: f64,
    pub seed: u64,
    pub ridge_alphas: Vec<f64>,
    pub logreg_cs: Vec<f64>,
    /// The `C` search fits on at most this many training rows (and validates on at most
    /// as many), with at most `search_max_iter` L-BFGS iterations per `C`: the search only
    /// needs to rank `C`s, and this keeps a 60k-row training set within the 10 s budget.
    /// The final fit uses every training row and `lbfgs`.
    pub max_search_rows: usize,
    pub search_max_iter: usize,
    pub lbfgs: LbfgsOptions,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            val_fraction: 0.2,
            seed: 0,
            ridge_alphas: (-3..=5).map(|e| 10f64.powi(e)).collect(),
            // Features are whitened, so weak penalties (C > 1) only add iterations.
            logreg_cs: (-4..=0).map(|e| 10f64.powi(e)).collect(),
            max_search_rows: 5_000,
            search_max_iter: 150,
            lbfgs: LbfgsOptions::default(),
        }
    }
}

/// Probe results (accuracies are fractions in [0, 1]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub ridge_top1: f64,
    pub ridge_alpha: f64,
    pub ridge_val_top1: f64,
    pub logreg_top1: f64,
    pub logreg_c: f64,
    pub logreg_val_top1: f64,
    pub logreg_iterations: usize,
    pub logreg_converged: bool,
}

/// PCA-whitens features with the training set's statistics: centred, rotated onto the
/// principal axes and scaled to unit variance per axis (axes with less than 1e-8 of the
/// top variance are dropped). Learned embeddings are strongly correlated (effective rank
/// far below D), which makes logistic regression ill-conditioned; whitened, L-BFGS needs a
/// fraction of the iterations. A linear probe's accuracy is unaffected by the invertible
/// map, only the meaning of the L2 penalty changes, and it is chosen by validation anyway.
pub fn whiten(train: ArrayView2<f64>, other: ArrayView2<f64>) -> Result<(Array2<f64>, Array2<f64>)> {
    use ndarray_linalg::SVD;
    let mean = train.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(train.ncols()));
    let (xc, oc) = (&train - &mean, &other - &mean);
    let (_, s, vt) = xc.svd(false, true).map_err(|e| Error::linalg("probe whitening SVD", e))?;
    let vt = vt.ok_or_else(|| Error::linalg("probe whitening SVD", "no right singular vectors"))?;
    let top = s.first().copied().unwrap_or(0.0);
    let keep = s.iter().take_while(|&&v| v * v > 1e-8 * top * top && v > 0.0).count().max(1);
    let n = (train.nrows().max(2) - 1) as f64;
    // Column k of the map: v_k / std_k, with std_k = s_k / sqrt(n - 1).
    let mut map = vt.slice(ndarray::s![..keep, ..]).t().to_owned();
    for (mut col, &sv) in map.columns_mut().into_iter().zip(s.iter()) {
        col /= if sv > 0.0 { sv / n.sqrt() } else { 1.0 };
    }
    Ok((xc.dot(&map), oc.dot(&map)))
}

/// Fits both probes on `train_x` `[N, D]` / `train_y` `[N]` and reports top-1 accuracy
/// on `test_x` `[M, D]` / `test_y` `[M]`. Features are used as given.
pub fn linear_probe(train_x: ArrayView2<f64>, train_y: &[i64], test_x: ArrayView2<f64>, test_y: &[i64], opts: &ProbeOptions) -> Result<ProbeResult> {
    check_matrix(train_x, "probe training features", 2)?;
    check_matrix(test_x, "probe test features", 1)?;
    if train_y.len() != train_x.nrows() || test_y.len() != test_x.nrows() {
        return Err(Error::Invalid("probe: features and labels differ in length".into()));
    }
    if train_x.ncols() != test_x.ncols() {
        return Err(Error::Invalid(format!("probe: train has {} features, test {}", train_x.ncols(), test_x.ncols())));
    }
    if opts.ridge_alphas.is_empty() || opts.logreg_cs.is_empty() {
        return Err(Error::Invalid("probe: empty regularisation grid".into()));
    }
    let (fit_idx, val_idx) = split(train_x.nrows(), opts.val_fraction, opts.seed)?;
    let (fx, fy) = rows(train_x, train_y, &fit_idx);
    let (vx, vy) = rows(train_x, train_y, &val_idx);

    // Ridge: one Gram matrix, one D×D Cholesky per alpha. Ties go to the stronger penalty.
    let gram = RidgeGram::new(fx.view(), &fy)?;
    let mut best_ridge = (f64::NEG_INFINITY, opts.ridge_alphas[0]);
    for &alpha in &opts.ridge_alphas {
        let acc = accuracy(&gram.fit(alpha)?.predict(vx.view())?, &vy);
        if acc > best_ridge.0 || (acc == best_ridge.0 && alpha > best_ridge.1) {
            best_ridge = (acc, alpha);
        }
    }
    let ridge = RidgeClassifier::fit(train_x, train_y, best_ridge.1)?;
    let ridge_top1 = accuracy(&ridge.predict(test_x)?, test_y);

    // Logistic regression: C ascending with warm starts; ties go to the smaller C.
    let search = |idx: &[usize]| idx[..idx.len().min(opts.max_search_rows)].to_vec();
    let (sx, sy) = rows(train_x, train_y, &search(&fit_idx));
    let (svx, svy) = rows(train_x, train_y, &search(&val_idx));
    let mut cs = opts.logreg_cs.clone();
    cs.sort_by(f64::total_cmp);
    let search_lbfgs = LbfgsOptions { max_iter: opts.search_max_iter, ..opts.lbfgs.clone() };
    let mut warm: Option<LogisticRegression> = None;
    let mut best_lr: Option<(f64, LogisticRegression)> = None;
    for &c in &cs {
        let model = LogisticRegression::fit(sx.view(), &sy, c, &search_lbfgs, warm.as_ref())?;
        let acc = accuracy(&model.predict(svx.view())?, &svy);
        if best_lr.as_ref().is_none_or(|(a, _)| acc > *a) {
            best_lr = Some((acc, model.clone()));
        }
        warm = Some(model);
    }
    let (logreg_val_top1, chosen) = best_lr.ok_or_else(|| Error::Invalid("probe: no C tried".into()))?;
    let logreg = LogisticRegression::fit(train_x, train_y, chosen.c, &opts.lbfgs, Some(&chosen))?;
    Ok(ProbeResult {
        ridge_top1,
        ridge_alpha: best_ridge.1,
        ridge_val_top1: best_ridge.0,
        logreg_top1: accuracy(&logreg.predict(test_x)?, test_y),
        logreg_c: chosen.c,
        logreg_val_top1,
        logreg_iterations: logreg.iterations,
        logreg_converged: logreg.converged,
    })
}

/// Seeded (fit, validation) index split; both parts non-empty.
fn split(n: usize, val_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(val_fraction > 0.0 && val_fraction < 1.0) {
        return Err(Error::Invalid(format!("probe: validation fraction must be in (0, 1), got {val_fraction}")));
    }
    let n_val = ((n as f64 * val_fraction).round() as usize).clamp(1, n.saturating_sub(1));
    if n < 2 {
        return Err(Error::Invalid(format!("probe: need at least 2 training rows to carve a validation split, got {n}")));
    }
    let perm = permutation(n, seed);
    Ok((perm[n_val..].to_vec(), perm[..n_val].to_vec()))
}

fn rows(x: ArrayView2<f64>, y: &[i64], idx: &[usize]) -> (Array2<f64>, Vec<i64>) {
    (x.select(Axis(0), idx), idx.iter().map(|&i| y[i]).collect())
}
