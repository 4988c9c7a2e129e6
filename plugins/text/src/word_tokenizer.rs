//! Word-level tokenizer fitted on a caption corpus.
//!
//! Ids: 0 padding, 1 start-of-text, 2 unknown, then words by descending frequency (ties
//! alphabetical, so fitting is deterministic), and end-of-text last so that it is the
//! largest id, as the text tower's argmax pooling expects.
use std::collections::HashMap;

use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::Tensor;
use plexus_plugin::{Error, Result, Tokenizer};

const PAD: i64 = 0;
const SOT: i64 = 1;
const UNK: i64 = 2;
const FIRST_WORD: i64 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct WordTokenizerConfig {
    /// Ids per text including start and end tokens; longer texts are truncated.
    pub context_length: i64,
    /// Most words kept (the rest map to the unknown id).
    pub max_words: usize,
    pub lowercase: bool,
}

impl Default for WordTokenizerConfig {
    fn default() -> Self {
        Self { context_length: 16, max_words: 10_000, lowercase: true }
    }
}

#[derive(Debug)]
pub struct WordTokenizer {
    cfg: WordTokenizerConfig,
    words: HashMap<String, i64>,
}

impl WordTokenizer {
    pub fn new(cfg: &WordTokenizerConfig) -> Self {
        Self { cfg: cfg.clone(), words: HashMap::new() }
    }

    fn eot(&self) -> i64 {
        FIRST_WORD + self.words.len() as i64
    }

    /// Splits on whitespace and keeps each punctuation character as its own word.
    fn split(&self, text: &str) -> Vec<String> {
        let text = if self.cfg.lowercase { text.to_lowercase() } else { text.to_string() };
        let mut out = Vec::new();
        for chunk in text.split_whitespace() {
            let mut word = String::new();
            for ch in chunk.chars() {
                if ch.is_alphanumeric() {
                    word.push(ch);
                } else {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                    out.push(ch.to_string());
                }
            }
            if !word.is_empty() {
                out.push(word);
            }
        }
        out
    }

    /// Ids of one text: `[SOT, words.., EOT]`, truncated to the context length.
    pub fn ids(&self, text: &str) -> Vec<i64> {
        let body = (self.cfg.context_length - 2).max(0) as usize;
        let mut ids = vec![SOT];
        ids.extend(self.split(text).iter().take(body).map(|w| *self.words.get(w).unwrap_or(&UNK)));
        ids.push(self.eot());
        ids
    }
}

impl Tokenizer for WordTokenizer {
    fn fit(&mut self, corpus: &[String]) -> Result<()> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in corpus {
            for w in self.split(text) {
                *counts.entry(w).or_default() += 1;
            }
        }
        if counts.is_empty() {
            return Err(Error::other("word tokenizer: cannot fit on an empty corpus"));
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        self.words = ranked
            .into_iter()
            .take(self.cfg.max_words)
            .enumerate()
            .map(|(i, (w, _))| (w, FIRST_WORD + i as i64))
            .collect();
        Ok(())
    }

    fn vocab_size(&self) -> i64 {
        self.eot() + 1
    }

    /// texts → `[B, context_length]` i64, padded with 0.
    fn encode(&self, texts: &[String]) -> Result<Tensor> {
        if self.words.is_empty() {
            return Err(Error::other("word tokenizer: call fit(corpus) before encoding"));
        }
        let l = self.cfg.context_length as usize;
        let mut flat = vec![PAD; texts.len() * l];
        for (row, text) in flat.chunks_mut(l).zip(texts) {
            let ids = self.ids(text);
            row[..ids.len()].copy_from_slice(&ids);
        }
        Ok(Tensor::from_slice(&flat).view([texts.len() as i64, l as i64]))
    }

    fn state(&self) -> Result<plexus_plugin::serde_json::Value> {
        let mut words: Vec<(&String, &i64)> = self.words.iter().collect();
        words.sort_by_key(|(_, id)| **id);
        let words: Vec<&String> = words.into_iter().map(|(w, _)| w).collect();
        Ok(plexus_plugin::serde_json::json!({ "words": words, "config": self.cfg }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted() -> WordTokenizer {
        let mut t = WordTokenizer::new(&WordTokenizerConfig { context_length: 6, ..Default::default() });
        t.fit(&["a photo of a shirt.".into(), "a T-shirt/top".into()]).unwrap();
        t
    }

    #[test]
    fn eot_is_the_largest_id_and_padding_is_zero() {
        let t = fitted();
        let ids = t.encode(&["a shirt".into()]).unwrap();
        let row: Vec<i64> = Vec::<i64>::try_from(ids.view([-1])).unwrap();
        assert_eq!(row[0], SOT);
        assert_eq!(row[3], t.vocab_size() - 1);
        assert_eq!(&row[4..], &[0, 0]);
    }

    #[test]
    fn truncates_but_keeps_eot() {
        let t = fitted();
        let ids = t.ids("a photo of a shirt of a photo");
        assert_eq!(ids.len(), 6);
        assert_eq!(*ids.last().unwrap(), t.vocab_size() - 1);
    }

    #[test]
    fn unknown_words_and_punctuation() {
        let t = fitted();
        assert_eq!(t.split("T-shirt/top"), ["t", "-", "shirt", "/", "top"]);
        assert_eq!(t.ids("zebra")[1], UNK);
    }
}
