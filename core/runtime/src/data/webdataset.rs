//! WebDataset `.tar` shards: each example is the run of consecutive members that share a
//! key (the member path up to the first `.` of its file name), e.g. `000123.png`,
//! `000123.txt`, `000123.cls` form one example.
//!
//! Opening a dataset reads every shard's headers once with the `tar` crate, seeking past
//! member data, and keeps per example only the data offsets of its image/audio members
//! and its (small) text fields. Nothing is unpacked: loader workers read each member's
//! bytes from its shard by offset when they decode it, so memory stays bounded by the
//! prefetch queue, and in the loader's shard order (`Loader::with_shards`) reads run
//! sequentially through one shard after another.
//!
//! Member extensions: `png`/`jpg`/`jpeg` (image), `wav` (audio), `txt` (a caption),
//! `cls` (an integer label), `json` (an object with any of the manifest keys `id`,
//! `caption`, `label`, `question`, `answer`). Anything else is refused, naming the shard
//! and the member; so is a key that reappears apart from its run.
use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::example::{Location, Record, TarMember};
use super::manifest::{parse_line, Manifest};
use crate::error::{Error, Result};

const IMAGE: [&str; 3] = ["png", "jpg", "jpeg"];
const KNOWN: &str = "png, jpg, jpeg (image), wav (audio), txt (caption), cls (label), json (caption/label/question/answer)";

/// The examples of a set of shards, and which records each shard holds.
#[derive(Debug, Clone)]
pub struct Shards {
    /// `path` is the pattern or first shard, for messages; records are in stream order.
    pub manifest: Manifest,
    /// Record ranges of the shards, in the order given.
    pub ranges: Vec<Range<usize>>,
}

/// Expands every `{a..b}` range of `pattern` (e.g. `shard-{000..009}.tar`), keeping the
/// zero padding of `a`; several ranges give their product, the first varying slowest.
pub fn expand_braces(pattern: &str) -> Result<Vec<String>> {
    let Some(open) = pattern.find('{') else { return Ok(vec![pattern.to_string()]) };
    let bad = || Error::Data(format!("shard pattern `{pattern}`: a `{{` must open a range like {{000..009}}"));
    let close = open + pattern[open..].find('}').ok_or_else(bad)?;
    let (a, b) = pattern[open + 1..close].split_once("..").ok_or_else(bad)?;
    let (lo, hi): (u64, u64) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if lo > hi {
        return Err(Error::Data(format!("shard pattern `{pattern}`: range {lo}..{hi} is empty")));
    }
    let width = a.len();
    let rests = expand_braces(&pattern[close + 1..])?;
    Ok((lo..=hi).flat_map(|i| rests.iter().map(move |rest| format!("{}{i:0width$}{rest}", &pattern[..open]))).collect())
}

/// Indexes `shards` (in the order given); `name` is what messages call the dataset.
pub fn open_shards(name: &str, shards: &[PathBuf]) -> Result<Shards> {
    if shards.is_empty() {
        return Err(Error::Data(format!("{name}: no shards given")));
    }
    let mut records = Vec::new();
    let mut ranges = Vec::with_capacity(shards.len());
    for path in shards {
        let start = records.len();
        index_shard(path, &mut records)?;
        ranges.push(start..records.len());
    }
    if records.is_empty() {
        return Err(Error::Data(format!("{name}: the {} shard(s) hold no examples", shards.len())));
    }
    Ok(Shards { manifest: Manifest { path: PathBuf::from(name), records }, ranges })
}

