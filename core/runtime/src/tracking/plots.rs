//! PNG plots of a run's curves, drawn from metrics.jsonl when the run ends:
//! `plots/loss.png` (step and epoch losses) and `plots/metrics.png` (evaluation scores).
use std::collections::BTreeMap;
use std::path::Path;

use plexus_analysis::plot::line_plot;

type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// Splits metrics.jsonl into loss curves and other numeric curves, all against `step`.
fn curves(metrics_jsonl: &str) -> (Series, Series) {
    let (mut losses, mut scores) = (Series::new(), Series::new());
    for line in metrics_jsonl.lines() {
        let Ok(serde_json::Value::Object(record)) = serde_json::from_str(line) else { continue };
        let Some(step) = record.get("step").and_then(|s| s.as_f64()) else { continue };
        for (key, value) in &record {
            let Some(v) = value.as_f64() else { continue };
            if key == "step" || key == "epoch" || key.contains("second") || key.ends_with("lr") {
                continue;
            }
            let target = if key.contains("loss") { &mut losses } else { &mut scores };
            target.entry(key.clone()).or_default().push((step, v));
        }
    }
    (losses, scores)
}

/// Writes the plots into `run_dir/plots/`; returns the files written.
pub fn write_run_plots(run_dir: &Path) -> crate::Result<Vec<std::path::PathBuf>> {
    let text = std::fs::read_to_string(run_dir.join("metrics.jsonl")).map_err(|e| crate::Error::io(run_dir.join("metrics.jsonl"), e))?;
    let (losses, scores) = curves(&text);
    let dir = run_dir.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
    let mut written = Vec::new();
    for (name, title, series) in [("loss.png", "training loss", losses), ("metrics.png", "evaluation", scores)] {
        if series.is_empty() {
            continue;
        }
        let named: Vec<(&str, Vec<(f64, f64)>)> = series.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let path = dir.join(name);
        line_plot(&path, title, ("step", "value"), &named).map_err(|e| crate::Error::Other(e.to_string()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_split_losses_from_scores_and_skip_timings() {
        let jsonl = "{\"step\":1,\"train/loss\":2.0,\"train/lr\":0.1}\n{\"step\":2,\"train/loss\":1.0,\"train/epoch_seconds\":3.0}\n{\"step\":2,\"zero_shot_top1\":0.5}\n";
        let (losses, scores) = curves(jsonl);
        assert_eq!(losses["train/loss"], vec![(1.0, 2.0), (2.0, 1.0)]);
        assert_eq!(scores.keys().collect::<Vec<_>>(), ["zero_shot_top1"]);
    }
}
