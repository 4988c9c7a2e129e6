//! Helpers for the integration tests: where the built binary and plugins are, a small
//! synthetic dataset in Fashion-MNIST's IDX format, and running experiments.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`, where cargo puts the `plexus` binary and the plugin libraries.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..").to_path_buf()
}

pub fn plexus_bin() -> PathBuf {
    let bin = target_dir().join("plexus");
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` (make test does)", bin.display());
    bin
}

/// Path of a built plugin library, e.g. `plugin_lib("vision")` → `libplexus_vision.so`.
pub fn plugin_lib(name: &str) -> PathBuf {
    let lib = target_dir().join(format!("libplexus_{name}.so"));
    assert!(lib.exists(), "{} is missing: run `cargo build --workspace` (make test does)", lib.display());
    lib
}

/// Runs the `plexus` binary with `args` in `cwd`.
pub fn plexus(cwd: &Path, args: &[&str]) -> Output {
    Command::new(plexus_bin()).args(args).current_dir(cwd).env("OMP_NUM_THREADS", "1").output().expect("spawn plexus")
}

pub fn stdout_stderr(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn write_idx_gz(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0u8, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(data);
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    gz.finish().unwrap();
}

/// Writes a learnable toy dataset in Fashion-MNIST's file layout: class `c` lights up
/// row band `c` of a 28×28 image, plus deterministic noise.
pub fn write_toy_fashion_mnist(dir: &Path, train: usize, test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, n, salt) in [("train", train, 1u32), ("t10k", test, 2u32)] {
        let mut pixels = vec![0u8; n * 784];
        let mut labels = vec![0u8; n];
        let mut state = 0x9e37_79b9u32.wrapping_mul(salt);
        for i in 0..n {
            let class = (i % 10) as u8;
            labels[i] = class;
            for p in 0..784 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let band = (p / 28) / 3 == class as usize;
                pixels[i * 784 + p] = if band { 200 } else { (state % 60) as u8 };
            }
        }
        write_idx_gz(&dir.join(format!("{prefix}-images-idx3-ubyte.gz")), &[n as u32, 28, 28], &pixels);
        write_idx_gz(&dir.join(format!("{prefix}-labels-idx1-ubyte.gz")), &[n as u32], &labels);
    }
}

/// A self-contained experiment folder: toy data, the default script, and a tiny config
/// pointing at the data. Returns (folder, script path, config path).
pub struct Experiment {
    pub dir: tempfile::TempDir,
}

impl Experiment {
    pub fn tiny() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_toy_fashion_mnist(&dir.path().join("data"), 1280, 200);
        std::fs::copy(root().join("scripts/clip.rhai"), dir.path().join("clip.rhai")).unwrap();
        let config = std::fs::read_to_string(root().join("experiments/clip_fashion_tiny.yaml"))
            .unwrap()
            .replace("root: data/fashion-mnist", "root: data")
            .replace("limit: 2048", "limit: 0")
            .replace("limit: 512", "limit: 0");
        std::fs::write(dir.path().join("tiny.yaml"), config).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rewrites a file in the experiment folder by string replacement (asserting a match).
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "`{from}` not found in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// `plexus run clip.rhai --config tiny.yaml [extra...]` in this folder.
    pub fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec!["run", "clip.rhai", "--config", "tiny.yaml"];
        args.extend_from_slice(extra);
        plexus(self.path(), &args)
    }

    /// The single run folder under `runs/` (asserting there is exactly one).
    pub fn only_run_dir(&self) -> PathBuf {
        let dirs: Vec<PathBuf> = std::fs::read_dir(self.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(dirs.len(), 1, "{dirs:?}");
        dirs[0].clone()
    }

    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
        dirs.sort();
        dirs
    }
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Runs the `plexus` binary with `args` in `cwd` and extra environment variables.
pub fn plexus_with_env(cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(plexus_bin());
    cmd.args(args).current_dir(cwd).env("OMP_NUM_THREADS", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("spawn plexus")
}

/// The project venv's Python (torch 2.11 and the reference packages live there).
pub fn venv_python() -> PathBuf {
    let py = root().join(".venv/bin/python");
    assert!(py.exists(), "{} is missing: run `make setup`", py.display());
    py
}

/// Property-tested ablations: invariants over an ablation's axes, checked by proptest.
pub mod ablation_props;
