//! Per-kind checks on one component and inputs the caller chose.
//!
//! What "wrong-shaped" means here: every input tensor with one dimension fewer (the last
//! one indexed away) and with one more (a trailing 1). A component must answer both
//! with an error, because the host cannot tell a silently broadcast result from a
//! right one.
use tch::{Device, Kind as DType, Tensor};

use super::{call, Called, Report};
use crate::{Encoder, Fusion, Kind, Loss, Metric, ModalityBatch, ModalityFeatures, Sampler, SamplerContext, TensorMap, Tokenizer};

type Check<T = ()> = std::result::Result<T, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn all_finite(t: &Tensor) -> Check<bool> {
    bool::try_from(t.detach().f_isfinite().map_err(err)?.f_all().map_err(err)?).map_err(err)
}

/// `out` is `[b, d]` f32 on `device` with finite values.
fn expect_features(out: &Tensor, b: i64, d: i64, device: Device) -> Check {
    if out.size() != [b, d] {
        return Err(format!("output shape {:?}, expected [{b}, {d}] ([B, output_dim])", out.size()));
    }
    if out.kind() != DType::Float {
        return Err(format!("output dtype {:?}, expected Float (f32)", out.kind()));
    }
    if out.device() != device {
        return Err(format!("output on {:?}, input was on {device:?}", out.device()));
    }
    if !all_finite(out)? {
        return Err("output has NaN or infinite values".into());
    }
    Ok(())
}

fn same(a: &Tensor, b: &Tensor, tolerance: f64) -> Check {
    if a.size() != b.size() {
        return Err(format!("shapes differ: {:?} vs {:?}", a.size(), b.size()));
    }
    let diff = (a.detach() - b.detach()).abs().max().double_value(&[]);
    if diff.is_nan() || diff > tolerance * (1.0 + a.detach().abs().max().double_value(&[])) {
        return Err(format!("outputs differ by up to {diff:e}"));
    }
    Ok(())
}

/// `t` with one dimension fewer and with one more.
fn wrong_shapes(t: &Tensor) -> Check<[Tensor; 2]> {
    let fewer = if t.dim() == 0 { t.f_unsqueeze(0).map_err(err)?.f_unsqueeze(0).map_err(err)? } else { t.f_select(-1, 0).map_err(err)? };
    Ok([fewer, t.f_unsqueeze(-1).map_err(err)?])
}

/// Encoder: `input` is a valid batch `[B, ...]` for its modality.
///
/// Checks: eval and train forward give `[B, output_dim]` f32 on the input's device with
/// finite values; eval mode is deterministic; in eval mode the first example alone gives
/// the first row of the batch (no mixing across examples); inputs of the wrong rank are
/// refused with an error; a replica, when the encoder gives one, gives the same outputs
/// in train mode, also on another thread.
pub fn encoder(name: &str, enc: &dyn Encoder, input: &Tensor) -> Report {
    let mut r = Report::new(Kind::Encoder, name);
    let b = input.size().first().copied().unwrap_or(0);
    let Some(dim) = r.step("output_dim", || call(|| Ok(enc.output_dim())).ok()) else { return r };
    let eval = r.step("eval forward: shape, dtype, device, finite", || {
        let out = call(|| enc.encode(input, false)).ok()?;
        expect_features(&out, b, dim, input.device())?;
        Ok(out)
    });
    r.step("train forward: shape, dtype, device, finite", || {
        expect_features(&call(|| enc.encode(input, true)).ok()?, b, dim, input.device())
    });
    if let Some(eval) = eval {
        r.step("eval mode is deterministic", || same(&eval, &call(|| enc.encode(input, false)).ok()?, 1e-6));
        r.step("a replica encodes as the encoder does, on another thread too", || {
            let Some(replica) = call(|| Ok(enc.replica())).ok()? else { return Ok(()) };
            let ours = call(|| enc.encode(input, true)).ok()?;
            let moved = input.shallow_clone();
            let theirs = std::thread::spawn(move || replica.encode(&moved, true)).join().map_err(|_| "the replica panicked on another thread".to_string())?;
            same(&ours, &call(|| theirs).ok()?, 1e-6)
        });
        if b > 1 {
            r.step("examples are encoded independently", || {
                let first = call(|| enc.encode(&input.narrow(0, 0, 1), false)).ok()?;
                same(&first, &eval.narrow(0, 0, 1), 1e-4)
            });
        }
    }
    r.step("wrong-rank input is an error", || {
        for bad in wrong_shapes(input)? {
            call(|| enc.encode(&bad, false)).must_fail(&format!("input of shape {:?}", bad.size()))?;
        }
        Ok(())
    });
    r
}

