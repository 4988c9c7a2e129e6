//! `plexus runs list|show|compare`: read run folders without rerunning anything.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: RunsCommand,
    /// Folder holding run folders.
    #[arg(long, default_value = "runs", global = true)]
    pub runs_dir: PathBuf,
}

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// One line per run: name, status, and its metrics.
    List,
    /// A run's manifest facts and metrics.
    Show { run: PathBuf },
    /// Configs that differ and metrics side by side; warns when protocols differ.
    Compare {
        #[arg(num_args = 2.., required = true)]
        runs: Vec<PathBuf>,
    },
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}

/// Accepts a run folder path, or a name inside `runs_dir`.
fn resolve(runs_dir: &Path, run: &Path) -> Result<PathBuf, String> {
    for candidate in [run.to_path_buf(), runs_dir.join(run)] {
        if candidate.join("config.yaml").exists() {
            return Ok(candidate);
        }
    }
    Err(format!("{}: not a run folder (no config.yaml; `plexus runs list` shows the runs in {})", run.display(), runs_dir.display()))
}

/// `a.b.c → value` for every leaf of a JSON tree.
fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn config_of(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let path = dir.join("config.yaml");
    let tree = crate::config::load_yaml_file(&path.display().to_string()).map_err(|e| e.to_string())?;
    let mut flat = BTreeMap::new();
    flatten("", &tree, &mut flat);
    Ok(flat)
}

fn summary_of(dir: &Path) -> Value {
    read_json(&dir.join("summary.json")).unwrap_or(Value::Null)
}

fn list(runs_dir: &Path) -> Result<(), String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir)
        .map_err(|e| format!("{}: {e}", runs_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.yaml").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let summary = summary_of(&dir);
        let status = summary["status"].as_str().unwrap_or("incomplete");
        let metrics: Vec<String> = summary["metrics"]
            .as_object()
            .map(|m| m.iter().take(4).map(|(k, v)| format!("{k}={}", short(v))).collect())
            .unwrap_or_default();
        println!("{:<44} {:<10} {}", dir.file_name().unwrap_or_default().to_string_lossy(), status, metrics.join(" "));
    }
    Ok(())
}

fn short(v: &Value) -> String {
    v.as_f64().map(|f| format!("{f:.4}")).unwrap_or_else(|| v.to_string())
}

fn show(dir: &Path) -> Result<(), String> {
    let manifest = read_json(&dir.join("manifest.json")).unwrap_or(Value::Null);
    let summary = summary_of(dir);
    println!("run        {}", dir.display());
    println!("status     {}", summary["status"].as_str().unwrap_or("incomplete (no summary.json)"));
    for key in ["seed", "device", "threads", "git_commit", "libtorch_version", "started_at"] {
        println!("{key:<10} {}", manifest[key]);
    }
    if let Some(cmd) = manifest["command_line"].as_array() {
        println!("command    {}", cmd.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
    }
    if let Some(err) = summary["error"].as_str() {
        println!("error      {err}");
    }
    for (k, v) in summary["metrics"].as_object().into_iter().flatten() {
        println!("  {k:<24} {}", short(v));
    }
    Ok(())
}

fn compare(dirs: &[PathBuf]) -> Result<(), String> {
    let configs: Vec<BTreeMap<String, String>> = dirs.iter().map(|d| config_of(d)).collect::<Result<_, _>>()?;
    let summaries: Vec<Value> = dirs.iter().map(|d| summary_of(d)).collect();
    let names: Vec<String> = dirs.iter().map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    let width = names.iter().map(String::len).max().unwrap_or(10).max(12);
    let header = |title: &str| {
        print!("{title:<32}");
        for n in &names {
            print!(" {n:>width$}");
        }
        println!();
    };
    header("config (differing keys)");
    let keys: std::collections::BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    for key in keys {
        let values: Vec<&str> = configs.iter().map(|c| c.get(key).map(String::as_str).unwrap_or("-")).collect();
        if values.iter().any(|v| *v != values[0]) {
            print!("{key:<32}");
            for v in values {
                print!(" {v:>width$}");
            }
            println!();
        }
    }
    println!();
    header("metric");
    let metrics: std::collections::BTreeSet<String> =
        summaries.iter().flat_map(|s| s["metrics"].as_object().into_iter().flatten().map(|(k, _)| k.clone())).collect();
    let mut warnings = Vec::new();
    for m in metrics {
        print!("{m:<32}");
        for s in &summaries {
            print!(" {:>width$}", s["metrics"].get(&m).map(short).unwrap_or_else(|| "-".into()));
        }
        println!();
        let protocols: std::collections::BTreeSet<String> =
            summaries.iter().filter_map(|s| s["protocols"].get(&m).map(|p| p.to_string())).collect();
        if protocols.len() > 1 {
            warnings.push(format!("warning: `{m}` was measured under different protocols: {}", protocols.into_iter().collect::<Vec<_>>().join(" | ")));
        }
    }
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(())
}

pub fn main(args: Args) -> ExitCode {
    let result = match &args.command {
        RunsCommand::List => list(&args.runs_dir),
        RunsCommand::Show { run } => resolve(&args.runs_dir, run).and_then(|d| show(&d)),
        RunsCommand::Compare { runs } => {
            runs.iter().map(|r| resolve(&args.runs_dir, r)).collect::<Result<Vec<_>, _>>().and_then(|d| compare(&d))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
