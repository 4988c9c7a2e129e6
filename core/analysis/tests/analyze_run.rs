//! `analyze_run` on generated run folders: the report's content and shape, the plots,
//! and a clear error for each kind of bad input.
mod common;

use std::collections::HashMap;
use std::path::Path;

use common::{write_run, Rng};
use ndarray::{Array1, Array2};
use plexus_analysis::*;
use safetensors::tensor::{Dtype, TensorView};

fn write_tensors(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let views: HashMap<&str, TensorView> =
        tensors.iter().map(|(n, dt, shape, data)| (*n, TensorView::new(*dt, shape.clone(), data).unwrap())).collect();
    std::fs::write(path, safetensors::tensor::serialize(views, &None).unwrap()).unwrap();
}

fn f32_bytes(n: usize, v: f32) -> Vec<u8> {
    (0..n).flat_map(|i| (v + i as f32 * 0.01).to_le_bytes()).collect()
}

#[test]
fn report_has_every_number_and_the_plots_exist() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), 1500, 500, 16, 5, 1);
    std::fs::write(dir.path().join("summary.json"), r#"{"status": "ok", "metrics": {"zero_shot_top1": 0.75}}"#).unwrap();
    let r = analyze_run(dir.path(), "test").unwrap();
    assert_eq!(r.zero_shot_top1, Some(0.75));
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert_eq!((r.n, r.n_train, r.dim, r.classes), (500, 1500, 16, 5));
    // Well-separated clusters: both probes should be near perfect.
    assert!(r.probe_ridge_top1 > 0.95, "ridge {}", r.probe_ridge_top1);
    assert!(r.probe_logreg_top1 > 0.95, "logreg {}", r.probe_logreg_top1);
    assert!(r.probe_logreg_converged);
    assert!(r.modality_gap > 0.1 && r.modality_gap <= 2.0, "gap {}", r.modality_gap);
    assert!(r.alignment > 0.0 && r.alignment <= 4.0);
    assert!(r.uniformity_image < 0.0 && r.uniformity_image >= -4.0);
    assert!(r.uniformity_text < 0.0 && r.uniformity_text >= -4.0);
    // Captions sit close to 5 prototypes, images spread: text has the lower rank.
    assert!(r.effective_rank_text < r.effective_rank_image, "{} vs {}", r.effective_rank_text, r.effective_rank_image);
    assert!(r.effective_rank_image >= 1.0 && r.effective_rank_image <= 16.0);
    assert!(r.cka_image_text.is_some_and(|c| c > 0.0 && c <= 1.0));
    for (file, expect) in [(&r.spectrum_plot, "analysis_spectrum_test.png"), (&r.pca_plot, "analysis_pca_test.png")] {
        assert_eq!(Path::new(file), dir.path().join(expect));
        let bytes = std::fs::read(file).unwrap();
        assert!(bytes.len() > 1000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{file} is not a PNG");
    }
    let map = r.to_json_map();
    assert!(map.len() >= 20);
    assert!(map.values().all(|v| !v.is_object() && !v.is_array()), "report is not flat: {map:?}");
    assert!(map["probe_ridge_top1"].is_f64());
}

#[test]
fn probe_is_at_chance_when_labels_carry_no_information() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), 1000, 400, 8, 4, 2);
    // Relabel the test split at random: no probe can beat chance (0.25) by much.
    let path = embeddings_path(dir.path(), "test");
    let mut e = load_embeddings(&path).unwrap();
    let mut rng = Rng(9);
    e.labels = Array1::from_iter((0..e.len()).map(|_| (rng.uniform() * 4.0) as i64));
    save_embeddings(&path, &e).unwrap();
    let r = analyze_run(dir.path(), "test").unwrap();
    assert!(r.probe_ridge_top1 < 0.4 && r.probe_logreg_top1 < 0.4, "{} {}", r.probe_ridge_top1, r.probe_logreg_top1);
}

#[test]
fn train_split_can_be_analysed_and_identical_runs_have_cka_one() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), 300, 100, 6, 3, 3);
    let r = analyze_run(dir.path(), "train").unwrap();
    assert_eq!(r.n, 300);
    assert!(dir.path().join("analysis_pca_train.png").is_file());
    let c = compare_runs(dir.path(), dir.path(), "test").unwrap();
    assert!((c.cka_image - 1.0).abs() < 1e-9 && (c.cka_text - 1.0).abs() < 1e-9);
    let other = tempfile::tempdir().unwrap();
    write_run(other.path(), 300, 99, 6, 3, 4);
    let err = compare_runs(dir.path(), other.path(), "test").unwrap_err().to_string();
    assert!(err.contains("labels differ"), "{err}");
}

