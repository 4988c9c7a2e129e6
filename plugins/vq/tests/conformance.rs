//! The conformance kit on both modules with their default configs, through the exported
//! declaration (as `plexus plugins --check` does), and on a non-default tokenizer.
use plexus_plugin::tch::{nn, Device};
use plexus_plugin::{conformance, Module};
use plexus_vq::{VqVideoTokenizer, VqVideoTokenizerConfig};

#[test]
fn registered_modules_pass_with_default_configs() {
    let report = conformance::check_declaration(&plexus_vq::plexus_plugin_declaration);
    report.assert_ok();
    let mut names: Vec<_> = report.components.iter().map(|c| c.component.clone()).collect();
    names.sort();
    assert_eq!(names, ["videobert", "vq_video_tokenizer"], "{report}");
    for c in &report.components {
        assert!(c.skipped.is_none(), "{c}");
        assert!(c.passed.len() >= 4, "{c}");
    }
}

#[test]
fn rgb_tokenizer_without_temporal_downsampling_passes() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = VqVideoTokenizerConfig { in_channels: 3, frames: 3, image_size: 8, downsample: 1, temporal_downsample: false, ..Default::default() };
    let tok = VqVideoTokenizer::new(&vs.root(), &cfg).unwrap();
    conformance::module("vq_video_tokenizer", &tok, &tok.example_inputs().unwrap()).assert_ok();
}
