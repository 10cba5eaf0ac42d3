# The two commands the README starts with: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_DIR := tests/contract/node
STAMP := $(VENV)/.installed

.PHONY: serve test lint bootstrap node bench

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/bootstrap.sh
	touch $(STAMP)

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --silent
	touch $@

bootstrap: $(STAMP)

node: $(NODE_DIR)/node_modules/.installed

serve: $(STAMP)
	$(BIN)/postroom serve $(ARGS)

test: $(STAMP) node
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy
