//! The conformance kit on this plugin: the ViT on a small config, and every registered
//! component with its default config through the exported declaration (as
//! `plexus plugins --check` does).
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_vision::{VisionTransformer, VitConfig};

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
