//! The conformance kit on this plugin: the ViT on a small config, and every registered
//! component with its default config through the exported declaration (as
//! `plexus plugins --check` does).
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_vision::{Cnn, CnnConfig, VisionTransformer, VitConfig};

#[test]
fn vit_passes_on_a_small_config() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = VitConfig { image_size: 8, patch_size: 4, in_channels: 1, width: 16, layers: 1, head_width: 8, mlp_ratio: 2.0, output_dim: 5 };
    let vit = VisionTransformer::new(&vs.root(), &cfg).unwrap();
    conformance::encoder("vit", &vit, &Tensor::randn([3, 1, 8, 8], (Kind::Float, Device::Cpu))).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    conformance::check_declaration(&plexus_vision::plexus_plugin_declaration).assert_ok();
}

#[test]
fn cnn_passes_on_a_small_config() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = CnnConfig { image_size: 9, in_channels: 2, channels: vec![4, 6], output_dim: 3 };
    let cnn = Cnn::new(&vs.root(), &cfg).unwrap();
    conformance::encoder("cnn", &cnn, &Tensor::randn([3, 2, 9, 9], (Kind::Float, Device::Cpu))).assert_ok();
}

#[test]
fn cnn_refuses_the_wrong_image_size_and_empty_stages() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cnn = Cnn::new(&vs.root(), &CnnConfig::default()).unwrap();
    let err = plexus_plugin::Encoder::encode(&cnn, &Tensor::randn([2, 1, 32, 32], (Kind::Float, Device::Cpu)), false).unwrap_err().to_string();
    assert!(err.contains("[B, 1, 28, 28]") && err.contains("32"), "{err}");
    let err = Cnn::new(&(vs.root() / "x"), &CnnConfig { channels: vec![], ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("channels"), "{err}");
}
