//! Intra-step data parallelism on the CPU (`train.step_threads`).
//!
//! Small towers on a CPU spend much of a step in ops too short to split well across
//! cores (libtorch's intra-op threads scale 1.4–1.5× from one core to two on the default
//! CLIP model). Instead, the batch's rows are cut into one contiguous slice per thread;
//! each thread runs both towers forward on its slice through encoder replicas (same
//! parameter tensors), with one libtorch thread. The main thread joins the embeddings
//! as detached leaves `[b, D]`, runs fusion and loss on the whole batch (so in-batch
//! negatives are unchanged), and back-propagates to the leaves. Each thread then
//! back-propagates its slice's leaf gradients through its towers into gradients it
//! returns; the main thread adds them in slice order, so the result does not depend on
//! which thread finishes first.
//!
//! The towers must treat rows independently (LayerNorm, not BatchNorm): then the step
//! computes the same loss and gradients as one thread, up to float rounding.
use plexus_plugin::Encoder;
use tch::{Kind, Tensor};

use super::StepThreads;
use crate::error::{Error, Result};
use crate::model::DualEncoder;

/// `train.step_threads` for `model`: `auto` is libtorch's thread count on the CPU when
/// both towers replicate, else 1; an explicit count > 1 that cannot be honoured is an error.
pub(super) fn resolve_threads(asked: StepThreads, model: &DualEncoder) -> Result<usize> {
    let cpu = model.device == tch::Device::Cpu;
    match asked {
        StepThreads::Count(1) => Ok(1),
        StepThreads::Auto => {
            let threads = tch::get_num_threads().max(1) as usize;
            Ok(if cpu && threads > 1 && replicable(model) { threads } else { 1 })
        }
        StepThreads::Count(n) if !cpu => Err(Error::Other(format!("train.step_threads: {n} threads split CPU steps only; the model is on {:?} (use 1 or auto)", model.device))),
        StepThreads::Count(n) if !replicable(model) => Err(Error::Other(format!(
            "train.step_threads: {n} threads need encoders that give replicas (Encoder::replica), and the image or text encoder gives none (use 1 or auto)"
        ))),
        StepThreads::Count(n) => Ok(n),
    }
}

/// Whether both towers can run on other threads (both give replicas).
pub(super) fn replicable(model: &DualEncoder) -> bool {
    model.image.replica().is_some() && model.text.replica().is_some()
}

/// Contiguous `(start, len)` row slices: `parts` near-equal ones (fewer when `rows` is
/// smaller), larger ones first.
pub(super) fn row_slices(rows: i64, parts: usize) -> Vec<(i64, i64)> {
    let parts = (parts as i64).clamp(1, rows.max(1));
    let (base, extra) = (rows / parts, rows % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + i64::from(i < extra);
            let slice = (start, len);
            start += len;
            slice
        })
        .collect()
}

/// Holds the calling thread at one libtorch intra-op thread; the count it had comes back
/// on drop.
///
/// Why: after each parallel region, the caller's idle OpenMP workers busy-wait (libgomp
/// spins before sleeping) on cores the step threads need. Measured on 2 cores
/// (`make bench`'s `clip_train_step`): 8.7 steps/s with the caller at 2 threads, 10.0 at 1.
/// The caller's own share of a split step (loss on `[b, D]` embeddings, gradient sums,
/// optimiser) is small enough for one thread.
pub(super) struct OneIntraOpThread {
    restore: i32,
}

impl OneIntraOpThread {
    pub fn enter() -> Self {
        let restore = tch::get_num_threads();
        tch::set_num_threads(1);
        Self { restore }
    }
}

impl Drop for OneIntraOpThread {
    fn drop(&mut self) {
        tch::set_num_threads(self.restore);
    }
}

/// Runs `jobs` on one scoped thread each (one libtorch thread apiece); results in order.
fn on_threads<J: Send, R: Send>(
    jobs: Vec<J>,
    work: impl Fn(J) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let work = &work;
                scope.spawn(move || {
                    // Sets this thread's OpenMP/MKL pools to one thread; libtorch also stores
                    // 1 as the default for threads that start later, while threads already
                    // running (the caller's included) keep their own count.
                    tch::set_num_threads(1);
                    work(job)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Error::Other("a step thread panicked".into()))?
            })
            .collect()
    })
}

/// Per-slice tower outputs (with their autograd graphs) and the detached leaves the loss
/// sees.
pub(super) struct ShardedEmbeddings {
    /// `(image [b_i, D], text [b_i, D])` f32 per slice, still attached to the towers.
    towers: Vec<(Tensor, Tensor)>,
    /// Detached copies of `towers` that require grad: the loss's graph ends here.
    leaves: Vec<(Tensor, Tensor)>,
}

