# CS Cockpit. `make demo` and `make test` are the two commands (README.md).
SHELL := /bin/bash
PYTHON := $(shell scripts/find-python)
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install demo test test-replay lint bench clean

# uv is bootstrapped into its own small venv so a machine needs nothing but Python >= 3.12.
$(UV):
	@test -n "$(PYTHON)" || exit 1
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python "$(PYTHON)"
	@touch $@

install: $(VENV)/.installed

# `make demo PORT=8001` serves (and writes every link in its messages) on that port.
PORT ?= 8000
demo: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py demo --port $(PORT)

# Tests run on every core (pytest-xdist; each worker has its own test database and cache
# prefix). PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= auto
test: install
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The property-based schedule replay (tests/test_schedule_replay.py) at length: random
# examples over 9 days each. REPLAY_EXAMPLES sets how many.
REPLAY_EXAMPLES ?= 200
test-replay: install
	REPLAY_EXAMPLES=$(REPLAY_EXAMPLES) REPLAY_DAYS=9 REPLAY_RANDOM=1 $(VENV)/bin/pytest -n 0 tests/test_schedule_replay.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Ingest, health, dispatch, dry-run and alert-rule benchmarks need PostgreSQL: BENCH_DATABASE_URL,
# default the local server.
bench: install
	$(PY) bench/run.py
	$(PY) bench/ingest.py
	$(PY) bench/health.py
	$(PY) bench/dispatch.py
	$(PY) bench/simulate.py
	$(PY) bench/alerts.py
	$(PY) bench/cockpit.py

clean:
	rm -rf $(VENV) .tools db.sqlite3 var
