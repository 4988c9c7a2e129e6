//! Where the two modalities sit on the unit sphere: the modality gap (Liang et al. 2022)
//! and alignment / uniformity (Wang & Isola 2020). Every function L2-normalises its rows
//! first, as CLIP compares embeddings by cosine.
use ndarray::{s, ArrayView2, Axis};

use crate::error::Result;
use crate::stats::{check_matrix, check_paired, column_means, l2_normalize_rows};

/// `‖mean(img/‖img‖) − mean(txt/‖txt‖)‖₂` for `image`, `text` `[N, D]` (N may differ).
/// 0 when the two clouds share a centroid; at most 2.
pub fn modality_gap(image: ArrayView2<f64>, text: ArrayView2<f64>) -> Result<f64> {
    check_matrix(image, "modality gap: image embeddings", 1)?;
    check_matrix(text, "modality gap: text embeddings", 1)?;
    if image.ncols() != text.ncols() {
        return Err(crate::Error::Invalid(format!("modality gap: image has {} dimensions, text {}", image.ncols(), text.ncols())));
    }
    let diff = column_means(l2_normalize_rows(image).view()) - column_means(l2_normalize_rows(text).view());
    Ok(diff.dot(&diff).sqrt())
}

/// Alignment `E ‖f(xᵢ) − f(yᵢ)‖₂^α` over the positive pairs (row `i` of `image` with row
/// `i` of `text`, both `[N, D]`); Wang & Isola use `α = 2`. Lower is better aligned.
pub fn alignment(image: ArrayView2<f64>, text: ArrayView2<f64>, alpha: f64) -> Result<f64> {
    check_matrix(image, "alignment: image embeddings", 1)?;
    check_matrix(text, "alignment: text embeddings", 1)?;
    check_paired(image, text, "alignment")?;
    let diff = l2_normalize_rows(image) - l2_normalize_rows(text);
    let per_pair = diff.map_axis(Axis(1), |r| r.dot(&r).sqrt().powf(alpha));
    Ok(per_pair.mean().unwrap_or(0.0))
}

/// Uniformity `log E_{i<j} exp(−t ‖f(xᵢ) − f(xⱼ)‖²)` of `x` `[N, D]`, N ≥ 2, over all
/// pairs (`torch.pdist` in Wang & Isola's code); they use `t = 2`. Lower (more negative)
/// is more uniform; the minimum on the sphere approaches −4 for t = 2.
///
/// Exact: O(N²·D) in row blocks, so memory stays O(block·N) for N = 10k.
pub fn uniformity(x: ArrayView2<f64>, t: f64) -> Result<f64> {
    check_matrix(x, "uniformity: embeddings", 2)?;
    let xn = l2_normalize_rows(x);
    let sq = xn.map_axis(Axis(1), |r| r.dot(&r));
    let n = xn.nrows();
    const BLOCK: usize = 512;
    let mut total = 0.0;
    for i0 in (0..n).step_by(BLOCK) {
        let i1 = (i0 + BLOCK).min(n);
        // Only columns j > i are needed; take j ≥ i0 and skip the rest below.
        let gram = xn.slice(s![i0..i1, ..]).dot(&xn.slice(s![i0.., ..]).t());
        for (r, row) in gram.rows().into_iter().enumerate() {
            let i = i0 + r;
            for (c, &g) in row.iter().enumerate().skip(r + 1) {
                let j = i0 + c;
                let d2 = (sq[i] + sq[j] - 2.0 * g).max(0.0);
                total += (-t * d2).exp();
            }
        }
    }
    let pairs = (n * (n - 1) / 2) as f64;
    Ok((total / pairs).ln())
}