/// A copy of `features` keeping the modalities (by position) for which `keep` holds, with
/// `edit` giving each one's data and presence (an undefined presence keeps the original).
fn select_features(features: &ModalityFeatures, keep: impl Fn(usize) -> bool, edit: impl Fn(usize, &Tensor) -> Check<(Tensor, Tensor)>) -> Check<ModalityFeatures> {
    let mut out = ModalityFeatures::new();
    for (i, (m, batch)) in features.iter().enumerate() {
        if keep(i) {
            let (data, present) = edit(i, &batch.data)?;
            let present = if present.defined() { present } else { batch.present.shallow_clone() };
            out.insert(*m, ModalityBatch { data, present });
        }
    }
    Ok(out)
}

/// Fusion: `features` holds every modality the fusion should accept, `[B, D_m]` each,
/// all present.
///
/// Checks: eval and train give `[B, output_dim]`; deterministic in eval; every non-empty
/// subset of the modalities works; an example missing one modality, or all of them,
/// still gets finite features; features of the wrong rank are refused with an error.
pub fn fusion(name: &str, fusion: &dyn Fusion, features: &ModalityFeatures) -> Report {
    let mut r = Report::new(Kind::Fusion, name);
    let Some((_, first)) = features.iter().next() else { return r.skip("no modalities given") };
    let (b, device) = (first.data.size()[0], first.data.device());
    let Some(dim) = r.step("output_dim", || call(|| Ok(fusion.output_dim())).ok()) else { return r };
    let unchanged = |_: usize, t: &Tensor| Ok((t.shallow_clone(), Tensor::new()));
    let eval = r.step("eval forward: shape, dtype, device, finite", || {
        let out = call(|| fusion.fuse(features, false)).ok()?;
        expect_features(&out, b, dim, device)?;
        Ok(out)
    });
    r.step("train forward: shape, dtype, device, finite", || expect_features(&call(|| fusion.fuse(features, true)).ok()?, b, dim, device));
    if let Some(eval) = eval {
        r.step("eval mode is deterministic", || same(&eval, &call(|| fusion.fuse(features, false)).ok()?, 1e-6));
    }
    let n = features.len();
    r.step("every non-empty subset of modalities", || {
        for subset in 1..(1usize << n) {
            let part = select_features(features, |i| subset & (1 << i) != 0, unchanged)?;
            let names: Vec<&str> = part.keys().map(|m| m.name()).collect();
            let out = call(|| fusion.fuse(&part, false)).ok().map_err(|e| format!("with {names:?}: {e}"))?;
            expect_features(&out, b, dim, device).map_err(|e| format!("with {names:?}: {e}"))?;
        }
        Ok(())
    });
    r.step("presence masks: missing modalities per example", || {
        for (label, absent_in) in [("first modality absent in example 0", 1usize), ("every modality absent in example 0", n)] {
            let part = select_features(features, |_| true, |i, t| {
                let present = Tensor::ones([b], (DType::Bool, t.device()));
                if i < absent_in {
                    let _ = present.get(0).fill_(0);
                    let data = t.copy();
                    let _ = data.get(0).fill_(0.0);
                    return Ok((data, present));
                }
                Ok((t.shallow_clone(), present))
            })?;
            let out = call(|| fusion.fuse(&part, false)).ok().map_err(|e| format!("{label}: {e}"))?;
            expect_features(&out, b, dim, device).map_err(|e| format!("{label}: {e}"))?;
        }
        Ok(())
    });
    r.step("wrong-rank features are an error", || {
        let bad = select_features(features, |_| true, |_, t| Ok((t.f_unsqueeze(-1).map_err(err)?, Tensor::new())))?;
        call(|| fusion.fuse(&bad, false)).must_fail("features of shape [B, D, 1]")?;
        call(|| fusion.fuse(&ModalityFeatures::new(), false)).must_fail("no modalities at all")
    });
    r
}

