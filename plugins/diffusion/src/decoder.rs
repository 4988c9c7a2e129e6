//! unCLIP's decoder (Ramesh et al. 2022, §2.1): a diffusion model on images conditioned on
//! the CLIP image embedding, which is projected and added to the timestep embedding (the
//! paper's additive conditioning; its extra attention tokens are left out at 28×28).
//! Trained with the DDPM noise-prediction objective, the embedding dropped with
//! probability `cond_drop_prob` so that one network also learns the unconditional model
//! for classifier-free guidance; sampled with deterministic DDIM.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{self, nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

use crate::inputs::{at_least, dropped, float_of_shape, guidance_scale, optional_float, probability, timesteps, unit_scaled};
use crate::schedule::{timestep_features, Prediction, Schedule, ScheduleKind};
use crate::unet::UNet;

const WHO: &str = "unclip_decoder";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct UnclipDecoderConfig {
    /// Side of the square images.
    pub image_size: i64,
    pub in_channels: i64,
    /// U-Net width at each resolution level (level 0 = full size; each further level halves it).
    pub channels: Vec<i64>,
    /// Width of the CLIP image embedding it is conditioned on.
    pub embed_dim: i64,
    /// Width of the time + condition embedding fed to every block.
    pub emb_dim: i64,
    /// Diffusion steps T of the training process.
    pub timesteps: i64,
    pub schedule: ScheduleKind,
    /// What the U-Net predicts: `epsilon` (DDPM's noise), `sample` (x_0) or `velocity` (v).
    pub prediction: Prediction,
    /// Probability of replacing the image embedding by the learned null one in training.
    pub cond_drop_prob: f64,
    /// DDIM steps when sampling.
    pub sample_steps: i64,
    /// Classifier-free guidance scale when sampling (1 = conditional model alone).
    pub guidance_scale: f64,
}

impl Default for UnclipDecoderConfig {
    fn default() -> Self {
        Self {
            image_size: 28,
            in_channels: 1,
            channels: vec![32, 64, 64],
            embed_dim: 64,
            emb_dim: 128,
            timesteps: 1000,
            schedule: ScheduleKind::Linear,
            prediction: Prediction::Epsilon,
            cond_drop_prob: 0.1,
            sample_steps: 50,
            guidance_scale: 3.0,
        }
    }
}

/// Training (with `images`): `images` `[B, C, S, S]` scaled to [-1, 1], `image_embed`
/// `[B, D]`, optional `noise` `[B, C, S, S]` and `timesteps` `[B]` (drawn when absent) →
/// `pred` and `target` `[B, C, S, S]` (the U-Net's output and what it should be: ε, x_0 or
/// v by `prediction`) and `timesteps` `[B]`; train with `diffusion_mse` on `pred`/`target`.
/// Sampling (without `images`): `image_embed` `[B, D]`, optional starting `noise`
/// `[B, C, S, S]` → `images` `[B, C, S, S]` in [-1, 1].
#[derive(Debug)]
pub struct UnclipDecoder {
    unet: UNet,
    time_mlp: (nn::Linear, nn::Linear),
    cond_proj: nn::Linear,
    null_cond: Tensor,
    schedule: Schedule,
    cfg: UnclipDecoderConfig,
}

impl UnclipDecoder {
    pub fn new(p: &nn::Path, cfg: &UnclipDecoderConfig) -> Result<Self> {
        for (key, value) in [("image_size", cfg.image_size), ("in_channels", cfg.in_channels), ("embed_dim", cfg.embed_dim), ("emb_dim", cfg.emb_dim), ("sample_steps", cfg.sample_steps)] {
            at_least(WHO, key, value, 1)?;
        }
        if cfg.channels.is_empty() || cfg.channels.iter().any(|&c| c < 1) {
            return Err(Error::other(format!("{WHO}: `channels` must list one or more widths >= 1, got {:?}", cfg.channels)));
        }
        probability(WHO, "cond_drop_prob", cfg.cond_drop_prob)?;
        if !(cfg.guidance_scale.is_finite() && cfg.guidance_scale >= 0.0) {
            return Err(Error::other(format!("{WHO}: `guidance_scale` must be finite and >= 0, got {}", cfg.guidance_scale)));
        }
        let e = cfg.emb_dim;
        Ok(Self {
            unet: UNet::new(&(p / "unet"), cfg.in_channels, &cfg.channels, e),
            time_mlp: (nn::linear(p / "time_fc1", e, e, Default::default()), nn::linear(p / "time_fc2", e, e, Default::default())),
            cond_proj: nn::linear(p / "cond_proj", cfg.embed_dim, e, Default::default()),
            null_cond: p.var("null_cond", &[e], nn::Init::Randn { mean: 0.0, stdev: 0.02 }),
            schedule: Schedule::new(cfg.schedule, cfg.timesteps, WHO)?,
            cfg: cfg.clone(),
        })
    }

