"""Fixtures for tests/open_clip_parity.rs, written to the folder given as argv[1].

Builds open_clip's VisionTransformer and TextTransformer with small configs and random
weights (LayerNorms perturbed too, so their parameters matter), and writes:
- vision.safetensors / text.safetensors: the state dicts as they are;
- io.safetensors: inputs, open_clip's outputs, ClipLoss and SigLipLoss on random
  embeddings, and CoCaLoss's caption term on random logits with padded labels;
- configs.json: the configs used, in plexus' field names.
Only open_clip.transformer and open_clip.loss are imported: the package's __init__ pulls
the tokenizer and hub dependencies, which this test does not need.
"""
import importlib.util
import json
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

spec = importlib.util.find_spec("open_clip")
package = types.ModuleType("open_clip")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["open_clip"] = package
from open_clip.loss import ClipLoss, CoCaLoss, SigLipLoss  # noqa: E402
from open_clip.transformer import TextTransformer, VisionTransformer  # noqa: E402
from open_clip.version import __version__  # noqa: E402

out = Path(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(1)

vision_cfg = dict(image_size=16, patch_size=4, width=32, layers=2, heads=4, mlp_ratio=4.0, output_dim=12)
text_cfg = dict(context_length=10, vocab_size=50, width=32, heads=4, layers=2, mlp_ratio=4.0, output_dim=12)
vision = VisionTransformer(**vision_cfg).eval()
text = TextTransformer(**text_cfg).eval()
with torch.no_grad():
    for model in (vision, text):
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln" in name or name.startswith("ln"):
                p.add_(0.1 * torch.randn_like(p))


def contiguous(state):
    return {k: v.detach().contiguous() for k, v in state.items()}


save_file(contiguous(vision.state_dict()), str(out / "vision.safetensors"))
save_file(contiguous(text.state_dict()), str(out / "text.safetensors"))

images = torch.randn(3, 3, 16, 16)
# Token rows: ids in [1, vocab-2], the end-of-text token (the largest id) at a varying
# position, zero padding after it, as open_clip's tokenizer produces.
tokens = torch.zeros(3, text_cfg["context_length"], dtype=torch.int64)
for row, eot in enumerate([4, 9, 6]):
    tokens[row, :eot] = torch.randint(1, text_cfg["vocab_size"] - 1, (eot,))
    tokens[row, eot] = text_cfg["vocab_size"] - 1

image_embeds = torch.randn(5, 12)
text_embeds = torch.randn(5, 12)
log_scale = torch.tensor(2.7)
siglip_log_scale, siglip_bias = torch.tensor(1.9), torch.tensor(-4.5)
normalize = torch.nn.functional.normalize
with torch.no_grad():
    unit_image, unit_text = normalize(image_embeds, dim=-1), normalize(text_embeds, dim=-1)
    clip_loss = ClipLoss()(unit_image, unit_text, log_scale.exp())
    siglip_loss = SigLipLoss()(unit_image, unit_text, siglip_log_scale.exp(), siglip_bias)
    caption_logits = torch.randn(3, 7, 50)
    caption_labels = torch.randint(1, 50, (3, 7))
    caption_labels[0, 5:] = 0  # padding (id 0), which the caption loss skips
    caption_labels[2, 3:] = 0
    coca = CoCaLoss(caption_loss_weight=1.0, clip_loss_weight=0.0, pad_id=0)
    _, caption_loss = coca(unit_image, unit_text, caption_logits, caption_labels, log_scale.exp())
    save_file(
        {
            "images": images,
            "tokens": tokens,
            "vision_out": vision(images),
            "text_out": text(tokens),
            "image_embeds": image_embeds,
            "text_embeds": text_embeds,
            "logit_scale": log_scale,
            "clip_loss": clip_loss,
            "siglip_logit_scale": siglip_log_scale,
            "siglip_logit_bias": siglip_bias,
            "siglip_loss": siglip_loss,
            "caption_logits": caption_logits,
            "caption_labels": caption_labels,
            "caption_loss": caption_loss,
        },
        str(out / "io.safetensors"),
    )

plexus_vision = {k: v for k, v in vision_cfg.items() if k != "heads"}
plexus_vision.update(in_channels=3, head_width=vision_cfg["width"] // vision_cfg["heads"])
json.dump({"open_clip": __version__, "vision": plexus_vision, "text": text_cfg}, open(out / "configs.json", "w"))
