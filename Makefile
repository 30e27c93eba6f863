# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 5000
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test lint audit install install-test clean bench bench-tools

# The stamps make a second run fast; they are renewed whenever pyproject.toml or constraints.txt change.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) install -c constraints.txt -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install
	$(BIN)/lms init-db
	$(BIN)/lms load-content
	$(BIN)/lms demo
	@echo "Serving on http://$(HOST):$(PORT)  (Ctrl-C stops)"
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .

# Security gates: bandit (no high-severity finding) and pip-audit (no known vulnerability in constraints.txt).
audit: install-test
	BIN=$(BIN) bash .ci/audit

# The benchmark of issue 9 (docs/performance.md): N=100 and N=10,000 trainees, then statements compared; then
# certificate issue against a bare render (scratch SQLite), exports' time and memory and requests per second under
# gunicorn (needs wrk: apt-get install wrk) on the N=10,000 database.
# PostgreSQL when BENCH_DATABASE_URL is set, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench (the
# database is created if missing, and emptied); otherwise a SQLite file under instance/bench/.
BENCH_DATABASE_URL ?=
BENCH_RUNS ?= 30
BENCH_URL = $(if $(strip $(BENCH_DATABASE_URL)),$(BENCH_DATABASE_URL),sqlite:///$(CURDIR)/instance/bench/bench.sqlite3)

bench: install-test bench-tools
	$(BIN)/python -m tests.bench.run --database-url '$(BENCH_URL)' --generate --trainees 100 --runs $(BENCH_RUNS) \
		--json instance/bench/n100.json
	$(BIN)/python -m tests.bench.run --database-url '$(BENCH_URL)' --generate --trainees 10000 --runs $(BENCH_RUNS) \
		--json instance/bench/n10000.json
	$(BIN)/python -m tests.bench.run --compare instance/bench/n100.json instance/bench/n10000.json
	$(BIN)/python -m tests.bench.issue
	$(BIN)/python -m tests.bench.exports --database-url '$(BENCH_URL)'
	$(BIN)/python -m tests.bench.load --database-url '$(BENCH_URL)'

# wrk, the load generator, is a system package: installed with apt-get when missing (as root, or through sudo).
bench-tools:
	@command -v wrk >/dev/null || { echo "== installing wrk (Debian package) for the load benchmark"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
