//! The binary contract between the host and a plugin library.
//!
//! Rust has no stable ABI: trait objects, `Tensor` and `String` cross the boundary only
//! when both sides were built by the same rustc against the same crates. The host
//! therefore reads a `#[repr(C)]` declaration first and compares its [`Fingerprint`]
//! before it calls anything else.
use std::ffi::{c_char, CStr};
use std::fmt;

use crate::{Error, Registrar, Result};

/// Symbol every plugin exports (see [`export_plugin!`](crate::export_plugin)).
pub const DECLARATION_SYMBOL: &[u8] = b"plexus_plugin_declaration\0";
/// First bytes of a declaration: guards against a symbol of that name that is not ours.
pub const MAGIC: [u8; 8] = *b"PLEXUS\0\x01";
/// Layout version of [`PluginDeclaration`] itself.
pub const ABI_VERSION: u32 = 1;

/// This build's fingerprint, NUL-terminated for the C declaration.
pub const FINGERPRINT_CSTR: &str = concat!(
    "rustc=",
    env!("PLEXUS_RUSTC_VERSION"),
    ";plexus-plugin=",
    env!("CARGO_PKG_VERSION"),
    ";tch=0.24.0",
    ";torch=",
    env!("PLEXUS_TORCH_VERSION"),
    ";target=",
    env!("PLEXUS_TARGET"),
    ";api=",
    env!("PLEXUS_API_HASH"),
    "\0"
);

/// What a plugin library exports under [`DECLARATION_SYMBOL`]. Its layout must never
/// change without bumping [`ABI_VERSION`].
#[repr(C)]
pub struct PluginDeclaration {
    pub magic: [u8; 8],
    pub abi_version: u32,
    /// NUL-terminated `key=value;...` fingerprint.
    pub fingerprint: *const c_char,
    /// NUL-terminated crate name and version of the plugin.
    pub name: *const c_char,
    pub version: *const c_char,
    /// Fills the registrar. Only called after the fingerprint matched.
    pub register: unsafe extern "C" fn(*mut Registrar) -> bool,
}

// The pointers reference 'static NUL-terminated strings.
unsafe impl Sync for PluginDeclaration {}

impl PluginDeclaration {
    /// # Safety
    /// `p` must be one of this declaration's NUL-terminated string pointers.
    pub unsafe fn read(p: *const c_char) -> String {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// The facts that must be equal on both sides of the boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub fields: Vec<(String, String)>,
}

impl Fingerprint {
    /// The fingerprint this crate was compiled with.
    pub fn current() -> Self {
        Self::parse(FINGERPRINT_CSTR.trim_end_matches('\0'))
    }

    pub fn parse(text: &str) -> Self {
        let fields = text
            .split(';')
            .filter(|f| !f.is_empty())
            .map(|f| match f.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (f.to_string(), String::new()),
            })
            .collect();
        Self { fields }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `(field, host value, plugin value)` for every field that differs.
    pub fn diff(&self, plugin: &Fingerprint) -> Vec<(String, String, String)> {
        let mut keys: Vec<&str> = self.fields.iter().map(|(k, _)| k.as_str()).collect();
        for (k, _) in &plugin.fields {
            if !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
        keys.into_iter()
            .filter_map(|k| {
                let (host, theirs) = (self.get(k), plugin.get(k));
                (host != theirs).then(|| {
                    (k.to_string(), host.unwrap_or("(absent)").to_string(), theirs.unwrap_or("(absent)").to_string())
                })
            })
            .collect()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(";"))
    }
}

/// Runs a plugin's `register` function inside the plugin: routes its tracing to the
/// host's subscriber, installs the panic hook, and catches a panicking `register`.
/// Called by the code [`export_plugin!`](crate::export_plugin) generates.
pub fn run_registration(registrar: &mut Registrar, register: fn(&mut Registrar) -> Result<()>) -> bool {
    // The plugin has its own copy of tracing's statics: without this its logs go nowhere.
    let _ = tracing::dispatcher::set_global_default(registrar.dispatch().clone());
    tracing::callsite::rebuild_interest_cache();
    crate::guard::install_panic_hook();
    let who = crate::guard::Who {
        plugin: registrar.plugin().to_string(),
        component: "(registration)".into(),
        kind: crate::Kind::Encoder,
    };
    match crate::guard::call(&who, "register", || register(registrar)) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("plugin `{}` failed to register: {e}", registrar.plugin());
            false
        }
    }
}

