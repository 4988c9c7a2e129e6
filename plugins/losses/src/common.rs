//! Helpers the losses share: input look-up with shape checks, and the InfoNCE pieces.
use plexus_plugin::tch::{Kind, Reduction, Tensor};
use plexus_plugin::{Error, Result, TensorMap};

/// The input `name`, checked to have `rank` dimensions; `loss` names the caller in errors.
pub(crate) fn input<'a>(inputs: &'a TensorMap, name: &str, rank: usize, loss: &str, layout: &str) -> Result<&'a Tensor> {
    let t = inputs.get(name)?;
    if t.dim() != rank {
        return Err(Error::shape(format!("{loss} loss: `{name}` must be {layout}, got shape {:?}", t.size())));
    }
    Ok(t)
}

/// Like [`input`], for an input that may be absent.
pub(crate) fn optional_input<'a>(
    inputs: &'a TensorMap,
    name: &str,
    rank: usize,
    loss: &str,
    layout: &str,
) -> Result<Option<&'a Tensor>> {
    match inputs.get_opt(name) {
        Some(_) => input(inputs, name, rank, loss, layout).map(Some),
        None => Ok(None),
    }
}

/// Checks that every named `[B, D]` embedding has the shape of the first.
pub(crate) fn same_shape(loss: &str, named: &[(&str, &Tensor)]) -> Result<()> {
    let Some((first, reference)) = named.first() else { return Ok(()) };
    for (name, t) in &named[1..] {
        if t.size() != reference.size() {
            return Err(Error::shape(format!(
                "{loss} loss: `{name}` {:?} must have the shape of `{first}` {:?} (row i of each is one example)",
                t.size(),
                reference.size()
            )));
        }
    }
    Ok(())
}

/// Rows of `t` `[B, D]` scaled to unit L2 norm.
pub(crate) fn l2_normalize(t: &Tensor) -> Tensor {
    t / t.norm_scalaropt_dim(2.0, [-1], true).clamp_min(1e-12)
}

/// Cross-entropy of `logits` `[B, B]` against the diagonal (row i's positive is column i).
pub(crate) fn diagonal_ce(logits: &Tensor) -> Tensor {
    let b = logits.size()[0];
    let targets = Tensor::arange(b, (Kind::Int64, logits.device()));
    logits.cross_entropy_loss::<Tensor>(&targets, None, Reduction::Mean, -100, 0.0)
}
