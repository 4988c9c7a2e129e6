//! `plexus analyze RUN [--split test] [--json] [--compare OTHER_RUN]`
use std::path::PathBuf;
use std::process::ExitCode;

use plexus_analysis::{analyze_run, compare_runs};
use serde_json::{Map, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Run folder holding embeddings/<split>.safetensors (and train.safetensors for the probe).
    pub run: PathBuf,
    /// Split to analyse.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Print one flat JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Another run whose embeddings of the same split to compare by linear CKA.
    #[arg(long)]
    pub compare: Option<PathBuf>,
}

pub fn main(args: Args) -> ExitCode {
    match report(&args) {
        Ok(map) if args.json => {
            println!("{}", serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(map) => {
            println!("analysis of {} ({} split):", args.run.display(), args.split);
            for (k, v) in &map {
                println!("  {k:<26} {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The analysis report as a flat map, plus `compare_*` keys when `--compare` is given.
fn report(args: &Args) -> plexus_analysis::Result<Map<String, Value>> {
    let mut map = analyze_run(&args.run, &args.split)?.to_json_map();
    if let Some(other) = &args.compare {
        let c = compare_runs(&args.run, other, &args.split)?;
        map.insert("compare_run".into(), other.display().to_string().into());
        map.insert("compare_cka_image".into(), c.cka_image.into());
        map.insert("compare_cka_text".into(), c.cka_text.into());
    }
    Ok(map)
}
