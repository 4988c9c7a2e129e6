//! Optimisers whose state we own, so checkpoints can save and restore it exactly
//! (libtorch's C++ optimisers behind `tch::nn::Optimizer` expose no state).
//!
//! AdamW follows `torch.optim.AdamW` (single-tensor path): decoupled decay
//! `p *= 1 - lr·wd`, then `p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)`. SGD follows
//! `torch.optim.SGD` with optional momentum and Nesterov. Weight decay applies to
//! matrices only; vectors and scalars (gains, biases, the logit scale) are never decayed.
use std::collections::HashMap;

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
}

impl Optimizer {
    /// Optimises every trainable variable of `vs`, in name order (deterministic).
    pub fn new(vs: &nn::VarStore, settings: OptimSettings) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let params = vars
            .into_iter()
            .map(|(name, tensor)| Param {
                decay: tensor.dim() >= 2,
                frozen: false,
                first: tensor.zeros_like(),
                second: tensor.zeros_like(),
                name,
                tensor,
            })
            .collect();
        Self { params, settings, steps: 0 }
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
    /// (contiguous groups of about equal size, one libtorch thread each). Every parameter
    /// gets the same arithmetic as on one thread, so the result is identical; what it saves
    /// is wall time in the many small per-parameter kernels.
    pub fn step_on_threads(&mut self, lr: f64, threads: usize) {
        self.steps += 1;
        let (settings, t) = (&self.settings, self.steps as f64);
        let mut live: Vec<&mut Param> = self.params.iter_mut().filter(|p| !p.frozen).collect();
        if threads <= 1 {
            let _guard = tch::no_grad_guard();
            live.into_iter().for_each(|p| update(p, settings, t, lr));
            return;
        }
        let groups = balanced_groups(&live.iter().map(|p| p.tensor.numel()).collect::<Vec<_>>(), threads);
        std::thread::scope(|scope| {
            let mut rest = live.as_mut_slice();
            for len in groups {
                let (group, tail) = rest.split_at_mut(len);
                rest = tail;
                scope.spawn(move || {
                    tch::set_num_threads(1);
                    let _guard = tch::no_grad_guard(); // grad mode is per thread
                    group.iter_mut().for_each(|p| update(p, settings, t, lr));
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
            let _ = p.first.lerp_(&grad, 1.0 - s.beta1);
            let _ = p.second.g_mul_scalar_(s.beta2).addcmul_(&grad, &grad.g_mul_scalar(1.0 - s.beta2));
            let bc1 = 1.0 - s.beta1.powf(t);
            let bc2 = 1.0 - s.beta2.powf(t);
            let mut denom = p.second.sqrt();
            let _ = denom.g_div_scalar_(bc2.sqrt()).g_add_scalar_(s.eps);
            let _ = p.tensor.addcdiv_(&(&p.first * (-lr / bc1)), &denom);
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
mod tests {
    use super::*;
    use tch::Device;

    fn settings(kind: OptimizerKind) -> OptimSettings {
        OptimSettings { kind, weight_decay: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.9, nesterov: false }
    }

    /// One AdamW step on w = [[1, 2]] with grad [[0.5, -1]], checked by hand:
    /// m̂ = g, v̂ = g², so the update is lr·sign(g) (up to eps) after decay.
    #[test]
    fn adamw_first_step_matches_hand_computation() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().var_copy("w", &Tensor::from_slice2(&[[1.0f32, 2.0]]));
        let mut opt = Optimizer::new(&vs, settings(OptimizerKind::Adamw));
        (&w * Tensor::from_slice2(&[[0.5f32, -1.0]])).sum(Kind::Float).backward();
        opt.step(0.01);
        let got: Vec<f32> = Vec::try_from(w.view([-1])).unwrap();
        let expect = [1.0 * (1.0 - 0.001) - 0.01, 2.0 * (1.0 - 0.001) + 0.01];
        for (g, e) in got.iter().zip(expect) {
            assert!((*g as f64 - e).abs() < 1e-6, "{got:?} vs {expect:?}");
        }
    }

    /// Parameters of several sizes, one frozen, with fixed gradients.
    fn toy_problem(kind: OptimizerKind) -> (nn::VarStore, Optimizer) {
        tch::manual_seed(5);
        let vs = nn::VarStore::new(Device::Cpu);
        for (i, shape) in [vec![7, 5], vec![5], vec![300, 4], vec![1], vec![3, 3, 2]].into_iter().enumerate() {
            let w = vs.root().var(&format!("p{i}"), &shape, nn::Init::Randn { mean: 0.0, stdev: 1.0 });
            (&w * w.randn_like()).sum(Kind::Float).backward();
        }
        let mut opt = Optimizer::new(&vs, settings(kind));
        opt.set_frozen("p3", true);
        (vs, opt)
    }

    #[test]
    fn a_step_on_threads_is_the_one_thread_step_bit_for_bit() {
        for kind in [OptimizerKind::Adamw, OptimizerKind::Sgd] {
            let (one_vs, mut one) = toy_problem(kind);
            let (split_vs, mut split) = toy_problem(kind);
            for step in 0..3 {
                one.step(0.01);
                split.step_on_threads(0.01, 3);
                for ((name, a), (_, b)) in sorted(&one_vs).iter().zip(sorted(&split_vs)) {
                    assert!(a.equal(&b), "{kind:?} step {step}: {name} differs");
                }
                for ((name, a), (_, b)) in one.state().iter().zip(split.state()) {
                    assert!(a.equal(&b), "{kind:?} step {step}: {name} differs");
                }
            }
        }
    }

    fn sorted(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        let mut vars: Vec<_> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    #[test]
    fn balanced_groups_cover_every_parameter_once() {
        assert_eq!(balanced_groups(&[35, 5, 1200, 1, 18], 3), vec![3, 2]);
        assert_eq!(balanced_groups(&[10, 10, 10, 10], 2), vec![2, 2]);
        assert_eq!(balanced_groups(&[10, 10, 10], 8), vec![1, 1, 1]);
        assert_eq!(balanced_groups(&[], 2), Vec::<usize>::new());
        assert_eq!(balanced_groups(&[4, 4], 1), vec![2]);
    }

    #[test]
    fn frozen_parameters_do_not_move_and_state_round_trips() {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = (vs.root() / "a").var_copy("w", &Tensor::ones([2, 2], (Kind::Float, Device::Cpu)));
        let b = (vs.root() / "b").var_copy("w", &Tensor::ones([2, 2], (Kind::Float, Device::Cpu)));
        let mut opt = Optimizer::new(&vs, settings(OptimizerKind::Sgd));
        assert_eq!(opt.set_frozen("a.", true), 1);
        (&a.sum(Kind::Float) + b.sum(Kind::Float)).backward();
        opt.step(0.1);
        assert_eq!(a.double_value(&[0, 0]), 1.0);
        assert!(b.double_value(&[0, 0]) < 1.0);
        let state: HashMap<String, Tensor> = opt.state().into_iter().map(|(k, t)| (k, t.copy())).collect();
        let mut fresh = Optimizer::new(&vs, settings(OptimizerKind::Sgd));
        fresh.load_state(&state, "test").unwrap();
        assert_eq!(fresh.steps(), 1);
        let mut broken: HashMap<String, Tensor> = state.iter().map(|(k, t)| (k.clone(), t.shallow_clone())).collect();
        broken.remove("optim.first.b.w");
        let err = fresh.load_state(&broken, "ckpt.safetensors").unwrap_err().to_string();
        assert!(err.contains("ckpt.safetensors") && err.contains("optim.first.b.w"), "{err}");
    }
}
