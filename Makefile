# FulfillGym: `make train` runs the main job, `make test` runs the checks.
# Both bootstrap a local virtual environment on first use; later runs reuse it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0

.PHONY: install train test lint benchmark speed suite fc-benchmark fc-speed clean

install: $(STAMP)

# The CPU build of torch is installed first and on its own, so that resolving the
# project's dependencies (torch>=2.3) never pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m experiments.train

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

benchmark: $(STAMP)
	$(PY) -m experiments.benchmark

suite: $(STAMP)
	$(PY) -m experiments.benchmark suite=true

speed: $(STAMP)
	$(PY) -m experiments.speed

fc-benchmark: $(STAMP)
	$(PY) -m experiments.benchmark env=fulfillment_center

fc-speed: $(STAMP)
	$(PY) -m experiments.fc_speed

clean:
	rm -rf outputs multirun .pytest_cache
