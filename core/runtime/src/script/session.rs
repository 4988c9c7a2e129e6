//! State shared by every API function during one script run.
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::{Map, Value};
use tch::{nn, Device};

use crate::checkpoint::Checkpoint;
use crate::config::ExperimentConfig;
use crate::plugins::Registry;
use crate::run_dir::RunDir;

pub struct Session {
    pub registry: Rc<Registry>,
    pub config: ExperimentConfig,
    pub vs: nn::VarStore,
    pub device: Device,
    pub seed: u64,
    /// Shared so the trainer can log while hooks (which call back into the session) run.
    pub run: Rc<RefCell<RunDir>>,
    /// Set when resuming: the trainer restores it, then the script replays up to it.
    pub resume: Option<Checkpoint>,
    /// While true, `log(...)` writes nothing: those lines are already in metrics.jsonl.
    pub replaying: Rc<Cell<bool>>,
    /// Functions called with the scores of every `evaluate(...)`.
    pub eval_hooks: Vec<rhai::FnPtr>,
    /// How each metric was last measured (split, sizes, relevance), by metric name.
    pub protocols: std::collections::BTreeMap<String, String>,
    /// `plexus check`: datasets are cut to a few examples and each training call runs one step.
    pub check: bool,
    /// One line per component, dataset and trainer built (printed by `plexus check`).
    pub report: Vec<String>,
    /// Final numbers reported with `summary(...)`.
    pub summary: Map<String, Value>,
    /// The step of the most recent training step, stamped on `log(...)` records.
    pub step: usize,
    component_count: usize,
}

pub type Shared = Rc<RefCell<Session>>;

impl Session {
    pub fn new(registry: Rc<Registry>, config: ExperimentConfig, device: Device, seed: u64, run: RunDir, resume: Option<Checkpoint>) -> Self {
        Self {
            registry,
            config,
            vs: nn::VarStore::new(device),
            device,
            seed,
            run: Rc::new(RefCell::new(run)),
            replaying: Rc::new(Cell::new(resume.is_some())),
            resume,
            eval_hooks: Vec::new(),
            protocols: Default::default(),
            check: false,
            report: Vec::new(),
            summary: Map::new(),
            step: 0,
            component_count: 0,
        }
    }

    /// A fresh parameter-path name: `name` if given, else `<component><n>`.
    pub fn param_scope(&mut self, component: &str, name: Option<&str>) -> String {
        self.component_count += 1;
        match name {
            Some(n) => n.to_string(),
            None => format!("{component}{}", self.component_count),
        }
    }
}
