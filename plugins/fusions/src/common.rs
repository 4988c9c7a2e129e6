//! What every fusion shares: which modalities it accepts and their widths (from the
//! config), checking the features it is given, and a softmax that ignores absent
//! modalities without producing NaNs when nothing is present.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{Device, Kind, Tensor};
use plexus_plugin::{Error, Modality, ModalityFeatures, Result};

/// Per-modality feature widths overriding the shared `input_dim` (YAML:
/// `input_dims: {image: 512, text: 384}`); a modality left out uses `input_dim`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ModalityDims {
    pub image: Option<i64>,
    pub text: Option<i64>,
    pub audio: Option<i64>,
    pub video: Option<i64>,
}

impl ModalityDims {
    fn get(&self, m: Modality) -> Option<i64> {
        match m {
            Modality::Image => self.image,
            Modality::Text => self.text,
            Modality::Audio => self.audio,
            Modality::Video => self.video,
        }
    }
}

/// The four modalities by name: the default of every fusion's `modalities`.
pub fn all_modalities() -> Vec<String> {
    Modality::ALL.iter().map(|m| m.name().to_string()).collect()
}

/// A config error naming the fusion and the key.
pub fn config_error(fusion: &str, key: &str, message: impl Into<String>) -> Error {
    Error::Config { origin: format!("fusion `{fusion}` config"), key: key.to_string(), message: message.into() }
}

/// Checks a positive integer config value.
pub fn positive(fusion: &str, key: &str, value: i64) -> Result<i64> {
    if value <= 0 {
        return Err(config_error(fusion, key, format!("must be a positive integer, got {value}")));
    }
    Ok(value)
}

/// The modalities a fusion accepts, in a fixed order (that of [`Modality::ALL`]), with
/// each one's feature width `D_m`.
#[derive(Debug, Clone)]
pub struct InputSpec {
    fusion: String,
    pub slots: Vec<(Modality, i64)>,
}

impl InputSpec {
    /// From the config fields `modalities`, `input_dim` and `input_dims`.
    pub fn new(fusion: &str, modalities: &[String], input_dim: i64, input_dims: &ModalityDims) -> Result<Self> {
        if modalities.is_empty() {
            return Err(config_error(fusion, "modalities", "must name at least one modality"));
        }
        let mut chosen = Vec::new();
        for name in modalities {
            let m = Modality::parse(name).ok_or_else(|| {
                config_error(fusion, "modalities", format!("unknown modality `{name}`; known: {}", all_modalities().join(", ")))
            })?;
            if chosen.contains(&m) {
                return Err(config_error(fusion, "modalities", format!("`{name}` is listed twice")));
            }
            chosen.push(m);
        }
        let mut slots = Vec::new();
        for m in Modality::ALL {
            let width = input_dims.get(m);
            if !chosen.contains(&m) {
                if width.is_some() {
                    return Err(config_error(fusion, &format!("input_dims.{m}"), format!("`{m}` is not in `modalities`")));
                }
                continue;
            }
            let d = match width {
                Some(d) => positive(fusion, &format!("input_dims.{m}"), d)?,
                None => positive(fusion, "input_dim", input_dim)?,
            };
            slots.push((m, d));
        }
        Ok(Self { fusion: fusion.to_string(), slots })
    }

