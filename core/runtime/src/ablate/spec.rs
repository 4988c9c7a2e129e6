//! The ablation file (`experiments/<name>.ablation.yaml`): which experiment, which axes,
//! how many seeds, the baseline and the metrics. Every error names the file, the line and
//! the key.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::config::ExperimentConfig;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    #[default]
    Grid,
    Random,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricSpec {
    pub direction: Direction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSpec {
    #[serde(default = "default_resamples")]
    pub resamples: usize,
    #[serde(default)]
    pub seed: u64,
}

fn default_resamples() -> usize {
    10_000
}

fn default_alpha() -> f64 {
    0.05
}

impl Default for BootstrapSpec {
    fn default() -> Self {
        Self { resamples: default_resamples(), seed: 0 }
    }
}

/// The file as written (paths relative to the working directory, like `plexus run`'s).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    script: PathBuf,
    config: PathBuf,
    #[serde(default)]
    overrides: Vec<String>,
    axes: BTreeMap<String, Vec<serde_yaml::Value>>,
    #[serde(default)]
    sampling: Sampling,
    budget: Option<usize>,
    #[serde(default)]
    sampling_seed: u64,
    seeds: Seeds,
    baseline: BTreeMap<String, serde_yaml::Value>,
    metrics: BTreeMap<String, MetricSpec>,
    #[serde(default = "default_alpha")]
    alpha: f64,
    #[serde(default)]
    bootstrap: BootstrapSpec,
}

/// A validated ablation.
#[derive(Debug, Clone)]
pub struct AblationSpec {
    pub file: PathBuf,
    pub name: String,
    pub script: PathBuf,
    pub config: PathBuf,
    /// Applied to every run before the axis values.
    pub overrides: Vec<String>,
    /// Config path → its values (as JSON), in file order of the keys' sorted names.
    pub axes: Vec<(String, Vec<Value>)>,
    pub sampling: Sampling,
    pub budget: Option<usize>,
    pub sampling_seed: u64,
    pub seeds: Vec<u64>,
    /// One value per axis, in `axes` order.
    pub baseline: Vec<Value>,
    pub metrics: Vec<(String, Direction)>,
    pub alpha: f64,
    pub bootstrap: BootstrapSpec,
}

/// The 1-based line of `key` in the file: the first line starting with `key:` (after
/// indentation) at or after the line of `parent`, if given; 0 when not found.
pub(crate) fn line_of(text: &str, parent: Option<&str>, key: &str) -> usize {
    let starts = |line: &str, k: &str| {
        let t = line.trim_start().trim_start_matches("- ");
        t.starts_with(&format!("{k}:")) || t.starts_with(&format!("\"{k}\":")) || t.starts_with(&format!("'{k}':"))
    };
    let from = parent.map(|p| text.lines().position(|l| starts(l, p) && !l.starts_with(' ')).unwrap_or(0)).unwrap_or(0);
    text.lines().enumerate().skip(from).find(|(_, l)| starts(l, key)).map(|(i, _)| i + 1).unwrap_or(0)
}

impl AblationSpec {
    pub fn load(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
        Self::parse(file, &text)
    }

