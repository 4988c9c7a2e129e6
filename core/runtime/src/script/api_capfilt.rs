//! Caption bootstrapping (BLIP's CapFilt) from scripts: read a manifest's captions, plant
//! seeded caption noise, derive a dataset with replaced (or filtered) captions, decode
//! generated token ids to text and score captions with the caption metrics.
//!
//! `data.captions()`, `corrupt_captions(captions, fraction, seed)`,
//! `data.with_captions(captions, split)`, `tok.decode(ids)`, `caption_scores(preds, refs)`.
use std::io::Write;
use std::rc::Rc;

use plexus_metrics::CaptionMetric;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rhai::{Array, Dynamic, Engine, Map};

use super::api_manifest::{ManifestDataset, ManifestHandle};
use super::api_tensor::TensorValue;
use super::convert::{rt, RhaiResult};
use super::handles::TokenizerHandle;
use super::Shared;
use crate::data::{Loader, LoaderConfig, Manifest};

/// The word tokenizer's special ids (see plugins/text/src/word_tokenizer.rs).
const PAD: i64 = 0;
const SOT: i64 = 1;
const UNK: i64 = 2;
const FIRST_WORD: i64 = 3;

/// A string, or an array of strings (`what` names the argument in errors).
fn strings_of(value: &Dynamic, what: &str) -> RhaiResult<Vec<String>> {
    if value.is_unit() {
        return Ok(Vec::new());
    }
    if let Some(s) = value.clone().try_cast::<rhai::ImmutableString>() {
        return Ok(vec![s.to_string()]);
    }
    let Some(items) = value.clone().try_cast::<Array>() else {
        return Err(rt(format!("{what}: expected a string or an array of strings, got {}", value.type_name())));
    };
    items
        .iter()
        .map(|d| d.clone().into_string().map_err(|t| rt(format!("{what}: expected strings, got {t}"))))
        .collect()
}

/// Each example's first caption, in manifest order.
fn first_captions(data: &ManifestDataset) -> RhaiResult<Vec<String>> {
    let loader = &data.loader;
    (0..loader.len())
        .map(|i| match loader.record(i) {
            Some(r) if !r.captions.is_empty() => Ok(r.captions[0].clone()),
            r => Err(rt(format!("{}:{}: captions(): the example has no caption", loader.name(), r.map_or(0, |r| r.line)))),
        })
        .collect()
}

/// Replaces `round(fraction · N)` captions, chosen by `seed`, each by the caption of
/// another example, drawn uniformly among those whose caption differs (so every planted
/// caption is wrong for its image). Returns the new captions and the corrupted flags.
pub fn corrupt(captions: &[String], fraction: f64, seed: u64) -> Result<(Vec<String>, Vec<bool>), String> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(format!("corrupt_captions: fraction must be in [0, 1], got {fraction}"));
    }
    let n = captions.len();
    let count = (fraction * n as f64).round() as usize;
    if count > 0 && captions.iter().all(|c| c == &captions[0]) {
        return Err("corrupt_captions: every caption is the same, so none can be replaced by a different one".into());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen: Vec<usize> = sample(&mut rng, n, count).into_vec();
    chosen.sort_unstable();
    let (mut out, mut corrupted) = (captions.to_vec(), vec![false; n]);
    for i in chosen {
        // Rejection sampling: at least one other caption differs, so this ends.
        let source = loop {
            let j = rng.gen_range(0..n);
            if captions[j] != captions[i] {
                break j;
            }
        };
        out[i] = captions[source].clone();
        corrupted[i] = true;
    }
    Ok((out, corrupted))
}

/// Word ids → text: start token skipped, stops at padding or the end token, unknown ids
/// as `<unk>`. `words[k]` has id `FIRST_WORD + k` (the word tokenizer's layout).
pub fn decode_ids(ids: &[i64], words: &[String]) -> String {
    let eot = FIRST_WORD + words.len() as i64;
    let mut out: Vec<&str> = Vec::new();
    for &id in ids {
        match id {
            SOT => continue,
            PAD => break,
            _ if id >= eot => break,
            UNK => out.push("<unk>"),
            _ if id >= FIRST_WORD => out.push(&words[(id - FIRST_WORD) as usize]),
            _ => continue,
        }
    }
    out.join(" ")
}

