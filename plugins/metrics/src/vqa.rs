//! VQA soft accuracy with the official VQA answer normalisation (the `VQAEval` of the
//! VQA challenge, as shipped in LAVIS `vqa_tools/vqa_eval.py`).
//!
//! Normalisation of one answer, step by step as the official code does it:
//! 1. newlines and tabs become spaces; surrounding whitespace is stripped;
//! 2. punctuation `; / [ ] " { } ( ) = + \ _ - > < @ ` , ? !`: each mark is *deleted* when
//!    it appears next to a space anywhere in the answer (or when the answer contains a
//!    digit-comma-digit), otherwise *replaced by a space*;
//! 3. periods not followed by a digit are deleted (`3.5` keeps its period) — at most 32,
//!    because the official code passes `re.UNICODE` where `re.sub` expects its count;
//! 4. lowercase, split on whitespace, number words `none zero one … ten` → digits, the
//!    articles `a an the` dropped, apostrophe-less contractions restored (`dont` → `don't`),
//!    joined by single spaces.
//!
//! Accuracy of one question with m reference answers: for each annotator i, the fraction
//! `min(1, #{j ≠ i : ref_j = pred} / 3)`; averaged over the m leave-one-out subsets (m = 10
//! in VQA v2, i.e. the 10-choose-9 subsets). Unlike the official script we always
//! normalise the references too (the official script skips normalisation when all 10
//! answers agree; LAVIS only strips their punctuation). On VQA's annotations, which are
//! already normalised, all three agree; the parity test checks this against LAVIS.
//! Digits (`\d` in the official regexes) are tested with `char::is_numeric`, which equals
//! Python's `\d` on ASCII and on most scripts' decimal digits.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::Kind;
use plexus_plugin::{Error, Metric, Result, Scores, TensorMap};

const PUNCT: [char; 21] = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];
const NUMBER_WORDS: [(&str, &str); 12] = [
    ("none", "0"), ("zero", "0"), ("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5"),
    ("six", "6"), ("seven", "7"), ("eight", "8"), ("nine", "9"), ("ten", "10"),
];
const ARTICLES: [&str; 3] = ["a", "an", "the"];
/// The official period rule strips at most this many periods (see step 3).
const MAX_PERIODS_STRIPPED: usize = 32;

/// Step 2 and 3: punctuation and periods.
pub fn process_punctuation(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digit_comma_digit = chars.windows(3).any(|w| w[0].is_numeric() && w[1] == ',' && w[2].is_numeric());
    let spaced = |p: char| chars.windows(2).any(|w| (w[0] == p && w[1] == ' ') || (w[0] == ' ' && w[1] == p));
    let delete: Vec<char> = PUNCT.iter().copied().filter(|&p| digit_comma_digit || spaced(p)).collect();
    let replaced: Vec<char> = chars
        .iter()
        .filter_map(|&c| match PUNCT.contains(&c) {
            true if delete.contains(&c) => None,
            true => Some(' '),
            false => Some(c),
        })
        .collect();
    let mut out = String::with_capacity(replaced.len());
    let mut stripped = 0;
    for (i, &c) in replaced.iter().enumerate() {
        let next_digit = replaced.get(i + 1).is_some_and(|n| n.is_numeric());
        if c == '.' && !next_digit && stripped < MAX_PERIODS_STRIPPED {
            stripped += 1;
            continue;
        }
        out.push(c);
    }
    out
}

/// Step 4: lowercase, number words, articles, contractions.
pub fn process_digit_article(text: &str) -> String {
    let lower = text.to_lowercase();
    let words: Vec<&str> = crate::text::py_split(&lower)
        .map(|w| NUMBER_WORDS.iter().find(|(k, _)| *k == w).map_or(w, |(_, v)| v))
        .filter(|w| !ARTICLES.contains(w))
        .map(|w| CONTRACTIONS.binary_search_by(|(k, _)| k.cmp(&w)).map_or(w, |i| CONTRACTIONS[i].1))
        .collect();
    words.join(" ")
}

/// The whole official normalisation of one answer (steps 1–4).
pub fn vqa_normalize(answer: &str) -> String {
    let cleaned = answer.replace(['\n', '\t'], " ");
    let stripped = cleaned.trim_matches(crate::text::is_py_space);
    process_digit_article(&process_punctuation(stripped))
}

