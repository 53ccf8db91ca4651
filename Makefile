# The README's two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test lint typecheck bench sim clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24,<27"

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@ $(STAMP_RUN)

## run: start the daemon on the embedded default (the built-in Bitunix simulator)
run: $(STAMP_RUN)
	$(BIN)/laptop-agents run

## test: lint, type-check and run the whole suite
test: $(STAMP_TEST)
	$(BIN)/ruff check laptop_agents tests bench examples
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check laptop_agents tests bench examples

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

## bench: issue #13's figures beside bare baselines, one table (BENCH_ARGS="--only ingestion,startup --reps 3")
bench: $(STAMP_TEST)
	$(BIN)/python -m bench $(BENCH_ARGS)

## sim: the simulator alone, for pointing another client at it
sim: $(STAMP_RUN)
	$(BIN)/laptop-agents sim --host 127.0.0.1 --port 9000 --speed 1 --seed 42

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
