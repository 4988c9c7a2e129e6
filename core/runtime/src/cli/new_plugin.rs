//! `plexus new-plugin NAME [--kind K] [--path DIR]`: writes a plugin crate that builds,
//! passes the conformance kit and loads with no edits, outside or inside a workspace.
//!
//! The component sources are real Rust files (`core/runtime/templates/plugin/*.rs`),
//! compiled and tested in this crate's unit tests; only `lib.rs`, the manifest, the
//! config and the README are filled in per plugin.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plexus_plugin::abi::Fingerprint;

/// The component kind to scaffold an example of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaffoldKind {
    Encoder,
    Fusion,
    Loss,
    Sampler,
    Metric,
}

#[derive(clap::Args)]
pub struct Args {
    /// Crate name, e.g. `acme-encoders` (also the registered component's name, in snake_case).
    pub name: String,
    #[arg(long, value_enum, default_value = "encoder")]
    pub kind: ScaffoldKind,
    /// Folder to create (must not exist or be empty); default `./NAME`.
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// The plexus-plugin crate to depend on; default: the one this binary was built with.
    #[arg(long, value_name = "DIR")]
    pub plexus_plugin_path: Option<PathBuf>,
    /// libtorch folder for the plugin's `.cargo/config.toml`; default: this binary's.
    #[arg(long, value_name = "DIR")]
    pub libtorch: Option<PathBuf>,
}

/// What differs between kinds: the template, the types and how `register` builds them.
struct KindTemplate {
    kind: &'static str,
    module: &'static str,
    source: &'static str,
    ty: &'static str,
    config: &'static str,
    doc: &'static str,
    /// `path` or `_`: samplers and metrics own no parameters.
    path_arg: &'static str,
    new_args: &'static str,
    usage: &'static str,
}

fn template(kind: ScaffoldKind) -> KindTemplate {
    let t = |kind, module, source, ty, config, doc, owns_parameters: bool, usage| KindTemplate {
        kind,
        module,
        source,
        ty,
        config,
        doc,
        path_arg: if owns_parameters { "path" } else { "_" },
        new_args: if owns_parameters { "path, cfg" } else { "cfg" },
        usage,
    };
    match kind {
        ScaffoldKind::Encoder => t("encoder", "patch_encoder", include_str!("../../templates/plugin/encoder.rs"), "PatchEncoder", "PatchEncoderConfig",
            "Patch image encoder: strided-conv patches, flattened, projected and layer-normed", true,
            "let image = encoder(\"{{component}}\", #{ image_size: 28, in_channels: 1, output_dim: 32 }, \"visual\");\nlet model = dual_encoder(image, text, tok);"),
        ScaffoldKind::Fusion => t("fusion", "masked_mean", include_str!("../../templates/plugin/fusion.rs"), "MaskedMeanFusion", "MaskedMeanFusionConfig",
            "Masked mean of per-modality projections over the modalities each example has", true,
            "// Fusions are built by the host's registry (Registry::fusion); check the plexus\n// script API of your version for how scripts reach them."),
        ScaffoldKind::Loss => t("loss", "cosine_alignment", include_str!("../../templates/plugin/loss.rs"), "CosineAlignmentLoss", "CosineAlignmentConfig",
            "Pair alignment: weight * mean(1 - cos(image_i, text_i)); no negatives", true,
            "let trainer = trainer(model, loss(\"{{component}}\", #{ weight: 1.0 }), sampler(\"shuffle\", #{}), cfg.train);"),
        ScaffoldKind::Sampler => t("sampler", "subset", include_str!("../../templates/plugin/sampler.rs"), "SubsetSampler", "SubsetSamplerConfig",
            "A reproducible random fraction of the dataset per epoch", false,
            "let trainer = trainer(model, loss(\"clip\", cfg.loss), sampler(\"{{component}}\", #{ fraction: 0.5 }), cfg.train);"),
        ScaffoldKind::Metric => t("metric", "class_alignment", include_str!("../../templates/plugin/metric.rs"), "ClassAlignment", "ClassAlignmentConfig",
            "Mean cosine of images to their class prototype, and its margin over other classes", false,
            "let scores = evaluate(model, test, [metric(\"{{component}}\", #{ prefix: \"\" })]);"),
    }
}