/// A copy of `inputs` with `f` applied to every tensor.
fn map_inputs(inputs: &TensorMap, f: impl Fn(&Tensor) -> Check<Tensor>) -> Check<TensorMap> {
    let mut out = TensorMap::new();
    for name in inputs.names() {
        out.insert(name.clone(), &f(inputs.get(&name).map_err(err)?)?);
    }
    Ok(out)
}

fn describe(inputs: &TensorMap) -> String {
    inputs.names().iter().map(|n| format!("{n} {:?}", inputs.get(n).map(|t| t.size()).unwrap_or_default())).collect::<Vec<_>>().join(", ")
}

fn expect_scalar(what: &str, t: &Tensor) -> Check {
    if t.dim() != 0 || !t.is_floating_point() {
        return Err(format!("{what} must be a floating-point scalar [], got {:?} {:?}", t.kind(), t.size()));
    }
    if !all_finite(t)? {
        return Err(format!("{what} is not finite"));
    }
    Ok(())
}

/// Loss: `inputs` are valid named tensors (e.g. [`super::training_inputs`]).
///
/// Checks: train and eval give a finite scalar loss and finite scalar logs; eval mode is
/// deterministic; the loss has a gradient with respect to the floating-point inputs;
/// missing inputs and inputs of the wrong rank are refused with an error.
pub fn loss(name: &str, loss: &dyn Loss, inputs: &TensorMap) -> Report {
    let mut r = Report::new(Kind::Loss, name);
    for (label, train) in [("train", true), ("eval", false)] {
        r.step(&format!("{label} forward: finite scalar loss and logs"), || {
            let out = call(|| loss.compute(inputs, train)).ok()?;
            expect_scalar("loss", &out.loss)?;
            out.logs.iter().try_for_each(|(n, t)| expect_scalar(&format!("log `{n}`"), t))
        });
    }
    r.step("eval mode is deterministic", || {
        let a = call(|| loss.compute(inputs, false)).ok()?.loss;
        same(&a, &call(|| loss.compute(inputs, false)).ok()?.loss, 1e-6)
    });
    r.step("gradient reaches the inputs", || {
        let leaves = map_inputs(inputs, |t| Ok(if t.is_floating_point() { t.detach().copy().set_requires_grad(true) } else { t.shallow_clone() }))?;
        let out = call(|| loss.compute(&leaves, true)).ok()?;
        if !out.loss.requires_grad() {
            return Err("the loss does not require grad: nothing would be trained".into());
        }
        out.loss.f_backward().map_err(|e| format!("backward failed: {e}"))?;
        let names = leaves.names();
        let reached = names.iter().filter_map(|n| leaves.get(n).ok()).any(|t| t.requires_grad() && t.grad().defined());
        if reached { Ok(()) } else { Err("no floating-point input received a gradient".into()) }
    });
    r.step("missing or wrong-rank inputs are an error", || {
        call(|| loss.compute(&TensorMap::new(), true)).must_fail("no inputs")?;
        let [fewer, more] = [0, 1].map(|i| map_inputs(inputs, |t| Ok(wrong_shapes(t)?[i].shallow_clone())));
        for bad in [fewer?, more?] {
            call(|| loss.compute(&bad, true)).must_fail(&format!("inputs {}", describe(&bad)))?;
        }
        Ok(())
    });
    r
}

/// Sampler. Checks, over empty, tiny and labelled datasets and several epochs: every
/// index is `< len`; a non-empty dataset yields a non-empty epoch; the same context
/// gives the same order (samplers must be reproducible from the seed).
pub fn sampler(name: &str, sampler: &dyn Sampler) -> Report {
    let mut r = Report::new(Kind::Sampler, name);
    let mut contexts = vec![SamplerContext::new(0, 0, 1, 0), SamplerContext::new(1, 0, 1, 0)];
    for epoch in 0..3 {
        contexts.push(SamplerContext::new(17, epoch, 3, 7));
    }
    contexts.push(SamplerContext::new(20, 1, 2, 3).with_labels((0..20).map(|i| i % 4).collect()));
    r.step("indices in range, non-empty epochs, reproducible", || {
        for ctx in &contexts {
            let order = call(|| sampler.epoch_order(ctx)).ok().map_err(|e| format!("{ctx:?}: {e}"))?;
            if let Some(bad) = order.iter().find(|&&i| i >= ctx.len) {
                return Err(format!("index {bad} for a dataset of {} ({ctx:?})", ctx.len));
            }
            if ctx.len > 0 && order.is_empty() {
                return Err(format!("no indices for a dataset of {} ({ctx:?})", ctx.len));
            }
            if call(|| sampler.epoch_order(ctx)).ok()? != order {
                return Err(format!("two calls with the same context gave different orders ({ctx:?})"));
            }
        }
        Ok(())
    });
    r
}

