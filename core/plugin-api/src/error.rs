use thiserror::Error;

/// Errors a component returns to the host. Messages are written for researchers:
/// they name the component, the config key or the tensor, and say what to change.
#[derive(Debug, Error)]
pub enum Error {
    /// A config value is missing, unknown or of the wrong type.
    #[error("{origin}: {key}: {message}")]
    Config { origin: String, key: String, message: String },
    /// A tensor has the wrong shape, dtype or device.
    #[error("shape error: {0}")]
    Shape(String),
    /// A required named input is absent.
    #[error("missing input `{name}` (available: {available})")]
    MissingInput { name: String, available: String },
    /// Plugin code panicked; the guard caught it inside the plugin.
    #[error("plugin `{plugin}` component `{component}` ({kind}) panicked in {method}: {message}")]
    Panic { plugin: String, component: String, kind: String, method: String, message: String },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Anything else, with a readable message.
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn other(message: impl Into<String>) -> Self {
        Error::Other(message.into())
    }
    pub fn shape(message: impl Into<String>) -> Self {
        Error::Shape(message.into())
    }
}
