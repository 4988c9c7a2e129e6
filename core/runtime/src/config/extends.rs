//! Presets extending presets: `extends: base.yaml` (relative to the file) loads the base
//! first and deep-merges this file over it; maps merge key by key, anything else replaces.
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::load_yaml_file;
use crate::error::{Error, Result};

/// Loads `file` with its `extends` chain resolved.
pub fn load_with_extends(file: &str) -> Result<Value> {
    load_chain(Path::new(file), &mut Vec::new())
}

fn load_chain(file: &Path, seen: &mut Vec<PathBuf>) -> Result<Value> {
    let shown = file.display().to_string();
    let canonical = file.canonicalize().map_err(|e| Error::io(file, e))?;
    if seen.contains(&canonical) {
        let chain: Vec<String> = seen.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Config { file: shown, key: "extends".into(), message: format!("cycle: {} extends itself again", chain.join(" -> ")) });
    }
    seen.push(canonical);
    let mut tree = load_yaml_file(&shown)?;
    let Some(parent) = tree.as_object_mut().and_then(|m| m.remove("extends")) else { return Ok(tree) };
    let base_name = parent.as_str().ok_or_else(|| Error::Config {
        file: shown.clone(),
        key: "extends".into(),
        message: format!("must be a file name, got {parent}"),
    })?;
    let base_path = file.parent().unwrap_or(Path::new(".")).join(base_name);
    if !base_path.exists() {
        return Err(Error::Config { file: shown, key: "extends".into(), message: format!("{} does not exist", base_path.display()) });
    }
    let mut base = load_chain(&base_path, seen)?;
    merge(&mut base, tree);
    Ok(base)
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn child_overrides_deeply_and_cycles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.yaml"), "train: {epochs: 3, lr: 0.1}\nname: base\n").unwrap();
        std::fs::write(dir.path().join("child.yaml"), "extends: base.yaml\ntrain: {epochs: 5}\n").unwrap();
        let v = load_with_extends(dir.path().join("child.yaml").to_str().unwrap()).unwrap();
        assert_eq!(v, json!({"train": {"epochs": 5, "lr": 0.1}, "name": "base"}));

        std::fs::write(dir.path().join("a.yaml"), "extends: b.yaml\n").unwrap();
        std::fs::write(dir.path().join("b.yaml"), "extends: a.yaml\n").unwrap();
        let err = load_with_extends(dir.path().join("a.yaml").to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("extends: cycle"), "{err}");

        std::fs::write(dir.path().join("c.yaml"), "extends: missing.yaml\n").unwrap();
        let err = load_with_extends(dir.path().join("c.yaml").to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("c.yaml: extends:") && err.contains("missing.yaml does not exist"), "{err}");
    }
}
