# Quick start: `make demo`, `make test`. Everything lives in .venv; nothing global is touched.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo path test test-fast test-stats check bench clean

# Python may cache compiled modules (and pytest its rewritten test modules) in __pycache__:
# an environment that turns that off makes every run compile everything again (about 6 s of
# the fast suite's collection, per worker).
unexport PYTHONDONTWRITEBYTECODE

# What the demo needs: irsim and its runtime dependencies.
$(STAMP): pyproject.toml
	@echo "Creating $(VENV) and installing irsim (log: $(VENV)/install.log)"
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -e . >> $(VENV)/install.log 2>&1 \
	  || { tail -30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

# What the tests, the checks and the benchmarks need on top.
$(DEV_STAMP): $(STAMP)
	@echo "Installing the test, check and benchmark extras (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install -e '.[dev,bench,sdk]' >> $(VENV)/install.log 2>&1 \
	  || { tail -30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@echo "Compiling the engine's fast path into numba's cache (about 10 s; a failure only leaves the engine in Python)"
	@$(BIN)/python -c "from simulator import fastpath; print('fast path compiled:', fastpath.available())" \
	  >> $(VENV)/install.log 2>&1 || echo "the fast path did not compile (see $(VENV)/install.log): the engine runs in Python"
	@touch $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/irsim run examples/seed-advanced-job.json --profile demo --out demo-output/seed-advanced-job
	@echo
	$(BIN)/irsim run examples/stairs-job.json --profile demo --out demo-output/stairs-job

# irsim lives in .venv: a new shell finds it once the environment is activated. This prints the
# line that does it (from the repository's folder): `eval "$$(make -s path)"`, or type it.
path:
	@echo ". $(BIN)/activate"

# The suite runs on as many pytest-xdist workers as the machine has cores (2 on the project's
# standard machine); PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= auto

# It ends with the 20 slowest tests (`--durations`): the candidates for `slow` or a faster test.
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not stats" -n $(PYTEST_WORKERS) --durations=20

# The statistical targets and measurements (decisions near the SLO, autoscaling under the exact replay, the
# plateau rule over its grid, the count search and calibration at their boundaries, peak memory at the limits)
# over many seeded repeats: about fifteen minutes of CPU, so outside the CI run; their latest figures are in
# experiments/RESULTS.md.
test-stats: $(DEV_STAMP)
	$(BIN)/python -m pytest -m stats -n $(PYTEST_WORKERS)

# The inner loop: everything but the tests marked slow (and the statistical targets).
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not slow and not stats" -n $(PYTEST_WORKERS)

check: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python experiments/bench_engine.py

clean:
	rm -rf $(VENV) build *.egg-info
