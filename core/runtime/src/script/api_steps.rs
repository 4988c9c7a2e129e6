//! Script-driven training loops, for models the built-in `trainer(...)` does not cover:
//!
//! ```text
//! let opt = optimizer(cfg.train, train.len / cfg.train.batch_size);   // after building every component
//! for epoch in 0..cfg.train.epochs {
//!     for b in train.batches(epoch, cfg.train.batch_size) {          // #{image, image_present, caption, label, ..}
//!         let out = loss("clip").compute(#{ image_embeds: img.encode(b.image), text_embeds: txt.encode(tok.encode(b.caption)) });
//!         opt.step(out.loss);                                          // backward, clip, AdamW/SGD, schedule, log
//!     }
//! }
//! no_grad(|| { ... });                                                 // evaluation: eval mode, no autograd
//! ```
//! The optimiser, schedule, clipping and logging are the built-in trainer's (`train.*`
//! config keys); checkpoints and exact resume are the built-in trainer's alone.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{MaskingContext, Modality, Presence};
use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};
use tch::{Kind, Tensor};

use super::api_config::hparams_of;
use super::api_manifest::ManifestHandle;
use super::api_tensor::{TensorValue, TRAINING};
use super::convert::{rt, RhaiResult};
use super::handles::{MaskingHandle, TokenizerHandle};
use super::Shared;
use crate::data::{EpochIter, LoadedBatch};
use crate::optim::Optimizer;
use crate::train::TrainConfig;

pub struct StepState {
    optimizer: Optimizer,
    cfg: TrainConfig,
    steps_per_epoch: usize,
    step: usize,
}

#[derive(Clone)]
pub struct OptimizerHandle(Rc<RefCell<StepState>>);

/// The batches of one epoch as a Rhai iterable; decoding runs ahead in loader workers.
#[derive(Clone)]
pub struct Batches(Rc<RefCell<Option<EpochIter>>>, tch::Device);

impl Iterator for Batches {
    type Item = RhaiResult<Map>;
    fn next(&mut self) -> Option<Self::Item> {
        let next = self.0.borrow_mut().as_mut()?.next();
        next.map(|b| b.map_err(rt).map(|b| batch_map(&b, self.1)))
    }
}

fn strings(xs: &[Option<String>]) -> Array {
    xs.iter().map(|x| x.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT)).collect()
}

/// `image` `[B, C, H, W]`, `audio` `[B, n_mels, frames]` (each with `<name>_present` `[B]`
/// bool), `label` `[B]` i64 + `label_present`, `index` `[B]` i64, and `caption`, `question`,
/// `answer` as arrays of strings (`()` where absent).
fn batch_map(b: &LoadedBatch, device: tch::Device) -> Map {
    let mut m = Map::new();
    let t = |x: &Tensor| Dynamic::from(TensorValue(x.to_device(device)));
    for (modality, mb) in &b.batch.modalities {
        m.insert(modality.name().into(), t(&mb.data));
        m.insert(format!("{}_present", modality.name()).into(), t(&mb.present));
    }
    if let Some(labels) = &b.batch.labels {
        m.insert("label".into(), t(labels));
    }
    if let Some(p) = &b.label_present {
        m.insert("label_present".into(), t(p));
    }
    let idx: Vec<i64> = b.indices.iter().map(|&i| i as i64).collect();
    m.insert("index".into(), t(&Tensor::from_slice(&idx)));
    m.insert("text_present".into(), t(&b.text_present()));
    m.insert("caption".into(), strings(&b.captions).into());
    m.insert("question".into(), strings(&b.questions).into());
    m.insert("answer".into(), strings(&b.answers).into());
    m.insert("size".into(), (b.len() as i64).into());
    m
}

