# scslab — the two commands a newcomer needs are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint types pytest browser bench bench-engine clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/scslab run --agents 100000 --out runs/default --overwrite
	$(BIN)/scslab report runs/default

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy src/scslab

# Debian's Chromium for the dashboard's browser test (Playwright does not download its own)
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

pytest: $(STAMP) browser
	$(BIN)/pytest

test: lint types pytest

# scslab against Mesa on the reference model (benchmarks/REFERENCE.md), in under a minute
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python benchmarks/vs_mesa.py --quick

bench-engine: $(STAMP)
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
