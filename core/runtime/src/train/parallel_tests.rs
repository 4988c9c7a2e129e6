//! The split step must give the gradients of the one-thread step.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{Encoder, Modality, Tokenizer};
use tch::{nn, Device, Kind, Tensor};

use super::*;
use crate::model::DualEncoder;

const D: i64 = 6;

/// images `[B, 1, 4, 4]` → tanh(flatten · W) `[B, D]`.
struct ToyImage {
    w: Tensor,
    replicable: bool,
}

impl Encoder for ToyImage {
    fn modality(&self) -> Modality {
        Modality::Image
    }
    fn output_dim(&self) -> i64 {
        D
    }
    fn encode(&self, images: &Tensor, _train: bool) -> plexus_plugin::Result<Tensor> {
        Ok(images.flatten(1, -1).matmul(&self.w).tanh())
    }
    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        self.replicable.then(|| {
            Box::new(ToyImage {
                w: self.w.shallow_clone(),
                replicable: true,
            }) as Box<dyn Encoder + Send>
        })
    }
}

/// tokens `[B, L]` → mean of embedding rows `[B, D]`.
struct ToyText {
    table: Tensor,
}

impl Encoder for ToyText {
    fn modality(&self) -> Modality {
        Modality::Text
    }
    fn output_dim(&self) -> i64 {
        D
    }
    fn encode(&self, tokens: &Tensor, _train: bool) -> plexus_plugin::Result<Tensor> {
        Ok(
            Tensor::embedding(&self.table, tokens, -1, false, false).mean_dim(
                1,
                false,
                Kind::Float,
            ),
        )
    }
    fn replica(&self) -> Option<Box<dyn Encoder + Send>> {
        Some(Box::new(ToyText {
            table: self.table.shallow_clone(),
        }))
    }
}

struct NoTokenizer;

impl Tokenizer for NoTokenizer {
    fn fit(&mut self, _corpus: &[String]) -> plexus_plugin::Result<()> {
        Ok(())
    }
    fn vocab_size(&self) -> i64 {
        0
    }
    fn encode(&self, _texts: &[String]) -> plexus_plugin::Result<Tensor> {
        Err(plexus_plugin::Error::other("not used"))
    }
    fn state(&self) -> plexus_plugin::Result<serde_json::Value> {
        Ok(serde_json::Value::Null)
    }
}

fn model(vs: &nn::VarStore, image_replicable: bool) -> DualEncoder {
    let p = vs.root();
    let image = ToyImage {
        w: p.randn("w", &[16, D], 0.0, 0.5),
        replicable: image_replicable,
    };
    let text = ToyText {
        table: p.randn("table", &[9, D], 0.0, 1.0),
    };
    let tokenizer: Box<dyn Tokenizer> = Box::new(NoTokenizer);
    DualEncoder::new(
        Rc::new(Box::new(image)),
        Rc::new(Box::new(text)),
        Rc::new(RefCell::new(tokenizer)),
        Device::Cpu,
    )
    .unwrap()
}

/// Symmetric InfoNCE over all `[B, D]` rows: every row's gradient depends on every other.
fn contrastive(image: &Tensor, text: &Tensor) -> Tensor {
    let logits = image.matmul(&text.tr()) * 3.0; // [B, B]
    let targets = Tensor::arange(logits.size()[0], (Kind::Int64, Device::Cpu));
    (logits.cross_entropy_for_logits(&targets) + logits.tr().cross_entropy_for_logits(&targets))
        / 2.0
}

fn grads(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut g: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.grad().copy()))
        .collect();
    g.sort_by(|a, b| a.0.cmp(&b.0));
    g
}

