//! The `plexus` command line. Each subcommand lives in `plexus::cli::<name>`.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use plexus::cli;

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
    Run(cli::run::Args),
    /// List plugins, their components and config defaults.
    Plugins(cli::plugins::Args),
    /// Representation analysis of a run's exported embeddings (probes, modality gap, rank, CKA).
    Analyze(cli::analyze::Args),
    /// Write a new plugin crate (example component, conformance test, README).
    NewPlugin(cli::new_plugin::Args),
    /// Inspect run folders: list, show, compare.
    Runs(cli::runs::Args),
    /// Validate a script, its config and plugins; build everything and run one tiny batch.
    Check(cli::check::Args),
    /// Score prediction files (captions, VQA answers, retrieval similarities, WER/CER) without training.
    Score(cli::score::Args),
    /// Fetch or verify datasets (data/NAME/ with manifests and checksums) from the package registries.
    Data(cli::data::Args),
    /// Run an ablation sweep (every variant x seed as its own run, resumable) and report statistics.
    Ablate(cli::ablate::Args),
    /// open_clip-compatible image/text embeddings from an open_clip config and state dict.
    Embed(cli::embed::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    plexus::logging::init(cli.verbose);
    match cli.command {
        Command::Run(args) => cli::run::main(args, cli.plugin_dirs),
        Command::Plugins(args) => cli::plugins::main(args, cli.plugin_dirs),
        Command::Analyze(args) => cli::analyze::main(args),
        Command::NewPlugin(args) => cli::new_plugin::main(args),
        Command::Runs(args) => cli::runs::main(args),
        Command::Check(args) => cli::check::main(args, cli.plugin_dirs),
        Command::Score(args) => cli::score::main(args),
        Command::Ablate(args) => cli::ablate::main(args, cli.plugin_dirs),
        Command::Data(args) => cli::data::main(args),
        Command::Embed(args) => cli::embed::main(args, cli.plugin_dirs),
    }
}
