//! Text encoders and tokenizers for plexus.
mod text_transformer;
mod word_tokenizer;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.encoder(
        "text_transformer",
        "Causal text transformer with EOT (argmax-id) pooling and open_clip parameter names",
        |path, cfg: &text_transformer::TextConfig| text_transformer::TextTransformer::new(path, cfg),
    );
    r.tokenizer(
        "word",
        "Word-level tokenizer whose vocabulary is fitted on training captions; EOT is the largest id",
        |_, cfg: &word_tokenizer::WordTokenizerConfig| Ok(word_tokenizer::WordTokenizer::new(cfg)),
    );
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use text_transformer::{TextConfig, TextTransformer};
pub use word_tokenizer::{WordTokenizer, WordTokenizerConfig};
