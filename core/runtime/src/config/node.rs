//! A view of one section of the experiment config, handed to Rhai as `cfg.model.image`.
//! It remembers its file and key path, so that a component built from it reports errors
//! as `experiments/clip.yaml: model.image.widht: unknown key (did you mean `width`?)`.
use std::rc::Rc;

use plexus_plugin::Hparams;
use serde_json::Value;

use super::missing_key;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct ConfigNode {
    value: Value,
    file: Rc<str>,
    path: String,
}

impl ConfigNode {
    pub fn root(file: &str, value: Value) -> Self {
        Self { value, file: file.into(), path: String::new() }
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value at `key`: a map stays a `ConfigNode`; anything else is returned as JSON.
    pub fn child(&self, key: &str) -> Result<Result<ConfigNode, Value>> {
        match self.value.get(key) {
            Some(v @ Value::Object(_)) => {
                Ok(Ok(ConfigNode { value: v.clone(), file: self.file.clone(), path: self.child_path(key) }))
            }
            Some(v) => Ok(Err(v.clone())),
            None => Err(missing_key(&self.file, &self.value, &self.child_path(key), key)),
        }
    }

    pub fn get_or(&self, key: &str, default: Value) -> Value {
        self.value.get(key).cloned().unwrap_or(default)
    }

    pub fn keys(&self) -> Vec<String> {
        self.value.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// A copy with `overlay`'s keys replacing this node's (e.g. a vocab size known only
    /// after fitting a tokenizer). The origin records the overlay.
    pub fn with(&self, overlay: &Value) -> ConfigNode {
        let mut value = self.value.clone();
        if let (Some(base), Some(extra)) = (value.as_object_mut(), overlay.as_object()) {
            for (k, v) in extra {
                base.insert(k.clone(), v.clone());
            }
        }
        ConfigNode { value, file: self.file.clone(), path: self.path.clone() }
    }

    /// The section as component hyper-parameters, with its origin for error messages.
    pub fn hparams(&self) -> Hparams {
        let at = if self.path.is_empty() { "(root)" } else { &self.path };
        Hparams::new(self.value.clone(), format!("{}: {at}", self.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn child_paths_and_missing_key_suggestion() {
        let root = ConfigNode::root("e.yaml", json!({"model": {"image": {"width": 8}}}));
        let image = root.child("model").unwrap().unwrap().child("image").unwrap().unwrap();
        assert_eq!(image.hparams().origin, "e.yaml: model.image");
        assert_eq!(image.child("width").unwrap().unwrap_err(), json!(8));
        let err = image.child("widht").unwrap_err().to_string();
        assert!(err.contains("e.yaml: model.image.widht") && err.contains("did you mean `width`"), "{err}");
    }

    #[test]
    fn with_overlays_keys() {
        let node = ConfigNode::root("e.yaml", json!({"a": 1, "b": 2})).with(&json!({"b": 3}));
        assert_eq!(node.value(), &json!({"a": 1, "b": 3}));
    }
}
