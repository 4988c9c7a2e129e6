//! Hugging Face tokenizers: a `tokenizer.json` (BPE, WordPiece, ...) run by the
//! `tokenizers` crate, so ids are those of Python `tokenizers` / `transformers`' fast
//! tokenizers. Without a file, `fit` trains a BERT-style WordPiece vocabulary on the
//! training captions.
use std::path::Path;

use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::Tensor;
use plexus_plugin::{Error, Result, Tokenizer};
use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, TruncationParams};

/// Special tokens of a vocabulary trained by `fit`, in id order: `[PAD]` is 0, the
/// padding id of every plexus tokenizer.
const TRAINED_SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct HfTokenizerConfig {
    /// A `tokenizer.json` (or a folder holding one). Empty: `fit` trains a WordPiece
    /// vocabulary (BERT normaliser and pre-tokeniser, `[CLS] text [SEP]`).
    pub path: String,
    /// Ids per text, special tokens included: longer texts are truncated (the file's
    /// post-processor still adds its special tokens), shorter ones padded with 0. The
    /// file's own padding and truncation settings are replaced by these.
    pub context_length: i64,
    /// Vocabulary size trained by `fit` when there is no `path`.
    pub vocab_size: usize,
}

impl Default for HfTokenizerConfig {
    fn default() -> Self {
        Self { path: String::new(), context_length: 128, vocab_size: 8000 }
    }
}

#[derive(Debug)]
pub struct HfTokenizer {
    cfg: HfTokenizerConfig,
    /// `None` until `fit` when there is no file.
    inner: Option<tokenizers::Tokenizer>,
    /// Where the vocabulary came from, for `state`.
    source: String,
}

fn tk_error(context: &str, e: tokenizers::Error) -> Error {
    Error::other(format!("{context}: {e}"))
}

impl HfTokenizer {
    pub fn new(cfg: &HfTokenizerConfig) -> Result<Self> {
        if cfg.context_length < 2 {
            return Err(Error::other(format!("hf tokenizer: context_length must be at least 2, got {}", cfg.context_length)));
        }
        if cfg.path.is_empty() {
            return Ok(Self { cfg: cfg.clone(), inner: None, source: "trained by fit".into() });
        }
        let mut file = Path::new(&cfg.path).to_path_buf();
        if file.is_dir() {
            file = file.join("tokenizer.json");
        }
        if !file.is_file() {
            return Err(Error::other(format!("hf tokenizer: path: {} does not exist (expected a tokenizer.json)", file.display())));
        }
        let mut inner = tokenizers::Tokenizer::from_file(&file).map_err(|e| tk_error(&format!("hf tokenizer: path: {}", file.display()), e))?;
        Self::set_length(&mut inner, cfg.context_length)?;
        Ok(Self { cfg: cfg.clone(), inner: Some(inner), source: file.display().to_string() })
    }

    /// Truncation to `context_length` ids including the post-processor's specials; the
    /// padding is ours (0, to the full length) rather than the file's.
    fn set_length(tok: &mut tokenizers::Tokenizer, context_length: i64) -> Result<()> {
        tok.with_padding(None);
        let trunc = TruncationParams { max_length: context_length as usize, ..Default::default() };
        tok.with_truncation(Some(trunc)).map_err(|e| tk_error("hf tokenizer: context_length", e))?;
        Ok(())
    }

    /// Ids of one text, special tokens included, at most `context_length` of them.
    pub fn ids(&self, text: &str) -> Result<Vec<u32>> {
        let tok = self.inner.as_ref().ok_or_else(|| Error::other("hf tokenizer: no path was given, so call fit(corpus) before encoding"))?;
        let enc = tok.encode(text, true).map_err(|e| tk_error(&format!("hf tokenizer: encoding {text:?}"), e))?;
        Ok(enc.get_ids().to_vec())
    }

