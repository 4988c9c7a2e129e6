//! Opening plugin libraries. A library is never unloaded: thread-local destructors
//! registered by its code would crash at exit (so each `Library` is leaked on purpose).
use std::path::{Path, PathBuf};

use plexus_plugin::abi::{self, Fingerprint, PluginDeclaration};
use plexus_plugin::Registrar;

use super::{PluginRecord, Registry};
use crate::error::{Error, Result};

pub enum LoadOutcome {
    Loaded,
    /// A shared library without our declaration symbol.
    NotAPlugin,
    /// A plugin of the same name was already loaded from an earlier folder.
    Duplicate,
}

/// `PLEXUS_PLUGIN_PATH` (colon-separated), then `extra`, then the executable's folder
/// (where cargo puts the built-in plugins next to the `plexus` binary).
pub fn default_search_path(extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PLEXUS_PLUGIN_PATH")
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    dirs.extend(extra.iter().cloned());
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        // Test binaries live in target/<profile>/deps; the plugins one level up.
        if exe_dir.ends_with("deps") {
            dirs.extend(exe_dir.parent().map(Path::to_path_buf));
        } else {
            dirs.push(exe_dir);
        }
    }
    let mut unique = Vec::new();
    for d in dirs {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique
}

/// `*.so` files directly inside each folder, sorted per folder for a stable order.
pub fn candidate_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            tracing::debug!("plugin folder {} is not readable; skipped", dir.display());
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == std::env::consts::DLL_EXTENSION))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// Opens `path`, checks its declaration and fingerprint, and registers its components.
pub fn load(path: &Path, registry: &mut Registry) -> Result<LoadOutcome> {
    let shown = path.display().to_string();
    // SAFETY: loading runs the library's initialisers; we only load files from plugin folders.
    let library = unsafe { libloading::Library::new(path) }
        .map_err(|e| Error::Plugin(format!("plugin {shown} could not be opened: {e}")))?;
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the symbol, when present, is a `PluginDeclaration` static (checked by magic).
    let declaration: &PluginDeclaration = match unsafe { library.get::<*const PluginDeclaration>(abi::DECLARATION_SYMBOL) } {
        Ok(symbol) => unsafe { &**symbol },
        Err(_) => return Ok(LoadOutcome::NotAPlugin),
    };
    if declaration.magic != abi::MAGIC {
        return Err(Error::Plugin(format!("{shown} exports `plexus_plugin_declaration` but not a plexus declaration")));
    }
    if declaration.abi_version != abi::ABI_VERSION {
        return Err(Error::Plugin(format!(
            "plugin {shown} uses declaration layout v{} but this host reads v{}; rebuild it against this plexus-plugin",
            declaration.abi_version,
            abi::ABI_VERSION
        )));
    }
    // SAFETY: the declaration's strings are 'static NUL-terminated (ABI v1).
    let (name, version, fingerprint) = unsafe {
        (
            PluginDeclaration::read(declaration.name),
            PluginDeclaration::read(declaration.version),
            PluginDeclaration::read(declaration.fingerprint),
        )
    };
    let host = Fingerprint::current();
    let theirs = Fingerprint::parse(&fingerprint);
    if host != theirs {
        let rebuild = abi::rebuild_command(build_info(library).as_deref(), &name, path);
        return Err(abi::mismatch_error(&format!("`{name}` ({shown})"), &host, &theirs, &rebuild).into());
    }
    if registry.plugins.iter().any(|p| p.name == name) {
        tracing::debug!("plugin `{name}` at {shown} skipped: already loaded from an earlier folder");
        return Ok(LoadOutcome::Duplicate);
    }
    let mut registrar = Registrar::new(&name, tracing::dispatcher::get_default(|d| d.clone()));
    // SAFETY: fingerprints match, so the registrar's layout is the plugin's.
    if !unsafe { (declaration.register)(&mut registrar) } {
        return Err(Error::Plugin(format!("plugin `{name}` ({shown}) failed to register its components (see the log above)")));
    }
    let record = PluginRecord { name, version, path: path.to_path_buf(), fingerprint, components: Vec::new() };
    registry.add(record, registrar.into_entries());
    Ok(LoadOutcome::Loaded)
}

/// The plugin's optional build info (where its crate is), for the rebuild command.
fn build_info(library: &libloading::Library) -> Option<String> {
    // SAFETY: when present, the symbol is a `BuildInfo` static pointing at a 'static
    // NUL-terminated string (exported by `export_plugin!` next to the declaration).
    unsafe {
        let symbol = library.get::<*const abi::BuildInfo>(abi::BUILD_INFO_SYMBOL).ok()?;
        Some(PluginDeclaration::read((**symbol).text))
    }
}
