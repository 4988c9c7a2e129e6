//! Image-text matching (ALBEF, Li et al. 2021; BLIP, 2022): a binary classifier told
//! matching pairs from hard negatives, i.e. non-matching pairs drawn from the batch in
//! proportion to their similarity.
//!
//! Input contract: the loss owns a small pair head, so it needs only the embeddings the
//! trainer already passes. A pair (x, y) is classified from `[x, y, x⊙y, |x-y|]` by a
//! two-layer MLP (`hidden`, `out`) into {no match, match}. A model with a fused
//! cross-attention encoder instead would compute its own ITM logits; this loss is the
//! embedding-level form of the objective.
use std::sync::Mutex;

use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module, Device, Kind, Reduction, Tensor};
use plexus_plugin::{Error, Loss, LossOutput, Result, TensorMap};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{input, l2_normalize, optional_input, same_shape};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ItmLossConfig {
    /// Width D of `image_embeds` and `text_embeds`.
    pub embed_dim: i64,
    /// Width of the pair head's hidden layer.
    pub hidden_dim: i64,
    /// Temperature of the similarity softmax negatives are drawn from (lower = harder).
    pub mining_temperature: f64,
    /// Seed of the negative sampling: training draws from one stream started at it,
    /// evaluation restarts it on every call, so both are reproducible.
    pub seed: u64,
}

impl Default for ItmLossConfig {
    fn default() -> Self {
        Self { embed_dim: 512, hidden_dim: 256, mining_temperature: 0.07, seed: 0 }
    }
}

#[derive(Debug)]
pub struct ItmLoss {
    hidden: nn::Linear,
    out: nn::Linear,
    cfg: ItmLossConfig,
    train_rng: Mutex<ChaCha8Rng>,
}

impl ItmLoss {
    pub fn new(p: &nn::Path, cfg: &ItmLossConfig) -> Result<Self> {
        if cfg.embed_dim < 1 || cfg.hidden_dim < 1 || !(cfg.mining_temperature > 0.0) {
            return Err(Error::other("itm loss: embed_dim and hidden_dim must be >= 1 and mining_temperature > 0"));
        }
        Ok(Self {
            hidden: nn::linear(p / "hidden", 4 * cfg.embed_dim, cfg.hidden_dim, Default::default()),
            out: nn::linear(p / "out", cfg.hidden_dim, 2, Default::default()),
            cfg: cfg.clone(),
            train_rng: Mutex::new(ChaCha8Rng::seed_from_u64(cfg.seed)),
        })
    }

    /// Match logits `[N, 2]` of the pairs (x_n, y_n), both `[N, D]`.
    pub fn pair_logits(&self, x: &Tensor, y: &Tensor) -> Tensor {
        let features = Tensor::cat(&[x, y, &(x * y), &(x - y).abs()], 1); // [N, 4D]
        self.out.forward(&self.hidden.forward(&features).gelu("none"))
    }
}

/// Row-major `[B][B]` sampling weights.
type Weights = Vec<Vec<f32>>;

impl ItmLoss {
    /// Sampling weights `[B][B]` of negative texts per image and negative images per
    /// text: the similarity softmax, zero on the diagonal and between equal labels.
    fn mining_weights(&self, image: &Tensor, text: &Tensor, labels: Option<&Tensor>) -> Result<(Weights, Weights)> {
        let b = image.size()[0];
        let mut excluded = Tensor::eye(b, (Kind::Bool, image.device())); // [B, B]
        if let Some(labels) = labels {
            if labels.size()[0] != b {
                return Err(Error::shape(format!("itm loss: `labels` has {} entries for {b} pairs", labels.size()[0])));
            }
            excluded = excluded.logical_or(&labels.unsqueeze(1).eq_tensor(&labels.unsqueeze(0)));
        }
        let (i2t, t2i) = plexus_plugin::tch::no_grad(|| {
            let s = l2_normalize(image).matmul(&l2_normalize(text).tr()) / self.cfg.mining_temperature; // [B, B]
            let i2t = s.softmax(1, Kind::Float).masked_fill(&excluded, 0.0);
            let t2i = s.tr().softmax(1, Kind::Float).masked_fill(&excluded.tr(), 0.0);
            (i2t.to_device(Device::Cpu), t2i.to_device(Device::Cpu))
        });
        Ok((Weights::try_from(&i2t)?, Weights::try_from(&t2i)?))
    }
}

/// For each row i of `weights` `[B][B]`, a column j ≠ i drawn in proportion to
/// `weights[i][j]`; uniformly among j ≠ i when the row has no weight left.
fn draw_negatives(weights: &[Vec<f32>], rng: &mut ChaCha8Rng) -> Vec<i64> {
    let b = weights.len();
    weights
        .iter()
        .enumerate()
        .map(|(i, row)| match WeightedIndex::new(row) {
            Ok(dist) => dist.sample(rng) as i64,
            Err(_) => ((i + rng.gen_range(1..b)) % b) as i64,
        })
        .collect()
}

