//! The conformance kit on this plugin: the text tower on a small config, the word
//! tokenizer, and every registered component with its default config.
use plexus_plugin::conformance;
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_text::{TextConfig, TextTransformer, WordTokenizer, WordTokenizerConfig};

#[test]
fn text_transformer_passes_on_a_small_config() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = TextConfig { context_length: 6, vocab_size: 20, width: 8, heads: 2, layers: 1, mlp_ratio: 2.0, output_dim: 4 };
    let tower = TextTransformer::new(&vs.root(), &cfg).unwrap();
    let tokens = Tensor::randint_low(1, 20, [3, 6], (Kind::Int64, Device::Cpu));
    conformance::encoder("text_transformer", &tower, &tokens).assert_ok();
}

#[test]
fn word_tokenizer_passes() {
    let mut tok = WordTokenizer::new(&WordTokenizerConfig::default());
    let corpus: Vec<String> = ["a photo of a bag.", "A picture of a SHIRT", ""].iter().map(|s| s.to_string()).collect();
    conformance::tokenizer("word", &mut tok, &corpus).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    conformance::check_declaration(&plexus_text::plexus_plugin_declaration).assert_ok();
}
