# `make run`: the main job.  `make test`: the whole suite (unit, doctests, slow end-to-end).
# Both create .venv and install what they need on first use: `make run` the package alone,
# `make test` the test and docs tools too.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The test and docs tools, on top of the package (only `make test` needs them).
DEV_STAMP := $(VENV)/.installed-dev
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: run test bench install clean

$(STAMP): setup.cfg pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(DEV_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/keras-attention train models/dates.toml --out runs/dates

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q --durations=25

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/attention.py
	$(BIN)/python benchmarks/attention_memory.py
	$(BIN)/python benchmarks/gpu_path.py
	$(BIN)/python benchmarks/generation.py
	$(BIN)/python benchmarks/input_pipeline.py
	$(BIN)/python benchmarks/attention_vs_lstm.py
	$(BIN)/python benchmarks/quality.py --beam-size 4

clean:
	rm -rf $(VENV) build *.egg-info
