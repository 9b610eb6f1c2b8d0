# The two set-up commands of the README:
#   make reproduce   # install everything, run the embedded default end to end
#   make test        # install everything, run the tests
# Both create .venv with the pinned dependencies on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
CORES ?= all
export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
FASHION_DIR := /usr/share/datasets/fashion-mnist

.PHONY: reproduce study pull robustness test test-fast test-cluster install system-data lint clean-results mutation \
	wheelhouse install-offline test-offline

install: $(VENV)/.installed

# Fashion-MNIST comes from Debian's package where apt is at hand (offline machines, CI); elsewhere
# the prepare stage downloads the canonical files and checks their hashes.
# Never fails the install: offline (no apt mirror) the prepare stage's own route still works.
system-data:
	@if [ ! -d $(FASHION_DIR) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -q dataset-fashion-mnist || (apt-get update -q && apt-get install -y -q dataset-fashion-mnist)) >/dev/null || true; \
	fi

$(VENV)/.installed: pyproject.toml requirements/embedded-data.txt | system-data
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,slurm]'
	$(BIN)/pip install -q --no-deps -r requirements/embedded-data.txt
	touch $@

# A node without a package index but with its own torch (docs/offline.md). On a machine with an
# index: `make wheelhouse PY_VERSION=3.12` writes the wheels of everything but torch/torchvision for
# the node's Python and platform. Copy the checkout and the wheelhouse to the node, then there:
# `make install-offline`: a venv beside the node's torch (--system-site-packages), the wheels with
# --no-index, this checkout editable, then the acceptance script's CPU form.
PY_VERSION ?= 3.12
ARCH ?= x86_64
GLIBC ?= 2.28
WHEELHOUSE ?= wheelhouse
wheelhouse:
	$(PYTHON) workflow/offline/wheelhouse.py --dest $(WHEELHOUSE) --python-version $(PY_VERSION) --arch $(ARCH) --glibc $(GLIBC)

install-offline:
	test -x $(BIN)/python || $(PYTHON) -m venv --system-site-packages $(VENV)
	@$(BIN)/python -c 'import torch' || { echo "install-offline: $(VENV) sees no torch; the node's torch must be importable by $(PYTHON)"; exit 1; }
	$(BIN)/pip install -q --no-index --find-links $(WHEELHOUSE) -r $(WHEELHOUSE)/requirements.txt
	$(BIN)/pip install -q --no-index --find-links $(WHEELHOUSE) --no-deps -r $(WHEELHOUSE)/no-deps.txt
	$(BIN)/pip install -q --no-index --no-deps --no-build-isolation -e .
	touch $(VENV)/.installed
	$(BIN)/python benchmarks/gpu_smoke.py --device cpu --ci $(SMOKE_ARGS)

# The offline route end to end (tests/test_offline.py, 4-8 min here): a wheelhouse built here, then in a
# fresh venv holding only a torch other than the pin, with the network cut, install-offline and the
# tiny pipeline. Apart from `make test`: it downloads ~175 MB.
test-offline: install
	pytest -q -m offline

# After a crash the runs resume from their checkpoints; a lock the killed Snakemake left is cleared
# first (only when no Snakemake is running), with one line saying so.
reproduce: install
	python -m l2tww.stages.unlock .
	snakemake --cores $(CORES) --rerun-incomplete all

# Issue 29's confirmation study (workflow/presets/study.yaml, docs/study-plan.md): the plan's gates
# at N = 50 on 40 seeds per arm, more than `make reproduce`'s 20 minutes buy (about 30 min on idle 2
# cores). Its summary (results/study/summary/) and report (reports/study/) are checked in.
study: install
	python -m l2tww.stages.unlock .
	snakemake --cores $(CORES) --rerun-incomplete all --configfile workflow/presets/study.yaml

# Results made on another clone (README: Share results): fetch the DVC remote's copy of this
# commit's outputs, then mark for Snakemake those whose recorded identity is current; a following
# `make reproduce` re-makes only the rest.
pull: install
	dvc pull
	l2tww sync

# Issue 12's machine check: the embedded default again, in a scratch clone of HEAD, with the float
# arithmetic of another machine: 2 threads per job (another reduction order) and the kernels of a
# CPU without AVX-512 (ATen's and oneDNN's ISA caps; no effect where there is none). Then its
# per-seed differences and claims' verdicts against HEAD's checked-in results: fails if a verdict
# changes. About 25 min on 2 cores for issue 12's 90-run default; well over an hour for the
# confirmation default (the AVX2 kernels are several times slower than AVX-512's here; README).
ROBUSTNESS_DIR ?= /tmp/l2tww-robustness
robustness: install
	rm -rf $(ROBUSTNESS_DIR) && git clone -q . $(ROBUSTNESS_DIR) && ln -s $(abspath $(VENV)) $(ROBUSTNESS_DIR)/.venv
	sed -i 's/^  threads: 1 /  threads: 2 /' $(ROBUSTNESS_DIR)/params.yaml && grep -q '^  threads: 2 ' $(ROBUSTNESS_DIR)/params.yaml
	cd $(ROBUSTNESS_DIR) && ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=$(ROBUSTNESS_DIR)/src \
	  snakemake --cores $(CORES) all
	l2tww compare HEAD $(ROBUSTNESS_DIR) --same-verdicts

# The cluster test (a one-node SLURM started as root, ~3.5 min) runs apart, so `make test` stays short.
# Both use every core (pytest-xdist; the test files that share the Snakemade tiny pipeline run on
# one worker: tests/conftest.py) and print the slowest tests. `make test-fast`: the inner loop, without the `slow`
# (training, prepared data) and `integration` (Snakemake, git, DVC, papermill) tiers.
# One OpenMP thread per worker: the workers already take every core, and torch's default (a thread
# per core in each worker) made their threads contend (make test-fast 37-99 s, 30 s with one each).
PYTEST_JOBS ?= auto
test: install
	OMP_NUM_THREADS=1 pytest -q -n $(PYTEST_JOBS) --durations=20 -m "not cluster and not offline"

test-fast: install
	OMP_NUM_THREADS=1 pytest -q -n $(PYTEST_JOBS) --durations=10 -m "not cluster and not offline and not slow and not integration"

test-cluster: install
	pytest -q -m cluster

# Mutation testing of src/l2tww/methods/ (a benchmark: not part of `make test`); see docs/mutation-testing.md.
mutation: install
	$(BIN)/pip install -q -e '.[test,slurm,mutation]'
	python benchmarks/mutation.py

# Formatting and lint (ruff: pyflakes, pycodestyle with 120-char lines, import order, bugbear).
# `ruff format .` rewrites what `ruff format --check` reports. Snakemake's own lint (which always
# advises conda environments, so its exit status says nothing) is a test: tests/test_workflow.py.
lint: install
	ruff format --check .
	ruff check .

clean-results:
	rm -rf results/runs results/sources results/logs logs .snakemake/l2tww
