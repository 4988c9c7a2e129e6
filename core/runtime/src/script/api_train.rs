//! Training from scripts: `trainer(...)`, `train_epoch`, hooks (`on_step`,
//! `on_epoch_end`), `freeze`/`unfreeze`, `save_checkpoint`, and `early_stopping`.
use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::api_config::hparams_of;
use super::convert::{rt, to_dynamic, RhaiResult};
use super::api_manifest::{report_skipped, ManifestHandle};
use super::handles::{EarlyStopping, LossHandle, ModelHandle, SamplerHandle, TrainerHandle};
use super::Shared;
use crate::error::Error;
use crate::train::{EpochStats, StepEvent, TrainConfig, Trainer};

fn busy() -> Box<rhai::EvalAltResult> {
    rt("the trainer is running (hooks receive the step, epoch, loss and lr as a map instead)")
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine.register_type_with_name::<TrainerHandle>("Trainer").register_type_with_name::<EarlyStopping>("EarlyStopping");

    let s = session.clone();
    engine.register_fn(
        "trainer",
        move |model: ModelHandle, loss: LossHandle, sampler: SamplerHandle, cfg: Dynamic| -> RhaiResult<TrainerHandle> {
            let mut cfg: TrainConfig = hparams_of(&cfg, "trainer")?.parse().map_err(rt)?;
            let mut session = s.borrow_mut();
            session.report.push(format!(
                "trainer: {:?} lr {} ({:?} schedule), {} epochs, batch {}, precision {:?}",
                cfg.optimizer, cfg.lr, cfg.schedule, cfg.epochs, cfg.batch_size, cfg.precision
            ));
            if session.check {
                cfg.batch_size = cfg.batch_size.min(16).max(2 * cfg.accumulate);
            }
            let ckpt_dir = session.run.borrow().path().join("checkpoints");
            let resume = session.resume.take();
            let replaying = session.replaying.clone();
            let mut t = Trainer::new(&session.vs, model.0, loss.0, sampler.0, cfg, session.seed, ckpt_dir, resume, replaying)
                .map_err(rt)?;
            if session.check {
                t.limit_steps_per_epoch(1);
            }
            Ok(TrainerHandle { trainer: Rc::new(RefCell::new(t)), hooks: Default::default() })
        },
    );

    let s = session.clone();
    engine.register_fn(
        "train_epoch",
        move |ctx: NativeCallContext, t: &mut TrainerHandle, data: super::handles::DatasetHandle| -> RhaiResult<Map> {
            train_epoch_with(&ctx, &s, t, |trainer, run, on_step| trainer.train_epoch(&data.0, run, on_step))
        },
    );
    let s = session.clone();
    engine.register_fn(
        "train_epoch",
        move |ctx: NativeCallContext, t: &mut TrainerHandle, data: ManifestHandle| -> RhaiResult<Map> {
            let stats = train_epoch_with(&ctx, &s, t, |trainer, run, on_step| {
                trainer.train_epoch_files(&data.0.loader, &data.0.split, run, on_step)
            });
            report_skipped(&s, &data.0);
            stats
        },
    );

    engine
        .register_get("epochs", |t: &mut TrainerHandle| -> RhaiResult<i64> {
            Ok(t.trainer.try_borrow().map_err(|_| busy())?.config().epochs as i64)
        })
        .register_get("step", |t: &mut TrainerHandle| -> RhaiResult<i64> { Ok(t.trainer.try_borrow().map_err(|_| busy())?.step() as i64) })
        .register_fn("on_step", |t: &mut TrainerHandle, every: i64, f: FnPtr| -> RhaiResult<()> {
            if every < 1 {
                return Err(rt("on_step: `every` must be >= 1"));
            }
            t.hooks.borrow_mut().on_step.push((every as usize, f));
            Ok(())
        })
        .register_fn("on_epoch_end", |t: &mut TrainerHandle, f: FnPtr| t.hooks.borrow_mut().on_epoch_end.push(f))
        .register_fn("freeze", |t: &mut TrainerHandle, prefix: &str| set_frozen(t, prefix, true))
        .register_fn("unfreeze", |t: &mut TrainerHandle, prefix: &str| set_frozen(t, prefix, false))
        .register_fn("parameters", |t: &mut TrainerHandle| -> RhaiResult<rhai::Array> {
            let trainer = t.trainer.try_borrow_mut().map_err(|_| busy())?;
            let names = trainer.parameter_names();
            Ok(names.into_iter().map(Dynamic::from).collect())
        });

    let s = session.clone();
    engine.register_fn("save_checkpoint", move |t: &mut TrainerHandle| -> RhaiResult<String> {
        let run = s.borrow().run.clone();
        let mut trainer = t.trainer.try_borrow_mut().map_err(|_| busy())?;
        trainer.save_checkpoint(&run.borrow()).map_err(rt)?;
        let path = run.borrow().path().join("checkpoints/last.safetensors");
        Ok(path.display().to_string())
    });

    engine
        .register_fn("early_stopping", |metric: &str, patience: i64, mode: &str| -> RhaiResult<EarlyStopping> {
            EarlyStopping::new(metric, patience, mode).map_err(rt)
        })
        .register_fn("should_stop", |e: &mut EarlyStopping, scores: Map| -> RhaiResult<bool> {
            let value = scores
                .get(e.metric.as_str())
                .and_then(|v| v.as_float().ok().or_else(|| v.as_int().ok().map(|i| i as f64)))
                .ok_or_else(|| rt(format!("early_stopping: scores have no number `{}`", e.metric)))?;
            Ok(e.update(value))
        })
        .register_get("best", |e: &mut EarlyStopping| e.best);
}

