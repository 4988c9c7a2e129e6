//! The effect of pycocoevalcap's `PTBTokenizer` without Java: Stanford CoreNLP 3.4.1's
//! `PTBTokenizer -preserveLines -lowerCase`, then dropping the punctuation tokens
//! `'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;` and joining with single spaces.
//!
//! Rules reproduced (each checked against the CoreNLP jar, see the tests):
//! - lowercase; whitespace separates;
//! - brackets become `-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-`; after lowercasing they no
//!   longer match pycocoevalcap's upper-case `-LRB-` entries, so they *stay*;
//! - `, ; : ! ? "` and quotes split off and are dropped, except `,` and `:` between digits
//!   (`1,000`, `12:30`); runs such as `!!` or `?!` are one token and stay;
//! - `$ % & * + = @ ^ | ~` split off and stay; `#` stays attached before a letter;
//! - a hyphen inside a word stays (`well-known`, `10-20`); lone hyphens and dash runs go;
//! - a period inside a word stays (`3.5`, `www.x.com`); a final period splits off unless
//!   the word is an abbreviation (a single letter, a dotted acronym such as `u.s.` or
//!   `e.g.`, or a known title/company/month abbreviation such as `mr.` or `inc.`), or a
//!   word of letters, digits, hyphens and inner apostrophes directly followed by `,` `;`
//!   or `:` (`man.,` → `man.` `,`, `gonna.:` → `gonna.`; but `3.5.,` and `isn't.,` split);
//! - clitics split: `n't 's 're 've 'll 'd 'm` (`isn't` → `is n't`, `can't` → `ca n't`),
//!   a trailing quote after a word (`cats'` → `cats '`), and `cannot gonna gotta wanna
//!   gimme lemme` → two tokens each.
//!
//! Not reproduced (rare in captions): a single letter with a period before a capitalised
//! word (`b. Mr.`) — including the first word of the *next caption*, since pycocoevalcap
//! tokenises all captions as one file — where CoreNLP decides by further context whether
//! the sentence ends (we keep `b.`); CoreNLP's full abbreviation list, URLs and e-mail
//! addresses, SGML tags, `'tis`-style proclitics, and Unicode quote/dash normalisation.
use crate::text::is_py_space;

/// Tokens pycocoevalcap removes after tokenising.
pub const PUNCTUATIONS: [&str; 17] =
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"];

/// Clitics split off the end of a word.
const CLITICS: [&str; 7] = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"];

/// Abbreviations CoreNLP keeps with their final period (checked against the jar).
const ABBREVIATIONS: [&str; 27] = [
    "mr", "mrs", "ms", "dr", "prof", "jr", "sr", "st", "mt", "co", "corp", "inc", "ltd", "vs", "etc", "jan", "feb",
    "sept", "dept", "gov", "gen", "sen", "rep", "capt", "sgt", "lt", "col",
];

/// A caption as pycocoevalcap's tokenizer leaves it: lowercase PTB tokens without
/// punctuation, joined by single spaces.
pub fn ptb_tokenize(caption: &str) -> String {
    let lower = caption.to_lowercase();
    let mut tokens = Vec::new();
    for chunk in lower.split(is_py_space).filter(|c| !c.is_empty()) {
        tokenize_chunk(&chunk.chars().collect::<Vec<_>>(), &mut tokens);
    }
    tokens.retain(|t| !PUNCTUATIONS.contains(&t.as_str()));
    tokens.join(" ")
}

/// [`ptb_tokenize`] over a list.
pub fn ptb_tokenize_all(captions: &[String]) -> Vec<String> {
    captions.iter().map(|c| ptb_tokenize(c)).collect()
}

fn run_len(chars: &[char], i: usize, pred: impl Fn(char) -> bool) -> usize {
    chars[i..].iter().take_while(|&&c| pred(c)).count()
}

fn is_abbreviation(word: &str) -> bool {
    let mut chars = word.chars();
    let single_letter = matches!((chars.next(), chars.next()), (Some(c), None) if c.is_alphabetic());
    let dotted = word.contains('.') && word.split('.').all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic));
    single_letter || dotted || ABBREVIATIONS.contains(&word)
}

