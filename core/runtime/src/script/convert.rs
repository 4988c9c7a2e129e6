//! JSON ↔ Rhai values. YAML ints stay Rhai ints and floats stay floats.
use rhai::{Dynamic, EvalAltResult};
use serde_json::Value;

pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub fn to_dynamic(v: &Value) -> RhaiResult<Dynamic> {
    rhai::serde::to_dynamic(v)
}

pub fn to_json(d: &Dynamic) -> RhaiResult<Value> {
    rhai::serde::from_dynamic(d)
}

/// Any error as a Rhai runtime error (the engine adds the script position).
pub fn rt(e: impl std::fmt::Display) -> Box<EvalAltResult> {
    e.to_string().into()
}
