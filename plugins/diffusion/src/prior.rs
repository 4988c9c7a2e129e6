//! DALL-E 2's diffusion prior (Ramesh et al. 2022, §2.1): a denoiser over CLIP image
//! embeddings conditioned on the CLIP text embedding, trained to predict the clean
//! embedding x_0 directly (as the paper does) with classifier-free guidance dropout of
//! the text. The paper's denoiser is a causal transformer over [text, t, x_t, query]
//! tokens; on embeddings of a few dozen dimensions a residual MLP over the summed
//! projections does the same job at a fraction of the cost.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{self, nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

use crate::inputs::{at_least, dropped, float_of_shape, guidance_scale, optional_float, probability, timesteps, unit_scaled};
use crate::schedule::{timestep_features, Schedule, ScheduleKind};

const WHO: &str = "diffusion_prior";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct DiffusionPriorConfig {
    /// Width of the CLIP embeddings (text in, image out).
    pub embed_dim: i64,
    /// Hidden width of the residual MLP.
    pub width: i64,
    /// Residual blocks (LayerNorm → Linear → GELU → Linear).
    pub layers: i64,
    /// Diffusion steps T of the training process.
    pub timesteps: i64,
    pub schedule: ScheduleKind,
    /// Probability of replacing the text condition by the learned null one in training.
    pub cond_drop_prob: f64,
    /// DDIM steps when sampling.
    pub sample_steps: i64,
    /// Classifier-free guidance scale when sampling (1 = conditional model alone).
    pub guidance_scale: f64,
}

impl Default for DiffusionPriorConfig {
    fn default() -> Self {
        Self { embed_dim: 64, width: 256, layers: 3, timesteps: 1000, schedule: ScheduleKind::Cosine, cond_drop_prob: 0.1, sample_steps: 50, guidance_scale: 1.0 }
    }
}

/// Training (with `image_embed`): inputs `text_embed` `[B, D]`, `image_embed` `[B, D]`,
/// optional `noise` `[B, D]` and `timesteps` `[B]` (drawn when absent) → `pred` `[B, D]`
/// (the predicted clean embedding), `target` `[B, D]` (the image embedding, L2-normalised
/// and scaled by √D: the diffusion runs in that space), `timesteps` `[B]`. Train with the
/// MSE of `pred` and `target` (e.g. `diffusion_mse` with `noise_pred: pred, noise: target`).
/// Sampling (without `image_embed`): `text_embed` `[B, D]`, optional starting `noise`
/// `[B, D]` → `image_embed` `[B, D]`, unit L2 norm, by DDIM with guidance.
#[derive(Debug)]
pub struct DiffusionPrior {
    in_x: nn::Linear,
    in_text: nn::Linear,
    null_text: Tensor,
    time_mlp: (nn::Linear, nn::Linear),
    blocks: Vec<(nn::LayerNorm, nn::Linear, nn::Linear)>,
    out_norm: nn::LayerNorm,
    out: nn::Linear,
    schedule: Schedule,
    cfg: DiffusionPriorConfig,
}

impl DiffusionPrior {
    pub fn new(p: &nn::Path, cfg: &DiffusionPriorConfig) -> Result<Self> {
        at_least(WHO, "embed_dim", cfg.embed_dim, 1)?;
        at_least(WHO, "width", cfg.width, 2)?;
        at_least(WHO, "layers", cfg.layers, 0)?;
        at_least(WHO, "sample_steps", cfg.sample_steps, 1)?;
        probability(WHO, "cond_drop_prob", cfg.cond_drop_prob)?;
        if !(cfg.guidance_scale.is_finite() && cfg.guidance_scale >= 0.0) {
            return Err(Error::other(format!("{WHO}: `guidance_scale` must be finite and >= 0, got {}", cfg.guidance_scale)));
        }
        let (d, w) = (cfg.embed_dim, cfg.width);
        let lin = |name: &str, i, o| nn::linear(p / name, i, o, Default::default());
        let blocks = (0..cfg.layers)
            .map(|i| {
                let b = p / "blocks" / i;
                (nn::layer_norm(&b / "norm", vec![w], Default::default()), nn::linear(&b / "fc1", w, 2 * w, Default::default()), nn::linear(&b / "fc2", 2 * w, w, Default::default()))
            })
            .collect();
        Ok(Self {
            in_x: lin("in_x", d, w),
            in_text: lin("in_text", d, w),
            null_text: p.var("null_text", &[w], nn::Init::Randn { mean: 0.0, stdev: 0.02 }),
            time_mlp: (lin("time_fc1", w, w), lin("time_fc2", w, w)),
            blocks,
            out_norm: nn::layer_norm(p / "out_norm", vec![w], Default::default()),
            out: lin("out", w, d),
            schedule: Schedule::new(cfg.schedule, cfg.timesteps, WHO)?,
            cfg: cfg.clone(),
        })
    }