    pub fn parse(file: &Path, text: &str) -> Result<Self> {
        let shown = file.display().to_string();
        let raw: RawSpec = serde_yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            Error::Yaml { file: shown.clone(), line, column, message }
        })?;
        let fail = |parent: Option<&str>, key: &str, shown_key: &str, message: String| Error::Config {
            file: format!("{shown}:{}", line_of(text, parent, key)),
            key: shown_key.to_string(),
            message,
        };
        let name = match raw.name {
            Some(n) => n,
            None => file.file_name().and_then(|n| n.to_str()).unwrap_or("ablation").trim_end_matches(".yaml").trim_end_matches(".yml").trim_end_matches(".ablation").to_string(),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) || name.starts_with('.') {
            return Err(fail(None, "name", "name", format!("`{name}` must be a non-empty folder name of letters, digits, `-`, `_` and `.`")));
        }
        for (key, path) in [("script", &raw.script), ("config", &raw.config)] {
            if !path.is_file() {
                return Err(fail(None, key, key, format!("{} does not exist (paths are relative to the working directory)", path.display())));
            }
        }
        if raw.axes.is_empty() {
            return Err(fail(None, "axes", "axes", "needs at least one axis (config.path: [values...])".into()));
        }
        let mut axes = Vec::new();
        for (key, values) in &raw.axes {
            if values.is_empty() {
                return Err(fail(Some("axes"), key, &format!("axes.{key}"), "needs at least one value".into()));
            }
            let values: Vec<Value> = values.iter().map(|v| serde_json::to_value(v).unwrap_or(Value::Null)).collect();
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    return Err(fail(Some("axes"), key, &format!("axes.{key}"), format!("value {v} is listed twice")));
                }
            }
            axes.push((key.clone(), values));
        }
        let mut baseline = Vec::new();
        for key in raw.baseline.keys() {
            if !raw.axes.contains_key(key) {
                let keys = raw.axes.keys().map(String::as_str);
                return Err(fail(Some("baseline"), key, &format!("baseline.{key}"), format!("not an axis{}", plexus_plugin::suggest::did_you_mean(key, keys))));
            }
        }
        for (key, values) in &axes {
            let Some(v) = raw.baseline.get(key) else {
                return Err(fail(None, "baseline", "baseline", format!("gives no value for axis `{key}`; the baseline is one point of the grid")));
            };
            let v = serde_json::to_value(v).unwrap_or(Value::Null);
            if !values.contains(&v) {
                let listed: Vec<String> = values.iter().map(Value::to_string).collect();
                return Err(fail(Some("baseline"), key, &format!("baseline.{key}"), format!("{v} is not one of the axis values [{}]", listed.join(", "))));
            }
            baseline.push(v);
        }
        let seeds = match raw.seeds {
            Seeds::Count(n) => (0..n).collect(),
            Seeds::List(list) => list,
        };
        if seeds.len() < 2 {
            return Err(fail(None, "seeds", "seeds", format!("{} seed(s): comparisons need at least 2 (a count, or a list of seeds)", seeds.len())));
        }
        if (1..seeds.len()).any(|i| seeds[..i].contains(&seeds[i])) {
            return Err(fail(None, "seeds", "seeds", "a seed is listed twice".into()));
        }
        match (raw.sampling, raw.budget) {
            (Sampling::Random, None | Some(0)) => return Err(fail(None, "sampling", "budget", "random sampling needs `budget: N` (variants to sample besides the baseline)".into())),
            (Sampling::Grid, Some(_)) => return Err(fail(None, "budget", "budget", "only used with `sampling: random`".into())),
            _ => {}
        }
        if raw.metrics.is_empty() {
            return Err(fail(None, "metrics", "metrics", "needs at least one metric: `name: {direction: higher|lower}`".into()));
        }
        if !(raw.alpha > 0.0 && raw.alpha < 1.0) {
            return Err(fail(None, "alpha", "alpha", format!("{} must be between 0 and 1", raw.alpha)));
        }
        if raw.bootstrap.resamples < 100 {
            return Err(fail(None, "resamples", "bootstrap.resamples", format!("{} is too few for a 95% interval; use at least 100", raw.bootstrap.resamples)));
        }
        let spec = AblationSpec {
            file: file.to_path_buf(),
            name,
            script: raw.script,
            config: raw.config,
            overrides: raw.overrides,
            axes,
            sampling: raw.sampling,
            budget: raw.budget,
            sampling_seed: raw.sampling_seed,
            seeds,
            baseline,
            metrics: raw.metrics.into_iter().map(|(k, m)| (k, m.direction)).collect(),
            alpha: raw.alpha,
            bootstrap: raw.bootstrap,
        };
        spec.check_against_config(text)?;
        Ok(spec)
    }

    /// Every axis value must be a valid override of the base config (the key exists and
    /// the type fits), so a typo fails now rather than in every run.
    fn check_against_config(&self, text: &str) -> Result<()> {
        let config = self.config.display().to_string();
        if let Err(e) = ExperimentConfig::load(&config, &self.overrides) {
            return Err(Error::Config { file: format!("{}:{}", self.file.display(), line_of(text, None, "overrides")), key: "overrides".into(), message: e.to_string() });
        }
        for (key, values) in &self.axes {
            for v in values {
                let mut all = self.overrides.clone();
                all.push(axis_override(key, v));
                if let Err(e) = ExperimentConfig::load(&config, &all) {
                    return Err(Error::Config {
                        file: format!("{}:{}", self.file.display(), line_of(text, Some("axes"), key)),
                        key: format!("axes.{key}"),
                        message: format!("not a valid setting of {config}: {e}"),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `key=value` with the value as JSON, which the override parser reads as YAML (so
/// strings stay strings and lists stay lists).
pub fn axis_override(key: &str, value: &Value) -> String {
    format!("{key}={value}")
}
