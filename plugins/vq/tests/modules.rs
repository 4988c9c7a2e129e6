//! The two modules by hand: the tokenizer's shapes, straight-through gradient, usage
//! statistics and dead-code restarts; VideoBERT's masking, segment layout and refusals.
use plexus_plugin::tch::{nn, Device, Kind, Tensor};
use plexus_plugin::{Module, TensorMap};
use plexus_vq::{VideoBert, VideoBertConfig, VqVideoTokenizer, VqVideoTokenizerConfig};

fn tokenizer(cfg: VqVideoTokenizerConfig) -> (nn::VarStore, VqVideoTokenizer) {
    let vs = nn::VarStore::new(Device::Cpu);
    let tok = VqVideoTokenizer::new(&vs.root(), &cfg).unwrap();
    (vs, tok)
}

fn video(b: i64, t: i64, s: i64) -> TensorMap {
    TensorMap::new().with("video", &Tensor::randn([b, t, 1, s, s], (Kind::Float, Device::Cpu)))
}

#[test]
fn tokenizer_shapes_and_straight_through_gradient() {
    let (vs, tok) = tokenizer(VqVideoTokenizerConfig { downsample: 2, num_codes: 16, code_dim: 4, ..Default::default() });
    let out = tok.forward(&video(3, 6, 16), false).unwrap();
    assert_eq!(out.get("reconstruction").unwrap().size(), [3, 6, 1, 16, 16]);
    let codes = out.get("codes").unwrap();
    assert_eq!((codes.size(), codes.kind()), (vec![3, 3, 4, 4], Kind::Int64));
    assert!(codes.min().int64_value(&[]) >= 0 && codes.max().int64_value(&[]) < 16);
    assert_eq!(out.get("latents").unwrap().size(), [3, 3, 4, 4, 4]);
    for stat in ["vq_loss", "code_usage", "perplexity"] {
        let s = out.get(stat).unwrap();
        assert_eq!(s.size(), [3], "{stat}");
        assert_eq!(s.double_value(&[0]), s.double_value(&[2]), "{stat} is the batch's, repeated");
    }
    let usage = out.get("code_usage").unwrap().double_value(&[0]);
    let distinct = codes.reshape([-1]).bincount::<Tensor>(None, 16).gt(0).sum(Kind::Int64).int64_value(&[]);
    assert!((usage - distinct as f64 / 16.0).abs() < 1e-6, "usage {usage} vs {distinct} distinct codes of 16");
    // the reconstruction loss reaches the encoder through the quantiser (straight-through)
    let loss = out.get("reconstruction").unwrap().square().mean(Kind::Float);
    loss.backward();
    let encoder_grad = vs.variables()["encoder.0.weight"].grad();
    assert!(encoder_grad.defined() && encoder_grad.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

#[test]
fn unused_codes_restart_from_encoder_outputs_in_training_only() {
    // A threshold no assignment average can reach: every code is dead after the first
    // training batch. (At 1.0, a code that happened to win ≥ 10 of this batch's latents
    // under the random init stayed alive, so the test depended on libtorch's global RNG,
    // which other tests' threads share: a failure seen in a clean-clone CI run.)
    let cfg = VqVideoTokenizerConfig { num_codes: 64, code_dim: 4, restart_threshold: 1e9, ..Default::default() };
    let (vs, tok) = tokenizer(cfg.clone());
    let codebook = || vs.variables()["quantizer.codebook"].copy();
    let before = codebook();
    let input = video(2, 4, 16);
    tok.forward(&input, false).unwrap();
    assert!(codebook().equal(&before), "eval mode must not touch the codebook");
    // all codes restart from encoder outputs, which lie in the encoder's range rather than
    // the tiny init range
    tok.forward(&input, true).unwrap();
    let after = codebook();
    assert!(!after.equal(&before));
    let latents = tok.forward(&input, false).unwrap().get("latents").unwrap().reshape([-1, 4]);
    let distance = |code: i64| (latents.shallow_clone() - after.get(code)).square().sum_dim_intlist(1, false, Kind::Float).min().double_value(&[]);
    assert!((0..64).all(|c| distance(c) < 1e-10), "each restarted code is one of the batch's encoder outputs");
    // without restarts the codebook only moves through the optimiser
    let (vs2, tok2) = tokenizer(VqVideoTokenizerConfig { restart_threshold: 0.0, ..cfg });
    let before = vs2.variables()["quantizer.codebook"].copy();
    tok2.forward(&input, true).unwrap();
    assert!(vs2.variables()["quantizer.codebook"].equal(&before));
}

#[test]
fn tokenizer_refuses_bad_configs_and_inputs() {
    let bad = VqVideoTokenizer::new(&nn::VarStore::new(Device::Cpu).root(), &VqVideoTokenizerConfig { image_size: 12, downsample: 3, ..Default::default() });
    assert!(bad.unwrap_err().to_string().contains("image_size"));
    let (_vs, tok) = tokenizer(Default::default());
    let odd_frames = tok.forward(&video(1, 3, 16), false).unwrap_err().to_string();
    assert!(odd_frames.contains("`video`") && odd_frames.contains("T even"), "{odd_frames}");
    let rgb = TensorMap::new().with("video", &Tensor::zeros([1, 4, 3, 16, 16], (Kind::Float, Device::Cpu)));
    assert!(tok.forward(&rgb, false).unwrap_err().to_string().contains("[B, T, 1, H, W]"));
}

fn bert() -> (nn::VarStore, VideoBert) {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = VideoBertConfig { text_vocab: 10, num_codes: 7, text_length: 4, video_length: 5, width: 16, layers: 1, heads: 2, mlp_ratio: 2.0 };
    let m = VideoBert::new(&vs.root(), &cfg).unwrap();
    (vs, m)
}

fn ids(rows: &[&[i64]]) -> Tensor {
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).view([rows.len() as i64, -1])
}

#[test]
fn videobert_sees_both_segments_and_masks_tokens() {
    let (_vs, m) = bert();
    let run = |text: &Tensor, video: &Tensor, masks: Option<(&Tensor, &Tensor)>| {
        let mut inputs = TensorMap::new().with("text", text).with("video", video);
        if let Some((tm, vm)) = masks {
            inputs = inputs.with("text_mask", tm).with("video_mask", vm);
        }
        m.forward(&inputs, false).unwrap()
    };
    let (text, video) = (ids(&[&[1, 4, 9, 0]]), ids(&[&[0, 6, 3, 3, 2]]));
    let out = run(&text, &video, None);
    assert_eq!(out.get("text_logits").unwrap().size(), [1, 4, 10]);
    assert_eq!(out.get("video_logits").unwrap().size(), [1, 5, 7]);
    assert_eq!(out.get("match_logits").unwrap().size(), [1, 2]);
    // bidirectional and joint: changing a video code changes the text logits and vice versa
    let other_video = run(&text, &ids(&[&[0, 6, 3, 3, 5]]), None);
    assert!(!out.get("text_logits").unwrap().allclose(other_video.get("text_logits").unwrap(), 1e-6, 1e-6, false));
    let other_text = run(&ids(&[&[2, 4, 9, 0]]), &video, None);
    assert!(!out.get("video_logits").unwrap().allclose(other_text.get("video_logits").unwrap(), 1e-6, 1e-6, false));
    // a masked token's identity is hidden: two inputs differing only at masked positions agree
    let (tm, vm) = (ids(&[&[0, 1, 0, 0]]), ids(&[&[0, 0, 0, 0, 1]]));
    let a = run(&ids(&[&[1, 4, 9, 0]]), &ids(&[&[0, 6, 3, 3, 2]]), Some((&tm, &vm)));
    let b = run(&ids(&[&[1, 7, 9, 0]]), &ids(&[&[0, 6, 3, 3, 6]]), Some((&tm, &vm)));
    for k in ["text_logits", "video_logits", "match_logits"] {
        assert!(a.get(k).unwrap().allclose(b.get(k).unwrap(), 1e-6, 1e-6, false), "{k}");
    }
    assert!(!a.get("text_logits").unwrap().allclose(out.get("text_logits").unwrap(), 1e-6, 1e-6, false), "masking changes the input");
}

#[test]
fn videobert_refuses_bad_inputs_naming_them() {
    let (_vs, m) = bert();
    let cases = [
        (TensorMap::new().with("text", &ids(&[&[1, 10]])).with("video", &ids(&[&[1]])), "`text` holds ids in [1, 10]"),
        (TensorMap::new().with("text", &ids(&[&[1]])).with("video", &ids(&[&[7]])), "`video` holds ids"),
        (TensorMap::new().with("text", &ids(&[&[1]])).with("video", &ids(&[&[1, 1, 1, 1, 1, 1]])), "`video` must be non-empty [B, L <= 5]"),
        (TensorMap::new().with("text", &ids(&[&[1], &[2]])).with("video", &ids(&[&[1]])), "`video` has batch 1 but `text` has 2"),
        (TensorMap::new().with("text", &ids(&[&[1, 2]])).with("video", &ids(&[&[1]])).with("text_mask", &ids(&[&[1]])), "`text_mask` [1, 1] must have the shape"),
    ];
    for (inputs, expected) in cases {
        let message = m.forward(&inputs, false).unwrap_err().to_string();
        assert!(message.contains(expected), "{message} should contain {expected}");
    }
}
