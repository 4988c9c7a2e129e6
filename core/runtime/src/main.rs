//! The `plexus` command line.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use plexus::plugins::{default_search_path, listing_json, listing_text, Registry};
use plexus::runner::{run, RunOptions};

#[derive(Parser)]
#[command(name = "plexus", version, about = "Multimodal experiments from Rhai scripts, YAML configs and plugins")]
struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Extra plugin folders, searched after PLEXUS_PLUGIN_PATH.
    #[arg(long = "plugin-dir", global = true)]
    plugin_dirs: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment script with a config and optional key.path=value overrides.
    Run {
        script: PathBuf,
        #[arg(long)]
        config: PathBuf,
        /// `key.path=value` (the file must have the key) or `+key.path=value` (adds it).
        overrides: Vec<String>,
        /// Where run folders are created.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
    },
    /// List plugins, their components and config defaults.
    Plugins {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    plexus::logging::init(cli.verbose);
    match cli.command {
        Command::Run { script, config, overrides, runs_dir } => {
            let opts = RunOptions { script, config, overrides, runs_dir, plugin_dirs: cli.plugin_dirs, ..Default::default() };
            match run(&opts) {
                Ok(outcome) => {
                    println!("run folder: {}", outcome.dir.display());
                    for (k, v) in &outcome.metrics {
                        println!("  {k:<24} {v}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Plugins { json } => {
            let registry = Registry::discover(&default_search_path(&cli.plugin_dirs));
            if json {
                println!("{}", serde_json::to_string_pretty(&listing_json(&registry)).expect("json"));
            } else {
                print!("{}", listing_text(&registry));
            }
            ExitCode::SUCCESS
        }
    }
}
