//! WAV files (via `hound`) → log-mel spectrograms `[n_mels, frames]`.
//!
//! The spectrogram follows `torchaudio.transforms.MelSpectrogram`'s defaults so that it
//! can be checked against it (core/runtime/tests/mel_parity.rs): periodic Hann window of
//! `n_fft` samples, centred frames (the signal is reflect-padded by `n_fft / 2` on both
//! sides), power spectrum, HTK mel scale without filter normalisation, `f_min = 0`,
//! `f_max = sample_rate / 2`. The log is `ln(mel + 1e-6)`. Multi-channel files are
//! averaged to mono; files at another sample rate are resampled to the configured one
//! first (`data/resample.rs`).
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use super::example::Location;
use super::resample::resample;
use crate::error::{Error, Result};

/// Added before the log so that silent bins stay finite.
pub const LOG_OFFSET: f32 = 1e-6;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AudioConfig {
    /// The rate spectrograms are computed at; files at other rates are resampled to it.
    pub sample_rate: u32,
    pub n_fft: usize,
    /// Samples between frames.
    pub hop: usize,
    pub n_mels: usize,
    /// Frames per example: longer clips are cut at the end, shorter ones are extended
    /// with silence (`ln(1e-6)`, the value of a zero-power frame), so batches stack.
    pub frames: usize,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self { sample_rate: 16_000, n_fft: 400, hop: 160, n_mels: 64, frames: 100 }
    }
}

/// Reads `path` as mono samples in [-1, 1]; returns them with the file's sample rate.
pub fn read_wav(path: &Path) -> Result<(Vec<f32>, u32)> {
    read_wav_at(&Location::File(path.to_path_buf()))
}

/// [`read_wav`] for a file or a tar member.
pub fn read_wav_at(at: &Location) -> Result<(Vec<f32>, u32)> {
    let shown = at.display();
    let bad = |e: hound::Error| Error::Data(format!("{shown}: cannot read WAV (truncated or corrupt?): {e}"));
    let reader = hound::WavReader::new(Cursor::new(at.read()?)).map_err(bad)?;
    let spec = reader.spec();
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<std::result::Result<_, _>>().map_err(bad)?,
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader.into_samples::<i32>().map(|s| s.map(|s| s as f32 / scale)).collect::<std::result::Result<_, _>>().map_err(bad)?
        }
    };
    let channels = spec.channels.max(1) as usize;
    if !interleaved.len().is_multiple_of(channels) {
        return Err(Error::Data(format!("{shown}: cannot read WAV (truncated or corrupt?): the last frame is incomplete")));
    }
    let mono = interleaved.chunks(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect();
    Ok((mono, spec.sample_rate))
}

/// A log-mel transform with its FFT plan, window and filterbank computed once.
#[derive(Clone)]
pub struct LogMel {
    cfg: AudioConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per mel band, the first FFT bin its triangle covers and its weights from there on
    /// (the rest of the `n_fft / 2 + 1` bins are zero, so they are not stored).
    filters: Vec<(usize, Vec<f32>)>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel").field("cfg", &self.cfg).finish()
    }
}

