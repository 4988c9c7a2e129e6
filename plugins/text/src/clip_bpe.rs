//! open_clip's byte-level BPE tokenizer (`open_clip.tokenize`, `SimpleTokenizer`): the
//! same vocabulary layout and ids, given open_clip's `bpe_simple_vocab_16e6.txt.gz`.
//!
//! Text is cleaned as open_clip does (see `clip_clean`), split by open_clip's pattern, each
//! piece's UTF-8 bytes mapped to GPT-2's printable byte alphabet, then merged by the
//! `tokenizers` crate's BPE model with the `</w>` end-of-word suffix. Ids: 256 byte
//! symbols, the same with `</w>`, one per merge, then `<start_of_text>` and
//! `<end_of_text>` (the largest id, as the text tower's argmax pooling expects).
use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::Tensor;
use plexus_plugin::{Error, Result, Tokenizer};
use regex::Regex;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::Model;

use crate::clip_clean::clean_lower;

const SOT: &str = "<start_of_text>";
const EOT: &str = "<end_of_text>";
const END_OF_WORD: &str = "</w>";
/// open_clip keeps merges[1 : 49152 - 256 - 2 + 1] of the file (line 0 is a header).
const OPEN_CLIP_MERGES: usize = 49152 - 256 - 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct ClipBpeConfig {
    /// open_clip's merges file (`bpe_simple_vocab_16e6.txt.gz`, gzipped or plain text).
    /// Empty: `fit` learns `fit_merges` merges from the training captions instead.
    pub path: String,
    /// Ids per text including SOT and EOT; longer texts are cut and end with EOT.
    pub context_length: i64,
    /// Merges learned by `fit` when there is no `path`.
    pub fit_merges: usize,
}

impl Default for ClipBpeConfig {
    fn default() -> Self {
        Self { path: String::new(), context_length: 77, fit_merges: 1000 }
    }
}

#[derive(Debug)]
pub struct ClipBpe {
    cfg: ClipBpeConfig,
    /// `None` until `fit` when there is no file.
    model: Option<BpeVocab>,
}

#[derive(Debug)]
struct BpeVocab {
    bpe: BPE,
    merges: Vec<(String, String)>,
    sot: i64,
    eot: i64,
}

/// (byte, symbol) in open_clip's vocabulary order, and the symbol of each byte.
type ByteAlphabet = (Vec<(u8, char)>, [char; 256]);

/// GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the others to U+0100...
/// in byte order. Returned in open_clip's vocabulary order (printable ranges first).
fn byte_alphabet() -> &'static ByteAlphabet {
    static TABLE: OnceLock<ByteAlphabet> = OnceLock::new();
    TABLE.get_or_init(|| {
        let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        let mut order: Vec<(u8, char)> = (0..=255u8).filter(|&b| printable(b)).map(|b| (b, b as char)).collect();
        for (next, b) in (256u32..).zip((0..=255u8).filter(|&b| !printable(b))) {
            order.push((b, char::from_u32(next).expect("U+0100..U+0143 are chars")));
        }
        let mut by_byte = ['\0'; 256];
        for &(b, c) in &order {
            by_byte[b as usize] = c;
        }
        (order, by_byte)
    })
}

/// open_clip's pre-tokenisation (its `re.IGNORECASE` is moot: text is lower-cased first).
fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+").expect("static pattern")
    })
}

/// A piece's UTF-8 bytes as byte-alphabet characters.
fn byte_encode(piece: &str) -> String {
    piece.bytes().map(|b| byte_alphabet().1[b as usize]).collect()
}

