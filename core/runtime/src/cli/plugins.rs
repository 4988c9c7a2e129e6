//! `plexus plugins [--json] [--check DIR]`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::plugins::{check_folder, check_json, check_text, default_search_path, listing_json, listing_text, Registry};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Load every plugin in DIR (only there) and run the conformance kit on each
    /// component with its default config; exits with 1 on any failure or refusal.
    #[arg(long, value_name = "DIR")]
    pub check: Option<PathBuf>,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    if let Some(dir) = &args.check {
        let check = check_folder(dir);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&check_json(&check)).expect("json"));
        } else {
            print!("{}", check_text(&check));
        }
        return if check.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    let registry = Registry::discover(&default_search_path(&plugin_dirs));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listing_json(&registry)).expect("json"));
    } else {
        print!("{}", listing_text(&registry));
    }
    ExitCode::SUCCESS
}