    fn train(&mut self, corpus: &[String]) -> Result<()> {
        let model = WordPiece::builder().unk_token("[UNK]".into()).build().map_err(|e| tk_error("hf tokenizer: fit", e))?;
        let mut tok = tokenizers::Tokenizer::new(ModelWrapper::WordPiece(model));
        tok.with_normalizer(Some(BertNormalizer::default()));
        tok.with_pre_tokenizer(Some(BertPreTokenizer));
        let specials = TRAINED_SPECIALS.iter().map(|s| AddedToken::from(*s, true)).collect();
        let trainer = WordPieceTrainer::builder().vocab_size(self.cfg.vocab_size).special_tokens(specials).show_progress(false).build();
        tok.train(&mut TrainerWrapper::WordPieceTrainer(trainer), corpus.iter()).map_err(|e| tk_error("hf tokenizer: fit", e))?;
        let id = |t: &str| tok.token_to_id(t).ok_or_else(|| Error::other(format!("hf tokenizer: fit: {t} missing after training")));
        if id("[PAD]")? != 0 {
            return Err(Error::other("hf tokenizer: fit: [PAD] did not get id 0"));
        }
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let template = TemplateProcessing::builder()
            .try_single("[CLS] $A [SEP]")
            .and_then(|b| b.special_tokens(vec![("[CLS]", cls), ("[SEP]", sep)]).build().map_err(|e| e.to_string()))
            .map_err(|e| Error::other(format!("hf tokenizer: fit: {e}")))?;
        tok.with_post_processor(Some(template));
        Self::set_length(&mut tok, self.cfg.context_length)?;
        self.inner = Some(tok);
        Ok(())
    }
}

impl Tokenizer for HfTokenizer {
    /// A no-op with a file (its vocabulary is fixed); otherwise trains one on `corpus`.
    fn fit(&mut self, corpus: &[String]) -> Result<()> {
        if !self.cfg.path.is_empty() {
            return Ok(());
        }
        if corpus.iter().all(|t| t.trim().is_empty()) {
            return Err(Error::other("hf tokenizer: cannot fit on an empty corpus"));
        }
        self.train(corpus)
    }

    fn vocab_size(&self) -> i64 {
        self.inner.as_ref().map_or(0, |t| t.get_vocab_size(true) as i64)
    }

    /// texts → `[B, context_length]` i64, padded with 0.
    fn encode(&self, texts: &[String]) -> Result<Tensor> {
        let l = self.cfg.context_length as usize;
        let mut flat = vec![0i64; texts.len() * l];
        for (row, text) in flat.chunks_mut(l).zip(texts) {
            for (slot, id) in row.iter_mut().zip(self.ids(text)?) {
                *slot = id as i64;
            }
        }
        Ok(Tensor::from_slice(&flat).view([texts.len() as i64, l as i64]))
    }

    /// The file's path, or the whole trained tokenizer (as a tokenizer.json value).
    fn state(&self) -> Result<plexus_plugin::serde_json::Value> {
        let trained = match (&self.inner, self.cfg.path.is_empty()) {
            (Some(tok), true) => {
                let json = tok.to_string(false).map_err(|e| tk_error("hf tokenizer: state", e))?;
                plexus_plugin::serde_json::from_str(&json).map_err(|e| Error::other(format!("hf tokenizer: state: {e}")))?
            }
            _ => plexus_plugin::serde_json::Value::Null,
        };
        Ok(plexus_plugin::serde_json::json!({ "source": self.source, "config": self.cfg, "tokenizer": trained }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        ["a photo of a shirt.", "A picture of a bag", "an ankle boot, and a bag"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fitted_wordpiece_pads_with_zero_and_wraps_in_cls_sep() {
        let mut tok = HfTokenizer::new(&HfTokenizerConfig { context_length: 8, vocab_size: 200, ..Default::default() }).unwrap();
        assert!(tok.encode(&corpus()).is_err(), "encoding before fit must be an error");
        tok.fit(&corpus()).unwrap();
        let ids = tok.ids("a bag").unwrap();
        let inner = tok.inner.as_ref().unwrap();
        assert_eq!(ids.first().copied(), inner.token_to_id("[CLS]"));
        assert_eq!(ids.last().copied(), inner.token_to_id("[SEP]"));
        assert_eq!(ids.len(), 4, "{ids:?}");
        let row = Vec::<i64>::try_from(tok.encode(&["a bag".into()]).unwrap().view([-1])).unwrap();
        assert_eq!(&row[4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn truncation_keeps_the_closing_special_token() {
        let mut tok = HfTokenizer::new(&HfTokenizerConfig { context_length: 4, vocab_size: 200, ..Default::default() }).unwrap();
        tok.fit(&corpus()).unwrap();
        let ids = tok.ids("a photo of a shirt and a bag").unwrap();
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.last().copied(), tok.inner.as_ref().unwrap().token_to_id("[SEP]"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = HfTokenizer::new(&HfTokenizerConfig { path: "/nonexistent/tok.json".into(), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tok.json"), "{err}");
    }
}
