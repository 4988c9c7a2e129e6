//! Generic modules in scripts: `build_module("causal_lm", cfg[, scope])` builds one by
//! registry name (not `module(..)`: Rhai reserves that keyword); `m.forward(#{tokens: t, prefix: p})` → a map of output tensors. Input values may
//! be tensors, numbers (scalar tensors: ints → i64, floats → f32) or rectangular nested
//! arrays (ints → i64, otherwise f32), so token ids can be written inline:
//! `lm.forward(#{tokens: [[5, 6, 7]], max_new_tokens: 3})`. Also `x.long()` (→ i64) and
//! `x.to_list()` (→ nested arrays), for token ids going in and out.
use std::rc::Rc;

use plexus_plugin::{Module, TensorMap};
use rhai::{Array, Dynamic, Engine, Map};
use tch::{Device, Kind, Tensor};

use super::api_config::hparams_of;
use super::api_tensor::{training, TensorValue};
use super::convert::{rt, RhaiResult};
use super::Shared;

#[derive(Clone)]
pub struct ModuleHandle(pub Rc<Box<dyn Module>>);

/// Flattens a nested array into `values`, recording each level's length in `shape`.
fn flatten(v: &Dynamic, depth: usize, shape: &mut Vec<i64>, values: &mut Vec<Dynamic>, what: &str) -> RhaiResult<()> {
    match v.read_lock::<Array>() {
        Some(items) => {
            if shape.len() == depth {
                shape.push(items.len() as i64);
            } else if shape.get(depth) != Some(&(items.len() as i64)) {
                return Err(rt(format!("{what}: nested arrays must be rectangular (a row of {} where {:?} was expected)", items.len(), shape.get(depth))));
            }
            items.iter().try_for_each(|item| flatten(item, depth + 1, shape, values, what))
        }
        None if shape.len() == depth => {
            values.push(v.clone());
            Ok(())
        }
        None => Err(rt(format!("{what}: nested arrays must be rectangular (found {} beside arrays)", v.type_name()))),
    }
}

/// A script value as a tensor on `device`: tensors pass through, numbers and nested arrays
/// are converted (all integers → i64, otherwise f32).
fn input_tensor(v: &Dynamic, device: Device, what: &str) -> RhaiResult<Tensor> {
    if let Some(t) = v.read_lock::<TensorValue>() {
        return Ok(t.0.shallow_clone());
    }
    let (mut shape, mut values) = (Vec::new(), Vec::new());
    flatten(v, 0, &mut shape, &mut values, what)?;
    let ints: Option<Vec<i64>> = values.iter().map(|x| x.as_int().ok()).collect();
    let t = match ints {
        Some(ints) => Tensor::from_slice(&ints),
        None => {
            let floats: Vec<f64> = values
                .iter()
                .map(|x| x.as_float().or_else(|_| x.as_int().map(|i| i as f64)))
                .collect::<Result<_, _>>()
                .map_err(|t| rt(format!("{what}: expected a tensor, numbers or nested arrays of numbers, found {t}")))?;
            Tensor::from_slice(&floats).to_kind(Kind::Float)
        }
    };
    Ok(t.reshape(shape.as_slice()).to_device(device))
}

/// A tensor as nested arrays: ints for integer and bool tensors, floats otherwise.
fn to_list(t: &Tensor) -> RhaiResult<Dynamic> {
    let t = t.detach().to_device(Device::Cpu);
    if t.dim() == 0 {
        return Ok(if t.is_floating_point() { Dynamic::from_float(t.double_value(&[])) } else { Dynamic::from_int(t.int64_value(&[])) });
    }
    let rows: Array = (0..t.size()[0]).map(|i| to_list(&t.get(i))).collect::<RhaiResult<_>>()?;
    Ok(rows.into())
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine.register_type_with_name::<ModuleHandle>("Module");
    let s = session.clone();
    let build = move |component: &str, cfg: Dynamic, scope: Option<&str>| -> RhaiResult<ModuleHandle> {
        let hp = hparams_of(&cfg, &format!("build_module `{component}`"))?;
        let mut session = s.borrow_mut();
        let scope = session.param_scope(component, scope);
        let path = session.vs.root() / scope.as_str();
        let before = session.vs.variables().len();
        let built = session.registry.module(component, &path, &hp).map_err(rt)?;
        let prefix = format!("{scope}.");
        let params: i64 = session.vs.variables().iter().filter(|(n, _)| n.starts_with(&prefix)).map(|(_, t)| t.numel() as i64).sum();
        let added = session.vs.variables().len() - before;
        session.report.push(format!("module {component:<18} scope `{scope}`, {added} tensors, {params} parameters, config from {}", hp.origin));
        Ok(ModuleHandle(Rc::new(built)))
    };
    let b = build.clone();
    engine.register_fn("build_module", move |component: &str, cfg: Dynamic| b(component, cfg, None));
    engine.register_fn("build_module", move |component: &str, cfg: Dynamic, scope: &str| build(component, cfg, Some(scope)));

    let s = session.clone();
    engine
        .register_fn("forward", move |m: &mut ModuleHandle, inputs: Map| -> RhaiResult<Map> {
            let device = s.borrow().device;
            let mut map = TensorMap::new();
            for (k, v) in &inputs {
                map.insert(k.to_string(), &input_tensor(v, device, &format!("module input `{k}`"))?);
            }
            let out = m.0.forward(&map, training()).map_err(rt)?;
            Ok(out.iter().map(|(k, t)| (k.into(), Dynamic::from(TensorValue(t.shallow_clone())))).collect())
        })
        .register_fn("long", |t: &mut TensorValue| TensorValue(t.0.to_kind(Kind::Int64)))
        .register_fn("to_list", |t: &mut TensorValue| to_list(&t.0));
}
