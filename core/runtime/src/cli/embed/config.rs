//! The model YAML of `plexus embed`: exactly the fields of open_clip's
//! `model_configs/*.json` (`embed_dim`, `vision_cfg` = `CLIPVisionCfg`, `text_cfg` =
//! `CLIPTextCfg`, open_clip 3.2.0 names and defaults), so a config converts one-to-one.
//! Options whose non-default value changes the towers beyond what `vit` and
//! `text_transformer` compute are refused by name rather than ignored.
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// An int or an int list: open_clip types `layers` and `image_size` as `Union[Tuple, int]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IntOrList {
    One(i64),
    List(Vec<i64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenClipConfig {
    pub embed_dim: i64,
    #[serde(default)]
    pub quick_gelu: bool,
    #[serde(default)]
    pub custom_text: bool,
    /// Present = the state dict also holds a `logit_bias` (SigLIP-style models).
    #[serde(default)]
    pub init_logit_bias: Option<f64>,
    #[serde(default)]
    pub vision_cfg: VisionCfg,
    #[serde(default)]
    pub text_cfg: TextCfg,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisionCfg {
    pub layers: IntOrList,
    pub width: i64,
    pub head_width: i64,
    pub mlp_ratio: f64,
    /// open_clip's ResNet configs set it to null.
    pub patch_size: Option<i64>,
    pub image_size: IntOrList,
    pub ls_init_value: Option<f64>,
    /// Inactive at inference (open_clip drops patches only in training), so any value loads.
    pub patch_dropout: f64,
    pub attentional_pool: bool,
    pub attn_pooler_queries: i64,
    pub attn_pooler_heads: i64,
    pub no_ln_pre: bool,
    pub pos_embed_type: String,
    /// With `tok` pooling the per-token LayerNorm commutes with taking token 0: either loads.
    pub final_ln_after_pool: bool,
    pub pool_type: String,
    pub output_tokens: bool,
    pub act_kwargs: Option<Value>,
    pub norm_kwargs: Option<Value>,
    pub block_type: Option<String>,
    pub qk_norm: bool,
    pub scaled_cosine_attn: bool,
    pub scale_heads: bool,
    pub scale_attn_inner: bool,
    pub scale_attn: bool,
    pub scale_fc: bool,
    pub timm_model_name: Option<String>,
    pub timm_model_pretrained: bool,
    pub timm_pool: String,
    /// open_clip's timm configs may set it to null (no projection).
    pub timm_proj: Option<String>,
    pub timm_proj_bias: bool,
    pub timm_drop: f64,
    pub timm_drop_path: Option<f64>,
}

impl Default for VisionCfg {
    fn default() -> Self {
        Self {
            layers: IntOrList::One(12),
            width: 768,
            head_width: 64,
            mlp_ratio: 4.0,
            patch_size: Some(16),
            image_size: IntOrList::One(224),
            ls_init_value: None,
            patch_dropout: 0.0,
            attentional_pool: false,
            attn_pooler_queries: 256,
            attn_pooler_heads: 8,
            no_ln_pre: false,
            pos_embed_type: "learnable".into(),
            final_ln_after_pool: false,
            pool_type: "tok".into(),
            output_tokens: false,
            act_kwargs: None,
            norm_kwargs: None,
            block_type: None,
            qk_norm: false,
            scaled_cosine_attn: false,
            scale_heads: false,
            scale_attn_inner: false,
            scale_attn: false,
            scale_fc: false,
            timm_model_name: None,
            timm_model_pretrained: false,
            timm_pool: "avg".into(),
            timm_proj: Some("linear".into()),
            timm_proj_bias: false,
            timm_drop: 0.0,
            timm_drop_path: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextCfg {
    pub context_length: i64,
    pub vocab_size: i64,
    /// Tokenizer choices: `plexus embed` takes token ids, so these do not affect it.
    pub hf_tokenizer_name: Option<String>,
    pub tokenizer_mode: Option<String>,
    pub tokenizer_kwargs: Option<Value>,
    pub width: i64,
    pub heads: i64,
    pub layers: i64,
    pub mlp_ratio: f64,
    pub ls_init_value: Option<f64>,
    pub embed_cls: bool,
    /// Only read by `eos`/cls pooling, which are refused, so any value loads.
    pub pad_id: i64,
    pub eos_id: i64,
    pub no_causal_mask: bool,
    /// With `argmax` pooling the per-token LayerNorm commutes with pooling: either loads.
    pub final_ln_after_pool: bool,
    pub pool_type: String,
    pub proj_bias: bool,
    pub proj_type: String,
    pub output_tokens: bool,
    pub act_kwargs: Option<Value>,
    pub norm_kwargs: Option<Value>,
    pub block_type: Option<String>,
    pub qk_norm: bool,
    pub scaled_cosine_attn: bool,
    pub scale_heads: bool,
    pub scale_attn_inner: bool,
    pub scale_attn: bool,
    pub scale_fc: bool,
    pub hf_model_name: Option<String>,
    pub hf_model_pretrained: bool,
    pub hf_proj_type: String,
    pub hf_pooler_type: String,
}

impl Default for TextCfg {
    fn default() -> Self {
        Self {
            context_length: 77,
            vocab_size: 49408,
            hf_tokenizer_name: None,
            tokenizer_mode: None,
            tokenizer_kwargs: None,
            width: 512,
            heads: 8,
            layers: 12,
            mlp_ratio: 4.0,
            ls_init_value: None,
            embed_cls: false,
            pad_id: 0,
            eos_id: 2,
            no_causal_mask: false,
            final_ln_after_pool: false,
            pool_type: "argmax".into(),
            proj_bias: false,
            proj_type: "linear".into(),
            output_tokens: false,
            act_kwargs: None,
            norm_kwargs: None,
            block_type: None,
            qk_norm: false,
            scaled_cosine_attn: false,
            scale_heads: false,
            scale_attn_inner: false,
            scale_attn: false,
            scale_fc: false,
            hf_model_name: None,
            hf_model_pretrained: true,
            hf_proj_type: "mlp".into(),
            hf_pooler_type: "mean_pooler".into(),
        }
    }
}

/// The towers' plexus configs, ready for the `vit` and `text_transformer` factories.
pub struct Towers {
    pub vision: Value,
    pub text: Value,
    pub image_size: i64,
    pub context_length: i64,
    pub has_logit_bias: bool,
}

impl OpenClipConfig {
    /// Parses the YAML text of `file`; unknown keys are errors naming them.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        // serde_yaml's message names the key path (`vision_cfg: unknown field ...`) and line.
        serde_yaml::from_str(text).map_err(|e| Error::Data(format!("{file}: {e}")))
    }

    /// Refuses every option the plexus towers do not compute, then maps the rest.
    pub fn towers(&self, file: &str) -> Result<Towers> {
        let mut refused: Vec<(&str, String)> = Vec::new();
        let mut refuse = |key: &'static str, why: &str| refused.push((key, why.to_string()));
        if self.quick_gelu {
            refuse("quick_gelu", "QuickGELU is not implemented; plexus' transformer blocks use exact GELU");
        }
        if self.custom_text {
            refuse("custom_text", "CustomTextCLIP (text tower under `text.*`) is not supported");
        }
        let v = &self.vision_cfg;
        let d = VisionCfg::default();
        let layers = match v.layers {
            IntOrList::One(n) => n,
            IntOrList::List(_) => {
                refuse("vision_cfg.layers", "a list of layers means a ModifiedResNet tower, which is not supported");
                0
            }
        };
        let image_size = match &v.image_size {
            IntOrList::One(n) => *n,
            IntOrList::List(hw) if hw.len() == 2 && hw[0] == hw[1] => hw[0],
            IntOrList::List(_) => {
                refuse("vision_cfg.image_size", "only square images are supported");
                0
            }
        };
        let patch_size = v.patch_size.unwrap_or_else(|| {
            refuse("vision_cfg.patch_size", "a null patch_size (a ResNet tower) is not supported");
            0
        });
        let vision_checks: [(&'static str, bool); 21] = [
            ("vision_cfg.ls_init_value", v.ls_init_value.is_some()),
            ("vision_cfg.attentional_pool", v.attentional_pool),
            ("vision_cfg.no_ln_pre", v.no_ln_pre),
            ("vision_cfg.pos_embed_type", v.pos_embed_type != d.pos_embed_type),
            ("vision_cfg.pool_type", v.pool_type != d.pool_type),
            ("vision_cfg.output_tokens", v.output_tokens),
            ("vision_cfg.act_kwargs", v.act_kwargs.is_some()),
            ("vision_cfg.norm_kwargs", v.norm_kwargs.is_some()),
            ("vision_cfg.block_type", v.block_type.as_deref().is_some_and(|b| b != "default")),
            ("vision_cfg.qk_norm", v.qk_norm),
            ("vision_cfg.scaled_cosine_attn", v.scaled_cosine_attn),
            ("vision_cfg.scale_heads", v.scale_heads),
            ("vision_cfg.scale_attn_inner", v.scale_attn_inner),
            ("vision_cfg.scale_attn", v.scale_attn),
            ("vision_cfg.scale_fc", v.scale_fc),
            ("vision_cfg.timm_model_name", v.timm_model_name.is_some()),
            ("vision_cfg.timm_model_pretrained", v.timm_model_pretrained),
            ("vision_cfg.timm_pool", v.timm_pool != d.timm_pool),
            ("vision_cfg.timm_proj", v.timm_proj != d.timm_proj || v.timm_proj_bias),
            ("vision_cfg.timm_drop", v.timm_drop != d.timm_drop || v.timm_drop_path.is_some()),
            ("vision_cfg.attn_pooler_queries", v.attn_pooler_queries != d.attn_pooler_queries || v.attn_pooler_heads != d.attn_pooler_heads),
        ];
        let t = &self.text_cfg;
        let dt = TextCfg::default();
        let text_checks: [(&'static str, bool); 19] = [
            ("text_cfg.ls_init_value", t.ls_init_value.is_some()),
            ("text_cfg.embed_cls", t.embed_cls),
            ("text_cfg.no_causal_mask", t.no_causal_mask),
            ("text_cfg.pool_type", t.pool_type != dt.pool_type),
            ("text_cfg.proj_bias", t.proj_bias),
            ("text_cfg.proj_type", t.proj_type != dt.proj_type),
            ("text_cfg.output_tokens", t.output_tokens),
            ("text_cfg.act_kwargs", t.act_kwargs.is_some()),
            ("text_cfg.norm_kwargs", t.norm_kwargs.is_some()),
            ("text_cfg.block_type", t.block_type.as_deref().is_some_and(|b| b != "default")),
            ("text_cfg.qk_norm", t.qk_norm),
            ("text_cfg.scaled_cosine_attn", t.scaled_cosine_attn),
            ("text_cfg.scale_heads", t.scale_heads),
            ("text_cfg.scale_attn_inner", t.scale_attn_inner),
            ("text_cfg.scale_attn", t.scale_attn),
            ("text_cfg.scale_fc", t.scale_fc),
            ("text_cfg.hf_model_name", t.hf_model_name.is_some()),
            ("text_cfg.hf_proj_type", t.hf_proj_type != dt.hf_proj_type || !t.hf_model_pretrained),
            ("text_cfg.hf_pooler_type", t.hf_pooler_type != dt.hf_pooler_type),
        ];
        for (key, set) in vision_checks.into_iter().chain(text_checks) {
            if set {
                refuse(key, "this open_clip option is not supported by plexus embed; leave it at open_clip's default");
            }
        }
        if let Some((key, why)) = refused.into_iter().next() {
            return Err(Error::Config { file: file.into(), key: key.into(), message: why });
        }
        Ok(Towers {
            vision: json!({
                "image_size": image_size, "patch_size": patch_size, "in_channels": 3, "width": v.width,
                "layers": layers, "head_width": v.head_width, "mlp_ratio": v.mlp_ratio, "output_dim": self.embed_dim,
            }),
            text: json!({
                "context_length": t.context_length, "vocab_size": t.vocab_size, "width": t.width, "heads": t.heads,
                "layers": t.layers, "mlp_ratio": t.mlp_ratio, "output_dim": self.embed_dim,
            }),
            image_size,
            context_length: t.context_length,
            has_logit_bias: self.init_logit_bias.is_some(),
        })
    }
}
