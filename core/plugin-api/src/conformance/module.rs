//! The checks for generic modules.
use tch::Tensor;

use super::{call, Report};
use crate::{Kind, Module, TensorMap};

fn describe(map: &TensorMap) -> String {
    map.iter().map(|(k, t)| format!("{k} {:?} {:?}", t.size(), t.kind())).collect::<Vec<_>>().join(", ")
}

/// The batch size shared by every input (their first dimension), or why there is none.
fn batch_of(inputs: &TensorMap) -> Result<i64, String> {
    let sizes: Vec<i64> = inputs.iter().map(|(_, t)| t.size().first().copied().unwrap_or(-1)).collect();
    match sizes.first() {
        Some(&b) if b >= 1 && sizes.iter().all(|&s| s == b) => Ok(b),
        _ => Err(format!("example inputs must be non-empty and share a leading batch dimension, got {}", describe(inputs))),
    }
}

fn same_outputs(a: &TensorMap, b: &TensorMap) -> Result<(), String> {
    if a.names() != b.names() {
        return Err(format!("outputs {:?} then {:?}", a.names(), b.names()));
    }
    for ((name, x), (_, y)) in a.iter().zip(b.iter()) {
        if x.size() != y.size() || x.kind() != y.kind() {
            return Err(format!("`{name}` is {:?} {:?} then {:?} {:?}", x.size(), x.kind(), y.size(), y.kind()));
        }
        if !x.to_device(tch::Device::Cpu).equal(&y.to_device(tch::Device::Cpu)) {
            return Err(format!("`{name}` differs between two eval-mode calls on the same inputs"));
        }
    }
    Ok(())
}

/// Generic module, on `inputs` (e.g. its [`Module::example_inputs`]). Checks: eval-mode
/// forward returns at least one output, each `[B, ..]` with the inputs' batch and finite
/// when floating; two eval calls give identical outputs; a train-mode call gives the same
/// names and shapes; an empty input map, and each input with an extra trailing dimension
/// or as a scalar, are refused with an error (not a panic).
pub fn module(name: &str, module: &dyn Module, inputs: &TensorMap) -> Report {
    let mut r = Report::new(Kind::Module, name);
    let Some(batch) = r.step("example inputs share a batch dimension", || batch_of(inputs)) else { return r };
    let outputs = r.step("forward in eval mode: [B, ..] outputs, finite", || {
        let out = tch::no_grad(|| call(|| module.forward(inputs, false))).ok()?;
        if out.is_empty() {
            return Err("returned no outputs".into());
        }
        for (k, t) in out.iter() {
            if t.size().first() != Some(&batch) {
                return Err(format!("output `{k}` is {:?}; expected batch {batch} first (inputs: {})", t.size(), describe(inputs)));
            }
            if t.is_floating_point() && t.isfinite().logical_not().any().int64_value(&[]) != 0 {
                return Err(format!("output `{k}` has NaN or infinite values"));
            }
        }
        Ok(out)
    });
    let Some(outputs) = outputs else { return r };
    r.step("eval mode is deterministic", || {
        let again = tch::no_grad(|| call(|| module.forward(inputs, false))).ok()?;
        same_outputs(&outputs, &again)
    });
    r.step("train mode gives the same names and shapes", || {
        let train = call(|| module.forward(inputs, true)).ok()?;
        let shapes = |m: &TensorMap| m.iter().map(|(k, t)| (k.to_string(), t.size())).collect::<Vec<_>>();
        if shapes(&train) != shapes(&outputs) {
            return Err(format!("train mode gave {}, eval mode {}", describe(&train), describe(&outputs)));
        }
        Ok(())
    });
    r.step("missing or misshapen inputs are errors", || {
        call(|| module.forward(&TensorMap::new(), false)).must_fail("an empty input map")?;
        for (k, t) in inputs.iter() {
            let replaced = |bad: &Tensor| inputs.iter().fold(TensorMap::new(), |m, (n, x)| m.with(n, if n == k { bad } else { x }));
            call(|| module.forward(&replaced(&t.unsqueeze(-1)), false)).must_fail(&format!("`{k}` with an extra trailing dimension"))?;
            let scalar = Tensor::from(1i64).to_kind(t.kind()).to_device(t.device());
            call(|| module.forward(&replaced(&scalar), false)).must_fail(&format!("`{k}` as a scalar"))?;
        }
        Ok(())
    });
    r
}
