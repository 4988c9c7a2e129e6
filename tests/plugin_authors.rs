//! Third-party plugin authors: `plexus new-plugin` writes a crate outside the workspace
//! that builds with plain cargo, passes the conformance kit, is found through
//! PLEXUS_PLUGIN_PATH and trains in a real (tiny) experiment in place of the ViT;
//! `plexus plugins --check` reports it; an out-of-date build of it is refused with a
//! field diff and the command that rebuilds it.
//!
//! The crate is built into the persistent `target/out-of-tree` (not a temp folder): a
//! fresh target dir recompiles torch-sys and tch, about 6.5 minutes on this 2-core
//! machine; reruns only compile the plugin crate itself (about 20 s).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use plexus_tests::{plexus, plexus_with_env, read_json, root, stdout_stderr, Experiment};

/// Unique: built-in plugins are `plexus-*`, and `new-plugin` refuses that prefix.
const NAME: &str = "acme-patch-encoder";
const COMPONENT: &str = "acme_patch_encoder";

fn out_of_tree_target() -> PathBuf {
    root().join("target/out-of-tree")
}

/// `cargo ARGS` inside the scaffolded crate, as its author would run it (cargo reads the
/// crate's `.cargo/config.toml` only from there).
fn cargo(krate: &Path, args: &[&str]) -> Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(krate)
        .env("CARGO_TARGET_DIR", out_of_tree_target())
        .env("OMP_NUM_THREADS", "1")
        .output()
        .expect("spawn cargo")
}

fn assert_ok(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed:\n{}", stdout_stderr(out));
}

