# Quick start: `make demo`, `make test`. Everything lives in .venv; nothing global is touched.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@echo "Creating $(VENV) and installing irsim (log: $(VENV)/install.log)"
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -e '.[dev,bench,sdk]' >> $(VENV)/install.log 2>&1 \
	  || { tail -30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/irsim run examples/seed-advanced-job.json --profile demo --out demo-output/seed-advanced-job
	@echo
	$(BIN)/irsim run examples/stairs-job.json --profile demo --out demo-output/stairs-job

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python experiments/bench_engine.py

clean:
	rm -rf $(VENV) build *.egg-info
