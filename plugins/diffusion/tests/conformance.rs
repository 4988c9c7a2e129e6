//! The conformance kit on both modules (default configs through the exported declaration,
//! as `plexus plugins --check` does, and small configs), plus the sampling paths the kit
//! does not reach and a prior that must learn a text → image embedding mapping.
use plexus_diffusion::*;
use plexus_plugin::tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};
use plexus_plugin::{conformance, Module, TensorMap};

fn small_decoder(vs: &nn::VarStore) -> UnclipDecoder {
    let cfg = UnclipDecoderConfig { image_size: 9, in_channels: 2, channels: vec![8, 16], embed_dim: 5, emb_dim: 16, timesteps: 50, sample_steps: 4, ..Default::default() };
    UnclipDecoder::new(&vs.root(), &cfg).unwrap()
}

#[test]
fn registered_modules_pass_with_default_configs() {
    let report = conformance::check_declaration(&plexus_diffusion::plexus_plugin_declaration);
    report.assert_ok();
    assert_eq!(report.components.len(), 2, "{report}");
    for c in &report.components {
        assert!(c.skipped.is_none(), "{c}");
        assert!(c.passed.len() >= 5, "{c}");
    }
}

#[test]
fn small_configs_pass_and_odd_sizes_keep_their_shape() {
    let vs = nn::VarStore::new(Device::Cpu);
    let decoder = small_decoder(&vs);
    conformance::module("unclip_decoder", &decoder, &decoder.example_inputs().unwrap()).assert_ok();
    let prior = DiffusionPrior::new(&(vs.root() / "prior"), &DiffusionPriorConfig { embed_dim: 5, width: 8, layers: 1, timesteps: 20, ..Default::default() }).unwrap();
    conformance::module("diffusion_prior", &prior, &prior.example_inputs().unwrap()).assert_ok();
}

#[test]
fn sampling_gives_images_in_range_and_unit_embeddings() {
    let vs = nn::VarStore::new(Device::Cpu);
    let decoder = small_decoder(&vs);
    let embed = Tensor::randn([3, 5], (Kind::Float, Device::Cpu));
    let images = decoder.forward(&TensorMap::new().with("image_embed", &embed), false).unwrap().get("images").unwrap().shallow_clone();
    assert_eq!(images.size(), [3, 2, 9, 9]);
    assert!(images.abs().max().double_value(&[]) <= 1.0);
    // A given starting noise makes sampling deterministic.
    let noise = Tensor::randn([3, 2, 9, 9], (Kind::Float, Device::Cpu));
    let inputs = TensorMap::new().with("image_embed", &embed).with("noise", &noise);
    let a = decoder.forward(&inputs, false).unwrap().get("images").unwrap().shallow_clone();
    assert!(a.equal(decoder.forward(&inputs, false).unwrap().get("images").unwrap()));
    let err = decoder.forward(&inputs.with("noise", &noise.narrow(3, 0, 8)), false).unwrap_err().to_string();
    assert!(err.contains("`noise`") && err.contains("[B, 2, 9, 9]"), "{err}");

    let prior = DiffusionPrior::new(&(vs.root() / "prior"), &DiffusionPriorConfig { embed_dim: 5, width: 8, layers: 1, timesteps: 20, sample_steps: 5, guidance_scale: 2.0, ..Default::default() }).unwrap();
    let out = prior.forward(&TensorMap::new().with("text_embed", &embed), false).unwrap();
    let norms = out.get("image_embed").unwrap().norm_scalaropt_dim(2.0, [1i64].as_slice(), false);
    assert!(norms.allclose(&Tensor::ones([3], (Kind::Float, Device::Cpu)), 1e-4, 1e-4, false), "{norms}");
}

