//! `plexus embed --model M.yaml --weights W.safetensors [--images F... | --pixels P]
//! [--texts T.txt | --tokens K] --out O.safetensors`: open_clip `CLIP.encode_image` and
//! `encode_text` with the `vit` and `text_transformer` plugins (loaded through the
//! registry, as experiments load them). Writes `image_embeds` `[N, embed_dim]` and/or
//! `text_embeds` `[M, embed_dim]`, unnormalised, for the inputs given. CPU, float32.
pub mod config;
mod weights;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use plexus_plugin::Hparams;
use rand::SeedableRng;
use tch::{nn, Device, Kind, Tensor};

use crate::data::ImageConfig;
use crate::error::{Error, Result};
use crate::plugins::{default_search_path, Registry};
use config::OpenClipConfig;

/// open_clip's `OPENAI_DATASET_MEAN` / `OPENAI_DATASET_STD`, its default normalisation,
/// spelled as open_clip spells them (hence more digits than f32 keeps).
#[allow(clippy::excessive_precision)]
const OPENAI_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
#[allow(clippy::excessive_precision)]
const OPENAI_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

#[derive(clap::Args)]
pub struct Args {
    /// Model YAML with open_clip's model_configs fields (embed_dim, vision_cfg, text_cfg).
    #[arg(long)]
    pub model: PathBuf,
    /// open_clip CLIP state dict as safetensors (visual.*, text tower at the root, logit_scale).
    #[arg(long)]
    pub weights: PathBuf,
    /// Image files, preprocessed like open_clip's default (see docs/embed.md).
    #[arg(long, num_args = 1.., conflicts_with = "pixels")]
    pub images: Vec<PathBuf>,
    /// Safetensors file with a preprocessed float tensor `pixels` [N, 3, H, W].
    #[arg(long)]
    pub pixels: Option<PathBuf>,
    /// Text file, one text per line, tokenized as open_clip.tokenize does (needs --bpe).
    #[arg(long, conflicts_with = "tokens")]
    pub texts: Option<PathBuf>,
    /// open_clip's BPE merges (bpe_simple_vocab_16e6.txt.gz, in open_clip's package
    /// folder), for --texts: the `clip_bpe` tokenizer of the text plugin.
    #[arg(long, requires = "texts")]
    pub bpe: Option<PathBuf>,
    /// Safetensors file with an int64 tensor `tokens` [N, L] of open_clip token ids.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Output safetensors file (image_embeds, text_embeds).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn main(args: Args, plugin_dirs: Vec<PathBuf>) -> ExitCode {
    match embed(&args, &plugin_dirs) {
        Ok(written) => {
            println!("wrote {} to {}", written.join(", "), args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Returns the names of the tensors written.
fn embed(args: &Args, plugin_dirs: &[PathBuf]) -> Result<Vec<String>> {
    if args.texts.is_some() && args.bpe.is_none() {
        return Err(Error::Other(
            "--texts needs --bpe FILE: open_clip's bpe_simple_vocab_16e6.txt.gz (in the open_clip package folder)".into(),
        ));
    }
    if args.images.is_empty() && args.pixels.is_none() && args.tokens.is_none() && args.texts.is_none() {
        return Err(Error::Other("nothing to embed: give --images or --pixels, and/or --texts or --tokens".into()));
    }
    let model_file = args.model.display().to_string();
    let text = std::fs::read_to_string(&args.model).map_err(|e| Error::io(&args.model, e))?;
    let config = OpenClipConfig::parse(&text, &model_file)?;
    if let (Some(_), Some(name)) = (&args.texts, &config.text_cfg.hf_tokenizer_name) {
        return Err(Error::Other(format!(
            "{model_file}: text_cfg.hf_tokenizer_name is {name:?}: open_clip tokenizes this model with that Hugging Face \
             tokenizer, not its BPE, so --texts would give other ids; pass --tokens"
        )));
    }
    let towers = config.towers(&model_file)?;

    // Inputs first, so a bad input fails before the plugins and weights load.
    let pixels = match (&args.pixels, args.images.is_empty()) {
        (Some(file), _) => Some(read_pixels(file, towers.image_size)?),
        (None, false) => Some(load_images(&args.images, towers.image_size)?),
        (None, true) => None,
    };
    let mut tokens = args.tokens.as_deref().map(|f| read_tokens(f, towers.context_length)).transpose()?;
    let texts = args.texts.as_deref().map(read_texts).transpose()?;

    let registry = Registry::discover(&default_search_path(plugin_dirs));
    if let (Some(texts), Some(bpe)) = (&texts, &args.bpe) {
        let cfg = serde_json::json!({ "path": bpe, "context_length": towers.context_length });
        let tokenizer = registry.tokenizer("clip_bpe", &nn::VarStore::new(Device::Cpu).root(), &Hparams::new(cfg, "--bpe"))?;
        tokens = Some(tokenizer.encode(texts)?); // [M, context_length]
    }
    let vs = nn::VarStore::new(Device::Cpu);
    let vision = registry.encoder("vit", &(vs.root() / "visual"), &Hparams::new(towers.vision, format!("{model_file} vision_cfg")))?;
    let text_tower = registry.encoder("text_transformer", &vs.root(), &Hparams::new(towers.text, format!("{model_file} text_cfg")))?;
    weights::load_state_dict(&vs, &args.weights, &weights::logit_keys(towers.has_logit_bias))?;

    let mut out: Vec<(String, Tensor)> = Vec::new();
    tch::no_grad(|| -> Result<()> {
        if let Some(p) = &pixels {
            out.push(("image_embeds".into(), vision.encode(p, false)?)); // [N, embed_dim]
        }
        if let Some(t) = &tokens {
            out.push(("text_embeds".into(), text_tower.encode(t, false)?)); // [M, embed_dim]
        }
        Ok(())
    })?;
    Tensor::write_safetensors(&out, &args.out).map_err(|e| Error::Data(format!("{}: cannot write: {e}", args.out.display())))?;
    Ok(out.into_iter().map(|(n, _)| n).collect())
}

/// The tensor `name` of a safetensors file, or an error naming the file and the key.
fn read_named(file: &Path, name: &str) -> Result<Tensor> {
    let shown = file.display();
    let tensors = Tensor::read_safetensors(file).map_err(|e| Error::Data(format!("{shown}: cannot read safetensors: {e}")))?;
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    let found = tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t.shallow_clone());
    found.ok_or_else(|| Error::Data(format!("{shown}: no tensor named `{name}` (found {names:?})")))
}

/// `pixels` `[N, 3, S, S]` float, S = vision_cfg.image_size.
fn read_pixels(file: &Path, image_size: i64) -> Result<Tensor> {
    let pixels = read_named(file, "pixels")?;
    let size = pixels.size();
    if size.len() != 4 || size[1] != 3 || size[2] != image_size || size[3] != image_size {
        return Err(Error::Data(format!(
            "{}: `pixels` has shape {size:?}; expected [N, 3, {image_size}, {image_size}] (vision_cfg.image_size {image_size})",
            file.display()
        )));
    }
    if !pixels.is_floating_point() {
        return Err(Error::Data(format!("{}: `pixels` is {:?}; expected a float tensor", file.display(), pixels.kind())));
    }
    Ok(pixels.to_kind(Kind::Float))
}

/// One text per line (a final newline ends the file; other empty lines are empty texts).
fn read_texts(file: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let texts: Vec<String> = text.lines().map(str::to_string).collect();
    if texts.is_empty() {
        return Err(Error::Data(format!("{}: no texts (one per line)", file.display())));
    }
    Ok(texts)
}

/// `tokens` `[N, L]` int64, L ≤ text_cfg.context_length.
fn read_tokens(file: &Path, context_length: i64) -> Result<Tensor> {
    let tokens = read_named(file, "tokens")?;
    let size = tokens.size();
    if size.len() != 2 || size[1] > context_length || tokens.kind() != Kind::Int64 {
        return Err(Error::Data(format!(
            "{}: `tokens` is {:?} {size:?}; expected int64 [N, L] with L <= {context_length} (text_cfg.context_length)",
            file.display(),
            tokens.kind()
        )));
    }
    Ok(tokens)
}

/// open_clip's default eval preprocessing for `size`: resize so the shorter side is
/// `size` (the longer side truncated as torchvision does), centre crop `size`×`size`, RGB
/// in [0, 1], OpenAI mean/std. Resampling is the data layer's bilinear filter, not PIL's
/// bicubic, so pixels differ slightly from open_clip's; use --pixels for exact parity.
fn load_images(files: &[PathBuf], size: i64) -> Result<Tensor> {
    let s = u32::try_from(size).map_err(|_| Error::Other(format!("vision_cfg.image_size {size} is not a valid size")))?;
    // Unused: without augmentation the loader draws nothing.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut images = Vec::with_capacity(files.len());
    for file in files {
        let (w, h) = image::image_dimensions(file).map_err(|e| Error::Data(format!("{}: cannot read image: {e}", file.display())))?;
        let short = w.min(h).max(1) as u64;
        let scaled = |side: u32| ((side as u64 * s as u64) / short).max(s as u64) as u32;
        let cfg = ImageConfig {
            resize: [scaled(h), scaled(w)],
            crop: Some([s, s]),
            hflip: false,
            channels: 3,
            mean: OPENAI_MEAN.to_vec(),
            std: OPENAI_STD.to_vec(),
        };
        let px = cfg.load(file, false, &mut rng)?;
        images.push(Tensor::from_slice(&px).view([3, size, size])); // [3, S, S]
    }
    Ok(Tensor::stack(&images, 0)) // [N, 3, S, S]
}