/// Appends the examples of one shard to `records`.
fn index_shard(path: &Path, records: &mut Vec<Record>) -> Result<()> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| Error::Data(format!("{shown}: cannot open the shard: {e}")))?;
    let length = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let shard: Arc<Path> = Arc::from(path);
    let mut archive = tar::Archive::new(file);
    let entries = archive.entries_with_seek().map_err(|e| Error::Data(format!("{shown}: not a tar archive: {e}")))?;
    let mut keys_done: HashSet<String> = HashSet::new();
    let mut current: Option<(String, Record)> = None;
    let mut last_member = String::from("(none)");
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::Data(format!("{shown}: corrupt tar after member `{last_member}`: {e}")))?;
        let name = entry.path().map_err(|e| Error::Data(format!("{shown}: a member name after `{last_member}` is not valid: {e}")))?.to_string_lossy().into_owned();
        last_member = name.clone();
        let at = |m: String| Error::Data(format!("{shown}:{name}: {m}"));
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(at(format!("only regular files can be members (this is a {kind:?})")));
        }
        let (offset, size) = (entry.raw_file_position(), entry.size());
        if offset + size > length {
            return Err(at(format!("the member is truncated: {size} bytes at offset {offset}, the shard has {length}")));
        }
        let (key, ext) = split_key(&name).ok_or_else(|| at(format!("no extension; members are KEY.EXT with EXT one of {KNOWN}")))?;
        if current.as_ref().is_none_or(|(k, _)| *k != key) {
            if keys_done.contains(&key) {
                return Err(at(format!("key `{key}` reappears after other keys; a key's members must be consecutive")));
            }
            if let Some((k, r)) = current.take() {
                keys_done.insert(k);
                records.push(r);
            }
            let mut r = Record::empty(keys_done.len() + 1);
            r.id = format!("{shown}:{key}");
            current = Some((key.clone(), r));
        }
        let Some((_, record)) = current.as_mut() else { continue };
        let member = Location::Member(TarMember { shard: shard.clone(), name: name.clone(), offset, size });
        let mut text = || -> Result<String> {
            let mut s = String::new();
            entry.read_to_string(&mut s).map_err(|e| at(format!("cannot read the member as UTF-8 text: {e}")))?;
            Ok(s.trim().to_string())
        };
        let slot = match ext.as_str() {
            e if IMAGE.contains(&e) => Some(&mut record.image),
            "wav" => Some(&mut record.audio),
            "mp4" | "avi" => return Err(at("video members are not supported in shards (ffmpeg reads files); list videos in a manifest".into())),
            "txt" => {
                record.captions.push(text()?);
                None
            }
            "cls" => {
                let t = text()?;
                let label = t.parse().map_err(|_| at(format!("a .cls member must hold an integer label, found {t:?}")))?;
                set_once(&mut record.label, label).map_err(at)?;
                None
            }
            "json" => {
                let fields = parse_line(&text()?, record.line, Path::new("")).map_err(at)?;
                merge_json(record, fields).map_err(at)?;
                None
            }
            other => return Err(at(format!("unknown extension `{other}`; known: {KNOWN}"))),
        };
        if let Some(slot) = slot {
            set_once(slot, member).map_err(at)?;
        }
    }
    if let Some((_, r)) = current {
        records.push(r);
    }
    Ok(())
}

/// `dir/000123.seg.png` → (`dir/000123`, `seg.png`): the key ends at the first dot of the
/// file name, as WebDataset splits it; the extension is compared in lower case.
fn split_key(name: &str) -> Option<(String, String)> {
    let base = name.rfind('/').map_or(0, |i| i + 1);
    let dot = base + name[base..].find('.')?;
    let ext = name[dot + 1..].to_ascii_lowercase();
    (!ext.is_empty()).then(|| (name[..dot].to_string(), ext))
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> std::result::Result<(), String> {
    if slot.is_some() {
        return Err("this example already has that field from another member of its key".into());
    }
    *slot = Some(value);
    Ok(())
}

/// Adds a `.json` member's text fields to `record`; file fields belong in members.
fn merge_json(record: &mut Record, fields: Record) -> std::result::Result<(), String> {
    if fields.files().next().is_some() {
        return Err("`image`, `audio` and `video` cannot be set in a .json member; add them as members of the key".into());
    }
    if !fields.id.starts_with("line ") {
        record.id = fields.id;
    }
    record.captions.extend(fields.captions);
    for (slot, value) in [(&mut record.question, fields.question), (&mut record.answer, fields.answer)] {
        if let Some(v) = value {
            set_once(slot, v)?;
        }
    }
    if let Some(l) = fields.label {
        set_once(&mut record.label, l)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_with_padding_in_order() {
        assert_eq!(expand_braces("s-{08..11}.tar").unwrap(), ["s-08.tar", "s-09.tar", "s-10.tar", "s-11.tar"]);
        assert_eq!(expand_braces("{0..1}/p{1..2}.tar").unwrap(), ["0/p1.tar", "0/p2.tar", "1/p1.tar", "1/p2.tar"]);
        assert_eq!(expand_braces("plain.tar").unwrap(), ["plain.tar"]);
        assert!(expand_braces("s-{3..1}.tar").unwrap_err().to_string().contains("empty"));
        assert!(expand_braces("s-{a..b}.tar").unwrap_err().to_string().contains("range like"));
    }

    #[test]
    fn keys_end_at_the_first_dot_of_the_file_name() {
        assert_eq!(split_key("a.b/000123.seg.PNG"), Some(("a.b/000123".into(), "seg.png".into())));
        assert_eq!(split_key("x/noext"), None);
    }
}
