//! Loads an open_clip `CLIP` state dict (safetensors) into the towers' variables, key for
//! key: a missing, unexpected or wrongly shaped tensor is an error naming it, where
//! `VarStore::load` would skip extra keys and broadcast some shapes silently.
use std::collections::BTreeMap;
use std::path::Path;

use tch::{nn, Kind, Tensor};

use crate::error::{Error, Result};

/// State-dict entries that are part of open_clip's `CLIP` but of neither tower: they must
/// be present (the file is a whole model) and are otherwise unused by embedding.
pub fn logit_keys(has_logit_bias: bool) -> Vec<&'static str> {
    if has_logit_bias {
        vec!["logit_scale", "logit_bias"]
    } else {
        vec!["logit_scale"]
    }
}

pub fn load_state_dict(vs: &nn::VarStore, file: &Path, extra: &[&str]) -> Result<()> {
    let shown = file.display().to_string();
    let err = |m: String| Error::Data(format!("{shown}: {m}"));
    let mut tensors: BTreeMap<String, Tensor> = Tensor::read_safetensors(file)
        .map_err(|e| err(format!("cannot read safetensors: {e}")))?
        .into_iter()
        .collect();
    for key in extra {
        if tensors.remove(*key).is_none() {
            return Err(err(format!("weight `{key}` is missing (an open_clip CLIP state dict has it)")));
        }
    }
    let variables = vs.variables();
    for (name, var) in &variables {
        let Some(src) = tensors.get(name) else {
            return Err(err(format!("weight `{name}` is missing (the model config needs shape {:?})", var.size())));
        };
        if src.size() != var.size() {
            return Err(err(format!("weight `{name}` has shape {:?}; the model config needs {:?}", src.size(), var.size())));
        }
        if !src.is_floating_point() {
            return Err(err(format!("weight `{name}` is {:?}, expected a float tensor", src.kind())));
        }
    }
    if let Some(name) = tensors.keys().find(|k| !variables.contains_key(*k)) {
        return Err(err(format!("unexpected weight `{name}`: the model config has no such parameter (check embed_dim, vision_cfg and text_cfg)")));
    }
    tch::no_grad(|| -> Result<()> {
        for (name, var) in &variables {
            let mut dst = var.shallow_clone();
            dst.f_copy_(&tensors[name].to_kind(Kind::Float))?;
        }
        Ok(())
    })
}
