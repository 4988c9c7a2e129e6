//! WebDataset shards end to end: each test writes its own small `.tar` fixtures (PNG,
//! WAV, caption, label members), indexes them and decodes them with the loader.
use std::path::{Path, PathBuf};

use plexus::data::{open_shards, shard_order, Loader, LoaderConfig, OnError};
use plexus_plugin::Modality;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn png_bytes(value: u8) -> Vec<u8> {
    let img = image::GrayImage::from_pixel(6, 6, image::Luma([value]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageOutputFormat::Png).unwrap();
    out.into_inner()
}

fn wav_bytes(samples: usize) -> Vec<u8> {
    let spec = hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for i in 0..samples {
        w.write_sample(((i as f64 * 0.3).sin() * 9000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

fn write_tar(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
}

/// Shards with `counts[s]` examples each; example `e` of shard `s` has the caption
/// `s{s} e{e}`, the label `s * 100 + e`, and a grey PNG of value `(s * 16 + e) % 256`
/// unless `e % 5 == 4` (no image), and audio when `e % 3 == 0`.
fn write_shards(dir: &Path, counts: &[usize]) -> Vec<PathBuf> {
    counts
        .iter()
        .enumerate()
        .map(|(s, &n)| {
            let mut members = Vec::new();
            for e in 0..n {
                let key = format!("{s:02}{e:04}");
                if e % 5 != 4 {
                    members.push((format!("{key}.png"), png_bytes(((s * 16 + e) % 256) as u8)));
                }
                if e % 3 == 0 {
                    members.push((format!("{key}.wav"), wav_bytes(400 + e)));
                }
                members.push((format!("{key}.txt"), format!("s{s} e{e}\n").into_bytes()));
                members.push((format!("{key}.cls"), (s * 100 + e).to_string().into_bytes()));
            }
            let path = dir.join(format!("shard-{s:03}.tar"));
            write_tar(&path, &members);
            path
        })
        .collect()
}

fn config(workers: usize, batch_size: usize) -> LoaderConfig {
    let mut c = LoaderConfig { workers, batch_size, prefetch: 3, ..LoaderConfig::default() };
    c.image.resize = [6, 6];
    c.image.channels = 1;
    c.image.mean = vec![0.0];
    c.image.std = vec![1.0];
    c.audio = plexus::data::AudioConfig { sample_rate: 8000, n_fft: 64, hop: 32, n_mels: 6, frames: 8 };
    c
}

fn loader(shards: &[PathBuf], workers: usize, batch_size: usize, buffer: usize, seed: u64) -> Loader {
    let s = open_shards("test shards", shards).unwrap();
    Loader::new(&s.manifest, config(workers, batch_size), seed).unwrap().with_shards(s.ranges, buffer).unwrap()
}

/// Per batch: captions, labels, the first pixel of each image (NaN where absent), audio presence.
type Seen = Vec<(Vec<Option<String>>, Vec<i64>, Vec<f32>, Vec<bool>)>;

fn epoch(l: &Loader, e: usize) -> Seen {
    l.epoch(e)
        .map(|b| {
            let b = b.unwrap();
            let labels = Vec::<i64>::try_from(b.batch.labels.as_ref().unwrap()).unwrap();
            let image = &b.batch.modalities[&Modality::Image];
            let present = Vec::<bool>::try_from(&image.present).unwrap();
            let first: Vec<f32> = (0..b.len()).map(|i| if present[i] { image.data.double_value(&[i as i64, 0, 0, 0]) as f32 } else { f32::NAN }).collect();
            let audio = Vec::<bool>::try_from(&b.batch.modalities[&Modality::Audio].present).unwrap();
            (b.captions, labels, first, audio)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Every example appears exactly once per epoch with its own members' content, and
    /// the order depends only on (seed, epoch): identical for 1, 2 and 4 workers.
    #[test]
    fn every_example_once_in_an_order_independent_of_workers(
        counts in prop::collection::vec(0usize..9, 1..5),
        batch in 1usize..6,
        buffer in 1usize..12,
        seed in 0u64..1000,
    ) {
        prop_assume!(counts.iter().sum::<usize>() > 0);
        let dir = tempfile::tempdir().unwrap();
        let shards = write_shards(dir.path(), &counts);
        for e in 0..2 {
            let runs: Vec<Seen> = [1, 2, 4].iter().map(|&w| epoch(&loader(&shards, w, batch, buffer, seed), e)).collect();
            // NaN != NaN, so compare the bit patterns.
            let bits = |s: &Seen| s.iter().map(|(c, l, p, a)| (c.clone(), l.clone(), p.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), a.clone())).collect::<Vec<_>>();
            prop_assert_eq!(bits(&runs[0]), bits(&runs[1]));
            prop_assert_eq!(bits(&runs[0]), bits(&runs[2]));
            let mut labels: Vec<i64> = vec![];
            for (captions, ls, first, audio) in &runs[0] {
                for (i, &label) in ls.iter().enumerate() {
                    let (s, ex) = (label / 100, label % 100);
                    prop_assert_eq!(captions[i].clone(), Some(format!("s{s} e{ex}")));
                    prop_assert_eq!(audio[i], ex % 3 == 0);
                    if ex % 5 == 4 {
                        prop_assert!(first[i].is_nan());
                    } else {
                        prop_assert_eq!(first[i], ((s * 16 + ex) % 256) as f32 / 255.0);
                    }
                }
                labels.extend(ls);
            }
            labels.sort();
            let mut expected: Vec<i64> = counts.iter().enumerate().flat_map(|(s, &n)| (0..n).map(move |e| (s * 100 + e) as i64)).collect();
            expected.sort();
            prop_assert_eq!(labels, expected);
        }
    }

    /// With a buffer of one, an epoch is the shards in some order, each read straight
    /// through: a permutation of whole shards.
    #[test]
    fn without_a_buffer_shards_stay_whole_and_in_stream_order(counts in prop::collection::vec(1usize..6, 1..6), seed in 0u64..1000) {
        let mut ranges = vec![];
        for n in &counts {
            let start = ranges.last().map_or(0, |r: &std::ops::Range<usize>| r.end);
            ranges.push(start..start + n);
        }
        let order = shard_order(&ranges, Some(&mut ChaCha8Rng::seed_from_u64(seed)), 1);
        let mut at = 0;
        let mut used = vec![];
        while at < order.len() {
            let r = ranges.iter().position(|r| r.start == order[at]).expect("each run starts a shard");
            prop_assert_eq!(&order[at..at + ranges[r].len()], &ranges[r].clone().collect::<Vec<_>>()[..]);
            used.push(r);
            at += ranges[r].len();
        }
        used.sort();
        prop_assert_eq!(used, (0..ranges.len()).collect::<Vec<_>>());
    }
}

#[test]
fn epochs_and_seeds_reshuffle_shards_and_examples() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_shards(dir.path(), &[10, 10, 10, 10]);
    let order = |l: &Loader, e| epoch(l, e).into_iter().flat_map(|b| b.1).collect::<Vec<_>>();
    let l = loader(&shards, 2, 7, 6, 0);
    let (e0, e1) = (order(&l, 0), order(&l, 1));
    assert_ne!(e0, e1);
    assert_eq!(e0, order(&l, 0), "an epoch's order is reproducible");
    assert_ne!(e0, order(&loader(&shards, 2, 7, 6, 1), 0));
    // The buffer mixes examples within a shard: not every shard's run is in stream order.
    assert!(e0.windows(2).any(|w| w[1] < w[0] && w[1] / 100 == w[0] / 100), "{e0:?}");
    // Unshuffled, the loader streams the shards as given.
    let s = open_shards("x", &shards).unwrap();
    let plain = Loader::new(&s.manifest, LoaderConfig { shuffle: false, ..config(2, 7) }, 0).unwrap().with_shards(s.ranges, 6).unwrap();
    let expected: Vec<i64> = (0..4).flat_map(|s| (0..10).map(move |e| s * 100 + e)).collect();
    assert_eq!(order(&plain, 0), expected);
}

#[test]
fn a_corrupt_member_is_named_with_its_shard() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_shards(dir.path(), &[4]);
    let mut broken = png_bytes(7);
    broken.truncate(broken.len() / 2);
    let bad = dir.path().join("bad.tar");
    write_tar(&bad, &[("k1.png".into(), png_bytes(1)), ("k1.txt".into(), b"one".to_vec()), ("k2.png".into(), broken), ("k2.txt".into(), b"two".to_vec())]);
    let shards = vec![good[0].clone(), bad.clone()];

    let s = open_shards("mixed", &shards).unwrap();
    let fail = Loader::new(&s.manifest, config(2, 3), 0).unwrap().with_shards(s.ranges.clone(), 4).unwrap();
    let e = fail.epoch(0).find_map(|b| b.err()).expect("the corrupt PNG fails the epoch").to_string();
    assert!(e.contains(&format!("{}:k2.png: cannot decode image", bad.display())), "{e}");

    let skip = Loader::new(&s.manifest, LoaderConfig { on_error: OnError::Skip, ..config(2, 3) }, 0).unwrap().with_shards(s.ranges, 4).unwrap();
    let seen: usize = skip.epoch(0).map(|b| b.unwrap().len()).sum();
    assert_eq!(seen, 5);
    let skipped = skip.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].file, format!("{}:k2.png", bad.display()));
}

#[test]
fn malformed_shards_are_refused_naming_shard_and_member() {
    let dir = tempfile::tempdir().unwrap();
    let err = |members: &[(&str, &[u8])]| {
        let path = dir.path().join("s.tar");
        write_tar(&path, &members.iter().map(|(n, d)| (n.to_string(), d.to_vec())).collect::<Vec<_>>());
        open_shards("x", &[path]).unwrap_err().to_string()
    };
    let shard = dir.path().join("s.tar").display().to_string();
    let e = err(&[("a.png", &png_bytes(1)), ("a.exe", b"x")]);
    assert!(e.contains(&format!("{shard}:a.exe: unknown extension `exe`")), "{e}");
    let e = err(&[("a.cls", b"three")]);
    assert!(e.contains(&format!("{shard}:a.cls: a .cls member must hold an integer label, found \"three\"")), "{e}");
    let e = err(&[("a.txt", b"x"), ("b.txt", b"y"), ("a.cls", b"1")]);
    assert!(e.contains(&format!("{shard}:a.cls: key `a` reappears")), "{e}");
    let e = err(&[("a.png", &png_bytes(1)), ("a.jpg", &png_bytes(2))]);
    assert!(e.contains(&format!("{shard}:a.jpg: this example already has that field")), "{e}");
    let e = err(&[("a.json", br#"{"image": "x.png"}"#)]);
    assert!(e.contains(&format!("{shard}:a.json: `image`, `audio` and `video` cannot be set")), "{e}");
    let e = err(&[("a.mp4", b"x")]);
    assert!(e.contains("video members are not supported"), "{e}");

    // A shard cut inside a member's data, and one with a damaged header.
    let path = dir.path().join("s.tar");
    write_tar(&path, &[("a.txt".into(), b"x".to_vec()), ("b.png".into(), png_bytes(3))]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..512 * 3 + 20]).unwrap();
    let e = open_shards("x", &[path.clone()]).unwrap_err().to_string();
    assert!(e.contains(&format!("{shard}:b.png: the member is truncated")), "{e}");
    let mut damaged = bytes.clone();
    damaged[1024 + 150] ^= 0x55; // the second header's checksum field
    std::fs::write(&path, &damaged).unwrap();
    let e = open_shards("x", &[path.clone()]).unwrap_err().to_string();
    assert!(e.contains(&format!("{shard}: corrupt tar after member `a.txt`")), "{e}");

    let e = open_shards("x", &[dir.path().join("missing.tar")]).unwrap_err().to_string();
    assert!(e.contains("missing.tar: cannot open the shard"), "{e}");
    write_tar(&path, &[]);
    assert!(open_shards("x", &[path]).unwrap_err().to_string().contains("x: the 1 shard(s) hold no examples"));
}

#[test]
fn json_members_carry_text_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.tar");
    write_tar(&path, &[("q1.png".into(), png_bytes(9)), ("q1.json".into(), br#"{"id": "first", "caption": ["a", "b"], "question": "what?", "answer": "that", "label": 3}"#.to_vec())]);
    let s = open_shards("j", &[path]).unwrap();
    let r = &s.manifest.records[0];
    assert_eq!((r.id.as_str(), r.captions.clone(), r.label), ("first", vec!["a".to_string(), "b".to_string()], Some(3)));
    assert_eq!((r.question.as_deref(), r.answer.as_deref()), (Some("what?"), Some("that")));
    assert_eq!(s.manifest.modalities(), [Modality::Image, Modality::Text]);
}
