//! `plexus analyze` and the Rhai `analyze()` / `compare_runs()` on a generated run folder.
use std::path::Path;
use std::process::Command;

use plexus_analysis::ndarray::{Array1, Array2};
use plexus_analysis::{embeddings_path, save_embeddings, Embeddings};

/// Two classes on opposite sides along every axis, captions at the class mean plus an
/// offset; deterministic jitter so nothing is constant.
fn write_run(dir: &Path) {
    for (split, n) in [("train", 400usize), ("test", 120)] {
        let jitter = |i: usize, j: usize| (((i * 31 + j * 17) % 13) as f32 - 6.0) * 0.05;
        let sign = |i: usize| if i % 2 == 0 { 1.0 } else { -1.0 };
        let image = Array2::from_shape_fn((n, 8), |(i, j)| sign(i) + jitter(i, j));
        let text = Array2::from_shape_fn((n, 8), |(i, j)| sign(i) + 0.5 + jitter(j, i) * 0.2);
        let labels = Array1::from_iter((0..n).map(|i| (i % 2) as i64));
        save_embeddings(&embeddings_path(dir, split), &Embeddings::new(image, text, labels).unwrap()).unwrap();
    }
}

fn plexus() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_plexus"));
    c.env("OMP_NUM_THREADS", "1");
    c
}

#[test]
fn analyze_prints_a_flat_json_report_and_writes_plots() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let out = plexus().arg("analyze").arg(dir.path()).args(["--json", "--compare"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let map = v.as_object().unwrap();
    assert!(map.values().all(|x| !x.is_object() && !x.is_array()));
    assert_eq!(map["n"], 120);
    assert!(map["probe_ridge_top1"].as_f64().unwrap() > 0.99);
    assert!(map["probe_logreg_top1"].as_f64().unwrap() > 0.99);
    assert!((map["compare_cka_image"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!(dir.path().join("analysis_spectrum_test.png").is_file());
    assert!(dir.path().join("analysis_pca_test.png").is_file());

    let text = plexus().arg("analyze").arg(dir.path()).args(["--split", "train"]).output().unwrap();
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).contains("modality_gap"));
}

#[test]
fn analyze_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path());
    let out = plexus().arg("analyze").arg(dir.path()).args(["--split", "val"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("val.safetensors"), "{err}");
}

#[test]
fn rhai_scripts_can_analyze_and_compare_runs() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    write_run(&target);
    std::fs::write(
        dir.path().join("a.rhai"),
        r#"let r = analyze(config().target, "test");
           let c = compare_runs(config().target, config().target, "test");
           summary(#{ gap: r.modality_gap, ridge: r.probe_ridge_top1, cka: c.cka_text });"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("a.yaml"), format!("name: a\ntarget: {}\n", target.display())).unwrap();
    let out = plexus()
        .arg("run")
        .arg(dir.path().join("a.rhai"))
        .arg("--config")
        .arg(dir.path().join("a.yaml"))
        .arg("--runs-dir")
        .arg(dir.path().join("runs"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = |k: &str| stdout.lines().find(|l| l.trim_start().starts_with(k)).map(|l| l.split_whitespace().last().unwrap().parse::<f64>().unwrap());
    assert!(line("ridge").unwrap() > 0.99, "{stdout}");
    assert!(line("gap").unwrap() > 0.0);
    assert!((line("cka").unwrap() - 1.0).abs() < 1e-9);
}
