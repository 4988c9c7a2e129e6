//! Command-line overrides `a.b.c=value`. The value is parsed as a YAML scalar and must
//! keep the type the file gives that key (ints widen to floats). A key the file lacks is
//! an error with a suggestion, unless written `+a.b.c=value` (add a new key, as Hydra does).
use serde_json::Value;

use super::missing_key;
use crate::error::{Error, Result};

pub fn apply_override(root: &mut Value, assignment: &str) -> Result<()> {
    let fail = |message: String| Error::Override { assignment: assignment.to_string(), message };
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| fail("expected key.path=value".into()))?;
    let (adding, path) = match path.strip_prefix('+') {
        Some(p) => (true, p),
        None => (false, path),
    };
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(fail("empty key in path".into()));
    }
    let new: Value = super::parse_yaml("override", raw).map_err(|e| fail(e.to_string()))?;
    let new = if raw.trim().is_empty() { Value::String(String::new()) } else { new };
    let keys: Vec<&str> = path.split('.').collect();
    let (last, parents) = keys.split_last().expect("non-empty path");
    let mut node = &mut *root;
    for (i, key) in parents.iter().enumerate() {
        let here = keys[..=i].join(".");
        if node.get(*key).is_none() {
            return Err(fail(missing_key("config", node, &here, key).to_string()));
        }
        node = node.get_mut(*key).expect("checked");
        if !node.is_object() {
            return Err(fail(format!("`{here}` is not a map")));
        }
    }
    let map = node.as_object_mut().ok_or_else(|| fail("the root of the config is not a map".into()))?;
    match map.get(*last) {
        None if adding => {
            map.insert(last.to_string(), new);
            Ok(())
        }
        None => {
            let parent = Value::Object(map.clone());
            Err(fail(format!("{}; write `+{path}=...` to add a new key", missing_key("config", &parent, path, last))))
        }
        Some(old) => {
            let value = coerce(old, new).map_err(|m| fail(m))?;
            map.insert(last.to_string(), value);
            Ok(())
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// The new value if it has the old one's type (int → float allowed; null accepts anything).
fn coerce(old: &Value, new: Value) -> std::result::Result<Value, String> {
    let same = std::mem::discriminant(old) == std::mem::discriminant(&new);
    match (old, &new) {
        (Value::Null, _) => Ok(new),
        (Value::Number(o), Value::Number(n)) if o.is_f64() && !n.is_f64() => {
            Ok(serde_json::json!(n.as_f64().expect("numbers convert to f64")))
        }
        (Value::Number(o), Value::Number(n)) if !o.is_f64() && n.is_f64() => {
            Err(format!("expected an integer (the file has {old}), got the float {new}"))
        }
        _ if same => Ok(new),
        _ => Err(format!("expected {} (the file has {old}), got {} `{new}`", type_name(old), type_name(&new))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"train": {"epochs": 3, "lr": 0.001, "name": "x"}, "model": {"image": {"width": 64}}})
    }

    #[test]
    fn typed_overrides_apply() {
        let mut v = base();
        apply_override(&mut v, "train.epochs=5").unwrap();
        apply_override(&mut v, "train.lr=1").unwrap();
        apply_override(&mut v, "+model.image.dropout=0.1").unwrap();
        assert_eq!(v["train"]["epochs"], json!(5));
        assert_eq!(v["train"]["lr"], json!(1.0));
        assert_eq!(v["model"]["image"]["dropout"], json!(0.1));
    }

    #[test]
    fn wrong_type_is_refused_with_expected_type() {
        let err = apply_override(&mut base(), "train.epochs=many").unwrap_err().to_string();
        assert!(err.contains("train.epochs=many") && err.contains("expected an integer"), "{err}");
        let err = apply_override(&mut base(), "train.epochs=2.5").unwrap_err().to_string();
        assert!(err.contains("expected an integer"), "{err}");
    }

    #[test]
    fn unknown_key_suggests_and_mentions_plus() {
        let err = apply_override(&mut base(), "train.epoch=5").unwrap_err().to_string();
        assert!(err.contains("did you mean `epochs`"), "{err}");
        assert!(err.contains("+train.epoch"), "{err}");
        let err = apply_override(&mut base(), "trian.epochs=5").unwrap_err().to_string();
        assert!(err.contains("did you mean `train`"), "{err}");
    }

    #[test]
    fn malformed_assignment() {
        assert!(apply_override(&mut base(), "train.epochs").unwrap_err().to_string().contains("key.path=value"));
    }
}