fn step(s: &Shared, opt: &OptimizerHandle, loss: &TensorValue) -> RhaiResult<f64> {
    if loss.0.numel() != 1 || !loss.0.requires_grad() {
        return Err(rt(format!("opt.step: expected a scalar loss with gradients, got shape {:?}{}", loss.0.size(), if loss.0.requires_grad() { "" } else { " without gradients (computed under no_grad?)" })));
    }
    let mut st = opt.0.borrow_mut();
    let total = st.cfg.epochs * st.steps_per_epoch;
    let epoch = st.step / st.steps_per_epoch.max(1);
    let lr = st.cfg.lr_at(st.step, total, epoch);
    st.optimizer.zero_grad();
    loss.0.backward();
    if st.cfg.grad_clip_norm > 0.0 {
        let max = st.cfg.grad_clip_norm;
        st.optimizer.clip_grad_norm(max);
    }
    st.optimizer.step(lr);
    st.step += 1;
    let value = loss.0.double_value(&[]);
    if !value.is_finite() {
        return Err(rt(format!("opt.step: the loss is {value} at step {}", st.step)));
    }
    s.borrow_mut().step = st.step;
    if st.cfg.log_every > 0 && st.step % st.cfg.log_every == 0 {
        let session = s.borrow();
        let record = serde_json::json!({"step": st.step, "epoch": epoch, "loss": value, "lr": lr});
        let result = session.run.borrow_mut().log_metrics(&record);
        result.map_err(rt)?;
    }
    Ok(value)
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine.register_type_with_name::<OptimizerHandle>("Optimizer").register_type_with_name::<Batches>("Batches");
    engine.register_iterator_result::<Batches, Map>();

    let s = session.clone();
    engine.register_fn("optimizer", move |cfg: Dynamic, steps_per_epoch: i64| -> RhaiResult<OptimizerHandle> {
        let cfg: TrainConfig = hparams_of(&cfg, "optimizer")?.parse().map_err(rt)?;
        cfg.validate().map_err(rt)?;
        let session = s.borrow();
        if session.vs.variables().is_empty() {
            return Err(rt("optimizer: no parameters yet; build the components before the optimizer"));
        }
        let optimizer = Optimizer::new(&session.vs, cfg.optim_settings());
        let steps_per_epoch = steps_per_epoch.max(1) as usize;
        Ok(OptimizerHandle(Rc::new(RefCell::new(StepState { optimizer, cfg, steps_per_epoch, step: 0 }))))
    });
    let s = session.clone();
    engine
        .register_fn("step", move |opt: &mut OptimizerHandle, loss: TensorValue| step(&s, opt, &loss))
        .register_get("step", |opt: &mut OptimizerHandle| opt.0.borrow().step as i64)
        .register_get("lr", |opt: &mut OptimizerHandle| {
            let st = opt.0.borrow();
            st.cfg.lr_at(st.step, st.cfg.epochs * st.steps_per_epoch, st.step / st.steps_per_epoch)
        })
        .register_fn("freeze", |opt: &mut OptimizerHandle, prefix: &str| -> RhaiResult<i64> {
            match opt.0.borrow_mut().optimizer.set_frozen(prefix, true) {
                0 => Err(rt(format!("freeze: no parameter name starts with `{prefix}`"))),
                n => Ok(n as i64),
            }
        });

    engine.register_fn("no_grad", |ctx: NativeCallContext, f: FnPtr| -> RhaiResult<Dynamic> {
        let _guard = tch::no_grad_guard();
        let was = TRAINING.with(|t| t.replace(false));
        let result = f.call_within_context::<Dynamic>(&ctx, ());
        TRAINING.with(|t| t.set(was));
        result
    });

    let (s1, s2) = (session.clone(), session.clone());
    engine
        .register_fn("batches", move |d: &mut ManifestHandle, epoch: i64, batch_size: i64| -> RhaiResult<Batches> {
            if batch_size < 1 || epoch < 0 {
                return Err(rt(format!("batches: need epoch >= 0 and batch_size >= 1, got {epoch}, {batch_size}")));
            }
            let loader = &d.0.loader;
            let order = loader.epoch_order(epoch as usize);
            Ok(Batches(Rc::new(RefCell::new(Some(loader.batches(epoch as usize, order, batch_size as usize)))), s1.borrow().device))
        })
        .register_fn("eval_batches", move |d: &mut ManifestHandle, batch_size: i64| -> RhaiResult<Batches> {
            if batch_size < 1 {
                return Err(rt(format!("eval_batches: batch_size must be >= 1, got {batch_size}")));
            }
            let loader = &d.0.eval_loader;
            let order: Vec<usize> = (0..loader.len()).collect();
            Ok(Batches(Rc::new(RefCell::new(Some(loader.batches(0, order, batch_size as usize)))), s2.borrow().device))
        });

    // `masking.apply(#{image: present, ..}, #{step, progress, epoch, epochs})`: the `[B]`
    // bool presence a masking schedule keeps at that point of training, as tensors.
    let s = session.clone();
    engine.register_fn("apply", move |m: &mut MaskingHandle, presence: Map, at: Map| -> RhaiResult<Map> {
        let mut given = Presence::new();
        for (name, v) in &presence {
            let modality = Modality::parse(name).ok_or_else(|| rt(format!("apply: unknown modality `{name}` (image, text, audio, video)")))?;
            let t = v.clone().try_cast::<TensorValue>().ok_or_else(|| rt(format!("apply: `{name}` must be a [B] bool tensor")))?;
            given.insert(modality, t.0.to_kind(Kind::Bool));
        }
        if let Some(key) = at.keys().find(|k| !["step", "progress", "epoch", "epochs"].contains(&k.as_str())) {
            return Err(rt(format!("apply: unknown key `{key}` in the training position (use step, progress, epoch, epochs)")));
        }
        let int = |k: &str| at.get(k).and_then(|v| v.as_int().ok()).unwrap_or(0).max(0) as usize;
        let progress = at.get("progress").and_then(|v| v.as_float().ok().or_else(|| v.as_int().ok().map(|i| i as f64))).unwrap_or(0.0);
        let ctx = MaskingContext::new(int("epoch"), int("epochs").max(1), int("step"), progress, s.borrow().seed);
        let kept = m.0.mask(&ctx, &given).map_err(rt)?;
        Ok(kept.into_iter().map(|(modality, t)| (modality.name().into(), Dynamic::from(TensorValue(t)))).collect())
    });

    // `protocol(metric, description)`: how a scripted metric was measured, recorded in
    // summary.json next to it (compared by `plexus runs compare` and `plexus ablate`).
    let s = session.clone();
    engine.register_fn("protocol", move |metric: &str, description: &str| {
        s.borrow_mut().protocols.insert(metric.to_string(), description.to_string());
    });

    // `tok.fit([data, ..], ["caption", "question", "answer"])`: a vocabulary over those text
    // fields of every example of several manifests, without decoding any file (the texts
    // stay in Rust: a Rhai array of them would exceed the sandbox's string limits).
    engine.register_fn("fit", |t: &mut TokenizerHandle, datasets: Array, fields: Array| -> RhaiResult<()> {
        let mut corpus = Vec::new();
        for d in datasets {
            let d = d.try_cast::<ManifestHandle>().ok_or_else(|| rt("fit: the first list must hold manifest datasets"))?;
            let loader = &d.0.loader;
            for r in (0..loader.len()).filter_map(|i| loader.record(i)) {
                for f in &fields {
                    match f.to_string().as_str() {
                        "caption" => corpus.extend(r.captions.iter().cloned()),
                        "question" => corpus.extend(r.question.clone()),
                        "answer" => corpus.extend(r.answer.clone()),
                        other => return Err(rt(format!("fit: unknown text field `{other}` (caption, question or answer)"))),
                    }
                }
            }
        }
        if corpus.is_empty() {
            return Err(rt("fit: the datasets have no text in those fields"));
        }
        t.0.borrow_mut().fit(&corpus).map_err(rt)
    });

    // Accuracy of `[B, C]` logits against `[B]` labels, as a number.
    engine.register_fn("accuracy", |logits: TensorValue, labels: TensorValue| -> RhaiResult<f64> {
        let pred = logits.0.argmax(-1, false);
        Ok(pred.eq_tensor(&labels.0.to_kind(Kind::Int64)).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]))
    });
}
