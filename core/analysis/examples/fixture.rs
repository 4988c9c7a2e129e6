//! Writes a synthetic run folder for benchmarks and demos:
//! `cargo run -p plexus-analysis --example fixture -- DIR [N_TRAIN N_TEST DIM CLASSES]`
//! creates `DIR/embeddings/{train,test}.safetensors` with class-clustered image
//! embeddings and text embeddings near their class prototype, offset by a constant
//! vector so there is a modality gap to see.
use std::path::PathBuf;

use ndarray::{Array1, Array2};
use plexus_analysis::{embeddings_path, save_embeddings, Embeddings};

/// Deterministic standard normals (SplitMix64 + Box–Muller): no RNG crate needed.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

fn split(g: &mut Normal, protos: &Array2<f64>, offset: &Array1<f64>, n: usize) -> Embeddings {
    let (k, d) = protos.dim();
    let labels = Array1::from_iter((0..n).map(|i| (i % k) as i64));
    let image = Array2::from_shape_fn((n, d), |(i, j)| (protos[[i % k, j]] + 2.5 * g.sample()) as f32);
    let text = Array2::from_shape_fn((n, d), |(i, j)| (protos[[i % k, j]] + offset[j] + 0.3 * g.sample()) as f32);
    Embeddings { image, text, labels }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().ok_or("usage: fixture DIR [N_TRAIN N_TEST DIM CLASSES]")?);
    let num = |i: usize, default: usize| args.get(i).map(|s| s.parse::<usize>()).transpose().map(|v| v.unwrap_or(default));
    let (n_train, n_test, dim, classes) = (num(1, 60_000)?, num(2, 10_000)?, num(3, 64)?, num(4, 10)?);
    let mut g = Normal(42);
    let protos = Array2::from_shape_fn((classes, dim), |_| g.sample());
    let offset = Array1::from_shape_fn(dim, |_| 0.8 * g.sample());
    save_embeddings(&embeddings_path(&dir, "train"), &split(&mut g, &protos, &offset, n_train))?;
    save_embeddings(&embeddings_path(&dir, "test"), &split(&mut g, &protos, &offset, n_test))?;
    println!("wrote {}", dir.join("embeddings").display());
    Ok(())
}