/// Checks a crate name: lowercase ASCII, digits, `-` and `_`, starting with a letter, and
/// not `plexus…` (reserved for built-in plugins, whose names a plugin must not take).
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return Err(format!("`{name}` is not a valid crate name: use lowercase letters, digits, `-` and `_`, starting with a letter"));
    }
    if name.starts_with("plexus") {
        return Err(format!("`{name}`: names starting with `plexus` are reserved for the built-in plugins; pick your own prefix"));
    }
    Ok(())
}

/// The plexus-plugin crate this binary was built with (`core/plugin-api` next to
/// `core/runtime`).
pub fn default_plexus_plugin_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api")
}

/// The libtorch folder this binary links (the parent of the `lib` folder in its rpath).
pub fn default_libtorch() -> PathBuf {
    Path::new(env!("PLEXUS_LIBTORCH_LIB")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// Everything `new-plugin` needs, resolved; `files` are relative paths and contents.
pub struct Scaffold {
    pub files: Vec<(PathBuf, String)>,
    pub lock: Option<PathBuf>,
    pub component: String,
}

pub fn render(name: &str, kind: ScaffoldKind, plexus_plugin: &Path, libtorch: &Path) -> Result<Scaffold, String> {
    validate_name(name)?;
    let manifest = std::fs::read_to_string(plexus_plugin.join("Cargo.toml"))
        .map_err(|e| format!("{}: {e}; pass --plexus-plugin-path <folder of the plexus-plugin crate>", plexus_plugin.display()))?;
    if !manifest.contains("name = \"plexus-plugin\"") {
        return Err(format!("{} is not the plexus-plugin crate", plexus_plugin.display()));
    }
    if !libtorch.join("lib").is_dir() {
        return Err(format!("{} has no lib/ folder; pass --libtorch <the host's libtorch folder>", libtorch.display()));
    }
    let fingerprint = Fingerprint::current();
    let t = template(kind);
    let lib = name.replace('-', "_");
    let plexus_root = plexus_plugin.ancestors().find(|d| d.join("Cargo.lock").exists()).map(Path::to_path_buf);
    let vars: Vec<(&str, String)> = vec![
        ("usage", t.usage.to_string()), // first: it contains {{component}}
        ("crate", name.to_string()),
        ("lib", lib.clone()),
        ("component", lib.clone()),
        ("kind", t.kind.to_string()),
        ("module", t.module.to_string()),
        ("Type", t.ty.to_string()),
        ("Config", t.config.to_string()),
        ("doc", t.doc.to_string()),
        ("path_arg", t.path_arg.to_string()),
        ("new_args", t.new_args.to_string()),
        ("plexus_plugin_path", plexus_plugin.display().to_string()),
        ("plexus_plugin_version", fingerprint.get("plexus-plugin").unwrap_or("0.1.0").to_string()),
        ("torch_sys_version", fingerprint.get("tch").unwrap_or("0.24.0").to_string()),
        ("libtorch", libtorch.display().to_string()),
        ("plexus_root", plexus_root.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "plexus".into())),
    ];
    let fill = |text: &str| vars.iter().fold(text.to_string(), |acc, (k, v)| acc.replace(&format!("{{{{{k}}}}}"), v));
    let files = vec![
        ("Cargo.toml", fill(include_str!("../../templates/plugin/Cargo.toml.in"))),
        ("build.rs", include_str!("../../templates/plugin/build.rs").to_string()),
        (".cargo/config.toml", fill(include_str!("../../templates/plugin/cargo-config.toml.in"))),
        (".gitignore", include_str!("../../templates/plugin/gitignore").to_string()),
        ("README.md", fill(include_str!("../../templates/plugin/README.md.in"))),
        ("src/lib.rs", fill(include_str!("../../templates/plugin/lib.rs.in"))),
        (&format!("src/{}.rs", t.module) as &str, t.source.to_string()),
        ("tests/conformance.rs", fill(include_str!("../../templates/plugin/conformance.rs.in"))),
    ]
    .into_iter()
    .map(|(p, text)| (PathBuf::from(p), text))
    .collect();
    Ok(Scaffold { files, lock: plexus_root.map(|r| r.join("Cargo.lock")), component: lib })
}

/// Writes the scaffold into `dir` (created; refused if it holds anything).
pub fn write(dir: &Path, scaffold: &Scaffold) -> Result<(), String> {
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} already exists and is not empty", dir.display()));
    }
    for (rel, text) in &scaffold.files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("relative file path")).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    // The host's lock file: the plugin resolves to exactly the host's dependency versions
    // (cargo drops the entries it does not need).
    if let Some(lock) = scaffold.lock.as_ref().filter(|l| l.exists()) {
        std::fs::copy(lock, dir.join("Cargo.lock")).map_err(|e| format!("{}: {e}", lock.display()))?;
    }
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf()))
}