/// Splits one whitespace-free chunk into PTB tokens (punctuation still included).
fn tokenize_chunk(chars: &[char], out: &mut Vec<String>) {
    let mut word = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev_digit = i > 0 && chars[i - 1].is_numeric();
        let next = chars.get(i + 1).copied();
        let next_alnum = next.is_some_and(char::is_alphanumeric);
        let mut step = 1;
        match c {
            '(' | ')' | '[' | ']' | '{' | '}' => {
                flush(&mut word, out);
                let name = match c {
                    '(' => "-lrb-",
                    ')' => "-rrb-",
                    '[' => "-lsb-",
                    ']' => "-rsb-",
                    '{' => "-lcb-",
                    _ => "-rcb-",
                };
                out.push(name.into());
            }
            '"' | '`' | ';' => {
                flush(&mut word, out);
                out.push(if c == ';' { ";" } else { "''" }.into());
            }
            ',' | ':' if prev_digit && !word.is_empty() && next.is_some_and(char::is_numeric) => word.push(c),
            ',' | ':' => {
                flush(&mut word, out);
                out.push(c.to_string());
            }
            '!' | '?' => {
                flush(&mut word, out);
                step = run_len(chars, i, |x| x == '!' || x == '?');
                out.push(chars[i..i + step].iter().collect());
            }
            '$' | '%' | '&' | '*' | '+' | '=' | '@' | '^' | '|' | '~' => {
                flush(&mut word, out);
                out.push(c.to_string());
            }
            '#' if word.is_empty() && next.is_some_and(char::is_alphabetic) => word.push(c),
            '#' => {
                flush(&mut word, out);
                out.push("#".into());
            }
            '-' => {
                step = run_len(chars, i, |x| x == '-');
                if step == 1 && !word.is_empty() && next_alnum {
                    word.push('-');
                } else {
                    flush(&mut word, out);
                    out.push(if step == 1 { "-" } else { "--" }.into());
                }
            }
            '.' => {
                step = run_len(chars, i, |x| x == '.');
                // CoreNLP also keeps the period of a word directly followed by , ; : unless the
                // word has a period already or ends in a quote or clitic (`3.5.,` `isn't.,`).
                let before_clause_mark = matches!(next, Some(',' | ';' | ':'))
                    && !word.is_empty()
                    && word.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '\'')
                    && !word.starts_with('\'')
                    && !word.ends_with('\'')
                    && !CLITICS.iter().any(|c| word.len() > c.len() && word.ends_with(c));
                if step == 1 && next_alnum {
                    word.push('.'); // 3.5, x.y, .5, u.s(.)
                } else if is_abbreviation(&word) || (step == 1 && before_clause_mark) {
                    word.push('.'); // `mr.`, `u.s.`, and `mr..` → `mr.` `.`
                    flush(&mut word, out);
                    match step {
                        1 => {}
                        2 => out.push(".".into()),
                        _ => out.push("...".into()),
                    }
                } else {
                    flush(&mut word, out);
                    if step >= 3 {
                        out.push("...".into());
                    } else {
                        (0..step).for_each(|_| out.push(".".into()));
                    }
                }
            }
            _ => word.push(c),
        }
        i += step;
    }
    flush(&mut word, out);
}

/// Emits a word, splitting quotes and clitics off it.
fn flush(word: &mut String, out: &mut Vec<String>) {
    let w = std::mem::take(word);
    if w.is_empty() {
        return;
    }
    let mut w = w.as_str();
    // Leading quote: `'n'` and `'90s` are words; otherwise it is an opening quote.
    if let Some(rest) = w.strip_prefix('\'') {
        if w != "'n'" && !rest.starts_with(|c: char| c.is_numeric()) {
            out.push("`".into());
            w = rest;
        }
    }
    let mut trailing_quote = false;
    if w.len() > 1 && w.ends_with('\'') && w != "'n'" {
        w = &w[..w.len() - 1];
        trailing_quote = true;
    }
    split_clitics(w, out);
    if trailing_quote {
        out.push("'".into());
    }
}

fn split_clitics(w: &str, out: &mut Vec<String>) {
    if w.is_empty() {
        return;
    }
    for (whole, a, b) in
        [("cannot", "can", "not"), ("gonna", "gon", "na"), ("gotta", "got", "ta"), ("wanna", "wan", "na"), ("gimme", "gim", "me"), ("lemme", "lem", "me")]
    {
        if w == whole {
            out.push(a.into());
            out.push(b.into());
            return;
        }
    }
    for suffix in CLITICS {
        if let Some(stem) = w.strip_suffix(suffix) {
            if stem.chars().last().is_some_and(char::is_alphanumeric) {
                out.push(stem.into());
                out.push(suffix.into());
                return;
            }
        }
    }
    out.push(w.into());
}

#[cfg(test)]
mod tests {
    use super::ptb_tokenize as t;

    // Expected outputs derived from the rules in the module docs (and confirmed with the
    // CoreNLP 3.4.1 jar that pycocoevalcap ships).
    #[test]
    fn lowercases_and_drops_sentence_punctuation() {
        assert_eq!(t("A man rides a Bike."), "a man rides a bike");
        assert_eq!(t("two dogs, cats,and birds; yes? no!"), "two dogs cats and birds yes no");
        assert_eq!(t("He said: hello--world - ok ... fine"), "he said hello world ok fine");
    }

    #[test]
    fn splits_clitics() {
        assert_eq!(t("The dog isn't here, it's the cat's toy"), "the dog is n't here it 's the cat 's toy");
        assert_eq!(t("they're I'm we'll you've he'd can't won't"), "they 're i 'm we 'll you 've he 'd ca n't wo n't");
        assert_eq!(t("cats' toys"), "cats toys");
        assert_eq!(t("\"quoted\" 'single' word"), "quoted single word");
        assert_eq!(t("cannot gonna"), "can not gon na");
        assert_eq!(t("rock 'n' roll in the '90s o'neil"), "rock 'n' roll in the '90s o'neil");
    }

    #[test]
    fn keeps_numbers_hyphenated_words_abbreviations_and_brackets() {
        assert_eq!(t("a well-known 10-20 3.5 km, 1,000 cats at 12:30"), "a well-known 10-20 3.5 km 1,000 cats at 12:30");
        assert_eq!(t("Mr. Smith and the U.S. army, e.g. plan A. ok."), "mr. smith and the u.s. army e.g. plan a. ok");
        assert_eq!(t("a man (in red) [x] {y}"), "a man -lrb- in red -rrb- -lsb- x -rsb- -lcb- y -rcb-");
        assert_eq!(t("50% off $5 a+b & co. wow!!"), "50 % off $ 5 a + b & co. wow !!");
        assert_eq!(t("Mr.. a man., 3.5., dog.!"), "mr. a man. 3.5 dog");
    }

    #[test]
    fn empty_and_whitespace_only() {
        assert_eq!(t(""), "");
        assert_eq!(t(" \t . "), "");
    }
}
