//! Cross-modal attention between two time series, e.g. audio frames (queries) attending to
//! video frames (context) in audio-visual speech recognition. Streams that cover the same
//! time span at different rates are aligned by resampling the context onto the queries'
//! time axis; a local window then lets each query see only the context around its own time.
use plexus_plugin::serde::{Deserialize, Serialize};
use plexus_plugin::tch::{nn, nn::Module as _, Device, Kind, Tensor};
use plexus_plugin::{Error, Module, Result, TensorMap};

/// Config of `seq_cross_attention`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "plexus_plugin::serde", default, deny_unknown_fields)]
pub struct SeqCrossAttentionConfig {
    /// Width of the queries `[B, Tq, query_dim]`; also the output width.
    pub query_dim: i64,
    /// Width of the context `[B, Tk, context_dim]` (projected to `query_dim`).
    pub context_dim: i64,
    /// Attention heads; must divide `query_dim`.
    pub heads: i64,
    /// Hidden width of the MLP after attention, as a multiple of `query_dim`.
    pub mlp_ratio: f64,
    /// Resample the context linearly to Tq steps (both streams span the same time). Without
    /// it, context step j sits at query time j · Tq / Tk for the window and time encoding.
    pub resample: bool,
    /// A query at time t attends to context within |t − t'| <= window query steps (and
    /// always to its nearest context step); 0 = every context step.
    pub window: f64,
}

impl Default for SeqCrossAttentionConfig {
    fn default() -> Self {
        Self { query_dim: 32, context_dim: 32, heads: 4, mlp_ratio: 2.0, resample: true, window: 0.0 }
    }
}

/// Inputs: `queries` `[B, Tq, query_dim]`, `context` `[B, Tk, context_dim]`, optional
/// `context_present` `[B]` bool (an absent context adds nothing: modality dropout).
/// Output: `features` `[B, Tq, query_dim]` = queries + attention, then + MLP (pre-norm).
#[derive(Debug)]
pub struct SeqCrossAttention {
    context_proj: nn::Linear,
    ln_q: nn::LayerNorm,
    ln_kv: nn::LayerNorm,
    ln_mlp: nn::LayerNorm,
    q: nn::Linear,
    k: nn::Linear,
    v: nn::Linear,
    out: nn::Linear,
    fc1: nn::Linear,
    fc2: nn::Linear,
    cfg: SeqCrossAttentionConfig,
}

impl SeqCrossAttention {
    pub fn new(p: &nn::Path, cfg: &SeqCrossAttentionConfig) -> Result<Self> {
        let (d, dc) = (cfg.query_dim, cfg.context_dim);
        if d < 1 || dc < 1 || cfg.heads < 1 || d % cfg.heads != 0 {
            return Err(Error::other(format!("seq_cross_attention: query_dim and context_dim must be >= 1 and heads must divide query_dim (got {cfg:?})")));
        }
        let hidden = (d as f64 * cfg.mlp_ratio).round() as i64;
        if hidden < 1 || !(cfg.window >= 0.0) {
            return Err(Error::other(format!("seq_cross_attention: mlp_ratio must give a hidden width >= 1 and window must be >= 0 (got {cfg:?})")));
        }
        let lin = |name: &str, i: i64, o: i64| nn::linear(p / name, i, o, Default::default());
        Ok(Self {
            context_proj: lin("context_proj", dc, d),
            ln_q: nn::layer_norm(p / "ln_q", vec![d], Default::default()),
            ln_kv: nn::layer_norm(p / "ln_kv", vec![d], Default::default()),
            ln_mlp: nn::layer_norm(p / "ln_mlp", vec![d], Default::default()),
            q: lin("q_proj", d, d),
            k: lin("k_proj", d, d),
            v: lin("v_proj", d, d),
            out: lin("out_proj", d, d),
            fc1: lin("fc1", d, hidden),
            fc2: lin("fc2", hidden, d),
            cfg: cfg.clone(),
        })
    }

    fn float3(&self, inputs: &TensorMap, name: &str, width: i64) -> Result<Tensor> {
        let t = inputs.get(name)?;
        let size = t.size();
        if size.len() != 3 || size[2] != width || size[1] < 1 || !t.is_floating_point() {
            return Err(Error::shape(format!("seq_cross_attention: `{name}` must be float [B, T>=1, {width}], got {:?} {size:?}", t.kind())));
        }
        Ok(t.shallow_clone())
    }

