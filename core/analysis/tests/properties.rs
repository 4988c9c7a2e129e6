//! Property tests: invariances of linear CKA, effective rank of rank-k matrices, and the
//! modality gap / alignment of identical embeddings.
mod common;

use common::Rng;
use ndarray::{Array1, Array2};
use ndarray_linalg::QR;
use plexus_analysis::*;
use proptest::prelude::*;

/// A random `[n, k]` matrix with orthonormal columns (k ≤ n).
fn orthonormal(rng: &mut Rng, n: usize, k: usize) -> Array2<f64> {
    let (q, _) = rng.matrix(n, k).qr().expect("QR of a Gaussian matrix");
    q
}

/// A random `[n, d]` matrix with at least 2 distinct rows; proptest draws its seed and
/// shape, so shrinking works on those.
fn matrix() -> impl Strategy<Value = Array2<f64>> {
    (any::<u64>(), 3usize..40, 1usize..12, 0.01f64..100.0).prop_map(|(seed, n, d, scale)| Rng(seed).matrix(n, d) * scale)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn cka_of_a_representation_with_itself_is_one(x in matrix()) {
        let c = linear_cka(x.view(), x.view()).unwrap();
        prop_assert!(close(c, 1.0, 1e-9), "CKA(X, X) = {c}");
    }

    #[test]
    fn cka_is_invariant_to_rotations_and_isotropic_scaling(x in matrix(), seed in any::<u64>(), c in 1e-3f64..1e3) {
        let mut rng = Rng(seed);
        let d = x.ncols();
        let q = orthonormal(&mut rng, d, d);
        let y = rng.matrix(x.nrows(), 1 + (seed % 7) as usize);
        let base = linear_cka(x.view(), y.view()).unwrap();
        let xq = x.dot(&q) * c;
        let moved = linear_cka(xq.view(), y.view()).unwrap();
        prop_assert!(close(base, moved, 1e-9), "CKA(X, Y) = {base} but CKA(c·XQ, Y) = {moved}");
        let self_sim = linear_cka(x.view(), xq.view()).unwrap();
        prop_assert!(close(self_sim, 1.0, 1e-9), "CKA(X, c·XQ) = {self_sim}");
        prop_assert!((0.0..=1.0 + 1e-12).contains(&base), "CKA out of [0, 1]: {base}");
    }

    /// X = U diag(s) Vᵀ with s ∈ [1, 1.5]: the effective rank lies in [0.97k, k]
    /// (the worst spread of s costs at most 2% of exp(entropy)).
    #[test]
    fn effective_rank_of_a_well_conditioned_rank_k_matrix_is_about_k(seed in any::<u64>(), k in 1usize..20, extra_rows in 0usize..100, extra_cols in 0usize..40) {
        let mut rng = Rng(seed);
        let (n, d) = (k + extra_rows + 1, k + extra_cols);
        let u = orthonormal(&mut rng, n, k);
        let v = orthonormal(&mut rng, d, k);
        let s = Array1::from_shape_fn(k, |_| 1.0 + 0.5 * rng.uniform());
        let x = (&u * &s).dot(&v.t());
        let er = effective_rank(x.view()).unwrap();
        prop_assert!(er <= k as f64 + 1e-6 && er >= 0.97 * k as f64, "rank {k}: effective rank {er}");
    }

    /// Gaussian factors `[n, k]·[k, d]` with n, d ≫ k: a generic rank-k matrix.
    #[test]
    fn effective_rank_of_a_random_rank_k_product_is_near_k(seed in any::<u64>(), k in 1usize..8) {
        let mut rng = Rng(seed);
        let x = rng.matrix(400, k).dot(&rng.matrix(k, 64));
        let er = effective_rank(x.view()).unwrap();
        prop_assert!(er <= k as f64 + 1e-6 && er >= 0.8 * k as f64, "rank {k}: effective rank {er}");
    }

    #[test]
    fn identical_modalities_have_no_gap_and_perfect_alignment(x in matrix()) {
        let gap = modality_gap(x.view(), x.view()).unwrap();
        let align = alignment(x.view(), x.view(), 2.0).unwrap();
        prop_assert!(gap.abs() < 1e-12, "gap {gap}");
        prop_assert!(align.abs() < 1e-12, "alignment {align}");
        // Per-row positive rescaling changes nothing after normalisation.
        let scaled = &x * &Array1::from_shape_fn(x.nrows(), |i| 0.5 + i as f64).insert_axis(ndarray::Axis(1));
        prop_assert!(modality_gap(x.view(), scaled.view()).unwrap() < 1e-12);
    }

    #[test]
    fn uniformity_matches_the_pairwise_definition(x in matrix()) {
        let xn = stats::l2_normalize_rows(x.view());
        let n = xn.nrows();
        let mut sum = 0.0;
        for i in 0..n {
            for j in i + 1..n {
                let d = &xn.row(i) - &xn.row(j);
                sum += (-2.0 * d.dot(&d)).exp();
            }
        }
        let expected = (sum / (n * (n - 1) / 2) as f64).ln();
        let u = uniformity(x.view(), 2.0).unwrap();
        prop_assert!(close(u, expected, 1e-10), "uniformity {u} vs pairwise {expected}");
    }
}

#[test]
fn equal_singular_values_give_exactly_k() {
    let mut rng = Rng(3);
    let u = orthonormal(&mut rng, 50, 6);
    assert!((effective_rank(u.view()).unwrap() - 6.0).abs() < 1e-9);
}

#[test]
fn gap_is_positive_for_separated_modalities_and_at_most_two() {
    let mut rng = Rng(5);
    let x = rng.matrix(100, 8) * 0.1 + 1.0;
    let gap = modality_gap(x.view(), (-&x).view()).unwrap();
    assert!(gap > 1.5 && gap <= 2.0 + 1e-12, "gap {gap}");
}

#[test]
fn cka_of_a_constant_representation_is_an_error() {
    let x = Array2::<f64>::ones((10, 3));
    let y = Rng(1).matrix(10, 3);
    let err = linear_cka(x.view(), y.view()).unwrap_err().to_string();
    assert!(err.contains("constant"), "{err}");
    let err = linear_cka(y.view(), Rng(2).matrix(9, 3).view()).unwrap_err().to_string();
    assert!(err.contains("10 and 9 rows"), "{err}");
}
