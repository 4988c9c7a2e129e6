//! `plexus plugins [--json]`
use std::path::PathBuf;
use std::process::ExitCode;

use crate::plugins::{default_search_path, listing_json, listing_text, Registry};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    let registry = Registry::discover(&default_search_path(&plugin_dirs));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&listing_json(&registry)).expect("json"));
    } else {
        print!("{}", listing_text(&registry));
    }
    ExitCode::SUCCESS
}
