//! Multinomial logistic regression with an L2 penalty, fitted by L-BFGS.
//!
//! Same objective as scikit-learn's `LogisticRegression(C, penalty="l2")` for more than
//! two classes: `C · Σᵢ CE(softmax(xᵢW + b), yᵢ) + ½‖W‖²`, the intercept unpenalised.
//! It is minimised here divided by `C·N` (a mean loss plus `λ/2 ‖W‖²`, `λ = 1/(C·N)`),
//! which has the same minimiser but gradients of a size independent of `N`, so one
//! tolerance fits every data set size. The objective is strictly convex, so any solver
//! that converges reaches scikit-learn's solution.
use std::collections::VecDeque;

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::stats::{encode_labels, predict_labels};

/// Stopping rules for L-BFGS.
#[derive(Debug, Clone)]
pub struct LbfgsOptions {
    pub max_iter: usize,
    /// Stop when the largest gradient entry (of the mean-loss objective) is below this.
    pub grad_tol: f64,
    /// Number of correction pairs kept.
    pub memory: usize,
}

impl Default for LbfgsOptions {
    fn default() -> Self {
        Self { max_iter: 500, grad_tol: 1e-5, memory: 10 }
    }
}

/// A fitted multinomial logistic regression.
#[derive(Debug, Clone)]
pub struct LogisticRegression {
    /// Sorted distinct training labels; column `k` scores `classes[k]`.
    pub classes: Vec<i64>,
    /// `[D, K]`
    pub coef: Array2<f64>,
    /// `[K]`
    pub intercept: Array1<f64>,
    pub c: f64,
    pub iterations: usize,
    pub converged: bool,
}

impl LogisticRegression {
    /// Fits on `x` `[N, D]`, `labels` `[N]` (at least two classes). `warm` starts from a
    /// previous solution with the same classes and features (e.g. the neighbouring `C`).
    pub fn fit(x: ArrayView2<f64>, labels: &[i64], c: f64, opts: &LbfgsOptions, warm: Option<&LogisticRegression>) -> Result<Self> {
        if labels.len() != x.nrows() || x.nrows() == 0 {
            return Err(Error::Invalid(format!("logistic regression: {} labels for {} rows", labels.len(), x.nrows())));
        }
        if !(c > 0.0 && c.is_finite()) {
            return Err(Error::Invalid(format!("logistic regression: C must be positive and finite, got {c}")));
        }
        let (classes, y) = encode_labels(labels);
        let (d, k) = (x.ncols(), classes.len());
        if k < 2 {
            return Err(Error::Invalid(format!("logistic regression: need at least 2 classes, the training labels have {k}")));
        }
        let problem = Problem { x, y: &y, k, lambda: 1.0 / (c * x.nrows() as f64) };
        let mut theta = Array1::<f64>::zeros((d + 1) * k);
        if let Some(w) = warm.filter(|w| w.classes == classes && w.coef.nrows() == d) {
            theta.slice_mut(s![..d * k]).assign(&Array1::from_iter(w.coef.iter().copied()));
            theta.slice_mut(s![d * k..]).assign(&w.intercept);
        }
        let (iterations, converged) = lbfgs(&problem, &mut theta, opts);
        let coef = theta.slice(s![..d * k]).to_owned().into_shape_with_order((d, k)).map_err(|e| Error::linalg("reshape", e))?;
        let intercept = theta.slice(s![d * k..]).to_owned();
        Ok(Self { classes, coef, intercept, c, iterations, converged })
    }

    /// Logits `[N, K]` for `x` `[N, D]`.
    pub fn decision_function(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.coef.nrows() {
            return Err(Error::Invalid(format!("logistic regression: fitted on {} features, got {}", self.coef.nrows(), x.ncols())));
        }
        Ok(x.dot(&self.coef) + &self.intercept)
    }

    /// Predicted labels `[N]`.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Vec<i64>> {
        Ok(predict_labels(self.decision_function(x)?.view(), &self.classes))
    }
}

/// Parameters `θ = [vec(W) (D·K, row-major), b (K)]`.
struct Problem<'x, 'y> {
    x: ArrayView2<'x, f64>,
    y: &'y [usize],
    k: usize,
    lambda: f64,
}

