//! Evaluation metrics for plexus: zero-shot classification, retrieval, caption metrics
//! (BLEU, ROUGE-L, CIDEr-D with PTB-style tokenisation), VQA accuracy, WER/CER, accuracy
//! and macro-F1.
//!
//! Each is a `metric` component over tensors (see each type's `compute` docs for input
//! names and shapes). The text metrics are also plain functions on strings ([`bleu`],
//! [`rouge_l`], [`cider_d`], [`caption_scores`], [`vqa_accuracy`], [`wer`], [`cer`],
//! [`retrieval_from_sims`]) that the host's `plexus score` command links as an rlib.
mod bleu;
mod caption;
mod cider;
mod classification;
mod edit;
mod ptb;
mod retrieval;
mod rouge;
pub mod text;
mod vqa;
mod zero_shot;

use plexus_plugin::{Registrar, Result};

fn register(r: &mut Registrar) -> Result<()> {
    r.metric(
        "zero_shot",
        "Zero-shot top-k accuracy against class prompts, ensembled over caption templates",
        |_, cfg: &zero_shot::ZeroShotConfig| Ok(zero_shot::ZeroShot::new(cfg)),
    );
    r.metric(
        "retrieval",
        "Image↔text retrieval R@k, MRR and median rank by cosine similarity, with relevance groups (several positives per query)",
        |_, cfg: &retrieval::RetrievalConfig| retrieval::Retrieval::new(cfg),
    );
    let captions = [
        ("bleu", CaptionMetric::Bleu, "BLEU-1..4 over token ids (pycocoevalcap: corpus-level, closest reference length)"),
        ("rouge_l", CaptionMetric::RougeL, "ROUGE-L F-score over token ids (pycocoevalcap: β = 1.2, mean over candidates)"),
        ("cider", CaptionMetric::Cider, "CIDEr-D over token ids (pycocoevalcap: σ = 6, clipping, ×10, df from the references)"),
        ("caption", CaptionMetric::All, "BLEU-1..4, ROUGE-L and CIDEr-D over token ids"),
    ];
    for (name, which, doc) in captions {
        r.metric(name, doc, move |_, _: &caption::CaptionConfig| Ok(Caption { which }));
    }
    r.metric("vqa_accuracy", "VQA soft accuracy (mean over leave-one-annotator-out subsets of min(1, matches/3)) over answer ids", |_, _: &vqa::VqaConfig| {
        Ok(vqa::VqaAccuracy)
    });
    r.metric("wer", "Word error rate: Σ Levenshtein distance / Σ reference length, over token ids", |_, _: &edit::ErrorRateConfig| {
        Ok(edit::ErrorRate { name: "wer" })
    });
    r.metric("cer", "Character error rate: as wer, over character ids", |_, _: &edit::ErrorRateConfig| {
        Ok(edit::ErrorRate { name: "cer" })
    });
    r.metric("classification", "Accuracy and macro-F1 from logits or predicted labels", |_, _: &classification::ClassificationConfig| {
        Ok(classification::Classification)
    });
    Ok(())
}

plexus_plugin::export_plugin!(register);

pub use bleu::{bleu, bleu_ids, BleuScores};
pub use caption::{caption_scores, caption_scores_ids, Caption, CaptionMetric};
pub use cider::{cider_d, cider_d_ids, cider_d_ids_with};
pub use classification::{accuracy, macro_f1, Classification};
pub use edit::{cer, error_rate, levenshtein, wer, ErrorRate};
pub use ptb::{ptb_tokenize, ptb_tokenize_all, PUNCTUATIONS};
pub use retrieval::{retrieval_from_sims, Retrieval, RetrievalConfig};
pub use rouge::{lcs_len, rouge_l, rouge_l_ids, rouge_l_one};
pub use vqa::{process_digit_article, process_punctuation, vqa_accuracy, vqa_accuracy_normalized, vqa_normalize, VqaAccuracy};
pub use zero_shot::{ZeroShot, ZeroShotConfig};

use plexus_plugin::tch::Tensor;

/// Rows scaled to unit L2 norm: `[N, D]` → `[N, D]`.
pub(crate) fn l2_normalize(t: &Tensor) -> Tensor {
    t / t.norm_scalaropt_dim(2.0, [-1], true).clamp_min(1e-12)
}
