//! `plexus score METRIC --pred FILE --ref FILE [--json]`: scores prediction files without
//! training, with the pure functions of the `plexus-metrics` crate (linked as an rlib;
//! experiments still load that crate as a plugin).
//!
//! File formats (ids are JSON object keys; every reference id needs a prediction and
//! every prediction a reference):
//! - captions (`bleu`, `rouge_l`, `cider`, `caption`): `{"id": "caption"}` predictions,
//!   `{"id": ["ref 1", "ref 2", ...]}` references; PTB-tokenised as pycocoevalcap does
//!   unless `--pretokenized`;
//! - `vqa`: `{"qid": "answer"}` vs `{"qid": ["a1", ..., "a10"]}`;
//! - `wer` / `cer`: `{"id": "hypothesis"}` vs `{"id": "reference"}`;
//! - `retrieval`: a safetensors file with a `[Q, N]` float tensor `sims` vs
//!   `{"query_index": [relevant item indices]}` for every query 0..Q.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plexus_metrics::CaptionMetric;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ScoreMetric {
    /// BLEU-1..4 (pycocoevalcap).
    Bleu,
    /// ROUGE-L (β = 1.2).
    #[value(name = "rouge_l")]
    RougeL,
    /// CIDEr-D (σ = 6, ×10).
    Cider,
    /// BLEU-1..4, ROUGE-L and CIDEr-D.
    Caption,
    /// VQA soft accuracy with the official answer normalisation.
    Vqa,
    /// R@k, fraction recall@k, MRR and median rank from a similarity matrix.
    Retrieval,
    /// Word error rate.
    Wer,
    /// Character error rate.
    Cer,
}

#[derive(clap::Args)]
pub struct Args {
    pub metric: ScoreMetric,
    /// Predictions (JSON; safetensors with `sims` for retrieval).
    #[arg(long)]
    pub pred: PathBuf,
    /// References (JSON).
    #[arg(long = "ref")]
    pub reference: PathBuf,
    /// Print `{"metric": value, ...}` instead of text.
    #[arg(long)]
    pub json: bool,
    /// Retrieval: the k of R@k, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,5,10")]
    pub ks: Vec<i64>,
    /// Captions: the text is already tokenised (space-separated words); skip PTB tokenisation.
    #[arg(long)]
    pub pretokenized: bool,
}

