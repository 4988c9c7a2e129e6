//! `manifest.json`: everything needed to know what a run was — command line, seed,
//! git commit, plugin fingerprints, SHA-256 of the script, config and plugin files,
//! libtorch version and device.
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::plugins::Registry;

/// Hex SHA-256 of a file, or `None` if it cannot be read.
pub fn sha256_file(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!("{:x}", Sha256::digest(&bytes)))
}

/// [`sha256_file`] memoised by (path, size, mtime) in `~/.cache/plexus/sha256.json`:
/// plugin libraries are tens of MB and rarely change between runs.
pub fn sha256_file_cached(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    let key = format!("{}|{}|{mtime}", path.canonicalize().ok()?.display(), meta.len());
    let cache_file = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/plexus/sha256.json"))?;
    let mut cache: serde_json::Map<String, Value> =
        std::fs::read_to_string(&cache_file).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    if let Some(hit) = cache.get(&key).and_then(Value::as_str) {
        return Some(hit.to_string());
    }
    let hash = sha256_file(path)?;
    cache.insert(key, json!(hash));
    if let Some(dir) = cache_file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = crate::run_dir::write_atomic(&cache_file, Value::Object(cache).to_string().as_bytes());
    Some(hash)
}

/// The commit checked out in the working directory (with `-dirty` when it has local
/// changes), or `None` outside a git repository.
pub fn git_commit() -> Option<String> {
    let out = Command::new("git").args(["rev-parse", "HEAD"]).output().ok().filter(|o| o.status.success())?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| !o.stdout.is_empty());
    Some(if dirty { format!("{commit}-dirty") } else { commit })
}

pub struct ManifestInput<'a> {
    pub script: &'a Path,
    pub config: &'a Path,
    pub seed: u64,
    pub device: &'a str,
    pub threads: i32,
    pub registry: &'a Registry,
    pub resumed: bool,
}

pub fn build(input: &ManifestInput) -> Value {
    let plugins: Vec<Value> = input
        .registry
        .plugins
        .iter()
        .map(|p| {
            json!({
                "name": p.name, "version": p.version, "path": p.path.display().to_string(),
                "fingerprint": p.fingerprint, "sha256": sha256_file_cached(&p.path),
            })
        })
        .collect();
    let fingerprint = plexus_plugin::abi::Fingerprint::current();
    let torch = fingerprint.fields.iter().find(|(k, _)| k == "torch").map(|(_, v)| v.clone());
    json!({
        "plexus_version": env!("CARGO_PKG_VERSION"),
        "command_line": std::env::args().collect::<Vec<_>>(),
        "working_directory": std::env::current_dir().ok().map(|p| p.display().to_string()),
        "started_at": chrono::Local::now().to_rfc3339(),
        "resumed": input.resumed,
        "seed": input.seed,
        "device": input.device,
        "threads": input.threads,
        "git_commit": git_commit(),
        "libtorch_version": torch,
        "host_fingerprint": fingerprint.to_string(),
        "files": {
            "script": {"path": input.script.display().to_string(), "sha256": sha256_file(input.script)},
            "config": {"path": input.config.display().to_string(), "sha256": sha256_file(input.config)},
        },
        "plugins": plugins,
    })
}
