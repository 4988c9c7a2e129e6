//! The sweep's report in `ablations/<name>/`: `results.csv` (one row per run),
//! `summary.json` (per variant and metric: mean, std, 95% CI, the paired comparison with
//! the baseline and a verdict), `report.md` and `plots/<metric>.png`.
//!
//! Runs are merged only when every run measured each metric under the same evaluation
//! protocol (the `protocols` of their `summary.json`); otherwise the report is refused.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plexus_analysis::ablation_stats::{holm, paired_comparison, summarize, BootstrapOptions};
use serde_json::{json, Value};

use super::plan::{PlannedRun, Variant};
use super::spec::{AblationSpec, Direction};
use super::state::{RunState, Status};
use crate::error::{Error, Result};
use crate::run_dir::write_atomic;

/// The completed runs' summaries, keyed by (variant index, seed).
type Summaries = BTreeMap<(usize, u64), Value>;

fn load_summaries(runs: &[PlannedRun], states: &[RunState]) -> Result<Summaries> {
    let mut out = BTreeMap::new();
    for (run, state) in runs.iter().zip(states) {
        let (Status::Completed, Some(dir)) = (state.status, &state.run_dir) else { continue };
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let summary: Value = serde_json::from_str(&text).map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        out.insert((run.variant, run.seed), summary);
    }
    Ok(out)
}

/// The one protocol each metric was measured under, or an error naming two runs that
/// disagree.
pub fn merged_protocols(spec: &AblationSpec, runs: &[PlannedRun], summaries: &Summaries) -> Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for (metric, _) in &spec.metrics {
        let mut first: Option<(&str, &Value)> = None;
        for run in runs {
            let Some(summary) = summaries.get(&(run.variant, run.seed)) else { continue };
            let protocol = &summary["protocols"][metric];
            match first {
                None => first = Some((&run.id, protocol)),
                Some((other, p)) if p != protocol => {
                    return Err(Error::Other(format!(
                        "refusing to merge runs measured under different evaluation protocols: metric `{metric}` of run {other} was measured as {p}, of run {} as {protocol}; \
                         an axis must not change how a metric is evaluated (split, size, relevance, templates)",
                        run.id
                    )))
                }
                _ => {}
            }
        }
        out.insert(metric.clone(), first.map(|(_, p)| p.clone()).unwrap_or(Value::Null));
    }
    Ok(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn scalar(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { String::new() } else { v.to_string() })
}

fn results_csv(spec: &AblationSpec, variants: &[Variant], runs: &[PlannedRun], states: &[RunState], summaries: &Summaries) -> String {
    let mut header = vec!["run".to_string(), "variant".into(), "baseline".into(), "seed".into(), "status".into(), "attempts".into()];
    header.extend(spec.axes.iter().map(|(k, _)| k.clone()));
    header.extend(spec.metrics.iter().map(|(m, _)| m.clone()));
    header.extend(["wall_seconds".to_string(), "run_dir".into(), "log".into(), "error".into()]);
    let mut lines = vec![header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",")];
    for (run, state) in runs.iter().zip(states) {
        let variant = &variants[run.variant];
        let summary = summaries.get(&(run.variant, run.seed)).cloned().unwrap_or(Value::Null);
        let status = serde_json::to_value(state.status).map(|v| scalar(&v)).unwrap_or_default();
        let mut row = vec![run.id.clone(), variant.name.clone(), variant.is_baseline.to_string(), run.seed.to_string(), status, state.attempts.to_string()];
        row.extend(variant.values.iter().map(scalar));
        row.extend(spec.metrics.iter().map(|(m, _)| scalar(&summary["metrics"][m])));
        row.push(scalar(&summary["wall_seconds"]));
        row.push(state.run_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default());
        row.push(state.log.display().to_string());
        row.push(state.error.clone().unwrap_or_default());
        lines.push(row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
    }
    lines.join("\n") + "\n"
}

fn verdict(direction: Direction, difference: f64, p_adjusted: Option<f64>, alpha: f64) -> &'static str {
    match p_adjusted {
        Some(p) if p < alpha && difference != 0.0 => match (direction, difference > 0.0) {
            (Direction::Higher, true) | (Direction::Lower, false) => "better",
            _ => "worse",
        },
        _ => "not distinguishable",
    }
}

