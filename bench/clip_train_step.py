#!/usr/bin/env python3
"""PyTorch eager baseline for `clip_train_step` (make bench).

Builds the model of experiments/clip_fashion.yaml exactly as plexus does (plugins/vision
vit.rs, plugins/text text_transformer.rs, plugins/nn transformer.rs, plugins/losses
clip.rs, core/runtime optim.rs), with the same parameter names, so plexus's weights load
with `load_state_dict(strict=True)`:

- ViT: conv1 (patch 7, no bias) → [class token; patches] + positional → ln_pre → pre-norm
  blocks → ln_post(class token) @ proj.
- text: token_embedding + positional → causal pre-norm blocks → ln_final → row at the EOT
  (argmax id) @ text_projection.
- block: x + out_proj(SDPA(split(in_proj(ln_1(x))))), then x + c_proj(gelu(c_fc(ln_2(x))))
  with a packed `in_proj_weight` [3W, W] as nn.MultiheadAttention has.
- loss: symmetric InfoNCE of L2-normalised embeddings, logit scale exp(clamp(s, 0, ln 100)).
- AdamW(betas 0.9/0.98, eps 1e-6, wd 0.05) with decay on >=2-d params only.

Its fastest eager settings: SDPA, `zero_grad(set_to_none=True)`, and the AdamW
implementation chosen by --adamw (default `fused`, the fastest on this CPU; plexus's own
AdamW is the single-tensor loop). The patch embedding is open_clip's `Conv2d` by default;
`--patch-embed matmul` applies the same weight as one matmul over the patches, as plexus's
ViT does (same result, cheaper backward on the CPU), for a baseline with that rewrite too.

Modes:
  --serve             read commands on stdin (for the interleaving Rust driver):
                      `run N` → seconds for N steps; `parity DIR` → loss on plexus's weights
                      and batch; `quit`.
  --steps N --reps R  stand-alone: prints one JSON line with steps/s (used by bench/gpu.sh).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, causal):
        b, l, w = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        split = lambda t: t.view(b, l, self.heads, w // self.heads).transpose(1, 2)  # [B, H, L, hd]
        o = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
        return self.out_proj(o.transpose(1, 2).reshape(b, l, w))


class Mlp(nn.Module):
    def __init__(self, width, hidden):
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, width, heads, mlp_ratio):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = Mlp(width, round(width * mlp_ratio))

    def forward(self, x, causal):
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp_ratio):
        super().__init__()
        self.resblocks = nn.ModuleList(Block(width, heads, mlp_ratio) for _ in range(layers))

    def forward(self, x, causal):
        for block in self.resblocks:
            x = block(x, causal)
        return x


class VisionTransformer(nn.Module):
    patch_matmul = False  # set from --patch-embed

    def __init__(self, image_size=28, patch_size=7, in_channels=1, width=96, layers=3, head_width=32, mlp_ratio=2.0, output_dim=64):
        super().__init__()
        self.patch = patch_size
        grid = image_size // patch_size
        scale = width ** -0.5
        self.width = width
        self.conv1 = nn.Conv2d(in_channels, width, patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, width // head_width, mlp_ratio)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def patches(self, images):
        if not self.patch_matmul:
            return self.conv1(images).flatten(2).transpose(1, 2)  # [B, g*g, W]
        b, c, h, _ = images.shape
        p, g = self.patch, h // self.patch
        x = images.reshape(b, c, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(b, g * g, c * p * p)  # [B, g*g, C·p²]
        return x @ self.conv1.weight.reshape(self.width, -1).t()  # [B, g*g, W]

    def forward(self, images):
        x = self.patches(images)  # [B, g*g, W]
        cls = self.class_embedding.view(1, 1, -1).expand(x.shape[0], 1, self.width)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x), causal=False)
        return self.ln_post(x[:, 0]) @ self.proj


class TextTransformer(nn.Module):
    def __init__(self, vocab_size, context_length=16, width=64, heads=2, layers=2, mlp_ratio=2.0, output_dim=64):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, width)  # `token_embedding.weight`, as open_clip
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        self.positional_embedding = nn.Parameter(0.01 * torch.randn(context_length, width))
        self.transformer = Transformer(width, layers, heads, mlp_ratio)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(width ** -0.5 * torch.randn(width, output_dim))

    def forward(self, tokens):
        l = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:l]
        x = self.ln_final(self.transformer(x, causal=True))
        pooled = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        return pooled @ self.text_projection


class ClipLoss(nn.Module):
    def __init__(self, init_temperature=0.07, max_logit_scale=100.0):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))
        self.max_log_scale = math.log(max_logit_scale)

    def forward(self, image, text):
        scale = self.logit_scale.clamp(0, self.max_log_scale).exp()
        logits = F.normalize(image, dim=-1, eps=1e-12) @ F.normalize(text, dim=-1, eps=1e-12).t() * scale
        targets = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2


class Clip(nn.Module):
    """Top-level names `visual`, `text`, `clip_loss` are plexus's VarStore scopes."""

    def __init__(self, vocab_size):
        super().__init__()
        self.visual = VisionTransformer()
        self.text = TextTransformer(vocab_size)
        self.clip_loss = ClipLoss()

    def forward(self, images, tokens, bf16=False):
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
            return self.clip_loss(self.visual(images).float(), self.text(tokens).float())


