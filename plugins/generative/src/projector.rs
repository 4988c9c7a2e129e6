//! LLaVA's vision-language projector: maps vision-encoder features to the language
//! model's embedding width with Linear → GELU → Linear.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

use crate::inputs::float_input;

/// Config of `mlp_projector`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct MlpProjectorConfig {
    /// Width of the incoming features (`D_in`), e.g. the vision encoder's.
    pub in_dim: i64,
    /// Width of the hidden layer; `null` = `out_dim`, as in LLaVA-1.5.
    pub hidden_dim: Option<i64>,
    /// Width of the outgoing tokens (`D_out`), e.g. the language model's.
    pub out_dim: i64,
}

impl Default for MlpProjectorConfig {
    fn default() -> Self {
        Self { in_dim: 16, hidden_dim: None, out_dim: 32 }
    }
}

/// Inputs: `features` `[B, N, in_dim]` (or `[B, in_dim]`, taken as `N = 1`).
/// Outputs: `tokens` `[B, N, out_dim]`.
#[derive(Debug)]
pub struct MlpProjector {
    fc1: nn::Linear,
    fc2: nn::Linear,
    cfg: MlpProjectorConfig,
}

impl MlpProjector {
    pub fn new(p: &nn::Path, cfg: &MlpProjectorConfig) -> Result<Self> {
        let hidden = cfg.hidden_dim.unwrap_or(cfg.out_dim);
        for (key, value) in [("in_dim", cfg.in_dim), ("out_dim", cfg.out_dim), ("hidden_dim", hidden)] {
            if value < 1 {
                return Err(Error::other(format!("mlp_projector: `{key}` must be >= 1, got {value}")));
            }
        }
        Ok(Self {
            fc1: nn::linear(p / "fc1", cfg.in_dim, hidden, Default::default()),
            fc2: nn::linear(p / "fc2", hidden, cfg.out_dim, Default::default()),
            cfg: cfg.clone(),
        })
    }
}

impl Module for MlpProjector {
    fn forward(&self, inputs: &TensorMap, _train: bool) -> Result<TensorMap> {
        let features = float_input(inputs, "features", &[2, 3], self.cfg.in_dim, "mlp_projector", "[B, N, in_dim] or [B, in_dim]")?;
        let features = if features.dim() == 2 { features.unsqueeze(1) } else { features.shallow_clone() }; // [B, N, D_in]
        let hidden = self.fc1.forward(&features).gelu("none"); // [B, N, hidden]
        Ok(TensorMap::new().with("tokens", &self.fc2.forward(&hidden))) // [B, N, D_out]
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        Some(TensorMap::new().with("features", &Tensor::randn([2, 3, self.cfg.in_dim], (Kind::Float, Device::Cpu))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch;

    #[test]
    fn hand_computed_output() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MlpProjectorConfig { in_dim: 2, hidden_dim: Some(2), out_dim: 1 };
        let m = MlpProjector::new(&vs.root(), &cfg).unwrap();
        let vars = vs.variables();
        tch::no_grad(|| {
            for (name, values) in [("fc1.weight", vec![1.0f32, 0.0, 0.0, 1.0]), ("fc1.bias", vec![0.0, 0.0]), ("fc2.weight", vec![1.0, 1.0]), ("fc2.bias", vec![0.5])] {
                let mut v = vars[name].shallow_clone();
                let shape = v.size();
                v.copy_(&Tensor::from_slice(&values).view(shape.as_slice()));
            }
        });
        // h = [1, -1]; GELU(1) = 0.8413447, GELU(-1) = -0.1586553; 0.8413447 - 0.1586553 + 0.5
        let x = Tensor::from_slice(&[1.0f32, -1.0]).view([1, 2]);
        let out = m.forward(&TensorMap::new().with("features", &x), false).unwrap();
        let tokens = out.get("tokens").unwrap();
        assert_eq!(tokens.size(), [1, 1, 1]);
        assert!((tokens.double_value(&[0, 0, 0]) - 1.1826894).abs() < 1e-5, "{tokens}");
    }

    #[test]
    fn keeps_the_token_axis_and_refuses_the_wrong_width() {
        let vs = nn::VarStore::new(Device::Cpu);
        let m = MlpProjector::new(&vs.root(), &MlpProjectorConfig { in_dim: 4, hidden_dim: None, out_dim: 6 }).unwrap();
        let x = Tensor::randn([3, 5, 4], (Kind::Float, Device::Cpu));
        assert_eq!(m.forward(&TensorMap::new().with("features", &x), false).unwrap().get("tokens").unwrap().size(), [3, 5, 6]);
        let err = m.forward(&TensorMap::new().with("features", &x.narrow(2, 0, 3)), false).unwrap_err().to_string();
        assert!(err.contains("features") && err.contains("last dimension 4"), "{err}");
        assert!(MlpProjector::new(&(vs.root() / "z"), &MlpProjectorConfig { out_dim: 0, ..Default::default() }).unwrap_err().to_string().contains("out_dim"));
    }
}
