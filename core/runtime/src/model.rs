//! Models composed from plugin components.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{Encoder, Modality, Tokenizer};
use tch::{Device, Tensor};

use crate::error::{Error, Result};

/// CLIP-style dual encoder: an image tower and a text tower into one embedding space.
pub struct DualEncoder {
    pub image: Rc<Box<dyn Encoder>>,
    pub text: Rc<Box<dyn Encoder>>,
    pub tokenizer: Rc<RefCell<Box<dyn Tokenizer>>>,
    pub device: Device,
}

impl DualEncoder {
    pub fn new(
        image: Rc<Box<dyn Encoder>>,
        text: Rc<Box<dyn Encoder>>,
        tokenizer: Rc<RefCell<Box<dyn Tokenizer>>>,
        device: Device,
    ) -> Result<Self> {
        if image.modality() != Modality::Image || text.modality() != Modality::Text {
            return Err(Error::Other(format!(
                "dual encoder needs an image encoder and a text encoder, got {} and {}",
                image.modality(),
                text.modality()
            )));
        }
        if image.output_dim() != text.output_dim() {
            return Err(Error::Other(format!(
                "image and text encoders must share an embedding width: image output_dim {} != text output_dim {}",
                image.output_dim(),
                text.output_dim()
            )));
        }
        Ok(Self { image, text, tokenizer, device })
    }

    /// images `[B, C, H, W]` (any device) → `[B, D]` on the model's device.
    pub fn embed_images(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.image.encode(&images.to_device(self.device), train)?)
    }

    /// texts → `[B, D]`.
    pub fn embed_texts(&self, texts: &[String], train: bool) -> Result<Tensor> {
        self.embed_tokens(&self.tokenize(texts)?, train)
    }

    /// texts → token ids `[B, L]` on the model's device.
    pub fn tokenize(&self, texts: &[String]) -> Result<Tensor> {
        Ok(self.tokenizer.borrow().encode(texts)?.to_device(self.device))
    }

    /// token ids `[B, L]` (from [`Self::tokenize`]) → `[B, D]`.
    pub fn embed_tokens(&self, tokens: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.text.encode(tokens, train)?)
    }
}
