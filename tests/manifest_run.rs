//! `dataset("manifest", ...)` end to end through the `plexus` binary: a CLIP run on a
//! JSONL manifest of PNG files and captions (scripts/clip_manifest.rhai), and the
//! `on_error` modes with a corrupt image among them. Fixtures are written here.
use std::path::Path;

use plexus_tests::{plexus, read_json, root, stdout_stderr};

const COLOURS: [(&str, [u8; 3]); 4] = [("red", [220, 30, 30]), ("green", [30, 200, 40]), ("blue", [30, 40, 220]), ("yellow", [230, 220, 40])];

/// `n` 16×16 PNGs, a coloured shape on noise, and their manifest `data/<split>.jsonl`.
fn write_split(dir: &Path, split: &str, n: usize) {
    std::fs::create_dir_all(dir.join("data/img")).unwrap();
    let mut lines = Vec::new();
    let mut state = 0x9E37_79B9u32 ^ n as u32;
    for i in 0..n {
        let (name, rgb) = COLOURS[i % 4];
        let tall = (i / 4) % 2 == 0;
        let img = image::RgbImage::from_fn(16, 16, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let inside = if tall { (5..11).contains(&x) } else { (5..11).contains(&y) };
            if inside { image::Rgb(rgb) } else { image::Rgb([(state % 50) as u8; 3]) }
        });
        let file = format!("img/{split}{i}.png");
        img.save(dir.join("data").join(&file)).unwrap();
        let shape = if tall { "tall" } else { "wide" };
        lines.push(format!(r#"{{"id": "{split}{i}", "image": "{file}", "caption": ["a {shape} {name} bar", "{name} {shape} stripe"], "label": {}}}"#, i % 4));
    }
    std::fs::write(dir.join(format!("data/{split}.jsonl")), lines.join("\n") + "\n").unwrap();
}

fn experiment(on_error: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_split(dir.path(), "train", 96);
    write_split(dir.path(), "test", 32);
    std::fs::copy(root().join("scripts/clip_manifest.rhai"), dir.path().join("clip_manifest.rhai")).unwrap();
    let config = format!(
        "name: clip_manifest_tiny\nseed: 0\ndevice: cpu\nthreads: 1\n\
         data:\n  train:\n    path: data/train.jsonl\n    workers: 2\n    on_error: {on_error}\n    image: {{resize: [16, 16], crop: [14, 14], hflip: true}}\n\
         \x20 test:\n    path: data/test.jsonl\n    split: test\n    image: {{resize: [16, 16], crop: [14, 14]}}\n\
         model:\n  image: {{image_size: 14, patch_size: 7, in_channels: 3, width: 32, layers: 1, head_width: 16, mlp_ratio: 2.0, output_dim: 32}}\n\
         \x20 text: {{context_length: 8, width: 32, heads: 2, layers: 1, mlp_ratio: 2.0, output_dim: 32}}\n\
         \x20 tokenizer: {{context_length: 8}}\n\
         loss: {{init_temperature: 0.07}}\n\
         train: {{epochs: 3, batch_size: 32, lr: 0.003, warmup_steps: 2, log_every: 1}}\n\
         evaluation:\n  retrieval: {{ks: [1, 5]}}\n"
    );
    std::fs::write(dir.path().join("tiny.yaml"), config).unwrap();
    dir
}

fn run(dir: &Path) -> std::process::Output {
    plexus(dir, &["run", "clip_manifest.rhai", "--config", "tiny.yaml"])
}

fn only_run_dir(dir: &Path) -> std::path::PathBuf {
    let dirs: Vec<_> = std::fs::read_dir(dir.join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn epoch_losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["train/epoch_loss"].as_f64())
        .collect()
}

#[test]
fn clip_trains_and_evaluates_on_a_manifest_of_image_files() {
    let exp = experiment("fail");
    let out = run(exp.path());
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let run = only_run_dir(exp.path());
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    for key in ["i2t_r1", "t2i_r1", "i2t_r5"] {
        let v = summary["metrics"][key].as_f64().unwrap_or_else(|| panic!("{key} missing: {summary}"));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(summary["protocols"]["i2t_r1"].as_str().unwrap().contains("32 image-caption pairs"), "{summary}");
    assert!(summary["metrics"].get("data/train/skipped_examples").is_none(), "nothing was skipped: {summary}");
    let embeddings = std::fs::read(run.join("embeddings/test.safetensors")).expect("export_embeddings(model, test) wrote its file");
    let header = String::from_utf8_lossy(&embeddings[8..8 + u64::from_le_bytes(embeddings[..8].try_into().unwrap()) as usize]).to_string();
    for (key, shape) in [("image_embeds", "[32,32]"), ("text_embeds", "[32,32]"), ("labels", "[32]")] {
        assert!(header.contains(&format!("\"{key}\"")) && header.contains(shape), "{key} {shape} not in {header}");
    }
    let losses = epoch_losses(&run);
    assert_eq!(losses.len(), 3, "{losses:?}");
    assert!(losses[2] < losses[0], "the contrastive loss should fall on this easy data: {losses:?}");
    // 96 examples in batches of 32: 3 steps an epoch.
    assert!(stdout_stderr(&out).contains("train 96 examples"), "{}", stdout_stderr(&out));
}

#[test]
fn a_corrupt_image_fails_the_run_naming_it_or_is_skipped_and_reported() {
    let corrupt = |dir: &Path| {
        let png = dir.join("data/img/train5.png"); // line 6 of the manifest
        let bytes = std::fs::read(&png).unwrap();
        std::fs::write(&png, &bytes[..bytes.len() / 2]).unwrap();
    };
    let exp = experiment("fail");
    corrupt(exp.path());
    let out = run(exp.path());
    let text = stdout_stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("data/train.jsonl:6 (example `train5`)") && text.contains("train5.png: cannot decode image"), "{text}");

    let exp = experiment("skip");
    corrupt(exp.path());
    let out = run(exp.path());
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    let run = only_run_dir(exp.path());
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["metrics"]["data/train/skipped_examples"], 1, "{summary}");
    // The script prints the dataset's `skipped` list: file, manifest line and reason.
    assert!(text.contains("skipped while training") && text.contains(r#""file": "data/img/train5.png", "line": 6"#), "{text}");
}

#[test]
fn bad_manifest_settings_and_lines_are_named() {
    let exp = experiment("fail");
    let yaml = exp.path().join("tiny.yaml");
    let original = std::fs::read_to_string(&yaml).unwrap();
    let fails_with = |config: &str, needles: &[&str]| {
        std::fs::write(&yaml, config).unwrap();
        let out = run(exp.path());
        let text = stdout_stderr(&out);
        assert!(!out.status.success(), "{text}");
        for needle in needles {
            assert!(text.contains(needle), "`{needle}` not in: {text}");
        }
    };
    fails_with(&original.replacen("workers: 2", "worker: 2", 1), &["worker", "workers"]);
    fails_with(&original.replacen("    path: data/train.jsonl\n", "", 1), &["dataset `manifest`: `path` is required"]);
    fails_with(&original.replacen("on_error: fail", "on_error: ignore", 1), &["on_error", "ignore"]);
    let manifest = exp.path().join("data/train.jsonl");
    let mut lines = std::fs::read_to_string(&manifest).unwrap();
    lines.push_str("{\"image\": \"img/train0.png\", \"label\": \"three\"}\n");
    std::fs::write(&manifest, lines).unwrap();
    fails_with(&original, &["data/train.jsonl:97: `label` must be an integer, found string \"three\""]);
}

#[test]
fn plexus_check_runs_the_manifest_script_on_a_slice() {
    let exp = experiment("fail");
    let out = plexus(exp.path(), &["check", "clip_manifest.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    // `plexus check` keeps at most 64 examples per dataset.
    assert!(text.contains("dataset manifest data/train.jsonl split `train`: 64 examples with image, text"), "{text}");
}

/// metrics.jsonl without wall-clock fields.
fn metric_records(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().retain(|k, _| !k.contains("second"));
            v
        })
        .collect()
}

/// The loader decodes an interrupted epoch's remaining batches exactly as the whole
/// epoch would have (content depends on seed, epoch and example only).
#[test]
fn sigkill_mid_epoch_then_resume_is_bit_identical() {
    let small_steps = |dir: &Path| {
        let yaml = dir.join("tiny.yaml");
        let text = std::fs::read_to_string(&yaml).unwrap();
        std::fs::write(&yaml, text.replace("batch_size: 32", "batch_size: 8").replace("log_every: 1", "log_every: 1, checkpoint_every: 5")).unwrap();
    };
    let reference = experiment("fail");
    small_steps(reference.path());
    let out = run(reference.path());
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let expected = only_run_dir(reference.path());

    let exp = experiment("fail");
    small_steps(exp.path());
    // 96 examples / 8 = 12 steps an epoch, 36 in all; kill inside epoch 1 or 2.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    let kill_at = 14 + nanos % 18;
    let mut child = std::process::Command::new(plexus_tests::plexus_bin())
        .args(["run", "clip_manifest.rhai", "--config", "tiny.yaml"])
        .current_dir(exp.path())
        .env("OMP_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let step = std::fs::read_dir(exp.path().join("runs"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|d| std::fs::read_to_string(d.ok()?.path().join("metrics.jsonl")).ok())
            .and_then(|t| t.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["step"].as_u64()).max());
        if step.is_some_and(|s| s >= kill_at) {
            child.kill().unwrap();
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "run finished before step {kill_at}");
        assert!(std::time::Instant::now() < deadline, "run did not reach step {kill_at}");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.wait().unwrap();
    let killed = only_run_dir(exp.path());
    let resumed = plexus(exp.path(), &["run", "--resume", killed.to_str().unwrap()]);
    assert!(resumed.status.success(), "{}", stdout_stderr(&resumed));
    let (got, want) = (read_json(&killed.join("summary.json")), read_json(&expected.join("summary.json")));
    assert_eq!(got["metrics"], want["metrics"], "killed at step {kill_at}");
    assert_eq!(metric_records(&killed), metric_records(&expected), "killed at step {kill_at}");
}
