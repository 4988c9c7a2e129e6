//! `config()` and the `Config` type: `cfg.train.epochs`, `cfg.get("k", default)`,
//! `cfg.model.text.merge(#{vocab_size: 40})`, `cfg.keys()`.
use plexus_plugin::Hparams;
use rhai::{Dynamic, Engine, Map};

use super::convert::{rt, to_dynamic, to_json, RhaiResult};
use super::Shared;
use crate::config::ConfigNode;

fn child(node: &mut ConfigNode, key: &str) -> RhaiResult<Dynamic> {
    match node.child(key).map_err(rt)? {
        Ok(section) => Ok(Dynamic::from(section)),
        Err(value) => to_dynamic(&value),
    }
}

pub fn register(engine: &mut Engine, session: &Shared) {
    let s = session.clone();
    engine
        .register_type_with_name::<ConfigNode>("Config")
        .register_fn("config", move || {
            let s = s.borrow();
            ConfigNode::root(&s.config.file, s.config.root.clone())
        })
        // `cfg.train` falls back to this indexer, so both spellings work.
        .register_indexer_get(child)
        .register_fn("get", |node: &mut ConfigNode, key: &str, default: Dynamic| -> RhaiResult<Dynamic> {
            match node.value().get(key) {
                Some(_) => child(node, key),
                None => Ok(default),
            }
        })
        .register_fn("has", |node: &mut ConfigNode, key: &str| node.value().get(key).is_some())
        .register_fn("keys", |node: &mut ConfigNode| -> rhai::Array { node.keys().into_iter().map(Dynamic::from).collect() })
        .register_fn("merge", |node: &mut ConfigNode, overlay: Map| -> RhaiResult<ConfigNode> {
            Ok(node.with(&to_json(&Dynamic::from_map(overlay))?))
        })
        .register_fn("merge", |node: &mut ConfigNode, overlay: ConfigNode| node.with(overlay.value()))
        .register_fn("to_map", |node: &mut ConfigNode| to_dynamic(node.value()))
        .register_fn("to_string", |node: &mut ConfigNode| format!("{}: {}", node.path(), node.value()))
        .register_fn("to_debug", |node: &mut ConfigNode| format!("Config({}: {})", node.path(), node.value()));
}

/// A component config given as a `Config` section or a literal map.
pub fn hparams_of(arg: &Dynamic, what: &str) -> RhaiResult<Hparams> {
    if let Some(node) = arg.clone().try_cast::<ConfigNode>() {
        return Ok(node.hparams());
    }
    if arg.is_map() || arg.is_unit() {
        return Ok(Hparams::new(to_json(arg)?, format!("script map for {what}")));
    }
    Err(rt(format!("{what}: config must be a config section (e.g. cfg.model.image) or a map, got {}", arg.type_name())))
}
