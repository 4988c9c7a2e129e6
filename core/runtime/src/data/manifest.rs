//! JSONL manifests: one JSON object per line, e.g.
//! `{"id": "a1", "image": "img/a1.png", "caption": ["a cat", "a small cat"], "label": 3}`.
//! Keys: `id`, `image`, `audio`, `video` (paths relative to the manifest's folder),
//! `caption` (a string or a list of strings), `label` (integer), `question`, `answer`.
//! Every key may be absent; blank lines are ignored. Errors name the file and line.
use std::path::{Path, PathBuf};

use plexus_plugin::{suggest, Modality};
use serde_json::{Map, Value};

use super::example::{Location, Record};
use crate::error::{Error, Result};

const KEYS: [&str; 8] = ["id", "image", "audio", "video", "caption", "label", "question", "answer"];

/// The examples of one manifest file.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub records: Vec<Record>,
}

impl Manifest {
    /// Reads and validates `path`: every line must be an object with known keys of the
    /// right types, every referenced file must exist, and there must be at least one example.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        let shown = path.display();
        let mut records = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{shown}:{}", i + 1);
            let record = parse_line(line, i + 1, folder).map_err(|m| Error::Data(format!("{at}: {m}")))?;
            for file in record.files().filter_map(Location::as_path) {
                if !file.is_file() {
                    return Err(Error::Data(format!("{at}: file {} does not exist", file.display())));
                }
            }
            records.push(record);
        }
        if records.is_empty() {
            return Err(Error::Data(format!("{shown}: the manifest has no examples (every line is blank)")));
        }
        Ok(Self { path: path.to_path_buf(), records })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The modalities at least one example has, in `Modality::ALL` order.
    pub fn modalities(&self) -> Vec<Modality> {
        Modality::ALL.into_iter().filter(|&m| self.records.iter().any(|r| r.has(m))).collect()
    }
}

/// Parses one non-blank line; the error message lacks the `file:line:` prefix.
pub fn parse_line(line: &str, number: usize, folder: &Path) -> std::result::Result<Record, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(format!("expected a JSON object, found {}", kind(&value)));
    };
    if let Some(key) = fields.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key `{key}`{}; known keys: {}", suggest::did_you_mean(key, KEYS), KEYS.join(", ")));
    }
    let mut r = Record::empty(number);
    if let Some(id) = text(&fields, "id")? {
        r.id = id;
    }
    let path = |key| text(&fields, key).map(|p| p.map(|p| Location::File(folder.join(p))));
    r.image = path("image")?;
    r.audio = path("audio")?;
    r.video = path("video")?;
    r.captions = match fields.get("caption") {
        None | Some(Value::Null) => vec![],
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| format!("`caption` list holds {}; every caption must be a string", kind(v))))
            .collect::<std::result::Result<_, _>>()?,
        Some(other) => return Err(format!("`caption` must be a string or a non-empty list of strings, found {}", kind(other))),
    };
    r.label = match fields.get("label") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| format!("`label` must be an integer, found {}", kind(v)))?),
    };
    r.question = text(&fields, "question")?;
    r.answer = text(&fields, "answer")?;
    if r.answer.is_some() && r.question.is_none() {
        return Err("`answer` without a `question`".into());
    }
    Ok(r)
}

fn text(fields: &Map<String, Value>, key: &str) -> std::result::Result<Option<String>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(v) => Err(format!("`{key}` must be a non-empty string, found {}", kind(v))),
    }
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_any_subset_of_fields_relative_to_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("img")).unwrap();
        write(dir.path(), "img/a.png", "x");
        let m = write(
            dir.path(),
            "m.jsonl",
            "{\"id\": \"a\", \"image\": \"img/a.png\", \"caption\": [\"one\", \"two\"], \"label\": 2}\n\n{\"question\": \"q?\", \"answer\": \"a\"}\n",
        );
        let m = Manifest::load(&m).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.records[0].image, Some(Location::File(dir.path().join("img/a.png"))));
        assert_eq!(m.records[0].captions, ["one", "two"]);
        assert_eq!(m.records[0].label, Some(2));
        assert_eq!((m.records[1].id.as_str(), m.records[1].line), ("line 3", 3));
        assert_eq!(m.records[1].question.as_deref(), Some("q?"));
        assert_eq!(m.modalities(), [Modality::Image, Modality::Text]);
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let bad_type = write(dir.path(), "t.jsonl", "{\"caption\": \"ok\"}\n{\"label\": \"three\"}\n");
        let e = Manifest::load(&bad_type).unwrap_err().to_string();
        assert!(e.contains(&format!("{}:2: `label` must be an integer, found string \"three\"", bad_type.display())), "{e}");

        let missing = write(dir.path(), "f.jsonl", "{\"image\": \"nope.png\"}\n");
        let e = Manifest::load(&missing).unwrap_err().to_string();
        assert!(e.contains(&format!("{}:1: file {} does not exist", missing.display(), dir.path().join("nope.png").display())), "{e}");

        let empty = write(dir.path(), "e.jsonl", "\n  \n");
        let e = Manifest::load(&empty).unwrap_err().to_string();
        assert!(e.contains(&format!("{}: the manifest has no examples", empty.display())), "{e}");

        let typo = write(dir.path(), "k.jsonl", "{\"captions\": \"x\"}\n");
        let e = Manifest::load(&typo).unwrap_err().to_string();
        assert!(e.contains(":1: unknown key `captions`") && e.contains("caption"), "{e}");

        let not_json = write(dir.path(), "j.jsonl", "{\"caption\": \"x\"\n");
        assert!(Manifest::load(&not_json).unwrap_err().to_string().contains(":1: not valid JSON"));
    }
}