impl LogMel {
    pub fn new(cfg: &AudioConfig) -> Result<Self> {
        let bad = |m: &str| Err(Error::Data(format!("audio config: {m}")));
        if cfg.n_fft < 2 || cfg.hop == 0 || cfg.n_mels == 0 || cfg.frames == 0 || cfg.sample_rate == 0 {
            return bad("`n_fft` must be at least 2 and `hop`, `n_mels`, `frames`, `sample_rate` positive");
        }
        let n = cfg.n_fft;
        let window = (0..n).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos()) as f32).collect();
        let filters = mel_filters(n / 2 + 1, cfg.n_mels, cfg.sample_rate as f64)
            .into_iter()
            .map(|row| {
                let first = row.iter().position(|&w| w > 0.0).unwrap_or(row.len());
                let last = row.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
                (first, row[first..last].to_vec())
            })
            .collect();
        Ok(Self { cfg: cfg.clone(), fft: RealFftPlanner::<f32>::new().plan_fft_forward(n), window, filters })
    }

    pub fn config(&self) -> &AudioConfig {
        &self.cfg
    }

    /// Mel power spectrogram of `samples`: `[n_mels][frames]` with `1 + len / hop` frames.
    pub fn mel_power(&self, samples: &[f32]) -> Vec<Vec<f32>> {
        let (n, pad) = (self.cfg.n_fft, self.cfg.n_fft / 2);
        let padded = reflect_pad(samples, pad);
        let frames = 1 + (padded.len() - n) / self.cfg.hop;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut power = vec![0f32; spectrum.len()];
        let mut mel = vec![vec![0f32; frames]; self.cfg.n_mels];
        for (t, frame) in padded.windows(n).step_by(self.cfg.hop).take(frames).enumerate() {
            for ((x, s), w) in input.iter_mut().zip(frame).zip(&self.window) {
                *x = s * w;
            }
            // Lengths come from make_*_vec, the only way process can fail.
            self.fft.process(&mut input, &mut spectrum).expect("FFT buffers sized by the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for (m, (first, weights)) in self.filters.iter().enumerate() {
                mel[m][t] = weights.iter().zip(&power[*first..]).map(|(w, p)| w * p).sum();
            }
        }
        mel
    }

    /// Reads `path` and returns its log-mel spectrogram, `[n_mels * frames]` mel-major,
    /// cut or extended with silence to `frames`.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>> {
        self.load_at(&Location::File(path.to_path_buf()))
    }

    /// [`LogMel::load`] for a file or a tar member.
    pub fn load_at(&self, at: &Location) -> Result<Vec<f32>> {
        let (samples, rate) = read_wav_at(at)?;
        let samples = resample(&samples, rate, self.cfg.sample_rate).map_err(|e| Error::Data(format!("{}: {e}", at.display())))?;
        let silence = LOG_OFFSET.ln();
        let mut out = Vec::with_capacity(self.cfg.n_mels * self.cfg.frames);
        for row in self.mel_power(&samples) {
            out.extend(row.iter().take(self.cfg.frames).map(|p| (p + LOG_OFFSET).ln()));
            out.resize(out.len() + self.cfg.frames.saturating_sub(row.len()), silence);
        }
        Ok(out)
    }
}

