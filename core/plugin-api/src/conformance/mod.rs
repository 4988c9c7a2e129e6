//! The conformance kit (cargo feature `conformance`): the checks every component must
//! pass, the same ones the built-in plugins' tests and `plexus plugins --check` run.
//!
//! Two ways in:
//! - [`check_declaration`] / [`check_register`]: register a whole plugin and check every
//!   component with its **default config**, deriving inputs where it can (see
//!   [`check_component`]). This is exactly what `plexus plugins --check DIR` does.
//! - [`encoder`], [`fusion`], [`loss`], [`sampler`], [`metric`], [`tokenizer`], [`masking`],
//!   [`module()`]: check one
//!   component on inputs you choose, e.g. with a small config.
//!
//! Each returns a [`Report`]; call [`Report::assert_ok`] in a `#[test]`.
//!
//! The kit catches panics itself, so it can run unguarded components (a struct you built
//! directly) as well as guarded ones (from a registrar or a loaded library): either way, a
//! panic is reported as a failure, because in the host it would abort the call with an
//! error instead of a result.
mod checks;
mod inputs;
mod masking;
mod module;

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

pub use checks::{encoder, fusion, loss, metric, sampler, tokenizer};
pub use inputs::{check_component, evaluation_inputs, example_input, loss_input_sets, training_inputs};
pub use masking::masking;
pub use module::module;

use crate::abi::{self, Fingerprint, PluginDeclaration};
use crate::{ComponentInfo, Error, Factory, Kind, Registrar, Result};

/// One failed check.
#[derive(Debug, Clone)]
pub struct Failure {
    pub check: String,
    pub message: String,
}

/// The outcome of checking one component.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: Kind,
    pub component: String,
    /// Names of the checks that passed.
    pub passed: Vec<String>,
    pub failures: Vec<Failure>,
    /// Why the component was not (fully) checked, e.g. no input shape could be derived
    /// from its config. A skip is not a failure.
    pub skipped: Option<String>,
}

impl Report {
    pub(crate) fn new(kind: Kind, component: &str) -> Self {
        Self { kind, component: component.to_string(), passed: Vec::new(), failures: Vec::new(), skipped: None }
    }

    pub fn is_ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// Panics with every failure listed (for tests).
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.is_ok(), "conformance failures:\n{self}");
    }

    /// Runs one named check. `f` returns the value later checks need, or a message.
    /// A panic inside `f` (the component's or the check's own) becomes a failure.
    pub(crate) fn step<T>(&mut self, check: &str, f: impl FnOnce() -> std::result::Result<T, String>) -> Option<T> {
        let outcome = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(format!("panicked: {}", payload_message(&*p))));
        match outcome {
            Ok(v) => {
                self.passed.push(check.to_string());
                Some(v)
            }
            Err(message) => {
                self.failures.push(Failure { check: check.to_string(), message });
                None
            }
        }
    }

    pub(crate) fn skip(mut self, reason: impl Into<String>) -> Self {
        self.skipped = Some(reason.into());
        self
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.passed.len() + self.failures.len();
        write!(f, "{} `{}`: ", self.kind, self.component)?;
        match (&self.skipped, self.failures.len()) {
            (Some(why), 0) => write!(f, "not fully checked ({total} checks passed): {why}")?,
            (_, 0) => write!(f, "ok ({total} checks)")?,
            (_, n) => write!(f, "{n} of {total} checks FAILED")?,
        }
        for failure in &self.failures {
            write!(f, "\n  FAILED {}: {}", failure.check, failure.message)?;
        }
        Ok(())
    }
}

/// The outcome of checking every component of one plugin.
#[derive(Debug, Clone)]
pub struct PluginReport {
    pub plugin: String,
    pub fingerprint: String,
    /// Set when the plugin could not be registered at all.
    pub error: Option<String>,
    pub components: Vec<Report>,
}

impl PluginReport {
    pub fn is_ok(&self) -> bool {
        self.error.is_none() && self.components.iter().all(Report::is_ok)
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.is_ok(), "conformance failures in plugin `{}`:\n{self}", self.plugin);
    }
}

