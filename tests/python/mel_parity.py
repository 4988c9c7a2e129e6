"""Reference log-mel spectrogram for core/runtime/tests/mel_parity.rs.

Usage: mel_parity.py WAV OUT N_FFT HOP N_MELS
Reads a 16-bit mono WAV with the standard library, runs torchaudio's MelSpectrogram
(its defaults otherwise: periodic Hann window, centred reflect-padded frames, power 2,
HTK mel scale, no filter normalisation) and writes ln(mel + 1e-6) as little-endian f32,
[n_mels, frames] row-major, to OUT.
"""
import sys
import wave

import torch
import torchaudio

wav_path, out_path = sys.argv[1], sys.argv[2]
n_fft, hop, n_mels = (int(v) for v in sys.argv[3:6])
with wave.open(wav_path, "rb") as w:
    assert w.getnchannels() == 1 and w.getsampwidth() == 2, "mono 16-bit WAV expected"
    rate = w.getframerate()
    pcm = w.readframes(w.getnframes())
samples = torch.frombuffer(bytearray(pcm), dtype=torch.int16).to(torch.float32) / 32768.0
mel = torchaudio.transforms.MelSpectrogram(sample_rate=rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels)(samples)
torch.log(mel + 1e-6).contiguous().numpy().astype("<f4").tofile(out_path)
