# Two commands on a fresh machine: `make run` (the pipeline on digits) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin

export PATH := $(BIN):$(PATH)
export PREFECT_HOME := $(abspath .prefect)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export MLFLOW_DISABLE_TELEMETRY := true
export DVC_NO_ANALYTICS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup run test lint ui clean schedule

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: setup
	dvc repro
	python -m flows.summary

lint: setup
	ruff check .
	ruff format --check .
	mypy nas_core flows benchmarks
	lint-imports
	mkdocs build --strict --quiet --site-dir .site

test: lint
	pytest

# The nightly search (README "Nightly searches"): serves the deployment until stopped.
schedule: setup
	python -m flows.schedule --params params.yaml

ui: setup
	mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

clean:
	rm -rf .prefect artifacts metrics models data/prepared mlflow.db mlartifacts
