//! The only module that touches serde_yaml (deprecated upstream; kept swappable).
use serde_json::Value;

use crate::error::{Error, Result};

/// Parses YAML text into a JSON tree; syntax errors carry `file:line:column`.
pub fn parse_yaml(file: &str, text: &str) -> Result<Value> {
    let mut yaml: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        Error::Yaml { file: file.to_string(), line, column, message: strip_location(&e.to_string()) }
    })?;
    // `<<: *anchor` merge keys, so one preset section can extend another.
    yaml.apply_merge().map_err(|e| Error::Config { file: file.to_string(), key: "<<".into(), message: e.to_string() })?;
    let json = serde_json::to_value(&yaml).map_err(|e| Error::Config {
        file: file.to_string(),
        key: "(root)".into(),
        message: format!("unsupported YAML value ({e}); use plain maps, lists, strings, numbers and booleans"),
    })?;
    Ok(match json {
        Value::Null => Value::Object(Default::default()),
        v => v,
    })
}

pub fn load_yaml_file(file: &str) -> Result<Value> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    parse_yaml(file, &text)
}

/// Serialises a tree back to YAML (for the run record).
pub fn to_yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}

/// serde_yaml appends " at line X column Y"; we print the location up front instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = parse_yaml("exp.yaml", "a: 1\nb: [1, 2\nc: 3\n").unwrap_err().to_string();
        assert!(err.starts_with("exp.yaml:"), "{err}");
        let parts: Vec<&str> = err.splitn(4, ':').collect();
        assert!(parts[1].parse::<usize>().unwrap() >= 2, "{err}");
        assert!(err.contains("YAML syntax error"), "{err}");
    }

    #[test]
    fn merge_keys_extend_a_section() {
        let v = parse_yaml("e.yaml", "a: &base {x: 1, y: 2}\nb:\n  <<: *base\n  y: 3\n").unwrap();
        assert_eq!(v["b"], serde_json::json!({"x": 1, "y": 3}));
    }

    #[test]
    fn ints_stay_ints_and_floats_floats() {
        let v = parse_yaml("e.yaml", "epochs: 3\nlr: 1.0e-3\n").unwrap();
        assert!(v["epochs"].is_i64());
        assert!(v["lr"].is_f64());
    }
}
