//! Experiment configuration: YAML → JSON tree (with line:column syntax errors), typed
//! `key.path=value` overrides, and typed sections with unknown-key suggestions.
mod extends;
mod node;
mod overrides;
mod yaml;

pub use node::ConfigNode;
pub use overrides::apply_override;
pub use yaml::{load_yaml_file, parse_yaml, to_yaml};

use plexus_plugin::suggest;
use serde_json::Value;

use crate::error::{Error, Result};

/// A loaded experiment config: the file it came from and its resolved tree.
#[derive(Debug, Clone)]
pub struct ExperimentConfig {
    pub file: String,
    pub root: Value,
}

impl ExperimentConfig {
    pub fn load(file: &str, overrides: &[String]) -> Result<Self> {
        let mut root = extends::load_with_extends(file)?;
        for assignment in overrides {
            apply_override(&mut root, assignment)?;
        }
        Ok(Self { file: file.to_string(), root })
    }

    /// The value at a dotted path, if any.
    pub fn lookup(&self, path: &str) -> Option<&Value> {
        path.split('.').try_fold(&self.root, |v, key| v.get(key))
    }

    /// Typed top-level setting with a default, e.g. `seed`.
    pub fn setting<T: serde::de::DeserializeOwned>(&self, key: &str, default: T) -> Result<T> {
        match self.root.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| Error::Config {
                file: self.file.clone(),
                key: key.to_string(),
                message: e.to_string(),
            }),
        }
    }
}

/// Error for a missing key under `parent`, with a suggestion from its siblings.
pub(crate) fn missing_key(file: &str, parent: &Value, path: &str, key: &str) -> Error {
    let siblings: Vec<&str> = parent.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
    Error::Config {
        file: file.to_string(),
        key: path.to_string(),
        message: format!(
            "no such key{} (keys here: {})",
            suggest::did_you_mean(key, siblings.iter().copied()),
            if siblings.is_empty() { "none".to_string() } else { siblings.join(", ") }
        ),
    }
}
