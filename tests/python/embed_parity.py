"""Fixtures for tests/embed_cli.rs, written to the folder given as argv[1].

Builds open_clip's `CLIP` from a small model config (the same dict that model.yaml
spells out, so the YAML is converted from it, not written separately), with random
weights (LayerNorms, biases and logit_scale perturbed too), and writes:
- weights.safetensors: the state dict as it is;
- inputs.safetensors: `pixels` [3, 3, 16, 16] and `tokens` [3, 10];
- wide.png (24x16) and tall.png (16x22): random RGB images whose shorter side is already
  image_size, so open_clip's bicubic resize is the identity and only its centre crop,
  RGB scaling and OpenAI normalisation act (the part `--images` promises to match);
- expected.safetensors: open_clip's `encode_image(pixels)`, `encode_text(tokens)`, and
  `encode_image` of the two PNGs after open_clip's eval `image_transform`;
- model.yaml: the model config as YAML; version.txt: open_clip's version.
Only open_clip.model and open_clip.transform are imported: the package's __init__ pulls
the tokenizer and hub dependencies, which this test does not need.
"""
import importlib.util
import sys
import types
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import save_file

spec = importlib.util.find_spec("open_clip")
package = types.ModuleType("open_clip")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["open_clip"] = package
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg  # noqa: E402
from open_clip.transform import image_transform  # noqa: E402
from open_clip.version import __version__  # noqa: E402

out = Path(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(1)

# Non-default values everywhere the towers read them (head_width, mlp_ratio, sizes).
model_cfg = {
    "embed_dim": 12,
    "vision_cfg": {"image_size": 16, "patch_size": 4, "width": 32, "head_width": 8, "layers": 2, "mlp_ratio": 2.0},
    "text_cfg": {"context_length": 10, "vocab_size": 50, "width": 24, "heads": 3, "layers": 2, "mlp_ratio": 3.0},
}
model = CLIP(
    embed_dim=model_cfg["embed_dim"],
    vision_cfg=CLIPVisionCfg(**model_cfg["vision_cfg"]),
    text_cfg=CLIPTextCfg(**model_cfg["text_cfg"]),
).eval()
with torch.no_grad():
    for name, p in model.named_parameters():
        if name.endswith("bias") or ".ln" in name or name.startswith("ln") or name == "logit_scale":
            p.add_(0.1 * torch.randn_like(p))

save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(out / "weights.safetensors"))

pixels = torch.randn(3, 3, 16, 16)
# Token rows: ids in [1, vocab-2], the end-of-text token (the largest id) at a varying
# position, zero padding after it, as open_clip's tokenizer produces.
tokens = torch.zeros(3, model_cfg["text_cfg"]["context_length"], dtype=torch.int64)
for row, eot in enumerate([4, 9, 6]):
    tokens[row, :eot] = torch.randint(1, model_cfg["text_cfg"]["vocab_size"] - 1, (eot,))
    tokens[row, eot] = model_cfg["text_cfg"]["vocab_size"] - 1
save_file({"pixels": pixels, "tokens": tokens}, str(out / "inputs.safetensors"))
preprocess = image_transform(model_cfg["vision_cfg"]["image_size"], is_train=False)
files = []
for name, (w, h) in [("wide.png", (24, 16)), ("tall.png", (16, 22))]:
    rgb = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8).numpy()
    Image.fromarray(rgb).save(out / name)
    files.append(preprocess(Image.open(out / name)))
with torch.no_grad():
    expected = {
        "image_embeds": model.encode_image(pixels),
        "text_embeds": model.encode_text(tokens),
        "image_embeds_from_files": model.encode_image(torch.stack(files)),
    }
save_file({k: v.contiguous() for k, v in expected.items()}, str(out / "expected.safetensors"))


def yaml_lines(mapping, indent=0):
    """Block YAML for a dict of dicts and scalars (all this config holds)."""
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield " " * indent + f"{key}:"
            yield from yaml_lines(value, indent + 2)
        else:
            yield " " * indent + f"{key}: {value}"


(out / "model.yaml").write_text("\n".join(yaml_lines(model_cfg)) + "\n")
(out / "version.txt").write_text(__version__)
