//! Building components by registry name: `encoder("vit", cfg.model.image)`,
//! `fusion`, `tokenizer`, `loss`, `sampler`, `masking`, `metric`. An optional last
//! argument names the parameter scope (e.g. `"visual"`), which becomes the checkpoint
//! key prefix.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{MaskingContext, Modality, Presence};
use rhai::{Array, Dynamic, Engine, Map};
use tch::Tensor;

use super::api_config::hparams_of;
use super::convert::{rt, RhaiResult};
use super::handles::{DatasetHandle, EncoderHandle, FusionHandle, LossHandle, MaskingHandle, MetricHandle, ModelHandle, SamplerHandle, TokenizerHandle};
use super::Shared;

/// Registers `name(component, cfg)` and `name(component, cfg, scope)` for one kind.
macro_rules! constructor {
    ($engine:expr, $session:expr, $fn_name:literal, $method:ident, $wrap:expr) => {{
        let s = $session.clone();
        let build = move |component: &str, cfg: Dynamic, scope: Option<&str>| -> RhaiResult<Dynamic> {
            let hp = hparams_of(&cfg, &format!("{} `{component}`", $fn_name))?;
            let mut session = s.borrow_mut();
            let scope = session.param_scope(component, scope);
            let path = session.vs.root() / scope.as_str();
            let before = session.vs.variables().len();
            let built = session.registry.$method(component, &path, &hp).map_err(rt)?;
            let params: i64 = session.vs.variables().iter().filter(|(n, _)| n.starts_with(&format!("{scope}."))).map(|(_, t)| t.numel() as i64).sum();
            let added = session.vs.variables().len() - before;
            session.report.push(format!("{} {component:<18} scope `{scope}`, {added} tensors, {params} parameters, config from {}", $fn_name, hp.origin));
            Ok(Dynamic::from($wrap(built)))
        };
        let b = build.clone();
        $engine.register_fn($fn_name, move |component: &str, cfg: Dynamic| b(component, cfg, None));
        $engine.register_fn($fn_name, move |component: &str, cfg: Dynamic, scope: &str| build(component, cfg, Some(scope)));
    }};
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine
        .register_type_with_name::<EncoderHandle>("Encoder")
        .register_type_with_name::<TokenizerHandle>("Tokenizer")
        .register_type_with_name::<LossHandle>("Loss")
        .register_type_with_name::<SamplerHandle>("Sampler")
        .register_type_with_name::<MetricHandle>("Metric")
        .register_type_with_name::<FusionHandle>("Fusion")
        .register_type_with_name::<MaskingHandle>("Masking");
    constructor!(engine, session, "encoder", encoder, |b| EncoderHandle(Rc::new(b)));
    constructor!(engine, session, "tokenizer", tokenizer, |b| TokenizerHandle(Rc::new(RefCell::new(b))));
    constructor!(engine, session, "loss", loss, |b| LossHandle(Rc::new(b)));
    constructor!(engine, session, "sampler", sampler, |b| SamplerHandle(Rc::new(b)));
    constructor!(engine, session, "metric", metric, |b| MetricHandle(Rc::new(b)));
    constructor!(engine, session, "fusion", fusion, |b| FusionHandle(Rc::new(b)));
    constructor!(engine, session, "masking", masking, |b| MaskingHandle(Rc::new(b)));

    engine
        .register_get("output_dim", |e: &mut EncoderHandle| e.0.output_dim())
        .register_get("modality", |e: &mut EncoderHandle| e.0.modality().name().to_string())
        .register_get("output_dim", |f: &mut FusionHandle| f.0.output_dim())
        .register_get("vocab_size", |t: &mut TokenizerHandle| t.0.borrow().vocab_size())
        // Fits on every caption the dataset's templates can produce.
        .register_fn("fit", |t: &mut TokenizerHandle, data: DatasetHandle| -> RhaiResult<()> {
            t.0.borrow_mut().fit(&data.0.all_captions()).map_err(rt)
        })
        .register_fn("fit", |t: &mut TokenizerHandle, corpus: rhai::Array| -> RhaiResult<()> {
            let texts: Vec<String> = corpus.into_iter().map(|d| d.to_string()).collect();
            t.0.borrow_mut().fit(&texts).map_err(rt)
        });

    // `model.with_fusion(fusion[, masking])`: the loss also gets `fused_embeds` (and the
    // trainer passes `labels`), e.g. for `loss("fused_classification", ..)`.
    engine
        .register_fn("with_fusion", |m: &mut ModelHandle, f: FusionHandle| -> RhaiResult<ModelHandle> {
            Ok(ModelHandle(Rc::new(m.0.with_fusion(f.0, None).map_err(rt)?)))
        })
        .register_fn("with_fusion", |m: &mut ModelHandle, f: FusionHandle, masking: MaskingHandle| -> RhaiResult<ModelHandle> {
            Ok(ModelHandle(Rc::new(m.0.with_fusion(f.0, Some(masking.0)).map_err(rt)?)))
        });

    let s = session.clone();
    engine.register_fn("mask", move |m: &mut MaskingHandle, presence: Map, at: Map| -> RhaiResult<Map> {
        let seed = s.borrow().seed;
        apply_masking(m, presence, at, seed)
    });
}

/// `masking.mask(#{image: [true, ..], text: [..]}, #{step, progress, epoch, epochs})`: the
/// presence a masking schedule keeps at that point of training, as arrays of booleans.
fn apply_masking(m: &MaskingHandle, presence: Map, at: Map, seed: u64) -> RhaiResult<Map> {
    let mut given = Presence::new();
    for (name, value) in presence {
        let modality = Modality::parse(&name).ok_or_else(|| rt(format!("mask: unknown modality `{name}` (use image, text, audio or video)")))?;
        let items = value.try_cast::<Array>().ok_or_else(|| rt(format!("mask: `{name}` must be an array of booleans")))?;
        let bits: Vec<bool> =
            items.into_iter().map(|b| b.as_bool().map_err(|_| rt(format!("mask: `{name}` must hold booleans only")))).collect::<RhaiResult<_>>()?;
        given.insert(modality, Tensor::from_slice(&bits));
    }
    if let Some(key) = at.keys().find(|k| !["step", "progress", "epoch", "epochs"].contains(&k.as_str())) {
        return Err(rt(format!("mask: unknown key `{key}` in the training position (use step, progress, epoch, epochs)")));
    }
    let int = |k: &str| at.get(k).and_then(|v| v.as_int().ok()).unwrap_or(0).max(0) as usize;
    let progress = at.get("progress").and_then(|v| v.as_float().ok().or_else(|| v.as_int().ok().map(|i| i as f64))).unwrap_or(0.0);
    let ctx = MaskingContext::new(int("epoch"), int("epochs").max(1), int("step"), progress, seed);
    let kept = m.0.mask(&ctx, &given).map_err(rt)?;
    kept.into_iter()
        .map(|(modality, t)| {
            let bits = Vec::<bool>::try_from(&t).map_err(rt)?;
            Ok((modality.name().into(), Dynamic::from_array(bits.into_iter().map(Dynamic::from).collect())))
        })
        .collect()
}