fn set_frozen(t: &mut TrainerHandle, prefix: &str, frozen: bool) -> RhaiResult<i64> {
    let mut trainer = t.trainer.try_borrow_mut().map_err(|_| busy())?;
    let n = trainer.optimizer_mut().set_frozen(prefix, frozen);
    if n == 0 {
        let names = trainer.parameter_names();
        let scopes: std::collections::BTreeSet<&str> = names.iter().map(|n| n.split('.').next().unwrap_or("")).collect();
        return Err(rt(format!("no parameter name starts with `{prefix}` (scopes: {})", scopes.into_iter().collect::<Vec<_>>().join(", "))));
    }
    Ok(n as i64)
}

/// Runs one epoch through `epoch` with the script's step and epoch-end hooks; returns
/// the epoch stats as a map.
fn train_epoch_with(
    ctx: &NativeCallContext,
    s: &Shared,
    t: &mut TrainerHandle,
    epoch: impl FnOnce(&mut Trainer, &RefCell<crate::run_dir::RunDir>, &mut dyn FnMut(&StepEvent) -> crate::Result<()>) -> crate::Result<EpochStats>,
) -> RhaiResult<Map> {
    let run = s.borrow().run.clone();
    let hooks = t.hooks.borrow().clone();
    let mut on_step = |ev: &StepEvent| -> crate::Result<()> {
        s.borrow_mut().step = ev.step;
        for (every, f) in &hooks.on_step {
            if ev.step % every == 0 {
                let mut m = Map::new();
                m.insert("step".into(), (ev.step as i64).into());
                m.insert("epoch".into(), (ev.epoch as i64).into());
                m.insert("loss".into(), ev.loss.double_value(&[]).into());
                m.insert("lr".into(), ev.lr.into());
                let _ = f.call_within_context::<Dynamic>(ctx, (m,)).map_err(|e| Error::Script(e.to_string()))?;
            }
        }
        Ok(())
    };
    let stats = {
        let mut trainer = t.trainer.try_borrow_mut().map_err(|_| busy())?;
        let stats = epoch(&mut trainer, &run, &mut on_step).map_err(rt)?;
        s.borrow_mut().step = trainer.step();
        stats
    };
    let map = to_dynamic(&serde_json::to_value(&stats).map_err(rt)?)?.try_cast::<Map>().ok_or_else(|| rt("epoch stats"))?;
    for f in &hooks.on_epoch_end {
        let _ = f.call_within_context::<Dynamic>(ctx, (map.clone(),))?;
    }
    Ok(map)
}
