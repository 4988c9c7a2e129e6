//! Loading pretrained files: a BERT folder written here round-trips through `bert`'s
//! loader, and bad folders, tokenizer files and merges files are errors naming the file,
//! key or line (never panics). Parity with the Python references is in
//! tests/text_parity.rs at the repository root.
use std::path::Path;

use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{Encoder, Tokenizer};
use plexus_text::{Bert, BertConfig, ClipBpe, ClipBpeConfig, HfTokenizer, HfTokenizerConfig};

fn small() -> BertConfig {
    BertConfig {
        vocab_size: 50,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 32,
        max_position_embeddings: 12,
        ..Default::default()
    }
}

/// Writes `config.json` and `model.safetensors` of a random `small()` BERT under `dir`,
/// keys prefixed with `bert.` and with a pooler, as a task checkpoint has them.
fn write_folder(dir: &Path, drop_key: Option<&str>) -> Bert {
    let vs = nn::VarStore::new(Device::Cpu);
    let bert = Bert::new(&vs.root(), &small()).unwrap();
    let c = small();
    let config = format!(
        r#"{{"hidden_act": "gelu", "vocab_size": {}, "hidden_size": {}, "num_hidden_layers": {}, "num_attention_heads": {},
            "intermediate_size": {}, "max_position_embeddings": {}, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}}"#,
        c.vocab_size, c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.intermediate_size, c.max_position_embeddings
    );
    std::fs::write(dir.join("config.json"), config).unwrap();
    let mut tensors: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(name, _)| Some(name.as_str()) != drop_key)
        // Perturbed so that the loaded model differs from any fresh initialisation.
        .map(|(name, t)| (format!("bert.{name}"), t.detach() + 0.01))
        .collect();
    tensors.push(("bert.pooler.dense.weight".into(), Tensor::zeros([16, 16], (Kind::Float, Device::Cpu))));
    Tensor::write_safetensors(&tensors, dir.join("model.safetensors")).unwrap();
    // The same perturbation applied in place, to compare against.
    plexus_plugin::tch::no_grad(|| {
        for (_, mut t) in vs.variables() {
            let _ = t.g_add_scalar_(0.01);
        }
    });
    bert
}

#[test]
fn a_bert_folder_round_trips_and_padding_does_not_change_the_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_folder(dir.path(), None);
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = BertConfig { path: dir.path().to_str().unwrap().into(), ..Default::default() };
    let loaded = Bert::new(&(vs.root() / "text"), &cfg).unwrap();
    assert_eq!(loaded.output_dim(), 16, "hidden_size comes from config.json");
    let tokens = Tensor::from_slice(&[5i64, 7, 9, 3, 0, 0, 8, 2, 4, 0, 0, 0]).view([2, 6]);
    let (a, b) = (written.encode(&tokens, false).unwrap(), loaded.encode(&tokens, false).unwrap());
    assert!((&a - &b).abs().max().double_value(&[]) < 1e-6);
    // Padding is masked out of attention and pooling: more padding, same embedding.
    let longer = Tensor::cat(&[&tokens, &Tensor::zeros([2, 4], (Kind::Int64, Device::Cpu))], 1);
    assert!((loaded.encode(&longer, false).unwrap() - &b).abs().max().double_value(&[]) < 1e-5);
}

#[test]
fn bad_bert_folders_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let vs = nn::VarStore::new(Device::Cpu);
    let build = |cfg: BertConfig| Bert::new(&vs.root(), &cfg).map(drop).unwrap_err().to_string();

    let err = build(BertConfig { path: path.clone(), ..Default::default() });
    assert!(err.contains("config.json"), "{err}");

    write_folder(dir.path(), Some("encoder.layer.1.output.dense.weight"));
    let err = build(BertConfig { path: path.clone(), ..Default::default() });
    assert!(err.contains("model.safetensors") && err.contains("encoder.layer.1.output.dense.weight"), "{err}");

    let err = build(BertConfig { path: path.clone(), hidden_size: 32, ..Default::default() });
    assert!(err.contains("hidden_size") && err.contains("16") && err.contains("32"), "{err}");

    let err = build(BertConfig { num_attention_heads: 3, ..Default::default() });
    assert!(err.contains("num_attention_heads"), "{err}");
}

#[test]
fn bad_inputs_are_errors() {
    let vs = nn::VarStore::new(Device::Cpu);
    let bert = Bert::new(&vs.root(), &small()).unwrap();
    let too_long = Tensor::ones([1, 13], (Kind::Int64, Device::Cpu));
    assert!(bert.encode(&too_long, false).unwrap_err().to_string().contains("max_position_embeddings"));
    let outside = Tensor::from_slice(&[1i64, 50]).view([1, 2]);
    assert!(bert.encode(&outside, false).unwrap_err().to_string().contains("vocabulary"));
    assert!(bert.encode(&Tensor::ones([1, 2], (Kind::Float, Device::Cpu)), false).is_err());
}

#[test]
fn bad_tokenizer_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("tokenizer.json");
    std::fs::write(&json, "{ not json").unwrap();
    let err = HfTokenizer::new(&HfTokenizerConfig { path: json.to_str().unwrap().into(), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("tokenizer.json"), "{err}");

    let merges = dir.path().join("merges.txt");
    std::fs::write(&merges, "#version: 0.2\nt h\nth e</w>\nbroken\n").unwrap();
    let err = ClipBpe::new(&ClipBpeConfig { path: merges.to_str().unwrap().into(), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("merges.txt") && err.to_string().contains("line 4"), "{err}");

    std::fs::write(&merges, "#version: 0.2\nt h\nth e</w>\n").unwrap();
    let tok = ClipBpe::new(&ClipBpeConfig { path: merges.to_str().unwrap().into(), ..Default::default() }).unwrap();
    // 512 byte symbols, 2 merges, SOT, EOT; "the" is one token after both merges.
    assert_eq!(tok.vocab_size(), 516);
    assert_eq!(tok.ids("The").unwrap(), [514, 513, 515]);
}
