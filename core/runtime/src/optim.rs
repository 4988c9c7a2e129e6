//! Optimisers whose state we own, so checkpoints can save and restore it exactly
//! (libtorch's C++ optimisers behind `tch::nn::Optimizer` expose no state).
//!
//! AdamW follows `torch.optim.AdamW` (single-tensor path): decoupled decay
//! `p *= 1 - lr·wd`, then `p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)`. SGD follows
//! `torch.optim.SGD` with optional momentum and Nesterov. Weight decay applies to
//! matrices only; vectors and scalars (gains, biases, the logit scale) are never decayed.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Tensor};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adamw,
    Sgd,
}

/// Optimiser settings (part of the `train:` section).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OptimSettings {
    pub kind: OptimizerKind,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub momentum: f64,
    pub nesterov: bool,
}

struct Param {
    name: String,
    tensor: Tensor,
    /// Where this parameter's moments start in [`Optimizer::flat`].
    offset: i64,
    decay: bool,
    frozen: bool,
    /// AdamW: first moment; SGD: momentum buffer.
    first: Tensor,
    /// AdamW: second moment (unused by SGD).
    second: Tensor,
}

pub struct Optimizer {
    params: Vec<Param>,
    settings: OptimSettings,
    /// Number of optimiser steps taken (AdamW's bias correction needs it).
    steps: i64,
    /// Every parameter's moments end to end, `[N]` f32 each (`Param::first`/`second` are
    /// views into them), so that AdamW updates the moments of a run of neighbouring
    /// parameters in a few large kernels instead of several small ones per parameter
    /// (the default CLIP model has ~75 parameters; see [`adamw_run`]). None when the
    /// parameters differ in kind or device.
    flat: Option<(Tensor, Tensor)>,
}

