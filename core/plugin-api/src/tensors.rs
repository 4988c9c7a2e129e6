use std::collections::BTreeMap;
use tch::Tensor;

use crate::{Error, Result};

/// Named tensors passed to losses and metrics, e.g. `image_embeds`, `text_embeds`, `labels`.
/// The names each component reads are part of its documented contract.
#[derive(Debug, Default)]
pub struct TensorMap {
    map: BTreeMap<String, Tensor>,
}

impl TensorMap {
    pub fn new() -> Self {
        Self::default()
    }
    /// Inserts a tensor (a shallow handle: no data is copied).
    pub fn insert(&mut self, name: impl Into<String>, t: &Tensor) {
        self.map.insert(name.into(), t.shallow_clone());
    }
    pub fn with(mut self, name: impl Into<String>, t: &Tensor) -> Self {
        self.insert(name, t);
        self
    }
    /// The tensor named `name`, or an error that lists what is available.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.map.get(name).ok_or_else(|| Error::MissingInput {
            name: name.to_string(),
            available: self.names().join(", "),
        })
    }
    pub fn get_opt(&self, name: &str) -> Option<&Tensor> {
        self.map.get(name)
    }
    pub fn names(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }
    /// `(name, tensor)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v))
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
