//! `plexus run SCRIPT --config FILE [key=value ...]`: load, check, run, record.
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::config::{to_yaml, ExperimentConfig};
use crate::error::{Error, Result};
use crate::plugins::{default_search_path, Registry};
use crate::run_dir::RunDir;
use crate::script::{self, Limits, Session, Shared};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub script: PathBuf,
    pub config: PathBuf,
    /// Continue this run folder from its last checkpoint (script and config come from it).
    pub resume: Option<PathBuf>,
    /// `plexus check`: build everything and run one tiny batch per training call, in a
    /// throwaway folder.
    pub check: bool,
    pub overrides: Vec<String>,
    pub runs_dir: PathBuf,
    pub plugin_dirs: Vec<PathBuf>,
    pub limits: Limits,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub metrics: serde_json::Map<String, Value>,
    /// What the script built and ran (filled in check mode).
    pub report: Vec<String>,
}

/// Top-level settings every experiment may set.
struct Settings {
    name: String,
    seed: u64,
    device: String,
    threads: i32,
    plugin_paths: Vec<PathBuf>,
}

fn settings(cfg: &ExperimentConfig, script: &Path) -> Result<Settings> {
    let stem = script.file_stem().and_then(|s| s.to_str()).unwrap_or("run").to_string();
    let threads: i32 = cfg.setting("threads", 0)?;
    let available = std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1);
    Ok(Settings {
        name: cfg.setting("name", stem)?,
        seed: cfg.setting("seed", 0u64)?,
        device: cfg.setting("device", "auto".to_string())?,
        threads: if threads > 0 { threads } else { available },
        plugin_paths: cfg.setting::<Vec<PathBuf>>("plugin_paths", Vec::new())?,
    })
}

/// Process-wide settings for a run: libtorch's intra-op threads; OpenBLAS (linked for the
/// analysis, and ahead of libtorch in symbol lookup) pinned to one thread so its pool never
/// fights libtorch's; malloc keeping freed blocks for the next step (crate::allocator).
pub fn configure_process(threads: i32) {
    tch::set_num_threads(threads);
    plexus_analysis::blas::set_blas_threads(1);
    crate::allocator::retain_freed_memory();
}

/// A Rust function that drives an experiment in place of its Rhai script, with the same
/// session, run folder and records around it. Only the `rhai_overhead` benchmark uses
/// one: it isolates what the script itself costs.
pub type RustDriver<'a> = &'a mut dyn FnMut(&Shared) -> Result<()>;

pub fn run(opts: &RunOptions) -> Result<RunOutcome> {
    if opts.check {
        let scratch = std::env::temp_dir().join(format!("plexus-check-{}", std::process::id()));
        let result = execute(&RunOptions { runs_dir: scratch.clone(), ..opts.clone() }, None, None);
        let _ = std::fs::remove_dir_all(&scratch);
        return result;
    }
    if let Some(dir) = &opts.resume {
        return resume(opts, dir);
    }
    execute(opts, None, None)
}

/// Like [`run`] (no check, no resume), but `driver` runs the experiment instead of the
/// script: the run folder, manifest, logs, summary and plots are written exactly as for
/// a scripted run.
pub fn run_with_rust_driver(opts: &RunOptions, driver: RustDriver) -> Result<RunOutcome> {
    execute(opts, None, Some(driver))
}

/// Reruns a run folder's own script and resolved config from its last checkpoint.
fn resume(opts: &RunOptions, dir: &Path) -> Result<RunOutcome> {
    let ckpt_path = dir.join("checkpoints/last.safetensors");
    if !dir.join("script.rhai").exists() || !dir.join("config.yaml").exists() {
        return Err(Error::Other(format!("{}: not a plexus run folder (script.rhai or config.yaml is missing)", dir.display())));
    }
    if !ckpt_path.exists() {
        return Err(Error::Other(format!(
            "{}: nothing to resume from; the run stopped before its first checkpoint (set train.checkpoint_every to checkpoint within epochs)",
            ckpt_path.display()
        )));
    }
    let ck = crate::checkpoint::load(&ckpt_path)?;
    let run = RunDir::reopen(dir, ck.state.metrics_bytes)?;
    let opts = RunOptions { script: dir.join("script.rhai"), config: dir.join("config.yaml"), overrides: vec![], ..opts.clone() };
    tracing::info!("resuming {} at step {} (epoch {})", dir.display(), ck.state.step, ck.state.epoch);
    execute(&opts, Some((run, ck)), None)
}

