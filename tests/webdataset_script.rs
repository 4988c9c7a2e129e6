//! `dataset("webdataset", ...)` from a script through the `plexus` binary: shards made
//! here with the system `tar` (PNG + caption + label members) are read in shard-shuffled
//! batches, and a bad member stops the run with an error naming its shard.
use std::path::Path;
use std::process::Command;

use plexus_tests::{plexus, read_json, stdout_stderr};

/// Shard `s` holds examples `s*10 .. s*10+9` as `KEY.png` (grey value = example),
/// `KEY.txt` (`ex N`) and `KEY.cls` (N).
fn write_shards(dir: &Path, shards: usize) {
    for s in 0..shards {
        let mut members = vec![];
        for e in s * 10..s * 10 + 10 {
            let key = format!("{e:04}");
            image::GrayImage::from_pixel(4, 4, image::Luma([e as u8])).save(dir.join(format!("{key}.png"))).unwrap();
            std::fs::write(dir.join(format!("{key}.txt")), format!("ex {e}")).unwrap();
            std::fs::write(dir.join(format!("{key}.cls")), e.to_string()).unwrap();
            members.extend(["png", "txt", "cls"].map(|x| format!("{key}.{x}")));
        }
        let status = Command::new("tar").arg("-cf").arg(format!("shard-{s:02}.tar")).args(&members).current_dir(dir).status().unwrap();
        assert!(status.success());
    }
}

fn run(dir: &Path, script: &str) -> std::process::Output {
    std::fs::write(dir.join("wds.rhai"), script).unwrap();
    std::fs::write(dir.join("wds.yaml"), "name: wds\nseed: 5\nthreads: 1\ndevice: cpu\n").unwrap();
    plexus(dir, &["run", "wds.rhai", "--config", "wds.yaml"])
}

const SCRIPT: &str = r#"
let d = dataset("webdataset", #{ shards: "shard-{00..02}.tar", workers: 2, shuffle_buffer: 4,
                                 image: #{ resize: [4, 4], channels: 1, mean: [0.0], std: [1.0] } });
let labels = [];
let firsts = [];
for b in d.batches(0, 7) {
    labels += b.label.to_list();
}
for b in d.batches(1, 7) {
    firsts += b.label.to_list();
}
let in_order = [];
for b in d.eval_batches(8) { in_order += b.label.to_list(); }
summary(#{ len: d.len, modalities: d.modalities.len(), epoch0: labels, epoch1: firsts, ordered: in_order });
"#;

#[test]
fn a_script_reads_shards_in_shard_shuffled_batches() {
    let dir = tempfile::tempdir().unwrap();
    write_shards(dir.path(), 3);
    let out = run(dir.path(), SCRIPT);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    let m = &read_json(&runs[0].join("summary.json"))["metrics"];
    assert_eq!(m["len"], 30);
    assert_eq!(m["modalities"], 2); // image, text
    let list = |k: &str| m[k].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect::<Vec<_>>();
    let (e0, e1) = (list("epoch0"), list("epoch1"));
    let mut sorted = e0.clone();
    sorted.sort();
    assert_eq!(sorted, (0..30).collect::<Vec<_>>(), "every example once: {e0:?}");
    assert_ne!(e0, e1, "epochs reshuffle");
    // A buffer of 4 mixes only nearby examples: the first 7 come from at most two shards.
    let shards: std::collections::BTreeSet<i64> = e0[..7].iter().map(|l| l / 10).collect();
    assert!(shards.len() <= 2, "{e0:?}");
    assert_eq!(list("ordered"), (0..30).collect::<Vec<_>>(), "evaluation reads the shards in order");
}

#[test]
fn a_bad_member_stops_the_run_naming_its_shard() {
    let dir = tempfile::tempdir().unwrap();
    write_shards(dir.path(), 3);
    std::fs::write(dir.path().join("0010.png"), b"not a png").unwrap();
    let status = Command::new("tar").args(["-cf", "shard-01.tar", "0010.png", "0010.txt"]).current_dir(dir.path()).status().unwrap();
    assert!(status.success());
    let out = run(dir.path(), SCRIPT);
    assert!(!out.status.success());
    let text = stdout_stderr(&out);
    assert!(text.contains("shard-01.tar:0010.png: cannot decode image"), "{text}");

    std::fs::write(dir.path().join("0010.bin"), b"x").unwrap();
    let status = Command::new("tar").args(["-cf", "shard-01.tar", "0010.bin"]).current_dir(dir.path()).status().unwrap();
    assert!(status.success());
    let text = stdout_stderr(&run(dir.path(), SCRIPT));
    assert!(text.contains("shard-01.tar:0010.bin: unknown extension `bin`"), "{text}");
}