def make_optimizer(model, impl, lr=0.002, weight_decay=0.05):
    decay = [p for _, p in sorted(model.named_parameters()) if p.ndim >= 2]
    rest = [p for _, p in sorted(model.named_parameters()) if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]
    kw = {"foreach": False, "fused": False}
    if impl == "fused":
        kw = {"fused": True}
    elif impl == "foreach":
        kw = {"foreach": True}
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6, **kw)


def read_npy(path):
    """A little-endian, C-order .npy (as tch writes them) without needing numpy."""
    import ast
    import struct

    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", path
    major = raw[6]
    header_len = struct.unpack("<H" if major == 1 else "<I", raw[8:10] if major == 1 else raw[8:12])[0]
    start = 10 if major == 1 else 12
    header = ast.literal_eval(raw[start:start + header_len].decode("latin1"))
    assert not header["fortran_order"], path
    dtype = {"<f4": torch.float32, "<i8": torch.int64, "<f8": torch.float64, "<i4": torch.int32}[header["descr"]]
    data = bytearray(raw[start + header_len:])
    return torch.frombuffer(data, dtype=dtype).reshape(header["shape"]).clone()


class Bench:
    def __init__(self, args):
        self.device = torch.device(args.device)
        torch.manual_seed(0)
        self.model = Clip(args.vocab).to(self.device)
        self.opt = make_optimizer(self.model, args.adamw)
        self.bf16 = args.bf16
        self.images = torch.randn(args.batch, 1, 28, 28, device=self.device)
        self.tokens = torch.randint(0, args.vocab, (args.batch, 16), device=self.device)
        self.step_fn = self._step
        if args.compile:
            self.step_fn = torch.compile(self._step)

    def _step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.model(self.images, self.tokens, self.bf16)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def run(self, n):
        self.sync()
        t = time.perf_counter()
        for _ in range(n):
            self.step_fn()
        self.sync()
        return time.perf_counter() - t

    def parity(self, folder):
        """Loss (train mode, no update) on plexus's weights and batch, written as .npy."""
        manifest = json.load(open(os.path.join(folder, "manifest.json")))
        load = lambda name: read_npy(os.path.join(folder, name + ".npy"))
        model = Clip(manifest["vocab_size"])
        model.load_state_dict({name: load(name) for name in manifest["params"]}, strict=True)
        loss = model(load("__images"), load("__tokens"))
        return loss.item(), sum(p.numel() for p in model.parameters())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, required=True)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast of the forward pass (CUDA)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the whole step")
    ap.add_argument("--adamw", choices=["fused", "foreach", "for-loop"], default="fused")
    ap.add_argument("--patch-embed", choices=["conv", "matmul"], default="conv")
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    VisionTransformer.patch_matmul = args.patch_embed == "matmul"
    bench = Bench(args)
    bench.run(args.warmup)
    params = sum(p.numel() for p in bench.model.parameters())
    if args.serve:
        print(f"ready {params} {torch.__version__} {torch.get_num_threads()}", flush=True)
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "run":
                print(f"{bench.run(int(arg)):.9f}", flush=True)
            elif cmd == "parity":
                loss, n = bench.parity(arg)
                print(f"{loss:.9f} {n}", flush=True)
            elif cmd == "quit":
                break
            else:
                print(f"error unknown command {cmd!r}", flush=True)
        return
    rates = [args.steps / bench.run(args.steps) for _ in range(args.reps)]
    rates.sort()
    print(json.dumps({"steps_per_s": rates[len(rates) // 2], "all": rates, "params": params, "device": args.device,
                      "bf16": args.bf16, "compile": args.compile, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
