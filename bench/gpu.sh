#!/usr/bin/env bash
# clip_train_step on an accelerator machine that has python3 + torch 2.11 but no Rust
# toolchain and no network: runs the plexus bench binary and plugins built on a CPU
# machine (target/debug/clip_train_step, target/debug/libplexus_*.so, carried in the
# tree) against bench/clip_train_step.py, on CUDA with bf16 autocast, versus
#   1. PyTorch eager (bf16 autocast)          → clip_train_step_cuda_bf16
#   2. PyTorch torch.compile (bf16 autocast)  → clip_train_step_cuda_bf16_vs_compile
# Results go to bench/results.gpu.json (and $OUT/ when set) and are printed as a table.
# Without a GPU (no nvidia-smi / CUDA) it runs the same path on the CPU, eager only, with
# few repetitions: a dry check of the script, not a measurement.
#
# Usage: bench/gpu.sh [REPS=7] [STEPS=50]     (run from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-7}
STEPS=${2:-50}
PYTHON=${PLEXUS_PYTHON:-python3}
BIN=target/debug/clip_train_step

[ -x "$BIN" ] || { echo "gpu.sh: $BIN missing: build it on a machine with Rust (cargo build --workspace) and carry target/debug/{clip_train_step,libplexus_*.so}" >&2; exit 1; }
ls target/debug/libplexus_*.so >/dev/null 2>&1 || { echo "gpu.sh: no plugins (target/debug/libplexus_*.so) next to $BIN" >&2; exit 1; }
TORCH_LIB=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
TORCH_VERSION=$("$PYTHON" -c 'import torch; print(torch.__version__)')
case "$TORCH_VERSION" in 2.11.0*) ;; *) echo "gpu.sh: plexus links libtorch 2.11.0, this python has torch $TORCH_VERSION" >&2; exit 1 ;; esac
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PLEXUS_PYTHON="$PYTHON"
export BENCH_RESULTS=${BENCH_RESULTS:-bench/results.gpu.json}

if "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    DEVICE=cuda
    export BENCH_THREADS=${BENCH_THREADS:-$(nproc)}
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
    DEVICE=cpu
    export BENCH_THREADS=${BENCH_THREADS:-1}
    REPS=${1:-1}; STEPS=${2:-1}
    echo "gpu.sh: no CUDA device: CPU fallback path (a dry check, not a measurement)"
fi
export OMP_NUM_THREADS=$BENCH_THREADS MKL_NUM_THREADS=$BENCH_THREADS
echo "device $DEVICE  torch $TORCH_VERSION ($TORCH_LIB)  threads $BENCH_THREADS  reps $REPS x $STEPS steps"

if [ "$DEVICE" = cuda ]; then
    "$BIN" --device cuda --bf16 --reps "$REPS" --steps "$STEPS" --name clip_train_step_cuda_bf16
    "$BIN" --device cuda --bf16 --reps "$REPS" --steps "$STEPS" --name clip_train_step_cuda_bf16_vs_compile --py-arg --compile
else
    "$BIN" --device cpu --reps "$REPS" --steps "$STEPS" --name clip_train_step_gpu_sh_cpu_fallback
fi
"$PYTHON" bench/table.py "$BENCH_RESULTS"
if [ -n "${OUT:-}" ]; then cp "$BENCH_RESULTS" "$OUT/"; fi
