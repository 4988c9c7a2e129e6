#!/usr/bin/env bash
# Creates .venv with the PyPI torch wheel whose libtorch plexus links against (tch 0.24
# needs torch 2.11.0), and points .venv/torch at it for the build (.cargo/config.toml).
# Also installs the pinned scikit-learn the analysis parity tests compare against.
# Idempotent: when the right torch and scikit-learn are present it only checks.
set -euo pipefail
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
ln -sfn "$site/torch" "$venv/torch"
test -f "$venv/torch/lib/libtorch_cpu.so" || { echo "libtorch_cpu.so missing under $venv/torch/lib" >&2; exit 1; }
