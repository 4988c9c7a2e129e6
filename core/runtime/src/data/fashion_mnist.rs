//! Fashion-MNIST (Xiao et al. 2017): 60k train / 10k test 28×28 grey images, 10 classes.
use std::path::Path;

use tch::{Kind, Tensor};

use super::{read_idx, CaptionedImages};
use crate::error::{Error, Result};

/// Class names written for captions (the dataset's labels, lightly spelled out).
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];

/// Pixel statistics of the training split, used to standardise inputs.
const MEAN: f64 = 0.2860;
const STD: f64 = 0.3530;

/// Loads `split` ("train" or "test") from `root` (which holds the four `*-ubyte.gz` files).
pub fn load_fashion_mnist(root: &Path, split: &str, templates: Vec<String>) -> Result<CaptionedImages> {
    let prefix = match split {
        "train" => "train",
        "test" => "t10k",
        other => return Err(Error::Data(format!("fashion_mnist: unknown split `{other}` (use train or test)"))),
    };
    if templates.is_empty() || templates.iter().any(|t| !t.contains("{}")) {
        return Err(Error::Data("fashion_mnist: templates must be a non-empty list, each with one `{}` for the class name".into()));
    }
    let images_path = root.join(format!("{prefix}-images-idx3-ubyte.gz"));
    let labels_path = root.join(format!("{prefix}-labels-idx1-ubyte.gz"));
    for p in [&images_path, &labels_path] {
        if !p.exists() {
            return Err(Error::Data(format!(
                "dataset file {} is missing; fetch Fashion-MNIST with `make data` (it unpacks Debian's dataset-fashion-mnist into data/fashion-mnist)",
                p.display()
            )));
        }
    }
    let images = read_idx(&images_path)?;
    let labels = read_idx(&labels_path)?;
    if images.dims.len() != 3 || labels.dims.len() != 1 || images.dims[0] != labels.dims[0] {
        return Err(Error::Data(format!(
            "{}: image dims {:?} do not match label dims {:?}",
            root.display(),
            images.dims,
            labels.dims
        )));
    }
    let (n, h, w) = (images.dims[0] as i64, images.dims[1] as i64, images.dims[2] as i64);
    let pixels = Tensor::from_slice(&images.data).view([n, 1, h, w]).to_kind(Kind::Float) / 255.0; // [N, 1, H, W]
    let labels: Vec<i64> = labels.data.iter().map(|&l| l as i64).collect();
    if let Some(bad) = labels.iter().find(|&&l| l >= FASHION_MNIST_CLASSES.len() as i64) {
        return Err(Error::Data(format!("{}: label {bad} is outside the 10 classes", labels_path.display())));
    }
    Ok(CaptionedImages {
        name: "fashion_mnist".into(),
        split: split.into(),
        images: (pixels - MEAN) / STD,
        labels,
        class_names: FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
        templates,
    })
}
