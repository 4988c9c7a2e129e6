#!/usr/bin/env bash
# Fetches Fashion-MNIST (MIT) from Debian's dataset-fashion-mnist package into data/fashion-mnist/
# and verifies checksums. Idempotent: a second run only verifies.
set -euo pipefail
dest=${1:-data/fashion-mnist}
files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
# Checksums of the upstream release files (the same bytes Debian ships).
read -r -d '' SUMS <<'SUMS' || true
b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7  train-images-idx3-ubyte.gz
0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056  train-labels-idx1-ubyte.gz
cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa  t10k-images-idx3-ubyte.gz
8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05  t10k-labels-idx1-ubyte.gz
SUMS
verify() { (cd "$dest" && printf '%s\n' "$SUMS" | sha256sum --quiet -c - 2>/dev/null); }
if [ -d "$dest" ] && verify; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && { apt-get download dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -qq && apt-get download dataset-fashion-mnist; }; } )
dpkg-deb -x "$work"/dataset-fashion-mnist_*.deb "$work/root"
mkdir -p "$dest"
for f in $files; do cp "$work/root/usr/share/datasets/fashion-mnist/$f" "$dest/$f"; done
verify || { echo "checksum mismatch in $dest after fetching dataset-fashion-mnist" >&2; exit 1; }
printf '%s\n' "$SUMS" > "$dest/SHA256SUMS"
echo "fetched Fashion-MNIST into $dest"
