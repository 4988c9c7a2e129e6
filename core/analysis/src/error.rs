//! Errors of the analysis crate. Every message names what it is about (a file, a
//! tensor, an argument) so a user can act on it without reading the code.
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a readable safetensors file: {msg}", path.display())]
    Format { path: PathBuf, msg: String },
    #[error("{}: missing tensor `{name}` (expected {expected}; the file has: {found})", path.display())]
    MissingTensor { path: PathBuf, name: String, expected: String, found: String },
    #[error("{}: tensor `{name}`: {msg}", path.display())]
    BadTensor { path: PathBuf, name: String, msg: String },
    /// Arguments that cannot be analysed: wrong shapes, too few rows, non-finite values.
    #[error("{0}")]
    Invalid(String),
    #[error("linear algebra failed in {what}: {msg}")]
    Linalg { what: String, msg: String },
    #[error("{}: cannot draw plot: {msg}", path.display())]
    Plot { path: PathBuf, msg: String },
}

impl Error {
    pub(crate) fn linalg(what: &str, e: impl std::fmt::Display) -> Self {
        Error::Linalg { what: what.to_string(), msg: e.to_string() }
    }
}
