//! The registrar a plugin fills in when the host loads it.
use std::fmt;
use tch::nn;

use crate::guard::{self, Guarded, GuardedEncoder, GuardedFusion, GuardedTokenizer, Who};
use crate::hparams::defaults_of;
use crate::{Config, Encoder, Fusion, Hparams, Loss, Masking, Metric, Module, Result, Sampler, Tokenizer};

/// The kinds of component a plugin can register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Encoder,
    Fusion,
    Loss,
    Sampler,
    Metric,
    Tokenizer,
    Masking,
    Module,
}

impl Kind {
    pub const ALL: [Kind; 8] =
        [Kind::Encoder, Kind::Fusion, Kind::Loss, Kind::Sampler, Kind::Metric, Kind::Tokenizer, Kind::Masking, Kind::Module];
    pub fn name(self) -> &'static str {
        match self {
            Kind::Encoder => "encoder",
            Kind::Fusion => "fusion",
            Kind::Loss => "loss",
            Kind::Sampler => "sampler",
            Kind::Metric => "metric",
            Kind::Tokenizer => "tokenizer",
            Kind::Masking => "masking",
            Kind::Module => "module",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the host shows about a component: its kind, name, doc line and config defaults.
#[derive(Debug, Clone)]
pub struct ComponentInfo {
    pub kind: Kind,
    pub name: String,
    pub doc: String,
    /// The config struct's `Default`, serialised: every field with its default value.
    pub defaults: serde_json::Value,
}

type Build<T> = Box<dyn Fn(&nn::Path, &Hparams) -> Result<Box<T>>>;

/// A constructor for one component. Calling it runs plugin code under a guard.
pub enum Factory {
    Encoder(Build<dyn Encoder>),
    Fusion(Build<dyn Fusion>),
    Loss(Build<dyn Loss>),
    Sampler(Build<dyn Sampler>),
    Metric(Build<dyn Metric>),
    Tokenizer(Build<dyn Tokenizer>),
    Masking(Build<dyn Masking>),
    Module(Build<dyn Module>),
}

/// Collects a plugin's components. Created by the host, filled by the plugin's
/// `register` function.
pub struct Registrar {
    plugin: String,
    dispatch: tracing::Dispatch,
    entries: Vec<(ComponentInfo, Factory)>,
}

macro_rules! registration {
    ($(#[$doc:meta])* $method:ident, $Trait:ident, $Guard:ident, $Kind:ident) => {
        $(#[$doc])*
        pub fn $method<C, T, F>(&mut self, name: &str, doc: &str, build: F) -> &mut Self
        where
            C: Config,
            T: $Trait + 'static,
            F: Fn(&nn::Path, &C) -> Result<T> + 'static,
        {
            let who = Who { plugin: self.plugin.clone(), component: name.to_string(), kind: Kind::$Kind };
            let factory = move |path: &nn::Path, hp: &Hparams| -> Result<Box<dyn $Trait>> {
                guard::call(&who, "new", || {
                    let component = build(path, &hp.parse::<C>()?)?;
                    Ok(Box::new($Guard::new(component, who.clone())?) as Box<dyn $Trait>)
                })
            };
            let info = ComponentInfo {
                kind: Kind::$Kind,
                name: name.to_string(),
                doc: doc.to_string(),
                defaults: defaults_of::<C>(),
            };
            self.entries.push((info, Factory::$Kind(Box::new(factory))));
            self
        }
    };
}

impl Registrar {
    /// Used by the host: `plugin` names the plugin in error messages.
    pub fn new(plugin: &str, dispatch: tracing::Dispatch) -> Self {
        Self { plugin: plugin.to_string(), dispatch, entries: Vec::new() }
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    pub(crate) fn dispatch(&self) -> &tracing::Dispatch {
        &self.dispatch
    }

    /// Used by the host after registration.
    pub fn into_entries(self) -> Vec<(ComponentInfo, Factory)> {
        self.entries
    }

    registration!(
        /// Registers an [`Encoder`] built from config `C` on the host's parameter path.
        encoder, Encoder, GuardedEncoder, Encoder
    );
    registration!(
        /// Registers a [`Fusion`].
        fusion, Fusion, GuardedFusion, Fusion
    );
    registration!(
        /// Registers a [`Loss`]; it may create parameters under the given path.
        loss, Loss, Guarded, Loss
    );
    registration!(
        /// Registers a [`Sampler`] (the path is unused).
        sampler, Sampler, Guarded, Sampler
    );
    registration!(
        /// Registers a [`Metric`] (the path is unused).
        metric, Metric, Guarded, Metric
    );
    registration!(
        /// Registers a [`Tokenizer`] (the path is unused).
        tokenizer, Tokenizer, GuardedTokenizer, Tokenizer
    );
    registration!(
        /// Registers a [`Masking`] schedule (the path is unused).
        masking, Masking, Guarded, Masking
    );
    registration!(
        /// Registers a generic [`Module`] (named tensors in, named tensors out).
        module, Module, Guarded, Module
    );
}
