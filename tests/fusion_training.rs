//! End to end with the built plugins: a ViT and a text transformer, each fusion and modality
//! dropout train a few steps on Fashion-MNIST images and their class-name captions
//! (classification through a linear head on the fused features), with finite losses and
//! gradients reaching the fusion.
use std::path::Path;

use plexus::data::load_fashion_mnist;
use plexus::plugins::Registry;
use plexus_plugin::serde_json::json;
use plexus_plugin::tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};
use plexus_plugin::{Hparams, MaskingContext, Modality, ModalityBatch, ModalityFeatures, Presence, SamplerContext};
use plexus_tests::{plugin_lib, root};

const FUSIONS: [&str; 5] = ["early", "late", "gated", "cross_attention", "multimodal_transformer"];
const STEPS: usize = 6;
const BATCH: usize = 32;

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    for lib in ["vision", "text", "fusions", "samplers"] {
        let src = plugin_lib(lib);
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
    }
    let registry = Registry::discover(&[dir.path().to_path_buf()]);
    assert!(registry.refused.is_empty(), "{:?}", registry.refused);
    (dir, registry)
}

fn hp(value: plexus_plugin::serde_json::Value, origin: &str) -> Hparams {
    Hparams::new(value, origin)
}

#[test]
fn every_fusion_trains_on_image_caption_pairs_with_modality_dropout() {
    let (_dir, registry) = registry();
    let templates = vec!["a photo of a {}.".to_string(), "a picture of a {}.".to_string()];
    let data = load_fashion_mnist(&root().join("data/fashion-mnist"), "train", templates).unwrap();
    let sampler = registry.sampler("modality_balanced", &nn::VarStore::new(Device::Cpu).root(), &hp(json!({"group_by": "label"}), "sampler")).unwrap();
    let order = sampler.epoch_order(&SamplerContext::new(data.len(), 0, 1, 7).with_labels(data.labels.clone())).unwrap();
    let dropout = registry.masking("modality_dropout", &nn::VarStore::new(Device::Cpu).root(), &hp(json!({"p": 0.3}), "masking")).unwrap();

    for name in FUSIONS {
        plexus_plugin::tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let root_path = vs.root();
        let mut tok = registry.tokenizer("word", &(&root_path / "tok"), &hp(json!({"context_length": 12}), "tokenizer")).unwrap();
        tok.fit(&data.all_captions()).unwrap();
        let image_cfg = json!({"image_size": 28, "patch_size": 7, "in_channels": 1, "width": 32, "layers": 1, "head_width": 16, "mlp_ratio": 2.0, "output_dim": 32});
        let image = registry.encoder("vit", &(&root_path / "visual"), &hp(image_cfg, "model.image")).unwrap();
        let text_cfg = json!({"vocab_size": tok.vocab_size(), "context_length": 12, "width": 32, "heads": 2, "layers": 1, "output_dim": 32});
        let text = registry.encoder("text_transformer", &(&root_path / "text"), &hp(text_cfg, "model.text")).unwrap();
        let mut fusion_cfg = json!({"modalities": ["image", "text"], "input_dim": 32, "output_dim": 32});
        if name == "cross_attention" {
            fusion_cfg["query"] = json!("image");
        }
        let fusion = registry.fusion(name, &(&root_path / "fusion"), &hp(fusion_cfg, "model.fusion")).unwrap();
        let head = nn::linear(&root_path / "head", 32, 10, Default::default());
        let mut opt = nn::Adam::default().build(&vs, 3e-3).unwrap();

        let mut losses = Vec::new();
        for (step, ids) in order.chunks(BATCH).take(STEPS).enumerate() {
            let index = Tensor::from_slice(&ids.iter().map(|&i| i as i64).collect::<Vec<_>>());
            let images = data.images.index_select(0, &index); // [B, 1, 28, 28]
            let captions: Vec<String> = ids.iter().map(|&i| data.caption(data.labels[i], step % 2)).collect();
            let labels = Tensor::from_slice(&ids.iter().map(|&i| data.labels[i]).collect::<Vec<_>>()); // [B]
            let all: Presence = [Modality::Image, Modality::Text].into_iter().map(|m| (m, Tensor::ones([ids.len() as i64], (Kind::Bool, Device::Cpu)))).collect();
            let ctx = MaskingContext::new(0, 1, step, step as f64 / STEPS as f64, 7);
            let presence = dropout.mask(&ctx, &all).unwrap();
            let embeds = [(Modality::Image, image.encode(&images, true).unwrap()), (Modality::Text, text.encode(&tok.encode(&captions).unwrap(), true).unwrap())]; // [B, 32] each
            let features: ModalityFeatures = embeds
                .into_iter()
                .map(|(m, e)| {
                    let present = presence[&m].shallow_clone();
                    (m, ModalityBatch { data: e * present.to_kind(Kind::Float).unsqueeze(1), present })
                })
                .collect();
            let fused = fusion.fuse(&features, true).unwrap(); // [B, 32]
            assert_eq!(fused.size(), [ids.len() as i64, 32], "{name}");
            let loss = head.forward(&fused).cross_entropy_for_logits(&labels);
            opt.zero_grad();
            loss.backward();
            let fusion_grad: f64 = vs
                .variables()
                .iter()
                .filter(|(n, _)| n.starts_with("fusion."))
                .map(|(_, t)| if t.grad().defined() { t.grad().abs().sum(Kind::Float).double_value(&[]) } else { 0.0 })
                .sum();
            assert!(fusion_grad > 0.0, "{name}: no gradient reached the fusion at step {step}");
            opt.step();
            losses.push(loss.double_value(&[]));
        }
        assert_eq!(losses.len(), STEPS);
        assert!(losses.iter().all(|l| l.is_finite()), "{name}: losses {losses:?}");
        // The captions name the class, so a few steps already help (fixed seeds: deterministic).
        assert!(losses[STEPS - 1] < losses[0], "{name}: loss did not decrease: {losses:?}");
        println!("{name}: losses {losses:?}");
    }
}

#[test]
fn unknown_fusion_and_bad_fusion_config_are_named() {
    let (_dir, registry) = registry();
    let vs = nn::VarStore::new(Device::Cpu);
    let err = registry.fusion("gatd", &vs.root(), &hp(json!({}), "model.fusion")).err().unwrap().to_string();
    assert!(err.contains("unknown fusion `gatd`") && err.contains("did you mean `gated`"), "{err}");
    let err = registry.fusion("gated", &vs.root(), &hp(json!({"output_dims": 3}), "exp.yaml: model.fusion")).err().unwrap().to_string();
    assert!(err.contains("exp.yaml: model.fusion: output_dims") && err.contains("did you mean `output_dim`"), "{err}");
    let err = registry.masking("modality_dropout", &vs.root(), &hp(json!({"p": 2}), "exp.yaml: train.masking")).err().unwrap().to_string();
    assert!(err.contains("p") && err.contains("[0, 1]"), "{err}");
    assert!(Path::new(&root().join("data/fashion-mnist")).exists());
}
