//! VQ-VAE's vector quantiser and its codebook + commitment loss (van den Oord et al.
//! 2017). The loss owns the codebook; [`VectorQuantizer::quantize`] also returns the
//! straight-through quantised latents for a decoder. It lives here, not in the losses
//! plugin that registers it as `vq`, because the VQ video tokenizer (plugin `plexus-vq`)
//! builds on it too: a plugin must not link another plugin's library, whose exported
//! declaration symbols would clash with its own.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, Kind, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct VqLossConfig {
    /// Number of codebook entries K.
    pub num_codes: i64,
    /// Width D of each code, the last dimension of `latents`.
    pub code_dim: i64,
    /// Weight β of the commitment term (the paper uses 0.25).
    pub beta: f64,
}

impl Default for VqLossConfig {
    fn default() -> Self {
        Self { num_codes: 512, code_dim: 64, beta: 0.25 }
    }
}

#[derive(Debug)]
pub struct VectorQuantizer {
    /// `[K, D]`
    codebook: Tensor,
    cfg: VqLossConfig,
}

/// What quantising a batch gives.
#[derive(Debug)]
pub struct Quantized {
    /// Straight-through latents `[..., D]`: the nearest codes in the forward pass, the
    /// identity for the gradient (it flows to the encoder as if unquantised).
    pub quantized: Tensor,
    /// Index of the chosen code per latent vector `[...]` i64.
    pub codes: Tensor,
    /// `‖sg[z] - e‖² + β ‖z - sg[e]‖²`, each a mean over elements `[]`.
    pub loss: Tensor,
    /// `exp(entropy)` of the batch's code histogram `[]` (K when usage is uniform).
    pub perplexity: Tensor,
    /// Fraction of the K codes chosen at least once in the batch `[]`.
    pub usage: Tensor,
}

impl VectorQuantizer {
    pub fn new(p: &nn::Path, cfg: &VqLossConfig) -> Result<Self> {
        if cfg.num_codes < 1 || cfg.code_dim < 1 || !(cfg.beta >= 0.0) {
            return Err(Error::other("vq loss: num_codes and code_dim must be >= 1 and beta >= 0"));
        }
        let bound = 1.0 / cfg.num_codes as f64;
        let codebook = p.var("codebook", &[cfg.num_codes, cfg.code_dim], nn::Init::Uniform { lo: -bound, up: bound });
        Ok(Self { codebook, cfg: cfg.clone() })
    }

    /// latents `[..., D]` (at least 2 dimensions) → the nearest codes and the loss terms.
    pub fn quantize(&self, latents: &Tensor) -> Result<Quantized> {
        let size = latents.size();
        if latents.dim() < 2 || size[size.len() - 1] != self.cfg.code_dim || !latents.is_floating_point() {
            return Err(Error::shape(format!(
                "vq loss: `latents` must be floating point [..., {}] (code_dim last, at least 2 dimensions), got {:?} {size:?}",
                self.cfg.code_dim,
                latents.kind()
            )));
        }
        let flat = latents.reshape([-1, self.cfg.code_dim]); // [N, D]
        // ‖z - e‖² = ‖z‖² - 2 z·e + ‖e‖², without materialising [N, K, D].
        let distances = flat.square().sum_dim_intlist(1, true, Kind::Float) - flat.matmul(&self.codebook.tr()) * 2.0
            + self.codebook.square().sum_dim_intlist(1, false, Kind::Float); // [N, K]
        let codes = distances.argmin(1, false); // [N]
        let nearest = self.codebook.index_select(0, &codes).view_as(latents); // [..., D]
        let codebook_term = (latents.detach() - &nearest).square().mean(Kind::Float);
        let commitment = (latents - nearest.detach()).square().mean(Kind::Float);
        let quantized = latents + (&nearest - latents).detach(); // [..., D]
        let counts = codes.bincount::<Tensor>(None, self.cfg.num_codes).to_kind(Kind::Float); // [K]
        let probs = &counts / counts.sum(Kind::Float);
        let entropy = -(&probs * (&probs + 1e-10).log()).sum(Kind::Float);
        Ok(Quantized {
            quantized,
            codes: codes.view(&size[..size.len() - 1]),
            loss: codebook_term + commitment * self.cfg.beta,
            perplexity: entropy.exp(),
            usage: counts.gt(0.0).to_kind(Kind::Float).mean(Kind::Float),
        })
    }
}

impl Loss for VectorQuantizer {
    /// Inputs: `latents` `[..., code_dim]` (the encoder's output, channels last). Output:
    /// the codebook + β·commitment loss; logs `perplexity` and `code_usage`. The
    /// straight-through latents are not returned here (a loss returns scalars): a model
    /// that decodes them calls [`VectorQuantizer::quantize`].
    fn compute(&self, inputs: &TensorMap, _train: bool) -> Result<LossOutput> {
        let latents = inputs.get("latents")?;
        let q = self.quantize(latents)?;
        Ok(LossOutput { loss: q.loss, logs: vec![("perplexity".into(), q.perplexity), ("code_usage".into(), q.usage)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    fn quantizer(codebook: &[f32], beta: f64) -> (nn::VarStore, VectorQuantizer) {
        let vs = nn::VarStore::new(Device::Cpu);
        let vq = VectorQuantizer::new(&vs.root(), &VqLossConfig { num_codes: codebook.len() as i64, code_dim: 1, beta }).unwrap();
        plexus_plugin::tch::no_grad(|| vq.codebook.shallow_clone().copy_(&Tensor::from_slice(codebook).view([-1, 1])));
        (vs, vq)
    }

    #[test]
    fn matches_hand_computed_values() {
        // Codes {0, 10}; latents 1, 2, 9 pick codes 0, 0, 10 with squared errors 1, 4, 1:
        // mean 2, so loss = 2 + 0.5·2 = 3. Usage 2/2, histogram (2/3, 1/3).
        let (_vs, vq) = quantizer(&[0.0, 10.0], 0.5);
        let latents = Tensor::from_slice(&[1f32, 2.0, 9.0]).view([3, 1]).set_requires_grad(true);
        let q = vq.quantize(&latents).unwrap();
        assert!((q.loss.double_value(&[]) - 3.0).abs() < 1e-5);
        assert_eq!(Vec::<i64>::try_from(&q.codes).unwrap(), [0, 0, 1]);
        assert_eq!(Vec::<f32>::try_from(&q.quantized.view([-1])).unwrap(), [0.0, 0.0, 10.0]);
        let entropy = -(2.0 / 3.0 * (2.0f64 / 3.0).ln() + 1.0 / 3.0 * (1.0f64 / 3.0).ln());
        assert!((q.perplexity.double_value(&[]) - entropy.exp()).abs() < 1e-5);
        assert_eq!(q.usage.double_value(&[]), 1.0);
        // Straight-through: the gradient of sum(quantized) w.r.t. the latents is 1.
        q.quantized.sum(Kind::Float).backward();
        assert_eq!(Vec::<f32>::try_from(&latents.grad().view([-1])).unwrap(), [1.0, 1.0, 1.0]);
    }
}
