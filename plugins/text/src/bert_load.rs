//! Reading a Hugging Face BERT folder: `config.json` into a [`BertConfig`], and
//! `model.safetensors` into the encoder's variables.
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use plexus_plugin::serde_json::Value;
use plexus_plugin::tch::Tensor;
use plexus_plugin::{Error, Result};

use crate::bert::BertConfig;

/// Keys of a checkpoint that the encoder does not use: the pooler (sentence-transformers
/// pools the hidden states itself), pre-training heads and the position-id buffer.
fn unused(key: &str) -> bool {
    key.starts_with("pooler.") || key.starts_with("cls.") || key == "embeddings.position_ids"
}

/// `given`'s pooling options with the architecture of `given.path/config.json`. An
/// architecture field set in `given` to a non-default value must agree with the file.
pub fn config_from_folder(given: &BertConfig) -> Result<BertConfig> {
    let file = Path::new(&given.path).join("config.json");
    let named = |what: String| Error::other(format!("bert: path: {}: {what}", file.display()));
    let text = std::fs::read_to_string(&file).map_err(|e| named(e.to_string()))?;
    let json: Value = plexus_plugin::serde_json::from_str(&text).map_err(|e| named(e.to_string()))?;
    if let Some(act) = json.get("hidden_act").and_then(Value::as_str) {
        if act != "gelu" {
            return Err(named(format!("hidden_act {act:?} is not supported (only \"gelu\")")));
        }
    }
    if let Some(kind) = json.get("position_embedding_type").and_then(Value::as_str) {
        if kind != "absolute" {
            return Err(named(format!("position_embedding_type {kind:?} is not supported (only \"absolute\")")));
        }
    }
    let defaults = BertConfig::default();
    let mut cfg = given.clone();
    macro_rules! take {
        ($($field:ident: $as:ident),*) => {$(
            let from_file = json.get(stringify!($field)).and_then(Value::$as)
                .ok_or_else(|| named(format!("missing or non-numeric `{}`", stringify!($field))))?;
            let from_file = from_file as _;
            if given.$field != defaults.$field && given.$field != from_file {
                return Err(named(format!("`{}` is {} there but {} in the component config; drop the key or make them agree",
                    stringify!($field), from_file, given.$field)));
            }
            cfg.$field = from_file;
        )*};
    }
    take!(vocab_size: as_i64, hidden_size: as_i64, num_hidden_layers: as_i64, num_attention_heads: as_i64,
          intermediate_size: as_i64, max_position_embeddings: as_i64, type_vocab_size: as_i64,
          layer_norm_eps: as_f64, hidden_dropout_prob: as_f64, attention_probs_dropout_prob: as_f64);
    Ok(cfg)
}

/// Copies `folder/model.safetensors` into `params` (Hugging Face names). Every parameter
/// must be in the file with its shape; a `bert.` prefix (task models) is accepted; file
/// keys the encoder does not use are allowed only for the pooler, heads and buffers.
pub fn load_weights(params: &[(String, Tensor)], folder: &str) -> Result<()> {
    let file = Path::new(folder).join("model.safetensors");
    let named = |what: String| Error::other(format!("bert: path: {}: {what}", file.display()));
    if !file.is_file() {
        return Err(named("missing (expected Hugging Face safetensors weights)".into()));
    }
    let tensors = Tensor::read_safetensors(&file).map_err(|e| named(e.to_string()))?;
    let mut ours: HashMap<&str, Tensor> = params.iter().map(|(n, t)| (n.as_str(), t.shallow_clone())).collect();
    let mut missing: BTreeSet<String> = ours.keys().map(|k| k.to_string()).collect();
    let mut unknown = Vec::new();
    plexus_plugin::tch::no_grad(|| -> Result<()> {
        for (key, value) in &tensors {
            let key = key.strip_prefix("bert.").unwrap_or(key);
            match ours.get_mut(key) {
                Some(var) => {
                    if var.size() != value.size() {
                        return Err(named(format!("`{key}` has shape {:?}, the config implies {:?}", value.size(), var.size())));
                    }
                    var.f_copy_(value).map_err(|e| named(format!("`{key}`: {e}")))?;
                    missing.remove(key);
                }
                None if unused(key) => {}
                None => unknown.push(key.to_string()),
            }
        }
        Ok(())
    })?;
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(named(format!("weights do not match a BERT encoder: missing {missing:?}, unexpected {unknown:?}")));
    }
    Ok(())
}