    /// `[B]` presence as `[B, 1, 1]` f32 (all ones when the input is absent).
    fn presence(&self, inputs: &TensorMap, batch: i64, device: Device) -> Result<Tensor> {
        let Some(t) = inputs.get_opt("context_present") else { return Ok(Tensor::ones([batch, 1, 1], (Kind::Float, device))) };
        if t.size() != [batch] {
            return Err(Error::shape(format!("seq_cross_attention: `context_present` must be [{batch}] bool, got {:?}", t.size())));
        }
        Ok(t.to_device(device).to_kind(Kind::Bool).to_kind(Kind::Float).view([batch, 1, 1]))
    }
}

/// Sinusoidal encoding of (possibly fractional) times `[T]` → `[T, dim]`.
fn time_encoding(times: &Tensor, dim: i64) -> Tensor {
    let half = (dim + 1) / 2;
    let freqs = (Tensor::arange(half, (Kind::Float, times.device())) * (-(10_000f64.ln()) / half as f64)).exp(); // [half]
    let angles = times.unsqueeze(1) * freqs.unsqueeze(0); // [T, half]
    Tensor::cat(&[angles.sin(), angles.cos()], 1).narrow(1, 0, dim) // [T, dim]
}

impl Module for SeqCrossAttention {
    fn forward(&self, inputs: &TensorMap, _train: bool) -> Result<TensorMap> {
        let (d, h) = (self.cfg.query_dim, self.cfg.heads);
        let queries = self.float3(inputs, "queries", d)?; // [B, Tq, D]
        let mut context = self.float3(inputs, "context", self.cfg.context_dim)?; // [B, Tk, Dc]
        let (b, tq) = (queries.size()[0], queries.size()[1]);
        if context.size()[0] != b {
            return Err(Error::shape(format!("seq_cross_attention: `context` has batch {} but `queries` {b}", context.size()[0])));
        }
        let present = self.presence(inputs, b, queries.device())?; // [B, 1, 1]
        if self.cfg.resample && context.size()[1] != tq {
            // [B, Dc, Tk] → [B, Dc, Tq]: each stream spans the same time, at its own rate.
            context = context.transpose(1, 2).f_upsample_linear1d([tq], false, None)?.transpose(1, 2); // [B, Tq, Dc]
        }
        let tk = context.size()[1];
        let device = queries.device();
        let t_q = Tensor::arange(tq, (Kind::Float, device)); // [Tq]
        let t_k = Tensor::arange(tk, (Kind::Float, device)) * (tq as f64 / tk as f64); // [Tk], in query steps
        let kv = self.ln_kv.forward(&self.context_proj.forward(&context)); // [B, Tk, D]
        let qn = self.ln_q.forward(&queries); // [B, Tq, D]
        let heads = |x: Tensor, t: i64| x.view([b, t, h, d / h]).transpose(1, 2); // [B, h, T, D/h]
        let q = heads(self.q.forward(&(qn + time_encoding(&t_q, d))), tq);
        let k = heads(self.k.forward(&(&kv + time_encoding(&t_k, d))), tk);
        let v = heads(self.v.forward(&kv), tk);
        let mut scores = q.matmul(&k.transpose(-2, -1)) / ((d / h) as f64).sqrt(); // [B, h, Tq, Tk]
        if self.cfg.window > 0.0 {
            let dist = (t_q.unsqueeze(1) - t_k.unsqueeze(0)).abs(); // [Tq, Tk]
            let nearest = dist.amin([1i64].as_slice(), true); // [Tq, 1]
            let blocked = dist.gt(self.cfg.window).logical_and(&dist.gt_tensor(&nearest)); // [Tq, Tk]
            scores = scores.masked_fill(&blocked, f64::NEG_INFINITY);
        }
        let attended = scores.softmax(-1, Kind::Float).matmul(&v).transpose(1, 2).reshape([b, tq, d]); // [B, Tq, D]
        let x = &queries + self.out.forward(&attended) * present; // [B, Tq, D]
        let x = &x + self.fc2.forward(&self.fc1.forward(&self.ln_mlp.forward(&x)).gelu("none")); // [B, Tq, D]
        Ok(TensorMap::new().with("features", &x))
    }

