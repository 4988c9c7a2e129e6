//! Models composed from plugin components.
use std::cell::RefCell;
use std::rc::Rc;

use plexus_plugin::{Encoder, Fusion, Masking, MaskingContext, Modality, ModalityBatch, ModalityFeatures, Presence, TensorMap, Tokenizer};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// CLIP-style dual encoder: an image tower and a text tower into one embedding space.
pub struct DualEncoder {
    pub image: Rc<Box<dyn Encoder>>,
    pub text: Rc<Box<dyn Encoder>>,
    pub tokenizer: Rc<RefCell<Box<dyn Tokenizer>>>,
    pub device: Device,
    /// Fuses the two embeddings into `fused_embeds` for the loss (see [`Self::with_fusion`]).
    pub fusion: Option<Rc<Box<dyn Fusion>>>,
    /// Decides per training batch which modalities the fusion sees.
    pub masking: Option<Rc<Box<dyn Masking>>>,
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
        Ok(Self { image, text, tokenizer, device, fusion: None, masking: None })
    }

    /// The same towers, plus a fusion of their embeddings (and optionally a masking
    /// schedule for training batches). Refused when the fusion does not take image and
    /// text features of the towers' width.
    pub fn with_fusion(&self, fusion: Rc<Box<dyn Fusion>>, masking: Option<Rc<Box<dyn Masking>>>) -> Result<Self> {
        let width = self.image.output_dim();
        let probe = |m| (m, ModalityBatch { data: Tensor::zeros([1, width], (Kind::Float, self.device)), present: Tensor::ones([1], (Kind::Bool, self.device)) });
        let features: ModalityFeatures = [probe(Modality::Image), probe(Modality::Text)].into_iter().collect();
        let _guard = tch::no_grad_guard();
        fusion.fuse(&features, false).map(drop).map_err(|e| {
            Error::Other(format!("the fusion does not take image and text embeddings of width {width} (the encoders' output_dim): {e}"))
        })?;
        Ok(Self {
            image: self.image.clone(),
            text: self.text.clone(),
            tokenizer: self.tokenizer.clone(),
            device: self.device,
            fusion: Some(fusion),
            masking,
        })
    }

    /// What a loss gets for a training batch: `image_embeds`, `text_embeds` `[b, D]`
    /// f32; with a fusion, `fused_embeds` `[b, D_f]` of both (in training, the masking
    /// schedule at `at` decides which of the two each example's fusion sees); `labels`
    /// `[b]` i64 when given.
    pub fn loss_inputs(&self, images: &Tensor, tokens: &Tensor, labels: Option<&Tensor>, at: &MaskingContext, train: bool) -> Result<TensorMap> {
        let image = self.embed_images(images, train)?.to_kind(Kind::Float); // [b, D]
        let text = self.embed_tokens(tokens, train)?.to_kind(Kind::Float); // [b, D]
        self.loss_inputs_from(&image, &text, labels, at, train)
    }

    /// [`Self::loss_inputs`] from the towers' outputs `image`, `text` `[b, D]` f32.
    pub fn loss_inputs_from(&self, image: &Tensor, text: &Tensor, labels: Option<&Tensor>, at: &MaskingContext, train: bool) -> Result<TensorMap> {
        let mut inputs = TensorMap::new().with("image_embeds", image).with("text_embeds", text);
        if let Some(fusion) = &self.fusion {
            let b = image.size()[0];
            let all: Presence = [Modality::Image, Modality::Text].into_iter().map(|m| (m, Tensor::ones([b], (Kind::Bool, self.device)))).collect();
            let presence = match (&self.masking, train) {
                (Some(masking), true) => masking.mask(at, &all)?,
                _ => all,
            };
            let mut features = ModalityFeatures::new();
            for (m, embeds) in [(Modality::Image, image), (Modality::Text, text)] {
                let present = presence.get(&m).map(|p| p.to_device(self.device)).ok_or_else(|| Error::Other(format!("the masking schedule dropped the `{m}` mask")))?;
                features.insert(m, ModalityBatch { data: embeds * present.to_kind(Kind::Float).unsqueeze(1), present }); // [b, D], absent rows zero
            }
            inputs.insert("fused_embeds", &fusion.fuse(&features, train)?.to_kind(Kind::Float)); // [b, D_f]
        }
        if let Some(labels) = labels {
            inputs.insert("labels", &labels.to_device(self.device));
        }
        Ok(inputs)
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
