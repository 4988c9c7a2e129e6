//! Data, models, training, evaluation and logging from scripts.
use std::path::PathBuf;
use std::rc::Rc;

use plexus_plugin::{suggest, Metric};
use rhai::{Array, Dynamic, Engine, Map};
use serde::{Deserialize, Serialize};

use super::api_config::hparams_of;
use super::convert::{rt, to_dynamic, to_json, RhaiResult};
use super::handles::{DatasetHandle, EncoderHandle, LossHandle, MetricHandle, ModelHandle, SamplerHandle, TokenizerHandle, TrainerHandle};
use super::Shared;
use crate::data::load_fashion_mnist;
use crate::model::DualEncoder;
use crate::train::{TrainConfig, Trainer};

const DATASETS: [&str; 1] = ["fashion_mnist"];

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

fn load_dataset(name: &str, cfg: Dynamic) -> RhaiResult<DatasetHandle> {
    if !DATASETS.contains(&name) {
        return Err(rt(format!(
            "unknown dataset `{name}`{}; available: {}",
            suggest::did_you_mean(name, DATASETS),
            DATASETS.join(", ")
        )));
    }
    let c: CaptionedImagesConfig = hparams_of(&cfg, &format!("dataset `{name}`"))?.parse().map_err(rt)?;
    let mut data = load_fashion_mnist(&PathBuf::from(&c.root), &c.split, c.templates).map_err(rt)?;
    if c.limit > 0 && c.limit < data.len() {
        data.images = data.images.narrow(0, 0, c.limit as i64);
        data.labels.truncate(c.limit);
    }
    Ok(DatasetHandle(Rc::new(data)))
}

fn scores_to_map(scores: Vec<(String, f64)>) -> Map {
    scores.into_iter().map(|(k, v)| (k.into(), Dynamic::from_float(v))).collect()
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine
        .register_type_with_name::<DatasetHandle>("Dataset")
        .register_type_with_name::<ModelHandle>("Model")
        .register_type_with_name::<TrainerHandle>("Trainer")
        .register_fn("dataset", load_dataset)
        .register_get("len", |d: &mut DatasetHandle| d.0.len() as i64)
        .register_get("classes", |d: &mut DatasetHandle| -> Array { d.0.class_names.iter().cloned().map(Dynamic::from).collect() });

    let s = session.clone();
    engine.register_fn(
        "dual_encoder",
        move |image: EncoderHandle, text: EncoderHandle, tok: TokenizerHandle| -> RhaiResult<ModelHandle> {
            let device = s.borrow().device;
            Ok(ModelHandle(Rc::new(DualEncoder::new(image.0, text.0, tok.0, device).map_err(rt)?)))
        },
    );

    let s = session.clone();
    engine.register_fn(
        "trainer",
        move |model: ModelHandle, loss: LossHandle, sampler: SamplerHandle, cfg: Dynamic| -> RhaiResult<TrainerHandle> {
            let cfg: TrainConfig = hparams_of(&cfg, "trainer")?.parse().map_err(rt)?;
            let session = s.borrow();
            let t = Trainer::new(&session.vs, model.0, loss.0, sampler.0, cfg, session.seed).map_err(rt)?;
            Ok(TrainerHandle(Rc::new(std::cell::RefCell::new(t))))
        },
    );

    let s = session.clone();
    engine.register_fn("train_epoch", move |t: &mut TrainerHandle, data: DatasetHandle| -> RhaiResult<Map> {
        let mut session = s.borrow_mut();
        let mut trainer = t.0.borrow_mut();
        let stats = trainer.train_epoch(&data.0, &mut session.run).map_err(rt)?;
        session.step = trainer.step;
        let record = serde_json::json!({
            "step": trainer.step, "epoch": stats.epoch, "train/epoch_loss": stats.loss,
            "train/examples_per_second": stats.examples_per_second, "train/epoch_seconds": stats.seconds,
        });
        session.run.log_metrics(&record).map_err(rt)?;
        to_dynamic(&serde_json::to_value(&stats).map_err(rt)?)?.try_cast::<Map>().ok_or_else(|| rt("epoch stats"))
    });
    engine.register_get("epochs", |t: &mut TrainerHandle| t.0.borrow().config().epochs as i64);
    engine.register_get("step", |t: &mut TrainerHandle| t.0.borrow().step as i64);

    engine.register_fn("evaluate", |model: ModelHandle, data: DatasetHandle, metrics: Array| -> RhaiResult<Map> {
        let handles: Vec<MetricHandle> = metrics
            .into_iter()
            .map(|m| m.try_cast::<MetricHandle>().ok_or_else(|| rt("evaluate: every element of the list must be a metric(...)")))
            .collect::<RhaiResult<_>>()?;
        let refs: Vec<&dyn Metric> = handles.iter().map(|h| h.0.as_ref().as_ref()).collect();
        let scores = crate::eval::evaluate(&model.0, &data.0, &refs, 1000).map_err(rt)?;
        Ok(scores_to_map(scores))
    });

    let s = session.clone();
    engine.register_fn("log", move |values: Map| -> RhaiResult<()> {
        let mut session = s.borrow_mut();
        let mut record = serde_json::json!({ "step": session.step });
        if let serde_json::Value::Object(extra) = to_json(&Dynamic::from_map(values))? {
            record.as_object_mut().expect("object").extend(extra);
        }
        session.run.log_metrics(&record).map_err(rt)
    });

    let s = session.clone();
    engine.register_fn("summary", move |values: Map| -> RhaiResult<()> {
        if let serde_json::Value::Object(extra) = to_json(&Dynamic::from_map(values))? {
            s.borrow_mut().summary.extend(extra);
        }
        Ok(())
    });

    let s = session.clone();
    engine.register_fn("seed", move || s.borrow().seed as i64);
    let s = session.clone();
    engine.register_fn("device", move || crate::device::describe(s.borrow().device));
    let s = session.clone();
    engine.register_fn("run_dir", move || s.borrow().run.path().display().to_string());
}
