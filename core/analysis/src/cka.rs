//! Linear centred kernel alignment (Kornblith et al. 2019): how similar two
//! representations of the same inputs are, invariant to rotations and isotropic scaling
//! (but not to arbitrary linear maps), and comparable across different widths.
use ndarray::ArrayView2;

use crate::error::{Error, Result};
use crate::stats::{center, check_matrix, check_paired};

/// `‖YcᵀXc‖²_F / (‖XcᵀXc‖_F · ‖YcᵀYc‖_F)` for `x` `[N, D1]` and `y` `[N, D2]` whose row
/// `i` describe the same input. In [0, 1]; 1 when `y` is a rotation or scaling of `x`.
/// Errors when either representation is constant (CKA is undefined there).
pub fn linear_cka(x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<f64> {
    check_matrix(x, "linear CKA: first representation", 2)?;
    check_matrix(y, "linear CKA: second representation", 2)?;
    check_paired(x, y, "linear CKA")?;
    let (xc, yc) = (center(x), center(y));
    let fro2 = |m: ndarray::Array2<f64>| m.iter().map(|v| v * v).sum::<f64>();
    let cross = fro2(yc.t().dot(&xc));
    let xx = fro2(xc.t().dot(&xc)).sqrt();
    let yy = fro2(yc.t().dot(&yc)).sqrt();
    if xx == 0.0 || yy == 0.0 {
        return Err(Error::Invalid("linear CKA: a representation is constant across inputs".into()));
    }
    Ok(cross / (xx * yy))
}
