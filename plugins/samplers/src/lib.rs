//! Samplers for plexus: they decide which examples an epoch visits, in which order.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Registrar, Result, Sampler, SamplerContext};
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

fn register(r: &mut Registrar) -> Result<()> {
    r.sampler("shuffle", "Uniform shuffle: each index once per epoch, reproducible from (seed, epoch)", |_, _: &NoConfig| {
        Ok(Shuffle)
    });
    r.sampler("sequential", "Dataset order, each index once", |_, _: &NoConfig| Ok(Sequential));
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
