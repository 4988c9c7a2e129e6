//! One linear projection per accepted modality into a common width, used by the fusions
//! that combine modalities as tokens or weighted terms.
use plexus_plugin::tch::{nn, nn::Module, Kind, Tensor};

use crate::common::{Gathered, InputSpec};

#[derive(Debug)]
pub struct Projections {
    layers: Vec<nn::Linear>,
    width: i64,
}

impl Projections {
    /// `proj.<modality>`: `D_m → width` for every slot of `spec`.
    pub fn new(p: &nn::Path, spec: &InputSpec, width: i64) -> Self {
        let layers = spec.slots.iter().map(|(m, d)| nn::linear(p / "proj" / m.name(), *d, width, Default::default())).collect();
        Self { layers, width }
    }

    /// Every slot projected and stacked: `[B, M, width]`. A modality the batch lacks is a
    /// zero row; an absent example's row is whatever its (zeroed) input maps to, so the
    /// caller must mask by presence.
    pub fn tokens(&self, g: &Gathered) -> Tensor {
        let rows: Vec<Tensor> = g
            .slots
            .iter()
            .zip(&self.layers)
            .map(|(slot, layer)| match &slot.data {
                Some(x) => layer.forward(x), // [B, width]
                None => Tensor::zeros([g.batch, self.width], (Kind::Float, g.device)),
            })
            .collect();
        Tensor::stack(&rows, 1)
    }
}
