# Works on a fresh clone with Python 3.11+, make and git: every target installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.lock | cut -d' ' -f1)
# What the app needs to run, and nothing else (no test or dev tools): run, web, flower.
RUNTIME := $(VENV)/.runtime-$(shell cksum < requirements-runtime.lock | cut -d' ' -f1)
MANAGE := cd backend && $(BIN)/python manage.py
SCHEDULE ?= var/celerybeat-schedule
WEB_ADDRESS ?= 127.0.0.1:8000

.PHONY: help install run web worker flower test test-live test-soak test-topology lint format bench mutation lock clean
.DEFAULT_GOAL := help

help: ## this list (plain `make`)
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $@

$(RUNTIME): requirements-runtime.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-runtime.lock
	rm -f $(VENV)/.runtime-* && touch $@

install: $(STAMP) $(RUNTIME) ## create .venv and install every pinned dependency (runtime, test, dev)

# In a terminal the worker runs as the shell's foreground job (set -m), in its own process
# group: Ctrl-C reaches it alone, its warm shutdown exits 0, and so does make (make, had
# it been sent the Ctrl-C too, would die of it: "Error 1" or "Interrupt").
run: $(RUNTIME) ## migrate, then one worker with embedded beat and events on the embedded defaults
	$(MANAGE) migrate --noinput
	cd backend && { [ -t 0 ] && set -m || true; } && $(BIN)/celery -A config worker --beat --events \
		--loglevel=INFO --schedule=$(SCHEDULE)

web: $(RUNTIME) ## migrate, collect static files, then the web server at http://$(WEB_ADDRESS) (admin, API, health)
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0
	cd backend && { [ -t 0 ] && set -m || true; } && $(BIN)/python manage.py runserver $(WEB_ADDRESS)

flower: $(RUNTIME) ## Flower on 127.0.0.1:5555 (backend/flowerconfig.py)
	cd backend && exec $(BIN)/celery -A config flower

# Two xdist workers (the target machine has 2 cores; all of tests/live/ runs in one of
# them, so the live stacks start once: tests/conftest.py), and branch coverage of
# backend/ that fails under 100% (what is left out, and why: pyproject.toml
# [tool.coverage.run]). These options sit here, not in pytest.ini, so that
# `pytest tests/x.py` while working stays serial, shows its output and is not failed by
# the coverage of code it never meant to run.
COVERAGE := --cov=backend --cov-report=term-missing:skip-covered --cov-fail-under=100

test: $(STAMP) ## the whole default suite on 2 xdist workers; fails under 100% branch coverage
	$(BIN)/pytest -n 2 -m "not soak and not topology" $(COVERAGE)

# deploy/Procfile's processes under a moving fake clock (tests/live/test_topology.py,
# under 90 s, its timeout): kept out of `make test` so that it stays near a minute, and
# run by `make test-live` (its tests are `live` too) and by .ci/run.
test-topology: $(STAMP) ## the production topology (honcho, libfaketime, Redis, PostgreSQL); a missing one fails
	CI=true $(BIN)/pytest -m topology tests/live

test-live: $(STAMP) $(RUNTIME) ## every live test: worker modes, soak runs, the topology; a missing server fails
	CI=true $(BIN)/pytest -m "inprocess or live" tests/live

test-soak: $(STAMP) $(RUNTIME) ## slow real runs: the broker soak, Ctrl-C on make run/web, every guide command as written
	CI=true $(BIN)/pytest -m soak tests/live

bench: $(STAMP) $(RUNTIME) ## benchmarks against named anchors (GNU find, flushexpiredtokens); prints ratios
	@for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench || exit 1; done

mutation: $(STAMP) ## mutmut over the maintenance logic; ends with "mutation score: NN.N% (killed K of T)"
	$(BIN)/python scripts/mutation.py

lint: $(STAMP) ## ruff, and actionlint on the workflows
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/actionlint

format: $(STAMP) ## ruff's fixes and formatting, in place
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: ## re-resolve the pins of pyproject.toml into requirements.lock and requirements-runtime.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print("\n".join(p["dependencies"] + sum(p["optional-dependencies"].values(), [])))' > .lock-in.txt
	.lock-venv/bin/python -m pip install --quiet -r .lock-in.txt
	.lock-venv/bin/python -m pip freeze --exclude-editable > requirements.lock
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -c 'import tomllib; \
		print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > .lock-in.txt
	.lock-venv/bin/python -m pip install --quiet -c requirements.lock -r .lock-in.txt
	.lock-venv/bin/python -m pip freeze --exclude-editable > requirements-runtime.lock
	rm -rf .lock-venv .lock-in.txt

clean: ## remove .venv and everything the embedded defaults wrote under backend/
	rm -rf $(VENV) backend/var backend/logs backend/db.sqlite3 .pytest_cache .coverage htmlcov
