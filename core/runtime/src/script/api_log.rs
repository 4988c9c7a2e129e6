//! Logging and run facts from scripts: `log`, `log_text`, `summary`, `seed`, `device`,
//! `run_dir`.
use rhai::{Dynamic, Engine, Map};

use super::convert::{rt, to_json, RhaiResult};
use super::Shared;

pub fn register(engine: &mut Engine, session: &Shared) {
    let s = session.clone();
    engine.register_fn("log", move |values: Map| -> RhaiResult<()> {
        let session = s.borrow();
        if session.replaying.get() {
            return Ok(()); // a resumed run re-executes this line; it is already in metrics.jsonl
        }
        let mut record = serde_json::json!({ "step": session.step });
        if let serde_json::Value::Object(extra) = to_json(&Dynamic::from_map(values))? {
            record.as_object_mut().expect("object").extend(extra);
        }
        let result = session.run.borrow_mut().log_metrics(&record);
        result.map_err(rt)
    });

    let s = session.clone();
    engine.register_fn("log_text", move |tag: &str, text: &str| -> RhaiResult<()> {
        let session = s.borrow();
        if session.replaying.get() {
            return Ok(());
        }
        let record = serde_json::json!({ "step": session.step, "tag": tag, "text": text });
        let result = session.run.borrow_mut().log_metrics(&record);
        result.map_err(rt)
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
    engine.register_fn("run_dir", move || s.borrow().run.borrow().path().display().to_string());
}
