//! The generic-module path end to end, from Rhai: an `mlp_projector` maps per-example
//! "image" features to a prefix, a `causal_lm` conditioned on it is trained with
//! `loss("lm_cross_entropy")` and `opt.step` to memorise three sequences that share their
//! first token (only the prefix tells them apart), then generates them greedily.
use plexus_tests::{plexus, read_json, stdout_stderr};

const SCRIPT: &str = r#"
let proj = build_module("mlp_projector", #{ in_dim: 4, out_dim: 32 }, "projector");
let lm = build_module("causal_lm", #{ vocab_size: 16, context_length: 12, width: 32, layers: 2, heads: 4 }, "lm");
let ce = loss("lm_cross_entropy", #{});
// [3 examples, 2 feature vectors, 4]: the only difference between the sequences
let features = [[[0.5, -1.0, 0.2, 0.9], [0.0, 0.3, -0.4, 1.0]],
                [[-0.7, 0.8, 1.0, -0.2], [0.6, -0.5, 0.1, 0.0]],
                [[0.1, 0.1, -0.9, -0.6], [-1.0, 0.4, 0.7, 0.3]]];
let sequences = [[1, 5, 9, 3, 7, 2], [1, 8, 4, 10, 6, 11], [1, 12, 13, 14, 15, 3]];
let inputs = [];
let targets = [];
let expected = [];
for s in sequences { inputs.push(s.extract(0, 5)); targets += s.extract(1, 5); expected.push(s.extract(1, 5)); }
let target_ids = tensor(targets).reshape([3, 5]).long();        // [3, 5] i64, next tokens

fn exact(generated, expected) {
    let hits = 0;
    for i in 0..expected.len() { if generated[i] == expected[i] { hits += 1; } }
    hits / expected.len().to_float()
}
let generate = || no_grad(|| {
    let prefix = proj.forward(#{ features: features }).tokens;  // [3, 2, 32]
    lm.forward(#{ tokens: [[1], [1], [1]], prefix: prefix, max_new_tokens: 5 }).generated.to_list()
});
let before = exact(generate.call(), expected);

let opt = optimizer(#{ lr: 0.003, epochs: 1, batch_size: 3, warmup_steps: 0, schedule: "constant", weight_decay: 0.0 }, 300);
let first = 0.0;
let last = 0.0;
for i in 0..300 {
    let prefix = proj.forward(#{ features: features }).tokens;
    let logits = lm.forward(#{ tokens: inputs, prefix: prefix }).logits;   // [3, 5, 16]
    last = opt.step(ce.compute(#{ logits: logits, targets: target_ids }).loss);
    if i == 0 { first = last; }
}
let generated = generate.call();
print(`generated ${generated}`);
summary(#{ first: first, last: last, exact_before: before, exact_after: exact(generated, expected) });
"#;

#[test]
fn a_prefix_conditioned_causal_lm_trained_from_rhai_generates_its_sequences() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lm.rhai"), SCRIPT).unwrap();
    std::fs::write(dir.path().join("lm.yaml"), "name: memorise\nseed: 5\nthreads: 1\n").unwrap();
    let out = plexus(dir.path(), &["run", "lm.rhai", "--config", "lm.yaml"]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    let m = &read_json(&runs[0].join("summary.json"))["metrics"];
    let metric = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("no metric `{k}` in {m}"));
    assert!(metric("exact_before") < 1.0, "an untrained model already generates the sequences: {text}");
    assert!(metric("last") < 0.05 * metric("first"), "loss {} → {}", metric("first"), metric("last"));
    assert_eq!(metric("exact_after"), 1.0, "{text}");
    assert!(text.contains("generated [[5, 9, 3, 7, 2], [8, 4, 10, 6, 11], [12, 13, 14, 15, 3]]"), "{text}");
}

#[test]
fn module_misuse_is_a_script_error_naming_the_line() {
    let cases = [
        ("let m = build_module(\"mlp_projektor\", #{});", "lm.rhai:1", "mlp_projector"),
        ("let m = build_module(\"mlp_projector\", #{ in_dimm: 3 });", "lm.rhai:1", "in_dimm"),
        ("let m = build_module(\"mlp_projector\", #{ in_dim: 3 });\nlet y = m.forward(#{ features: [[1.0, 2.0]] });", "lm.rhai:2", "last dimension 3"),
        ("let m = build_module(\"causal_lm\", #{});\nlet y = m.forward(#{ tokens: [[1, 2], [3]] });", "lm.rhai:2", "rectangular"),
        ("let m = build_module(\"causal_lm\", #{});\nlet y = m.forward(#{ tokens: [[1, 99]] });", "lm.rhai:2", "outside the vocabulary"),
    ];
    for (script, at, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lm.rhai"), script).unwrap();
        std::fs::write(dir.path().join("lm.yaml"), "name: misuse\nseed: 1\nthreads: 1\n").unwrap();
        let out = plexus(dir.path(), &["run", "lm.rhai", "--config", "lm.yaml"]);
        let text = stdout_stderr(&out);
        assert!(!out.status.success(), "{script}: {text}");
        assert!(text.contains(at) && text.contains(message), "{script}: expected `{at}` and `{message}` in:\n{text}");
    }
}