impl ShardedEmbeddings {
    /// `image`, `text` `[b, D]`: the leaves concatenated in slice order.
    pub fn joined(&self) -> (Tensor, Tensor) {
        let image: Vec<&Tensor> = self.leaves.iter().map(|(i, _)| i).collect();
        let text: Vec<&Tensor> = self.leaves.iter().map(|(_, t)| t).collect();
        (Tensor::cat(&image, 0), Tensor::cat(&text, 0))
    }
}

/// Both towers forward (train mode) on `threads` row slices of `images` `[b, C, H, W]`
/// and `tokens` `[b, L]`, one slice per thread.
pub(super) fn forward(
    model: &DualEncoder,
    images: &Tensor,
    tokens: &Tensor,
    threads: usize,
) -> Result<ShardedEmbeddings> {
    let missing = || Error::Other("train.step_threads: an encoder stopped giving replicas".into());
    let jobs = row_slices(images.size()[0], threads)
        .into_iter()
        .map(|(start, len)| {
            let towers = (
                model.image.replica().ok_or_else(missing)?,
                model.text.replica().ok_or_else(missing)?,
            );
            Ok((
                towers,
                images.narrow(0, start, len),
                tokens.narrow(0, start, len),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let towers = on_threads(
        jobs,
        |((image_tower, text_tower), images, tokens): (
            (Box<dyn Encoder + Send>, Box<dyn Encoder + Send>),
            Tensor,
            Tensor,
        )| {
            let image = image_tower.encode(&images, true)?.to_kind(Kind::Float); // [b_i, D]
            let text = text_tower.encode(&tokens, true)?.to_kind(Kind::Float); // [b_i, D]
            Ok((image, text))
        },
    )?;
    let leaves = towers
        .iter()
        .map(|(i, t)| {
            (
                i.detach().set_requires_grad(true),
                t.detach().set_requires_grad(true),
            )
        })
        .collect();
    Ok(ShardedEmbeddings { towers, leaves })
}

/// After the loss's backward reached the leaves: back-propagates each slice through its
/// towers on its own thread and adds the slices' gradients, in slice order, to the
/// `.grad` of `params` (the trainable variables that require grad).
pub(super) fn backward(embeddings: ShardedEmbeddings, params: &[Tensor]) -> Result<()> {
    let jobs: Vec<_> = embeddings
        .towers
        .into_iter()
        .zip(&embeddings.leaves)
        .map(|((image, text), (image_leaf, text_leaf))| {
            // Σ(out · ∂loss/∂out) has the tower outputs' vector-Jacobian product as its gradient.
            let mut terms = vec![];
            for (out, leaf) in [(image, image_leaf), (text, text_leaf)] {
                let grad = leaf.grad();
                // A frozen tower's output needs no backward.
                if grad.defined() && out.requires_grad() {
                    terms.push((out * grad.detach()).sum(Kind::Float));
                }
            }
            (
                terms,
                params.iter().map(Tensor::shallow_clone).collect::<Vec<_>>(),
            )
        })
        .collect();
    let per_slice = on_threads(jobs, |(terms, params): (Vec<Tensor>, Vec<Tensor>)| {
        if terms.is_empty() || params.is_empty() {
            return Ok(vec![]);
        }
        let surrogate = terms.into_iter().reduce(|a, b| a + b).expect("non-empty"); // []
        Ok(Tensor::f_run_backward(&[surrogate], &params, false, false)?)
    })?;
    // In slice order, so the result does not depend on which thread finished first.
    let mut missing: Vec<Option<Tensor>> = params.iter().map(|_| None).collect();
    tch::no_grad(|| {
        for grads in per_slice {
            for ((param, sum), grad) in params.iter().zip(missing.iter_mut()).zip(grads).filter(|(_, g)| g.defined()) {
                let mut existing = param.grad();
                if existing.defined() {
                    let _ = existing.g_add_(&grad); // one small kernel per parameter
                } else {
                    *sum = Some(match sum.take() {
                        Some(s) => s + grad,
                        None => grad,
                    });
                }
            }
        }
    });
    // A `.grad` still undefined (a run's first step) is created through autograd: the
    // gradient of Σ p·s with respect to p is exactly s.
    let terms: Vec<Tensor> = params
        .iter()
        .zip(missing)
        .filter_map(|(p, s)| s.map(|s| (p * s).sum(Kind::Float)))
        .collect();
    if let Some(total) = terms.into_iter().reduce(|a, b| a + b) {
        total.backward();
    }
    Ok(())
}

#[cfg(test)]
#[path = "parallel_tests.rs"]
mod tests;
