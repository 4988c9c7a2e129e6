use thiserror::Error;

/// Host errors. Each message names the file, line or key it is about and, where there
/// is one, the fix.
#[derive(Debug, Error)]
pub enum Error {
    #[error("{file}:{line}:{column}: YAML syntax error: {message}")]
    Yaml { file: String, line: usize, column: usize, message: String },
    #[error("{file}: {key}: {message}")]
    Config { file: String, key: String, message: String },
    #[error("override `{assignment}`: {message}")]
    Override { assignment: String, message: String },
    #[error("{0}")]
    Plugin(String),
    #[error("{0}")]
    Data(String),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Component(#[from] plexus_plugin::Error),
    #[error("{0}")]
    Script(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
}