impl fmt::Display for PluginReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  fingerprint {}", self.plugin, self.fingerprint)?;
        if let Some(e) = &self.error {
            write!(f, "\n  ERROR {e}")?;
        }
        for c in &self.components {
            write!(f, "\n  {}", c.to_string().replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

/// Checks every component a plugin registers, with default configs, going through its
/// exported declaration as the host does. In an author's test:
/// `check_declaration(&my_plugin::plexus_plugin_declaration).assert_ok()`.
pub fn check_declaration(declaration: &PluginDeclaration) -> PluginReport {
    // SAFETY: `export_plugin!` fills these with 'static NUL-terminated strings.
    let (name, fingerprint) = unsafe { (PluginDeclaration::read(declaration.name), PluginDeclaration::read(declaration.fingerprint)) };
    let mut report = PluginReport { plugin: name.clone(), fingerprint: fingerprint.clone(), error: None, components: Vec::new() };
    let diff = Fingerprint::current().diff(&Fingerprint::parse(&fingerprint));
    if declaration.magic != abi::MAGIC || declaration.abi_version != abi::ABI_VERSION || !diff.is_empty() {
        report.error = Some(format!("declaration does not match this plexus-plugin (differing fields: {diff:?})"));
        return report;
    }
    let mut registrar = Registrar::new(&name, tracing::dispatcher::get_default(|d| d.clone()));
    // Registration installs the guard's panic hook, which records panics silently; put
    // the previous hook back so a failing test still prints its message.
    let previous_hook = std::panic::take_hook();
    // SAFETY: same crate, same build: the registrar layout is the plugin's.
    let registered = unsafe { (declaration.register)(&mut registrar) };
    std::panic::set_hook(previous_hook);
    if !registered {
        report.error = Some("register failed (see the log)".into());
        return report;
    }
    report.components = check_entries(&registrar.into_entries());
    report
}

/// Like [`check_declaration`], for a `register` function you call directly.
pub fn check_register(plugin: &str, register: fn(&mut Registrar) -> Result<()>) -> PluginReport {
    let mut registrar = Registrar::new(plugin, tracing::dispatcher::get_default(|d| d.clone()));
    let mut report =
        PluginReport { plugin: plugin.to_string(), fingerprint: Fingerprint::current().to_string(), error: None, components: Vec::new() };
    match catch_unwind(AssertUnwindSafe(|| register(&mut registrar))) {
        Ok(Ok(())) => report.components = check_entries(&registrar.into_entries()),
        Ok(Err(e)) => report.error = Some(format!("register failed: {e}")),
        Err(p) => report.error = Some(format!("register panicked: {}", payload_message(&*p))),
    }
    report
}

/// Checks registered components with their default configs.
pub fn check_entries(entries: &[(ComponentInfo, Factory)]) -> Vec<Report> {
    entries.iter().map(|(info, factory)| check_component(info, factory)).collect()
}

/// How a call into a component ended. A guard's [`Error::Panic`] counts as a panic.
pub(crate) enum Called<T> {
    Ok(T),
    Err(Error),
    Panicked(String),
}

pub(crate) fn call<T>(f: impl FnOnce() -> Result<T>) -> Called<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Called::Ok(v),
        Ok(Err(Error::Panic { method, message, .. })) => Called::Panicked(format!("{message} (in {method})")),
        Ok(Err(e)) => Called::Err(e),
        Err(p) => Called::Panicked(payload_message(&*p)),
    }
}

impl<T> Called<T> {
    /// The value, or a failure message.
    pub(crate) fn ok(self) -> std::result::Result<T, String> {
        match self {
            Called::Ok(v) => Ok(v),
            Called::Err(e) => Err(format!("returned an error: {e}")),
            Called::Panicked(m) => Err(format!("panicked (must return an error instead): {m}")),
        }
    }

    /// Passes when the call returned an error; `what` describes the bad input.
    pub(crate) fn must_fail(self, what: &str) -> std::result::Result<(), String> {
        match self {
            Called::Err(_) => Ok(()),
            Called::Ok(_) => Err(format!("accepted {what}; expected an error")),
            Called::Panicked(m) => Err(format!("panicked on {what} instead of returning an error: {m}")),
        }
    }
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

#[cfg(test)]
mod tests;
