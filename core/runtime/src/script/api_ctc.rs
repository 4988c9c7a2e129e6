//! CTC from scripts: transcripts → padded target ids, greedy (best-path) decoding of
//! per-frame logits, and ids back to text. Ids are 1-based positions in a vocabulary array
//! of words (or characters); 0 is the CTC blank and also the padding, which is what the
//! `ctc` loss (`blank: 0`) and the `wer`/`cer` metrics (0 = padding) expect.
//!
//! `ctc_targets(texts, vocab)` → `#{targets: [N, S] i64, lengths: [N] i64}`,
//! `ctc_greedy(logits)` → `[N, L]` i64, `ctc_texts(ids, vocab)` → array of strings.
use rhai::{Array, Dynamic, Engine, Map};
use tch::{Kind, Tensor};

use super::api_tensor::TensorValue;
use super::convert::{rt, RhaiResult};
use super::Shared;

fn vocabulary(vocab: &Array) -> RhaiResult<Vec<String>> {
    let words: Vec<String> = vocab
        .iter()
        .map(|d| d.clone().into_string().map_err(|t| rt(format!("ctc vocabulary: expected strings, found {t}"))))
        .collect::<RhaiResult<_>>()?;
    if words.is_empty() {
        return Err(rt("ctc vocabulary: empty (give the words, or characters, the model can emit)"));
    }
    Ok(words)
}

/// Each text split on whitespace, every token looked up in `vocab` (1-based).
pub fn target_ids(texts: &[String], vocab: &[String]) -> Result<Vec<Vec<i64>>, String> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            text.split_whitespace()
                .map(|w| match vocab.iter().position(|v| v == w) {
                    Some(p) => Ok(p as i64 + 1),
                    None => Err(format!("ctc_targets: text {i} ({text:?}) has `{w}`, which is not in the vocabulary {vocab:?}")),
                })
                .collect::<Result<Vec<i64>, String>>()
        })
        .collect()
}

/// Best path: the most likely class per frame, repeats merged, blanks (0) removed.
pub fn greedy_ids(best: &[i64]) -> Vec<i64> {
    let mut out = Vec::new();
    let mut previous = 0;
    for &c in best {
        if c != 0 && c != previous {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// Rows of ids as one `[N, max(1, longest)]` i64 tensor, padded with 0.
fn padded(rows: &[Vec<i64>]) -> Tensor {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut flat = vec![0i64; rows.len() * width];
    for (r, row) in rows.iter().enumerate() {
        flat[r * width..r * width + row.len()].copy_from_slice(row);
    }
    Tensor::from_slice(&flat).view([rows.len() as i64, width as i64])
}

pub fn register(engine: &mut Engine, session: &Shared) {
    let s = session.clone();
    engine
        .register_fn("ctc_targets", move |texts: Array, vocab: Array| -> RhaiResult<Map> {
            let texts: Vec<String> = texts.into_iter().map(|d| if d.is_unit() { String::new() } else { d.to_string() }).collect();
            let rows = target_ids(&texts, &vocabulary(&vocab)?).map_err(rt)?;
            let device = s.borrow().device;
            let lengths: Vec<i64> = rows.iter().map(|r| r.len() as i64).collect();
            let mut out = Map::new();
            out.insert("targets".into(), Dynamic::from(TensorValue(padded(&rows).to_device(device)))); // [N, S]
            out.insert("lengths".into(), Dynamic::from(TensorValue(Tensor::from_slice(&lengths).to_device(device)))); // [N]
            Ok(out)
        })
        .register_fn("ctc_greedy", |logits: TensorValue| -> RhaiResult<TensorValue> {
            let size = logits.0.size();
            if size.len() != 3 || size[2] < 2 {
                return Err(rt(format!("ctc_greedy: logits must be [N, T, C] with C >= 2 (blank = 0), got {size:?}")));
            }
            let best = logits.0.argmax(-1, false).to_device(tch::Device::Cpu).to_kind(Kind::Int64); // [N, T]
            let best = Vec::<Vec<i64>>::try_from(&best).map_err(rt)?;
            let rows: Vec<Vec<i64>> = best.iter().map(|r| greedy_ids(r)).collect();
            Ok(TensorValue(padded(&rows).to_device(logits.0.device()))) // [N, L]
        })
        .register_fn("ctc_texts", |ids: TensorValue, vocab: Array| -> RhaiResult<Array> {
            let vocab = vocabulary(&vocab)?;
            if ids.0.dim() != 2 {
                return Err(rt(format!("ctc_texts: ids must be [N, L], got {:?}", ids.0.size())));
            }
            let rows = Vec::<Vec<i64>>::try_from(&ids.0.to_device(tch::Device::Cpu).to_kind(Kind::Int64)).map_err(rt)?;
            rows.iter()
                .map(|row| {
                    let words: Vec<&str> = row
                        .iter()
                        .filter(|&&id| id != 0)
                        .map(|&id| vocab.get((id - 1) as usize).map(String::as_str).ok_or_else(|| rt(format!("ctc_texts: id {id} outside the vocabulary of {}", vocab.len()))))
                        .collect::<RhaiResult<_>>()?;
                    Ok(Dynamic::from(words.join(" ")))
                })
                .collect()
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_path_merges_repeats_and_drops_blanks() {
        assert_eq!(greedy_ids(&[0, 3, 3, 0, 3, 1, 1, 0]), vec![3, 3, 1]);
        assert_eq!(greedy_ids(&[0, 0]), Vec::<i64>::new());
        assert_eq!(greedy_ids(&[2, 2, 2]), vec![2]);
    }

    #[test]
    fn targets_are_one_based_and_unknown_words_are_named() {
        let vocab: Vec<String> = ["zero", "one"].map(String::from).to_vec();
        let ids = target_ids(&["one zero one".to_string(), String::new()], &vocab).unwrap();
        assert_eq!(ids, vec![vec![2, 1, 2], vec![]]);
        assert_eq!(padded(&ids).size(), [2, 3]);
        let err = target_ids(&["one two".to_string()], &vocab).unwrap_err();
        assert!(err.contains("`two`") && err.contains("text 0"), "{err}");
    }
}
