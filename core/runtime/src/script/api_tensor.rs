//! Tensors in scripts, for experiments whose step the built-in trainer does not cover
//! (several encoders, fusions, heads, generative models): a script composes the forward
//! pass from components and `opt.step(loss)` does the rest (see `api_steps`). Each call
//! runs a whole batched libtorch op, so Rhai's ~1 µs per call stays negligible.
//!
//! `x.shape`, `x.item()`, `x.mean()`, `x.sum()`, `x.detach()`, `x.argmax(dim)`, `x.zeros_like()`, `x.ones_like()`,
//! `x.softmax(dim)`, `x.log_softmax(dim)`, `x.matmul(y)`, `x.t()`, `x.reshape([..])`,
//! `x.select(dim, i)`, `x.narrow(dim, start, len)`, `x.eq(y)`, `x.float()`,
//! `+ - * /` between tensors and with numbers, `tensor([..])`, `cat([..], dim)`,
//! `cross_entropy(logits, targets)`; `enc.encode(x)`, `tok.encode(texts)`,
//! `loss.compute(#{..})` → `#{loss, ..logs}`, `metric.compute(#{..})` → `#{score: number, ..}`, `fusion.fuse(#{image: x, ..}, #{image: mask, ..})`,
//! `linear(in, out, scope)` → a layer with `.forward(x)`.
use std::cell::Cell;

use plexus_plugin::{Modality, ModalityBatch, ModalityFeatures, TensorMap};
use rhai::{Array, Dynamic, Engine, Map};
use tch::{nn, Kind, Tensor};

use super::convert::{rt, RhaiResult};
use super::handles::{EncoderHandle, FusionHandle, LossHandle, MetricHandle, TokenizerHandle};
use super::Shared;

/// A libtorch tensor as a script value (cloning shares storage, like Python references).
pub struct TensorValue(pub Tensor);

impl Clone for TensorValue {
    fn clone(&self) -> Self {
        TensorValue(self.0.shallow_clone())
    }
}

#[derive(Clone)]
pub struct LinearHandle(pub std::rc::Rc<nn::Linear>);

thread_local! {
    /// Train mode for components called from scripts; `no_grad(f)` turns it off within `f`.
    pub static TRAINING: Cell<bool> = const { Cell::new(true) };
}

pub fn training() -> bool {
    TRAINING.with(Cell::get)
}

/// libtorch's fallible ops (`f_*`) report bad shapes as errors: keep the message's first
/// line (the rest is a C++ backtrace) and name the operation.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, tch::TchError>) -> RhaiResult<T> {
    f().map_err(|e| {
        let msg = match e {
            tch::TchError::Torch(m) => m,
            other => other.to_string(),
        };
        rt(format!("{what}: {}", msg.lines().next().unwrap_or("libtorch error")))
    })
}

fn binary(engine: &mut Engine, op: &'static str, f: fn(&Tensor, &Tensor) -> Result<Tensor, tch::TchError>, s: fn(&Tensor, f64) -> Tensor) {
    engine
        .register_fn(op, move |a: TensorValue, b: TensorValue| guarded(op, || f(&a.0, &b.0).map(TensorValue)))
        .register_fn(op, move |a: TensorValue, b: f64| TensorValue(s(&a.0, b)))
        .register_fn(op, move |a: TensorValue, b: i64| TensorValue(s(&a.0, b as f64)));
}

fn to_tensor(v: &Dynamic, what: &str) -> RhaiResult<Tensor> {
    v.clone().try_cast::<TensorValue>().map(|t| t.0).ok_or_else(|| rt(format!("{what}: expected a tensor, found {}", v.type_name())))
}

