//! The contrastive-family losses drop into the default script in place of `clip`: the
//! trainer passes `image_embeds` and `text_embeds`, and each trains the toy experiment.
use plexus_tests::{read_json, stdout_stderr, Experiment};

const CLIP_LINE: &str = r#"loss("clip", cfg.loss, "clip_loss")"#;

/// Runs the tiny experiment with `loss_call` instead of the clip loss; returns the summary
/// metrics and the epoch losses in order.
fn train_with(loss_call: &str) -> (serde_json::Value, Vec<f64>) {
    let exp = Experiment::tiny();
    exp.edit("clip.rhai", CLIP_LINE, loss_call);
    let out = exp.run(&[]);
    assert!(out.status.success(), "{loss_call}: {}", stdout_stderr(&out));
    let run = exp.only_run_dir();
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["status"], "completed", "{summary}");
    let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let epoch_losses = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap().get("train/epoch_loss").and_then(|v| v.as_f64()))
        .collect();
    (summary["metrics"].clone(), epoch_losses)
}

#[test]
fn siglip_trains_the_dual_encoder() {
    let (metrics, losses) = train_with(r#"loss("siglip", #{}, "siglip_loss")"#);
    assert!(losses.len() == 2 && losses[1] < losses[0], "epoch losses {losses:?}");
    // Ten classes: chance is 0.1. SigLIP starts from b = -10 (every pair "negative"), so
    // its 20 steps get less far than clip's; twice chance is the bar here.
    let zero_shot = metrics["zero_shot_top1"].as_f64().unwrap();
    assert!(zero_shot >= 0.2, "zero-shot top-1 {zero_shot} with siglip");
}

#[test]
fn audioclip_on_image_and_text_trains_like_clip() {
    let (metrics, losses) = train_with(r#"loss("audioclip", cfg.loss, "audioclip_loss")"#);
    assert!(losses.len() == 2 && losses[1] < losses[0], "epoch losses {losses:?}");
    assert!(metrics["zero_shot_top1"].as_f64().unwrap() >= 0.5, "{metrics}");
}

#[test]
fn itm_trains_its_pair_head_on_the_embeddings() {
    // The tiny config's towers output 32-wide embeddings.
    let (_, losses) = train_with(r#"loss("itm", #{ embed_dim: 32, hidden_dim: 16 }, "itm_loss")"#);
    assert!(losses.len() == 2 && losses.iter().all(|l| l.is_finite()), "epoch losses {losses:?}");
    // Chance for the two-class head is ln 2.
    assert!(losses[1] < std::f64::consts::LN_2, "epoch losses {losses:?}");
}