impl BpeVocab {
    fn new(merges: Vec<(String, String)>) -> Result<Self> {
        let mut names: Vec<String> = byte_alphabet().0.iter().map(|(_, c)| c.to_string()).collect();
        names.extend(byte_alphabet().0.iter().map(|(_, c)| format!("{c}{END_OF_WORD}")));
        names.extend(merges.iter().map(|(a, b)| format!("{a}{b}")));
        names.extend([SOT.to_string(), EOT.to_string()]);
        // A later duplicate takes the name, as in open_clip's dict(zip(vocab, range)).
        let vocab: Vocab = names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        let (sot, eot) = (vocab[SOT] as i64, vocab[EOT] as i64);
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges.clone())
            .end_of_word_suffix(END_OF_WORD.into())
            .build()
            .map_err(|e| Error::other(format!("clip_bpe: building the BPE model: {e}")))?;
        Ok(Self { bpe, merges, sot, eot })
    }

    /// Ids of one text without SOT/EOT.
    fn ids(&self, text: &str) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for piece in pattern().find_iter(&clean_lower(text)) {
            match piece.as_str() {
                SOT => ids.push(self.sot),
                EOT => ids.push(self.eot),
                p => {
                    let tokens = self.bpe.tokenize(&byte_encode(p)).map_err(|e| Error::other(format!("clip_bpe: {p:?}: {e}")))?;
                    ids.extend(tokens.iter().map(|t| t.id as i64));
                }
            }
        }
        Ok(ids)
    }
}

/// Merge pairs from open_clip's file: lines 1..=48894 ("a b"), gzipped or not.
fn read_merges(path: &str) -> Result<Vec<(String, String)>> {
    let named = |e: &dyn std::fmt::Display| Error::other(format!("clip_bpe: path: {path}: {e}"));
    let raw = std::fs::read(path).map_err(|e| named(&e))?;
    let mut text = String::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_string(&mut text).map_err(|e| named(&e))?;
    } else {
        text = String::from_utf8(raw).map_err(|e| named(&e))?;
    }
    let mut merges = Vec::new();
    // A final newline ends the file rather than adding an empty merge.
    for (n, line) in text.trim_end_matches('\n').split('\n').enumerate().skip(1).take(OPEN_CLIP_MERGES) {
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            [a, b] => merges.push((a.to_string(), b.to_string())),
            _ => return Err(named(&format!("line {}: expected a merge `a b`, got {line:?}", n + 1))),
        }
    }
    if merges.is_empty() {
        return Err(named(&"no merges after the header line"));
    }
    Ok(merges)
}

/// Learns `n` merges from `corpus` as BPE training does: repeatedly merge the most frequent
/// adjacent pair over all words (ties: the smallest pair, so fitting is deterministic).
fn learn_merges(corpus: &[String], n: usize) -> Vec<(String, String)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for text in corpus {
        for piece in pattern().find_iter(&clean_lower(text)) {
            *counts.entry(byte_encode(piece.as_str())).or_default() += 1;
        }
    }
    let mut words: Vec<(Vec<String>, usize)> = counts
        .into_iter()
        .map(|(w, c)| {
            let mut symbols: Vec<String> = w.chars().map(String::from).collect();
            if let Some(last) = symbols.last_mut() {
                last.push_str(END_OF_WORD);
            }
            (symbols, c)
        })
        .collect();
    words.sort();
    let mut merges = Vec::new();
    while merges.len() < n {
        let mut pairs: HashMap<(&str, &str), usize> = HashMap::new();
        for (symbols, c) in &words {
            for w in symbols.windows(2) {
                *pairs.entry((&w[0], &w[1])).or_default() += c;
            }
        }
        let Some(((a, b), _)) = pairs.into_iter().max_by(|x, y| x.1.cmp(&y.1).then_with(|| y.0.cmp(&x.0))) else { break };
        let (a, b) = (a.to_string(), b.to_string());
        for (symbols, _) in &mut words {
            let mut merged = Vec::with_capacity(symbols.len());
            let mut i = 0;
            while i < symbols.len() {
                if i + 1 < symbols.len() && symbols[i] == a && symbols[i + 1] == b {
                    merged.push(format!("{a}{b}"));
                    i += 2;
                } else {
                    merged.push(std::mem::take(&mut symbols[i]));
                    i += 1;
                }
            }
            *symbols = merged;
        }
        merges.push((a, b));
    }
    merges
}

