//! Data, models and evaluation from scripts: `dataset`, `dual_encoder`, `evaluate`,
//! `on_eval`, `export_embeddings`.
use std::path::PathBuf;
use std::rc::Rc;

use plexus_plugin::{suggest, Metric};
use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};
use serde::{Deserialize, Serialize};

use super::api_config::hparams_of;
use super::convert::{rt, RhaiResult};
use super::handles::{DatasetHandle, EncoderHandle, MetricHandle, ModelHandle, TokenizerHandle};
use super::Shared;
use crate::data::load_fashion_mnist;
use crate::model::DualEncoder;

const DATASETS: [&str; 3] = ["fashion_mnist", "manifest", "webdataset"];

/// `dataset("fashion_mnist", cfg)` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CaptionedImagesConfig {
    /// Folder with the dataset files (relative to the working directory).
    root: String,
    split: String,
    /// Caption templates, each with one `{}` for the class name.
    templates: Vec<String>,
    /// Use only the first N examples (0 = all); for quick tests.
    limit: usize,
}

impl Default for CaptionedImagesConfig {
    fn default() -> Self {
        Self { root: "data/fashion-mnist".into(), split: "train".into(), templates: vec!["a photo of a {}.".into()], limit: 0 }
    }
}

/// Examples kept per dataset under `plexus check`.
const CHECK_EXAMPLES: usize = 64;

fn load_dataset(name: &str, cfg: Dynamic, check: bool) -> RhaiResult<DatasetHandle> {
    if !DATASETS.contains(&name) {
        return Err(rt(format!(
            "unknown dataset `{name}`{}; available: {}",
            suggest::did_you_mean(name, DATASETS),
            DATASETS.join(", ")
        )));
    }
    let c: CaptionedImagesConfig = hparams_of(&cfg, &format!("dataset `{name}`"))?.parse().map_err(rt)?;
    let mut data = load_fashion_mnist(&PathBuf::from(&c.root), &c.split, c.templates).map_err(rt)?;
    let full = data.len();
    let limit = if check { CHECK_EXAMPLES.min(if c.limit > 0 { c.limit } else { usize::MAX }) } else { c.limit };
    if limit > 0 && limit < data.len() {
        data.images = data.images.narrow(0, 0, limit as i64);
        data.labels.truncate(limit);
    }
    tracing::debug!("dataset {name} {}: {} of {full} examples", c.split, data.len());
    Ok(DatasetHandle(Rc::new(data)))
}

pub fn scores_to_map(scores: Vec<(String, f64)>) -> Map {
    scores.into_iter().map(|(k, v)| (k.into(), Dynamic::from_float(v))).collect()
}

/// The end of every `evaluate` overload: records each score's protocol for the summary,
/// then calls the `on_eval` hooks with the scores and the split.
pub fn finish_evaluation(s: &Shared, ctx: &NativeCallContext, raw: Vec<(String, f64)>, protocol: &str, split: &str) -> RhaiResult<Map> {
    s.borrow_mut().protocols.extend(raw.iter().map(|(k, _)| (k.clone(), protocol.to_string())));
    let scores = scores_to_map(raw);
    let hooks = s.borrow().eval_hooks.clone();
    for hook in hooks {
        let _ = hook.call_within_context::<Dynamic>(ctx, (scores.clone(), split.to_string()))?;
    }
    Ok(scores)
}

/// The metrics list of an `evaluate(model, data, [metrics])` call.
pub fn metric_handles(metrics: Array) -> RhaiResult<Vec<MetricHandle>> {
    metrics
        .into_iter()
        .map(|m| m.try_cast::<MetricHandle>().ok_or_else(|| rt("evaluate: every element of the list must be a metric(...)")))
        .collect()
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine
        .register_type_with_name::<DatasetHandle>("Dataset")
        .register_type_with_name::<ModelHandle>("Model")
        .register_fn("dataset", {
            let s = session.clone();
            move |name: &str, cfg: Dynamic| -> RhaiResult<Dynamic> {
                let (check, seed) = (s.borrow().check, s.borrow().seed);
                if name == "manifest" || name == "webdataset" {
                    let cap = check.then_some(CHECK_EXAMPLES);
                    let d = if name == "manifest" { super::api_manifest::load(&cfg, cap, seed)? } else { super::api_webdataset::load(&cfg, cap, seed)? };
                    let modalities: Vec<&str> = d.0.modalities.iter().map(|m| m.name()).collect();
                    s.borrow_mut().report.push(format!("dataset {name} {} split `{}`: {} examples with {}", d.0.loader.name(), d.0.split, d.0.loader.len(), modalities.join(", ")));
                    return Ok(Dynamic::from(d));
                }
                let d = load_dataset(name, cfg, check)?;
                s.borrow_mut().report.push(format!("dataset {name} split `{}`: {} examples, {} classes, {} templates", d.0.split, d.0.len(), d.0.class_names.len(), d.0.templates.len()));
                Ok(Dynamic::from(d))
            }
        })
        .register_get("len", |d: &mut DatasetHandle| d.0.len() as i64)
        .register_get("split", |d: &mut DatasetHandle| d.0.split.clone())
        .register_get("classes", |d: &mut DatasetHandle| -> Array { d.0.class_names.iter().cloned().map(Dynamic::from).collect() });

    super::api_manifest::register(engine, session);

    let s = session.clone();
    engine.register_fn(
        "dual_encoder",
        move |image: EncoderHandle, text: EncoderHandle, tok: TokenizerHandle| -> RhaiResult<ModelHandle> {
            let device = s.borrow().device;
            Ok(ModelHandle(Rc::new(DualEncoder::new(image.0, text.0, tok.0, device).map_err(rt)?)))
        },
    );

    let s = session.clone();
    engine.register_fn("on_eval", move |f: FnPtr| s.borrow_mut().eval_hooks.push(f));

    let s = session.clone();
    engine.register_fn(
        "evaluate",
        move |ctx: NativeCallContext, model: ModelHandle, data: DatasetHandle, metrics: Array| -> RhaiResult<Map> {
            let handles = metric_handles(metrics)?;
            let refs: Vec<&dyn Metric> = handles.iter().map(|h| h.0.as_ref().as_ref()).collect();
            let raw = crate::eval::evaluate(&model.0, &data.0, &refs, 1000).map_err(rt)?;
            let protocol = crate::eval::protocol(&data.0);
            finish_evaluation(&s, &ctx, raw, &protocol, &data.0.split)
        },
    );

    let s = session.clone();
    engine.register_fn("export_embeddings", move |model: ModelHandle, data: DatasetHandle| -> RhaiResult<String> {
        let dir = s.borrow().run.borrow().path().join("embeddings");
        let path = dir.join(format!("{}.safetensors", data.0.split));
        crate::eval::export_embeddings(&model.0, &data.0, &path, 1000).map_err(rt)?;
        Ok(path.display().to_string())
    });
}