fn modality(name: &str) -> RhaiResult<Modality> {
    Modality::parse(name).ok_or_else(|| rt(format!("unknown modality `{name}` (image, text, audio, video)")))
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine.register_type_with_name::<TensorValue>("Tensor").register_type_with_name::<LinearHandle>("Linear");
    binary(engine, "+", |a, b| a.f_add(b), |a, b| a + b);
    binary(engine, "-", |a, b| a.f_sub(b), |a, b| a - b);
    binary(engine, "*", |a, b| a.f_mul(b), |a, b| a * b);
    binary(engine, "/", |a, b| a.f_div(b), |a, b| a / b);
    engine
        .register_fn("*", |a: f64, b: TensorValue| TensorValue(&b.0 * a))
        .register_fn("+", |a: f64, b: TensorValue| TensorValue(&b.0 + a))
        .register_fn("-", |a: TensorValue| TensorValue(-&a.0))
        .register_get("shape", |t: &mut TensorValue| -> Array { t.0.size().into_iter().map(Dynamic::from).collect() })
        .register_fn("item", |t: &mut TensorValue| guarded("item", || t.0.f_double_value(&[])))
        .register_fn("mean", |t: &mut TensorValue| TensorValue(t.0.to_kind(Kind::Float).mean(Kind::Float)))
        .register_fn("sum", |t: &mut TensorValue| TensorValue(t.0.sum(t.0.kind())))
        .register_fn("detach", |t: &mut TensorValue| TensorValue(t.0.detach()))
        .register_fn("float", |t: &mut TensorValue| TensorValue(t.0.to_kind(Kind::Float)))
        .register_fn("zeros_like", |t: &mut TensorValue| TensorValue(t.0.zeros_like()))
        .register_fn("ones_like", |t: &mut TensorValue| TensorValue(t.0.ones_like()))
        .register_fn("reshape", |t: &mut TensorValue, dims: Array| -> RhaiResult<TensorValue> {
            let dims: Vec<i64> = dims.iter().map(|d| d.as_int()).collect::<Result<_, _>>().map_err(|k| rt(format!("reshape: dimensions must be integers, found {k}")))?;
            guarded("reshape", || t.0.f_reshape(dims.as_slice()).map(TensorValue))
        })
        .register_fn("select", |t: &mut TensorValue, dim: i64, index: i64| guarded("select", || t.0.f_select(dim, index).map(TensorValue)))
        .register_fn("narrow", |t: &mut TensorValue, dim: i64, start: i64, len: i64| guarded("narrow", || t.0.f_narrow(dim, start, len).map(TensorValue)))
        .register_fn("t", |t: &mut TensorValue| guarded("t", || t.0.f_transpose(-2, -1).map(TensorValue)))
        .register_fn("argmax", |t: &mut TensorValue, dim: i64| guarded("argmax", || t.0.f_argmax(dim, false).map(TensorValue)))
        .register_fn("softmax", |t: &mut TensorValue, dim: i64| guarded("softmax", || t.0.f_softmax(dim, Kind::Float).map(TensorValue)))
        .register_fn("log_softmax", |t: &mut TensorValue, dim: i64| guarded("log_softmax", || t.0.f_log_softmax(dim, Kind::Float).map(TensorValue)))
        .register_fn("matmul", |a: &mut TensorValue, b: TensorValue| guarded("matmul", || a.0.f_matmul(&b.0).map(TensorValue)))
        .register_fn("eq", |a: &mut TensorValue, b: TensorValue| guarded("eq", || a.0.f_eq_tensor(&b.0).map(|t| TensorValue(t.to_kind(Kind::Float)))))
        .register_fn("to_string", |t: &mut TensorValue| format!("Tensor{:?} {:?}", t.0.size(), t.0.kind()))
        .register_fn("tensor", |values: Array| -> RhaiResult<TensorValue> {
            let xs: Vec<f64> = values.iter().map(|v| v.as_float().or_else(|_| v.as_int().map(|i| i as f64))).collect::<Result<_, _>>().map_err(|t| rt(format!("tensor: expected numbers, found {t}")))?;
            Ok(TensorValue(Tensor::from_slice(&xs).to_kind(Kind::Float)))
        })
        .register_fn("cat", |parts: Array, dim: i64| -> RhaiResult<TensorValue> {
            let ts: Vec<Tensor> = parts.iter().map(|p| to_tensor(p, "cat")).collect::<RhaiResult<_>>()?;
            guarded("cat", || Tensor::f_cat(&ts, dim).map(TensorValue))
        })
        .register_fn("cross_entropy", |logits: TensorValue, targets: TensorValue| {
            // logits [B, C] float, targets [B] i64 → mean loss []
            guarded("cross_entropy", || {
                logits.0.f_log_softmax(-1, Kind::Float)?.f_nll_loss(&targets.0.to_kind(Kind::Int64), None::<Tensor>, tch::Reduction::Mean, -100).map(TensorValue)
            })
        });

    let s = session.clone();
    engine
        .register_fn("encode", |e: &mut EncoderHandle, x: TensorValue| -> RhaiResult<TensorValue> {
            // x: the encoder's input batch, e.g. images [B, C, H, W] → [B, D]
            e.0.encode(&x.0, training()).map(TensorValue).map_err(rt)
        })
        .register_fn("encode", move |t: &mut TokenizerHandle, texts: Array| -> RhaiResult<TensorValue> {
            let texts: Vec<String> = texts.into_iter().map(|d| if d.is_unit() { String::new() } else { d.to_string() }).collect();
            let ids = t.0.borrow().encode(&texts).map_err(rt)?; // [N, L] i64
            Ok(TensorValue(ids.to_device(s.borrow().device)))
        })
        .register_fn("compute", |l: &mut LossHandle, inputs: Map| -> RhaiResult<Map> {
            let mut map = TensorMap::new();
            for (k, v) in &inputs {
                map.insert(k.to_string(), &to_tensor(v, &format!("loss input `{k}`"))?);
            }
            let out = l.0.compute(&map, training()).map_err(rt)?;
            let mut result = Map::new();
            result.insert("loss".into(), Dynamic::from(TensorValue(out.loss)));
            for (k, t) in out.logs {
                result.insert(k.into(), Dynamic::from(TensorValue(t)));
            }
            Ok(result)
        })
        .register_fn("compute", |m: &mut MetricHandle, inputs: Map| -> RhaiResult<Map> {
            let mut map = TensorMap::new();
            for (k, v) in &inputs {
                map.insert(k.to_string(), &to_tensor(v, &format!("metric input `{k}`"))?);
            }
            Ok(m.0.compute(&map).map_err(rt)?.into_iter().map(|(k, v)| (k.into(), Dynamic::from_float(v))).collect())
        })
        .register_fn("fuse", |f: &mut FusionHandle, features: Map, present: Map| fuse(f, features, Some(present)))
        .register_fn("fuse", |f: &mut FusionHandle, features: Map| fuse(f, features, None));

    let s = session.clone();
    engine
        .register_fn("linear", move |input: i64, output: i64, scope: &str| -> RhaiResult<LinearHandle> {
            if input < 1 || output < 1 {
                return Err(rt(format!("linear: dimensions must be >= 1, got {input} → {output}")));
            }
            let session = s.borrow();
            Ok(LinearHandle(std::rc::Rc::new(nn::linear(session.vs.root() / scope, input, output, Default::default()))))
        })
        .register_fn("forward", |l: &mut LinearHandle, x: TensorValue| {
            // x [.., in] → [.., out]
            guarded("linear forward", || {
                let y = x.0.f_matmul(&l.0.ws.tr())?;
                match &l.0.bs {
                    Some(b) => y.f_add(b).map(TensorValue),
                    None => Ok(TensorValue(y)),
                }
            })
        });
}

/// features: modality name → `[B, D]` (or `[B, T, D]`) features; present: modality name →
/// `[B]` bool mask (all present when missing) → the fusion's `[B, output_dim]`.
fn fuse(f: &FusionHandle, features: Map, present: Option<Map>) -> RhaiResult<TensorValue> {
    let mut batch = ModalityFeatures::new();
    for (name, v) in &features {
        let data = to_tensor(v, &format!("fuse: features `{name}`"))?;
        let mask = match present.as_ref().and_then(|p| p.get(name.as_str())) {
            Some(m) => to_tensor(m, &format!("fuse: presence `{name}`"))?.to_kind(Kind::Bool),
            None => Tensor::ones([data.size()[0]], (Kind::Bool, data.device())),
        };
        batch.insert(modality(name)?, ModalityBatch { data, present: mask });
    }
    f.0.fuse(&batch, training()).map(TensorValue).map_err(rt)
}
