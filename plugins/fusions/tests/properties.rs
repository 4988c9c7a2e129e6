//! Properties of every registered fusion, built through the registrar as the host does.
use plexus_plugin::serde_json::{json, Value};
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{Factory, Fusion, Hparams, Modality, ModalityBatch, ModalityFeatures, Registrar};
use proptest::prelude::*;

const NAMES: [&str; 5] = ["early", "late", "gated", "cross_attention", "multimodal_transformer"];

fn build(name: &str, cfg: Value) -> plexus_plugin::Result<(nn::VarStore, Box<dyn Fusion>)> {
    let mut r = Registrar::new("plexus-fusions", plexus_plugin::tracing::dispatcher::get_default(|d| d.clone()));
    plexus_fusions::register(&mut r).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let entries = r.into_entries();
    let (_, factory) = entries.iter().find(|(info, _)| info.name == name).expect("registered");
    let Factory::Fusion(f) = factory else { panic!("{name} is not a fusion") };
    let fusion = f(&vs.root(), &Hparams::new(cfg, format!("test.yaml: model.{name}")))?;
    Ok((vs, fusion))
}

/// `subset` bit i selects `Modality::ALL[i]`; `present[i][b]` says whether example b has it.
/// Absent rows hold `absent_fill` (the contract says zeros; a fusion must not depend on it).
fn features(subset: u8, batch: i64, width: i64, present: &[bool], absent_fill: f64) -> ModalityFeatures {
    let mut f = ModalityFeatures::new();
    for (i, m) in Modality::ALL.into_iter().enumerate().filter(|(i, _)| subset & (1 << i) != 0) {
        let bits: Vec<bool> = (0..batch as usize).map(|b| present[i * 8 + b]).collect();
        let mask = Tensor::from_slice(&bits);
        let data = Tensor::randn([batch, width], (Kind::Float, Device::Cpu));
        let data = data.where_self(&mask.unsqueeze(1), &Tensor::full([batch, width], absent_fill, (Kind::Float, Device::Cpu)));
        f.insert(m, ModalityBatch { data, present: mask });
    }
    f
}