pub fn main(args: Args) -> ExitCode {
    match score(&args) {
        Ok(scores) if args.json => {
            let map: Map<String, Value> = scores.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            println!("{}", Value::Object(map));
            ExitCode::SUCCESS
        }
        Ok(scores) => {
            for (k, v) in scores {
                println!("{k:<12} {v:.6}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Scores = Vec<(String, f64)>;

/// Computes the scores; every error names the file and the offending id or key.
pub fn score(args: &Args) -> Result<Scores, String> {
    let (pred, reference) = (args.pred.as_path(), args.reference.as_path());
    let caption = |which| -> Result<Scores, String> {
        let (cands, refs) = paired(pred, reference, as_string, as_string_list)?;
        plexus_metrics::caption_scores(which, &cands, &refs, !args.pretokenized).map_err(|e| e.to_string())
    };
    match args.metric {
        ScoreMetric::Bleu => caption(CaptionMetric::Bleu),
        ScoreMetric::RougeL => caption(CaptionMetric::RougeL),
        ScoreMetric::Cider => caption(CaptionMetric::Cider),
        ScoreMetric::Caption => caption(CaptionMetric::All),
        ScoreMetric::Vqa => {
            let (preds, refs) = paired(pred, reference, as_string, as_string_list)?;
            let (acc, _) = plexus_metrics::vqa_accuracy(&preds, &refs).map_err(|e| e.to_string())?;
            Ok(vec![("vqa_acc".into(), acc)])
        }
        ScoreMetric::Wer | ScoreMetric::Cer => {
            let (hyps, refs) = paired(pred, reference, as_string, as_string)?;
            let (name, rate) = match args.metric {
                ScoreMetric::Wer => ("wer", plexus_metrics::wer(&hyps, &refs)),
                _ => ("cer", plexus_metrics::cer(&hyps, &refs)),
            };
            Ok(vec![(name.into(), rate.map_err(|e| format!("{}: {e}", reference.display()))?)])
        }
        ScoreMetric::Retrieval => retrieval(pred, reference, &args.ks),
    }
}

fn read_object(path: &Path, role: &str) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{role} {}: {e}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!("{role} {}: expected a JSON object {{\"id\": ...}}, got {}", path.display(), kind(&other))),
        Err(e) => Err(format!("{role} {}: not valid JSON: {e}", path.display())),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn as_string(v: &Value) -> Result<String, String> {
    v.as_str().map(str::to_string).ok_or_else(|| format!("expected a string, got {}", kind(v)))
}

/// A list of strings (a single string is taken as a list of one).
fn as_string_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items.iter().map(as_string).collect::<Result<_, _>>().map_err(|e| format!("{e} inside the list")),
        Value::Array(_) => Err("the list is empty".into()),
        other => Err(format!("expected a list of strings, got {}", kind(other))),
    }
}

/// Predictions and references matched by id, in the references' id order.
fn paired<P, R>(
    pred: &Path,
    reference: &Path,
    parse_pred: impl Fn(&Value) -> Result<P, String>,
    parse_ref: impl Fn(&Value) -> Result<R, String>,
) -> Result<(Vec<P>, Vec<R>), String> {
    let preds = read_object(pred, "predictions")?;
    let refs = read_object(reference, "references")?;
    if refs.is_empty() {
        return Err(format!("references {}: no ids", reference.display()));
    }
    if let Some(id) = preds.keys().find(|id| !refs.contains_key(*id)) {
        return Err(format!("predictions {}: id `{id}` has no reference in {}", pred.display(), reference.display()));
    }
    let mut p = Vec::with_capacity(refs.len());
    let mut r = Vec::with_capacity(refs.len());
    for (id, value) in &refs {
        let Some(pv) = preds.get(id) else {
            return Err(format!("predictions {}: no prediction for id `{id}` (it is in {})", pred.display(), reference.display()));
        };
        p.push(parse_pred(pv).map_err(|e| format!("predictions {}: id `{id}`: {e}", pred.display()))?);
        r.push(parse_ref(value).map_err(|e| format!("references {}: id `{id}`: {e}", reference.display()))?);
    }
    Ok((p, r))
}

fn retrieval(pred: &Path, reference: &Path, ks: &[i64]) -> Result<Scores, String> {
    let tensors = tch::Tensor::read_safetensors(pred).map_err(|e| format!("predictions {}: {e}", pred.display()))?;
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    let Some((_, sims)) = tensors.iter().find(|(n, _)| n == "sims") else {
        return Err(format!("predictions {}: no tensor `sims` (found: {})", pred.display(), names.join(", ")));
    };
    if sims.dim() != 2 || !sims.is_floating_point() {
        return Err(format!("predictions {}: `sims` must be a [queries, items] float tensor, got {:?} {:?}", pred.display(), sims.kind(), sims.size()));
    }
    let (q, n) = (sims.size()[0], sims.size()[1]);
    let refs = read_object(reference, "references")?;
    let mut relevant = vec![None; q as usize];
    for (key, value) in &refs {
        let at = |msg: String| format!("references {}: query `{key}`: {msg}", reference.display());
        let i: usize = key.parse().ok().filter(|&i| (i as i64) < q).ok_or_else(|| at(format!("not a query index in 0..{q} (sims is [{q}, {n}])")))?;
        let items = value.as_array().ok_or_else(|| at(format!("expected a list of item indices, got {}", kind(value))))?;
        let items: Vec<i64> = items
            .iter()
            .map(|v| v.as_i64().filter(|&j| (0..n).contains(&j)).ok_or_else(|| at(format!("{v} is not an item index in 0..{n}"))))
            .collect::<Result<_, _>>()?;
        if items.is_empty() {
            return Err(at("no relevant items".into()));
        }
        relevant[i] = Some(items);
    }
    let relevant: Vec<Vec<i64>> = relevant
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.ok_or_else(|| format!("references {}: no relevant items for query `{i}` (sims has {q} queries)", reference.display())))
        .collect::<Result<_, _>>()?;
    plexus_metrics::retrieval_from_sims(sims, &relevant, ks, 1024).map_err(|e| e.to_string())
}
