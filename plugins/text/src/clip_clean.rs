//! open_clip's text cleaning before BPE (`_clean_lower`): `ftfy.fix_text`, `html.unescape`
//! twice, whitespace collapsed, lower case.
//!
//! Of ftfy 6's `fix_text` this replicates the fixes that act on well-formed text: HTML
//! entities (only where a line holds no `<`, as ftfy's "auto" does), Latin ligatures,
//! full/half-width forms and the ideographic space, curly quotes, ANSI terminal escapes,
//! the control characters ftfy removes, and NFC. It does not replicate mojibake repair
//! (`fix_encoding`: UTF-8 read as Latin-1/Windows-1252, and its C1-control and lossy-byte
//! heuristics) nor ftfy's all-caps entity names (`&EACUTE;`): captions with mojibake or C1
//! control characters may tokenize differently from open_clip.
use std::sync::OnceLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;

/// Python's `str.isspace`: Unicode White_Space plus the information separators
/// U+001C..U+001F, which Python's `str.split()` also splits on.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn ansi_escape() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\x1b\[((?:\d|;)*)([a-zA-Z])").expect("static pattern"))
}

/// ftfy's `LIGATURES`: single-character Latin ligatures and their letters.
fn ligature(c: char) -> Option<&'static str> {
    Some(match c {
        'Ĳ' => "IJ",
        'ĳ' => "ij",
        'ŉ' => "ʼn",
        'Ǳ' => "DZ",
        'ǲ' => "Dz",
        'ǳ' => "dz",
        'Ǆ' => "DŽ",
        'ǅ' => "Dž",
        'ǆ' => "dž",
        'Ǉ' => "LJ",
        'ǈ' => "Lj",
        'ǉ' => "lj",
        'Ǌ' => "NJ",
        'ǋ' => "Nj",
        'ǌ' => "nj",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' => "ſt",
        'ﬆ' => "st",
        _ => return None,
    })
}

/// ftfy's `CONTROL_CHARS`: removed outright.
fn is_removed_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{e}'..='\u{1f}' | '\u{7f}' | '\u{206a}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffc}')
}

/// One pass of ftfy's character fixes (ligatures, width, quotes, line breaks, control
/// characters), in ftfy's order; ANSI escapes are removed by the caller.
fn fix_characters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if let Some(s) = ligature(c) {
            out.push_str(s);
        } else if c == '\u{3000}' {
            out.push(' ');
        } else if ('\u{ff01}'..='\u{ffef}').contains(&c) {
            // ftfy's WIDTH_MAP: NFKC of the halfwidth/fullwidth block.
            out.extend(std::iter::once(c).nfkc());
        } else {
            out.push(c);
        }
    }
    let mut fixed = String::with_capacity(out.len());
    for c in out.chars() {
        match c {
            '\u{2bc}' | '\u{2018}'..='\u{201b}' => fixed.push('\''),
            '\u{201c}'..='\u{201f}' => fixed.push('"'),
            _ => fixed.push(c),
        }
    }
    // Line breaks: \r\n, \r, U+2028, U+2029 and U+0085 become \n.
    let fixed = fixed.replace("\r\n", "\n").replace(['\r', '\u{2028}', '\u{2029}', '\u{85}'], "\n");
    let fixed = ansi_escape().replace_all(&fixed, "");
    fixed.chars().filter(|&c| !is_removed_control(c)).collect()
}

/// ftfy's `fix_text` on well-formed text: per line, repeated until nothing changes; once a
/// line contains `<`, HTML entities are left alone in it and every later line.
pub fn fix_text(text: &str) -> String {
    let mut unescape = true;
    let mut out = String::with_capacity(text.len());
    for segment in text.split_inclusive('\n') {
        if segment.contains('<') {
            unescape = false;
        }
        let mut current = segment.to_string();
        loop {
            let before = current.clone();
            if unescape {
                current = htmlize::unescape(&current).into_owned();
            }
            current = fix_characters(&current).nfc().collect();
            if current == before {
                break;
            }
        }
        out.push_str(&current);
    }
    out
}

/// open_clip's `_clean_lower`: `whitespace_clean(basic_clean(text)).lower()`.
pub fn clean_lower(text: &str) -> String {
    let fixed = fix_text(text);
    let unescaped = htmlize::unescape(htmlize::unescape(&fixed).as_ref()).into_owned();
    let words: Vec<&str> = unescaped.split(is_python_space).filter(|w| !w.is_empty()).collect();
    words.join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftfy_fixes_of_well_formed_text() {
        assert_eq!(fix_text("“ﬁne” ‘quotes’"), "\"fine\" 'quotes'");
        assert_eq!(fix_text("ＬＯＵＤ\u{3000}ｎｏｉｓｅｓ"), "LOUD noises");
        assert_eq!(fix_text("\x1b[36mblue\x1b[0m\u{feff}"), "blue");
        assert_eq!(fix_text("cafe\u{301}"), "café");
        assert_eq!(fix_text("fish &amp; chips"), "fish & chips");
        assert_eq!(fix_text("<b> &amp;"), "<b> &amp;", "a line with `<` keeps its entities");
    }

    #[test]
    fn clean_lower_collapses_whitespace_and_unescapes() {
        assert_eq!(clean_lower("  A\tPhoto\n\nof  &lt;b&gt; &amp;amp; "), "a photo of <b> &");
    }
}
