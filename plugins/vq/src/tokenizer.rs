//! A VQ-VAE video tokenizer: a 3D-convolutional encoder downsamples `[B, T, C, H, W]`
//! clips to a grid of latents, `plexus-losses`' vector quantiser snaps each latent to its
//! nearest codebook entry (straight-through gradient, codebook + commitment loss), and a
//! decoder (nearest upsampling + 3D convolutions) reconstructs the clip. In training, codes
//! the encoder has stopped choosing are restarted from encoder outputs (dead-code
//! restarts, as in Jukebox), which keeps most of the codebook in use.
use plexus_nn::{VectorQuantizer, VqLossConfig};
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{self, nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

const WHO: &str = "vq_video_tokenizer";

/// Config of `vq_video_tokenizer`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct VqVideoTokenizerConfig {
    /// Channels C of the frames (1 grey, 3 RGB).
    pub in_channels: i64,
    /// Frames T and frame side H = W of `example_inputs` (the conformance check); the
    /// network is fully convolutional and takes any T, H, W the strides divide.
    pub frames: i64,
    pub image_size: i64,
    /// Channels of the hidden convolutions.
    pub hidden: i64,
    /// Stride-2 spatial stages: the latent grid is H / 2^downsample × W / 2^downsample.
    pub downsample: i64,
    /// Whether the first stage also halves time (T must then be even).
    pub temporal_downsample: bool,
    /// Codebook size K and code width D.
    pub num_codes: i64,
    pub code_dim: i64,
    /// Weight β of the commitment term.
    pub beta: f64,
    /// A code whose moving average of latents assigned per training batch falls below
    /// this is re-initialised from a random encoder output of the batch (0 = never).
    pub restart_threshold: f64,
    /// Decay of that moving average per training batch.
    pub restart_decay: f64,
}

impl Default for VqVideoTokenizerConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            frames: 4,
            image_size: 16,
            hidden: 16,
            downsample: 2,
            temporal_downsample: true,
            num_codes: 32,
            code_dim: 8,
            beta: 0.25,
            restart_threshold: 1.0,
            restart_decay: 0.9,
        }
    }
}

/// Inputs: `video` `[B, T, C, H, W]` float (T divisible by 2 when `temporal_downsample`,
/// H and W by 2^downsample). Outputs: `reconstruction` `[B, T, C, H, W]`; `codes`
/// `[B, T', H', W']` i64 in `[0, num_codes)` (T' = T/2 or T, H' = H/2^downsample);
/// `latents` `[B, T', H', W', code_dim]` straight-through quantised latents; and the
/// batch's statistics, each repeated per example so that every output is `[B, ..]` (take
/// `.mean()`): `vq_loss` `[B]` codebook + β·commitment loss, `code_usage` `[B]` fraction of
/// the K codes chosen in the batch, `perplexity` `[B]` exp(entropy) of the batch's code
/// histogram.
#[derive(Debug)]
pub struct VqVideoTokenizer {
    encoder: Vec<nn::Conv3D>,
    to_latent: nn::Conv3D,
    from_latent: nn::Conv3D,
    decoder: Vec<nn::Conv3D>,
    to_pixels: nn::Conv3D,
    quantizer: VectorQuantizer,
    codebook: Tensor,
    /// `[K]` moving average of latents assigned to each code per training batch.
    assigned: Tensor,
    cfg: VqVideoTokenizerConfig,
}

fn conv(p: nn::Path, i: i64, o: i64, k: [i64; 3], stride: [i64; 3], padding: [i64; 3]) -> nn::Conv3D {
    let cfg = nn::ConvConfigND::<[i64; 3]> {
        stride,
        padding,
        dilation: [1, 1, 1],
        groups: 1,
        bias: true,
        ws_init: nn::init::DEFAULT_KAIMING_UNIFORM,
        bs_init: nn::Init::Const(0.0),
        padding_mode: nn::PaddingMode::Zeros,
    };
    nn::conv(p, i, o, k, cfg)
}

