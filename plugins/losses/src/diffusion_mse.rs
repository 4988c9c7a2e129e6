//! The denoising objective of DDPM (Ho et al. 2020): mean squared error between the
//! predicted and the true noise, optionally weighted per example or per timestep
//! (e.g. min-SNR weighting).
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

use crate::common::optional_input;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct DiffusionMseConfig {
    /// Weight of each timestep, indexed by the `timesteps` input; empty = unweighted.
    pub timestep_weights: Vec<f64>,
}

#[derive(Debug)]
pub struct DiffusionMse {
    /// `[T]` f32, or `None` when unweighted.
    timestep_weights: Option<Tensor>,
}

impl DiffusionMse {
    pub fn new(_p: &nn::Path, cfg: &DiffusionMseConfig) -> Result<Self> {
        if cfg.timestep_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(Error::other("diffusion_mse loss: timestep_weights must be finite and >= 0"));
        }
        let weights = (!cfg.timestep_weights.is_empty()).then(|| Tensor::from_slice(&cfg.timestep_weights).to_kind(Kind::Float));
        Ok(Self { timestep_weights: weights })
    }

    /// Per-example weights `[B]`: the `weights` input, else the configured table at
    /// `timesteps`, else `None`.
    fn example_weights(&self, inputs: &TensorMap, batch: i64) -> Result<Option<Tensor>> {
        if let Some(w) = optional_input(inputs, "weights", 1, "diffusion_mse", "[B]")? {
            if w.size()[0] != batch {
                return Err(Error::shape(format!("diffusion_mse loss: `weights` has {} entries for a batch of {batch}", w.size()[0])));
            }
            return Ok(Some(w.to_kind(Kind::Float)));
        }
        // Checked even when unweighted, so that a malformed batch is caught either way.
        let timesteps = optional_input(inputs, "timesteps", 1, "diffusion_mse", "[B] i64")?;
        if let Some(t) = timesteps {
            if t.size()[0] != batch || t.kind() != Kind::Int64 {
                return Err(Error::shape(format!("diffusion_mse loss: `timesteps` must be i64 [{batch}], got {:?} {:?}", t.kind(), t.size())));
            }
        }
        let Some(table) = &self.timestep_weights else { return Ok(None) };
        let Some(t) = timesteps else {
            return Err(Error::MissingInput {
                name: "timesteps (timestep_weights is set)".into(),
                available: inputs.names().join(", "),
            });
        };
        let table = table.to_device(t.device());
        Ok(Some(table.f_index_select(0, t).map_err(|e| {
            Error::shape(format!("diffusion_mse loss: a timestep is outside timestep_weights (length {}): {e}", table.size()[0]))
        })?))
    }
}

impl Loss for DiffusionMse {
    /// Inputs: `noise_pred` and `noise` `[B, ...]` (same shape, at least 2 dimensions);
    /// optional `weights` `[B]`, or `timesteps` `[B]` i64 when `timestep_weights` is set.
    /// Output: `Σ_b w_b · mean((noise_pred_b - noise_b)²) / B` (w = 1 unweighted); logs
    /// `mse`, the unweighted mean.
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let pred = inputs.get("noise_pred")?;
        let noise = inputs.get("noise")?;
        if pred.size() != noise.size() || pred.dim() < 2 {
            return Err(Error::shape(format!(
                "diffusion_mse loss: `noise_pred` {:?} and `noise` {:?} must have the same shape [B, ...] with at least 2 dimensions",
                pred.size(),
                noise.size()
            )));
        }
        let b = pred.size()[0];
        let per_example = (pred - noise).square().reshape([b, -1]).mean_dim(1, false, Kind::Float); // [B]
        let mse = per_example.mean(Kind::Float).detach();
        let loss = match self.example_weights(inputs, b)? {
            Some(w) => (per_example * w).mean(Kind::Float),
            None => per_example.mean(Kind::Float),
        };
        Ok(LossOutput { loss, logs: vec![("mse".into(), mse)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    #[test]
    fn timestep_weights_match_hand_computed_value() {
        // Example 0 is off by 1 everywhere (mse 1) at t = 2 (weight 2); example 1 by 2
        // (mse 4) at t = 0 (weight 0.5): (2·1 + 0.5·4) / 2 = 2; unweighted (1 + 4) / 2.
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = DiffusionMse::new(&vs.root(), &DiffusionMseConfig { timestep_weights: vec![0.5, 1.0, 2.0] }).unwrap();
        let noise = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        let pred = Tensor::from_slice(&[1f32, 1.0, 1.0, 2.0, 2.0, 2.0]).view([2, 3]);
        let inputs = TensorMap::new().with("noise_pred", &pred).with("noise", &noise);
        let timesteps = Tensor::from_slice(&[2i64, 0]);
        let out = loss.compute(&inputs.with("timesteps", &timesteps), true).unwrap();
        assert!((out.loss.double_value(&[]) - 2.0).abs() < 1e-6);
        assert!((out.logs[0].1.double_value(&[]) - 2.5).abs() < 1e-6, "unweighted mse");
    }

    #[test]
    fn timestep_outside_the_table_is_an_error() {
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = DiffusionMse::new(&vs.root(), &DiffusionMseConfig { timestep_weights: vec![1.0] }).unwrap();
        let x = Tensor::zeros([1, 2], (Kind::Float, Device::Cpu));
        let inputs = TensorMap::new().with("noise_pred", &x).with("noise", &x).with("timesteps", &Tensor::from_slice(&[5i64]));
        assert!(loss.compute(&inputs, true).unwrap_err().to_string().contains("timestep_weights"));
    }
}
