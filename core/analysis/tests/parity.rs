//! Parity with the reference implementations on generated data: scikit-learn's
//! RidgeClassifier (coefficients to 1e-6) and LogisticRegression (top-1 within 0.5
//! points), numpy's SVD (singular values, effective rank) and numpy versions of the
//! gap / alignment / uniformity / CKA formulas. Python runs from the project venv.
mod common;

use common::*;
use ndarray::Axis;
use plexus_analysis::probe::LbfgsOptions;
use plexus_analysis::stats::accuracy;
use plexus_analysis::*;

const ALPHAS: [f64; 3] = [0.01, 1.0, 100.0];
const CS: [f64; 3] = [0.01, 1.0, 100.0];

const SKLEARN: &str = r#"
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifier
d = sys.argv[1]
X, y = np.load(f"{d}/x_train.npy"), np.load(f"{d}/y_train.npy")
Xt, yt = np.load(f"{d}/x_test.npy"), np.load(f"{d}/y_test.npy")
out = {"ridge": [], "logreg": []}
for a in [0.01, 1.0, 100.0]:
    m = RidgeClassifier(alpha=a, solver="cholesky").fit(X, y)
    out["ridge"].append({"coef": m.coef_.T.tolist(), "intercept": m.intercept_.tolist(), "acc": m.score(Xt, yt)})
for c in [0.01, 1.0, 100.0]:
    m = LogisticRegression(C=c, tol=1e-10, max_iter=20000).fit(X, y)
    out["logreg"].append({"coef": m.coef_.T.tolist(), "intercept": m.intercept_.tolist(), "acc": m.score(Xt, yt)})
print(json.dumps(out))
"#;

#[test]
fn ridge_and_logistic_match_scikit_learn() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(7);
    let means = rng.matrix(4, 12);
    let (x, y) = blobs(&mut rng, &means, 600, 1.6);
    let (xt, yt) = blobs(&mut rng, &means, 400, 1.6);
    write_npy_f64(&dir.path().join("x_train.npy"), &x);
    write_npy_i64(&dir.path().join("y_train.npy"), &y);
    write_npy_f64(&dir.path().join("x_test.npy"), &xt);
    write_npy_i64(&dir.path().join("y_test.npy"), &yt);
    let reference = run_python(SKLEARN, dir.path());

    for (alpha, r) in ALPHAS.iter().zip(reference["ridge"].as_array().unwrap()) {
        let ours = RidgeClassifier::fit(x.view(), &y, *alpha).unwrap();
        let dc = max_abs_diff(&ours.coef, &json_matrix(&r["coef"]));
        let di = max_abs_diff(&ours.intercept.clone().insert_axis(Axis(0)), &json_vector(&r["intercept"]).insert_axis(Axis(0)));
        println!("ridge alpha={alpha}: max |Δcoef| = {dc:.3e}, max |Δintercept| = {di:.3e}");
        assert!(dc < 1e-6 && di < 1e-6, "ridge alpha={alpha}: coef diff {dc:e}, intercept diff {di:e}");
        let acc = accuracy(&ours.predict(xt.view()).unwrap(), &yt);
        assert!((acc - r["acc"].as_f64().unwrap()).abs() < 1e-12, "ridge alpha={alpha}: accuracy {acc} vs {}", r["acc"]);
    }

    let tight = LbfgsOptions { max_iter: 20_000, grad_tol: 1e-8, memory: 10 };
    for (c, r) in CS.iter().zip(reference["logreg"].as_array().unwrap()) {
        let ours = LogisticRegression::fit(x.view(), &y, *c, &tight, None).unwrap();
        let acc = accuracy(&ours.predict(xt.view()).unwrap(), &yt);
        let theirs = r["acc"].as_f64().unwrap();
        // The optimum is unique (strictly convex), so coefficients agree closely too.
        let scale = json_matrix(&r["coef"]).iter().fold(1.0_f64, |a, v| a.max(v.abs()));
        let dc = max_abs_diff(&ours.coef, &json_matrix(&r["coef"])) / scale;
        println!("logreg C={c}: top-1 {acc:.4} vs sklearn {theirs:.4}; relative max |Δcoef| = {dc:.3e}; {} iterations", ours.iterations);
        assert!(ours.converged, "logreg C={c} did not converge");
        assert!((acc - theirs).abs() <= 0.005, "logreg C={c}: top-1 {acc} vs scikit-learn {theirs}");
        assert!(dc < 1e-3, "logreg C={c}: coefficients differ by {dc:e} (relative)");
    }
}

const NUMPY: &str = r#"
import json, sys
import numpy as np
d = sys.argv[1]
A, B = np.load(f"{d}/a.npy"), np.load(f"{d}/b.npy")
s = np.linalg.svd(A, compute_uv=False)
p = s / s.sum()
p = p[p > 0]
n = lambda M: M / np.linalg.norm(M, axis=1, keepdims=True)
An, Bn = n(A), n(B)
def cka(X, Y):
    X, Y = X - X.mean(0), Y - Y.mean(0)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))
iu = np.triu_indices(len(An), 1)
sq = ((An[:, None, :] - An[None, :, :]) ** 2).sum(-1)[iu]
print(json.dumps({
    "s": s.tolist(),
    "erank": float(np.exp(-(p * np.log(p)).sum())),
    "gap": float(np.linalg.norm(An.mean(0) - Bn.mean(0))),
    "align": float((np.linalg.norm(An - Bn, axis=1) ** 2).mean()),
    "unif": float(np.log(np.exp(-2 * sq).mean())),
    "cka": cka(A, B),
}))
"#;

#[test]
fn spectrum_geometry_and_cka_match_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(11);
    // 700 rows: uniformity's row blocks (512) are crossed.
    let a = rng.matrix(700, 24) * 0.5 + 0.3;
    let b = &a * 0.7 + rng.matrix(700, 24) * 0.4;
    write_npy_f64(&dir.path().join("a.npy"), &a);
    write_npy_f64(&dir.path().join("b.npy"), &b);
    let r = run_python(NUMPY, dir.path());

    let s = singular_values(a.view()).unwrap();
    let ds = (&s - &json_vector(&r["s"])).mapv(f64::abs).fold(0.0, |m: f64, v| m.max(*v)) / s[0];
    let er = effective_rank(a.view()).unwrap();
    let checks = [
        ("singular values (relative)", ds, 0.0),
        ("effective rank", er, r["erank"].as_f64().unwrap()),
        ("modality gap", modality_gap(a.view(), b.view()).unwrap(), r["gap"].as_f64().unwrap()),
        ("alignment", alignment(a.view(), b.view(), 2.0).unwrap(), r["align"].as_f64().unwrap()),
        ("uniformity", uniformity(a.view(), 2.0).unwrap(), r["unif"].as_f64().unwrap()),
        ("linear CKA", linear_cka(a.view(), b.view()).unwrap(), r["cka"].as_f64().unwrap()),
    ];
    for (name, ours, theirs) in checks {
        println!("{name}: ours {ours:.12} numpy {theirs:.12} |Δ| {:.2e}", (ours - theirs).abs());
        assert!((ours - theirs).abs() < 1e-9, "{name}: {ours} vs numpy {theirs}");
    }
}