impl VqVideoTokenizer {
    pub fn new(p: &nn::Path, cfg: &VqVideoTokenizerConfig) -> Result<Self> {
        for (key, value) in [("in_channels", cfg.in_channels), ("frames", cfg.frames), ("image_size", cfg.image_size), ("hidden", cfg.hidden)] {
            if value < 1 {
                return Err(Error::other(format!("{WHO}: `{key}` must be >= 1, got {value}")));
            }
        }
        if !(1..=5).contains(&cfg.downsample) {
            return Err(Error::other(format!("{WHO}: `downsample` must be in 1..=5, got {}", cfg.downsample)));
        }
        if cfg.image_size % (1 << cfg.downsample) != 0 || (cfg.temporal_downsample && cfg.frames % 2 != 0) {
            return Err(Error::other(format!(
                "{WHO}: `image_size` {} must be divisible by 2^downsample = {} and `frames` {} even when temporal_downsample",
                cfg.image_size,
                1 << cfg.downsample,
                cfg.frames
            )));
        }
        if cfg.restart_threshold < 0.0 || !(0.0..1.0).contains(&cfg.restart_decay) {
            return Err(Error::other(format!("{WHO}: need restart_threshold >= 0 and restart_decay in [0, 1), got {cfg:?}")));
        }
        let h = cfg.hidden;
        let stage = |i: i64| if i == 0 && cfg.temporal_downsample { ([4, 4, 4], [2, 2, 2]) } else { ([3, 4, 4], [1, 2, 2]) };
        let mut encoder = vec![conv(p / "encoder" / 0, cfg.in_channels, h, [3, 3, 3], [1, 1, 1], [1, 1, 1])];
        for i in 0..cfg.downsample {
            let (k, s) = stage(i);
            encoder.push(conv(p / "encoder" / (i + 1), h, h, k, s, [1, 1, 1]));
        }
        let mut decoder = Vec::new();
        for i in 0..cfg.downsample {
            decoder.push(conv(p / "decoder" / i, h, h, [3, 3, 3], [1, 1, 1], [1, 1, 1]));
        }
        let vq_path = p / "quantizer";
        let quantizer = VectorQuantizer::new(&vq_path, &VqLossConfig { num_codes: cfg.num_codes, code_dim: cfg.code_dim, beta: cfg.beta })?;
        let codebook = vq_path.get("codebook").ok_or_else(|| Error::other(format!("{WHO}: the quantiser has no `codebook`")))?;
        Ok(Self {
            encoder,
            to_latent: conv(p / "to_latent", h, cfg.code_dim, [1, 1, 1], [1, 1, 1], [0, 0, 0]),
            from_latent: conv(p / "from_latent", cfg.code_dim, h, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
            decoder,
            to_pixels: conv(p / "to_pixels", h, cfg.in_channels, [3, 3, 3], [1, 1, 1], [1, 1, 1]),
            quantizer,
            codebook,
            assigned: p.zeros_no_train("assigned", &[cfg.num_codes]),
            cfg: cfg.clone(),
        })
    }

    fn check_video<'a>(&self, inputs: &'a TensorMap) -> Result<&'a Tensor> {
        let video = inputs.get("video")?;
        let size = video.size();
        let (c, f) = (self.cfg.in_channels, 1i64 << self.cfg.downsample);
        let ok = size.len() == 5
            && video.is_floating_point()
            && !size.contains(&0)
            && size[2] == c
            && size[3] % f == 0
            && size[4] % f == 0
            && (!self.cfg.temporal_downsample || size[1] % 2 == 0);
        if !ok {
            return Err(Error::shape(format!(
                "{WHO}: `video` must be a float [B, T, {c}, H, W] with H, W divisible by {f}{}, got {:?} {size:?}",
                if self.cfg.temporal_downsample { " and T even" } else { "" },
                video.kind()
            )));
        }
        Ok(video)
    }

    /// `[B, C, T, H, W]` → latents `[B, D, T', H', W']`.
    fn encode(&self, x: &Tensor) -> Tensor {
        let x = self.encoder.iter().fold(x.shallow_clone(), |x, c| c.forward(&x).relu()); // [B, h, T', H', W']
        self.to_latent.forward(&x)
    }

    /// latents `[B, D, T', H', W']` → pixels `[B, C, T, H, W]`.
    fn decode(&self, z: &Tensor) -> Tensor {
        let mut x = self.from_latent.forward(z).relu(); // [B, h, T', H', W']
        for (i, c) in self.decoder.iter().enumerate() {
            let t = if i == 0 && self.cfg.temporal_downsample { 2.0 } else { 1.0 };
            let s = x.size();
            let up = [s[2] * t as i64, s[3] * 2, s[4] * 2];
            x = c.forward(&x.upsample_nearest3d(up, Some(t), Some(2.0), Some(2.0))).relu(); // time, height, width ×(t, 2, 2)
        }
        self.to_pixels.forward(&x)
    }

    /// Re-initialises codes whose assignment average fell below the threshold from random
    /// rows of `flat` `[N, D]` (this batch's encoder outputs); `counts` `[K]` this batch's.
    fn restart_dead_codes(&self, flat: &Tensor, counts: &Tensor) {
        let _guard = tch::no_grad_guard();
        let decay = self.cfg.restart_decay;
        let mut assigned = self.assigned.shallow_clone();
        assigned.copy_(&(&self.assigned * decay + counts * (1.0 - decay)));
        let dead = self.assigned.lt(self.cfg.restart_threshold).nonzero().view([-1]); // [n_dead]
        let n_dead = dead.size()[0];
        if n_dead == 0 {
            return;
        }
        let picks = Tensor::randint(flat.size()[0], [n_dead], (Kind::Int64, flat.device()));
        let fresh = flat.detach().index_select(0, &picks).to_kind(self.codebook.kind()); // [n_dead, D]
        let _ = self.codebook.shallow_clone().index_copy_(0, &dead, &fresh);
        // a restarted code gets the average share N / K, i.e. some batches to be chosen
        let share = Tensor::full([n_dead], flat.size()[0] as f64 / self.cfg.num_codes as f64, (Kind::Float, flat.device()));
        let _ = assigned.index_copy_(0, &dead, &share);
    }
}

