//! Samplers for plexus: they decide which examples an epoch visits, in which order; and
//! masking schedules, which decide which modalities of a batch training sees.
mod balanced;
mod curriculum;
mod masking;

pub use balanced::{allocate, modality_group, BalancedConfig, GroupTarget, ModalityBalanced};
pub use curriculum::{Curriculum, CurriculumConfig, Phase};
pub use masking::{DropoutConfig, GradualConfig, GradualIntegration, ModalityDropout, Ramp};

use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Error, Registrar, Result, Sampler, SamplerContext};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct NoConfig {}

/// Every index exactly once per epoch, in an order that depends only on (seed, epoch).
#[derive(Debug)]
pub struct Shuffle;

impl Sampler for Shuffle {
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..ctx.len).collect();
        order.shuffle(&mut epoch_rng(ctx.seed, ctx.epoch));
        Ok(order)
    }
}

/// Every index once, in dataset order (for evaluation).
#[derive(Debug)]
pub struct Sequential;

impl Sampler for Sequential {
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>> {
        Ok((0..ctx.len).collect())
    }
}

/// A generator for one epoch; mixing the epoch in keeps epochs independent yet reproducible.
pub fn epoch_rng(seed: u64, epoch: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    rng
}

/// A config error naming the component and the key.
pub(crate) fn config_error(component: &str, key: &str, message: impl Into<String>) -> Error {
    Error::Config { origin: format!("`{component}` config"), key: key.to_string(), message: message.into() }
}

/// Registers every sampler and masking schedule (public so tests can use the registrar).
pub fn register(r: &mut Registrar) -> Result<()> {
    r.sampler("shuffle", "Uniform shuffle: each index once per epoch, reproducible from (seed, epoch)", |_, _: &NoConfig| {
        Ok(Shuffle)
    });
    r.sampler("sequential", "Dataset order, each index once", |_, _: &NoConfig| Ok(Sequential));
    r.sampler(
        "modality_balanced",
        "Each modality combination (or class) drawn at a target share of the epoch, rare ones oversampled",
        |_, cfg: &BalancedConfig| ModalityBalanced::new(cfg),
    );
    r.sampler("curriculum", "Phases by epoch fraction, each admitting examples up to a difficulty or of given labels", |_, cfg: &CurriculumConfig| {
        Curriculum::new(cfg)
    });
    r.masking(
        "modality_dropout",
        "Drops each present modality with probability p, never all of an example's",
        |_, cfg: &DropoutConfig| ModalityDropout::new(cfg),
    );
    r.masking(
        "gradual_integration",
        "Withholds modalities until a fraction of training, then ramps their keep probability up linearly",
        |_, cfg: &GradualConfig| GradualIntegration::new(cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn shuffle_yields_each_index_once(len in 0usize..500, epoch in 0usize..5, seed: u64) {
            let mut order = Shuffle.epoch_order(&SamplerContext::new(len, epoch, 5, seed)).unwrap();
            order.sort_unstable();
            prop_assert_eq!(order, (0..len).collect::<Vec<_>>());
        }
    }

    #[test]
    fn shuffle_is_reproducible_and_differs_across_epochs() {
        let ctx = |e| SamplerContext::new(100, e, 2, 7);
        assert_eq!(Shuffle.epoch_order(&ctx(0)).unwrap(), Shuffle.epoch_order(&ctx(0)).unwrap());
        assert_ne!(Shuffle.epoch_order(&ctx(0)).unwrap(), Shuffle.epoch_order(&ctx(1)).unwrap());
    }
}