impl Loss for ItmLoss {
    /// Inputs: `image_embeds`, `text_embeds` `[B, D]` (B ≥ 2, row i of each a matching
    /// pair), optional `labels` `[B]` i64: examples sharing a label are never drawn as
    /// each other's negatives (their captions may be identical). Output: the two-class
    /// cross-entropy over the B matching pairs, B (image, negative text) and B (negative
    /// image, text) pairs; logs `itm_accuracy`.
    fn compute(&self, inputs: &TensorMap, train: bool) -> Result<LossOutput> {
        let layout = "[B, embed_dim]";
        let image = input(inputs, "image_embeds", 2, "itm", layout)?;
        let text = input(inputs, "text_embeds", 2, "itm", layout)?;
        same_shape("itm", &[("image_embeds", image), ("text_embeds", text)])?;
        let (b, d) = (image.size()[0], image.size()[1]);
        if b < 2 || d != self.cfg.embed_dim {
            return Err(Error::shape(format!("itm loss: needs B >= 2 pairs of width embed_dim {}, got {:?}", self.cfg.embed_dim, image.size())));
        }
        let device = image.device();
        let (i2t, t2i) = self.mining_weights(image, text, optional_input(inputs, "labels", 1, "itm", "[B] i64")?)?;
        let (negative_texts, negative_images) = if train {
            let mut rng = self.train_rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            (draw_negatives(&i2t, &mut rng), draw_negatives(&t2i, &mut rng))
        } else {
            let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
            (draw_negatives(&i2t, &mut rng), draw_negatives(&t2i, &mut rng))
        };
        let negative_texts = text.index_select(0, &Tensor::from_slice(&negative_texts).to_device(device)); // [B, D]
        let negative_images = image.index_select(0, &Tensor::from_slice(&negative_images).to_device(device)); // [B, D]
        let images = Tensor::cat(&[image, image, &negative_images], 0); // [3B, D]
        let texts = Tensor::cat(&[text, &negative_texts, text], 0); // [3B, D]
        let logits = self.pair_logits(&images, &texts); // [3B, 2]
        let targets = Tensor::cat(&[Tensor::ones([b], (Kind::Int64, device)), Tensor::zeros([2 * b], (Kind::Int64, device))], 0); // [3B]
        let loss = logits.cross_entropy_loss::<Tensor>(&targets, None, Reduction::Mean, -100, 0.0);
        let accuracy = logits.argmax(1, false).eq_tensor(&targets).to_kind(Kind::Float).mean(Kind::Float);
        Ok(LossOutput { loss, logs: vec![("itm_accuracy".into(), accuracy)] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negatives_follow_the_weights_and_skip_excluded_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Row 0 puts all weight on column 2; row 1 has none left, so any j != 1.
        let weights = vec![vec![0.0, 0.0, 1.0], vec![0.0, 0.0, 0.0], vec![0.5, 0.5, 0.0]];
        for _ in 0..50 {
            let drawn = draw_negatives(&weights, &mut rng);
            assert_eq!(drawn[0], 2);
            assert_ne!(drawn[1], 1);
            assert!(drawn[2] == 0 || drawn[2] == 1);
        }
    }

    fn small() -> (nn::VarStore, ItmLoss) {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ItmLossConfig { embed_dim: 4, hidden_dim: 8, mining_temperature: 0.5, seed: 7 };
        let loss = ItmLoss::new(&vs.root(), &cfg).unwrap();
        (vs, loss)
    }

    #[test]
    fn matches_hand_computed_value_with_a_constant_head() {
        // Zero weights and output bias [0, b]: every pair gets logits [0, b]. One matching
        // pair per two negatives, so loss = softplus(-b)/3 + 2·softplus(b)/3, and with
        // b > 0 every pair is called a match: accuracy 1/3.
        let (vs, loss) = small();
        let b = 0.7f64;
        plexus_plugin::tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                let _ = t.zero_();
                if name == "out.bias" {
                    t.copy_(&Tensor::from_slice(&[0.0f32, b as f32]));
                }
            }
        });
        let x = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
        let out = loss.compute(&TensorMap::new().with("image_embeds", &x).with("text_embeds", &x.neg()), true).unwrap();
        let softplus = |v: f64| (1.0 + v.exp()).ln();
        let expected = softplus(-b) / 3.0 + 2.0 * softplus(b) / 3.0;
        assert!((out.loss.double_value(&[]) - expected).abs() < 1e-6, "{} vs {expected}", out.loss.double_value(&[]));
        assert!((out.logs[0].1.double_value(&[]) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn equal_labels_and_the_pair_itself_are_never_negatives() {
        let (_vs, loss) = small();
        let x = Tensor::randn([4, 4], (Kind::Float, Device::Cpu));
        let labels = Tensor::from_slice(&[0i64, 1, 0, 1]);
        let (i2t, t2i) = loss.mining_weights(&x, &x.flip([0]), Some(&labels)).unwrap();
        for (i, j) in [(0, 0), (0, 2), (1, 1), (1, 3), (2, 0), (3, 1)] {
            assert_eq!((i2t[i][j], t2i[i][j]), (0.0, 0.0), "({i}, {j})");
        }
        assert!(i2t[0][1] > 0.0 && t2i[2][3] > 0.0);
    }

    #[test]
    fn evaluation_is_reproducible_and_training_follows_the_seed() {
        let (vs, loss) = small();
        let x = Tensor::randn([6, 4], (Kind::Float, Device::Cpu));
        let inputs = TensorMap::new().with("image_embeds", &x).with("text_embeds", &(&x + 0.1));
        let eval = |l: &ItmLoss| l.compute(&inputs, false).unwrap().loss.double_value(&[]);
        assert_eq!(eval(&loss), eval(&loss));
        // A second loss with the same weights and seed draws the same training negatives.
        let mut twin_vs = nn::VarStore::new(Device::Cpu);
        let twin = ItmLoss::new(&twin_vs.root(), &loss.cfg).unwrap();
        twin_vs.copy(&vs).unwrap();
        let train = |l: &ItmLoss| l.compute(&inputs, true).unwrap().loss.double_value(&[]);
        assert_eq!(train(&loss), train(&twin));
    }
}