    fn image_shape(&self) -> [i64; 4] {
        [-1, self.cfg.in_channels, self.cfg.image_size, self.cfg.image_size]
    }

    /// x_t `[B, C, S, S]`, t `[B]`, embed `[B, D]` (unit-scaled), drop `[B]` bool → the
    /// prediction (ε, x_0 or v) `[B, C, S, S]`.
    fn predict(&self, x_t: &Tensor, t: &Tensor, embed: &Tensor, drop: Option<&Tensor>) -> Tensor {
        let mut cond = self.cond_proj.forward(embed); // [B, E]
        if let Some(drop) = drop {
            cond = cond.where_self(&drop.logical_not().unsqueeze(1), &self.null_cond.unsqueeze(0)); // [B, E]
        }
        let time = self.time_mlp.1.forward(&self.time_mlp.0.forward(&timestep_features(t, self.cfg.emb_dim)).silu()); // [B, E]
        self.unet.forward(x_t, &(time + cond))
    }

    /// DDIM from `noise` `[B, C, S, S]` to images `[B, C, S, S]` in [-1, 1], with guidance.
    fn sample(&self, embed: &Tensor, noise: Tensor, g: f64) -> Tensor {
        let _guard = tch::no_grad_guard();
        let b = embed.size()[0];
        let ts = self.schedule.ddim_timesteps(self.cfg.sample_steps);
        let device = noise.device();
        let both_embed = Tensor::cat(&[embed, embed], 0); // [2B, D]
        let drop = Tensor::cat(&[Tensor::zeros([b], (Kind::Bool, device)), Tensor::ones([b], (Kind::Bool, device))], 0); // [2B]
        let mut x = noise;
        for (i, &t) in ts.iter().enumerate() {
            let out = if g != 1.0 {
                let out = self.predict(&Tensor::cat(&[&x, &x], 0), &Tensor::full([2 * b], t, (Kind::Int64, device)), &both_embed, Some(&drop)); // [2B, C, S, S]
                let (c, u) = (out.narrow(0, 0, b), out.narrow(0, b, b));
                &u + (c - &u) * g // [B, C, S, S]
            } else {
                self.predict(&x, &Tensor::full([b], t, (Kind::Int64, device)), embed, None)
            };
            let (x0, _) = self.schedule.split(self.cfg.prediction, &x, &out, t);
            // Clipping the implied x_0 to the data range keeps strong guidance stable.
            let x0 = x0.clamp(-1.0, 1.0);
            let eps = self.schedule.eps_from_x0(&x, &x0, t);
            x = self.schedule.ddim_step(&x0, &eps, ts.get(i + 1).copied());
        }
        x.clamp(-1.0, 1.0)
    }
}

impl Module for UnclipDecoder {
    fn forward(&self, inputs: &TensorMap, train: bool) -> Result<TensorMap> {
        let embed = inputs.get("image_embed")?;
        float_of_shape(embed, &[-1, self.cfg.embed_dim], WHO, "image_embed")?;
        let b = embed.size()[0];
        let embed = unit_scaled(&embed.to_kind(Kind::Float)); // [B, D]
        let shape = self.image_shape();
        let Some(images) = optional_float(inputs, "images", &shape, b, WHO)? else {
            let size = [b, shape[1], shape[2], shape[3]];
            let noise = optional_float(inputs, "noise", &shape, b, WHO)?.unwrap_or_else(|| Tensor::randn(size, (Kind::Float, embed.device())));
            return Ok(TensorMap::new().with("images", &self.sample(&embed, noise, guidance_scale(inputs, self.cfg.guidance_scale, WHO)?)));
        };
        let noise = optional_float(inputs, "noise", &shape, b, WHO)?.unwrap_or_else(|| images.randn_like());
        let t = timesteps(inputs, b, self.schedule.len(), &images, WHO)?; // [B]
        let x_t = self.schedule.q_sample(&images, &t, &noise); // [B, C, S, S]
        let drop = dropped(b, self.cfg.cond_drop_prob, train, &images);
        let pred = self.predict(&x_t, &t, &embed, drop.as_ref()); // [B, C, S, S]
        let target = self.schedule.target(self.cfg.prediction, &images, &noise, &t); // [B, C, S, S]
        Ok(TensorMap::new().with("pred", &pred).with("target", &target).with("timesteps", &t))
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let f = (Kind::Float, Device::Cpu);
        let [_, c, s, _] = self.image_shape();
        Some(
            TensorMap::new()
                .with("images", &Tensor::rand([2, c, s, s], f))
                .with("image_embed", &Tensor::randn([2, self.cfg.embed_dim], f))
                .with("noise", &Tensor::randn([2, c, s, s], f))
                .with("timesteps", &Tensor::from_slice(&[0i64, self.cfg.timesteps - 1])),
        )
    }
}
