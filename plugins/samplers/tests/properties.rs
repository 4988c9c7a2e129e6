//! Properties of the balanced and curriculum samplers and the masking schedules.
use plexus_plugin::serde_json::{json, Value};
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{presence_bits, Factory, Hparams, Masking, MaskingContext, Modality, Presence, Registrar, Sampler, SamplerContext};
use plexus_samplers::*;
use proptest::prelude::*;

fn entries() -> Vec<(plexus_plugin::ComponentInfo, Factory)> {
    let mut r = Registrar::new("plexus-samplers", plexus_plugin::tracing::dispatcher::get_default(|d| d.clone()));
    plexus_samplers::register(&mut r).unwrap();
    r.into_entries()
}

fn hp(cfg: Value) -> Hparams {
    Hparams::new(cfg, "test.yaml: train.sampler")
}

/// Builds a registered component and runs `f` on the factory's result (an error if the
/// config is refused).
fn build_error(name: &str, cfg: Value) -> Option<String> {
    let vs = nn::VarStore::new(Device::Cpu);
    let entries = entries();
    let (_, factory) = entries.iter().find(|(i, _)| i.name == name).expect("registered");
    let h = hp(cfg);
    match factory {
        Factory::Sampler(f) => f(&vs.root(), &h).err(),
        Factory::Masking(f) => f(&vs.root(), &h).err(),
        _ => panic!("{name}: not a sampler or masking"),
    }
    .map(|e| e.to_string())
}

