//! A fusion that averages projected modality features over the modalities each example
//! actually has.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};
use plexus_plugin::{Error, Fusion, Modality, ModalityFeatures, Result};

/// Config of [`MaskedMeanFusion`]. `input_dim` is also what `plexus plugins --check`
/// reads to make test features.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct MaskedMeanFusionConfig {
    /// Width `D_m` of every modality's features.
    pub input_dim: i64,
    /// Width `D` of the fused output.
    pub output_dim: i64,
}

impl Default for MaskedMeanFusionConfig {
    fn default() -> Self {
        Self { input_dim: 32, output_dim: 32 }
    }
}

#[derive(Debug)]
pub struct MaskedMeanFusion {
    /// One projection per modality, named by the modality (`image`, `text`, ...).
    proj: Vec<(Modality, nn::Linear)>,
    cfg: MaskedMeanFusionConfig,
}

impl MaskedMeanFusion {
    pub fn new(p: &nn::Path, cfg: &MaskedMeanFusionConfig) -> Result<Self> {
        let proj = Modality::ALL
            .into_iter()
            .map(|m| (m, nn::linear(p / m.name(), cfg.input_dim, cfg.output_dim, Default::default())))
            .collect();
        Ok(Self { proj, cfg: cfg.clone() })
    }
}

impl Fusion for MaskedMeanFusion {
    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// features: any non-empty subset of modalities, each `[B, input_dim]` f32 with a
    /// `[B]` bool presence mask → `[B, output_dim]`: the mean of the projections of the
    /// modalities present in each example (zeros for an example with none).
    fn fuse(&self, features: &ModalityFeatures, _train: bool) -> Result<Tensor> {
        let Some(first) = features.values().next() else {
            return Err(Error::other("fusion needs at least one modality"));
        };
        let b = first.data.size().first().copied().unwrap_or(0);
        let mut sum: Option<Tensor> = None;
        let mut count = Tensor::zeros([b, 1], (Kind::Float, first.data.device()));
        for (modality, batch) in features {
            if batch.data.size() != [b, self.cfg.input_dim] || batch.present.size() != [b] {
                return Err(Error::shape(format!(
                    "{modality}: expected features [{b}, {}] and presence [{b}], got {:?} and {:?}",
                    self.cfg.input_dim,
                    batch.data.size(),
                    batch.present.size()
                )));
            }
            let proj = &self.proj.iter().find(|(m, _)| m == modality).expect("one projection per modality").1;
            let present = batch.present.to_kind(Kind::Float).unsqueeze(1); // [B, 1]
            let projected = proj.forward(&batch.data) * &present; // [B, output_dim]
            count = count + present;
            sum = Some(match sum {
                Some(s) => s + projected,
                None => projected,
            });
        }
        Ok(sum.expect("non-empty") / count.clamp_min(1.0)) // [B, output_dim]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::conformance;
    use plexus_plugin::tch::Device;
    use plexus_plugin::ModalityBatch;

    #[test]
    fn passes_the_conformance_kit() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = MaskedMeanFusionConfig { input_dim: 6, output_dim: 4 };
        let fusion = MaskedMeanFusion::new(&vs.root(), &cfg).unwrap();
        let mut features = ModalityFeatures::new();
        for m in [Modality::Image, Modality::Text] {
            let data = Tensor::randn([3, 6], (Kind::Float, Device::Cpu));
            features.insert(m, ModalityBatch { data, present: Tensor::ones([3], (Kind::Bool, Device::Cpu)) });
        }
        conformance::fusion("masked_mean", &fusion, &features).assert_ok();
    }
}
