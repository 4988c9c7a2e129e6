//! # plexus-plugin
//!
//! Everything a plexus plugin author depends on, and nothing else:
//! - the component traits ([`Encoder`], [`Fusion`], [`Loss`], [`Sampler`], [`Metric`],
//!   [`Tokenizer`]) and the data they exchange ([`Modality`], [`Batch`], [`TensorMap`]);
//! - typed configuration ([`Hparams`], [`Config`]);
//! - the [`Registrar`] a plugin fills in, and the [`export_plugin!`] macro that emits the
//!   declaration the host loads, stamped with an ABI [`abi::Fingerprint`].
//!
//! A plugin is a `cdylib` crate:
//! ```ignore
//! fn register(r: &mut plexus_plugin::Registrar) -> plexus_plugin::Result<()> {
//!     r.encoder("patch_mean", "Patch-mean image encoder", |path, cfg: &PatchMeanConfig| {
//!         PatchMean::new(path, cfg)
//!     });
//!     Ok(())
//! }
//! plexus_plugin::export_plugin!(register);
//! ```
//! Every call the host makes into a component goes through a guard compiled into the
//! plugin, which turns a panic into an [`Error::Panic`]: a panic must never unwind across
//! the library boundary (the process would abort).

pub mod abi;
mod component;
mod error;
mod guard;
mod hparams;
mod modality;
mod registrar;
pub mod suggest;
mod tensors;

pub use component::{Encoder, Fusion, Loss, LossOutput, Metric, Sampler, SamplerContext, Scores, Tokenizer};
pub use error::{Error, Result};
pub use hparams::{Config, Hparams};
pub use modality::{Batch, Modality, ModalityBatch, ModalityFeatures};
pub use registrar::{ComponentInfo, Factory, Kind, Registrar};
pub use tensors::TensorMap;

/// Re-exported so plugins compile against exactly the host's versions.
pub use serde;
pub use serde_json;
pub use tch;
pub use tracing;