    fn example_inputs(&self) -> Option<TensorMap> {
        let opts = (Kind::Float, Device::Cpu);
        Some(
            TensorMap::new()
                .with("queries", &Tensor::randn([2, 5, self.cfg.query_dim], opts))
                .with("context", &Tensor::randn([2, 3, self.cfg.context_dim], opts))
                .with("context_present", &Tensor::from_slice(&[true, false])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(window: f64, resample: bool) -> (nn::VarStore, SeqCrossAttention) {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = SeqCrossAttentionConfig { query_dim: 8, context_dim: 6, heads: 2, mlp_ratio: 2.0, resample, window };
        let m = SeqCrossAttention::new(&vs.root(), &cfg).unwrap();
        (vs, m)
    }

    fn run(m: &SeqCrossAttention, q: &Tensor, c: &Tensor, present: Option<&[bool]>) -> Tensor {
        let mut inputs = TensorMap::new().with("queries", q).with("context", c);
        if let Some(p) = present {
            inputs.insert("context_present", &Tensor::from_slice(p));
        }
        m.forward(&inputs, false).unwrap().get("features").unwrap().shallow_clone()
    }

    #[test]
    fn an_absent_context_is_ignored_and_a_present_one_is_used() {
        let (_vs, m) = block(0.0, true);
        let q = Tensor::randn([2, 5, 8], (Kind::Float, Device::Cpu));
        let (c1, c2) = (Tensor::randn([2, 3, 6], (Kind::Float, Device::Cpu)), Tensor::randn([2, 3, 6], (Kind::Float, Device::Cpu)));
        let absent = [false, false];
        assert!(run(&m, &q, &c1, Some(&absent)).allclose(&run(&m, &q, &c2, Some(&absent)), 1e-6, 1e-6, false));
        assert!(!run(&m, &q, &c1, None).allclose(&run(&m, &q, &c2, None), 1e-3, 1e-3, false));
    }

    #[test]
    fn a_window_keeps_each_query_to_the_context_around_its_time() {
        // 8 query steps, 4 context steps resampled to 8: changing the first context step
        // moves only queries within the window of times 0..~1.5.
        let (_vs, m) = block(1.0, true);
        let q = Tensor::randn([1, 8, 8], (Kind::Float, Device::Cpu));
        let c = Tensor::randn([1, 4, 6], (Kind::Float, Device::Cpu));
        let changed = c.copy();
        let _ = changed.narrow(1, 0, 1).fill_(5.0);
        let diff = (run(&m, &q, &c, None) - run(&m, &q, &changed, None)).abs().amax([0i64, 2].as_slice(), false);
        let diff = Vec::<f64>::try_from(diff).unwrap();
        assert!(diff[0] > 0.0 && diff[1] > 0.0, "{diff:?}");
        assert!(diff[4..].iter().all(|&x| x == 0.0), "{diff:?}");
    }

    #[test]
    fn without_resampling_any_context_length_works() {
        let (_vs, m) = block(2.0, false);
        let out = run(&m, &Tensor::randn([3, 7, 8], (Kind::Float, Device::Cpu)), &Tensor::randn([3, 2, 6], (Kind::Float, Device::Cpu)), None);
        assert_eq!(out.size(), [3, 7, 8]);
        assert!(out.isfinite().all().int64_value(&[]) == 1);
    }

    #[test]
    fn wrong_inputs_are_errors_naming_the_input() {
        let (_vs, m) = block(0.0, true);
        let q = Tensor::randn([2, 5, 8], (Kind::Float, Device::Cpu));
        let err = |c: &Tensor, p: &Tensor| m.forward(&TensorMap::new().with("queries", &q).with("context", c).with("context_present", p), false).unwrap_err().to_string();
        let ok_p = Tensor::from_slice(&[true, true]);
        assert!(err(&Tensor::randn([2, 3, 5], (Kind::Float, Device::Cpu)), &ok_p).contains("`context` must be float [B, T>=1, 6]"));
        assert!(err(&Tensor::randn([3, 3, 6], (Kind::Float, Device::Cpu)), &ok_p).contains("batch 3"));
        assert!(err(&Tensor::randn([2, 3, 6], (Kind::Float, Device::Cpu)), &Tensor::from_slice(&[true])).contains("context_present"));
        assert!(SeqCrossAttention::new(&nn::VarStore::new(Device::Cpu).root(), &SeqCrossAttentionConfig { heads: 3, ..Default::default() }).is_err());
    }
}