#[test]
fn a_scaffolded_plugin_builds_out_of_tree_loads_trains_and_is_checked() {
    let outside = tempfile::tempdir().unwrap();
    assert!(!outside.path().starts_with(root()), "the crate must live outside the workspace");
    let krate = outside.path().join(NAME);
    let out = plexus(outside.path(), &["new-plugin", NAME, "--kind", "encoder", "--path", krate.to_str().unwrap()]);
    assert_ok("plexus new-plugin", &out);
    for file in ["Cargo.toml", "Cargo.lock", "build.rs", ".cargo/config.toml", "README.md", "src/lib.rs", "src/patch_encoder.rs", "tests/conformance.rs"] {
        assert!(krate.join(file).exists(), "{file} missing from the scaffold");
    }
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    let api = root().join("core/plugin-api").canonicalize().unwrap();
    assert!(manifest.contains(&format!("plexus-plugin = {{ path = \"{}\"", api.display())), "{manifest}");
    assert!(!manifest.contains("plexus = ") && manifest.contains("crate-type = [\"cdylib\", \"rlib\"]"), "{manifest}");
    let config = std::fs::read_to_string(krate.join(".cargo/config.toml")).unwrap();
    assert!(config.contains("LIBTORCH = { value = \"/") && config.contains("LIBTORCH_CXX11_ABI = \"1\""), "{config}");

    // Builds and passes its own conformance test with no edits.
    let started = Instant::now();
    assert_ok("cargo build (scaffolded crate)", &cargo(&krate, &["build"]));
    eprintln!("out-of-tree plugin build: {:.1} s", started.elapsed().as_secs_f64());
    let test = cargo(&krate, &["test"]);
    assert_ok("cargo test (scaffolded crate)", &test);
    assert!(stdout_stderr(&test).contains("every_registered_component_passes_the_conformance_kit ... ok"), "{}", stdout_stderr(&test));
    let plugin_dir = out_of_tree_target().join("debug");
    let library = plugin_dir.join(format!("lib{COMPONENT}.so"));
    assert!(library.exists(), "{} missing", library.display());

    // A real tiny CLIP experiment with the scaffolded encoder as the image tower.
    let exp = Experiment::tiny();
    exp.edit(
        "clip.rhai",
        r#"encoder("vit", cfg.model.image, "visual")"#,
        &format!(r#"encoder("{COMPONENT}", #{{ image_size: 28, in_channels: 1, output_dim: 32 }}, "visual")"#),
    );
    let run = plexus_with_env(exp.path(), &["run", "clip.rhai", "--config", "tiny.yaml"], &[("PLEXUS_PLUGIN_PATH", &plugin_dir)]);
    assert_ok("plexus run with the scaffolded encoder", &run);
    let run_dir = exp.only_run_dir();
    let summary = read_json(&run_dir.join("summary.json"));
    assert_eq!(summary["status"], "completed", "{summary}");
    let top1 = summary["metrics"]["zero_shot_top1"].as_f64().unwrap();
    assert!(top1 >= 0.3, "zero-shot top-1 {top1} with the scaffolded encoder is not far above chance (0.1)");
    let plugins = read_json(&run_dir.join("plugins.json"));
    let ours = plugins.as_array().unwrap().iter().find(|p| p["name"] == NAME).unwrap_or_else(|| panic!("{NAME} not in {plugins}"));
    assert_eq!(ours["path"].as_str().unwrap(), library.display().to_string());

    // The host's conformance check through the loaded library (a copy alone in a folder:
    // the shared output folder may hold other authors' experiments).
    let alone = tempfile::tempdir().unwrap();
    std::fs::copy(&library, alone.path().join(library.file_name().unwrap())).unwrap();
    let check = plexus(&root(), &["plugins", "--check", alone.path().to_str().unwrap()]);
    let text = stdout_stderr(&check);
    assert_ok("plexus plugins --check", &check);
    assert!(text.contains(&format!("encoder `{COMPONENT}`: ok")) && text.contains("(matches this host)"), "{text}");

    // Built against another plexus-plugin: refused, with the diff and the rebuild command.
    let stale = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&library).unwrap();
    let (from, to) = (b"plexus-plugin=0.1.0;", b"plexus-plugin=0.0.9;");
    let at = bytes.windows(from.len()).position(|w| w == from).expect("fingerprint in the library");
    bytes[at..at + to.len()].copy_from_slice(to);
    std::fs::write(stale.path().join(library.file_name().unwrap()), bytes).unwrap();
    let refused = plexus(&root(), &["plugins", "--check", stale.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&refused.stdout).to_string(); // stderr repeats it as a log line
    assert_eq!(refused.status.code(), Some(1), "{}", stdout_stderr(&refused));
    assert!(text.contains("REFUSED") && text.contains("host: 0.1.0") && text.contains("plugin: 0.0.9"), "{text}");
    assert_eq!(text.matches("host:").count(), 1, "only differing fields: {text}");
    assert!(text.contains(&format!("then: cd {} && cargo build", krate.display())), "no rebuild command: {text}");
}

/// The built-in plugin crates (every `cdylib` under `plugins/`), so a new plugin is
/// checked without editing this test.
fn built_in_plugins() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("plugins"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|toml| toml.contains("cdylib")))
        .map(|dir| dir.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `plexus plugins --check DIR` on every built-in plugin: every component is built with
/// its default config and passes; JSON carries the fingerprint and each check's outcome.
/// Metrics whose inputs are not evaluation embeddings (captions, answers, tokens) can only
/// be constructed and named here; their scores are checked by their own crate's tests.
#[test]
fn plugins_check_reports_fingerprints_and_conformance_per_component() {
    let dir = tempfile::tempdir().unwrap();
    let libs = built_in_plugins();
    assert!(libs.len() >= 11, "plugins/ lists only {libs:?}");
    for lib in &libs {
        let src = plexus_tests::plugin_lib(lib);
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
    }
    let out = plexus(&root(), &["plugins", "--check", dir.path().to_str().unwrap(), "--json"]);
    assert_ok("plexus plugins --check --json", &out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    let plugins = report["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), libs.len(), "{report}");
    for p in plugins {
        assert!(p["fingerprint"].as_str().unwrap().contains("plexus-plugin=0.1.0"), "{p}");
        for c in p["components"].as_array().unwrap() {
            assert_eq!(c["ok"], true, "{c}");
            let fully_checked = c["skipped"].is_null() && c["passed"].as_array().unwrap().len() >= 2;
            assert!(fully_checked || c["kind"] == "metric", "{c}");
        }
    }
    let names: Vec<&str> = plugins.iter().flat_map(|p| p["components"].as_array().unwrap()).map(|c| c["name"].as_str().unwrap()).collect();
    for name in [
        "shuffle",
        "sequential",
        "modality_balanced",
        "curriculum",
        "modality_dropout",
        "gradual_integration",
        "clip",
        "text_transformer",
        "bert",
        "word",
        "hf",
        "clip_bpe",
        "early",
        "late",
        "gated",
        "cross_attention",
        "multimodal_transformer",
        "fused_classification",
        "mlp_projector",
        "causal_lm",
        "itm_head",
        "vit",
        "cnn",
        "audio_cnn",
        "audio_lstm",
        "audio_conv1d",
        "video_cnn3d",
        "seq_cross_attention",
        "vq_video_tokenizer",
        "videobert",
        "diffusion_prior",
        "unclip_decoder",
        "zero_shot",
        "retrieval",
        "bleu",
        "cider",
        "vqa_accuracy",
        "wer",
    ] {
        assert!(names.contains(&name), "{name} not checked: {names:?}");
    }
    // An empty folder is not a pass.
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(plexus(&root(), &["plugins", "--check", empty.path().to_str().unwrap()]).status.code(), Some(1));
}

/// Scaffolded inside this workspace's tree, the crate is still its own workspace and its
/// `.cargo/config.toml` merges with ours (cargo resolves it; building it is the same as
/// out of tree, which the test above does).
#[test]
fn a_plugin_scaffolded_inside_the_workspace_resolves() {
    let inside = tempfile::tempdir_in(root().join("target")).unwrap();
    let krate = inside.path().join("acme-inside");
    assert_ok("plexus new-plugin", &plexus(&root(), &["new-plugin", "acme-inside", "--kind", "metric", "--path", krate.to_str().unwrap()]));
    let meta = cargo(&krate, &["metadata", "--format-version", "1", "--no-deps", "--offline"]);
    assert_ok("cargo metadata in the scaffold", &meta);
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    assert_eq!(meta["workspace_root"].as_str().unwrap(), krate.display().to_string());
    assert_eq!(meta["packages"][0]["name"], "acme-inside");
}