/// `sizes[g]` examples with the presence of group `g` (groups are distinct non-empty
/// modality sets), in a scrambled order.
fn dataset(sizes: &[usize]) -> Vec<u8> {
    let mut bits: Vec<u8> = sizes.iter().enumerate().flat_map(|(g, &n)| std::iter::repeat((g + 1) as u8).take(n)).collect();
    let len = bits.len();
    for i in 0..len {
        bits.swap(i, (i * 7919 + 13) % len);
    }
    bits
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Each listed group's share of the epoch is its target within 1/epoch_size (the
    /// rounding of largest remainders), unlisted groups never appear, and within a group
    /// no example is drawn more than once more than another.
    #[test]
    fn balanced_meets_target_ratios(
        sizes in prop::collection::vec(1usize..300, 2..6),
        ratios in prop::collection::vec(0.05f64..5.0, 6),
        listed in 1usize..6, epoch_size in 0usize..3000, seed: u64, epoch in 0usize..4,
    ) {
        let bits = dataset(&sizes);
        let listed = listed.min(sizes.len());
        let targets: Vec<GroupTarget> = (0..listed).map(|g| GroupTarget { group: modality_group((g + 1) as u8), ratio: ratios[g] }).collect();
        let sampler = ModalityBalanced::new(&BalancedConfig { targets, epoch_size, ..Default::default() }).unwrap();
        let ctx = SamplerContext::new(bits.len(), epoch, 4, seed).with_presence(bits.clone());
        let order = sampler.epoch_order(&ctx).unwrap();
        let size = if epoch_size == 0 { bits.len() } else { epoch_size };
        prop_assert_eq!(order.len(), size);
        let total: f64 = ratios[..listed].iter().sum();
        for g in 0..sizes.len() {
            let drawn: Vec<usize> = order.iter().copied().filter(|&i| bits[i] == (g + 1) as u8).collect();
            let target = if g < listed { ratios[g] / total } else { 0.0 };
            let share = drawn.len() as f64 / size as f64;
            prop_assert!((share - target).abs() <= 1.0 / size as f64 + 1e-12, "group {g}: share {share}, target {target}");
            if !drawn.is_empty() {
                let mut counts = vec![0usize; bits.len()];
                drawn.iter().for_each(|&i| counts[i] += 1);
                let members: Vec<usize> = (0..bits.len()).filter(|&i| bits[i] == (g + 1) as u8).map(|i| counts[i]).collect();
                prop_assert!(members.iter().max().unwrap() - members.iter().min().unwrap() <= 1, "group {g} uneven: {members:?}");
            }
        }
        prop_assert_eq!(sampler.epoch_order(&ctx).unwrap(), order, "not reproducible");
    }

    /// Every example the current phase admits is visited exactly once; nothing else is.
    #[test]
    fn curriculum_respects_its_phases(
        difficulty in prop::collection::vec(0.0f64..1.0, 1..200),
        cuts in prop::collection::vec((0.05f64..0.5, 0.0f64..1.0), 1..4),
        epochs in 1usize..10, seed: u64,
    ) {
        let mut until = 0.0;
        let phases: Vec<Phase> = cuts.iter().map(|&(step, max)| { until += step; Phase { until, max_difficulty: Some(max), labels: None } }).collect();
        let sampler = Curriculum::new(&CurriculumConfig { phases: phases.clone() }).unwrap();
        for epoch in 0..epochs {
            let ctx = SamplerContext::new(difficulty.len(), epoch, epochs, seed).with_difficulty(difficulty.clone());
            let fraction = epoch as f64 / epochs as f64;
            let phase = phases.iter().find(|p| fraction < p.until);
            let admitted: Vec<usize> = (0..difficulty.len()).filter(|&i| phase.is_none_or(|p| difficulty[i] <= p.max_difficulty.unwrap())).collect();
            match sampler.epoch_order(&ctx) {
                Ok(mut order) => {
                    order.sort_unstable();
                    prop_assert_eq!(order, admitted, "epoch {} of {}", epoch, epochs);
                }
                Err(e) => prop_assert!(admitted.is_empty(), "refused a phase that admits {} examples: {e}", admitted.len()),
            }
        }
    }

    /// Dropout never empties an example and drops each modality at the documented rate
    /// `p - p^k / k` (k = the example's modalities), within 5 standard errors.
    #[test]
    fn modality_dropout_rate_and_never_all(p in 0.0f64..1.0, seed: u64, step in 0usize..1000) {
        let dropout = ModalityDropout::new(&DropoutConfig { p, ..Default::default() }).unwrap();
        let n = 4000usize;
        // Example i has the first k = 1 + i % 4 modalities.
        let presence: Presence = Modality::ALL.iter().enumerate().map(|(j, m)| (*m, Tensor::from_slice(&(0..n).map(|i| j <= i % 4).collect::<Vec<_>>()))).collect();
        let out = dropout.mask(&MaskingContext::new(0, 1, step, 0.0, seed), &presence).unwrap();
        let kept = Tensor::stack(&out.values().map(|t| t.to_kind(Kind::Int64)).collect::<Vec<_>>(), 1); // [n, 4]
        let given = Tensor::stack(&presence.values().map(|t| t.to_kind(Kind::Int64)).collect::<Vec<_>>(), 1);
        prop_assert_eq!(kept.gt_tensor(&given).any().int64_value(&[]), 0, "made an absent modality present");
        prop_assert_eq!(kept.sum_dim_intlist(1, false, Kind::Int64).eq(0).any().int64_value(&[]), 0, "dropped all modalities of an example");
        for k in 1..=4i64 {
            let rows = Tensor::arange(n as i64, (Kind::Int64, Device::Cpu)).remainder(4).eq(k - 1);
            let slots = (rows.sum(Kind::Int64).int64_value(&[]) * k) as f64;
            let dropped = slots - kept.index_select(0, &rows.nonzero().squeeze_dim(1)).sum(Kind::Int64).int64_value(&[]) as f64;
            let expected = p - p.powi(k as i32) / k as f64;
            let tolerance = 5.0 * (expected * (1.0 - expected) / slots).sqrt() + 1e-9;
            prop_assert!((dropped / slots - expected).abs() <= tolerance, "k={k}: rate {} vs {expected} (tolerance {tolerance})", dropped / slots);
        }
    }
}

#[test]
fn gradual_integration_follows_its_ramp() {
    let schedule = GradualIntegration::new(&GradualConfig { schedule: vec![Ramp { modality: "text".into(), start: 0.25, ramp: 0.5 }] }).unwrap();
    let n = 4000;
    let both: Presence = [(Modality::Image, Tensor::ones([n], (Kind::Bool, Device::Cpu))), (Modality::Text, Tensor::ones([n], (Kind::Bool, Device::Cpu)))].into();
    let text_rate = |progress: f64| {
        let out = schedule.mask(&MaskingContext::new(0, 1, 5, progress, 3), &both).unwrap();
        assert!(bool::try_from(out[&Modality::Image].all()).unwrap(), "image is not scheduled and must always be kept");
        out[&Modality::Text].to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
    };
    assert_eq!(text_rate(0.0), 0.0);
    assert_eq!(text_rate(0.24), 0.0);
    assert!((text_rate(0.5) - 0.5).abs() < 0.05, "{}", text_rate(0.5));
    assert!((text_rate(0.625) - 0.75).abs() < 0.05, "{}", text_rate(0.625));
    assert_eq!(text_rate(0.75), 1.0);
    // An example with only text keeps it even before the ramp starts.
    let only_text: Presence = [(Modality::Image, Tensor::zeros([3], (Kind::Bool, Device::Cpu))), (Modality::Text, Tensor::ones([3], (Kind::Bool, Device::Cpu)))].into();
    let out = schedule.mask(&MaskingContext::new(0, 1, 0, 0.0, 3), &only_text).unwrap();
    assert!(bool::try_from(out[&Modality::Text].all()).unwrap());
}

