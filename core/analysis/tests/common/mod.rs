//! Shared by the integration tests: seeded data generators, a tiny `.npy` writer and a
//! runner for the reference Python (numpy / scikit-learn in the project venv).
#![allow(dead_code)]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{Array1, Array2};
use plexus_analysis::{embeddings_path, save_embeddings, Embeddings};

/// Deterministic standard normals (SplitMix64 + Box–Muller).
pub struct Rng(pub u64);

impl Rng {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    pub fn matrix(&mut self, n: usize, d: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, d), |_| self.normal())
    }
}

/// Overlapping Gaussian blobs: `x` `[n, d]`, labels `0..k` in turn; `spread` is the noise
/// scale relative to the distance between class means.
pub fn blobs(rng: &mut Rng, means: &Array2<f64>, n: usize, spread: f64) -> (Array2<f64>, Vec<i64>) {
    let (k, d) = means.dim();
    let x = Array2::from_shape_fn((n, d), |(i, j)| means[[i % k, j]] + spread * rng.normal());
    (x, (0..n).map(|i| (i % k) as i64).collect())
}

/// A run folder with `embeddings/{train,test}.safetensors`: class-clustered images,
/// captions near their class prototype plus a constant offset (a modality gap).
pub fn write_run(dir: &Path, n_train: usize, n_test: usize, d: usize, k: usize, seed: u64) {
    let mut rng = Rng(seed);
    let protos = rng.matrix(k, d);
    let offset = Array1::from_shape_fn(d, |_| 0.8 * rng.normal());
    for (split, n) in [("train", n_train), ("test", n_test)] {
        let image = Array2::from_shape_fn((n, d), |(i, j)| (protos[[i % k, j]] + 0.7 * rng.normal()) as f32);
        let text = Array2::from_shape_fn((n, d), |(i, j)| (protos[[i % k, j]] + offset[j] + 0.2 * rng.normal()) as f32);
        let labels = Array1::from_iter((0..n).map(|i| (i % k) as i64));
        save_embeddings(&embeddings_path(dir, split), &Embeddings { image, text, labels }).expect("write fixture");
    }
}

/// Writes a 2-D f64 array as `.npy` (format 1.0, C order).
pub fn write_npy_f64(path: &Path, a: &Array2<f64>) {
    let data: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(path, "<f8", &format!("({}, {})", a.nrows(), a.ncols()), &data);
}

/// Writes a 1-D i64 array as `.npy`.
pub fn write_npy_i64(path: &Path, a: &[i64]) {
    let data: Vec<u8> = a.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(path, "<i8", &format!("({},)", a.len()), &data);
}

fn write_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(path).expect("create .npy");
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(data).unwrap();
}

/// The project venv's Python (`PLEXUS_PYTHON` overrides), which `make setup` gives
/// numpy and the pinned scikit-learn.
pub fn python() -> PathBuf {
    std::env::var_os("PLEXUS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"))
}

/// Runs `script` with `dir` as its argument and parses its stdout as JSON. Fails the
/// test with the interpreter's stderr (e.g. a missing scikit-learn) when it fails.
pub fn run_python(script: &str, dir: &Path) -> serde_json::Value {
    let py = python();
    let file = dir.join("reference.py");
    std::fs::write(&file, script).unwrap();
    let out = Command::new(&py)
        .arg(&file)
        .arg(dir)
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot start {} ({e}); run `make setup` (tools/setup-venv.sh)", py.display()));
    assert!(
        out.status.success(),
        "{} {} failed (run `make setup` to install numpy/scikit-learn):\n{}",
        py.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference script prints JSON")
}

/// JSON array of arrays → `[rows, cols]`.
pub fn json_matrix(v: &serde_json::Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).expect("matrix");
    let (n, d) = (rows.len(), rows.first().map_or(0, |r| r.len()));
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).expect("rectangular")
}

pub fn json_vector(v: &serde_json::Value) -> Array1<f64> {
    Array1::from_vec(serde_json::from_value(v.clone()).expect("vector"))
}

pub fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim(), "shapes differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}