fn small(name: &str) -> Value {
    match name {
        "cross_attention" => json!({"input_dim": 5, "output_dim": 3, "width": 8, "heads": 2, "query": "text"}),
        "multimodal_transformer" => json!({"input_dim": 5, "output_dim": 3, "width": 8, "heads": 2, "layers": 2}),
        _ => json!({"input_dim": 5, "output_dim": 3}),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Finite `[B, output_dim]` for every non-empty subset of modalities and any presence
    /// masks (examples with nothing present included), in train and eval mode; and what
    /// absent rows hold never changes the output.
    #[test]
    fn finite_documented_shape_for_any_subset_and_mask(
        subset in 1u8..16, batch in 1i64..8, present in prop::collection::vec(any::<bool>(), 32), train: bool, seed: i64,
    ) {
        for name in NAMES {
            let (_vs, fusion) = build(name, small(name)).unwrap();
            plexus_plugin::tch::manual_seed(seed);
            let clean = features(subset, batch, 5, &present, 0.0);
            let out = fusion.fuse(&clean, train).unwrap();
            prop_assert_eq!(out.size(), vec![batch, 3], "{}", name);
            prop_assert!(bool::try_from(out.isfinite().all()).unwrap(), "{name}: non-finite output");
            // The same present rows, garbage in the absent ones. Derived from `clean` rather
            // than redrawn: tests in other threads share libtorch's global generator.
            let dirty: ModalityFeatures = clean
                .iter()
                .map(|(m, b)| {
                    let fill = Tensor::full(b.data.size().as_slice(), 1e6, (Kind::Float, Device::Cpu));
                    (*m, ModalityBatch { data: b.data.where_self(&b.present.unsqueeze(1), &fill), present: b.present.shallow_clone() })
                })
                .collect();
            let diff = (fusion.fuse(&dirty, train).unwrap() - &out).abs().max().double_value(&[]);
            prop_assert!(diff < 1e-4, "{name}: values in absent rows changed the output by {diff}");
        }
    }
}

#[test]
fn late_weights_are_renormalised_over_present_modalities() {
    let (_vs, late) = build("late", json!({"modalities": ["image", "text"], "input_dim": 4, "output_dim": 3})).unwrap();
    let x = |m: &str| Tensor::randn([2, 4], (Kind::Float, Device::Cpu)).set_requires_grad(false).f_add_scalar(if m == "image" { 1.0 } else { -1.0 }).unwrap();
    let (img, txt) = (x("image"), x("text"));
    let yes = Tensor::ones([2], (Kind::Bool, Device::Cpu));
    let no = Tensor::zeros([2], (Kind::Bool, Device::Cpu));
    let run = |img_present: &Tensor, txt_present: &Tensor| {
        let mut f = ModalityFeatures::new();
        f.insert(Modality::Image, ModalityBatch { data: &img * img_present.to_kind(Kind::Float).unsqueeze(1), present: img_present.shallow_clone() });
        f.insert(Modality::Text, ModalityBatch { data: &txt * txt_present.to_kind(Kind::Float).unsqueeze(1), present: txt_present.shallow_clone() });
        late.fuse(&f, false).unwrap()
    };
    let (only_image, only_text, both) = (run(&yes, &no), run(&no, &yes), run(&yes, &yes));
    // Equal initial weights: both present → the mean; one present → that one at full weight.
    let diff = (&both - (&only_image + &only_text) / 2.0).abs().max().double_value(&[]);
    assert!(diff < 1e-5, "late fusion with both modalities is not the mean of the single-modality outputs (diff {diff})");
    assert!(only_image.abs().max().double_value(&[]) > 1e-3, "a single present modality must keep its full weight");
    assert_eq!(run(&no, &no).abs().max().double_value(&[]), 0.0, "nothing present must give zeros");
}

#[test]
fn bad_configs_name_the_key() {
    let cases = [
        ("early", json!({"outptu_dim": 3}), "outptu_dim"),
        ("late", json!({"input_dim": 0}), "input_dim"),
        ("gated", json!({"input_dims": {"image": -2}}), "input_dims.image"),
        ("gated", json!({"input_dims": {"imgae": 2}}), "input_dims.imgae"),
        ("early", json!({"modalities": ["image"], "input_dims": {"text": 4}}), "input_dims.text"),
        ("early", json!({"modalities": ["image", "smell"]}), "modalities"),
        ("cross_attention", json!({"width": 10, "heads": 4}), "heads"),
        ("cross_attention", json!({"modalities": ["image", "text"], "query": "audio"}), "query"),
        ("cross_attention", json!({"modalities": ["image"]}), "modalities"),
        ("multimodal_transformer", json!({"mlp_ratio": 0}), "mlp_ratio"),
        ("multimodal_transformer", json!({"layers": "two"}), "layers"),
    ];
    for (name, cfg, key) in cases {
        let err = build(name, cfg.clone()).err().unwrap_or_else(|| panic!("{name} accepted {cfg}")).to_string();
        assert!(err.contains(key), "{name} {cfg}: error does not name `{key}`: {err}");
    }
}

#[test]
fn wrong_widths_and_unconfigured_modalities_are_errors() {
    let (_vs, fusion) = build("gated", json!({"modalities": ["image", "text"], "input_dims": {"image": 6}, "input_dim": 4})).unwrap();
    let ok = |d: i64| ModalityBatch { data: Tensor::zeros([2, d], (Kind::Float, Device::Cpu)), present: Tensor::ones([2], (Kind::Bool, Device::Cpu)) };
    let mut f = ModalityFeatures::new();
    f.insert(Modality::Image, ok(4));
    let err = fusion.fuse(&f, false).unwrap_err().to_string();
    assert!(err.contains("image") && err.contains("[B, 6]"), "{err}");
    let mut f = ModalityFeatures::new();
    f.insert(Modality::Audio, ok(4));
    let err = fusion.fuse(&f, false).unwrap_err().to_string();
    assert!(err.contains("audio") && err.contains("modalities"), "{err}");
    let mut f = ModalityFeatures::new();
    f.insert(Modality::Image, ok(6));
    f.insert(Modality::Text, ModalityBatch { data: Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)), present: Tensor::ones([3], (Kind::Bool, Device::Cpu)) });
    assert!(fusion.fuse(&f, false).unwrap_err().to_string().contains("presence"));
}