/// Per variant and metric statistics (`summary.json`'s `variants`), Holm-adjusted across
/// every (variant, metric) comparison with the baseline.
fn statistics(spec: &AblationSpec, variants: &[Variant], summaries: &Summaries) -> Result<Vec<(String, Value)>> {
    let value = |vi: usize, seed: u64, metric: &str| summaries.get(&(vi, seed)).and_then(|s| s["metrics"][metric].as_f64());
    let mut table: Vec<(String, BTreeMap<String, Value>)> = Vec::new();
    let mut comparisons: Vec<(usize, String, f64)> = Vec::new();
    for (vi, variant) in variants.iter().enumerate() {
        let mut per_metric = BTreeMap::new();
        for (mi, (metric, _)) in spec.metrics.iter().enumerate() {
            // Each (variant, metric) gets its own resampling stream, fixed by the spec's seed.
            let opts = BootstrapOptions { resamples: spec.bootstrap.resamples, level: 0.95, seed: spec.bootstrap.seed.wrapping_add((vi * 1000 + mi) as u64) };
            let values: Vec<f64> = spec.seeds.iter().filter_map(|&s| value(vi, s, metric)).collect();
            let mut entry = json!({"n": values.len()});
            if !values.is_empty() {
                let s = summarize(&values, &opts).map_err(|e| Error::Other(format!("{}: {metric}: {e}", variant.name)))?;
                entry = json!({"n": s.n, "mean": s.mean, "std": s.std, "ci95_low": s.ci.map(|c| c.0), "ci95_high": s.ci.map(|c| c.1)});
            }
            if !variant.is_baseline {
                let pairs: Vec<(f64, f64)> = spec.seeds.iter().filter_map(|&s| Some((value(0, s, metric)?, value(vi, s, metric)?))).collect();
                let (base, var): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
                entry["paired_n"] = json!(base.len());
                if !base.is_empty() {
                    let c = paired_comparison(&base, &var, &opts).map_err(|e| Error::Other(format!("{}: {metric}: {e}", variant.name)))?;
                    entry["diff_vs_baseline"] = json!(c.difference);
                    entry["diff_ci95_low"] = json!(c.ci.map(|x| x.0));
                    entry["diff_ci95_high"] = json!(c.ci.map(|x| x.1));
                    entry["p_unadjusted"] = json!(c.p_value);
                    if let Some(p) = c.p_value {
                        comparisons.push((vi, metric.clone(), p));
                    }
                }
            }
            per_metric.insert(metric.clone(), entry);
        }
        table.push((variant.name.clone(), per_metric));
    }
    let adjusted = holm(&comparisons.iter().map(|c| c.2).collect::<Vec<_>>());
    for ((vi, metric, _), p) in comparisons.iter().zip(adjusted) {
        table[*vi].1.get_mut(metric).expect("entry")["p_vs_baseline"] = json!(p);
    }
    for (vi, (_, per_metric)) in table.iter_mut().enumerate() {
        for (metric, direction) in &spec.metrics {
            let e = per_metric.get_mut(metric).expect("entry");
            if !variants[vi].is_baseline {
                let v = verdict(*direction, e["diff_vs_baseline"].as_f64().unwrap_or(0.0), e["p_vs_baseline"].as_f64(), spec.alpha);
                e["verdict"] = json!(v);
            }
        }
    }
    Ok(table.into_iter().map(|(name, m)| (name, json!(m))).collect())
}

fn fmt(v: &Value) -> String {
    v.as_f64().map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into())
}

