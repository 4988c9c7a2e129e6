//! `plexus plugins --check DIR`: load every plugin in one folder and run the conformance
//! kit (`plexus_plugin::conformance`) on each component, built with its default config.
//! What each kind is checked for, and which inputs are derived, is documented on
//! `conformance::check_component` and in docs/writing-plugins.md.
use std::path::Path;

use plexus_plugin::abi::Fingerprint;
use plexus_plugin::conformance::{self, Report};
use serde_json::{json, Value};

use super::{PluginRecord, Registry};

/// The conformance reports of one loaded plugin.
pub struct CheckedPlugin {
    pub record: PluginRecord,
    pub components: Vec<Report>,
}

/// Everything found in the folder: checked plugins and refused libraries.
pub struct FolderCheck {
    pub registry: Registry,
    pub plugins: Vec<CheckedPlugin>,
}

impl FolderCheck {
    pub fn is_ok(&self) -> bool {
        self.registry.refused.is_empty() && !self.plugins.is_empty() && self.plugins.iter().all(|p| p.components.iter().all(Report::is_ok))
    }
}

/// Loads the plugins in `dir` (only there) and checks every component they register.
pub fn check_folder(dir: &Path) -> FolderCheck {
    let registry = Registry::discover(&[dir.to_path_buf()]);
    let plugins = registry
        .plugins
        .iter()
        .map(|record| {
            let components = record
                .components
                .iter()
                .filter_map(|info| registry.factory_of(info.kind, &info.name).map(|f| conformance::check_component(info, f)))
                .collect();
            CheckedPlugin { record: record.clone(), components }
        })
        .collect();
    FolderCheck { registry, plugins }
}

pub fn check_text(check: &FolderCheck) -> String {
    let host = Fingerprint::current().to_string();
    let mut out = String::new();
    for p in &check.plugins {
        let r = &p.record;
        out.push_str(&format!("{} {}  ({})\n", r.name, r.version, r.path.display()));
        let same = if r.fingerprint == host { "matches this host" } else { "differs from this host" };
        out.push_str(&format!("  fingerprint {}  ({same})\n", r.fingerprint));
        for c in &p.components {
            out.push_str(&format!("  {}\n", c.to_string().replace('\n', "\n  ")));
        }
        if p.components.is_empty() {
            out.push_str("  (no components)\n");
        }
    }
    for r in &check.registry.refused {
        out.push_str(&format!("REFUSED {}\n  {}\n", r.path.display(), r.reason.replace('\n', "\n  ")));
    }
    let failing = check.plugins.iter().filter(|p| !p.components.iter().all(Report::is_ok)).count();
    out.push_str(&format!(
        "{} plugin(s) checked in {}: {} with conformance failures, {} refused\n",
        check.plugins.len(),
        check.registry.searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        failing,
        check.registry.refused.len()
    ));
    out
}

pub fn check_json(check: &FolderCheck) -> Value {
    let report = |c: &Report| {
        json!({
            "kind": c.kind.name(), "name": c.component, "ok": c.is_ok(), "passed": c.passed,
            "failures": c.failures.iter().map(|f| json!({"check": f.check, "message": f.message})).collect::<Vec<_>>(),
            "skipped": c.skipped,
        })
    };
    let plugins: Vec<Value> = check
        .plugins
        .iter()
        .map(|p| {
            json!({
                "name": p.record.name, "version": p.record.version, "path": p.record.path.display().to_string(),
                "fingerprint": p.record.fingerprint, "components": p.components.iter().map(report).collect::<Vec<_>>(),
            })
        })
        .collect();
    let refused: Vec<Value> =
        check.registry.refused.iter().map(|r| json!({"path": r.path.display().to_string(), "reason": r.reason})).collect();
    json!({"ok": check.is_ok(), "plugins": plugins, "refused": refused})
}
