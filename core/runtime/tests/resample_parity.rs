//! Resampling against torchaudio 2.11's `functional.resample` (installed by
//! tools/setup-venv.sh) on a band-limited signal: tones below 0.6 × the lower Nyquist
//! frequency, where both resamplers' filters are flat (the two use different windowed
//! filters, so content near the cut-off would differ by design, not by error).
use std::path::Path;
use std::process::Command;

use plexus::data::resample;

/// torchaudio's default (Hann-windowed sinc, 6 zero crossings, rolloff 0.99) ripples
/// slightly in its passband; measured max differences are printed by the test.
const TOLERANCE: f32 = 2e-3;

/// `n` samples at `rate` of tones at fractions of `nyquist` Hz.
fn tones(rate: u32, nyquist: f64, n: usize) -> Vec<f32> {
    let parts = [(0.05, 0.4), (0.21, 0.25), (0.37, 0.2), (0.58, 0.1)];
    (0..n).map(|i| parts.iter().map(|(f, a)| a * (2.0 * std::f64::consts::PI * f * nyquist * i as f64 / rate as f64 + f).sin()).sum::<f64>() as f32).collect()
}

#[test]
fn resampling_matches_torchaudio() {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(py.exists(), "{} is missing: run `make setup`", py.display());
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [(22_050u32, 16_000u32), (8_000, 16_000), (44_100, 16_000), (16_000, 8_000)] {
        let x = tones(from, from.min(to) as f64 / 2.0, from as usize * 3 / 4);
        let (input, output) = (dir.path().join("in.f32"), dir.path().join("out.f32"));
        std::fs::write(&input, x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
        let code = "import sys, numpy as np, torch, torchaudio.functional as F\n\
                    x = torch.from_numpy(np.fromfile(sys.argv[1], dtype='<f4'))\n\
                    F.resample(x, int(sys.argv[3]), int(sys.argv[4])).numpy().astype('<f4').tofile(sys.argv[2])";
        let status = Command::new(&py).args(["-c", code]).args([input.as_os_str(), output.as_os_str()]).args([from.to_string(), to.to_string()]).status().expect("run the venv's python");
        assert!(status.success(), "torchaudio reference failed (is torchaudio installed? run `make setup`)");
        let reference: Vec<f32> = std::fs::read(&output).unwrap().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        let ours = resample(&x, from, to).unwrap();
        assert_eq!(ours.len(), reference.len(), "{from} → {to}: output length");
        // Both filters ring differently at the clip's ends (zero padding); compare inside.
        let edge = to as usize / 50;
        let worst = ours[edge..ours.len() - edge].iter().zip(&reference[edge..]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        println!("{from} → {to} Hz: max |ours - torchaudio| = {worst:.2e} (20 ms from the ends)");
        assert!(worst <= TOLERANCE, "{from} → {to}: differs by {worst} (tolerance {TOLERANCE})");
    }
}