impl Optimizer {
    /// Optimises every trainable variable of `vs`, in name order (deterministic).
    pub fn new(vs: &nn::VarStore, settings: OptimSettings) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let device = vars.first().map(|(_, t)| t.device());
        let uniform = vars.iter().all(|(_, t)| t.kind() == Kind::Float && Some(t.device()) == device);
        let total: i64 = vars.iter().map(|(_, t)| t.numel() as i64).sum();
        let flat = match device {
            Some(device) if uniform => Some((Tensor::zeros([total], (Kind::Float, device)), Tensor::zeros([total], (Kind::Float, device)))),
            _ => None,
        };
        let mut offset = 0;
        let params = vars
            .into_iter()
            .map(|(name, tensor)| {
                let n = tensor.numel() as i64;
                let (first, second) = match &flat {
                    Some((m, v)) => (m.narrow(0, offset, n).view(&tensor.size()[..]), v.narrow(0, offset, n).view(&tensor.size()[..])),
                    None => (tensor.zeros_like(), tensor.zeros_like()),
                };
                offset += n;
                Param { decay: tensor.dim() >= 2, frozen: false, offset: offset - n, first, second, name, tensor }
            })
            .collect();
        Self { params, settings, steps: 0, flat }
    }

    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// Freezes (or unfreezes) every parameter whose name starts with `prefix`; returns
    /// how many matched.
    pub fn set_frozen(&mut self, prefix: &str, frozen: bool) -> usize {
        let mut n = 0;
        for p in self.params.iter_mut().filter(|p| p.name.starts_with(prefix)) {
            p.frozen = frozen;
            let _ = p.tensor.set_requires_grad(!frozen);
            n += 1;
        }
        n
    }

    pub fn parameter_names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            let mut g = p.tensor.grad();
            if g.defined() {
                let _ = g.detach_().zero_();
            }
        }
    }

    /// Scales gradients so their global L2 norm is at most `max`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max: f64) -> f64 {
        let _guard = tch::no_grad_guard();
        let grads: Vec<Tensor> = self.params.iter().map(|p| p.tensor.grad()).filter(|g| g.defined()).collect();
        if grads.is_empty() {
            return 0.0;
        }
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm().to_kind(Kind::Float).unsqueeze(0)).collect();
        let total = Tensor::cat(&norms, 0).norm().double_value(&[]);
        let scale = max / (total + 1e-6);
        if scale < 1.0 {
            for mut g in grads {
                let _ = g.g_mul_scalar_(scale);
            }
        }
        total
    }

    pub fn step(&mut self, lr: f64) {
        self.step_on_threads(lr, 1);
    }

    /// [`Optimizer::step`] with the parameters shared out over up to `threads` threads
    /// (one libtorch thread each). The parameters are cut into the same contiguous groups
    /// of about equal size whatever the thread count, and each group's arithmetic does not
    /// depend on which thread runs it, so the result is identical for any `threads`; what
    /// it saves is wall time in the many small per-parameter kernels.
    pub fn step_on_threads(&mut self, lr: f64, threads: usize) {
        self.steps += 1;
        let (settings, t) = (&self.settings, self.steps as f64);
        let mut live: Vec<&mut Param> = self.params.iter_mut().filter(|p| !p.frozen).collect();
        let flat = self.flat.as_ref().filter(|_| settings.kind == OptimizerKind::Adamw);
        // Fixed groups: a run's kernels round like another run's only when the runs are
        // the same. Eight lets a thread that finishes early take another group.
        let groups = balanced_groups(&live.iter().map(|p| p.tensor.numel()).collect::<Vec<_>>(), 8);
        let mut jobs = vec![];
        let mut rest = live.as_mut_slice();
        for len in groups {
            let (group, tail) = rest.split_at_mut(len);
            rest = tail;
            let moments = flat.and_then(|f| moments_of(group, f));
            jobs.push(Mutex::new(Some((group, moments))));
        }
        let next = AtomicUsize::new(0);
        let work = || {
            let _guard = tch::no_grad_guard(); // grad mode is per thread
            while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                if let Some((group, moments)) = job.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    update_group(group, moments, settings, t, lr);
                }
            }
        };
        if threads <= 1 {
            return work();
        }
        std::thread::scope(|scope| {
            for _ in 0..threads.min(jobs.len()) {
                scope.spawn(|| {
                    tch::set_num_threads(1);
                    work()
                });
            }
        });
    }

    /// Named state tensors for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("optim.steps".to_string(), Tensor::from(self.steps))];
        for p in &self.params {
            out.push((format!("optim.first.{}", p.name), p.first.shallow_clone()));
            if self.settings.kind == OptimizerKind::Adamw {
                out.push((format!("optim.second.{}", p.name), p.second.shallow_clone()));
            }
        }
        out
    }

    /// Restores [`Optimizer::state`], checking that every parameter has its state.
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>, origin: &str) -> Result<()> {
        let missing = |k: &str| Error::Other(format!("{origin}: optimizer state `{k}` is missing (was the model or optimizer changed?)"));
        self.steps = state.get("optim.steps").ok_or_else(|| missing("optim.steps"))?.int64_value(&[]);
        let _guard = tch::no_grad_guard();
        for p in &mut self.params {
            let key = format!("optim.first.{}", p.name);
            p.first.copy_(state.get(&key).ok_or_else(|| missing(&key))?);
            if self.settings.kind == OptimizerKind::Adamw {
                let key = format!("optim.second.{}", p.name);
                p.second.copy_(state.get(&key).ok_or_else(|| missing(&key))?);
            }
        }
        Ok(())
    }
}

/// The slices of the flat moment buffers that hold `group`'s moments, when its parameters
/// are neighbours there (a frozen parameter between them breaks the run).
fn moments_of(group: &[&mut Param], (first, second): &(Tensor, Tensor)) -> Option<(Tensor, Tensor)> {
    let start = group.first()?.offset;
    let mut end = start;
    for p in group {
        if p.offset != end {
            return None;
        }
        end += p.tensor.numel() as i64;
    }
    Some((first.narrow(0, start, end - start), second.narrow(0, start, end - start)))
}

