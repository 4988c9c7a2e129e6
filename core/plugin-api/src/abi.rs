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

    fn get(&self, key: &str) -> Option<&str> {
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
    };
}

/// Builds the refusal message for a fingerprint mismatch.
pub fn mismatch_error(path: &str, host: &Fingerprint, plugin: &Fingerprint) -> Error {
    let rows: Vec<String> = host
        .diff(plugin)
        .into_iter()
        .map(|(k, h, p)| format!("  {k:<14} host: {h:<40} plugin: {p}"))
        .collect();
    Error::other(format!(
        "plugin {path} was built for a different ABI and was refused:\n{}\n  fix: rebuild the plugin with the host's toolchain and plexus-plugin version \
         (`cargo build --release` in the plugin's crate, with the same rustc and LIBTORCH as the host)",
        rows.join("\n")
    ))
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
        assert_eq!(keys, ["rustc", "plexus-plugin", "tch", "torch", "target"]);
        assert!(fp.fields.iter().all(|(_, v)| !v.is_empty() && v != "unknown"), "{fp}");
    }
}
