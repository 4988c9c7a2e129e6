//! The conformance kit on every fusion: default configs through the exported declaration
//! (as `plexus plugins --check` does), and small two-modality configs with unequal widths.
use plexus_fusions::*;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{conformance, Fusion, Modality, ModalityBatch, ModalityFeatures};

#[test]
fn registered_components_pass_with_default_configs() {
    let report = conformance::check_declaration(&plexus_fusions::plexus_plugin_declaration);
    report.assert_ok();
    assert_eq!(report.components.len(), 6, "{report}");
    for c in &report.components {
        assert!(c.skipped.is_none(), "{c}");
    }
}

fn image_text() -> ModalityFeatures {
    let mut f = ModalityFeatures::new();
    for (m, d) in [(Modality::Image, 6), (Modality::Text, 4)] {
        f.insert(m, ModalityBatch { data: Tensor::randn([5, d], (Kind::Float, Device::Cpu)), present: Tensor::ones([5], (Kind::Bool, Device::Cpu)) });
    }
    f
}

#[test]
fn every_fusion_passes_with_per_modality_widths() {
    let modalities = vec!["image".to_string(), "text".to_string()];
    let input_dims = ModalityDims { image: Some(6), text: Some(4), ..Default::default() };
    let vs = nn::VarStore::new(Device::Cpu);
    let p = vs.root();
    let fusions: Vec<(&str, Box<dyn Fusion>)> = vec![
        ("early", Box::new(EarlyFusion::new(&p, &EarlyConfig { modalities: modalities.clone(), input_dims: input_dims.clone(), output_dim: 3, ..Default::default() }).unwrap())),
        ("late", Box::new(LateFusion::new(&(&p / "l"), &LateConfig { modalities: modalities.clone(), input_dims: input_dims.clone(), output_dim: 3, ..Default::default() }).unwrap())),
        ("gated", Box::new(GatedFusion::new(&(&p / "g"), &GatedConfig { modalities: modalities.clone(), input_dims: input_dims.clone(), output_dim: 3, ..Default::default() }).unwrap())),
        (
            "cross_attention",
            Box::new(CrossAttentionFusion::new(&(&p / "c"), &CrossAttentionConfig { modalities: modalities.clone(), input_dims: input_dims.clone(), query: "text".into(), output_dim: 3, ..Default::default() }).unwrap()),
        ),
        (
            "multimodal_transformer",
            Box::new(MultimodalTransformer::new(&(&p / "t"), &MultimodalTransformerConfig { modalities, input_dims, layers: 2, output_dim: 3, ..Default::default() }).unwrap()),
        ),
    ];
    for (name, fusion) in &fusions {
        conformance::fusion(name, fusion.as_ref(), &image_text()).assert_ok();
    }
}
