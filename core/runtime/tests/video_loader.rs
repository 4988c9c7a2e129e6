//! Videos through the manifest loader: ffmpeg decodes frames at a fixed rate into
//! `[B, T, C, H, W]` with a presence mask; a short video is extended with zero frames; a
//! corrupt file is an error naming it (or skipped and listed). Fixtures are made by the
//! test with ffmpeg from raw frames whose values are known.
use std::path::Path;
use std::process::{Command, Stdio};

use plexus::data::{Loader, LoaderConfig, Manifest, OnError, VideoConfig};
use plexus_plugin::Modality;
use std::io::Write;

/// A grey 16×16 lossless video of `frames` frames at 10 fps; frame f has value 20·f + 10.
fn video(path: &Path, frames: usize) {
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "16x16", "-r", "10", "-i", "-"])
        .args(["-c:v", "ffv1", "-pix_fmt", "gray"])
        .arg(path)
        .stdin(Stdio::piped())
        .spawn()
        .expect("ffmpeg (make setup installs it)");
    let data: Vec<u8> = (0..frames).flat_map(|f| std::iter::repeat((20 * f + 10) as u8).take(256)).collect();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(child.wait().unwrap().success());
}

fn config(on_error: OnError) -> LoaderConfig {
    let video = VideoConfig { fps: 10.0, frames: 6, size: [8, 8], channels: 1, mean: vec![0.0], std: vec![1.0] };
    LoaderConfig { batch_size: 3, workers: 2, shuffle: false, augment: false, on_error, video, ..LoaderConfig::default() }
}

#[test]
fn videos_decode_to_frames_with_presence_and_zero_padding() {
    let dir = tempfile::tempdir().unwrap();
    video(&dir.path().join("long.avi"), 8);
    video(&dir.path().join("short.avi"), 4);
    let lines = ["{\"id\": \"a\", \"video\": \"long.avi\", \"caption\": \"eight\"}", "{\"id\": \"b\", \"caption\": \"no video\"}", "{\"id\": \"c\", \"video\": \"short.avi\"}"];
    std::fs::write(dir.path().join("m.jsonl"), lines.join("\n")).unwrap();
    let manifest = Manifest::load(&dir.path().join("m.jsonl")).unwrap();
    let loader = Loader::new(&manifest, config(OnError::Fail), 0).unwrap();
    let batch = loader.epoch(0).next().unwrap().unwrap();
    let v = &batch.batch.modalities[&Modality::Video];
    assert_eq!(v.data.size(), [3, 6, 1, 8, 8]);
    assert_eq!(Vec::<bool>::try_from(&v.present).unwrap(), [true, false, true]);
    let mean_per_frame = |row: i64| -> Vec<f64> { (0..6).map(|f| v.data.get(row).get(f).mean(tch::Kind::Float).double_value(&[])).collect() };
    // Frame f of the source has value (20 f + 10) / 255; the first 6 of 8 are kept.
    for (f, m) in mean_per_frame(0).into_iter().enumerate() {
        assert!((m - (20.0 * f as f64 + 10.0) / 255.0).abs() < 2.0 / 255.0, "long video frame {f}: {m}");
    }
    let short = mean_per_frame(2);
    assert!((short[3] - 70.0 / 255.0).abs() < 2.0 / 255.0 && short[4] == 0.0 && short[5] == 0.0, "short video: {short:?}");
    assert_eq!(mean_per_frame(1), vec![0.0; 6], "no video: zero rows");
}

#[test]
fn a_corrupt_video_is_named_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    video(&dir.path().join("ok.avi"), 3);
    std::fs::write(dir.path().join("bad.mp4"), b"this is not a video").unwrap();
    std::fs::write(dir.path().join("m.jsonl"), "{\"video\": \"ok.avi\"}\n{\"video\": \"bad.mp4\"}\n").unwrap();
    let manifest = Manifest::load(&dir.path().join("m.jsonl")).unwrap();
    let err = Loader::new(&manifest, config(OnError::Fail), 0).unwrap().epoch(0).next().unwrap().unwrap_err().to_string();
    assert!(err.contains("m.jsonl:2") && err.contains("bad.mp4") && err.contains("cannot decode video"), "{err}");
    let loader = Loader::new(&manifest, config(OnError::Skip), 0).unwrap();
    let batch = loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.len(), 1);
    let skipped = loader.skipped();
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].file.ends_with("bad.mp4") && skipped[0].line == 2, "{skipped:?}");
}

#[test]
fn bad_video_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    video(&dir.path().join("ok.avi"), 2);
    std::fs::write(dir.path().join("m.jsonl"), "{\"video\": \"ok.avi\"}\n").unwrap();
    let manifest = Manifest::load(&dir.path().join("m.jsonl")).unwrap();
    let mut cfg = config(OnError::Fail);
    cfg.video.channels = 2;
    let err = Loader::new(&manifest, cfg, 0).err().unwrap().to_string();
    assert!(err.contains("video: channels must be 1 or 3"), "{err}");
}
