//! An image encoder: patchify with a strided convolution, keep every patch's position by
//! flattening, then project and normalise.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};
use plexus_plugin::{Encoder, Error, Modality, Result};

/// Config of [`PatchEncoder`]. `#[serde(default)]` takes every missing key from
/// `Default`; `deny_unknown_fields` turns a typo in the YAML into an error that names the
/// key and suggests the nearest field. `image_size` and `in_channels` are also what
/// `plexus plugins --check` reads to make a test input.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct PatchEncoderConfig {
    /// Height and width of the (square) input images.
    pub image_size: i64,
    pub in_channels: i64,
    /// Side of a patch; must divide `image_size`.
    pub patch_size: i64,
    /// Channels per patch after the convolution.
    pub width: i64,
    /// Width `D` of the output features.
    pub output_dim: i64,
    /// Dropout on the flattened patches, in training mode only.
    pub dropout: f64,
}

impl Default for PatchEncoderConfig {
    fn default() -> Self {
        Self { image_size: 28, in_channels: 1, patch_size: 7, width: 16, output_dim: 32, dropout: 0.1 }
    }
}

#[derive(Debug)]
pub struct PatchEncoder {
    patch: nn::Conv2D,
    proj: nn::Linear,
    norm: nn::LayerNorm,
    cfg: PatchEncoderConfig,
}

impl PatchEncoder {
    /// Creates the parameters under `p` (the host's `VarStore`, so the host trains and
    /// saves them). Config errors are reported here, not on the first batch.
    pub fn new(p: &nn::Path, cfg: &PatchEncoderConfig) -> Result<Self> {
        if cfg.patch_size <= 0 || cfg.image_size % cfg.patch_size != 0 {
            return Err(Error::other(format!("patch_size {} must divide image_size {}", cfg.patch_size, cfg.image_size)));
        }
        let grid = cfg.image_size / cfg.patch_size;
        let conv = nn::ConvConfig { stride: cfg.patch_size, ..Default::default() };
        Ok(Self {
            patch: nn::conv2d(p / "patch", cfg.in_channels, cfg.width, cfg.patch_size, conv),
            proj: nn::linear(p / "proj", cfg.width * grid * grid, cfg.output_dim, Default::default()),
            norm: nn::layer_norm(p / "norm", vec![cfg.output_dim], Default::default()),
            cfg: cfg.clone(),
        })
    }
}

impl Encoder for PatchEncoder {
    fn modality(&self) -> Modality {
        Modality::Image
    }

    fn output_dim(&self) -> i64 {
        self.cfg.output_dim
    }

    /// images `[B, in_channels, image_size, image_size]` f32 → `[B, output_dim]` f32.
    ///
    /// The shape is checked first: tch's infallible ops panic on a libtorch error, and
    /// an error that names the expected shape is more use to a script author than the
    /// caught panic would be.
    fn encode(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        let (c, s) = (self.cfg.in_channels, self.cfg.image_size);
        if images.dim() != 4 || images.size()[1..] != [c, s, s] || images.kind() != Kind::Float {
            return Err(Error::shape(format!("expected f32 images [B, {c}, {s}, {s}], got {:?} {:?}", images.kind(), images.size())));
        }
        let patches = self.patch.forward(images).gelu("none"); // [B, width, g, g]
        let flat = patches.flatten(1, -1).dropout(self.cfg.dropout, train); // [B, width*g*g]
        Ok(self.norm.forward(&self.proj.forward(&flat))) // [B, output_dim]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::conformance;
    use plexus_plugin::tch::{Device, Kind};

    /// The kit on an explicit config and batch (tests/conformance.rs covers the defaults).
    #[test]
    fn passes_the_conformance_kit() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = PatchEncoderConfig { image_size: 8, patch_size: 4, in_channels: 3, ..Default::default() };
        let encoder = PatchEncoder::new(&vs.root(), &cfg).unwrap();
        let images = Tensor::randn([4, 3, 8, 8], (Kind::Float, Device::Cpu));
        conformance::encoder("patch_encoder", &encoder, &images).assert_ok();
    }

    #[test]
    fn a_patch_size_that_does_not_divide_is_refused() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = PatchEncoderConfig { patch_size: 5, ..Default::default() };
        assert!(PatchEncoder::new(&vs.root(), &cfg).unwrap_err().to_string().contains("must divide"));
    }
}
