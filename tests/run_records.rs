//! Run records: manifest contents and `plexus runs list|show|compare`.
use plexus_tests::{plexus, read_json, stdout_stderr, Experiment};

#[test]
fn manifest_records_what_ran() {
    let exp = Experiment::tiny();
    let out = exp.run(&["train.epochs=1", "seed=7"]);
    assert!(out.status.success(), "{}", stdout_stderr(&out));
    let run = exp.only_run_dir();
    let m = read_json(&run.join("manifest.json"));
    assert_eq!(m["seed"], 7);
    assert_eq!(m["device"], "cpu");
    assert_eq!(m["libtorch_version"], "2.11.0");
    let cmd: Vec<&str> = m["command_line"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(cmd.contains(&"seed=7") && cmd.contains(&"run"), "{cmd:?}");
    let script_hash = plexus::manifest::sha256_file(&exp.path().join("clip.rhai")).unwrap();
    assert_eq!(m["files"]["script"]["sha256"], script_hash.as_str());
    assert!(m["plugins"].as_array().unwrap().iter().all(|p| p["sha256"].as_str().is_some_and(|h| h.len() == 64)));
    let summary = read_json(&run.join("summary.json"));
    let protocol = summary["protocols"]["zero_shot_top1"].as_str().unwrap();
    assert!(protocol.contains("fashion_mnist test: 200 images") && protocol.contains("10 classes x 2 templates"), "{protocol}");
}

#[test]
fn runs_list_show_and_compare() {
    let exp = Experiment::tiny();
    for args in [vec!["train.epochs=1"], vec!["train.epochs=1", "train.lr=0.001"]] {
        assert!(exp.run(&args).status.success());
    }
    exp.edit("tiny.yaml", "      - \"a picture of a {}.\"", "      - \"a picture of a {}.\"\n      - \"an image of a {}.\"");
    assert!(exp.run(&["train.epochs=1"]).status.success());
    let runs = exp.run_dirs();

    let list = stdout_stderr(&plexus(exp.path(), &["runs", "list"]));
    assert_eq!(list.lines().filter(|l| l.contains("completed")).count(), 3, "{list}");
    assert!(list.contains("i2t_mrr="), "{list}");

    let show = stdout_stderr(&plexus(exp.path(), &["runs", "show", runs[0].to_str().unwrap()]));
    assert!(show.contains("status     completed") && show.contains("zero_shot_top1"), "{show}");

    let (a, b, c) = (runs[0].to_str().unwrap(), runs[1].to_str().unwrap(), runs[2].to_str().unwrap());
    let out = plexus(exp.path(), &["runs", "compare", a, b]);
    let text = stdout_stderr(&out);
    assert!(out.status.success(), "{text}");
    let lr_line = text.lines().find(|l| l.starts_with("train.lr")).unwrap_or_else(|| panic!("no train.lr row: {text}"));
    assert!(lr_line.contains("0.003") && lr_line.contains("0.001"), "{lr_line}");
    assert!(!text.contains("train.epochs"), "equal keys are not listed: {text}");
    assert!(!text.contains("different protocols"), "{text}");

    let text = stdout_stderr(&plexus(exp.path(), &["runs", "compare", a, c]));
    assert!(text.contains("warning: `zero_shot_top1` was measured under different protocols"), "{text}");

    let err = stdout_stderr(&plexus(exp.path(), &["runs", "show", "no-such-run"]));
    assert!(err.contains("no-such-run: not a run folder"), "{err}");
}
