//! Panic guards. They are generic, so they are compiled into the plugin and catch with
//! the plugin's own copy of std: a panic that unwinds into the host aborts the process
//! ("Rust cannot catch foreign exceptions"), whatever the host does.
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tch::Tensor;

use crate::{
    Encoder, Error, Fusion, Kind, Loss, LossOutput, Masking, MaskingContext, Metric, Modality, ModalityFeatures, Module, Presence, Result,
    Sampler, SamplerContext, Scores, TensorMap, Tokenizer,
};

thread_local! {
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (in the plugin's std) a hook that records where a panic happened instead of
/// printing it; the guard puts the location into the returned error.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::debug!(?location, "plugin panic caught by guard");
        LAST_PANIC_LOCATION.with(|slot| *slot.borrow_mut() = location);
    }));
}

/// Who is being called, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub plugin: String,
    pub component: String,
    pub kind: Kind,
}

/// Runs `f`, turning a panic into [`Error::Panic`].
pub(crate) fn call<R>(who: &Who, method: &str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let mut message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        if let Some(loc) = LAST_PANIC_LOCATION.with(|slot| slot.borrow_mut().take()) {
            message = format!("{message} (at {loc})");
        }
        Err(Error::Panic {
            plugin: who.plugin.clone(),
            component: who.component.clone(),
            kind: who.kind.to_string(),
            method: method.to_string(),
            message,
        })
    })
}

pub(crate) struct GuardedEncoder<T> {
    inner: T,
    who: Who,
    modality: Modality,
    output_dim: i64,
}

impl<T: Encoder> GuardedEncoder<T> {
    pub fn new(inner: T, who: Who) -> Result<Self> {
        let (modality, output_dim) = call(&who, "modality", || Ok((inner.modality(), inner.output_dim())))?;
        Ok(Self { inner, who, modality, output_dim })
    }
}

impl<T: Encoder> Encoder for GuardedEncoder<T> {
    fn modality(&self) -> Modality {
        self.modality
    }
    fn output_dim(&self) -> i64 {
        self.output_dim
    }
    fn encode(&self, input: &Tensor, train: bool) -> Result<Tensor> {
        call(&self.who, "encode", || self.inner.encode(input, train))
    }
    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        // On a panic the trainer stays on one thread, as with `None`.
        let inner = match call(&self.who, "replica", || Ok(self.inner.replica())) {
            Ok(replica) => replica?,
            Err(e) => {
                tracing::warn!("{e}");
                return None;
            }
        };
        let guarded = GuardedEncoder { inner, who: self.who.clone(), modality: self.modality, output_dim: self.output_dim };
        Some(Box::new(guarded))
    }
}

pub(crate) struct GuardedFusion<T> {
    inner: T,
    who: Who,
    output_dim: i64,
}

impl<T: Fusion> GuardedFusion<T> {
    pub fn new(inner: T, who: Who) -> Result<Self> {
        let output_dim = call(&who, "output_dim", || Ok(inner.output_dim()))?;
        Ok(Self { inner, who, output_dim })
    }
}

impl<T: Fusion> Fusion for GuardedFusion<T> {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }
    fn fuse(&self, features: &ModalityFeatures, train: bool) -> Result<Tensor> {
        call(&self.who, "fuse", || self.inner.fuse(features, train))
    }
}

/// Guard for the traits whose methods all return `Result`.
pub(crate) struct Guarded<T> {
    inner: T,
    who: Who,
}

impl<T> Guarded<T> {
    pub fn new(inner: T, who: Who) -> Result<Self> {
        Ok(Self { inner, who })
    }
}

impl<T: Loss> Loss for Guarded<T> {
    fn compute(&self, inputs: &TensorMap, train: bool) -> Result<LossOutput> {
        call(&self.who, "compute", || self.inner.compute(inputs, train))
    }
}

impl<T: Sampler> Sampler for Guarded<T> {
    fn epoch_order(&self, ctx: &SamplerContext) -> Result<Vec<usize>> {
        let order = call(&self.who, "epoch_order", || self.inner.epoch_order(ctx))?;
        match order.iter().find(|&&i| i >= ctx.len) {
            Some(bad) => Err(Error::other(format!(
                "sampler `{}` returned index {bad} for a dataset of {} examples",
                self.who.component, ctx.len
            ))),
            None => Ok(order),
        }
    }
}

impl<T: Masking> Masking for Guarded<T> {
    fn mask(&self, ctx: &MaskingContext, presence: &Presence) -> Result<Presence> {
        call(&self.who, "mask", || self.inner.mask(ctx, presence))
    }
}

impl<T: Module> Module for Guarded<T> {
    fn forward(&self, inputs: &TensorMap, train: bool) -> Result<TensorMap> {
        call(&self.who, "forward", || self.inner.forward(inputs, train))
    }
    /// A panic here must not cross the boundary either; the kit then sees no inputs
    /// and reports the module as not fully checked.
    fn example_inputs(&self) -> Option<TensorMap> {
        call(&self.who, "example_inputs", || Ok(self.inner.example_inputs())).unwrap_or_else(|e| {
            tracing::error!("{e}");
            None
        })
    }
}

impl<T: Metric> Metric for Guarded<T> {
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        call(&self.who, "compute", || self.inner.compute(inputs))
    }
}

pub(crate) struct GuardedTokenizer<T> {
    inner: T,
    who: Who,
    vocab_size: i64,
}

impl<T: Tokenizer> GuardedTokenizer<T> {
    pub fn new(inner: T, who: Who) -> Result<Self> {
        let vocab_size = call(&who, "vocab_size", || Ok(inner.vocab_size()))?;
        Ok(Self { inner, who, vocab_size })
    }
}

impl<T: Tokenizer> Tokenizer for GuardedTokenizer<T> {
    fn fit(&mut self, corpus: &[String]) -> Result<()> {
        let inner = &mut self.inner;
        self.vocab_size = call(&self.who, "fit", || {
            inner.fit(corpus)?;
            Ok(inner.vocab_size())
        })?;
        Ok(())
    }
    fn vocab_size(&self) -> i64 {
        self.vocab_size
    }
    fn encode(&self, texts: &[String]) -> Result<Tensor> {
        call(&self.who, "encode", || self.inner.encode(texts))
    }
    fn state(&self) -> Result<serde_json::Value> {
        call(&self.who, "state", || self.inner.state())
    }
}
