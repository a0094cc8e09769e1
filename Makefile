# scslab — the two commands a newcomer needs are `make run` and `make test`.
#
# Installs come from uv.lock, so a new release of a dependency cannot change a fresh install.
# Why uv: one lock for every extra and every Python from 3.11 up, a check that the lock matches
# pyproject.toml (`uv lock --check`), and an install that removes what the lock does not name.
# uv itself (pinned below) is fetched from PyPI by the venv's own pip into $(VENV)/.uv-VERSION,
# outside the packages that uv manages: nothing has to be installed by hand. After editing the
# dependencies in pyproject.toml, `make lock` regenerates uv.lock; `make test` fails until then.
#
# `make run` installs the core alone (no dashboard, Dask, SALib or pyabc); `make install` and
# `make test` install everything. VENV=/some/where puts the environment elsewhere.
PY ?= python3
VENV ?= .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
UV := $(VENV)/.uv-$(UV_VERSION)/bin/uv
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed

# uv installs into $(VENV) with the interpreter it holds, and never downloads a Python of its own
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

# Python's bytecode is written at install, for the packages (uv's --compile-bytecode) and for
# src/: every `scslab` command, Dask worker and test subprocess then reads it instead of compiling
# some 700 modules from source each time (2 s of CPU per process where PYTHONDONTWRITEBYTECODE is
# set, so that Python never writes it itself; benchmarks/RESULTS.md, "Test suite"). A stale .pyc
# is never used: Python compares it with its source.
COMPILE_SRC = $(BIN)/python -m compileall -q src >/dev/null

# Tiny runs that compile the engine's kernels into numba's cache at install time, so that the
# first real run does not wait for the compiler (see the README on the cold start): a run of
# people, one with a network and tie-cutting, a layered run (its links), and the reputation
# games under each way of observing, evolving and pairing. Together about 40 s of CPU more than
# the first run alone, which the first networked run, layered run and game no longer spend
# (benchmarks/RESULTS.md, "Test suite").
# A failed warm-up does not fail the install: the tests or the first run then show the error.
# numba compiles a kernel once per combination of argument types: hand a kernel the same types
# from every caller (C-contiguous arrays, int64 scalars), so that what the warm-up compiles also
# serves the tests and later runs (benchmarks/RESULTS.md, "Test suite").
WARM = $(VENV)/.warm-up
WARM_UP = rm -rf $(WARM); \
	( $(BIN)/scslab run --agents 1000 --years 1 --out $(WARM)/people --json \
	&& $(BIN)/scslab run --scheme sesame-credit --network --tie-cutting --agents 1000 --years 1 \
		--out $(WARM)/network --json \
	&& $(BIN)/scslab run patchwork-2018 --agents 1000 --years 1 --out $(WARM)/layers --json \
	&& for how in public private institution; do \
		$(BIN)/scslab game --observation $$how --agents 100 --steps 20 --json || exit 1; done \
	&& $(BIN)/scslab game --observation institution --institution-protocol shared \
		--evolve --pairing random --agents 100 --steps 20 --json \
	) >/dev/null || echo "warm-up failed: the first runs will compile the kernels"; \
	rm -rf $(WARM)

.PHONY: install install-core run test lint types lockcheck lock pytest browser bench bench-engine clean

$(UV):
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
		--target $(VENV)/.uv-$(UV_VERSION) uv==$(UV_VERSION)

# everything: the app, scale, sensitivity and calibrate extras, the test tools, the bench plot
$(FULL): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras --compile-bytecode
	@$(COMPILE_SRC)
	@echo "compiling the engine's kernels into the cache: tiny warm-up runs"
	@$(WARM_UP)
	touch $(FULL) $(CORE)

# the core alone: what `scslab run` and `scslab report` need (extras already there are kept)
$(CORE): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --compile-bytecode
	@$(COMPILE_SRC)
	@echo "compiling the engine's kernels into the cache: tiny warm-up runs"
	@$(WARM_UP)
	touch $(CORE)

install: $(FULL)

install-core: $(CORE)

run: $(CORE)
	$(BIN)/scslab run --agents 100000 --out runs/default --overwrite
	$(BIN)/scslab report runs/default

lint: $(FULL)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(FULL)
	$(BIN)/mypy src/scslab

# uv.lock must match pyproject.toml (checked without the network)
lockcheck: | $(UV)
	$(UV) lock --check --offline

lock: | $(UV)
	$(UV) lock

# Debian's Chromium for the dashboard's browser tests (Playwright does not download its own).
# Installed only as root and only if missing, without recommends and without upgrading anything
# else; otherwise the browser tests are skipped and say how to enable them.
browser:
	@sh .ci/chromium

# pytest exits non-zero when a test fails and also when it collects none (status 5): both fail
pytest: $(FULL) browser
	$(BIN)/pytest

test: lockcheck lint types pytest

# scslab against Mesa on the reference model (benchmarks/REFERENCE.md), in under a minute
bench: $(FULL)
	$(BIN)/python benchmarks/vs_mesa.py --quick

bench-engine: $(FULL)
	$(BIN)/python benchmarks/engine.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
