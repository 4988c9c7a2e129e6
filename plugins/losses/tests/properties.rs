//! Properties of the losses on random inputs (proptest): invariances, limits, the
//! AudioCLIP/CLIP agreement, and CTC against brute-force enumeration of alignments.
use plexus_losses::*;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{Loss, TensorMap};
use proptest::prelude::*;

/// `[rows, cols]` embeddings with entries in [-2, 2].
fn matrix(rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) -> impl Strategy<Value = Tensor> {
    (rows, cols).prop_flat_map(|(r, c)| {
        prop::collection::vec(-2.0f32..2.0, r * c).prop_map(move |v| Tensor::from_slice(&v).view([r as i64, c as i64]))
    })
}

/// Two `[B, D]` matrices of the same shape.
fn pair() -> impl Strategy<Value = (Tensor, Tensor)> {
    (2usize..7, 2usize..6).prop_flat_map(|(b, d)| {
        let m = move || prop::collection::vec(-2.0f32..2.0, b * d).prop_map(move |v| Tensor::from_slice(&v).view([b as i64, d as i64]));
        (m(), m())
    })
}

fn value(loss: &dyn Loss, inputs: &TensorMap) -> f64 {
    loss.compute(inputs, false).unwrap().loss.double_value(&[])
}

fn clip(vs: &nn::VarStore, temperature: f64) -> ClipLoss {
    ClipLoss::new(&vs.root(), &ClipLossConfig { init_temperature: temperature, max_logit_scale: 1e12, learnable: false }).unwrap()
}

