//! Video files (MP4, AVI, anything Debian's ffmpeg reads) decoded by an `ffmpeg` child
//! process into frames sampled at a fixed rate, resized, as `[T, C, H, W]` floats.
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `video:` settings of a manifest dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VideoConfig {
    /// Frames per second sampled from the video (ffmpeg's `fps` filter).
    pub fps: f64,
    /// Frames per example: longer videos are cut at the end, shorter ones are extended
    /// with zero frames (documented padding, so batches stack).
    pub frames: usize,
    /// `[height, width]` every frame is resized to (bilinear).
    pub size: [u32; 2],
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Per-channel mean and standard deviation applied after scaling to [0, 1].
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self { fps: 10.0, frames: 16, size: [32, 32], channels: 3, mean: vec![0.5; 3], std: vec![0.5; 3] }
    }
}

impl VideoConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Data(format!("video: {m}")));
        if !(self.fps > 0.0) || self.frames == 0 || self.size.contains(&0) {
            return bad(format!("fps, frames and size must be positive (got fps {}, frames {}, size {:?})", self.fps, self.frames, self.size));
        }
        if !matches!(self.channels, 1 | 3) || self.mean.len() != self.channels || self.std.len() != self.channels {
            return bad(format!("channels must be 1 or 3, with one mean and std per channel (got {}, {:?}, {:?})", self.channels, self.mean, self.std));
        }
        if self.std.iter().any(|&s| s <= 0.0) {
            return bad(format!("std must be positive, got {:?}", self.std));
        }
        Ok(())
    }

    /// `[T, C, H, W]` of one decoded example.
    pub fn shape(&self) -> [usize; 4] {
        [self.frames, self.channels, self.size[0] as usize, self.size[1] as usize]
    }

    /// Decodes `path` into `[T * C * H * W]` normalised values, frame-major, channel-major.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>> {
        let [t, c, h, w] = self.shape();
        let filter = format!("fps={},scale={w}:{h}:flags=bilinear", self.fps);
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(path)
            .args(["-vf", &filter, "-frames:v", &t.to_string(), "-f", "rawvideo", "-pix_fmt", if c == 1 { "gray" } else { "rgb24" }, "-"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::Data(format!("{}: cannot run ffmpeg (install Debian's ffmpeg; make setup does): {e}", path.display())))?;
        let frame = c * h * w;
        if !out.status.success() || out.stdout.is_empty() || out.stdout.len() % frame != 0 {
            let reason = String::from_utf8_lossy(&out.stderr);
            let reason = reason.lines().last().unwrap_or("no frames decoded");
            return Err(Error::Data(format!("{}: cannot decode video: {reason}", path.display())));
        }
        let mut values = vec![0f32; t * frame]; // missing frames stay zero
        for (f, pixels) in out.stdout.chunks(frame).take(t).enumerate() {
            // ffmpeg gives [H, W, C] interleaved; we store [C, H, W].
            for (i, &p) in pixels.iter().enumerate() {
                let (ch, at) = (i % c, i / c);
                values[f * frame + ch * h * w + at] = (p as f32 / 255.0 - self.mean[ch]) / self.std[ch];
            }
        }
        Ok(values)
    }
}
