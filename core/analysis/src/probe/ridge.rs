//! Closed-form ridge classifier, the probe's fast path.
//!
//! Same model as scikit-learn's `RidgeClassifier(alpha, fit_intercept=True)`: labels
//! become ±1 one-vs-all targets, `X` and `Y` are centred (so the intercept is not
//! penalised), and `(XcᵀXc + αI) W = XcᵀYc` is solved with a Cholesky factorisation.
//! With two classes scikit-learn keeps one column; here both are kept (`W₀ = −W₁`),
//! which predicts the same.
use ndarray::{Array1, Array2, ArrayView2};
use ndarray_linalg::{Cholesky, Diag, SolveTriangular, UPLO};

use crate::error::{Error, Result};
use crate::stats::{column_means, encode_labels, predict_labels};

/// A fitted ridge classifier.
#[derive(Debug, Clone)]
pub struct RidgeClassifier {
    /// Sorted distinct training labels; column `k` of `coef` scores `classes[k]`.
    pub classes: Vec<i64>,
    /// `[D, K]`
    pub coef: Array2<f64>,
    /// `[K]`
    pub intercept: Array1<f64>,
    pub alpha: f64,
}

/// The sufficient statistics of one training set, so trying many `alpha`s costs one
/// `D×D` factorisation each instead of a pass over the data.
pub struct RidgeGram {
    classes: Vec<i64>,
    x_mean: Array1<f64>,
    y_mean: Array1<f64>,
    /// `[D, D]` XcᵀXc
    xtx: Array2<f64>,
    /// `[D, K]` XcᵀYc
    xty: Array2<f64>,
}

impl RidgeGram {
    /// `x` `[N, D]`, `labels` `[N]` with at least two distinct values.
    pub fn new(x: ArrayView2<f64>, labels: &[i64]) -> Result<Self> {
        if labels.len() != x.nrows() {
            return Err(Error::Invalid(format!("ridge: {} labels for {} rows", labels.len(), x.nrows())));
        }
        let (classes, idx) = encode_labels(labels);
        if classes.len() < 2 {
            return Err(Error::Invalid(format!("ridge: need at least 2 classes, the training labels have {}", classes.len())));
        }
        let mut y = Array2::<f64>::from_elem((x.nrows(), classes.len()), -1.0);
        for (i, &k) in idx.iter().enumerate() {
            y[[i, k]] = 1.0;
        }
        let x_mean = column_means(x);
        let y_mean = column_means(y.view());
        let xc = &x - &x_mean;
        let yc = y - &y_mean;
        let xtx = xc.t().dot(&xc);
        let xty = xc.t().dot(&yc);
        Ok(Self { classes, x_mean, y_mean, xtx, xty })
    }

    pub fn fit(&self, alpha: f64) -> Result<RidgeClassifier> {
        if !(alpha > 0.0 && alpha.is_finite()) {
            return Err(Error::Invalid(format!("ridge: alpha must be positive and finite, got {alpha}")));
        }
        let mut a = self.xtx.clone();
        a.diag_mut().mapv_inplace(|v| v + alpha);
        // A = L Lᵀ; W = L⁻ᵀ (L⁻¹ XᵀY). A is SPD for alpha > 0, so this only fails on
        // non-finite input.
        let l = a.cholesky(UPLO::Lower).map_err(|e| Error::linalg("ridge Cholesky", e))?;
        let z = l.solve_triangular(UPLO::Lower, Diag::NonUnit, &self.xty).map_err(|e| Error::linalg("ridge solve", e))?;
        let coef = l.t().solve_triangular(UPLO::Upper, Diag::NonUnit, &z).map_err(|e| Error::linalg("ridge solve", e))?;
        let intercept = &self.y_mean - &self.x_mean.dot(&coef);
        Ok(RidgeClassifier { classes: self.classes.clone(), coef, intercept, alpha })
    }
}

impl RidgeClassifier {
    /// Fits on `x` `[N, D]` and `labels` `[N]`.
    pub fn fit(x: ArrayView2<f64>, labels: &[i64], alpha: f64) -> Result<Self> {
        RidgeGram::new(x, labels)?.fit(alpha)
    }

    /// Scores `[N, K]` for `x` `[N, D]`.
    pub fn decision_function(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.coef.nrows() {
            return Err(Error::Invalid(format!("ridge: fitted on {} features, got {}", self.coef.nrows(), x.ncols())));
        }
        Ok(x.dot(&self.coef) + &self.intercept)
    }

    /// Predicted labels `[N]`.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<i64>> {
        Ok(predict_labels(self.decision_function(x)?.view(), &self.classes))
    }
}
