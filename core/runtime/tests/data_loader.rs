//! The manifest loader end to end: fixtures (PNG, JPEG, WAV, JSONL) are written into a
//! temp dir by each test.
use std::path::{Path, PathBuf};

use plexus::data::{Loader, LoaderConfig, Manifest, OnError};
use plexus_plugin::Modality;
use proptest::prelude::*;
use tch::{Kind, Tensor};

fn png(path: &Path, seed: u32) {
    image::RgbImage::from_fn(12, 10, |x, y| image::Rgb([(x * 20 + seed) as u8, (y * 20) as u8, (seed * 7) as u8])).save(path).unwrap();
}

fn wav(path: &Path, hz: f64, samples: usize) {
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..samples {
        w.write_sample(((2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin() * 12000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// `n` examples cycling through every combination of image, audio, caption and label.
fn mixed_dataset(dir: &Path, n: usize) -> PathBuf {
    let mut lines = Vec::new();
    for i in 0..n {
        let mut fields = vec![format!("\"id\": \"ex{i}\"")];
        if i % 2 == 0 {
            let name = if i % 4 == 0 { format!("im{i}.png") } else { format!("im{i}.jpg") };
            png(&dir.join(&name), i as u32);
            fields.push(format!("\"image\": \"{name}\""));
        }
        if i % 3 != 2 {
            wav(&dir.join(format!("a{i}.wav")), 200.0 + 50.0 * i as f64, 1200 + 37 * i);
            fields.push(format!("\"audio\": \"a{i}.wav\""));
        }
        if i % 5 != 4 {
            fields.push(format!("\"caption\": [\"first {i}\", \"second {i}\", \"third {i}\"]"));
        }
        if i % 2 == 1 {
            fields.push(format!("\"label\": {}", i % 7));
        }
        lines.push(format!("{{{}}}", fields.join(", ")));
    }
    let path = dir.join("data.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn config(workers: usize, batch_size: usize) -> LoaderConfig {
    let mut c = LoaderConfig { workers, batch_size, prefetch: 3, ..LoaderConfig::default() };
    c.image.resize = [8, 8];
    c.image.crop = Some([6, 6]);
    c.image.hflip = true;
    c.audio = plexus::data::AudioConfig { sample_rate: 8000, n_fft: 128, hop: 64, n_mels: 10, frames: 16 };
    c
}

/// Everything a batch holds, as plain values.
#[derive(Debug, PartialEq)]
struct Snapshot {
    indices: Vec<usize>,
    image: Vec<f32>,
    image_present: Vec<bool>,
    audio: Vec<f32>,
    audio_present: Vec<bool>,
    labels: Vec<i64>,
    captions: Vec<Option<String>>,
}

fn values<T: tch::kind::Element + Copy>(t: &Tensor) -> Vec<T> {
    Vec::<T>::try_from(t.flatten(0, -1)).unwrap()
}

fn epoch(loader: &Loader, epoch: usize) -> Vec<Snapshot> {
    loader
        .epoch(epoch)
        .map(|b| {
            let b = b.unwrap();
            let m = &b.batch.modalities;
            Snapshot {
                indices: b.indices.clone(),
                image: values(&m[&Modality::Image].data),
                image_present: values(&m[&Modality::Image].present),
                audio: values(&m[&Modality::Audio].data),
                audio_present: values(&m[&Modality::Audio].present),
                labels: values(b.batch.labels.as_ref().unwrap()),
                captions: b.captions,
            }
        })
        .collect()
}

#[test]
fn order_and_content_are_identical_for_1_2_and_4_workers() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = Manifest::load(&mixed_dataset(dir.path(), 23)).unwrap();
    let reference: Vec<Vec<Snapshot>> = (0..2).map(|e| epoch(&Loader::new(&manifest, config(1, 4), 7).unwrap(), e)).collect();
    for workers in [2, 4] {
        let loader = Loader::new(&manifest, config(workers, 4), 7).unwrap();
        for (e, expected) in reference.iter().enumerate() {
            assert!(epoch(&loader, e) == *expected, "{workers} workers, epoch {e} differs from 1 worker");
        }
    }
    let order = |snaps: &[Snapshot]| snaps.iter().flat_map(|s| s.indices.clone()).collect::<Vec<_>>();
    let (first, second) = (order(&reference[0]), order(&reference[1]));
    assert_ne!(first, second, "the order must be reshuffled each epoch");
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, (0..23).collect::<Vec<_>>(), "every example exactly once per epoch");
    let other_seed = order(&epoch(&Loader::new(&manifest, config(2, 4), 8).unwrap(), 0));
    assert_ne!(first, other_seed, "another seed gives another order");
}

#[test]
fn batches_carry_shapes_masks_and_the_drawn_captions() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = Manifest::load(&mixed_dataset(dir.path(), 10)).unwrap();
    let loader = Loader::new(&manifest, config(2, 4), 1).unwrap();
    let batches: Vec<_> = loader.epoch(0).map(Result::unwrap).collect();
    assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), [4, 4, 2]);
    let b = &batches[0];
    assert_eq!(b.batch.modalities[&Modality::Image].data.size(), [4, 3, 6, 6]);
    assert_eq!(b.batch.modalities[&Modality::Audio].data.size(), [4, 10, 16]);
    assert_eq!(b.batch.modalities[&Modality::Image].data.kind(), Kind::Float);
    assert!(!b.batch.modalities.contains_key(&Modality::Text), "text stays strings until tokenized");
    for b in &batches {
        let image: Vec<bool> = values(&b.batch.modalities[&Modality::Image].present);
        let labels_present: Vec<bool> = values(b.label_present.as_ref().unwrap());
        let text: Vec<bool> = values(&b.text_present());
        for (row, &i) in b.indices.iter().enumerate() {
            let r = &manifest.records[i];
            assert_eq!(image[row], r.image.is_some());
            assert_eq!(labels_present[row], r.label.is_some());
            assert_eq!(text[row], !r.captions.is_empty());
            if let Some(c) = &b.captions[row] {
                assert!(r.captions.contains(c), "{c} is not a caption of example {i}");
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in 0..12 {
        for b in loader.epoch(e) {
            let b = b.unwrap();
            seen.extend(b.indices.iter().zip(&b.captions).filter(|(&i, _)| i == 0).filter_map(|(_, c)| c.clone()));
        }
    }
    assert_eq!(seen.len(), 3, "over 12 epochs example 0 should use each of its 3 captions: {seen:?}");
}

/// A PNG cut in half and a WAV cut mid-sample, planted among good files.
fn plant_corrupt(manifest: &Manifest) -> Vec<PathBuf> {
    let file = |at: &Option<plexus::data::Location>| at.as_ref().and_then(|l| l.as_path()).unwrap().to_path_buf();
    let png = file(&manifest.records[4].image);
    let bytes = std::fs::read(&png).unwrap();
    std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
    let wav = file(&manifest.records[7].audio);
    let bytes = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, &bytes[..bytes.len() - 301]).unwrap();
    vec![png, wav]
}

#[test]
fn skip_reports_exactly_the_planted_corrupt_files_and_fail_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = Manifest::load(&mixed_dataset(dir.path(), 12)).unwrap();
    let planted = plant_corrupt(&manifest);

    let skip = Loader::new(&manifest, LoaderConfig { on_error: OnError::Skip, ..config(2, 5) }, 3).unwrap();
    for e in 0..2 {
        let indices: Vec<usize> = skip.epoch(e).flat_map(|b| b.unwrap().indices).collect();
        assert_eq!(indices.len(), 10, "12 examples minus the 2 corrupt ones");
        assert!(!indices.contains(&4) && !indices.contains(&7));
    }
    let skipped = skip.skipped();
    let files: Vec<PathBuf> = skipped.iter().map(|s| PathBuf::from(&s.file)).collect();
    assert_eq!(files, planted);
    assert_eq!(skipped.iter().map(|s| (s.index, s.line)).collect::<Vec<_>>(), [(4, 5), (7, 8)]);
    assert!(skipped[0].reason.contains("cannot decode image"), "{}", skipped[0].reason);
    assert!(skipped[1].reason.contains("cannot read WAV"), "{}", skipped[1].reason);

    let fail = Loader::new(&manifest, config(2, 5), 3).unwrap();
    let err = fail.epoch(0).find_map(Result::err).expect("fail mode must stop at a corrupt file").to_string();
    let line = |i: usize| format!("{}:{} (example `ex{i}`): {}", manifest.path.display(), i + 1, planted[usize::from(i == 7)].display());
    assert!(err.starts_with(&line(4)) || err.starts_with(&line(7)), "{err}");
}

#[test]
fn stopping_early_releases_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = Manifest::load(&mixed_dataset(dir.path(), 20)).unwrap();
    let loader = Loader::new(&manifest, config(4, 2), 0).unwrap();
    let first = loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(first.len(), 2); // dropping the iterator joins the blocked workers; a hang fails the test run
}

/// Shared fixture files for the property test: one image and one WAV, reused by path.
fn pool() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static POOL: std::sync::OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (img, audio) = (dir.path().join("p.png"), dir.path().join("p.wav"));
        png(&img, 3);
        wav(&audio, 440.0, 900);
        (dir, img, audio)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// For any subset of modalities (and label, question/answer) per example, every
    /// example appears once per epoch, its presence masks match its manifest line and
    /// absent rows are all zeros.
    #[test]
    fn batching_preserves_identity_and_presence(
        flags in prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()), 1..14),
        batch_size in 1usize..6,
        workers in 1usize..4,
    ) {
        let (dir, img, audio) = pool();
        let lines: Vec<String> = flags.iter().enumerate().map(|(i, &(has_img, has_audio, has_text, has_label, has_qa))| {
            let mut f = vec![format!("\"id\": \"{i}\"")];
            if has_img { f.push(format!("\"image\": {:?}", img.file_name().unwrap())); }
            if has_audio { f.push(format!("\"audio\": {:?}", audio.file_name().unwrap())); }
            if has_text { f.push(format!("\"caption\": \"c{i}\"")); }
            if has_label { f.push(format!("\"label\": {i}")); }
            if has_qa { f.push(format!("\"question\": \"q{i}\", \"answer\": \"a{i}\"")); }
            format!("{{{}}}", f.join(", "))
        }).collect();
        let path = dir.path().join(format!("prop-{}.jsonl", std::process::id()));
        std::fs::write(&path, lines.join("\n")).unwrap();
        let manifest = Manifest::load(&path).unwrap();
        let loader = Loader::new(&manifest, config(workers, batch_size), 5).unwrap();
        let mut seen = Vec::new();
        for b in loader.epoch(0) {
            let b = b.unwrap();
            prop_assert!(b.len() <= batch_size);
            let batch_indices: Vec<i64> = values(b.batch.indices.as_ref().unwrap());
            prop_assert_eq!(batch_indices, b.indices.iter().map(|&i| i as i64).collect::<Vec<_>>());
            for (m, want) in [(Modality::Image, 0), (Modality::Audio, 1)] {
                let any = flags.iter().any(|f| if want == 0 { f.0 } else { f.1 });
                prop_assert_eq!(b.batch.modalities.contains_key(&m), any);
                let Some(mb) = b.batch.modalities.get(&m) else { continue };
                let present: Vec<bool> = values(&mb.present);
                for (row, &i) in b.indices.iter().enumerate() {
                    let has = if want == 0 { flags[i].0 } else { flags[i].1 };
                    prop_assert_eq!(present[row], has);
                    let abs_sum = mb.data.get(row as i64).abs().sum(Kind::Float).double_value(&[]);
                    prop_assert_eq!(abs_sum == 0.0, !has, "row {} of {}", row, m);
                }
            }
            for (row, &i) in b.indices.iter().enumerate() {
                prop_assert_eq!(b.captions[row].clone(), flags[i].2.then(|| format!("c{i}")));
                prop_assert_eq!(b.questions[row].clone(), flags[i].4.then(|| format!("q{i}")));
                prop_assert_eq!(b.answers[row].clone(), flags[i].4.then(|| format!("a{i}")));
            }
            if let Some(labels) = &b.batch.labels {
                let labels: Vec<i64> = values(labels);
                let present: Vec<bool> = values(b.label_present.as_ref().unwrap());
                for (row, &i) in b.indices.iter().enumerate() {
                    prop_assert_eq!((labels[row], present[row]), if flags[i].3 { (i as i64, true) } else { (0, false) });
                }
            }
            seen.extend(b.indices);
        }
        seen.sort();
        prop_assert_eq!(seen, (0..flags.len()).collect::<Vec<_>>());
    }
}
