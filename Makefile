# FulfillGym: `make train` runs the main job, `make test` runs the checks.
# Both bootstrap a local virtual environment on first use; later runs reuse it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0

.PHONY: install train test test-slow test-ray lint benchmark speed suite dispatch slotting network routing-table clean

install: $(STAMP)

# The CPU build of torch is installed first and on its own, so that resolving the
# project's dependencies (torch>=2.3) never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m experiments.train

# one pytest worker per core; how tests are grouped on workers: tests/conftest.py
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -n auto --dist loadscope --no-loadscope-reorder

# the slow tests (kept out of `make test`; a faster test covers the same behaviour)
test-slow: $(STAMP)
	$(PY) -m pytest -n auto --dist loadscope --no-loadscope-reorder -m slow

# Hydra's Ray launcher on a local Ray: in its own virtual environment (.venv-ray), because
# hydra-ray-launcher pins an older cloudpickle than the rest of the stack uses
test-ray:
	test -x .venv-ray/bin/python || $(PYTHON) -m venv .venv-ray
	.venv-ray/bin/python -m pip install --quiet "$(TORCH)"
	.venv-ray/bin/python -m pip install --quiet -e ".[all,dev,ray]"
	.venv-ray/bin/python -m pytest -m slow tests/pipeline/test_launchers.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

benchmark: $(STAMP)
	$(PY) -m experiments.benchmark

speed: $(STAMP)
	$(PY) -m experiments.speed

suite: $(STAMP)
	$(PY) -m experiments.benchmark suite=classic

# dispatch: every agent on the default same-day instance, with the hindsight reference
dispatch: $(STAMP)
	$(PY) -m experiments.benchmark env=dispatch

# slotting: every storage rule on the default warehouse, with the turnover oracle as reference
slotting: $(STAMP)
	$(PY) -m experiments.benchmark env=slotting

# the multi-echelon network: the serial chain against its exact optimum, the default
# supplier -> DC -> 3 MFCs tree, and the OR-Gym InvManagement-v1 configuration
network: $(STAMP)
	$(PY) -m experiments.benchmark env=network_serial
	$(PY) -m experiments.benchmark env=network
	$(PY) -m experiments.benchmark env=network_orgym

# the static routing table (docs/benchmarks/routing.md): savings and insertion against PyVRP
routing-table: $(STAMP)
	$(PY) -m experiments.analysis.routing suite=table

clean:
	rm -rf outputs multirun .pytest_cache
