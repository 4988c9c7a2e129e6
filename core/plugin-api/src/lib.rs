//! # plexus-plugin
//!
//! Everything a plexus plugin author depends on, and nothing else:
//! - the component traits ([`Encoder`], [`Fusion`], [`Loss`], [`Sampler`], [`Metric`],
//!   [`Tokenizer`], [`Masking`], [`Module`]) and the data they exchange ([`Modality`], [`Batch`], [`TensorMap`]);
//! - typed configuration ([`Hparams`], [`Config`]);
//! - the [`Registrar`] a plugin fills in, and the [`export_plugin!`] macro that emits the
//!   declaration the host loads, stamped with an ABI [`abi::Fingerprint`].
//!
//! A plugin is a `cdylib` crate:
//! ```
//! use plexus_plugin::serde::{Deserialize, Serialize};
//! use plexus_plugin::tch::{nn, Tensor};
//! use plexus_plugin::{Encoder, Error, Modality, Registrar, Result};
//!
//! /// Config fields and defaults; unknown keys are rejected with a suggestion.
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! #[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
//! pub struct RowMeanConfig {
//!     pub in_dim: i64,
//!     pub out_dim: i64,
//! }
//! impl Default for RowMeanConfig {
//!     fn default() -> Self { Self { in_dim: 28, out_dim: 16 } }
//! }
//!
//! /// Averages image rows, then projects: a toy image encoder.
//! pub struct RowMean { proj: nn::Linear, cfg: RowMeanConfig }
//!
//! impl Encoder for RowMean {
//!     fn modality(&self) -> Modality { Modality::Image }
//!     fn output_dim(&self) -> i64 { self.cfg.out_dim }
//!     /// images `[B, C, H, W]` → `[B, out_dim]`
//!     fn encode(&self, images: &Tensor, _train: bool) -> Result<Tensor> {
//!         if images.dim() != 4 || images.size()[3] != self.cfg.in_dim {
//!             return Err(Error::shape(format!("expected [B, C, H, {}], got {:?}", self.cfg.in_dim, images.size())));
//!         }
//!         let rows = images.mean_dim([1i64, 2].as_slice(), false, images.kind()); // [B, W]
//!         Ok(rows.apply(&self.proj)) // [B, out_dim]
//!     }
//! }
//!
//! fn register(r: &mut Registrar) -> Result<()> {
//!     r.encoder("row_mean", "Row-mean image encoder", |path, cfg: &RowMeanConfig| {
//!         Ok(RowMean { proj: nn::linear(path / "proj", cfg.in_dim, cfg.out_dim, Default::default()), cfg: cfg.clone() })
//!     });
//!     Ok(())
//! }
//! plexus_plugin::export_plugin!(register);
//! # fn main() {}
//! ```
//! Every call the host makes into a component goes through a guard compiled into the
//! plugin, which turns a panic into an [`Error::Panic`]: a panic must never unwind across
//! the library boundary (the process would abort).

pub mod abi;
mod component;
#[cfg(feature = "conformance")]
pub mod conformance;
/// The plugin author's guide (docs/writing-plugins.md), included here so that its code
/// blocks run as doctests (they use the conformance kit, hence the feature).
#[cfg(feature = "conformance")]
#[doc = include_str!("../../../docs/writing-plugins.md")]
pub mod guide {}
mod error;
mod guard;
mod hparams;
mod masking;
mod modality;
mod module;
mod registrar;
pub mod suggest;
mod tensors;

pub use component::{presence_bits, Encoder, Fusion, Loss, LossOutput, Metric, Sampler, SamplerContext, Scores, Tokenizer};
pub use masking::{Masking, MaskingContext, Presence};
pub use error::{Error, Result};
pub use hparams::{Config, Hparams};
pub use modality::{Batch, Modality, ModalityBatch, ModalityFeatures};
pub use module::Module;
pub use registrar::{ComponentInfo, Factory, Kind, Registrar};
pub use tensors::TensorMap;

/// Re-exported so plugins compile against exactly the host's versions.
pub use serde;
pub use serde_json;
pub use tch;
pub use tracing;