#[test]
fn bad_inputs_are_errors_that_name_the_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    let test_file = embeddings_path(run, "test");
    let err = |split: &str| analyze_run(run, split).unwrap_err().to_string();

    let e = err("test");
    assert!(e.contains(&test_file.display().to_string()), "{e}");
    assert!(analyze_run(&run.join("nope"), "test").unwrap_err().to_string().contains("not a run folder"));
    assert!(err("../x").contains("not a split name"));

    let (n, d) = (4, 3);
    let labels: Vec<u8> = (0..n as i64).flat_map(|v| v.to_le_bytes()).collect();
    write_tensors(&test_file, &[("image_embeds", Dtype::F32, vec![n, d], f32_bytes(n * d, 0.5)), ("labels", Dtype::I64, vec![n], labels.clone())]);
    let e = err("test");
    assert!(e.contains("missing tensor `text_embeds`") && e.contains("test.safetensors") && e.contains("image_embeds, labels"), "{e}");

    write_tensors(&test_file, &[
        ("image_embeds", Dtype::F32, vec![n, d], f32_bytes(n * d, 0.5)),
        ("text_embeds", Dtype::F64, vec![n, d / 2 * 2], vec![0; n * 2 * 8]),
        ("labels", Dtype::I64, vec![n], labels.clone()),
    ]);
    assert!(err("test").contains("tensor `text_embeds`: dtype F64, expected F32"), "{}", err("test"));

    write_tensors(&test_file, &[
        ("image_embeds", Dtype::F32, vec![n, d], f32_bytes(n * d, 0.5)),
        ("text_embeds", Dtype::F32, vec![n, d], f32_bytes(n * d, 0.1)),
        ("labels", Dtype::I64, vec![n - 1], labels[..(n - 1) * 8].to_vec()),
    ]);
    assert!(err("test").contains("tensor `labels`: 3 entries but image_embeds has 4 rows"), "{}", err("test"));

    let mut nan = f32_bytes(n * d, 0.1);
    nan[4 * 4..4 * 5].copy_from_slice(&f32::NAN.to_le_bytes());
    write_tensors(&test_file, &[
        ("image_embeds", Dtype::F32, vec![n, d], f32_bytes(n * d, 0.5)),
        ("text_embeds", Dtype::F32, vec![n, d], nan),
        ("labels", Dtype::I64, vec![n], labels.clone()),
    ]);
    assert!(err("test").contains("tensor `text_embeds`: non-finite value at row 1"), "{}", err("test"));

    std::fs::write(&test_file, b"not safetensors").unwrap();
    assert!(err("test").contains("not a readable safetensors file"), "{}", err("test"));

    // A valid test split but no train split: the probe's missing input is named.
    let e = Embeddings::new(Array2::ones((n, d)), Array2::ones((n, d)), Array1::zeros(n)).unwrap();
    save_embeddings(&test_file, &e).unwrap();
    assert!(err("test").contains("train.safetensors"), "{}", err("test"));
    assert!(Embeddings::new(Array2::ones((n, d)), Array2::ones((n, d + 1)), Array1::zeros(n)).is_err());
}

#[test]
fn degenerate_embeddings_give_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    // All-identical embeddings and a single class: the probe cannot be fitted.
    let (n, d) = (20, 4);
    let e = Embeddings::new(Array2::ones((n, d)), Array2::ones((n, d)), Array1::zeros(n)).unwrap();
    save_embeddings(&embeddings_path(dir.path(), "train"), &e).unwrap();
    save_embeddings(&embeddings_path(dir.path(), "test"), &e).unwrap();
    let err = analyze_run(dir.path(), "test").unwrap_err().to_string();
    assert!(err.contains("at least 2 classes"), "{err}");
}

#[test]
fn collapsed_embeddings_are_reported_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (20, 4);
    let labels = Array1::from_iter((0..n).map(|i| (i % 2) as i64));
    let e = Embeddings::new(Array2::ones((n, d)), Array2::ones((n, d)), labels).unwrap();
    save_embeddings(&embeddings_path(dir.path(), "train"), &e).unwrap();
    save_embeddings(&embeddings_path(dir.path(), "test"), &e).unwrap();
    let r = analyze_run(dir.path(), "test").unwrap();
    assert_eq!((r.effective_rank_image, r.cka_image_text), (0.0, None));
    assert!(r.modality_gap.abs() < 1e-12 && r.probe_ridge_top1 <= 0.5 + 1e-12);
    assert!(r.to_json_map()["cka_image_text"].is_null());
}