/// Mirrors `pad` samples at each end without repeating the edge sample. Signals shorter
/// than `pad + 1` samples are first extended with zeros (reflection needs that many).
fn reflect_pad(samples: &[f32], pad: usize) -> Vec<f32> {
    let mut x = samples.to_vec();
    x.resize(x.len().max(pad + 1), 0.0);
    let n = x.len();
    let mut out = Vec::with_capacity(n + 2 * pad);
    out.extend((1..=pad).rev().map(|i| x[i]));
    out.extend_from_slice(&x);
    out.extend((1..=pad).map(|i| x[n - 1 - i]));
    out
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// Triangular filters with corners equally spaced on the HTK mel scale between 0 Hz and
/// Nyquist, evaluated at the `n_freqs` FFT bin frequencies, peak height 1.
fn mel_filters(n_freqs: usize, n_mels: usize, sample_rate: f64) -> Vec<Vec<f32>> {
    let nyquist = (sample_rate / 2.0).floor();
    let bins: Vec<f64> = (0..n_freqs).map(|i| nyquist * i as f64 / (n_freqs - 1).max(1) as f64).collect();
    let top = hz_to_mel(nyquist);
    let corners: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
    (0..n_mels)
        .map(|m| {
            let (lo, mid, hi) = (corners[m], corners[m + 1], corners[m + 2]);
            bins.iter().map(|&f| ((f - lo) / (mid - lo)).min((hi - f) / (hi - mid)).max(0.0) as f32).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
        let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        samples.iter().for_each(|&s| w.write_sample(s).unwrap());
        w.finalize().unwrap();
    }

    fn tone(rate: u32, hz: f64, n: usize) -> Vec<i16> {
        (0..n).map(|i| ((2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin() * 16000.0) as i16).collect()
    }

    #[test]
    fn a_tone_peaks_in_the_mel_band_of_its_frequency() {
        let cfg = AudioConfig { sample_rate: 8000, n_fft: 256, hop: 128, n_mels: 20, frames: 10 };
        let mel = LogMel::new(&cfg).unwrap();
        let spec = mel.mel_power(&tone(8000, 1000.0, 2000).iter().map(|&s| s as f32 / 32768.0).collect::<Vec<_>>());
        assert_eq!((spec.len(), spec[0].len()), (20, 1 + 2000 / 128));
        let t = 5;
        let peak = (0..20).max_by(|&a, &b| spec[a][t].total_cmp(&spec[b][t])).unwrap();
        let target = hz_to_mel(1000.0) / hz_to_mel(4000.0) * 21.0 - 1.0; // band whose centre is 1 kHz
        assert!((peak as f64 - target).abs() <= 1.0, "peak band {peak}, expected about {target:.1}");
    }

    #[test]
    fn load_cuts_and_extends_to_the_configured_frames() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("short.wav");
        write_wav(&wav, 8000, &tone(8000, 440.0, 300));
        let cfg = AudioConfig { sample_rate: 8000, n_fft: 256, hop: 128, n_mels: 8, frames: 5 };
        let out = LogMel::new(&cfg).unwrap().load(&wav).unwrap();
        assert_eq!(out.len(), 8 * 5);
        // 300 samples → 3 real frames; frames 3 and 4 of every band are silence.
        for band in out.chunks(5) {
            assert!(band[..3].iter().all(|&v| v > LOG_OFFSET.ln()), "{band:?}");
            assert_eq!(band[3..], [LOG_OFFSET.ln(); 2]);
        }
        let long = LogMel::new(&AudioConfig { frames: 2, ..cfg.clone() }).unwrap().load(&wav).unwrap();
        assert_eq!(long, out.chunks(5).flat_map(|b| b[..2].to_vec()).collect::<Vec<_>>());
    }

    #[test]
    fn truncated_wavs_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("cut.wav");
        write_wav(&wav, 8000, &tone(8000, 440.0, 1000));
        let bytes = std::fs::read(&wav).unwrap();
        std::fs::write(&wav, &bytes[..bytes.len() - 501]).unwrap();
        let e = read_wav(&wav).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot read WAV (truncated or corrupt?)", wav.display())), "{e}");
        std::fs::write(&wav, &bytes[..20]).unwrap();
        assert!(read_wav(&wav).unwrap_err().to_string().contains("cut.wav: cannot read WAV"));
    }

    /// A file at another rate gives (nearly) the spectrogram of the same sound recorded
    /// at the configured rate, not one read at the wrong speed.
    #[test]
    fn files_at_other_rates_are_resampled() {
        let dir = tempfile::tempdir().unwrap();
        let (native, other) = (dir.path().join("16k.wav"), dir.path().join("22k.wav"));
        write_wav(&native, 16_000, &tone(16_000, 700.0, 16_000));
        write_wav(&other, 22_050, &tone(22_050, 700.0, 22_050));
        let mel = LogMel::new(&AudioConfig::default()).unwrap();
        let (a, b) = (mel.load(&native).unwrap(), mel.load(&other).unwrap());
        let frames = AudioConfig::default().frames;
        // Loud bins (the tone's bands) agree closely; misread at 22.05 kHz the tone would sit at 508 Hz.
        let loud: Vec<(f32, f32)> = a.iter().zip(&b).map(|(&x, &y)| (x, y)).filter(|(x, _)| *x > 0.0).collect();
        assert!(loud.len() >= frames, "{} loud bins", loud.len());
        let worst = loud.iter().map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
        assert!(worst < 0.05, "log-mel differs by up to {worst}");
    }
}
