//! The noise schedule shared by the prior and the decoder: ᾱ_t for t in [0, T), the
//! forward process q(x_t | x_0), and deterministic DDIM steps (η = 0, Song et al. 2021).
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", rename_all = "snake_case")]
pub enum ScheduleKind {
    /// β linear from 1e-4 to 0.02 over 1000 steps (rescaled to T), as DDPM.
    Linear,
    /// ᾱ_t = cos²(((t/T + s)/(1 + s))·π/2), s = 0.008 (Nichol & Dhariwal 2021).
    Cosine,
}

#[derive(Debug)]
pub struct Schedule {
    /// ᾱ_t, `T` values in (0, 1), decreasing.
    alpha_bar: Vec<f64>,
}

impl Schedule {
    pub fn new(kind: ScheduleKind, timesteps: i64, who: &str) -> Result<Self> {
        if !(2..=100_000).contains(&timesteps) {
            return Err(Error::other(format!("{who}: `timesteps` must be in [2, 100000], got {timesteps}")));
        }
        let n = timesteps as usize;
        let betas: Vec<f64> = match kind {
            ScheduleKind::Linear => {
                let scale = 1000.0 / n as f64;
                let (lo, hi) = (1e-4 * scale, 0.02 * scale);
                (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
            }
            ScheduleKind::Cosine => {
                let f = |t: f64| ((t / n as f64 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
                (0..n).map(|i| (1.0 - f(i as f64 + 1.0) / f(i as f64)).min(0.999)).collect()
            }
        };
        let mut alpha_bar = Vec::with_capacity(n);
        let mut prod = 1.0;
        for b in betas {
            prod *= 1.0 - b;
            alpha_bar.push(prod);
        }
        Ok(Self { alpha_bar })
    }

    pub fn len(&self) -> i64 {
        self.alpha_bar.len() as i64
    }

    /// x_t = √ᾱ_t·x_0 + √(1-ᾱ_t)·ε; x0, noise `[B, ...]`, t `[B]` i64 → `[B, ...]`.
    pub fn q_sample(&self, x0: &Tensor, t: &Tensor, noise: &Tensor) -> Tensor {
        let (a, s) = self.coefficients(t, x0);
        a * x0 + s * noise
    }

    /// The `steps` timesteps a DDIM sampler visits, from T-1 down to 0, evenly spaced.
    pub fn ddim_timesteps(&self, steps: i64) -> Vec<i64> {
        let last = self.len() - 1;
        let steps = steps.clamp(1, self.len());
        let mut ts: Vec<i64> = (0..steps).map(|i| last - (i as f64 * last as f64 / (steps.max(2) - 1) as f64).round() as i64).collect();
        ts.dedup();
        if steps == 1 {
            ts = vec![last];
        }
        ts
    }

    /// ε implied by x_t and a predicted x_0 at step t: (x_t - √ᾱ_t·x_0) / √(1-ᾱ_t).
    pub fn eps_from_x0(&self, x_t: &Tensor, x0: &Tensor, t: i64) -> Tensor {
        let ab = self.alpha_bar[t as usize];
        (x_t - x0 * ab.sqrt()) / (1.0 - ab).sqrt()
    }

    /// x_0 implied by x_t and a predicted ε at step t.
    pub fn x0_from_eps(&self, x_t: &Tensor, eps: &Tensor, t: i64) -> Tensor {
        let ab = self.alpha_bar[t as usize];
        (x_t - eps * (1.0 - ab).sqrt()) / ab.sqrt()
    }

    /// One deterministic DDIM step to `t_prev` (`None` = the end: x_0 itself).
    pub fn ddim_step(&self, x0: &Tensor, eps: &Tensor, t_prev: Option<i64>) -> Tensor {
        match t_prev {
            None => x0.shallow_clone(),
            Some(tp) => {
                let ab = self.alpha_bar[tp as usize];
                x0 * ab.sqrt() + eps * (1.0 - ab).sqrt()
            }
        }
    }
}

/// What a denoiser is trained to output at step t.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", rename_all = "snake_case")]
pub enum Prediction {
    /// The noise ε (DDPM).
    Epsilon,
    /// The clean sample x_0 (as DALL-E 2's prior).
    Sample,
    /// v = √ᾱ_t·ε - √(1-ᾱ_t)·x_0 (Salimans & Ho 2022).
    Velocity,
}

impl Schedule {
    /// The training target for `prediction`, given x_0, ε and t `[B]` (shapes `[B, ...]`).
    pub fn target(&self, prediction: Prediction, x0: &Tensor, noise: &Tensor, t: &Tensor) -> Tensor {
        match prediction {
            Prediction::Epsilon => noise.shallow_clone(),
            Prediction::Sample => x0.shallow_clone(),
            Prediction::Velocity => {
                let (a, s) = self.coefficients(t, x0);
                a * noise - s * x0
            }
        }
    }

    /// (√ᾱ_t, √(1-ᾱ_t)) of t `[B]`, shaped `[B, 1, ..]` like `like`.
    fn coefficients(&self, t: &Tensor, like: &Tensor) -> (Tensor, Tensor) {
        let table = Tensor::from_slice(&self.alpha_bar).to_kind(Kind::Float).to_device(like.device());
        let mut shape = vec![-1i64];
        shape.extend(std::iter::repeat_n(1, like.dim() - 1));
        let ab = table.index_select(0, t).view(shape.as_slice()); // [B, 1, ..]
        (ab.sqrt(), (ab.ones_like() - &ab).sqrt())
    }

    /// (x_0, ε) implied by the model output at step t (one t for the whole batch).
    pub fn split(&self, prediction: Prediction, x_t: &Tensor, out: &Tensor, t: i64) -> (Tensor, Tensor) {
        let ab = self.alpha_bar[t as usize];
        let (a, s) = (ab.sqrt(), (1.0 - ab).sqrt());
        match prediction {
            Prediction::Epsilon => (self.x0_from_eps(x_t, out, t), out.shallow_clone()),
            Prediction::Sample => (out.shallow_clone(), self.eps_from_x0(x_t, out, t)),
            Prediction::Velocity => (x_t * a - out * s, out * a + x_t * s),
        }
    }
}

/// Sinusoidal timestep features `[B, dim]` of `t` `[B]` (as in the Transformer/DDPM).
pub fn timestep_features(t: &Tensor, dim: i64) -> Tensor {
    let half = dim / 2;
    let freqs = (Tensor::arange(half, (Kind::Float, t.device())) * (-(10_000f64.ln()) / half.max(1) as f64)).exp(); // [half]
    let args = t.to_kind(Kind::Float).unsqueeze(1) * freqs.unsqueeze(0); // [B, half]
    let feats = Tensor::cat(&[args.sin(), args.cos()], 1); // [B, 2·half]
    if dim % 2 == 1 {
        Tensor::cat(&[feats.shallow_clone(), feats.zeros_like().narrow(1, 0, 1)], 1)
    } else {
        feats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::tch::Device;

    #[test]
    fn alpha_bar_decreases_from_near_one_to_near_zero() {
        for kind in [ScheduleKind::Linear, ScheduleKind::Cosine] {
            let s = Schedule::new(kind, 1000, "t").unwrap();
            assert!(s.alpha_bar[0] > 0.99 && s.alpha_bar[999] < 0.01, "{kind:?}");
            assert!(s.alpha_bar.windows(2).all(|w| w[1] < w[0]), "{kind:?}");
        }
        assert!(Schedule::new(ScheduleKind::Linear, 1, "prior").unwrap_err().to_string().contains("timesteps"));
    }

    #[test]
    fn ddim_round_trip_recovers_x0_and_eps() {
        let s = Schedule::new(ScheduleKind::Cosine, 100, "t").unwrap();
        let x0 = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
        let eps = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
        let t = Tensor::from_slice(&[40i64, 40, 40]);
        let xt = s.q_sample(&x0, &t, &eps);
        assert!(s.x0_from_eps(&xt, &eps, 40).allclose(&x0, 1e-4, 1e-4, false));
        assert!(s.eps_from_x0(&xt, &x0, 40).allclose(&eps, 1e-4, 1e-4, false));
        let v = s.target(Prediction::Velocity, &x0, &eps, &t);
        for (p, out) in [(Prediction::Epsilon, &eps), (Prediction::Sample, &x0), (Prediction::Velocity, &v)] {
            let (x0_back, eps_back) = s.split(p, &xt, out, 40);
            assert!(x0_back.allclose(&x0, 1e-4, 1e-4, false) && eps_back.allclose(&eps, 1e-4, 1e-4, false), "{p:?}");
        }
        let ts = s.ddim_timesteps(5);
        assert_eq!(ts, vec![99, 74, 49, 25, 0]);
    }
}
