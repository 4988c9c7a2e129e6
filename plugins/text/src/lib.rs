//! Text encoders and tokenizers for plexus.
mod bert;
mod bert_load;
mod clip_bpe;
mod clip_clean;
mod hf_tokenizer;
mod text_transformer;
mod word_tokenizer;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.encoder(
        "text_transformer",
        "Causal text transformer with EOT (argmax-id) pooling and open_clip parameter names",
        |path, cfg: &text_transformer::TextConfig| text_transformer::TextTransformer::new(path, cfg),
    );
    r.encoder(
        "bert",
        "BERT-family encoder (post-LN, GELU) loading HF config.json + model.safetensors; mean pooling over non-padding tokens as sentence-transformers does",
        |path, cfg: &bert::BertConfig| bert::Bert::new(path, cfg),
    );
    r.tokenizer(
        "word",
        "Word-level tokenizer whose vocabulary is fitted on training captions; EOT is the largest id",
        |_, cfg: &word_tokenizer::WordTokenizerConfig| Ok(word_tokenizer::WordTokenizer::new(cfg)),
    );
    r.tokenizer(
        "hf",
        "Hugging Face tokenizer.json (BPE, WordPiece, ...) with its special tokens, truncated and 0-padded to context_length; without a file, fit trains a WordPiece vocabulary",
        |_, cfg: &hf_tokenizer::HfTokenizerConfig| hf_tokenizer::HfTokenizer::new(cfg),
    );
    r.tokenizer(
        "clip_bpe",
        "open_clip's byte-level BPE (bpe_simple_vocab_16e6.txt.gz): the ids of open_clip.tokenize; without a file, fit learns merges",
        |_, cfg: &clip_bpe::ClipBpeConfig| clip_bpe::ClipBpe::new(cfg),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use bert::{Bert, BertConfig};
pub use clip_bpe::{ClipBpe, ClipBpeConfig};
pub use hf_tokenizer::{HfTokenizer, HfTokenizerConfig};
pub use text_transformer::{TextConfig, TextTransformer};
pub use word_tokenizer::{WordTokenizer, WordTokenizerConfig};