/// Metric: `inputs` are valid named tensors (e.g. [`super::evaluation_inputs`]).
///
/// Checks: at least one score, names non-empty and unique, values finite; deterministic;
/// missing inputs and inputs of the wrong rank are refused with an error.
pub fn metric(name: &str, metric: &dyn Metric, inputs: &TensorMap) -> Report {
    let mut r = Report::new(Kind::Metric, name);
    let scores = r.step("scores: named, unique, finite", || {
        let scores = call(|| metric.compute(inputs)).ok()?;
        if scores.is_empty() {
            return Err("no scores".into());
        }
        for (i, (n, v)) in scores.iter().enumerate() {
            if n.is_empty() || scores[..i].iter().any(|(m, _)| m == n) {
                return Err(format!("score name `{n}` is empty or repeated"));
            }
            if !v.is_finite() {
                return Err(format!("score `{n}` = {v} is not finite"));
            }
        }
        Ok(scores)
    });
    if let Some(scores) = scores {
        r.step("deterministic", || {
            let again = call(|| metric.compute(inputs)).ok()?;
            let close = again.len() == scores.len()
                && again.iter().zip(&scores).all(|((a, x), (b, y))| a == b && (x - y).abs() <= 1e-9 * (1.0 + x.abs()));
            if close { Ok(()) } else { Err(format!("{scores:?} then {again:?}")) }
        });
    }
    r.step("missing or wrong-rank inputs are an error", || {
        call(|| metric.compute(&TensorMap::new())).must_fail("no inputs")?;
        let [fewer, more] = [0, 1].map(|i| map_inputs(inputs, |t| Ok(wrong_shapes(t)?[i].shallow_clone())));
        for bad in [fewer?, more?] {
            call(|| metric.compute(&bad)).must_fail(&format!("inputs {}", describe(&bad)))?;
        }
        Ok(())
    });
    r
}

/// Tokenizer: fitted on `corpus`, then encodes it. Checks: `[N, L]` i64 ids in
/// `[0, vocab_size)`; deterministic; an empty list of texts is not a panic; `state` works.
pub fn tokenizer(name: &str, tok: &mut dyn Tokenizer, corpus: &[String]) -> Report {
    let mut r = Report::new(Kind::Tokenizer, name);
    if r.step("fit", || call(|| tok.fit(corpus)).ok()).is_none() {
        return r;
    }
    let tok = &*tok;
    let ids = r.step("encode: [N, L] i64 ids within the vocabulary", || {
        let vocab = call(|| Ok(tok.vocab_size())).ok()?;
        let ids = call(|| tok.encode(corpus)).ok()?;
        if ids.dim() != 2 || ids.size()[0] != corpus.len() as i64 || ids.kind() != DType::Int64 {
            return Err(format!("expected [{}, L] i64, got {:?} {:?}", corpus.len(), ids.kind(), ids.size()));
        }
        let (lo, hi) = (ids.min().int64_value(&[]), ids.max().int64_value(&[]));
        if lo < 0 || hi >= vocab {
            return Err(format!("ids span [{lo}, {hi}], vocab_size is {vocab}"));
        }
        Ok(ids)
    });
    if let Some(ids) = ids {
        r.step("deterministic", || same(&ids.to_kind(DType::Double), &call(|| tok.encode(corpus)).ok()?.to_kind(DType::Double), 0.0));
    }
    r.step("no texts is not a panic", || match call(|| tok.encode(&[])) {
        Called::Panicked(m) => Err(format!("panicked: {m}")),
        _ => Ok(()),
    });
    r.step("state", || call(|| tok.state()).ok().map(drop));
    r
}
