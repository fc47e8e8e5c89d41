# Two commands on a fresh machine: `make run` (the pipeline on digits) and `make test`.
# The first of these that really runs and is 3.11-3.13 (a pyenv shim can exist and still fail); override with PYTHON=.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do $$p -c 'import sys; assert (3, 11) <= sys.version_info < (3, 14); print(sys.executable)' 2>/dev/null && break; done)
VENV := .venv
BIN := $(abspath $(VENV))/bin

export PATH := $(BIN):$(PATH)
export PREFECT_HOME := $(abspath .prefect)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup run test test-deps lint ui clean schedule

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11-3.13 not found; run make setup PYTHON=/path/to/python3.1x" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: setup
	nas run

lint: setup
	ruff check .
	ruff format --check .
	mypy nas_core flows benchmarks
	lint-imports
	python -m benchmarks.render --check  # BENCHMARKS.md's rendered tables match benchmarks/results
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir .site  # the env var hides an end-of-life banner

# The services and programs the tests use (no test is skipped for want of them).
test-deps:
	bash scripts/test_deps.sh
	bash scripts/postgres.sh

test: lint test-deps
	pytest

# The nightly search (docs/operations/nightly.md): serves the deployment until stopped.
schedule: setup
	python -m flows.schedule --params params.yaml

# The MLflow UI over params.yaml's tracking store; prints the link that opens the experiment's training runs.
ui: setup
	nas ui --params params.yaml --host 127.0.0.1 --port 5000

# Not metrics/: git keeps it, committed with dvc.lock (docs/operations/dvc.md), and clean leaves both.
clean:
	rm -rf .prefect artifacts models data/prepared mlflow.db mlartifacts