/// Updates `group` (under no-grad): as one run over its flat `moments` when given and
/// every parameter has a gradient, else parameter by parameter.
fn update_group(group: &mut [&mut Param], moments: Option<(Tensor, Tensor)>, s: &OptimSettings, t: f64, lr: f64) {
    match moments {
        Some((first, second)) if group.iter().all(|p| p.tensor.grad().defined()) => adamw_run(group, first, second, s, t, lr),
        _ => group.iter_mut().for_each(|p| update(p, s, t, lr)),
    }
}

/// AdamW on neighbouring parameters whose moments are `first`, `second` `[n]`: the same
/// arithmetic as [`update`] ([`adamw_moments`]), run once over the whole run.
fn adamw_run(group: &mut [&mut Param], mut first: Tensor, mut second: Tensor, s: &OptimSettings, t: f64, lr: f64) {
    let grads: Vec<Tensor> = group.iter().map(|p| p.tensor.grad().reshape([-1])).collect();
    let grad = Tensor::cat(&grads, 0); // [n]
    let step = adamw_moments(&mut first, &mut second, &grad, s, t, lr); // [n]
    let mut at = 0;
    for p in group.iter_mut() {
        let n = p.tensor.numel() as i64;
        if p.decay && s.weight_decay != 0.0 {
            let _ = p.tensor.g_mul_scalar_(1.0 - lr * s.weight_decay);
        }
        let _ = p.tensor.g_add_(&step.narrow(0, at, n).view(&p.tensor.size()[..]));
        at += n;
    }
}

/// AdamW's moment updates of `first`, `second` by `grad` (all one shape) at step `t`;
/// returns what the parameter gets added: `-lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)`.
fn adamw_moments(first: &mut Tensor, second: &mut Tensor, grad: &Tensor, s: &OptimSettings, t: f64, lr: f64) -> Tensor {
    let _ = first.lerp_(grad, 1.0 - s.beta1);
    let _ = second.g_mul_scalar_(s.beta2).addcmul_(grad, &grad.g_mul_scalar(1.0 - s.beta2));
    let bc1 = 1.0 - s.beta1.powf(t);
    let bc2 = 1.0 - s.beta2.powf(t);
    let mut denom = second.sqrt();
    let _ = denom.g_div_scalar_(bc2.sqrt()).g_add_scalar_(s.eps);
    (&*first * (-lr / bc1)) / denom
}

/// One optimiser update of `p` at step `t` (1-based), under no-grad.
fn update(p: &mut Param, s: &OptimSettings, t: f64, lr: f64) {
    let grad = p.tensor.grad();
    if !grad.defined() {
        return;
    }
    let wd = if p.decay { s.weight_decay } else { 0.0 };
    match s.kind {
        OptimizerKind::Adamw => {
            if wd != 0.0 {
                let _ = p.tensor.g_mul_scalar_(1.0 - lr * wd);
            }
            let _ = p.tensor.g_add_(&adamw_moments(&mut p.first, &mut p.second, &grad, s, t, lr));
        }
        OptimizerKind::Sgd => {
            let mut d = if wd != 0.0 { &grad + &p.tensor * wd } else { grad.shallow_clone() };
            if s.momentum != 0.0 {
                if t == 1.0 {
                    p.first.copy_(&d);
                } else {
                    let _ = p.first.g_mul_scalar_(s.momentum).g_add_(&d);
                }
                d = if s.nesterov { &d + &p.first * s.momentum } else { p.first.shallow_clone() };
            }
            let _ = p.tensor.g_add_(&(d * -lr));
        }
    }
}

/// Lengths of at most `parts` contiguous groups of `sizes` with about equal sums.
fn balanced_groups(sizes: &[usize], parts: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let target = total / parts.max(1);
    let (mut groups, mut len, mut sum) = (vec![], 0, 0);
    for &size in sizes {
        len += 1;
        sum += size;
        if sum >= target && groups.len() + 1 < parts {
            groups.push(len);
            (len, sum) = (0, 0);
        }
    }
    if len > 0 {
        groups.push(len);
    }
    groups
}

#[cfg(test)]
#[path = "optim_tests.rs"]
mod tests;
