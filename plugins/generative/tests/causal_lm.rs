//! `causal_lm` by hand: a zero-layer model against its formula, causality over prefix +
//! tokens, greedy generation against step-by-step arg-max, and refused inputs.
use plexus_generative::{CausalLm, CausalLmConfig};
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{Module, TensorMap};

fn small(layers: i64, prefix_dim: Option<i64>) -> (nn::VarStore, CausalLm) {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = CausalLmConfig { vocab_size: 7, context_length: 10, width: 8, layers, heads: 2, mlp_ratio: 2.0, prefix_dim };
    let lm = CausalLm::new(&vs.root(), &cfg).unwrap();
    (vs, lm)
}

fn ids(rows: &[&[i64]]) -> Tensor {
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, -1])
}

fn logits(lm: &CausalLm, inputs: TensorMap) -> Tensor {
    lm.forward(&inputs, false).unwrap().get("logits").unwrap().shallow_clone()
}

#[test]
fn zero_layers_is_embedding_layer_norm_head() {
    let (vs, lm) = small(0, None);
    let vars = vs.variables();
    let tokens = ids(&[&[3, 1, 6]]);
    // x_t = E[token_t] + pos_t; layer norm (weight 1, bias 0, eps 1e-5); logits = x W^T
    let x = vars["token_embedding.weight"].index_select(0, &tokens.view([-1])) + vars["positional_embedding"].narrow(0, 0, 3); // [3, 8]
    let mean = x.mean_dim(-1, true, Kind::Float);
    let var = (&x - &mean).square().mean_dim(-1, true, Kind::Float);
    let expected = ((&x - &mean) / (var + 1e-5).sqrt()).matmul(&vars["lm_head.weight"].tr()); // [3, 7]
    let got = logits(&lm, TensorMap::new().with("tokens", &tokens));
    assert_eq!(got.size(), [1, 3, 7]);
    assert!(got.get(0).allclose(&expected, 1e-5, 1e-5, false), "{got} vs {expected}");
}

#[test]
fn later_tokens_do_not_change_earlier_logits_and_the_prefix_does() {
    let (_vs, lm) = small(2, Some(5));
    let prefix = Tensor::randn([1, 2, 5], (Kind::Float, Device::Cpu));
    let with = |tokens: &Tensor, prefix: &Tensor| logits(&lm, TensorMap::new().with("tokens", tokens).with("prefix", prefix));
    let (a, b) = (with(&ids(&[&[1, 2, 3, 4]]), &prefix), with(&ids(&[&[1, 2, 3, 5]]), &prefix));
    assert_eq!(a.size(), [1, 4, 7], "prefix positions are excluded from the logits");
    assert!(a.narrow(1, 0, 3).allclose(&b.narrow(1, 0, 3), 1e-6, 1e-6, false));
    assert!(!a.narrow(1, 3, 1).allclose(&b.narrow(1, 3, 1), 1e-6, 1e-6, false));
    let other_prefix = with(&ids(&[&[1, 2, 3, 4]]), &(&prefix + 1.0));
    assert!(!a.narrow(1, 0, 1).allclose(&other_prefix.narrow(1, 0, 1), 1e-4, 1e-4, false));
}

#[test]
fn greedy_generation_appends_the_arg_max_step_by_step() {
    let (_vs, lm) = small(1, None);
    let prompt = ids(&[&[2, 5], &[4, 0]]);
    let prefix = Tensor::randn([2, 1, 8], (Kind::Float, Device::Cpu));
    let steps = Tensor::from(4i64);
    let out = lm.forward(&TensorMap::new().with("tokens", &prompt).with("prefix", &prefix).with("max_new_tokens", &steps), false).unwrap();
    let generated = out.get("generated").unwrap();
    assert_eq!((generated.size(), generated.kind()), (vec![2, 4], Kind::Int64));
    let mut sequence = prompt.shallow_clone();
    for _ in 0..4 {
        let next = logits(&lm, TensorMap::new().with("tokens", &sequence).with("prefix", &prefix)).select(1, -1).argmax(-1, true);
        sequence = Tensor::cat(&[sequence, next], 1);
    }
    assert!(generated.equal(&sequence.narrow(1, 2, 4)), "{generated} vs {sequence}");
    // the last step sees 1 prefix + 2 tokens + 7 generated = all 10 positions; one more is too many
    let at_most = |n: i64| lm.forward(&TensorMap::new().with("tokens", &prompt).with("prefix", &prefix).with("max_new_tokens", &Tensor::from(n)), false);
    assert_eq!(at_most(8).unwrap().get("generated").unwrap().size(), [2, 8]);
    assert!(at_most(9).unwrap_err().to_string().contains("context_length"));
}

#[test]
fn bad_inputs_are_errors_naming_the_input() {
    let (_vs, lm) = small(1, Some(3));
    let cases = [
        (TensorMap::new().with("tokens", &ids(&[&[1, 7]])), "outside the vocabulary"),
        (TensorMap::new().with("tokens", &Tensor::ones([1, 2], (Kind::Float, Device::Cpu))), "`tokens` must be"),
        (TensorMap::new().with("tokens", &ids(&[&[1, 2]])).with("prefix", &Tensor::ones([2, 1, 3], (Kind::Float, Device::Cpu))), "`prefix` has batch 2"),
        (TensorMap::new().with("tokens", &ids(&[&[1, 2]])).with("prefix", &Tensor::ones([1, 1, 8], (Kind::Float, Device::Cpu))), "last dimension 3"),
        (TensorMap::new().with("tokens", &ids(&[&[1, 2]])).with("max_new_tokens", &Tensor::from_slice(&[1i64, 2])), "`max_new_tokens` must be a single number"),
        (TensorMap::new().with("prefix", &Tensor::ones([1, 1, 3], (Kind::Float, Device::Cpu))), "tokens"),
    ];
    for (inputs, message) in cases {
        let err = lm.forward(&inputs, false).unwrap_err().to_string();
        assert!(err.contains(message), "expected `{message}` in: {err}");
    }
    let zero_heads = CausalLmConfig { heads: 3, ..Default::default() };
    assert!(CausalLm::new(&nn::VarStore::new(Device::Cpu).root(), &zero_heads).is_err(), "width 32 is not a multiple of 3 heads");
}
