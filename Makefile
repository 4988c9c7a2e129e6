# The README's two commands: `make run` and `make test`. Both set up what they need:
# the torch wheel (libtorch), Debian packages, the data, and the build.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
EXP ?= clip_fashion
SCRIPT ?= scripts/$(firstword $(subst _, ,$(EXP))).rhai
PLEXUS := target/debug/plexus

.PHONY: setup venv apt data build run test bench bench-metrics clean

setup: venv apt data build

venv:
	@tools/setup-venv.sh

# Debian packages the build and the data fetchers need, installed only when missing.
# espeak-ng, flite, sox and ffmpeg synthesise and encode the audio/video datasets (tools/data).
APT_PACKAGES := g++ pkg-config libopenblas-dev fonts-dejavu-core espeak-ng flite sox ffmpeg slurmctld slurmd munge slurm-client
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

# What `make run` and `make test` need (av-digits, easy-vqa: tests/audioclip.rs, tests/llava.rs; videos, moving-digits: tests/videobert.rs; av-digit-sequences: tests/avsr.rs); `make data DATA=all` (or a list of names, see
# `plexus data list`) fetches the other datasets into data/NAME/. Reruns only verify.
DATA ?= fashion-mnist av-digits easy-vqa videos moving-digits av-digit-sequences
data: venv apt
	@.venv/bin/python tools/data/fetch.py $(DATA)

build: venv
	$(CARGO) build --workspace --quiet

# Data a system needs beyond DATA, keyed by the script name EXP starts with (avsr_tiny ->
# avsr); fetched (or verified) before the run.
SYSTEM := $(firstword $(subst _, ,$(EXP)))
RUN_DATA_avsr := av-digit-sequences
RUN_DATA_videobert := videos moving-digits
RUN_DATA := $(RUN_DATA_$(SYSTEM))

run: setup
	@if [ -n "$(RUN_DATA)" ]; then .venv/bin/python tools/data/fetch.py $(RUN_DATA); fi
	$(PLEXUS) run $(SCRIPT) --config experiments/$(EXP).yaml

# One thread per libtorch op pool: OpenMP busy-waits badly on a loaded 2-core machine.
test: setup
	OMP_NUM_THREADS=1 $(CARGO) test --workspace --quiet

# Caption metrics vs pycocoevalcap and retrieval vs torchmetrics (prints ratios, merges
# them into bench/results.json). Sizes: CANDS IMAGES DIM.
bench-metrics: setup
	OMP_NUM_THREADS=1 $(CARGO) run --release --quiet -p plexus-bench --bin metrics_bench -- 5000 2000 256
	@echo "retrieval over 100k x 100k embeddings (N DIM SAMPLED-QUERIES CHUNK; several minutes on one thread):"
	OMP_NUM_THREADS=1 $(CARGO) run --release --quiet -p plexus-bench --bin retrieval_100k -- 100000 256 100 128
	@echo "loader throughput (examples/s per format and worker count):"
	OMP_NUM_THREADS=1 $(CARGO) run --release --quiet -p plexus-bench --bin loader_throughput -- 512

# Benchmarks (issue 8): each comparison interleaved with its baseline on this machine, now.
# Prints one table and merges {name: {plexus, baseline, ratio, unit}} into bench/results.json.
# clip_train_step runs on every core (CORES: PyTorch's intra-op threads against plexus's
# train.step_threads; then against a baseline whose ViT also embeds patches by one matmul)
# and again on BENCH_THREADS; the rest on BENCH_THREADS, one libtorch
# thread by default (OpenMP busy-waits badly on a loaded 2-core machine).
CORES ?= $(shell nproc)
BENCH_THREADS ?= 1
bench: setup
	@export BENCH_THREADS=$(CORES) OMP_NUM_THREADS=$(CORES) MKL_NUM_THREADS=$(CORES); \
	target/debug/clip_train_step --reps 9 --steps 6 && \
	target/debug/clip_train_step --reps 5 --steps 6 --name clip_train_step_vs_matmul_patches --py-arg --patch-embed --py-arg matmul
	@export BENCH_THREADS=$(BENCH_THREADS) OMP_NUM_THREADS=$(BENCH_THREADS) MKL_NUM_THREADS=$(BENCH_THREADS); \
	target/debug/clip_train_step --reps 9 --steps 6 --name clip_train_step_$(BENCH_THREADS)thread && \
	target/debug/plugin_overhead 401 1 32 && \
	target/debug/rhai_overhead experiments/clip_fashion.yaml 9 data.train.limit=10000 data.test.limit=2000 train.epochs=1 threads=$(BENCH_THREADS) && \
	target/debug/data_wait_files webdataset 2 10000
	@rc=0; $(MAKE) -q --no-print-directory bench-metrics >/dev/null 2>&1 || rc=$$?; \
	if [ $$rc -ne 2 ]; then $(MAKE) --no-print-directory bench-metrics; else echo "(no bench-metrics target: caption/retrieval metrics skipped)"; fi
	@.venv/bin/python bench/table.py bench/results.json

clean:
	rm -rf target runs