fn execute(opts: &RunOptions, resume: Option<(RunDir, crate::checkpoint::Checkpoint)>, driver: Option<RustDriver>) -> Result<RunOutcome> {
    let started = Instant::now();
    let script_file = opts.script.display().to_string();
    let source = std::fs::read_to_string(&opts.script).map_err(|e| Error::io(&opts.script, e))?;
    let config_file = opts.config.display().to_string();
    let cfg = ExperimentConfig::load(&config_file, &opts.overrides)?;
    let st = settings(&cfg, &opts.script)?;

    configure_process(st.threads);
    tch::manual_seed(st.seed as i64);
    let device = crate::device::resolve(&st.device).map_err(|e| Error::Config {
        file: config_file.clone(),
        key: "device".into(),
        message: e.to_string(),
    })?;
    let mut dirs = opts.plugin_dirs.clone();
    dirs.extend(st.plugin_paths.iter().cloned());
    let registry = Rc::new(Registry::discover(&default_search_path(&dirs)));

    // Compile before creating the run folder: a syntax error leaves nothing behind.
    script::compile(&script::syntax_engine(), &script_file, &source)?;

    let (run, checkpoint) = match resume {
        Some((run, ck)) => (run, Some(ck)),
        None => {
            let run = RunDir::create(&opts.runs_dir, &st.name)?;
            run.write("config.yaml", to_yaml(&cfg.root).as_bytes())?;
            run.write("script.rhai", source.as_bytes())?;
            (run, None)
        }
    };
    let dir = run.path().to_path_buf();
    crate::logging::attach_run_log(&dir.join("plexus.log")).map_err(|e| Error::io(dir.join("plexus.log"), e))?;
    run.write_json("plugins.json", &registry.fingerprints_json())?;
    let manifest = crate::manifest::build(&crate::manifest::ManifestInput {
        script: &opts.script,
        config: &opts.config,
        seed: st.seed,
        device: &crate::device::describe(device),
        threads: st.threads,
        registry: &registry,
        resumed: checkpoint.is_some(),
    });
    run.write_json(if checkpoint.is_some() { "manifest.resume.json" } else { "manifest.json" }, &manifest)?;
    tracing::info!("run folder {} (device {}, seed {}, {} threads)", dir.display(), crate::device::describe(device), st.seed, st.threads);

    let mut session = Session::new(registry.clone(), cfg, device, st.seed, run, checkpoint);
    session.check = opts.check;
    let session = Rc::new(RefCell::new(session));
    let folder = |p: &Path| p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    let roots = vec![folder(&opts.script), folder(&opts.config), PathBuf::from("scripts")];
    let mut limits = opts.limits.clone();
    limits.max_operations = session.borrow().config.setting("script_max_operations", limits.max_operations)?;
    let result = match driver {
        Some(drive) => drive(&session),
        None => {
            let engine = script::engine(session.clone(), roots, &limits);
            let ast = script::compile(&engine, &script_file, &source)?;
            engine.run_ast(&ast).map_err(|e| script::runtime_error(&script_file, e, &limits))
        }
    };

    let session = session.borrow();
    let mut summary = json!({
        "name": st.name,
        "status": if result.is_ok() { "completed" } else { "failed" },
        "metrics": Value::Object(session.summary.clone()),
        "seed": st.seed,
        "device": crate::device::describe(device),
        "threads": st.threads,
        "wall_seconds": started.elapsed().as_secs_f64(),
        "protocols": Value::Object(
            session.protocols.iter().filter(|(k, _)| session.summary.contains_key(*k)).map(|(k, v)| (k.clone(), json!(v))).collect()
        ),
    });
    if let Err(e) = &result {
        summary["error"] = json!(e.to_string());
    }
    session.run.borrow().write_json("summary.json", &summary)?;
    // Plots are a convenience: a plotting problem is logged, never fatal to the run.
    if let Err(e) = crate::tracking::plots::write_run_plots(&dir) {
        tracing::warn!("plots not written: {e}");
    }
    result?;
    Ok(RunOutcome { dir, metrics: session.summary.clone(), report: session.report.clone() })
}
