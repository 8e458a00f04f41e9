# DermaLens: `make run` serves the API on :8000 against DynamoDB Local; `make test` runs
# lint and the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DYNAMODB_LOCAL_PORT ?= 8001
export PORT ?= 8000
export HOST ?= 127.0.0.1

.PHONY: install run test lint format bench fuzz clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

run: install
	scripts/run-local

test: install lint
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

fuzz: install
	FUZZ_EXAMPLES=200 $(BIN)/pytest tests/test_fuzz.py -n 0

bench: install
	$(BIN)/python bench/dynamo_layer.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/repeatability.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache staticfiles