impl ClipBpe {
    pub fn new(cfg: &ClipBpeConfig) -> Result<Self> {
        if cfg.context_length < 2 {
            return Err(Error::other(format!("clip_bpe: context_length must be at least 2, got {}", cfg.context_length)));
        }
        let model = if cfg.path.is_empty() { None } else { Some(BpeVocab::new(read_merges(&cfg.path)?)?) };
        Ok(Self { cfg: cfg.clone(), model })
    }

    fn model(&self) -> Result<&BpeVocab> {
        self.model.as_ref().ok_or_else(|| Error::other("clip_bpe: no path was given, so call fit(corpus) before encoding"))
    }

    /// `[SOT, ids.., EOT]` cut to `context_length` with EOT kept last, as open_clip does.
    pub fn ids(&self, text: &str) -> Result<Vec<i64>> {
        let model = self.model()?;
        let mut ids = vec![model.sot];
        ids.extend(model.ids(text)?);
        ids.push(model.eot);
        let l = self.cfg.context_length as usize;
        if ids.len() > l {
            ids.truncate(l);
            ids[l - 1] = model.eot;
        }
        Ok(ids)
    }
}

impl Tokenizer for ClipBpe {
    /// A no-op with a file; otherwise learns `fit_merges` merges from `corpus`.
    fn fit(&mut self, corpus: &[String]) -> Result<()> {
        if !self.cfg.path.is_empty() {
            return Ok(());
        }
        self.model = Some(BpeVocab::new(learn_merges(corpus, self.cfg.fit_merges))?);
        Ok(())
    }

    fn vocab_size(&self) -> i64 {
        self.model.as_ref().map_or(0, |m| m.eot + 1)
    }

    /// texts → `[B, context_length]` i64, padded with 0.
    fn encode(&self, texts: &[String]) -> Result<Tensor> {
        let l = self.cfg.context_length as usize;
        let mut flat = vec![0i64; texts.len() * l];
        for (row, text) in flat.chunks_mut(l).zip(texts) {
            let ids = self.ids(text)?;
            row[..ids.len()].copy_from_slice(&ids);
        }
        Ok(Tensor::from_slice(&flat).view([texts.len() as i64, l as i64]))
    }

    /// The file's path, or the learned merges.
    fn state(&self) -> Result<plexus_plugin::serde_json::Value> {
        let learned: Vec<String> = match (&self.model, self.cfg.path.is_empty()) {
            (Some(m), true) => m.merges.iter().map(|(a, b)| format!("{a} {b}")).collect(),
            _ => Vec::new(),
        };
        Ok(plexus_plugin::serde_json::json!({ "config": self.cfg, "learned_merges": learned }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_a_bijection_in_open_clip_order() {
        let (order, by_byte) = byte_alphabet();
        assert_eq!(order.len(), 256);
        assert_eq!(order[0], (b'!', '!'));
        assert_eq!(by_byte[b' ' as usize], '\u{120}', "space is GPT-2's Ġ");
        let distinct: std::collections::HashSet<char> = by_byte.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }

    #[test]
    fn learned_merges_follow_frequency_and_ids_end_with_eot() {
        let corpus: Vec<String> = ["a cat", "a cat and a hat", "cats"].iter().map(|s| s.to_string()).collect();
        let merges = learn_merges(&corpus, 3);
        // (a, t</w>) and (c, a) both occur 3 times: the smaller pair wins the tie.
        assert_eq!(merges[..2], [("a".to_string(), "t</w>".to_string()), ("c".to_string(), "at</w>".to_string())]);
        let mut tok = ClipBpe::new(&ClipBpeConfig { context_length: 5, fit_merges: 20, ..Default::default() }).unwrap();
        assert!(tok.ids("a cat").is_err(), "encoding before fit must be an error");
        tok.fit(&corpus).unwrap();
        let ids = tok.ids("a cat").unwrap();
        assert_eq!(ids.len(), 4, "SOT, `a</w>`, `cat</w>`, EOT once `cat</w>` is a learned merge: {ids:?}");
        assert_eq!(*ids.last().unwrap(), tok.vocab_size() - 1);
        let long = tok.ids("a cat and a hat and a cat").unwrap();
        assert_eq!((long.len(), *long.last().unwrap()), (5, tok.vocab_size() - 1));
    }
}
