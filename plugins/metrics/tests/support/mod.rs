//! Shared helpers for the metric tests: a seeded generator (no data files are committed;
//! every fixture is generated) and a runner for the project venv's Python references.
#![allow(dead_code)]
use std::path::PathBuf;
use std::process::Command;

use plexus_plugin::serde_json::{self, Value};

/// xorshift64*: deterministic, dependency-free fixtures.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The project venv's Python (set up by `tools/setup-venv.sh`, which `make test` runs).
pub fn python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(py.exists(), "{} is missing: run tools/setup-venv.sh (make test does)", py.display());
    py
}

pub fn venv_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv").join(rel)
}

/// Runs `script` with the venv's Python, giving it `input` as JSON on stdin; returns the
/// JSON it prints on stdout (the last line).
pub fn run_python(script: &str, input: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let input_path = dir.path().join("input.json");
    std::fs::write(&input_path, serde_json::to_vec(input).unwrap()).unwrap();
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&input_path)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .expect("spawn python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reference script failed ({}); run tools/setup-venv.sh if a module is missing:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("bad JSON from python ({e}): {stdout}"))
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

/// Largest absolute difference, asserting equal lengths.
pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}
