//! Input validation shared by the modules: every check names the component, the input
//! and the expected shape, so a script error says what to fix.
use plexus_plugin::tch::{Kind, Tensor};
use plexus_plugin::{Error, Result, TensorMap};

/// A non-empty float tensor of exactly `expected` (`-1` = any size, for the batch).
pub fn float_of_shape(t: &Tensor, expected: &[i64], who: &str, name: &str) -> Result<()> {
    let size = t.size();
    let fits = size.len() == expected.len() && size.iter().zip(expected).all(|(&s, &e)| e < 0 || s == e);
    if !fits || !t.is_floating_point() || size.contains(&0) {
        let shape: Vec<String> = expected.iter().map(|&e| if e < 0 { "B".into() } else { e.to_string() }).collect();
        return Err(Error::shape(format!("{who}: `{name}` must be a non-empty float [{}], got {:?} {size:?}", shape.join(", "), t.kind())));
    }
    Ok(())
}

/// The optional input `name`, checked against `expected` and the batch `b`.
pub fn optional_float(inputs: &TensorMap, name: &str, expected: &[i64], b: i64, who: &str) -> Result<Option<Tensor>> {
    let Some(t) = inputs.get_opt(name) else { return Ok(None) };
    float_of_shape(t, expected, who, name)?;
    if t.size()[0] != b {
        return Err(Error::shape(format!("{who}: `{name}` has batch {} but the other inputs {b}", t.size()[0])));
    }
    Ok(Some(t.to_kind(Kind::Float)))
}

/// The optional `timesteps` input: `[B]` integers in `[0, T)`; drawn uniformly when absent.
pub fn timesteps(inputs: &TensorMap, b: i64, total: i64, like: &Tensor, who: &str) -> Result<Tensor> {
    let Some(t) = inputs.get_opt("timesteps") else {
        return Ok(Tensor::randint(total, [b], (Kind::Int64, like.device())));
    };
    if t.size() != [b] || t.is_floating_point() || t.kind() == Kind::Bool {
        return Err(Error::shape(format!("{who}: `timesteps` must be [{b}] integers, got {:?} {:?}", t.kind(), t.size())));
    }
    let (lo, hi) = (t.min().int64_value(&[]), t.max().int64_value(&[]));
    if lo < 0 || hi >= total {
        return Err(Error::shape(format!("{who}: `timesteps` holds [{lo}, {hi}], outside [0, {total}) (the `timesteps` setting)")));
    }
    Ok(t.to_kind(Kind::Int64))
}

/// Classifier-free guidance dropout: `[B]` bool, true where the condition is replaced by
/// the learned null condition (probability `p`, training only).
pub fn dropped(b: i64, p: f64, train: bool, like: &Tensor) -> Option<Tensor> {
    (train && p > 0.0).then(|| Tensor::rand([b], (Kind::Float, like.device())).lt(p))
}

/// L2-normalised rows `[B, D]` scaled by √D, so each coordinate has about unit variance.
pub fn unit_scaled(x: &Tensor) -> Tensor {
    let d = x.size()[1] as f64;
    x / x.norm_scalaropt_dim(2.0, [1i64].as_slice(), true).clamp_min(1e-8) * d.sqrt()
}

/// A config check: `value >= min`, else an error naming the key.
pub fn at_least(who: &str, key: &str, value: i64, min: i64) -> Result<()> {
    if value < min {
        return Err(Error::other(format!("{who}: `{key}` must be >= {min}, got {value}")));
    }
    Ok(())
}

/// A config check: `0 <= p < 1`.
pub fn probability(who: &str, key: &str, p: f64) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::other(format!("{who}: `{key}` must be in [0, 1), got {p}")));
    }
    Ok(())
}

/// The optional sampling input `guidance_scale` (a scalar): overrides the config's value
/// for this call, so one trained model can be sampled at several scales.
pub fn guidance_scale(inputs: &TensorMap, configured: f64, who: &str) -> Result<f64> {
    let Some(t) = inputs.get_opt("guidance_scale") else { return Ok(configured) };
    if t.numel() != 1 || t.kind() == Kind::Bool {
        return Err(Error::shape(format!("{who}: `guidance_scale` must be one number, got {:?} {:?}", t.kind(), t.size())));
    }
    let g = t.reshape([1]).double_value(&[0]);
    if !(g.is_finite() && g >= 0.0) {
        return Err(Error::other(format!("{who}: `guidance_scale` must be finite and >= 0, got {g}")));
    }
    Ok(g)
}
