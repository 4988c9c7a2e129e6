//! A sampler that visits a random, reproducible fraction of the dataset each epoch.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::{Error, Result, Sampler, SamplerContext};

/// Config of [`SubsetSampler`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct SubsetSamplerConfig {
    /// Fraction of the examples visited per epoch, in (0, 1].
    pub fraction: f64,
}

impl Default for SubsetSamplerConfig {
    fn default() -> Self {
        Self { fraction: 0.5 }
    }
}

#[derive(Debug)]
pub struct SubsetSampler {
    fraction: f64,
}

impl SubsetSampler {
    pub fn new(cfg: &SubsetSamplerConfig) -> Result<Self> {
        if !(cfg.fraction > 0.0 && cfg.fraction <= 1.0) {
            return Err(Error::other(format!("fraction must lie in (0, 1], got {}", cfg.fraction)));
        }
        Ok(Self { fraction: cfg.fraction })
    }
}

/// SplitMix64: a tiny, well-mixed generator, so the plugin needs no `rand` dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sampler for SubsetSampler {
    /// `ceil(fraction * len)` distinct indices `< len`, a function of (seed, epoch) only,
    /// so a rerun with the same seed visits the same examples in the same order.
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..ctx.len).collect();
        let mut state = ctx.seed ^ (ctx.epoch as u64).wrapping_mul(0xa076_1d64_78bd_642f);
        for i in (1..order.len()).rev() {
            let j = (splitmix(&mut state) % (i as u64 + 1)) as usize; // Fisher–Yates
            order.swap(i, j);
        }
        order.truncate((self.fraction * ctx.len as f64).ceil() as usize);
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::conformance;

    #[test]
    fn passes_the_conformance_kit() {
        conformance::sampler("subset", &SubsetSampler::new(&SubsetSamplerConfig::default()).unwrap()).assert_ok();
    }

    #[test]
    fn visits_the_requested_fraction_once_each() {
        let s = SubsetSampler::new(&SubsetSamplerConfig { fraction: 0.25 }).unwrap();
        let mut order = s.epoch_order(&SamplerContext::new(100, 0, 1, 0)).unwrap();
        assert_eq!(order.len(), 25);
        order.sort_unstable();
        order.dedup();
        assert_eq!(order.len(), 25);
    }
}