/// Soft accuracy of one *normalised* prediction against *normalised* references.
pub fn vqa_accuracy_normalized(pred: &str, refs: &[String]) -> f64 {
    if refs.is_empty() {
        return 0.0;
    }
    let matches = refs.iter().filter(|r| *r == pred).count();
    let per_annotator: f64 = refs
        .iter()
        .map(|r| {
            let others = matches - usize::from(r == pred); // leave annotator i out
            (others as f64 / 3.0).min(1.0)
        })
        .sum();
    per_annotator / refs.len() as f64
}

/// Mean VQA accuracy (in [0, 1]) and the per-question accuracies; answers are
/// normalised here. `refs[i]` are the annotators' answers to question i.
pub fn vqa_accuracy(preds: &[String], refs: &[Vec<String>]) -> Result<(f64, Vec<f64>)> {
    crate::text::check_counts(preds.len(), refs, "vqa")?;
    let per: Vec<f64> = preds
        .iter()
        .zip(refs)
        .map(|(p, rs)| {
            let rs: Vec<String> = rs.iter().map(|r| vqa_normalize(r)).collect();
            vqa_accuracy_normalized(&vqa_normalize(p), &rs)
        })
        .collect();
    if per.is_empty() {
        return Err(Error::other("vqa: no questions"));
    }
    Ok((per.iter().sum::<f64>() / per.len() as f64, per))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct VqaConfig {}

/// The `vqa_accuracy` component, over answer ids of a vocabulary of *normalised* answers
/// (normalise with [`vqa_normalize`] before building it, so equal ids mean equal answers).
#[derive(Debug)]
pub struct VqaAccuracy;

impl Metric for VqaAccuracy {
    /// Inputs: `pred_answers` `[N]` i64 and `ref_answers` `[N, R]` i64 (R annotators, 10 in
    /// VQA v2; a negative id marks a missing answer). Output: `vqa_acc` in [0, 1].
    fn compute(&self, inputs: &TensorMap) -> Result<Scores> {
        let (pred, refs) = (inputs.get("pred_answers")?, inputs.get("ref_answers")?);
        if pred.dim() != 1 || refs.dim() != 2 || refs.size()[0] != pred.size()[0] || pred.size()[0] == 0 {
            return Err(Error::shape(format!("vqa_accuracy: pred_answers {:?} must be [N], ref_answers {:?} [N, R]", pred.size(), refs.size())));
        }
        let p = Vec::<i64>::try_from(pred.to_kind(Kind::Int64)).map_err(Error::from)?;
        let r = Vec::<i64>::try_from(refs.to_kind(Kind::Int64).flatten(0, -1)).map_err(Error::from)?;
        let width = refs.size()[1].max(1) as usize;
        let total: f64 = p
            .iter()
            .zip(r.chunks(width))
            .map(|(&a, row)| {
                let row: Vec<String> = row.iter().filter(|&&x| x >= 0).map(|x| x.to_string()).collect();
                vqa_accuracy_normalized(&a.to_string(), &row)
            })
            .sum();
        Ok(vec![("vqa_acc".into(), total / p.len() as f64)])
    }
}

/// The official contraction table (sorted by key for binary search).
const CONTRACTIONS: &[(&str, &str)] = &[
    ("'ow'sat", "'ow's'at"), ("'ows'at", "'ow's'at"), ("I'dve", "I'd've"), ("Id've", "I'd've"), ("Im", "I'm"),
    ("Ive", "I've"), ("aint", "ain't"), ("arent", "aren't"), ("cant", "can't"), ("couldn'tve", "couldn't've"),
    ("couldnt", "couldn't"), ("couldnt've", "couldn't've"), ("couldve", "could've"), ("didnt", "didn't"),
    ("doesnt", "doesn't"), ("dont", "don't"), ("hadn'tve", "hadn't've"), ("hadnt", "hadn't"),
    ("hadnt've", "hadn't've"), ("hasnt", "hasn't"), ("havent", "haven't"), ("he'dve", "he'd've"), ("hed", "he'd"),
    ("hed've", "he'd've"), ("hes", "he's"), ("howd", "how'd"), ("howll", "how'll"), ("hows", "how's"),
    ("isnt", "isn't"), ("it'dve", "it'd've"), ("itd", "it'd"), ("itd've", "it'd've"), ("itll", "it'll"),
    ("let's", "let's"), ("maam", "ma'am"), ("mightn'tve", "mightn't've"), ("mightnt", "mightn't"),
    ("mightnt've", "mightn't've"), ("mightve", "might've"), ("mustnt", "mustn't"), ("mustve", "must've"),
    ("neednt", "needn't"), ("notve", "not've"), ("oclock", "o'clock"), ("oughtnt", "oughtn't"),
    ("ow's'at", "'ow's'at"), ("shant", "shan't"), ("she'dve", "she'd've"), ("she's", "she's"),
    ("shed've", "she'd've"), ("shouldn'tve", "shouldn't've"), ("shouldnt", "shouldn't"),
    ("shouldnt've", "shouldn't've"), ("shouldve", "should've"), ("somebody'd", "somebodyd"),
    ("somebody'dve", "somebody'd've"), ("somebodyd've", "somebody'd've"), ("somebodyll", "somebody'll"),
    ("somebodys", "somebody's"), ("someone'dve", "someone'd've"), ("someoned", "someone'd"),
    ("someoned've", "someone'd've"), ("someonell", "someone'll"), ("someones", "someone's"),
    ("something'dve", "something'd've"), ("somethingd", "something'd"), ("somethingd've", "something'd've"),
    ("somethingll", "something'll"), ("thats", "that's"), ("there'dve", "there'd've"), ("thered", "there'd"),
    ("thered've", "there'd've"), ("therere", "there're"), ("theres", "there's"), ("they'dve", "they'd've"),
    ("theyd", "they'd"), ("theyd've", "they'd've"), ("theyll", "they'll"), ("theyre", "they're"),
    ("theyve", "they've"), ("twas", "'twas"), ("wasnt", "wasn't"), ("we'dve", "we'd've"), ("wed've", "we'd've"),
    ("werent", "weren't"), ("weve", "we've"), ("whatll", "what'll"), ("whatre", "what're"), ("whats", "what's"),
    ("whatve", "what've"), ("whens", "when's"), ("whered", "where'd"), ("wheres", "where's"),
    ("whereve", "where've"), ("who'dve", "who'd've"), ("whod", "who'd"), ("whod've", "who'd've"),
    ("wholl", "who'll"), ("whos", "who's"), ("whove", "who've"), ("whyll", "why'll"), ("whyre", "why're"),
    ("whys", "why's"), ("wont", "won't"), ("wouldn'tve", "wouldn't've"), ("wouldnt", "wouldn't"),
    ("wouldnt've", "wouldn't've"), ("wouldve", "would've"), ("y'all'dve", "y'all'd've"), ("y'alld've", "y'all'd've"),
    ("y'allll", "y'all'll"), ("yall", "y'all"), ("yall'd've", "y'all'd've"), ("yall'll", "y'all'll"),
    ("you'dve", "you'd've"), ("youd", "you'd"), ("youd've", "you'd've"), ("youll", "you'll"), ("youre", "you're"),
    ("youve", "you've"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted() {
        assert!(CONTRACTIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    // Expectations derived from the rules in the module docs.
    #[test]
    fn normalises_like_the_official_rules() {
        assert_eq!(vqa_normalize("  Two dogs!\n"), "2 dogs");
        assert_eq!(vqa_normalize("The Red-Ball"), "red ball"); // '-' not next to a space → space
        assert_eq!(vqa_normalize("yes - no"), "yes no"); // next to a space → deleted
        assert_eq!(vqa_normalize("1,000 cats, maybe"), "1000 cats maybe"); // digit,digit → all deleted
        assert_eq!(vqa_normalize("3.5 ft."), "3.5 ft");
        assert_eq!(vqa_normalize("dont know"), "don't know");
        assert_eq!(vqa_normalize("an apple"), "apple");
        assert_eq!(vqa_normalize("none"), "0");
    }

    #[test]
    fn accuracy_counts_leave_one_out_matches() {
        let refs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // 2 of 10 say "yes": annotators saying yes see 1 other (1/3), the 8 others see 2 (2/3).
        let r = refs(&["yes", "yes", "no", "no", "no", "no", "no", "no", "no", "no"]);
        let expected = (2.0 * (1.0 / 3.0) + 8.0 * (2.0 / 3.0)) / 10.0;
        assert!((vqa_accuracy_normalized("yes", &r) - expected).abs() < 1e-12);
        assert_eq!(vqa_accuracy_normalized("maybe", &r), 0.0);
        let three = refs(&["yes", "yes", "yes", "no", "no", "no", "no", "no", "no", "no"]);
        // 3 agree: the 7 others see 3 matches (1.0), the 3 see 2 (2/3).
        assert!((vqa_accuracy_normalized("yes", &three) - (7.0 + 3.0 * 2.0 / 3.0) / 10.0).abs() < 1e-12);
    }
}
