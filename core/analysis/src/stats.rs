//! Small numeric helpers shared by the analyses: conversion, normalisation, centring,
//! validation of inputs and a seeded permutation (so results never depend on a global RNG).
use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::{Error, Result};

/// f32 `[N, D]` → f64 `[N, D]`: every analysis runs in f64 so the parity checks against
/// scikit-learn/numpy (which run in f64) can be tight.
pub fn to_f64(x: &Array2<f32>) -> Array2<f64> {
    x.mapv(f64::from)
}

/// Rows scaled to unit L2 norm. A zero row stays zero (it has no direction).
pub fn l2_normalize_rows(x: ArrayView2<f64>) -> Array2<f64> {
    let mut out = x.to_owned();
    for mut row in out.rows_mut() {
        let n = row.dot(&row).sqrt();
        if n > 0.0 {
            row /= n;
        }
    }
    out
}

/// Column means `[D]` of `x` `[N, D]`.
pub fn column_means(x: ArrayView2<f64>) -> Array1<f64> {
    x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(x.ncols()))
}

/// `x - mean(x, axis 0)`.
pub fn center(x: ArrayView2<f64>) -> Array2<f64> {
    let m = column_means(x);
    &x - &m
}

/// Errors unless `x` has at least `min_rows` rows, at least one column and only finite values.
pub fn check_matrix(x: ArrayView2<f64>, what: &str, min_rows: usize) -> Result<()> {
    if x.nrows() < min_rows || x.ncols() == 0 {
        return Err(Error::Invalid(format!(
            "{what}: shape {:?}, need at least {min_rows} rows and 1 column",
            x.shape()
        )));
    }
    if let Some(pos) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!("{what}: non-finite value at row {}", pos / x.ncols())));
    }
    Ok(())
}

/// Errors unless `a` and `b` have the same number of rows (paired samples).
pub fn check_paired(a: ArrayView2<f64>, b: ArrayView2<f64>, what: &str) -> Result<()> {
    if a.nrows() != b.nrows() {
        return Err(Error::Invalid(format!(
            "{what}: the two inputs must describe the same samples, got {} and {} rows",
            a.nrows(),
            b.nrows()
        )));
    }
    Ok(())
}

/// A permutation of `0..n` from a fixed seed (SplitMix64 + Fisher–Yates): the validation
/// split and plot subsampling are reproducible across runs and machines.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

/// Fraction of positions where `a[i] == b[i]`.
pub fn accuracy(pred: &[i64], truth: &[i64]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64
}

/// Sorted distinct labels and, per sample, the index of its label in that list.
pub fn encode_labels(labels: &[i64]) -> (Vec<i64>, Vec<usize>) {
    let mut classes = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let idx = labels.iter().map(|l| classes.binary_search(l).unwrap_or(0)).collect();
    (classes, idx)
}

/// Row `argmax` of scores `[N, K]` mapped back to labels.
pub fn predict_labels(scores: ArrayView2<f64>, classes: &[i64]) -> Vec<i64> {
    scores
        .rows()
        .into_iter()
        .map(|r| {
            let mut best = 0;
            for (k, v) in r.iter().enumerate() {
                if *v > r[best] {
                    best = k;
                }
            }
            classes[best]
        })
        .collect()
}
