//! The conformance kit on the video plugin: the 3D CNN (pooled) and the cross-attention
//! block on small configs, and every registered component with its default config through
//! the exported declaration (as `plexus plugins --check` does). The per-time-step mode
//! (`pool: none`) is outside the encoder contract `[B, D]`; it gets the same checks here.
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::Encoder;
use plexus_video::{Pool, SeqCrossAttention, SeqCrossAttentionConfig, VideoCnn3d, VideoCnn3dConfig};

fn small(pool: Pool) -> (nn::VarStore, VideoCnn3d) {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = VideoCnn3dConfig { in_channels: 2, image_size: 9, frames: 5, channels: vec![4, 6], time_strides: vec![1, 2], time_kernel: 3, output_dim: 7, pool };
    let enc = VideoCnn3d::new(&vs.root(), &cfg).unwrap();
    (vs, enc)
}

#[test]
fn registered_components_pass_with_default_configs() {
    conformance::check_declaration(&plexus_video::plexus_plugin_declaration).assert_ok();
}

#[test]
fn pooled_cnn3d_passes_on_a_small_config() {
    let (_vs, enc) = small(Pool::Mean);
    conformance::encoder("video_cnn3d", &enc, &Tensor::randn([3, 5, 2, 9, 9], (Kind::Float, Device::Cpu))).assert_ok();
}

#[test]
fn per_step_cnn3d_is_finite_deterministic_batch_independent_and_refuses_wrong_ranks() {
    let (_vs, enc) = small(Pool::None);
    let video = Tensor::randn([3, 5, 2, 9, 9], (Kind::Float, Device::Cpu));
    let out = enc.encode(&video, false).unwrap();
    assert_eq!(out.size(), [3, 3, 7]); // T' = ceil(5 / 2)
    assert!(out.isfinite().all().int64_value(&[]) == 1);
    assert!(out.equal(&enc.encode(&video, false).unwrap()));
    assert_eq!(enc.encode(&video, true).unwrap().size(), [3, 3, 7]);
    let first = enc.encode(&video.narrow(0, 0, 1), false).unwrap();
    assert!(first.allclose(&out.narrow(0, 0, 1), 1e-5, 1e-5, false));
    assert!(enc.encode(&video.select(0, 0), false).is_err());
    assert!(enc.encode(&video.unsqueeze(-1), false).is_err());
}

#[test]
fn cross_attention_passes_on_a_small_config() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = SeqCrossAttentionConfig { query_dim: 6, context_dim: 4, heads: 3, mlp_ratio: 1.5, resample: true, window: 1.5 };
    let m = SeqCrossAttention::new(&vs.root(), &cfg).unwrap();
    conformance::module("seq_cross_attention", &m, &plexus_plugin::Module::example_inputs(&m).unwrap()).assert_ok();
}
