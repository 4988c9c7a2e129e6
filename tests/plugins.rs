//! Plugins are found at run time, refused on an ABI mismatch, and cannot crash the host.
use std::path::Path;

use plexus::plugins::{default_search_path, Registry};
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::Hparams;
use plexus_tests::{plexus, plexus_bin, plugin_lib, stdout_stderr, target_dir};

fn registry_from(dir: &Path) -> Registry {
    Registry::discover(&[dir.to_path_buf()])
}

fn folder_with(libs: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for lib in libs {
        let src = plugin_lib(lib);
        std::fs::copy(&src, dir.path().join(src.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn host_binary_contains_no_plugin_code() {
    let host = std::fs::read(plexus_bin()).unwrap();
    let vision = std::fs::read(plugin_lib("vision")).unwrap();
    let marker = b"vit expects images";
    let contains = |hay: &[u8]| hay.windows(marker.len()).any(|w| w == marker);
    assert!(contains(&vision), "marker should be in the vision plugin");
    assert!(!contains(&host), "the host binary must not contain the ViT encoder");

    // A lone copy of the binary finds no components at all.
    let lonely = tempfile::tempdir().unwrap();
    std::fs::copy(plexus_bin(), lonely.path().join("plexus")).unwrap();
    let out = std::process::Command::new(lonely.path().join("plexus"))
        .args(["plugins", "--json"])
        .env_remove("PLEXUS_PLUGIN_PATH")
        .output()
        .unwrap();
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["plugins"].as_array().unwrap().len(), 0, "{listing}");

    // Pointed at a folder holding the vision plugin, it finds the ViT.
    let folder = folder_with(&["vision"]);
    let out = std::process::Command::new(lonely.path().join("plexus"))
        .args(["plugins", "--json"])
        .env("PLEXUS_PLUGIN_PATH", folder.path())
        .output()
        .unwrap();
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listing["plugins"][0]["name"], "plexus-vision");
    assert_eq!(listing["plugins"][0]["components"]["encoder"][0]["name"], "vit");
    assert_eq!(listing["plugins"][0]["components"]["encoder"][0]["config"]["patch_size"], 16);
}

#[test]
fn a_separately_built_plugin_loads_and_computes() {
    let folder = folder_with(&["vision"]);
    let registry = registry_from(folder.path());
    assert!(registry.refused.is_empty(), "{:?}", registry.refused);
    let vs = nn::VarStore::new(Device::Cpu);
    let hp = Hparams::new(
        serde_json::json!({"image_size": 8, "patch_size": 4, "in_channels": 1, "width": 16, "layers": 1, "head_width": 8, "output_dim": 5}),
        "test",
    );
    let vit = registry.encoder("vit", &(vs.root() / "visual"), &hp).unwrap();
    let out = vit.encode(&Tensor::randn([3, 1, 8, 8], (Kind::Float, Device::Cpu)), false).unwrap();
    assert_eq!(out.size(), [3, 5]);
    // The host's VarStore owns the plugin's parameters, under open_clip names.
    let names: Vec<String> = vs.variables().into_keys().collect();
    assert!(names.contains(&"visual.conv1.weight".to_string()), "{names:?}");
    assert!(names.contains(&"visual.transformer.resblocks.0.attn.in_proj_weight".to_string()), "{names:?}");
}

#[test]
fn plexus_plugins_lists_components_and_config_defaults() {
    let out = plexus(&target_dir(), &["plugins", "--json"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = listing.to_string();
    for name in ["\"vit\"", "\"text_transformer\"", "\"clip\"", "\"zero_shot\"", "\"retrieval\"", "\"shuffle\"", "\"word\""] {
        assert!(text.contains(name), "{name} missing from {text}");
    }
    let human = stdout_stderr(&plexus(&target_dir(), &["plugins"]));
    assert!(human.contains("plexus-vision 0.1.0") && human.contains("patch_size: 16"), "{human}");
}

/// Replaces `from` by `to` (same length) in a copy of a plugin: a plugin that claims to
/// be built against another plexus-plugin version.
fn patched_copy(lib: &str, from: &[u8], to: &[u8]) -> tempfile::TempDir {
    assert_eq!(from.len(), to.len());
    let dir = tempfile::tempdir().unwrap();
    let src = plugin_lib(lib);
    let mut bytes = std::fs::read(&src).unwrap();
    let at = bytes.windows(from.len()).position(|w| w == from).expect("fingerprint field in library");
    bytes[at..at + to.len()].copy_from_slice(to);
    std::fs::write(dir.path().join(src.file_name().unwrap()), bytes).unwrap();
    dir
}

#[test]
fn mismatched_fingerprint_is_refused_with_a_field_diff() {
    let dir = patched_copy("samplers", b"plexus-plugin=0.1.0;", b"plexus-plugin=0.0.9;");
    let registry = registry_from(dir.path());
    assert!(registry.plugins.is_empty());
    assert_eq!(registry.refused.len(), 1);
    let reason = &registry.refused[0].reason;
    assert!(reason.contains("plexus-plugin") && reason.contains("host: 0.1.0") && reason.contains("plugin: 0.0.9"), "{reason}");
    assert_eq!(reason.matches("host:").count(), 1, "only differing fields are listed: {reason}");
    assert!(reason.contains("rebuild"), "{reason}");
    // The concrete command, from the build info the plugin exports.
    let krate = plexus_tests::root().join("plugins/samplers");
    assert!(reason.contains(&format!("then: cd {} && cargo build", krate.display())), "{reason}");

    // Asking for its component says the plugin was refused, and `plexus plugins` shows why.
    let err = registry.sampler("shuffle", &nn::VarStore::new(Device::Cpu).root(), &Hparams::new(serde_json::json!({}), "t"));
    assert!(err.err().unwrap().to_string().contains("refused"));
    let out = std::process::Command::new(plexus_bin()).args(["plugins"]).env("PLEXUS_PLUGIN_PATH", dir.path()).output().unwrap();
    assert!(stdout_stderr(&out).contains("REFUSED"), "{}", stdout_stderr(&out));
}

#[test]
fn a_plugin_built_against_other_plugin_api_sources_is_refused() {
    // Same versions everywhere, but the plugin API's sources (trait and struct layouts) differ.
    let lib = std::fs::read(plexus_tests::plugin_lib("samplers")).unwrap();
    let at = lib.windows(4).position(|w| w == b";api").expect("api hash in the fingerprint") + 5;
    let host_hash = String::from_utf8(lib[at..at + 16].to_vec()).unwrap();
    let other = if host_hash.starts_with('0') { "1" } else { "0" };
    let dir = patched_copy("samplers", format!("api={}", &host_hash[..1]).as_bytes(), format!("api={other}").as_bytes());
    let registry = registry_from(dir.path());
    assert!(registry.plugins.is_empty());
    let reason = &registry.refused[0].reason;
    assert!(reason.contains("api") && reason.contains(&format!("host: {host_hash}")) && reason.contains("plugin API changed"), "{reason}");
}

#[test]
fn a_panicking_plugin_yields_an_error_and_the_host_keeps_running() {
    let registry = registry_from(&target_dir());
    let vs = nn::VarStore::new(Device::Cpu);
    let hp = Hparams::new(serde_json::json!({}), "test");
    let enc = registry.encoder("panicking_encoder", &vs.root(), &hp).unwrap();
    let input = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
    for _ in 0..2 {
        let err = enc.encode(&input, false).unwrap_err().to_string();
        assert!(err.contains("plexus-fixture-faulty"), "{err}");
        assert!(err.contains("panicking_encoder"), "{err}");
        assert!(err.contains("deliberate panic in forward"), "{err}");
        assert!(err.contains("src/lib.rs"), "location of the panic: {err}");
    }
    let ctor = registry
        .encoder("panicking_encoder", &vs.root(), &Hparams::new(serde_json::json!({"panic_on_build": true}), "t"))
        .err()
        .unwrap()
        .to_string();
    assert!(ctor.contains("panicked in new") && ctor.contains("deliberate panic in constructor"), "{ctor}");
    // Other components still work afterwards.
    let failing = registry.encoder("failing_encoder", &vs.root(), &hp).unwrap();
    assert!(failing.encode(&input, false).unwrap_err().to_string().contains("deliberate error"));
    let shuffle = registry.sampler("shuffle", &vs.root(), &hp).unwrap();
    assert_eq!(shuffle.epoch_order(&plexus_plugin::SamplerContext::new(3, 0, 1, 0)).unwrap().len(), 3);
}

#[test]
fn libtorch_errors_in_plugins_become_errors_not_aborts() {
    let registry = registry_from(&target_dir());
    let vs = nn::VarStore::new(Device::Cpu);
    let hp = Hparams::new(serde_json::json!({"image_size": 8, "patch_size": 4, "in_channels": 1, "width": 16, "layers": 1, "head_width": 8}), "t");
    let vit = registry.encoder("vit", &vs.root(), &hp).unwrap();
    let err = vit.encode(&Tensor::zeros([2, 3, 8, 8], (Kind::Float, Device::Cpu)), false).unwrap_err().to_string();
    assert!(err.contains("vit expects images [B, 1, 8, 8]"), "{err}");
}

#[test]
fn plugin_path_env_is_searched_first() {
    std::env::set_var("PLEXUS_PLUGIN_PATH", "/nonexistent/a:/nonexistent/b");
    let dirs = default_search_path(&[]);
    std::env::remove_var("PLEXUS_PLUGIN_PATH");
    assert_eq!(dirs[0], Path::new("/nonexistent/a"));
    assert_eq!(dirs[1], Path::new("/nonexistent/b"));
}

#[test]
fn plugin_errors_and_logs_reach_the_script_user() {
    let exp = plexus_tests::Experiment::tiny();
    std::fs::write(
        exp.path().join("panic.rhai"),
        "let cfg = config();\nlet enc = encoder(\"panicking_encoder\", #{ panic_on_build: true });\n",
    )
    .unwrap();
    let out = plexus(exp.path(), &["run", "panic.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("panic.rhai:2:") && text.contains("plexus-fixture-faulty") && text.contains("panicking_encoder"), "{text}");

    // A plugin's tracing events are printed by the host's subscriber.
    std::fs::write(
        exp.path().join("log.rhai"),
        "let cfg = config();\nlet data = dataset(\"fashion_mnist\", cfg.data.test);\nlet tok = tokenizer(\"word\", #{});\ntok.fit(data);\n\
         let text = encoder(\"text_transformer\", #{ vocab_size: tok.vocab_size, width: 8, heads: 1, layers: 1, output_dim: 1, context_length: 16 });\n\
         let m = dual_encoder(encoder(\"failing_encoder\", #{}), text, tok);\nevaluate(m, data, []);\n",
    )
    .unwrap();
    let out = plexus(exp.path(), &["run", "log.rhai", "--config", "tiny.yaml"]);
    let text = stdout_stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("failing_encoder: about to fail on purpose"), "plugin log missing: {text}");
    assert!(text.contains("deliberate error in forward"), "{text}");
}

/// The losses plugin as the host loads it: `plexus plugins --check` builds every loss with
/// its default config and runs the conformance kit on conventional inputs of its kind.
#[test]
fn every_loss_passes_the_conformance_kit_through_the_host() {
    let folder = folder_with(&["losses"]);
    let out = plexus(&target_dir(), &["plugins", "--check", folder.path().to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let components = report["plugins"][0]["components"].as_array().unwrap();
    for c in components {
        assert!(c["ok"] == true && c["skipped"].is_null(), "{c}");
    }
    let names: Vec<&str> = components.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for name in ["clip", "siglip", "audioclip", "itm", "lm_cross_entropy", "vq", "ctc", "diffusion_mse"] {
        assert!(names.contains(&name), "{name} not checked: {names:?}");
    }
}

/// A plugin library exports the same `#[no_mangle]` declaration symbols as every other
/// plugin, so a plugin crate that depends on another plugin crate links two definitions
/// of them. Whether the linker notices depends on how codegen units happen to be split
/// (a clean build without incremental compilation failed on plexus-vq → plexus-losses);
/// shared code belongs in a plain library such as plexus-nn.
#[test]
fn no_plugin_crate_depends_on_another_plugin_crate() {
    let plugins = plexus_tests::root().join("plugins");
    let is_plugin = |dir: &Path| std::fs::read_to_string(dir.join("Cargo.toml")).is_ok_and(|t| t.contains("cdylib"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&plugins).unwrap() {
        let dir = entry.unwrap().path();
        if !is_plugin(&dir) {
            continue;
        }
        checked += 1;
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let deps = manifest.split("[dependencies]").nth(1).unwrap_or("").split("\n[").next().unwrap();
        for line in deps.lines() {
            let Some(path) = line.split("path = \"").nth(1).and_then(|p| p.split('"').next()) else { continue };
            assert!(!is_plugin(&dir.join(path)), "{}: depends on the plugin crate {path}", dir.display());
        }
    }
    assert!(checked >= 10, "found only {checked} plugin crates under {}", plugins.display());
}
