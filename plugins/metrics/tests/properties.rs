//! Invariants of the metrics, checked on random inputs (proptest).
use plexus_metrics::{bleu, caption_scores_ids, cer, cider_d_ids, ptb_tokenize, retrieval_from_sims, rouge_l, vqa_accuracy, wer, CaptionMetric, PUNCTUATIONS};
use plexus_plugin::tch::Tensor;
use proptest::prelude::*;

fn get(scores: &[(String, f64)], name: &str) -> f64 {
    scores.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name}")).1
}

/// `(Q, N, similarities, relevant sets)` with 1..=3 relevant items per query.
fn retrieval_case() -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<Vec<i64>>)> {
    (1usize..12, 1usize..15).prop_flat_map(|(q, n)| {
        (
            Just(q),
            Just(n),
            prop::collection::vec(-1.0f32..1.0, q * n),
            prop::collection::vec(prop::collection::btree_set(0..n as i64, 1..=3.min(n)), q),
        )
            .prop_map(|(q, n, s, r)| (q, n, s, r.into_iter().map(|x| x.into_iter().collect()).collect()))
    })
}

/// A sentence of 4..12 words from a small vocabulary (so n-grams repeat).
fn words(min: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(vec!["a", "dog", "runs", "on", "the", "grass", "red", "ball"]), min..12)
        .prop_map(|w| w.into_iter().map(String::from).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn recall_is_monotone_in_k_and_bounded_and_mrr_dominates_r1((q, n, sims, relevant) in retrieval_case()) {
        let ks: Vec<i64> = (1..=n as i64).collect();
        let t = Tensor::from_slice(&sims).reshape([q as i64, n as i64]);
        let s = retrieval_from_sims(&t, &relevant, &ks, 4).unwrap();
        for (name, v) in &s {
            if name == "medr" {
                prop_assert!(*v >= 1.0 && *v <= n as f64, "medr {v}");
            } else {
                prop_assert!((0.0..=1.0).contains(v), "{name} = {v}");
            }
        }
        let at = |prefix: &str, k: usize| get(&s, &(prefix.to_string() + &k.to_string()));
        for k in 1..n {
            prop_assert!(at("r", k + 1) >= at("r", k));
            prop_assert!(at("recall", k + 1) >= at("recall", k));
        }
        prop_assert!(get(&s, "mrr") >= get(&s, "r1"));
        prop_assert_eq!(at("r", n), 1.0);
        prop_assert!((at("recall", n) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn vqa_accuracy_is_bounded_and_full_from_four_agreeing_annotators(
        answers in prop::collection::vec(prop::sample::select(vec!["yes", "no", "Two", "2", "a dog", "dog", "red."]), 10),
        pred in prop::sample::select(vec!["yes", "no", "2", "dog", "blue"]),
    ) {
        let refs: Vec<String> = answers.iter().map(|s| s.to_string()).collect();
        let (acc, _) = vqa_accuracy(&[pred.to_string()], &[refs.clone()]).unwrap();
        prop_assert!((0.0..=1.0).contains(&acc));
        // "Two" ≡ "2", "a dog" ≡ "dog", "red." ≡ "red" after normalisation.
        let agreeing = refs.iter().filter(|r| plexus_metrics::vqa_normalize(r) == pred).count();
        match agreeing {
            // Every leave-one-out subset of 9 still holds ≥ 3 matches.
            4.. => prop_assert_eq!(acc, 1.0),
            // Exactly 3: the 3 subsets that drop an agreeing annotator see 2 → (7 + 3·2/3)/10.
            // (So "1 when 3 annotators agree" holds only for the simplified min(1, n/3).)
            3 => prop_assert!((acc - 0.9).abs() < 1e-12),
            0 => prop_assert_eq!(acc, 0.0),
            _ => prop_assert!(acc > 0.0 && acc < 1.0),
        }
    }

    #[test]
    fn candidate_identical_to_a_reference_scores_maximal_bleu_and_rouge(
        corpus in prop::collection::vec((words(4), prop::collection::vec(words(1), 0..4)), 1..6),
    ) {
        // Each candidate equals one of its references; the other references are arbitrary.
        let cands: Vec<String> = corpus.iter().map(|(c, _)| c.join(" ")).collect();
        let refs: Vec<Vec<String>> = corpus
            .iter()
            .map(|(c, others)| std::iter::once(c.join(" ")).chain(others.iter().map(|o| o.join(" "))).collect())
            .collect();
        let b = bleu(&cands, &refs).unwrap();
        for (n, v) in b.corpus.iter().enumerate() {
            prop_assert!((v - 1.0).abs() < 1e-6, "bleu_{} = {v}", n + 1);
        }
        let (r, per) = rouge_l(&cands, &refs).unwrap();
        prop_assert!((r - 1.0).abs() < 1e-12 && per.iter().all(|x| (x - 1.0).abs() < 1e-12), "rouge {r}");
    }

    #[test]
    fn caption_scores_are_non_negative_and_bounded(
        corpus in prop::collection::vec((prop::collection::vec(1u32..6, 0..8), prop::collection::vec(prop::collection::vec(1u32..6, 1..8), 1..4)), 1..8),
    ) {
        let cands: Vec<Vec<u32>> = corpus.iter().map(|c| c.0.clone()).collect();
        let refs: Vec<Vec<Vec<u32>>> = corpus.iter().map(|c| c.1.clone()).collect();
        for (name, v) in caption_scores_ids(CaptionMetric::All, &cands, &refs) {
            prop_assert!(v.is_finite() && v >= 0.0, "{name} = {v}");
            if name != "cider" {
                prop_assert!(v <= 1.0 + 1e-9, "{name} = {v}");
            }
        }
        // CIDEr-D's clipping bounds each order's cosine by 1, so a score is at most 10.
        prop_assert!(cider_d_ids(&cands, &refs).1.iter().all(|&c| c <= 10.0 + 1e-9));
    }

    #[test]
    fn error_rates_vanish_on_identity_and_are_non_negative(
        pairs in prop::collection::vec(("[a-c ]{0,12}", "[a-c ]{1,12}"), 1..6),
    ) {
        let refs: Vec<String> = pairs.iter().map(|p| p.1.clone()).collect();
        let hyps: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
        prop_assert_eq!(cer(&refs, &refs).unwrap(), 0.0);
        prop_assert!(cer(&hyps, &refs).unwrap() >= 0.0);
        if refs.iter().any(|r| !r.trim().is_empty()) {
            prop_assert_eq!(wer(&refs, &refs).unwrap(), 0.0);
        }
    }

    #[test]
    fn tokenizer_output_is_lowercase_single_spaced_without_removed_punctuation(s in "[A-Za-z0-9 .,;:!?'\"()-]{0,40}") {
        let t = ptb_tokenize(&s);
        prop_assert_eq!(t.to_lowercase(), t.clone());
        prop_assert!(!t.starts_with(' ') && !t.ends_with(' ') && !t.contains("  "), "{t:?}");
        for tok in t.split(' ').filter(|x| !x.is_empty()) {
            prop_assert!(!PUNCTUATIONS.contains(&tok), "{tok:?} in {t:?}");
        }
    }
}
