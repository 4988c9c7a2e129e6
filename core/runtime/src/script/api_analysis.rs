//! Representation analysis from scripts (crate `plexus-analysis`):
//! `analyze(run_dir, split)` → a map of every number (probe accuracies, modality gap,
//! alignment/uniformity, effective rank, CKA; the PNG plots are written into the run
//! folder); `analyze(run_dir)` uses the test split; `compare_runs(run_a, run_b, split)`
//! → `#{cka_image, cka_text, n, split}`.
use std::path::Path;

use rhai::{Dynamic, Engine};

use super::convert::{rt, RhaiResult};

fn analyze(run_dir: &str, split: &str) -> RhaiResult<Dynamic> {
    let report = plexus_analysis::analyze_run(Path::new(run_dir), split).map_err(rt)?;
    rhai::serde::to_dynamic(report.to_json_map())
}

pub fn register(engine: &mut Engine) {
    engine
        .register_fn("analyze", |run_dir: &str, split: &str| analyze(run_dir, split))
        .register_fn("analyze", |run_dir: &str| analyze(run_dir, "test"))
        .register_fn("compare_runs", |a: &str, b: &str, split: &str| -> RhaiResult<Dynamic> {
            let c = plexus_analysis::compare_runs(Path::new(a), Path::new(b), split).map_err(rt)?;
            rhai::serde::to_dynamic(c)
        });
}
