//! Where logged numbers go besides metrics.jsonl: TensorBoard event files (`tb/`) and,
//! at the end of a run, PNG plots.
pub mod plots;
pub mod tensorboard;

pub use tensorboard::EventWriter;

/// The numeric fields of a metrics record, as TensorBoard scalars (`step` and `epoch`
/// are axes, not scalars).
pub fn scalars_of(record: &serde_json::Value) -> Vec<(String, f32)> {
    record
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != "step" && *k != "epoch")
                .filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f as f32)))
                .collect()
        })
        .unwrap_or_default()
}
