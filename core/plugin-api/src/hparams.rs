//! Typed configuration. A component declares a config struct; the host hands it the
//! YAML section (as [`Hparams`]) and the registrar parses and validates it.
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use crate::{suggest, Error, Result};

/// A component config: `Default` supplies every default, `Serialize` lets the host list
/// the fields. Use `#[serde(default, deny_unknown_fields)]` on the struct.
pub trait Config: DeserializeOwned + Serialize + Default + 'static {}
impl<T: DeserializeOwned + Serialize + Default + 'static> Config for T {}

/// A config section as given by the user, with where it came from
/// (e.g. `experiments/clip_fashion.yaml: model.image`) so errors can point at it.
#[derive(Debug, Clone)]
pub struct Hparams {
    pub value: Value,
    pub origin: String,
}

impl Hparams {
    pub fn new(value: Value, origin: impl Into<String>) -> Self {
        Self { value, origin: origin.into() }
    }

    /// Parses into `C`, rejecting unknown keys (with a suggestion) and naming the key
    /// of any type error.
    pub fn parse<C: Config>(&self) -> Result<C> {
        let value = match &self.value {
            Value::Null => Value::Object(Default::default()),
            v => v.clone(),
        };
        let defaults = serde_json::to_value(C::default()).map_err(|e| Error::other(e.to_string()))?;
        check_known_keys(&value, &defaults, "", &self.origin)?;
        serde_path_to_error::deserialize(value).map_err(|e| {
            let key = e.path().to_string();
            Error::Config { origin: self.origin.clone(), key, message: e.into_inner().to_string() }
        })
    }
}

/// Fields and defaults of a config type, for listings.
pub fn defaults_of<C: Config>() -> Value {
    serde_json::to_value(C::default()).unwrap_or(Value::Null)
}

fn check_known_keys(given: &Value, defaults: &Value, prefix: &str, origin: &str) -> Result<()> {
    let (Value::Object(given), Value::Object(known)) = (given, defaults) else { return Ok(()) };
    for (key, value) in given {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match known.get(key) {
            Some(default) => check_known_keys(value, default, &path, origin)?,
            None => {
                let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
                names.sort_unstable();
                return Err(Error::Config {
                    origin: origin.to_string(),
                    key: path,
                    message: format!(
                        "unknown key{}; known keys: {}",
                        suggest::did_you_mean(key, names.iter().copied()),
                        names.join(", ")
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        width: i64,
        dropout: f64,
    }
    impl Default for Demo {
        fn default() -> Self {
            Demo { width: 64, dropout: 0.1 }
        }
    }

    #[test]
    fn fills_defaults_and_accepts_ints_for_floats() {
        let hp = Hparams::new(serde_json::json!({"dropout": 0}), "x.yaml: model");
        assert_eq!(hp.parse::<Demo>().unwrap(), Demo { width: 64, dropout: 0.0 });
    }

    #[test]
    fn unknown_key_is_named_with_suggestion() {
        let hp = Hparams::new(serde_json::json!({"widht": 3}), "x.yaml: model.image");
        let err = hp.parse::<Demo>().unwrap_err().to_string();
        assert!(err.contains("x.yaml: model.image: widht"), "{err}");
        assert!(err.contains("did you mean `width`"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let hp = Hparams::new(serde_json::json!({"width": "wide"}), "x.yaml: model.image");
        let err = hp.parse::<Demo>().unwrap_err().to_string();
        assert!(err.contains("model.image: width"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }
}
