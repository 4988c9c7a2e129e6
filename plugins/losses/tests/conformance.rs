//! The conformance kit on this plugin: each loss on inputs of its kind with a small
//! config, and every registered component with its default config (the kit then derives
//! each loss's inputs from its config, see `conformance::loss_input_sets`).
use plexus_losses::*;
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::TensorMap;

fn float(size: &[i64]) -> Tensor {
    Tensor::randn(size, (Kind::Float, Device::Cpu))
}

fn store() -> nn::VarStore {
    nn::VarStore::new(Device::Cpu)
}

#[test]
fn clip_loss_passes() {
    let vs = store();
    let loss = ClipLoss::new(&vs.root(), &ClipLossConfig::default()).unwrap();
    conformance::loss("clip", &loss, &conformance::training_inputs(4, 6)).assert_ok();
}

#[test]
fn siglip_loss_passes() {
    let vs = store();
    let loss = SiglipLoss::new(&vs.root(), &SiglipLossConfig::default()).unwrap();
    conformance::loss("siglip", &loss, &conformance::training_inputs(4, 6)).assert_ok();
}

#[test]
fn audioclip_loss_passes_with_two_and_three_modalities_and_a_presence_mask() {
    let vs = store();
    let loss = AudioClipLoss::new(&vs.root(), &AudioClipLossConfig::default()).unwrap();
    let audio_present = Tensor::from_slice(&[true, false, true, true]);
    let three = conformance::training_inputs(4, 6).with("audio_embeds", &float(&[4, 6])).with("audio_present", &audio_present);
    conformance::loss("audioclip", &loss, &three).assert_ok();
    let image_audio = TensorMap::new().with("image_embeds", &float(&[4, 6])).with("audio_embeds", &float(&[4, 6]));
    conformance::loss("audioclip", &loss, &image_audio).assert_ok();
}

#[test]
fn itm_loss_passes() {
    let vs = store();
    let loss = ItmLoss::new(&vs.root(), &ItmLossConfig { embed_dim: 6, hidden_dim: 8, ..Default::default() }).unwrap();
    conformance::loss("itm", &loss, &conformance::training_inputs(4, 6)).assert_ok();
}

#[test]
fn lm_cross_entropy_passes_with_a_mask() {
    let vs = store();
    let loss = LmCrossEntropy::new(&vs.root(), &LmCrossEntropyConfig { label_smoothing: 0.1, ..Default::default() }).unwrap();
    let targets = Tensor::randint_low(0, 7, [2, 5], (Kind::Int64, Device::Cpu));
    let mask = Tensor::ones([2, 5], (Kind::Int64, Device::Cpu));
    let inputs = TensorMap::new().with("logits", &float(&[2, 5, 7])).with("targets", &targets).with("mask", &mask);
    conformance::loss("lm_cross_entropy", &loss, &inputs).assert_ok();
}

#[test]
fn vq_loss_passes() {
    let vs = store();
    let loss = VectorQuantizer::new(&vs.root(), &VqLossConfig { num_codes: 8, code_dim: 4, beta: 0.25 }).unwrap();
    conformance::loss("vq", &loss, &TensorMap::new().with("latents", &float(&[2, 3, 4]))).assert_ok();
}

#[test]
fn ctc_loss_passes_with_uneven_lengths() {
    let vs = store();
    let loss = CtcLoss::new(&vs.root(), &CtcLossConfig { blank: 3, zero_infinity: false }).unwrap();
    let inputs = TensorMap::new()
        .with("logits", &float(&[2, 6, 4]))
        .with("targets", &Tensor::from_slice(&[0i64, 1, 2, 2, 3, 3]).view([2, 3]))
        .with("input_lengths", &Tensor::from_slice(&[6i64, 4]))
        .with("target_lengths", &Tensor::from_slice(&[3i64, 1]));
    conformance::loss("ctc", &loss, &inputs).assert_ok();
}

#[test]
fn diffusion_mse_passes_with_timestep_weights() {
    let vs = store();
    let loss = DiffusionMse::new(&vs.root(), &DiffusionMseConfig { timestep_weights: vec![1.0, 0.5, 0.25] }).unwrap();
    let inputs = TensorMap::new()
        .with("noise_pred", &float(&[2, 3, 4, 4]))
        .with("noise", &float(&[2, 3, 4, 4]))
        .with("timesteps", &Tensor::from_slice(&[2i64, 0]));
    conformance::loss("diffusion_mse", &loss, &inputs).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    let report = conformance::check_declaration(&plexus_losses::plexus_plugin_declaration);
    report.assert_ok();
    // Every loss found inputs it accepts among the kit's conventional ones.
    for component in &report.components {
        assert!(component.skipped.is_none(), "{component}");
    }
    assert_eq!(report.components.len(), 8, "{report}");
}