    /// x_t `[B, D]`, t `[B]`, text `[B, D]` (unit-scaled), drop `[B]` bool → x_0 `[B, D]`.
    fn denoise(&self, x_t: &Tensor, t: &Tensor, text: &Tensor, drop: Option<&Tensor>) -> Tensor {
        let mut cond = self.in_text.forward(text); // [B, W]
        if let Some(drop) = drop {
            cond = cond.where_self(&drop.logical_not().unsqueeze(1), &self.null_text.unsqueeze(0)); // [B, W]
        }
        let time = self.time_mlp.1.forward(&self.time_mlp.0.forward(&timestep_features(t, self.cfg.width)).silu()); // [B, W]
        let mut h = self.in_x.forward(x_t) + cond + time; // [B, W]
        for (norm, fc1, fc2) in &self.blocks {
            h = &h + fc2.forward(&fc1.forward(&norm.forward(&h)).gelu("none")); // [B, W]
        }
        self.out.forward(&self.out_norm.forward(&h)) // [B, D]
    }

    /// DDIM from `noise` `[B, D]` to unit-norm image embeddings `[B, D]`.
    fn sample(&self, text: &Tensor, noise: Tensor, g: f64) -> Tensor {
        let _guard = tch::no_grad_guard();
        let b = text.size()[0];
        let guided = g != 1.0;
        let ts = self.schedule.ddim_timesteps(self.cfg.sample_steps);
        let mut x = noise;
        for (i, &t) in ts.iter().enumerate() {
            let x0 = if guided {
                // One batch of [conditional; unconditional] rows.
                let both = Tensor::cat(&[&x, &x], 0); // [2B, D]
                let tt = Tensor::full([2 * b], t, (Kind::Int64, x.device()));
                let drop = Tensor::cat(&[Tensor::zeros([b], (Kind::Bool, x.device())), Tensor::ones([b], (Kind::Bool, x.device()))], 0);
                let out = self.denoise(&both, &tt, &Tensor::cat(&[text, text], 0), Some(&drop)); // [2B, D]
                let (c, u) = (out.narrow(0, 0, b), out.narrow(0, b, b));
                &u + (c - &u) * g // [B, D]
            } else {
                self.denoise(&x, &Tensor::full([b], t, (Kind::Int64, x.device())), text, None)
            };
            let eps = self.schedule.eps_from_x0(&x, &x0, t);
            x = self.schedule.ddim_step(&x0, &eps, ts.get(i + 1).copied());
        }
        let norm = x.norm_scalaropt_dim(2.0, [1i64].as_slice(), true).clamp_min(1e-8);
        x / norm // [B, D]
    }
}

impl Module for DiffusionPrior {
    fn forward(&self, inputs: &TensorMap, train: bool) -> Result<TensorMap> {
        let d = self.cfg.embed_dim;
        let text = inputs.get("text_embed")?;
        float_of_shape(text, &[-1, d], WHO, "text_embed")?;
        let b = text.size()[0];
        let text = unit_scaled(&text.to_kind(Kind::Float)); // [B, D]
        let Some(image) = optional_float(inputs, "image_embed", &[-1, d], b, WHO)? else {
            let noise = optional_float(inputs, "noise", &[-1, d], b, WHO)?.unwrap_or_else(|| Tensor::randn([b, d], (Kind::Float, text.device())));
            return Ok(TensorMap::new().with("image_embed", &self.sample(&text, noise, guidance_scale(inputs, self.cfg.guidance_scale, WHO)?)));
        };
        let target = unit_scaled(&image); // [B, D]
        let noise = optional_float(inputs, "noise", &[-1, d], b, WHO)?.unwrap_or_else(|| target.randn_like());
        let t = timesteps(inputs, b, self.schedule.len(), &target, WHO)?; // [B]
        let x_t = self.schedule.q_sample(&target, &t, &noise); // [B, D]
        let drop = dropped(b, self.cfg.cond_drop_prob, train, &target);
        let pred = self.denoise(&x_t, &t, &text, drop.as_ref()); // [B, D]
        Ok(TensorMap::new().with("pred", &pred).with("target", &target).with("timesteps", &t))
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let f = (Kind::Float, Device::Cpu);
        let d = self.cfg.embed_dim;
        Some(
            TensorMap::new()
                .with("text_embed", &Tensor::randn([2, d], f))
                .with("image_embed", &Tensor::randn([2, d], f))
                .with("noise", &Tensor::randn([2, d], f))
                .with("timesteps", &Tensor::from_slice(&[0i64, self.cfg.timesteps - 1])),
        )
    }
}