fn image_text(image: &Tensor, text: &Tensor) -> TensorMap {
    TensorMap::new().with("image_embeds", image).with("text_embeds", text)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn clip_is_unchanged_by_permuting_the_pairs((image, text) in pair(), seed in 0u64..1000) {
        let vs = nn::VarStore::new(Device::Cpu);
        let loss = clip(&vs, 0.5);
        let b = image.size()[0];
        plexus_plugin::tch::manual_seed(seed as i64);
        let perm = Tensor::randperm(b, (Kind::Int64, Device::Cpu));
        let before = value(&loss, &image_text(&image, &text));
        let after = value(&loss, &image_text(&image.index_select(0, &perm), &text.index_select(0, &perm)));
        prop_assert!((before - after).abs() < 1e-5 * (1.0 + before), "{before} vs {after}");
    }

    #[test]
    fn clip_on_aligned_pairs_goes_to_zero_as_temperature_falls(x in matrix(2..6, 2..6)) {
        // Row i's cross-entropy is ln(1 + Σ_j exp((c_ij - 1) / T)) ≤ (B-1)·exp(-gap/T),
        // with gap = 1 - the largest cosine between two different rows.
        let b = x.size()[0];
        let unit = &x / x.norm_scalaropt_dim(2.0, [1], true);
        let cos = unit.matmul(&unit.tr()) - Tensor::eye(b, (Kind::Float, Device::Cpu)) * 10.0;
        let gap = 1.0 - cos.max().double_value(&[]);
        prop_assume!(gap > 0.05 && x.norm_scalaropt_dim(2.0, [1], false).min().double_value(&[]) > 0.1);
        let vs = nn::VarStore::new(Device::Cpu);
        let target = 1e-4;
        let cold = gap / (((b - 1) as f64) / target).ln();
        let losses: Vec<f64> = [1.0, 0.3, cold].iter().map(|&t| value(&clip(&vs, t), &image_text(&x, &x))).collect();
        prop_assert!(losses[0] >= losses[1] - 1e-6 && losses[1] >= losses[2] - 1e-6, "{losses:?}");
        prop_assert!(losses[2] <= target * 1.01, "{losses:?} at T = {cold}");
    }

    #[test]
    fn siglip_is_non_negative_and_symmetric_in_the_modalities(
        (image, text) in pair(),
        scale in 0.5f64..20.0,
        bias in -12.0f64..4.0,
    ) {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = SiglipLossConfig { init_logit_scale: scale, init_logit_bias: bias, learnable: false };
        let loss = SiglipLoss::new(&vs.root(), &cfg).unwrap();
        let forward = value(&loss, &image_text(&image, &text));
        let swapped = value(&loss, &image_text(&text, &image));
        prop_assert!(forward >= 0.0);
        prop_assert!((forward - swapped).abs() < 1e-5 * (1.0 + forward), "{forward} vs {swapped}");
    }

    #[test]
    fn audioclip_with_two_modalities_equals_clip((a, b) in pair(), temperature in 0.05f64..2.0, which in 0usize..3) {
        let names = [["image_embeds", "text_embeds"], ["image_embeds", "audio_embeds"], ["text_embeds", "audio_embeds"]][which];
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = AudioClipLossConfig { init_temperature: temperature, max_logit_scale: 100.0, learnable: false };
        let three_way = AudioClipLoss::new(&(vs.root() / "audioclip"), &cfg).unwrap();
        let two_way = ClipLoss::new(&(vs.root() / "clip"), &cfg).unwrap();
        let ours = value(&three_way, &TensorMap::new().with(names[0], &a).with(names[1], &b));
        let reference = value(&two_way, &image_text(&a, &b));
        prop_assert!((ours - reference).abs() < 1e-6 * (1.0 + reference), "{ours} vs {reference}");
    }

    #[test]
    fn ctc_matches_brute_force_enumeration(
        (frames, classes, logits) in (1usize..5, 2usize..4).prop_flat_map(|(t, c)| {
            (Just(t), Just(c), prop::collection::vec(-2.0f64..2.0, t * c))
        }),
        labels in prop::collection::vec(1usize..3, 0..3),
    ) {
        let labels: Vec<usize> = labels.into_iter().filter(|&l| l < classes).collect();
        let needed = labels.len() + labels.windows(2).filter(|w| w[0] == w[1]).count();
        prop_assume!(needed <= frames);
        let expected = -brute_force_probability(&logits, frames, classes, &labels).ln() / labels.len().max(1) as f64;

        let vs = nn::VarStore::new(Device::Cpu);
        let loss = CtcLoss::new(&vs.root(), &CtcLossConfig::default()).unwrap();
        let mut padded: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        padded.resize(3, 0);
        let inputs = TensorMap::new()
            .with("logits", &Tensor::from_slice(&logits).to_kind(Kind::Float).view([1, frames as i64, classes as i64]))
            .with("targets", &Tensor::from_slice(&padded).view([1, 3]))
            .with("input_lengths", &Tensor::from_slice(&[frames as i64]))
            .with("target_lengths", &Tensor::from_slice(&[labels.len() as i64]));
        let got = value(&loss, &inputs);
        prop_assert!((got - expected).abs() < 1e-4 * (1.0 + expected), "{got} vs brute force {expected}");
    }
}

/// p(labels | logits) summed over every path of `frames` symbols (blank 0) that collapses
/// (merge repeats, then drop blanks) to `labels`.
fn brute_force_probability(logits: &[f64], frames: usize, classes: usize, labels: &[usize]) -> f64 {
    let probs: Vec<Vec<f64>> = logits
        .chunks(classes)
        .map(|row| {
            let z: f64 = row.iter().map(|v| v.exp()).sum();
            row.iter().map(|v| v.exp() / z).collect()
        })
        .collect();
    let mut total = 0.0;
    for code in 0..classes.pow(frames as u32) {
        let path: Vec<usize> = (0..frames).map(|t| code / classes.pow(t as u32) % classes).collect();
        let mut collapsed = Vec::new();
        for (t, &s) in path.iter().enumerate() {
            if s != 0 && (t == 0 || path[t - 1] != s) {
                collapsed.push(s);
            }
        }
        if collapsed == labels {
            total += path.iter().enumerate().map(|(t, &s)| probs[t][s]).product::<f64>();
        }
    }
    total
}
