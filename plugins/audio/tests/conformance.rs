//! The conformance kit on the audio encoders: small configs, and every registered component
//! with its default config through the exported declaration (as `plexus plugins --check` does).
use plexus_audio::{AudioCnn, AudioCnnConfig, AudioLstm, AudioLstmConfig};
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::Encoder;

#[test]
fn small_configs_pass() {
    let vs = nn::VarStore::new(Device::Cpu);
    let mel = Tensor::randn([3, 16, 20], (Kind::Float, Device::Cpu));
    let cnn = AudioCnn::new(&(vs.root() / "cnn"), &AudioCnnConfig { n_mels: 16, frames: 20, channels: vec![4, 8], output_dim: 6 }).unwrap();
    conformance::encoder("audio_cnn", &cnn, &mel).assert_ok();
    let lstm = AudioLstm::new(&(vs.root() / "lstm"), &AudioLstmConfig { n_mels: 16, frames: 20, hidden: 8, layers: 2, bidirectional: true, output_dim: 6 }).unwrap();
    conformance::encoder("audio_lstm", &lstm, &mel).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    conformance::check_declaration(&plexus_audio::plexus_plugin_declaration).assert_ok();
}

#[test]
fn any_number_of_frames_works_and_wrong_mel_bands_are_an_error() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cnn = AudioCnn::new(&vs.root(), &AudioCnnConfig { n_mels: 16, frames: 20, channels: vec![4, 8, 8], output_dim: 6 }).unwrap();
    for frames in [1, 3, 57] {
        let out = cnn.encode(&Tensor::randn([2, 16, frames], (Kind::Float, Device::Cpu)), false).unwrap();
        assert_eq!(out.size(), [2, 6], "{frames} frames");
    }
    let err = cnn.encode(&Tensor::randn([2, 12, 20], (Kind::Float, Device::Cpu)), false).unwrap_err();
    assert!(err.to_string().contains("[B, 16, T>=1]"), "{err}");
    let err = AudioCnn::new(&vs.root(), &AudioCnnConfig { n_mels: 2, frames: 20, channels: vec![4, 4, 4], output_dim: 6 }).unwrap_err();
    assert!(err.to_string().contains("halve n_mels"), "{err}");
}

#[test]
fn conv1d_pooled_passes_and_per_step_keeps_a_local_time_axis() {
    use plexus_audio::{AudioConv1d, AudioConv1dConfig, Pool};
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = AudioConv1dConfig { n_mels: 16, frames: 20, channels: vec![8, 8], strides: vec![2, 1], kernel: 3, output_dim: 6, pool: Pool::Mean };
    let mel = Tensor::randn([3, 16, 20], (Kind::Float, Device::Cpu));
    conformance::encoder("audio_conv1d", &AudioConv1d::new(&(vs.root() / "mean"), &cfg).unwrap(), &mel).assert_ok();

    let seq = AudioConv1d::new(&(vs.root() / "seq"), &AudioConv1dConfig { pool: Pool::None, ..cfg.clone() }).unwrap();
    let out = seq.encode(&mel, false).unwrap();
    assert_eq!(out.size(), [3, seq.output_frames(20), 6]);
    assert_eq!(seq.output_frames(20), 10);
    assert!(out.narrow(0, 0, 1).allclose(&seq.encode(&mel.narrow(0, 0, 1), false).unwrap(), 1e-5, 1e-5, false));
    // Receptive field: kernel 3 at stride 2, then kernel 3 at stride 1 → output step t sees
    // input frames 2t-3..2t+3; changing the last frames leaves the first steps unchanged.
    let changed = mel.copy();
    let _ = changed.narrow(2, 12, 8).fill_(4.0);
    assert!((&changed - &mel).abs().sum(Kind::Float).double_value(&[]) > 0.0, "input unchanged");
    let diff = Vec::<f64>::try_from((seq.encode(&changed, false).unwrap() - &out).abs().amax([0i64, 2].as_slice(), false)).unwrap();
    assert!(diff[..4].iter().all(|&d| d == 0.0) && diff[5..].iter().all(|&d| d > 0.0), "{diff:?}");
    assert!(seq.encode(&mel.unsqueeze(1), false).is_err());
    let err = AudioConv1d::new(&vs.root(), &AudioConv1dConfig { strides: vec![2], ..cfg }).unwrap_err().to_string();
    assert!(err.contains("strides"), "{err}");
}
