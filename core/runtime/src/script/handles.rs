//! Script-visible handles to host objects. Rhai values must be `Clone`; these are `Rc`s.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{Encoder, Loss, Metric, Sampler, Tokenizer};

use crate::data::CaptionedImages;
use crate::model::DualEncoder;
use crate::train::Trainer;

#[derive(Clone)]
pub struct EncoderHandle(pub Rc<Box<dyn Encoder>>);
#[derive(Clone)]
pub struct TokenizerHandle(pub Rc<RefCell<Box<dyn Tokenizer>>>);
#[derive(Clone)]
pub struct LossHandle(pub Rc<Box<dyn Loss>>);
#[derive(Clone)]
pub struct SamplerHandle(pub Rc<Box<dyn Sampler>>);
#[derive(Clone)]
pub struct MetricHandle(pub Rc<Box<dyn Metric>>);
#[derive(Clone)]
pub struct DatasetHandle(pub Rc<CaptionedImages>);
#[derive(Clone)]
pub struct ModelHandle(pub Rc<DualEncoder>);
#[derive(Clone)]
pub struct TrainerHandle(pub Rc<RefCell<Trainer>>);