fn report_md(spec: &AblationSpec, stats: &[(String, Value)], protocols: &BTreeMap<String, Value>, failed: &[&RunState]) -> String {
    let mut md = format!("# Ablation `{}`\n\n", spec.name);
    md += &format!("Script `{}`, config `{}`, seeds {:?}, baseline **{}**.\n\n", spec.script.display(), spec.config.display(), spec.seeds, stats[0].0);
    md += &format!(
        "Mean ± sample std over seeds; 95% expanded-percentile bootstrap CI ({} resamples); Δ = variant − baseline on the same seeds with its bootstrap CI; \
         p = two-sided paired t-test, Holm-adjusted across all {} comparisons; verdict at α = {}.\n",
        spec.bootstrap.resamples,
        stats.iter().skip(1).map(|(_, m)| m.as_object().map_or(0, |o| o.values().filter(|e| e["p_vs_baseline"].is_number()).count())).sum::<usize>(),
        spec.alpha
    );
    if spec.seeds.len() < 5 {
        md += &format!(
            "\n**{} seeds:** a bootstrap interval cannot reach past the range of the values, so with fewer than 5 seeds the CIs are too narrow; trust the p-values.\n",
            spec.seeds.len()
        );
    }
    for (metric, direction) in &spec.metrics {
        md += &format!("\n## {metric} ({} is better)\n\n", if *direction == Direction::Higher { "higher" } else { "lower" });
        if let Some(p) = protocols.get(metric).and_then(Value::as_str) {
            md += &format!("Protocol: {p}\n\n");
        }
        md += "| variant | n | mean ± std | 95% CI | Δ vs baseline [95% CI] | p (Holm) | verdict |\n|---|---|---|---|---|---|---|\n";
        for (name, per_metric) in stats {
            let e = &per_metric[metric];
            let diff = if e["diff_vs_baseline"].is_number() { format!("{} [{}, {}]", fmt(&e["diff_vs_baseline"]), fmt(&e["diff_ci95_low"]), fmt(&e["diff_ci95_high"])) } else { "–".into() };
            md += &format!(
                "| {name} | {} | {} ± {} | [{}, {}] | {diff} | {} | {} |\n",
                e["n"],
                fmt(&e["mean"]),
                fmt(&e["std"]),
                fmt(&e["ci95_low"]),
                fmt(&e["ci95_high"]),
                fmt(&e["p_vs_baseline"]),
                e["verdict"].as_str().unwrap_or("baseline")
            );
        }
        md += &format!("\n![{metric}](plots/{}.png)\n", file_stem(metric));
    }
    if !failed.is_empty() {
        md += "\n## Failed runs (retry with `--retry-failed`)\n\n";
        for s in failed {
            md += &format!("- {}: {} (log `{}`)\n", s.id, s.error.as_deref().unwrap_or("failed"), s.log.display());
        }
    }
    md
}

fn file_stem(metric: &str) -> String {
    metric.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, text.as_bytes())
}

/// Writes the report from the completed runs; returns the path of `report.md`.
pub fn write(spec: &AblationSpec, variants: &[Variant], runs: &[PlannedRun], states: &[RunState], dir: &Path) -> Result<PathBuf> {
    let summaries = load_summaries(runs, states)?;
    let protocols = merged_protocols(spec, runs, &summaries)?;
    write_text(&dir.join("results.csv"), &results_csv(spec, variants, runs, states, &summaries))?;
    let stats = statistics(spec, variants, &summaries)?;
    let failed: Vec<&RunState> = states.iter().filter(|s| s.status == Status::Failed).collect();
    let summary = json!({
        "name": spec.name,
        "ablation": spec.file.display().to_string(),
        "script": spec.script.display().to_string(),
        "config": spec.config.display().to_string(),
        "seeds": spec.seeds,
        "baseline": variants[0].name,
        "alpha": spec.alpha,
        "method": {
            "ci": format!("95% expanded-percentile bootstrap of the mean, {} resamples, seed {}", spec.bootstrap.resamples, spec.bootstrap.seed),
            "p_vs_baseline": "two-sided paired t-test over shared seeds, Holm-adjusted across all (variant, metric) comparisons",
        },
        "metrics": spec.metrics.iter().map(|(m, d)| (m.clone(), json!(if *d == Direction::Higher { "higher" } else { "lower" }))).collect::<serde_json::Map<_, _>>(),
        "protocols": protocols,
        "runs": {"planned": runs.len(), "completed": summaries.len(), "failed": failed.len()},
        "variants": stats.iter().map(|(name, m)| (name.clone(), m.clone())).collect::<serde_json::Map<_, _>>(),
    });
    write_text(&dir.join("summary.json"), &(serde_json::to_string_pretty(&summary).map_err(|e| Error::Other(e.to_string()))? + "\n"))?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    for (metric, _) in &spec.metrics {
        let points: Vec<plexus_analysis::plot::ErrorBarPoint> = stats
            .iter()
            .enumerate()
            .filter_map(|(vi, (name, m))| {
                let e = &m[metric];
                let mean = e["mean"].as_f64()?;
                Some(plexus_analysis::plot::ErrorBarPoint {
                    name,
                    value: mean,
                    low: e["ci95_low"].as_f64().unwrap_or(mean),
                    high: e["ci95_high"].as_f64().unwrap_or(mean),
                    highlight: vi == 0,
                })
            })
            .collect();
        let path = plots.join(format!("{}.png", file_stem(metric)));
        // A plotting problem (e.g. no completed run yet) must not hide the tables.
        if let Err(e) = plexus_analysis::plot::error_bar_plot(&path, &format!("{} — {metric} (mean, 95% CI)", spec.name), metric, &points) {
            tracing::warn!("{e}");
        }
    }
    let report = dir.join("report.md");
    write_text(&report, &report_md(spec, &stats, &protocols, &failed))?;
    Ok(report)
}