/// Exports a plugin. `$register` is `fn(&mut Registrar) -> plexus_plugin::Result<()>`.
#[macro_export]
macro_rules! export_plugin {
    ($register:path) => {
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static plexus_plugin_declaration: $crate::abi::PluginDeclaration = $crate::abi::PluginDeclaration {
            magic: $crate::abi::MAGIC,
            abi_version: $crate::abi::ABI_VERSION,
            fingerprint: $crate::abi::FINGERPRINT_CSTR.as_ptr() as *const ::std::ffi::c_char,
            name: concat!(env!("CARGO_PKG_NAME"), "\0").as_ptr() as *const ::std::ffi::c_char,
            version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const ::std::ffi::c_char,
            register: {
                unsafe extern "C" fn __plexus_register(registrar: *mut $crate::Registrar) -> bool {
                    // SAFETY: the host passes a valid, exclusive registrar pointer.
                    $crate::abi::run_registration(unsafe { &mut *registrar }, $register)
                }
                __plexus_register
            },
        };
        $crate::__export_build_info!();
    };
}

/// Builds the refusal message for a fingerprint mismatch: only the differing fields, a
/// hint per field, and `rebuild` (see [`rebuild_command`]).
pub fn mismatch_error(path: &str, host: &Fingerprint, plugin: &Fingerprint, rebuild: &str) -> Error {
    let diff = host.diff(plugin);
    let rows: Vec<String> = diff.iter().map(|(k, h, p)| format!("  {k:<14} host: {h:<40} plugin: {p}")).collect();
    let hints: Vec<String> = diff.iter().filter_map(|(k, h, _)| field_hint(k, h)).map(|h| format!("  - {h}")).collect();
    Error::other(format!(
        "plugin {path} was built for a different ABI and was refused:\n{}\n  fix: rebuild it the way this host was built:\n{}\n  then: {rebuild}",
        rows.join("\n"),
        hints.join("\n")
    ))
}

/// What to change in the plugin's build for one differing fingerprint field.
fn field_hint(field: &str, host: &str) -> Option<String> {
    Some(match field {
        "rustc" => format!("build with rustc {host} (e.g. a rust-toolchain.toml with channel = \"{}\")", host.split(' ').next().unwrap_or(host)),
        "plexus-plugin" | "tch" => format!("depend on plexus-plugin ={} (it pins tch)", env!("CARGO_PKG_VERSION")),
        "torch" => format!("set LIBTORCH to a libtorch {host} (the host's; see the plugin's .cargo/config.toml)"),
        "target" => format!("build for target {host}"),
        "api" => "rebuild it against the host's plexus-plugin sources: the plugin API changed since it was built".to_string(),
        _ => return None,
    })
}

/// Symbol under which [`export_plugin!`](crate::export_plugin) also exports where the
/// plugin was built, so a refusal can print the exact rebuild command. Optional: plugins
/// from before it existed lack it.
pub const BUILD_INFO_SYMBOL: &[u8] = b"plexus_plugin_build_info\0";

/// `manifest_dir=...;package=...;profile=debug|release`, NUL-terminated.
#[repr(C)]
pub struct BuildInfo {
    pub text: *const c_char,
}

// The pointer references a 'static NUL-terminated string.
unsafe impl Sync for BuildInfo {}

