//! # plexus-analysis — representation analysis of exported embeddings
//!
//! Reads `<run>/embeddings/<split>.safetensors` (`image_embeds` f32 `[N, D]`,
//! `text_embeds` f32 `[N, D]`, `labels` i64 `[N]`) into ndarray 0.16 and measures:
//! - linear-probe top-1 on frozen image features ([`probe`]: closed-form ridge classifier
//!   and multinomial logistic regression, L2 strength chosen on a validation split);
//! - the modality gap, alignment and uniformity ([`geometry`]);
//! - the singular value spectrum and effective rank ([`spectrum`]);
//! - linear CKA between two representations of the same inputs ([`cka`]);
//!
//! and draws the spectrum and a 2-D PCA of both modalities as PNGs ([`plot`]).
//! [`analyze_run`] does all of it for one run.
//!
//! Numerics run in f64 on OpenBLAS/LAPACK (Debian `libopenblas-dev`).

// Links OpenBLAS, which ndarray-linalg (LAPACK) and ndarray's `dot` (BLAS) call into.
extern crate openblas_src as _;

/// The ndarray version the analyses take (0.16, as `tch` 0.24 converts to).
pub use ndarray;

pub mod ablation_stats;
pub mod blas;
pub mod cka;
pub mod error;
pub mod geometry;
pub mod io;
pub mod plot;
pub mod probe;
mod report;
pub mod spectrum;
pub mod stats;

pub use cka::linear_cka;
pub use error::{Error, Result};
pub use geometry::{alignment, modality_gap, uniformity};
pub use io::{embeddings_path, load_embeddings, save_embeddings, Embeddings};
pub use probe::{linear_probe, LogisticRegression, ProbeOptions, ProbeResult, RidgeClassifier};
pub use report::{analyze_run, analyze_run_with, compare_runs, AnalysisOptions, AnalysisReport, RunComparison};
pub use spectrum::{effective_rank, singular_values, Pca};
