//! `plexus plugins`: what is installed, as text or JSON.
use plexus_plugin::Kind;
use serde_json::{json, Value};

use super::Registry;

pub fn listing_json(registry: &Registry) -> Value {
    let plugins: Vec<Value> = registry
        .plugins
        .iter()
        .map(|p| {
            let mut by_kind = serde_json::Map::new();
            for kind in Kind::ALL {
                let comps: Vec<Value> = p
                    .components
                    .iter()
                    .filter(|c| c.kind == kind)
                    .map(|c| json!({"name": c.name, "doc": c.doc, "config": c.defaults}))
                    .collect();
                if !comps.is_empty() {
                    by_kind.insert(kind.name().to_string(), Value::Array(comps));
                }
            }
            json!({
                "name": p.name, "version": p.version, "path": p.path.display().to_string(),
                "fingerprint": p.fingerprint, "components": by_kind,
            })
        })
        .collect();
    let refused: Vec<Value> = registry
        .refused
        .iter()
        .map(|r| json!({"path": r.path.display().to_string(), "reason": r.reason}))
        .collect();
    let searched: Vec<String> = registry.searched.iter().map(|p| p.display().to_string()).collect();
    json!({"plugins": plugins, "refused": refused, "searched": searched})
}

pub fn listing_text(registry: &Registry) -> String {
    let mut out = String::new();
    for p in &registry.plugins {
        out.push_str(&format!("{} {}  ({})\n", p.name, p.version, p.path.display()));
        for kind in Kind::ALL {
            for c in p.components.iter().filter(|c| c.kind == kind) {
                out.push_str(&format!("  {:<9} {:<18} {}\n", kind.name(), c.name, c.doc));
                if let Some(fields) = c.defaults.as_object() {
                    for (field, default) in fields {
                        out.push_str(&format!("  {:<28} {field}: {default}\n", ""));
                    }
                }
            }
        }
    }
    for r in &registry.refused {
        out.push_str(&format!("REFUSED {}\n  {}\n", r.path.display(), r.reason.replace('\n', "\n  ")));
    }
    if registry.plugins.is_empty() {
        let dirs: Vec<String> = registry.searched.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!("no plugins found in: {}\n", dirs.join(", ")));
    }
    out
}
