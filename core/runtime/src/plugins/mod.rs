//! Plugin discovery, loading and component construction.
mod check;
mod listing;
mod loader;

pub use check::{check_folder, check_json, check_text, CheckedPlugin, FolderCheck};
pub use listing::{listing_json, listing_text};
pub use loader::{default_search_path, LoadOutcome};

use std::collections::BTreeMap;
use std::path::PathBuf;

use plexus_plugin::tch::nn;
use plexus_plugin::{suggest, ComponentInfo, Encoder, Factory, Fusion, Hparams, Kind, Loss, Masking, Metric, Module, Sampler, Tokenizer};

use crate::error::{Error, Result};

/// A plugin that loaded and registered.
#[derive(Debug, Clone)]
pub struct PluginRecord {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub fingerprint: String,
    pub components: Vec<ComponentInfo>,
}

/// A library that was found but not used, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub path: PathBuf,
    pub reason: String,
}

/// Every component known to this process, by kind and name.
#[derive(Default)]
pub struct Registry {
    pub plugins: Vec<PluginRecord>,
    pub refused: Vec<Refusal>,
    pub searched: Vec<PathBuf>,
    factories: BTreeMap<(Kind, String), (usize, Factory)>,
}

impl Registry {
    /// Loads every plugin in `dirs` (in order; the first plugin of a given name wins).
    pub fn discover(dirs: &[PathBuf]) -> Self {
        let mut registry = Registry { searched: dirs.to_vec(), ..Default::default() };
        for path in loader::candidate_files(dirs) {
            match loader::load(&path, &mut registry) {
                Ok(LoadOutcome::Loaded | LoadOutcome::NotAPlugin | LoadOutcome::Duplicate) => {}
                Err(reason) => {
                    tracing::warn!("{reason}");
                    registry.refused.push(Refusal { path, reason: reason.to_string() });
                }
            }
        }
        registry
    }

    pub(crate) fn add(&mut self, mut record: PluginRecord, entries: Vec<(ComponentInfo, Factory)>) {
        let index = self.plugins.len();
        for (info, factory) in entries {
            let key = (info.kind, info.name.clone());
            if let Some((other, _)) = self.factories.get(&key) {
                tracing::warn!(
                    "{} `{}` of plugin `{}` is shadowed by plugin `{}`",
                    info.kind,
                    info.name,
                    record.name,
                    self.plugins[*other].name
                );
                continue;
            }
            record.components.push(info);
            self.factories.insert(key, (index, factory));
        }
        self.plugins.push(record);
    }

    pub fn names(&self, kind: Kind) -> Vec<&str> {
        self.factories.keys().filter(|(k, _)| *k == kind).map(|(_, n)| n.as_str()).collect()
    }

    /// The factory registered as `kind`/`name`, if any (for `plexus plugins --check`).
    pub fn factory_of(&self, kind: Kind, name: &str) -> Option<&Factory> {
        self.factories.get(&(kind, name.to_string())).map(|(_, f)| f)
    }

    /// The factory for `kind`/`name`, or an error suggesting the nearest names.
    fn factory(&self, kind: Kind, name: &str) -> Result<&Factory> {
        if let Some((_, f)) = self.factories.get(&(kind, name.to_string())) {
            return Ok(f);
        }
        let known = self.names(kind);
        let mut message = format!("unknown {kind} `{name}`{}", suggest::did_you_mean(name, known.iter().copied()));
        if let Some(other) = Kind::ALL.into_iter().find(|k| self.factories.contains_key(&(*k, name.to_string()))) {
            message.push_str(&format!("; `{name}` is a {other}, not a {kind}"));
        }
        message.push_str(&format!(
            ". Registered {kind}s: {}. Plugins were searched in: {}",
            if known.is_empty() { "none".into() } else { known.join(", ") },
            self.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
        if !self.refused.is_empty() {
            message.push_str(&format!(" ({} plugin(s) refused; run `plexus plugins` for details)", self.refused.len()));
        }
        Err(Error::Plugin(message))
    }

    pub fn encoder(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Encoder>> {
        match self.factory(Kind::Encoder, name)? {
            Factory::Encoder(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn fusion(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Fusion>> {
        match self.factory(Kind::Fusion, name)? {
            Factory::Fusion(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn masking(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Masking>> {
        match self.factory(Kind::Masking, name)? {
            Factory::Masking(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn module(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Module>> {
        match self.factory(Kind::Module, name)? {
            Factory::Module(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn loss(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Loss>> {
        match self.factory(Kind::Loss, name)? {
            Factory::Loss(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn sampler(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Sampler>> {
        match self.factory(Kind::Sampler, name)? {
            Factory::Sampler(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn metric(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Metric>> {
        match self.factory(Kind::Metric, name)? {
            Factory::Metric(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    pub fn tokenizer(&self, name: &str, path: &nn::Path, hp: &Hparams) -> Result<Box<dyn Tokenizer>> {
        match self.factory(Kind::Tokenizer, name)? {
            Factory::Tokenizer(f) => Ok(f(path, hp)?),
            _ => unreachable!("factories are keyed by kind"),
        }
    }

    /// `{plugin name: fingerprint}` plus paths, for the run record.
    pub fn fingerprints_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.plugins
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "name": p.name, "version": p.version,
                        "path": p.path.display().to_string(), "fingerprint": p.fingerprint,
                    })
                })
                .collect(),
        )
    }
}