impl Problem<'_, '_> {
    /// Objective and gradient at `theta`.
    fn eval(&self, theta: ArrayView1<f64>) -> (f64, Array1<f64>) {
        let (n, d, k) = (self.x.nrows(), self.x.ncols(), self.k);
        let w = theta.slice(s![..d * k]).into_shape_with_order((d, k)).expect("θ has (D+1)·K entries");
        let b = theta.slice(s![d * k..]);
        // logits [N, K] → in place: softmax probabilities minus one-hot, divided by N.
        let mut g = self.x.dot(&w) + b;
        let mut loss = 0.0;
        for (mut row, &yi) in g.rows_mut().into_iter().zip(self.y) {
            let m = row.fold(f64::NEG_INFINITY, |a, &v| a.max(v));
            let z_true = row[yi];
            row.mapv_inplace(|v| (v - m).exp());
            let sum = row.sum();
            loss += m + sum.ln() - z_true;
            row /= sum * n as f64;
            row[yi] -= 1.0 / n as f64;
        }
        let mut grad = Array1::<f64>::zeros((d + 1) * k);
        let gw = self.x.t().dot(&g) + &(w.to_owned() * self.lambda);
        grad.slice_mut(s![..d * k]).assign(&Array1::from_iter(gw.iter().copied()));
        grad.slice_mut(s![d * k..]).assign(&g.sum_axis(Axis(0)));
        let f = loss / n as f64 + 0.5 * self.lambda * w.iter().map(|v| v * v).sum::<f64>();
        (f, grad)
    }
}

/// Minimises in place; returns (iterations, converged). Two-loop recursion with an
/// Armijo backtracking line search.
fn lbfgs(p: &Problem, theta: &mut Array1<f64>, opts: &LbfgsOptions) -> (usize, bool) {
    let max_abs = |g: &Array1<f64>| g.fold(0.0_f64, |a, v| a.max(v.abs()));
    let (mut f, mut g) = p.eval(theta.view());
    let mut hist: VecDeque<(Array1<f64>, Array1<f64>, f64)> = VecDeque::new();
    for it in 0..opts.max_iter {
        if max_abs(&g) < opts.grad_tol {
            return (it, true);
        }
        // d = −H g
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(hist.len());
        for (s, y, rho) in hist.iter().rev() {
            let a = rho * s.dot(&q);
            q.scaled_add(-a, y);
            alphas.push(a);
        }
        if let Some((s, y, _)) = hist.back() {
            q *= s.dot(y) / y.dot(y);
        }
        for ((s, y, rho), a) in hist.iter().zip(alphas.into_iter().rev()) {
            let beta = rho * y.dot(&q);
            q.scaled_add(a - beta, s);
        }
        let mut dir = -q;
        let mut slope = g.dot(&dir);
        if slope >= 0.0 {
            // Not a descent direction (curvature information went stale): restart.
            hist.clear();
            dir = -&g;
            slope = g.dot(&dir);
        }
        let mut step = if hist.is_empty() { (1.0 / g.dot(&g).sqrt()).min(1.0) } else { 1.0 };
        let mut accepted = None;
        for _ in 0..50 {
            let cand = &*theta + &(&dir * step);
            let (fc, gc) = p.eval(cand.view());
            if fc <= f + 1e-4 * step * slope {
                accepted = Some((cand, fc, gc));
                break;
            }
            step *= 0.5;
        }
        let Some((cand, fc, gc)) = accepted else {
            // No decrease possible at machine precision: as converged as it gets.
            return (it, max_abs(&g) < opts.grad_tol * 10.0);
        };
        let s_vec = &cand - &*theta;
        let y_vec = &gc - &g;
        let sy = s_vec.dot(&y_vec);
        if sy > 1e-12 * y_vec.dot(&y_vec).max(f64::MIN_POSITIVE) {
            if hist.len() == opts.memory {
                hist.pop_front();
            }
            hist.push_back((s_vec, y_vec, 1.0 / sy));
        }
        let decrease = f - fc;
        *theta = cand;
        f = fc;
        g = gc;
        if decrease.abs() <= 1e-15 * f.abs().max(1.0) {
            return (it + 1, max_abs(&g) < opts.grad_tol * 10.0);
        }
    }
    (opts.max_iter, max_abs(&g) < opts.grad_tol)
}
