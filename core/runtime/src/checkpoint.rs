//! Checkpoints as safetensors: model weights (`model.<name>`), optimiser state
//! (`optim.*`), the partial epoch loss (`train.loss_sum`), and the loop position and
//! history as JSON metadata. Written atomically (temp file, fsync, rename), so a crash
//! leaves the previous checkpoint intact. `weights.safetensors` holds the model alone,
//! under the VarStore names, and loads with `safetensors.torch.load_file`.
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};
use crate::run_dir::write_atomic;
use crate::train::EpochStats;

const METADATA_KEY: &str = "plexus.train_state";

/// Where the loop stands; restoring it (with the tensors) continues a run exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Optimiser steps taken.
    pub step: usize,
    /// The epoch in progress (or about to start).
    pub epoch: usize,
    /// Batches of `epoch` already trained.
    pub batch_in_epoch: usize,
    /// Stats of every finished epoch.
    pub history: Vec<EpochStats>,
    /// Length of metrics.jsonl when the checkpoint was taken; later lines are dropped on resume.
    pub metrics_bytes: u64,
}

struct TensorBytes {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &TensorBytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn dtype_of(kind: Kind) -> Result<Dtype> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        other => return Err(Error::Other(format!("cannot store tensors of kind {other:?} in safetensors"))),
    })
}

fn kind_of(dtype: Dtype) -> Result<Kind> {
    Ok(match dtype {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        other => return Err(Error::Other(format!("unsupported safetensors dtype {other:?}"))),
    })
}

fn to_bytes(t: &Tensor) -> Result<TensorBytes> {
    let t = t.detach().to_device(tch::Device::Cpu).contiguous();
    let numel = t.numel();
    let mut bytes = vec![0u8; numel * t.kind().elt_size_in_bytes()];
    t.f_copy_data_u8(&mut bytes, numel)?;
    Ok(TensorBytes { dtype: dtype_of(t.kind())?, shape: t.size().iter().map(|&d| d as usize).collect(), bytes })
}

/// Serialises named tensors (+ optional metadata) and writes them atomically.
pub fn write_tensors(path: &Path, tensors: &[(String, Tensor)], metadata: Option<HashMap<String, String>>) -> Result<()> {
    let owned: Vec<(String, TensorBytes)> =
        tensors.iter().map(|(n, t)| Ok((n.clone(), to_bytes(t)?))).collect::<Result<_>>()?;
    let views = owned.iter().map(|(n, b)| (n.as_str(), b));
    let bytes = safetensors::tensor::serialize(views, &metadata)
        .map_err(|e| Error::Other(format!("{}: cannot serialise: {e}", path.display())))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomic(path, &bytes)
}

/// Reads every tensor and the metadata of a safetensors file.
pub fn read_tensors(path: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |e: safetensors::SafeTensorError| Error::Other(format!("{shown}: not a valid safetensors file ({e})"));
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(corrupt)?;
    let file = SafeTensors::deserialize(&bytes).map_err(corrupt)?;
    let mut tensors = HashMap::new();
    for (name, view) in file.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        tensors.insert(name, Tensor::f_from_data_size(view.data(), &shape, kind_of(view.dtype())?)?);
    }
    Ok((tensors, meta.metadata().clone().unwrap_or_default()))
}

/// Saves a full training checkpoint.
pub fn save(path: &Path, model: &[(String, Tensor)], optim: Vec<(String, Tensor)>, loss_sum: &Tensor, state: &TrainState) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = model.iter().map(|(n, t)| (format!("model.{n}"), t.shallow_clone())).collect();
    tensors.extend(optim);
    tensors.push(("train.loss_sum".into(), loss_sum.shallow_clone()));
    let meta = HashMap::from([(METADATA_KEY.to_string(), serde_json::to_string(state).expect("train state serialises"))]);
    write_tensors(path, &tensors, Some(meta))
}

/// A loaded checkpoint.
pub struct Checkpoint {
    pub state: TrainState,
    pub tensors: HashMap<String, Tensor>,
}

pub fn load(path: &Path) -> Result<Checkpoint> {
    let (tensors, meta) = read_tensors(path)?;
    let raw = meta
        .get(METADATA_KEY)
        .ok_or_else(|| Error::Other(format!("{}: not a plexus checkpoint (no `{METADATA_KEY}` metadata)", path.display())))?;
    let state = serde_json::from_str(raw).map_err(|e| Error::Other(format!("{}: bad checkpoint metadata: {e}", path.display())))?;
    Ok(Checkpoint { state, tensors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_and_metadata_round_trip_bit_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck.safetensors");
        let a = Tensor::randn([3, 4], (Kind::Float, tch::Device::Cpu));
        let state = TrainState { step: 7, epoch: 1, batch_in_epoch: 2, history: vec![], metrics_bytes: 99 };
        save(&path, &[("w".into(), a.shallow_clone())], vec![("optim.steps".into(), Tensor::from(7i64))], &Tensor::from(1.5f32), &state).unwrap();
        let ck = load(&path).unwrap();
        assert_eq!(ck.state, state);
        assert!(ck.tensors["model.w"].equal(&a));
        assert_eq!(ck.tensors["optim.steps"].int64_value(&[]), 7);
    }

    #[test]
    fn truncated_checkpoint_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ck.safetensors");
        write_tensors(&path, &[("x".into(), Tensor::ones([10], (Kind::Float, tch::Device::Cpu)))], None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
        let err = load(&path).err().unwrap().to_string();
        assert!(err.contains("ck.safetensors: not a valid safetensors file"), "{err}");
    }
}