/// A copy of `data` whose example i has the captions `captions[i]` (a string or an array;
/// an empty array or `()` leaves the example out), under split name `split`. Loader
/// settings and seed are `data`'s. The kept examples' ids and captions are written to
/// `<run>/captions/<split>.jsonl` so the derived set can be inspected.
fn with_captions(session: &Shared, data: &ManifestDataset, captions: &Array, split: &str) -> RhaiResult<ManifestHandle> {
    let loader = &data.loader;
    if captions.len() != loader.len() {
        return Err(rt(format!("with_captions: {} captions for the {} examples of {}", captions.len(), loader.len(), loader.name())));
    }
    let mut records = Vec::new();
    for (i, value) in captions.iter().enumerate() {
        let texts = strings_of(value, &format!("with_captions: captions[{i}]"))?;
        if texts.is_empty() {
            continue;
        }
        let mut record = loader.record(i).ok_or_else(|| rt(format!("with_captions: {} has no example {i}", loader.name())))?.clone();
        record.captions = texts;
        records.push(record);
    }
    if records.is_empty() {
        return Err(rt(format!("with_captions: every example of {} was left without a caption", loader.name())));
    }
    let (seed, folder) = {
        let s = session.borrow();
        let folder = s.run.borrow().path().join("captions");
        (s.seed, folder)
    };
    let path = folder.join(format!("{split}.jsonl"));
    write_captions(&path, &records).map_err(|e| rt(format!("with_captions: writing {}: {e}", path.display())))?;
    let manifest = Manifest { path: loader.name().into(), records };
    let cfg: LoaderConfig = loader.config().clone();
    let train = Loader::new(&manifest, cfg.clone(), seed).map_err(rt)?;
    let eval = Loader::new(&manifest, LoaderConfig { augment: false, shuffle: false, ..cfg }, seed).map_err(rt)?;
    let modalities = manifest.modalities();
    Ok(ManifestHandle(Rc::new(ManifestDataset { split: split.to_string(), loader: train, eval_loader: eval, modalities })))
}

/// `{"id", "caption": [..]}` per kept example: which captions the derived set holds.
fn write_captions(path: &std::path::Path, records: &[crate::data::Record]) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(std::path::Path::new(".")))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in records {
        writeln!(out, "{}", serde_json::json!({ "id": r.id, "caption": r.captions }))?;
    }
    out.flush()
}

pub fn register(engine: &mut Engine, session: &Shared) {
    engine.register_fn("captions", |d: &mut ManifestHandle| -> RhaiResult<Array> {
        Ok(first_captions(&d.0)?.into_iter().map(Dynamic::from).collect())
    });

    engine.register_fn("corrupt_captions", |captions: Array, fraction: f64, seed: i64| -> RhaiResult<Map> {
        let texts = strings_of(&Dynamic::from_array(captions), "corrupt_captions: captions")?;
        let (noisy, flags) = corrupt(&texts, fraction, seed as u64).map_err(rt)?;
        let mut out = Map::new();
        out.insert("captions".into(), Dynamic::from_array(noisy.into_iter().map(Dynamic::from).collect()));
        out.insert("corrupted".into(), Dynamic::from_array(flags.into_iter().map(Dynamic::from).collect()));
        Ok(out)
    });

    let s = session.clone();
    engine.register_fn("with_captions", move |d: &mut ManifestHandle, captions: Array, split: &str| with_captions(&s, &d.0, &captions, split));

    engine.register_fn("decode", |t: &mut TokenizerHandle, ids: TensorValue| -> RhaiResult<Array> {
        let state = t.0.borrow().state().map_err(rt)?;
        let words: Vec<String> = state
            .get("words")
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .ok_or_else(|| rt("decode: needs the `word` tokenizer (its state lists `words`)"))?;
        let ids = ids.0;
        if ids.dim() != 2 {
            return Err(rt(format!("decode: expected [N, L] token ids, got shape {:?}", ids.size())));
        }
        let rows: Vec<Vec<i64>> = Vec::try_from(ids.to_kind(tch::Kind::Int64).to_device(tch::Device::Cpu)).map_err(rt)?;
        Ok(rows.iter().map(|r| Dynamic::from(decode_ids(r, &words))).collect())
    });

    engine.register_fn("caption_scores", |preds: Array, refs: Array| -> RhaiResult<Map> {
        let preds = strings_of(&Dynamic::from_array(preds), "caption_scores: predictions")?;
        let refs = refs.iter().enumerate().map(|(i, r)| strings_of(r, &format!("caption_scores: references[{i}]"))).collect::<RhaiResult<Vec<_>>>()?;
        let scores = plexus_metrics::caption_scores(CaptionMetric::All, &preds, &refs, true).map_err(rt)?;
        Ok(scores.into_iter().map(|(k, v)| (k.into(), Dynamic::from_float(v))).collect())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_is_seeded_and_every_planted_caption_is_wrong() {
        let captions: Vec<String> = (0..100).map(|i| format!("caption {}", i % 7)).collect();
        let (a, flags) = corrupt(&captions, 0.3, 5).unwrap();
        assert_eq!(flags.iter().filter(|&&f| f).count(), 30);
        for i in 0..100 {
            assert_eq!(flags[i], a[i] != captions[i], "example {i}");
        }
        assert_eq!(corrupt(&captions, 0.3, 5).unwrap().0, a);
        assert_ne!(corrupt(&captions, 0.3, 6).unwrap().1, flags);
        assert!(corrupt(&captions, 1.5, 0).unwrap_err().contains("fraction"));
        assert!(corrupt(&vec!["same".to_string(); 4], 0.5, 0).unwrap_err().contains("same"));
    }

    #[test]
    fn decoding_skips_the_start_and_stops_at_the_end() {
        let words: Vec<String> = ["a", "blue", "circle"].iter().map(|w| w.to_string()).collect();
        // eot = 3 + 3 = 6
        assert_eq!(decode_ids(&[1, 3, 4, 5, 6, 3, 3], &words), "a blue circle");
        assert_eq!(decode_ids(&[3, 2, 0, 4], &words), "a <unk>");
        assert_eq!(decode_ids(&[6, 3], &words), "");
    }
}