    /// Checks `features` against the spec and returns, per accepted modality in slot
    /// order, the features `[B, D_m]` with absent rows zeroed (or `None` when the batch
    /// lacks the modality), plus the presence `[B]` as f32 (zeros when lacking).
    pub fn gather(&self, features: &ModalityFeatures) -> Result<Gathered> {
        let Some((_, first)) = features.iter().next() else {
            return Err(Error::shape(format!("fusion `{}`: no modalities given (needs at least one of {})", self.fusion, self.names())));
        };
        let first_size = first.data.size();
        if first_size.is_empty() {
            return Err(Error::shape(format!("fusion `{}`: features must be [B, D], got a scalar", self.fusion)));
        }
        let (b, device) = (first_size[0], first.data.device());
        for m in features.keys() {
            if !self.slots.iter().any(|(s, _)| s == m) {
                return Err(Error::shape(format!("fusion `{}` was not configured for modality `{m}` (its `modalities`: {})", self.fusion, self.names())));
            }
        }
        let mut slots = Vec::with_capacity(self.slots.len());
        for &(m, d) in &self.slots {
            let Some(batch) = features.get(&m) else {
                slots.push(Slot { dim: d, data: None, present: Tensor::zeros([b], (Kind::Float, device)) });
                continue;
            };
            if batch.data.size() != [b, d] {
                return Err(Error::shape(format!("fusion `{}`: `{m}` features must be [B, {d}] with B = {b}, got {:?}", self.fusion, batch.data.size())));
            }
            if batch.present.size() != [b] || batch.present.kind() != Kind::Bool {
                return Err(Error::shape(format!(
                    "fusion `{}`: `{m}` presence must be [{b}] bool, got {:?} {:?}",
                    self.fusion,
                    batch.present.size(),
                    batch.present.kind()
                )));
            }
            let present = batch.present.to_device(device).to_kind(Kind::Float); // [B]
            // Absent rows should already be zeros; zeroing them here means garbage there
            // can never leak into the output.
            let data = batch.data.to_device(device).to_kind(Kind::Float) * present.unsqueeze(1); // [B, D_m]
            slots.push(Slot { dim: d, data: Some(data), present });
        }
        Ok(Gathered { batch: b, device, slots })
    }

    fn names(&self) -> String {
        self.slots.iter().map(|(m, _)| m.name()).collect::<Vec<_>>().join(", ")
    }
}

/// One accepted modality of a batch.
pub struct Slot {
    pub dim: i64,
    /// `[B, D_m]` f32, absent rows zero; `None` when the batch lacks the modality.
    pub data: Option<Tensor>,
    /// `[B]` f32, 1 where present.
    pub present: Tensor,
}

pub struct Gathered {
    pub batch: i64,
    pub device: Device,
    pub slots: Vec<Slot>,
}

impl Gathered {
    /// Presence of every slot, `[B, M]` f32.
    pub fn presence(&self) -> Tensor {
        Tensor::stack(&self.slots.iter().map(|s| s.present.shallow_clone()).collect::<Vec<_>>(), 1)
    }
}

/// Softmax of `scores` `[.., M]` over the entries where `mask` `[.., M]` (f32 0/1) is 1.
/// Rows with no entry present get all-zero weights instead of NaN.
pub fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Tensor {
    let filled = scores.masked_fill(&mask.eq(0.0), f64::NEG_INFINITY);
    // Max over present entries; rows with none present get 0 so nothing becomes NaN.
    let max = filled.amax([-1i64].as_slice(), true).nan_to_num(0.0, Some(0.0), Some(0.0)).detach(); // [.., 1]
    let exp = (scores - max).clamp_max(0.0).exp() * mask; // [.., M]
    let denom = exp.sum_dim_intlist([-1i64].as_slice(), true, Kind::Float).clamp_min(1e-12); // [.., 1]
    exp / denom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_softmax_ignores_absent_and_never_nans() {
        let scores = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 5.0, -7.0, 0.0]).view([2, 3]);
        let mask = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 0.0, 0.0, 0.0]).view([2, 3]);
        let w = Vec::<f32>::try_from(masked_softmax(&scores, &mask).view([-1])).unwrap();
        let e = (1.0f32 - 3.0).exp();
        assert!((w[0] - e / (1.0 + e)).abs() < 1e-6 && w[1] == 0.0 && (w[2] - 1.0 / (1.0 + e)).abs() < 1e-6, "{w:?}");
        assert_eq!(&w[3..], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn spec_errors_name_the_key() {
        let dims = ModalityDims { audio: Some(4), ..Default::default() };
        let err = InputSpec::new("early", &["image".into()], 8, &dims).unwrap_err().to_string();
        assert!(err.contains("input_dims.audio"), "{err}");
        let err = InputSpec::new("early", &["imgae".into()], 8, &Default::default()).unwrap_err().to_string();
        assert!(err.contains("modalities") && err.contains("imgae"), "{err}");
        let err = InputSpec::new("early", &["image".into()], 0, &Default::default()).unwrap_err().to_string();
        assert!(err.contains("input_dim"), "{err}");
    }
}
