//! The conformance kit on this plugin: the CLIP loss on the trainer's inputs, and every
//! registered component with its default config.
use plexus_losses::{ClipLoss, ClipLossConfig};
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device};

#[test]
fn clip_loss_passes() {
    let vs = nn::VarStore::new(Device::Cpu);
    let loss = ClipLoss::new(&vs.root(), &ClipLossConfig::default()).unwrap();
    conformance::loss("clip", &loss, &conformance::training_inputs(4, 6)).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    conformance::check_declaration(&plexus_losses::plexus_plugin_declaration).assert_ok();
}
