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
