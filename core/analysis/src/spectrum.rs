//! Singular value spectra, effective rank (Roy & Vetterli 2007) and PCA, all through
//! ndarray-linalg's SVD (LAPACK).
use ndarray::{s, Array1, Array2, ArrayView2};
use ndarray_linalg::SVD;

use crate::error::{Error, Result};
use crate::stats::{center, check_matrix, column_means};

/// Singular values of `x` `[N, D]`, descending, `min(N, D)` of them.
pub fn singular_values(x: ArrayView2<f64>) -> Result<Array1<f64>> {
    check_matrix(x, "singular values", 1)?;
    let (_, s, _) = x.svd(false, false).map_err(|e| Error::linalg("SVD", e))?;
    Ok(s)
}

/// Effective rank `exp(H(p))` with `pₖ = σₖ / Σσ`: equals k when k singular values are
/// equal and the rest zero, and falls between 1 and rank(x) otherwise. 0 for a zero matrix.
pub fn effective_rank(x: ArrayView2<f64>) -> Result<f64> {
    Ok(effective_rank_of_spectrum(singular_values(x)?.view()))
}

/// [`effective_rank`] from singular values already computed.
pub fn effective_rank_of_spectrum(s: ndarray::ArrayView1<f64>) -> f64 {
    let total: f64 = s.iter().map(|v| v.abs()).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let entropy: f64 = s.iter().map(|v| v.abs() / total).filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum();
    entropy.exp()
}

/// A fitted PCA: `project(x) = (x − mean) · componentsᵀ`.
#[derive(Debug, Clone)]
pub struct Pca {
    /// `[D]`
    pub mean: Array1<f64>,
    /// `[k, D]`, unit rows, by decreasing variance.
    pub components: Array2<f64>,
    /// `[k]` share of the total variance each component explains.
    pub explained_variance_ratio: Array1<f64>,
}

impl Pca {
    /// Fits the top `k` components of `x` `[N, D]` (`k ≤ min(N, D)`).
    pub fn fit(x: ArrayView2<f64>, k: usize) -> Result<Self> {
        check_matrix(x, "PCA", 1)?;
        if k == 0 || k > x.nrows().min(x.ncols()) {
            return Err(Error::Invalid(format!("PCA: cannot take {k} components of a {:?} matrix", x.shape())));
        }
        let xc = center(x);
        let (_, s, vt) = xc.svd(false, true).map_err(|e| Error::linalg("PCA SVD", e))?;
        let vt = vt.ok_or_else(|| Error::linalg("PCA SVD", "no right singular vectors returned"))?;
        let var = s.mapv(|v| v * v);
        let total = var.sum();
        let ratio = if total > 0.0 { var.slice(s![..k]).mapv(|v| v / total) } else { Array1::zeros(k) };
        Ok(Self { mean: column_means(x), components: vt.slice(s![..k, ..]).to_owned(), explained_variance_ratio: ratio })
    }

    /// `x` `[N, D]` → `[N, k]`.
    pub fn project(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.mean.len() {
            return Err(Error::Invalid(format!("PCA: fitted on {} dimensions, got {}", self.mean.len(), x.ncols())));
        }
        Ok((&x - &self.mean).dot(&self.components.t()))
    }
}
