# DermaLens: `make run` serves the API on :8000 against DynamoDB Local; `make test` runs
# lint and the whole suite. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DYNAMODB_LOCAL_PORT ?= 8001
export PORT ?= 8000
export HOST ?= 127.0.0.1

.PHONY: install run test coverage lint typecheck format bench load fuzz clean

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

# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE):
# each process the suite starts (its four workers, the gunicorn servers and commands
# that tests run) would otherwise compile our modules, and each worker rewrite the
# test modules' asserts, anew: about 15 s of a five-minute run on two cores.
test: install lint typecheck browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest

# The same suite with the branch coverage of our code (configuration in pyproject.toml):
# tracing every line of ours takes about a minute more on two cores.
coverage: install browser
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest --cov --cov-report=term

# The browser tests drive Debian's Chromium (Playwright's own browser download cannot
# work here). CI runs as root and installs it; elsewhere this says what to install.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "The browser tests need Chromium: sudo apt-get install chromium" >&2; \
	  fi; }

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy with the Django and DRF plugins (configuration in pyproject.toml). The plugin
# loads the settings, which in production mode want a real-looking SECRET_KEY.
typecheck: $(VENV)/.installed
	SECRET_KEY=typecheck-only-$$(printf '%050d' 0) DEBUG=false NUM_PROXIES=0 $(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

fuzz: install
	FUZZ_EXAMPLES=200 $(BIN)/pytest tests/test_fuzz.py -n 0

bench: install
	$(BIN)/python bench/dynamo_layer.py
	$(BIN)/python bench/upload.py
	$(BIN)/python bench/repeatability.py
	$(BIN)/python bench/analysis_eval.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/history.py
	$(BIN)/python bench/ai_calls.py
	$(BIN)/python bench/concurrency.py
	$(BIN)/python bench/concurrency.py --scenarios logins --output concurrency_logins

# Locust, headless, against gunicorn; flags in LOAD_ARGS, e.g. LOAD_ARGS="--users 40".
load: install
	$(BIN)/python bench/load.py $(LOAD_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache staticfiles
