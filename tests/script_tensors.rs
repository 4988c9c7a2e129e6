//! Script-driven training loops (`optimizer`, `opt.step`, tensors, `linear`, `no_grad`):
//! a linear regression written in Rhai converges, and misuse is a script error with the
//! line, not a crash.
use plexus_tests::{plexus, read_json, stdout_stderr};

fn run_script(script: &str) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exp.rhai"), script).unwrap();
    std::fs::write(dir.path().join("exp.yaml"), "name: tensors\nseed: 3\nthreads: 1\n").unwrap();
    let out = plexus(dir.path(), &["run", "exp.rhai", "--config", "exp.yaml"]);
    (out, dir)
}

#[test]
fn a_linear_regression_written_in_rhai_converges() {
    let (out, dir) = run_script(
        r#"
        let layer = linear(1, 1, "regression");
        let opt = optimizer(#{ lr: 0.1, epochs: 1, batch_size: 4, warmup_steps: 0, schedule: "constant", weight_decay: 0.0 }, 300);
        let x = tensor([0.0, 1.0, 2.0, 3.0]).reshape([4, 1]);
        let y = x * 3.0 + 1.0;
        let first = 0.0;
        let last = 0.0;
        for i in 0..300 {
            let d = layer.forward(x) - y;
            last = opt.step((d * d).mean());
            if i == 0 { first = last; }
        }
        let eval_loss = no_grad(|| { let d = layer.forward(x) - y; (d * d).mean().item() });
        summary(#{ first: first, last: last, eval_loss: eval_loss, steps: opt.step });
        "#,
    );
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    let m = &read_json(&runs[0].join("summary.json"))["metrics"];
    let (first, last, eval) = (m["first"].as_f64().unwrap(), m["last"].as_f64().unwrap(), m["eval_loss"].as_f64().unwrap());
    assert_eq!(m["steps"], 300);
    assert!(first > 1.0 && last < 1e-3 * first, "loss {first} → {last}");
    assert!(eval < 1e-2, "no_grad evaluation of the trained layer: {eval}");
}

#[test]
fn misuse_is_a_script_error_naming_the_line() {
    let cases = [
        ("let a = tensor([1.0, 2.0]);\nlet b = tensor([1.0, 2.0, 3.0]);\nlet c = a.matmul(b);", "exp.rhai:3", "matmul"),
        (
            "let l = linear(2, 1, \"h\");\nlet opt = optimizer(#{ epochs: 1, batch_size: 2 }, 1);\nopt.step(tensor([1.0, 2.0]));",
            "exp.rhai:3",
            "expected a scalar loss",
        ),
        ("let opt = optimizer(#{ epochs: 1, batch_size: 2 }, 1);", "exp.rhai:1", "no parameters yet"),
        ("let l = linear(2, 1, \"h\");\nlet opt = optimizer(#{ epochs: 1, batch_size: 2, lrr: 0.1 }, 1);", "exp.rhai:2", "lrr"),
        ("let l = linear(0, 1, \"h\");", "exp.rhai:1", "dimensions must be >= 1"),
        ("let t = tensor([1.0, \"x\"]);", "exp.rhai:1", "expected numbers"),
    ];
    for (script, at, message) in cases {
        let (out, _dir) = run_script(script);
        let text = stdout_stderr(&out);
        assert!(!out.status.success(), "{script}: should fail\n{text}");
        assert!(text.contains(at) && text.contains(message), "{script}: expected `{at}` and `{message}` in\n{text}");
        assert!(!text.contains("panicked"), "{text}");
    }
}