fn zero_grads(vs: &nn::VarStore) {
    for (_, t) in vs.variables() {
        let mut g = t.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
}

/// One split step: forward on `threads` slices, loss on the whole batch, backward.
fn split_step(
    model: &DualEncoder,
    vs: &nn::VarStore,
    images: &Tensor,
    tokens: &Tensor,
    threads: usize,
) -> f64 {
    let sharded = forward(model, images, tokens, threads).unwrap();
    let (image, text) = sharded.joined();
    let loss = contrastive(&image, &text);
    loss.backward();
    let params: Vec<Tensor> = vs.trainable_variables().into_iter().filter(Tensor::requires_grad).collect();
    backward(sharded, &params).unwrap();
    loss.double_value(&[])
}

#[test]
fn split_step_gives_the_one_thread_gradients_and_adds_to_existing_ones() {
    tch::manual_seed(3);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = model(&vs, true);
    let images = Tensor::randn([11, 1, 4, 4], (Kind::Float, Device::Cpu));
    let tokens = Tensor::randint(9, [11, 5], (Kind::Int64, Device::Cpu));

    // First on undefined `.grad`s (a run's first step), with uneven slices (4, 4, 3).
    let split_loss = split_step(&model, &vs, &images, &tokens, 3);
    let split = grads(&vs);
    zero_grads(&vs);
    let loss = contrastive(
        &model.image.encode(&images, true).unwrap(),
        &model.text.encode(&tokens, true).unwrap(),
    );
    loss.backward();
    let reference = grads(&vs);
    assert!(
        (split_loss - loss.double_value(&[])).abs() < 1e-6,
        "loss {split_loss} vs {}",
        loss.double_value(&[])
    );
    for ((name, a), (_, b)) in split.iter().zip(&reference) {
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(
            diff < 1e-6,
            "{name}: split and one-thread gradients differ by {diff}"
        );
        assert!(
            b.abs().max().double_value(&[]) > 1e-3,
            "{name}: the reference gradient is zero, the test proves nothing"
        );
    }

    // On defined `.grad`s (gradient accumulation): the slices' sum is added.
    split_step(&model, &vs, &images, &tokens, 2);
    for ((name, a), (_, b)) in grads(&vs).iter().zip(&reference) {
        let diff = (a - b * 2.0).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{name}: accumulated gradient off by {diff}");
    }
}

#[test]
fn a_frozen_tower_gets_no_gradient_and_the_other_its_own() {
    tch::manual_seed(5);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = model(&vs, true);
    let frozen = vs.variables()["w"].shallow_clone();
    let _ = frozen.set_requires_grad(false);
    let images = Tensor::randn([8, 1, 4, 4], (Kind::Float, Device::Cpu));
    let tokens = Tensor::randint(9, [8, 5], (Kind::Int64, Device::Cpu));
    split_step(&model, &vs, &images, &tokens, 2);
    assert!(!frozen.grad().defined(), "the frozen tower got a gradient");
    let split = vs.variables()["table"].grad().copy();
    zero_grads(&vs);
    contrastive(&model.image.encode(&images, true).unwrap(), &model.text.encode(&tokens, true).unwrap()).backward();
    let diff = (split - vs.variables()["table"].grad()).abs().max().double_value(&[]);
    assert!(diff < 1e-6, "the trained tower's gradient differs by {diff}");
}

#[test]
fn split_step_is_deterministic() {
    tch::manual_seed(4);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = model(&vs, true);
    let images = Tensor::randn([16, 1, 4, 4], (Kind::Float, Device::Cpu));
    let tokens = Tensor::randint(9, [16, 5], (Kind::Int64, Device::Cpu));
    split_step(&model, &vs, &images, &tokens, 4);
    let first = grads(&vs);
    for _ in 0..3 {
        zero_grads(&vs);
        split_step(&model, &vs, &images, &tokens, 4);
        for ((name, a), (_, b)) in grads(&vs).iter().zip(&first) {
            assert!(
                a.equal(b),
                "{name}: a repeated split step changed the gradient bits"
            );
        }
    }
}

#[test]
fn thread_count_resolution() {
    let (a, b) = (
        nn::VarStore::new(Device::Cpu),
        nn::VarStore::new(Device::Cpu),
    );
    let (replicable, not) = (model(&a, true), model(&b, false));
    assert_eq!(
        resolve_threads(StepThreads::Count(3), &replicable).unwrap(),
        3
    );
    assert_eq!(resolve_threads(StepThreads::Count(1), &not).unwrap(), 1);
    assert_eq!(resolve_threads(StepThreads::Auto, &not).unwrap(), 1);
    let err = resolve_threads(StepThreads::Count(2), &not)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("train.step_threads") && err.contains("replica"),
        "{err}"
    );
}

#[test]
fn row_slices_cover_every_row_once() {
    assert_eq!(row_slices(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
    assert_eq!(row_slices(2, 4), vec![(0, 1), (1, 1)]);
    assert_eq!(row_slices(5, 1), vec![(0, 5)]);
    for rows in 1..40 {
        for parts in 1..9 {
            let s = row_slices(rows, parts);
            assert_eq!(s.iter().map(|x| x.1).sum::<i64>(), rows);
            assert!(s
                .windows(2)
                .all(|w| w[0].0 + w[0].1 == w[1].0 && w[0].1 >= w[1].1 && w[1].1 >= w[0].1 - 1));
        }
    }
}

#[test]
fn the_caller_runs_on_one_intra_op_thread_until_the_guard_drops() {
    // libtorch gives a thread the process-wide count (which other tests' threads change)
    // on its first query; make that happen before the count this test sets.
    let _ = tch::get_num_threads();
    tch::set_num_threads(2);
    {
        let _one = OneIntraOpThread::enter();
        assert_eq!(tch::get_num_threads(), 1);
    }
    assert_eq!(tch::get_num_threads(), 2);
}