#[test]
fn bad_configs_and_timesteps_are_errors_naming_the_key() {
    let vs = nn::VarStore::new(Device::Cpu);
    let err = UnclipDecoder::new(&vs.root(), &UnclipDecoderConfig { channels: vec![], ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("channels"), "{err}");
    let err = DiffusionPrior::new(&vs.root(), &DiffusionPriorConfig { cond_drop_prob: 1.0, ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("cond_drop_prob"), "{err}");
    let decoder = small_decoder(&vs);
    let inputs = decoder.example_inputs().unwrap().with("timesteps", &Tensor::from_slice(&[0i64, 50]));
    let err = decoder.forward(&inputs, true).unwrap_err().to_string();
    assert!(err.contains("timesteps") && err.contains("[0, 50)"), "{err}");
}

/// Two text embeddings, each paired with its own image embedding: after training, the
/// prior's samples for each text point at that text's image embedding.
#[test]
fn prior_learns_which_image_embedding_goes_with_which_text() {
    plexus_plugin::tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = DiffusionPriorConfig { embed_dim: 8, width: 64, layers: 2, timesteps: 100, sample_steps: 10, ..Default::default() };
    let prior = DiffusionPrior::new(&vs.root(), &cfg).unwrap();
    let texts = Tensor::randn([2, 8], (Kind::Float, Device::Cpu));
    let images = Tensor::randn([2, 8], (Kind::Float, Device::Cpu));
    let mut opt = nn::Adam::default().build(&vs, 3e-3).unwrap();
    let pick = Tensor::arange(64, (Kind::Int64, Device::Cpu)).remainder(2); // [64]: 0, 1, 0, 1, ...
    for _ in 0..300 {
        let out = prior.forward(&TensorMap::new().with("text_embed", &texts.index_select(0, &pick)).with("image_embed", &images.index_select(0, &pick)), true).unwrap();
        let loss = (out.get("pred").unwrap() - out.get("target").unwrap()).square().mean(Kind::Float);
        opt.backward_step(&loss);
    }
    let sampled = prior.forward(&TensorMap::new().with("text_embed", &texts), false).unwrap().get("image_embed").unwrap().shallow_clone(); // [2, 8]
    let unit = &images / images.norm_scalaropt_dim(2.0, [1i64].as_slice(), true);
    let cos = sampled.matmul(&unit.tr()); // [2, 2]: sample i · image j
    for i in 0..2 {
        let (own, other) = (cos.double_value(&[i, i]), cos.double_value(&[i, 1 - i]));
        assert!(own > 0.9 && own > other, "sample {i}: cosine {own} with its image, {other} with the other\n{cos}");
    }
}

/// A per-call `guidance_scale` overrides the config's: at the configured scale the output
/// equals the plain call's, at another scale it differs; a vector or a negative scale is
/// an error naming the input.
#[test]
fn a_guidance_scale_input_overrides_the_config_for_one_call() {
    let vs = nn::VarStore::new(Device::Cpu);
    let decoder = small_decoder(&vs); // configured guidance 3.0
    let embed = Tensor::randn([2, 5], (Kind::Float, Device::Cpu));
    let noise = Tensor::randn([2, 2, 9, 9], (Kind::Float, Device::Cpu));
    let call = |g: Option<Tensor>| {
        let inputs = TensorMap::new().with("image_embed", &embed).with("noise", &noise);
        decoder.forward(&match g { Some(g) => inputs.with("guidance_scale", &g), None => inputs }, false)
    };
    let plain = call(None).unwrap().get("images").unwrap().shallow_clone();
    assert!(plain.equal(call(Some(Tensor::from(3.0f32))).unwrap().get("images").unwrap()));
    assert!(!plain.equal(call(Some(Tensor::from(1.0f32))).unwrap().get("images").unwrap()));
    for bad in [Tensor::from_slice(&[1.0f32, 2.0]), Tensor::from(-1.0f32)] {
        let err = call(Some(bad)).unwrap_err().to_string();
        assert!(err.contains("`guidance_scale`"), "{err}");
    }

    let prior = DiffusionPrior::new(&(vs.root() / "prior"), &DiffusionPriorConfig { embed_dim: 5, width: 8, layers: 1, timesteps: 20, sample_steps: 5, ..Default::default() }).unwrap();
    let start = Tensor::randn([2, 5], (Kind::Float, Device::Cpu));
    let sample = |g: f32| {
        let inputs = TensorMap::new().with("text_embed", &embed).with("noise", &start).with("guidance_scale", &Tensor::from(g));
        prior.forward(&inputs, false).unwrap().get("image_embed").unwrap().shallow_clone()
    };
    let plain = prior.forward(&TensorMap::new().with("text_embed", &embed).with("noise", &start), false).unwrap().get("image_embed").unwrap().shallow_clone();
    assert!(plain.equal(&sample(1.0)) && !plain.equal(&sample(4.0)));
}
