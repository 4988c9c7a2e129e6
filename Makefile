# The README's two commands: `make run` and `make test`. Both set up what they need:
# the torch wheel (libtorch), Debian packages, the data, and the build.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
EXP ?= clip_fashion
SCRIPT ?= scripts/$(firstword $(subst _, ,$(EXP))).rhai
PLEXUS := target/debug/plexus

.PHONY: setup venv apt data build run test clean

setup: venv apt data build

venv:
	@tools/setup-venv.sh

# Debian packages the build and the data fetchers need, installed only when missing.
APT_PACKAGES := g++ pkg-config libopenblas-dev fonts-dejavu-core
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

data:
	@tools/fetch-fashion-mnist.sh data/fashion-mnist

build: venv
	$(CARGO) build --workspace --quiet

run: setup
	$(PLEXUS) run $(SCRIPT) --config experiments/$(EXP).yaml

# One thread per libtorch op pool: OpenMP busy-waits badly on a loaded 2-core machine.
test: setup
	OMP_NUM_THREADS=1 $(CARGO) test --workspace --quiet

clean:
	rm -rf target runs
