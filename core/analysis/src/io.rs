//! Reading and writing exported embeddings: `<run>/embeddings/<split>.safetensors`.
//!
//! The file holds three tensors of the same `N` rows:
//! - `image_embeds` f32 `[N, D]`: image embeddings, unnormalised;
//! - `text_embeds` f32 `[N, D]`: the embedding of the caption paired with image `i`;
//! - `labels` i64 `[N]`: class labels.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};

/// One split's embeddings, as ndarray 0.16 arrays (the version `tch` 0.24 converts to).
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// `[N, D]` image embeddings.
    pub image: Array2<f32>,
    /// `[N, D]` text embeddings; row `i` is the caption paired with image `i`.
    pub text: Array2<f32>,
    /// `[N]` class labels.
    pub labels: Array1<i64>,
}

impl Embeddings {
    /// Checks that the three arrays agree in `N` and the two embeddings in `D`.
    pub fn new(image: Array2<f32>, text: Array2<f32>, labels: Array1<i64>) -> Result<Self> {
        if image.dim() != text.dim() {
            return Err(Error::Invalid(format!(
                "image_embeds is {:?} but text_embeds is {:?}: both must be [N, D]",
                image.shape(),
                text.shape()
            )));
        }
        if labels.len() != image.nrows() {
            return Err(Error::Invalid(format!(
                "labels has {} entries but the embeddings have {} rows",
                labels.len(),
                image.nrows()
            )));
        }
        Ok(Self { image, text, labels })
    }

    pub fn len(&self) -> usize {
        self.image.nrows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dim(&self) -> usize {
        self.image.ncols()
    }
}

/// `<run_dir>/embeddings/<split>.safetensors`
pub fn embeddings_path(run_dir: &Path, split: &str) -> PathBuf {
    run_dir.join("embeddings").join(format!("{split}.safetensors"))
}

/// Loads and validates one embeddings file; errors name the file and the tensor.
pub fn load_embeddings(path: &Path) -> Result<Embeddings> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::Format { path: path.to_path_buf(), msg: format!("{e:?}") })?;
    let image = matrix_f32(path, &st, "image_embeds")?;
    let text = matrix_f32(path, &st, "text_embeds")?;
    let labels = vector_i64(path, &st, "labels")?;
    let bad = |name: &str, msg: String| Error::BadTensor { path: path.to_path_buf(), name: name.into(), msg };
    if text.dim() != image.dim() {
        return Err(bad("text_embeds", format!("shape {:?} differs from image_embeds {:?}", text.shape(), image.shape())));
    }
    if labels.len() != image.nrows() {
        return Err(bad("labels", format!("{} entries but image_embeds has {} rows", labels.len(), image.nrows())));
    }
    for (name, m) in [("image_embeds", &image), ("text_embeds", &text)] {
        if let Some(pos) = m.iter().position(|v| !v.is_finite()) {
            return Err(bad(name, format!("non-finite value at row {}", pos / m.ncols().max(1))));
        }
    }
    Ok(Embeddings { image, text, labels })
}

/// Writes embeddings in the format [`load_embeddings`] reads (used by tests and fixtures).
pub fn save_embeddings(path: &Path, e: &Embeddings) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let image: Vec<u8> = e.image.iter().flat_map(|v| v.to_le_bytes()).collect();
    let text: Vec<u8> = e.text.iter().flat_map(|v| v.to_le_bytes()).collect();
    let labels: Vec<u8> = e.labels.iter().flat_map(|v| v.to_le_bytes()).collect();
    let fmt = |err: safetensors::SafeTensorError| Error::Format { path: path.to_path_buf(), msg: format!("{err:?}") };
    let views = [
        ("image_embeds", TensorView::new(Dtype::F32, e.image.shape().to_vec(), &image).map_err(fmt)?),
        ("text_embeds", TensorView::new(Dtype::F32, e.text.shape().to_vec(), &text).map_err(fmt)?),
        ("labels", TensorView::new(Dtype::I64, vec![e.labels.len()], &labels).map_err(fmt)?),
    ];
    let map: HashMap<&str, TensorView> = views.into_iter().collect();
    let bytes = safetensors::tensor::serialize(map, &None).map_err(fmt)?;
    std::fs::write(path, bytes).map_err(io)
}

fn tensor<'a>(path: &Path, st: &'a SafeTensors, name: &str, expected: &str) -> Result<TensorView<'a>> {
    st.tensor(name).map_err(|_| {
        let mut names: Vec<&String> = st.names();
        names.sort();
        let found = if names.is_empty() { "no tensors".to_string() } else { names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") };
        Error::MissingTensor { path: path.to_path_buf(), name: name.into(), expected: expected.into(), found }
    })
}

fn matrix_f32(path: &Path, st: &SafeTensors, name: &str) -> Result<Array2<f32>> {
    let t = tensor(path, st, name, "f32 [N, D]")?;
    let bad = |msg: String| Error::BadTensor { path: path.to_path_buf(), name: name.into(), msg };
    if t.dtype() != Dtype::F32 {
        return Err(bad(format!("dtype {:?}, expected F32", t.dtype())));
    }
    let shape = t.shape().to_vec();
    if shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
        return Err(bad(format!("shape {shape:?}, expected [N, D] with N, D > 0")));
    }
    let values: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Array2::from_shape_vec((shape[0], shape[1]), values).map_err(|e| bad(e.to_string()))
}

fn vector_i64(path: &Path, st: &SafeTensors, name: &str) -> Result<Array1<i64>> {
    let t = tensor(path, st, name, "i64 [N]")?;
    let bad = |msg: String| Error::BadTensor { path: path.to_path_buf(), name: name.into(), msg };
    if t.dtype() != Dtype::I64 {
        return Err(bad(format!("dtype {:?}, expected I64", t.dtype())));
    }
    if t.shape().len() != 1 {
        return Err(bad(format!("shape {:?}, expected [N]", t.shape())));
    }
    let values: Vec<i64> = t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    Ok(Array1::from_vec(values))
}
