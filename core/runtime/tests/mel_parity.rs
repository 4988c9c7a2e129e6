//! The log-mel spectrogram against torchaudio 2.11's `MelSpectrogram` (installed by
//! tools/setup-venv.sh) on WAV fixtures written here: a chirp with noise, at three
//! (rate, n_fft, hop, n_mels) settings. Tolerance: 2e-3 absolute on ln(mel + 1e-6);
//! both sides compute in f32, so the differences are FFT rounding.
use std::path::{Path, PathBuf};
use std::process::Command;

use plexus::data::{read_wav, AudioConfig, LogMel, LOG_OFFSET};
use rand::{Rng, SeedableRng};

const TOLERANCE: f32 = 2e-3;

fn venv_python() -> PathBuf {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(py.exists(), "{} is missing: run `make setup`", py.display());
    py
}

/// A rising chirp plus white noise (so that every mel band has energy), 16-bit mono.
fn write_fixture(path: &Path, rate: u32, samples: usize) {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(rate));
    let seconds = samples as f64 / rate as f64;
    for i in 0..samples {
        let t = i as f64 / rate as f64;
        let sweep = 100.0 + (rate as f64 / 2.5 - 100.0) * t / seconds; // Hz, rising
        let x = 0.5 * (std::f64::consts::PI * sweep * t).sin() + 0.05 * rng.gen_range(-1.0..1.0);
        w.write_sample((x * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn log_mel_matches_torchaudio() {
    let dir = tempfile::tempdir().unwrap();
    for (rate, n_fft, hop, n_mels, samples) in [(16_000, 400, 160, 64, 16_000), (8_000, 256, 100, 40, 5_001), (22_050, 512, 128, 80, 11_025)] {
        let wav = dir.path().join(format!("chirp{rate}.wav"));
        let out = dir.path().join(format!("mel{rate}.f32"));
        write_fixture(&wav, rate, samples);
        let status = Command::new(venv_python())
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/mel_parity.py"))
            .args([wav.as_os_str(), out.as_os_str()])
            .args([n_fft, hop, n_mels].map(|v| v.to_string()))
            .status()
            .expect("run the venv's python");
        assert!(status.success(), "torchaudio reference failed (is torchaudio installed? run `make setup`)");
        let reference: Vec<f32> = std::fs::read(&out).unwrap().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();

        let cfg = AudioConfig { sample_rate: rate, n_fft, hop, n_mels, frames: 1 };
        let (signal, _) = read_wav(&wav).unwrap();
        let ours: Vec<f32> = LogMel::new(&cfg).unwrap().mel_power(&signal).concat().iter().map(|p| (p + LOG_OFFSET).ln()).collect();
        let frames = 1 + samples / hop;
        assert_eq!((ours.len(), reference.len()), (n_mels * frames, n_mels * frames), "{rate} Hz: [n_mels, frames] sizes");
        let (worst, at) = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).zip(0..).fold((0f32, 0), |m, (d, i)| if d > m.0 { (d, i) } else { m });
        println!("{rate} Hz, n_fft {n_fft}, hop {hop}, {n_mels} mels: max |ours - torchaudio| = {worst:.2e} (log-mel)");
        assert!(worst <= TOLERANCE, "{rate} Hz: log-mel differs by {worst} at mel {} frame {} (tolerance {TOLERANCE})", at / frames, at % frames);
    }
}
