# rnnkit: the two commands of the README are the contract.
#   make test   create .venv when missing, install rnnkit with its dev extras, run the tests
#   make demo   create .venv when missing, install rnnkit, train the demo language model (about 3 minutes)
#   make docs   install the docs extra, build the site into site/ (tutorial code runs; warnings are errors)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# The CPU wheel of this torch release lies on this workplace's disk; installing it first
# keeps pip from resolving the range in pyproject.toml to a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: test test-faults demo lint bench venv clean docs

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_PIN)"
	$(PIP) install -q -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m ruff check src tests bench
	$(PY) -m pytest -n auto --dist loadfile

# the fault suite's slow parts (SIGKILL loop, corruption matrix, memory limits) and many more fuzzed inputs;
# its counts (inputs fuzzed, kills survived, corruptions tried, peak memory) are printed at the end
FAULT_COUNTS := $(or $(TMPDIR),/tmp)/rnnkit-fault-counts.jsonl
test-faults: venv
	rm -f $(FAULT_COUNTS)
	RNNKIT_FAULT_COUNTS=$(FAULT_COUNTS) RNNKIT_FUZZ_EXAMPLES=$${RNNKIT_FUZZ_EXAMPLES:-300} \
		$(PY) -m pytest -n auto --dist loadfile -m "slow or not slow" tests/faults
	$(PY) -m tests.faults.fault_counts $(FAULT_COUNTS)

demo: venv
	$(PY) -m rnnkit.cli demo

lint: venv
	$(PY) -m ruff check src tests bench

docs: venv
	$(PIP) install -q -e ".[docs]"
	MPLBACKEND=Agg $(PY) -m mkdocs build --strict

bench: venv
	$(PY) bench/recurrent_speed.py

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache
