# RunSurge developer commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install system-deps proto lint test test-fast demo bench clean

help:
	@echo "make demo    - install, start a local coordinator + 2 contributors, run the example"
	@echo "make test    - install and run the whole test suite (SQLite, and PostgreSQL if reachable)"
	@echo "make lint    - ruff + mypy --strict"
	@echo "make proto   - regenerate gRPC stubs from proto/"
	@echo "make bench   - run the benchmarks under benchmarks/"

# bubblewrap is the sandbox's first layer; install it where it is missing (Debian).
system-deps:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap"; \
	    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "bubblewrap (bwrap) is missing: install it (e.g. 'sudo apt-get install bubblewrap')"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip check
	touch $(STAMP)

install: system-deps $(STAMP)

proto: install
	$(PY) scripts/gen_proto.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

# Two workers: most tests wait on real processes, so two share the 2 cores CI has
# (three measured no faster). worksteal: a worker that runs out steals queued tests,
# so a few long ones at the end do not leave the other core idle.
TEST_WORKERS ?= 2

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=25

test-fast: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) tests/unit

demo: install
	PY=$(PY) bash scripts/demo.sh

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