#[test]
fn masking_schedules_pass_the_conformance_kit_on_active_configs() {
    use plexus_plugin::conformance;
    let gradual = GradualIntegration::new(&GradualConfig {
        schedule: vec![Ramp { modality: "text".into(), start: 0.3, ramp: 0.4 }, Ramp { modality: "image".into(), start: 0.0, ramp: 0.9 }],
    })
    .unwrap();
    conformance::masking("gradual_integration", &gradual).assert_ok();
    conformance::masking("modality_dropout", &ModalityDropout::new(&DropoutConfig { p: 0.7, ..Default::default() }).unwrap()).assert_ok();
    let balanced = ModalityBalanced::new(&BalancedConfig { group_by: "label".into(), ..Default::default() }).unwrap();
    // The kit's contexts include unlabelled datasets, which group_by: label refuses.
    assert!(!conformance::sampler("modality_balanced", &balanced).is_ok());
}

#[test]
fn balanced_by_label_defaults_to_uniform_classes() {
    let labels: Vec<i64> = (0..1000).map(|i| if i < 900 { 0 } else { 1 + i % 2 }).collect();
    let sampler = ModalityBalanced::new(&BalancedConfig { group_by: "label".into(), ..Default::default() }).unwrap();
    let order = sampler.epoch_order(&SamplerContext::new(1000, 0, 1, 9).with_labels(labels.clone())).unwrap();
    for class in 0..3 {
        let n = order.iter().filter(|&&i| labels[i] == class).count();
        assert!((333..=334).contains(&n), "class {class}: {n} of 1000");
    }
    let bits = presence_bits(&[Modality::Image, Modality::Audio]);
    assert_eq!(modality_group(bits), "image+audio");
}

#[test]
fn bad_configs_name_the_key() {
    let cases = [
        ("modality_balanced", json!({"group_by": "colour"}), "group_by"),
        ("modality_balanced", json!({"targets": [{"group": "image", "ratio": -1}]}), "targets[0].ratio"),
        ("modality_balanced", json!({"targets": [{"gruop": "image", "ratio": 1}]}), "gruop"),
        ("modality_balanced", json!({"epoch_sise": 10}), "epoch_sise"),
        ("curriculum", json!({"phases": [{"until": 0.5}, {"until": 0.4}]}), "phases[1].until"),
        ("curriculum", json!({"phases": [{"until": 0.5, "max_dificulty": 0.1}]}), "max_dificulty"),
        ("curriculum", json!({"phases": [{"until": 0.5, "labels": []}]}), "phases[0].labels"),
        ("modality_dropout", json!({"p": 1.5}), "p"),
        ("modality_dropout", json!({"modalities": ["image", "smell"]}), "modalities[1]"),
        ("gradual_integration", json!({"schedule": [{"modality": "text", "start": 2}]}), "schedule[0].start"),
        ("gradual_integration", json!({"schedule": [{"modality": "txt"}]}), "schedule[0].modality"),
    ];
    for (name, cfg, key) in cases {
        let err = build_error(name, cfg.clone()).unwrap_or_else(|| panic!("{name} accepted {cfg}"));
        assert!(err.contains(key), "{name} {cfg}: error does not name `{key}`: {err}");
    }
    // A target group the data lacks is named at epoch time, with the groups it has.
    let sampler = ModalityBalanced::new(&BalancedConfig { targets: vec![GroupTarget { group: "audio".into(), ratio: 1.0 }], ..Default::default() }).unwrap();
    let err = sampler.epoch_order(&SamplerContext::new(2, 0, 1, 0).with_presence(vec![3, 3])).unwrap_err().to_string();
    assert!(err.contains("targets[0].group") && err.contains("image+text"), "{err}");
}
