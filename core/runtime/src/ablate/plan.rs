//! Variants (points of the axes grid, all or a seeded random sample) and the runs of a
//! sweep: every (variant, seed) pair, each with its own folders under `ablations/<name>/`.
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::Value;

use super::spec::{axis_override, AblationSpec, Sampling};

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `key=value,key=value` over the axes, e.g. `train.lr=0.003`.
    pub name: String,
    /// One value per axis, in the spec's axis order.
    pub values: Vec<Value>,
    pub is_baseline: bool,
}

impl Variant {
    /// The config overrides that make this variant.
    pub fn overrides(&self, spec: &AblationSpec) -> Vec<String> {
        spec.axes.iter().zip(&self.values).map(|((key, _), v)| axis_override(key, v)).collect()
    }

    /// The name as a folder name: characters a file system or a shell may mind become `_`.
    pub fn slug(&self) -> String {
        self.name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.=,+".contains(c) { c } else { '_' }).collect()
    }
}

/// One (variant, seed) run and where its files go.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    pub id: String,
    pub variant: usize,
    pub seed: u64,
    /// The `--runs-dir` given to the child `plexus run`; the run folder is created inside.
    pub runs_dir: PathBuf,
    pub log: PathBuf,
    pub state: PathBuf,
    pub overrides: Vec<String>,
}

fn variant_name(spec: &AblationSpec, values: &[Value]) -> String {
    let parts: Vec<String> = spec
        .axes
        .iter()
        .zip(values)
        .map(|((key, _), v)| format!("{key}={}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .collect();
    parts.join(",")
}

/// Every point of the grid, the first axis varying slowest.
fn grid(spec: &AblationSpec) -> Vec<Vec<Value>> {
    let mut points: Vec<Vec<Value>> = vec![vec![]];
    for (_, values) in &spec.axes {
        points = points.iter().flat_map(|p| values.iter().map(move |v| [p.clone(), vec![v.clone()]].concat())).collect();
    }
    points
}

/// The variants, baseline first: the whole grid, or the baseline plus `budget` other
/// grid points drawn without replacement with `sampling_seed`.
pub fn variants(spec: &AblationSpec) -> Vec<Variant> {
    let mut others: Vec<Vec<Value>> = grid(spec).into_iter().filter(|p| *p != spec.baseline).collect();
    if spec.sampling == Sampling::Random {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.sampling_seed);
        others.shuffle(&mut rng);
        others.truncate(spec.budget.unwrap_or(others.len()));
    }
    std::iter::once((spec.baseline.clone(), true))
        .chain(others.into_iter().map(|p| (p, false)))
        .map(|(values, is_baseline)| Variant { name: variant_name(spec, &values), values, is_baseline })
        .collect()
}

/// Every (variant, seed) pair, variant-major, with its folders under `sweep_dir`.
pub fn runs(spec: &AblationSpec, variants: &[Variant], sweep_dir: &Path) -> Vec<PlannedRun> {
    let seed_key = if crate::config::ExperimentConfig::load(&spec.config.display().to_string(), &[]).is_ok_and(|c| c.lookup("seed").is_some()) {
        "seed"
    } else {
        "+seed"
    };
    let mut out = Vec::new();
    for (vi, variant) in variants.iter().enumerate() {
        for &seed in &spec.seeds {
            let id = format!("{}@seed{seed}", variant.slug());
            let mut overrides = spec.overrides.clone();
            overrides.extend(variant.overrides(spec));
            overrides.push(format!("{seed_key}={seed}"));
            out.push(PlannedRun {
                runs_dir: sweep_dir.join("runs").join(variant.slug()).join(format!("seed{seed}")),
                log: sweep_dir.join("logs").join(format!("{id}.log")),
                state: sweep_dir.join("state").join(format!("{id}.json")),
                id,
                variant: vi,
                seed,
                overrides,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> AblationSpec {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("base.yaml");
        std::fs::write(&cfg, "seed: 0\ntrain:\n  lr: 0.1\n  wd: 0.0\n").unwrap();
        std::fs::write(dir.path().join("s.rhai"), "").unwrap();
        let text = format!(
            "script: {}\nconfig: {}\naxes:\n  train.lr: [0.1, 0.2, 0.3]\n  train.wd: [0.0, 0.5]\nseeds: 2\nbaseline: {{train.lr: 0.2, train.wd: 0.0}}\nmetrics:\n  acc: {{direction: higher}}\n{extra}",
            dir.path().join("s.rhai").display(),
            cfg.display()
        );
        let spec = AblationSpec::parse(Path::new("t.ablation.yaml"), &text).unwrap();
        std::mem::forget(dir);
        spec
    }

    #[test]
    fn grid_has_every_point_once_with_the_baseline_first() {
        let s = spec("");
        let v = variants(&s);
        assert_eq!(v.len(), 6);
        assert!(v[0].is_baseline && v[0].name == "train.lr=0.2,train.wd=0.0", "{:?}", v[0]);
        let mut names: Vec<_> = v.iter().map(|v| v.name.clone()).collect();
        names.dedup();
        assert_eq!(names.len(), 6);
        assert_eq!(runs(&s, &v, Path::new("a")).len(), 12);
    }

    #[test]
    fn random_sampling_is_seeded_and_respects_the_budget() {
        let a = variants(&spec("sampling: random\nbudget: 3\n"));
        assert_eq!(a.len(), 4);
        assert_eq!(a, variants(&spec("sampling: random\nbudget: 3\n")));
        let others: Vec<Vec<String>> = (0..8).map(|s| variants(&spec(&format!("sampling: random\nbudget: 3\nsampling_seed: {s}\n"))).iter().map(|v| v.name.clone()).collect()).collect();
        assert!(others.iter().any(|o| o != &others[0]), "the seed changes the sample");
    }
}