pub fn main(args: Args) -> ExitCode {
    let plexus_plugin = absolute(&args.plexus_plugin_path.clone().unwrap_or_else(default_plexus_plugin_path));
    let libtorch = absolute(&args.libtorch.clone().unwrap_or_else(default_libtorch));
    let dir = args.path.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    let result = render(&args.name, args.kind, &plexus_plugin, &libtorch).and_then(|s| write(&dir, &s).map(|()| s));
    match result {
        Ok(s) => {
            let lib = args.name.replace('-', "_");
            println!("created {} ({:?} `{}`)", dir.display(), args.kind, s.component);
            println!("  plexus-plugin: {}\n  libtorch:      {}", plexus_plugin.display(), libtorch.display());
            println!("next:\n  cd {} && cargo test && cargo build", dir.display());
            println!("  PLEXUS_PLUGIN_PATH={}/target/debug plexus plugins   # lib{lib}.so", absolute(&dir).display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

// The templates are compiled and tested here, so a scaffold never ships broken code.
#[cfg(test)]
#[path = "../../templates/plugin/encoder.rs"]
mod encoder_template;
#[cfg(test)]
#[path = "../../templates/plugin/fusion.rs"]
mod fusion_template;
#[cfg(test)]
#[path = "../../templates/plugin/loss.rs"]
mod loss_template;
#[cfg(test)]
#[path = "../../templates/plugin/metric.rs"]
mod metric_template;
#[cfg(test)]
#[path = "../../templates/plugin/sampler.rs"]
mod sampler_template;

#[cfg(test)]
mod tests {
    use super::*;
    use plexus_plugin::{conformance, Registrar};

    /// What the scaffolds' `register` functions do, for all kinds at once.
    fn register_all(r: &mut Registrar) -> plexus_plugin::Result<()> {
        use super::{encoder_template as e, fusion_template as f, loss_template as l, metric_template as m, sampler_template as s};
        r.encoder("e", "", |path, cfg: &e::PatchEncoderConfig| e::PatchEncoder::new(path, cfg));
        r.fusion("f", "", |path, cfg: &f::MaskedMeanFusionConfig| f::MaskedMeanFusion::new(path, cfg));
        r.loss("l", "", |path, cfg: &l::CosineAlignmentConfig| l::CosineAlignmentLoss::new(path, cfg));
        r.metric("m", "", |_, cfg: &m::ClassAlignmentConfig| m::ClassAlignment::new(cfg));
        r.sampler("s", "", |_, cfg: &s::SubsetSamplerConfig| s::SubsetSampler::new(cfg));
        Ok(())
    }

    #[test]
    fn every_template_passes_the_kit_with_its_default_config() {
        let report = conformance::check_register("templates", register_all);
        report.assert_ok();
        assert!(report.components.iter().all(|c| c.skipped.is_none()), "every kind must be fully checkable:\n{report}");
    }

    #[test]
    fn rendering_fills_every_placeholder() {
        for kind in [ScaffoldKind::Encoder, ScaffoldKind::Fusion, ScaffoldKind::Loss, ScaffoldKind::Sampler, ScaffoldKind::Metric] {
            let s = render("acme-x", kind, &default_plexus_plugin_path(), &default_libtorch()).unwrap();
            for (path, text) in &s.files {
                assert!(!text.contains("{{"), "{} ({kind:?}) keeps a placeholder:\n{text}", path.display());
            }
            let lib = &s.files.iter().find(|(p, _)| p.ends_with("src/lib.rs")).unwrap().1;
            assert!(lib.contains("(\"acme_x\""), "{lib}");
            assert!(s.lock.as_ref().is_some_and(|l| l.exists()));
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("acme-vision2").is_ok());
        assert!(validate_name("plexus-vision").unwrap_err().contains("reserved"));
        assert!(validate_name("Acme").unwrap_err().contains("lowercase"));
        assert!(validate_name("a b").is_err());
    }

    #[test]
    fn a_non_empty_folder_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let s = render("acme", ScaffoldKind::Loss, &default_plexus_plugin_path(), &default_libtorch()).unwrap();
        assert!(write(dir.path(), &s).unwrap_err().contains("not empty"));
    }
}