impl Module for VqVideoTokenizer {
    fn forward(&self, inputs: &TensorMap, train: bool) -> Result<TensorMap> {
        let video = self.check_video(inputs)?; // [B, T, C, H, W]
        let b = video.size()[0];
        let z = self.encode(&video.permute([0, 2, 1, 3, 4])); // [B, D, T', H', W']
        let latents = z.permute([0, 2, 3, 4, 1]); // [B, T', H', W', D]
        let q = self.quantizer.quantize(&latents)?;
        if train && self.cfg.restart_threshold > 0.0 {
            let counts = q.codes.reshape([-1]).bincount::<Tensor>(None, self.cfg.num_codes).to_kind(Kind::Float); // [K]
            self.restart_dead_codes(&latents.reshape([-1, self.cfg.code_dim]), &counts);
        }
        let reconstruction = self.decode(&q.quantized.permute([0, 4, 1, 2, 3])).permute([0, 2, 1, 3, 4]); // [B, T, C, H, W]
        let per_example = |t: &Tensor| t.reshape([1]).expand([b], false); // [B]
        Ok(TensorMap::new()
            .with("reconstruction", &reconstruction)
            .with("codes", &q.codes)
            .with("latents", &q.quantized)
            .with("vq_loss", &per_example(&q.loss))
            .with("code_usage", &per_example(&q.usage))
            .with("perplexity", &per_example(&q.perplexity)))
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let (t, c, s) = (self.cfg.frames, self.cfg.in_channels, self.cfg.image_size);
        Some(TensorMap::new().with("video", &Tensor::randn([2, t, c, s, s], (Kind::Float, Device::Cpu))))
    }
}