/// The command that rebuilds the plugin in `library`, from its build info when it has one
/// (`cd <crate> && cargo build [--release]`), else inferred from a `<crate>/target/<profile>/`
/// location, else a generic instruction. `cd` matters: the crate's `.cargo/config.toml`
/// (which sets LIBTORCH) is only read when cargo runs inside the crate.
pub fn rebuild_command(build_info: Option<&str>, package: &str, library: &std::path::Path) -> String {
    let info = build_info.map(Fingerprint::parse);
    let get = |k: &str| info.as_ref().and_then(|i| i.get(k).map(str::to_string));
    if let Some(dir) = get("manifest_dir") {
        let release = if get("profile").as_deref() == Some("release") { " --release" } else { "" };
        return format!("cd {dir} && cargo build{release}");
    }
    let parts: Vec<&std::path::Path> = library.ancestors().collect();
    for (i, dir) in parts.iter().enumerate() {
        let Some(krate) = dir.parent().filter(|_| dir.file_name().is_some_and(|n| n == "target")) else { continue };
        if krate.join("Cargo.toml").exists() {
            let profile = i.checked_sub(1).and_then(|j| parts[j].file_name()).and_then(|n| n.to_str()).unwrap_or("debug");
            let release = if profile == "release" { " --release" } else { "" };
            return format!("cd {} && cargo build{release} -p {package}", krate.display());
        }
    }
    format!("run `cargo build --release` in the source folder of `{package}` (its Cargo.toml), then reinstall {}", library.display())
}

/// Exports the build info of the crate invoking [`export_plugin!`](crate::export_plugin).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_build_info {
    () => {
        #[no_mangle]
        #[allow(non_upper_case_globals)]
        pub static plexus_plugin_build_info: $crate::abi::BuildInfo = $crate::abi::BuildInfo {
            text: if cfg!(debug_assertions) {
                concat!("manifest_dir=", env!("CARGO_MANIFEST_DIR"), ";package=", env!("CARGO_PKG_NAME"), ";profile=debug\0")
            } else {
                concat!("manifest_dir=", env!("CARGO_MANIFEST_DIR"), ";package=", env!("CARGO_PKG_NAME"), ";profile=release\0")
            }
            .as_ptr() as *const ::std::ffi::c_char,
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn diff_lists_only_differing_fields() {
        let a = Fingerprint::parse("rustc=1.95.0;plexus-plugin=0.1.0;tch=0.24.0");
        let b = Fingerprint::parse("rustc=1.94.0;plexus-plugin=0.1.0;tch=0.24.0;extra=1");
        let d = a.diff(&b);
        assert_eq!(d, vec![
            ("rustc".into(), "1.95.0".into(), "1.94.0".into()),
            ("extra".into(), "(absent)".into(), "1".into())
        ]);
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn current_fingerprint_names_every_field() {
        let fp = Fingerprint::current();
        let keys: Vec<&str> = fp.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["rustc", "plexus-plugin", "tch", "torch", "target", "api"]);
        assert!(fp.fields.iter().all(|(_, v)| !v.is_empty() && v != "unknown"), "{fp}");
    }

    #[test]
    fn rebuild_command_comes_from_build_info_or_the_library_location() {
        let lib = std::path::Path::new("/nowhere/lib/libx.so");
        let info = "manifest_dir=/src/acme;package=acme;profile=release";
        assert_eq!(rebuild_command(Some(info), "acme", lib), "cd /src/acme && cargo build --release");
        assert!(rebuild_command(None, "acme", lib).contains("`cargo build --release` in the source folder of `acme`"));
        // A library still in its crate's target folder.
        let krate = env!("CARGO_MANIFEST_DIR");
        let lib = std::path::PathBuf::from(krate).join("target/release/libacme.so");
        assert_eq!(rebuild_command(None, "acme", &lib), format!("cd {krate} && cargo build --release -p acme"));
    }

    #[test]
    fn refusal_lists_fields_hints_and_the_command() {
        let host = Fingerprint::parse("rustc=1.95.0;plexus-plugin=0.1.0;torch=2.11.0");
        let old = Fingerprint::parse("rustc=1.95.0;plexus-plugin=0.0.9;torch=2.11.0");
        let msg = mismatch_error("`acme`", &host, &old, "cd /src/acme && cargo build").to_string();
        assert!(msg.contains("plexus-plugin  host: 0.1.0"), "{msg}");
        assert!(!msg.contains("rustc "), "only differing fields: {msg}");
        assert!(msg.contains("depend on plexus-plugin =") && msg.matches("host:").count() == 1 && msg.ends_with("then: cd /src/acme && cargo build"), "{msg}");
    }
}
