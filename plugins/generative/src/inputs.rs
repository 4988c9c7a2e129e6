//! Input validation shared by the modules: every check names the component and input.
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Result, TensorMap};

/// `inputs[name]` as a floating tensor whose rank is one of `ranks` and whose last
/// dimension is `width`.
pub fn float_input<'a>(inputs: &'a TensorMap, name: &str, ranks: &[usize], width: i64, who: &str, shape: &str) -> Result<&'a Tensor> {
    let t = inputs.get(name)?;
    check_float(t, name, ranks, width, who, shape)?;
    Ok(t)
}

pub fn check_float(t: &Tensor, name: &str, ranks: &[usize], width: i64, who: &str, shape: &str) -> Result<()> {
    let size = t.size();
    if !ranks.contains(&size.len()) || size.last() != Some(&width) || !t.is_floating_point() || size.contains(&0) {
        return Err(Error::shape(format!("{who}: `{name}` must be a non-empty float {shape} with last dimension {width}, got {:?} {size:?}", t.kind())));
    }
    Ok(())
}

/// `inputs[name]` as `[B, L]` integer token ids in `[0, vocab)`, converted to i64.
pub fn token_input(inputs: &TensorMap, name: &str, vocab: i64, who: &str) -> Result<Tensor> {
    let t = inputs.get(name)?;
    let size = t.size();
    if size.len() != 2 || size.contains(&0) || !matches!(t.kind(), Kind::Int64 | Kind::Int | Kind::Int16 | Kind::Int8 | Kind::Uint8) {
        return Err(Error::shape(format!("{who}: `{name}` must be non-empty [B, L] integer token ids, got {:?} {size:?}", t.kind())));
    }
    let (lo, hi) = (t.min().int64_value(&[]), t.max().int64_value(&[]));
    if lo < 0 || hi >= vocab {
        return Err(Error::shape(format!("{who}: `{name}` holds ids in [{lo}, {hi}], outside the vocabulary [0, {vocab})")));
    }
    Ok(t.to_kind(Kind::Int64))
}

/// `inputs[name]` as a whole number in `[0, max]`, given as a scalar (or one-element) tensor.
pub fn count_input(inputs: &TensorMap, name: &str, max: i64, who: &str) -> Result<Option<i64>> {
    let Some(t) = inputs.get_opt(name) else { return Ok(None) };
    if t.numel() != 1 || t.dim() > 1 {
        return Err(Error::shape(format!("{who}: `{name}` must be a single number, got shape {:?}", t.size())));
    }
    let value = t.reshape([-1]).double_value(&[0]).round() as i64;
    if !(0..=max).contains(&value) {
        return Err(Error::shape(format!("{who}: `{name}` must be in [0, {max}], got {value}")));
    }
    Ok(Some(value))
}
