# Two commands matter: `make run` (set up, migrate, seed, serve) and `make test` (set up, test all).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: run dev twin bench loadtest lock test test-fast test-sqlite test-postgres lint browser haproxy monitoring cluster cluster-down clean

UV := $(VENV)/tools/bin/uv

# uv (from PyPI, kept inside .venv) installs in seconds what pip takes half a minute for.
$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(VENV)/tools uv

# Every install comes from uv.lock (exact versions and hashes; `make lock` updates it after a change
# to pyproject.toml, and --locked fails when the two disagree). What running needs is the runtime
# dependencies; the tests, lint and benchmarks add the dev extra.
$(RUNTIME): pyproject.toml uv.lock $(UV)
	$(UV) sync --quiet --locked --inexact --compile-bytecode --python $(BIN)/python
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(UV) sync --quiet --locked --extra dev --python $(BIN)/python
	touch $(STAMP)

lock: $(UV)
	$(UV) lock

# conduit-serve prints the address it really binds (hypercorn.toml's, or PORT's: make run
# PORT=8123), once a worker answers there.
run: $(RUNTIME)
	$(BIN)/quart --app app demo
	$(BIN)/conduit-serve $(if $(PORT),--bind 127.0.0.1:$(PORT))

# The development server, reloading on code changes.
dev: $(RUNTIME)
	$(BIN)/quart --app app db upgrade
	$(BIN)/quart --app app seed --if-empty
	$(BIN)/quart --app app run --reload $(if $(PORT),--port $(PORT))

# The contexts lab's WSGI twin: a Flask app under gunicorn's threaded worker, on port 8001 (or PORT).
twin: $(STAMP)
	@echo "WSGI twin on http://127.0.0.1:$(or $(PORT),8001)  (Ctrl-C stops it)"
	$(BIN)/gunicorn --worker-class gthread --workers 1 --threads 8 --no-control-socket \
		--bind 127.0.0.1:$(or $(PORT),8001) app.contexts.wsgi_twin:app

# Async app vs WSGI twin under wrk at concurrency 1..1024, plus verified load-generator runs, and live
# updates (WebSocket) at 100 and 1,000 subscribers on SQLite and PostgreSQL (bench/live.py).
bench: $(STAMP)
	@command -v wrk >/dev/null && command -v hey >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk hey; }
	$(BIN)/python -m bench.run

# A load test against a throwaway server (a new demo database, deleted afterwards): the blog you
# keep is never written to. ARGS go to conduit-loadtest, e.g.
#   make loadtest ARGS="--stage 20s:200/s --stage 20s:200/s --threshold 'p99<250ms' --html report.html"
# LOAD_DB=postgresql: a database of its own on this machine's PostgreSQL instead of a SQLite file.
LOAD_PORT ?= 8100
LOAD_DB ?= sqlite
loadtest: $(STAMP)
	$(BIN)/python -m bench.throwaway --port $(LOAD_PORT) --db $(LOAD_DB) -- $(ARGS)

# The production topology on this machine (deploy/): HOSTS app hosts in network namespaces,
# HAProxy in front, PostgreSQL's own database, a Redis of its own, Prometheus and its exporters
# watching them (`python deploy/cluster.py top`). Needs root (namespaces).
HOSTS ?= 3
cluster: $(RUNTIME) haproxy monitoring
	$(BIN)/python deploy/cluster.py up --hosts $(HOSTS)

cluster-down: $(RUNTIME)
	$(BIN)/python deploy/cluster.py down

haproxy:
	@command -v haproxy >/dev/null || { echo "installing Debian's haproxy"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }

MONITORING := prometheus prometheus-postgres-exporter prometheus-redis-exporter
monitoring:
	@for p in $(MONITORING); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian's$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: $(STAMP) lint browser haproxy monitoring test-sqlite test-postgres

# Browser tests drive Debian's Chromium through Playwright (its own browser download cannot work
# here); the benchmark smoke test uses wrk. Both come from Debian's packages. The accessibility
# test injects axe-core, from npm (package.json, pinned by package-lock.json), which also has newman
# for RealWorld's Postman collection (python -m bench.realworld).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! command -v wrk >/dev/null; then \
		echo "installing Debian's chromium and wrk for the tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk; fi
	@test -f node_modules/axe-core/axe.min.js -a -x node_modules/.bin/newman || npm ci --no-audit --no-fund --silent

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Two test processes (pytest-xdist; one per core here), each taking the next test as it is free.
PYTEST := $(BIN)/pytest -n $(or $(TEST_WORKERS),2) --dist worksteal

# The tiers that need no server, no browser and no PostgreSQL (tests/unit, api, site): ~30 s.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(PYTEST) --db sqlite -m "unit or api or site"

test-sqlite: $(STAMP) browser
	$(PYTEST) --db sqlite

# Runs when PostgreSQL answers; otherwise says so plainly. CONDUIT_REQUIRE_POSTGRES=1 (CI) fails instead.
test-postgres: $(STAMP) browser haproxy monitoring
	@if $(BIN)/python -c "import asyncio, asyncpg; asyncio.run(asyncpg.connect('$(PG_URL)', timeout=3))" 2>/dev/null; then \
		$(PYTEST) --db postgresql; \
	elif [ "$$CONDUIT_REQUIRE_POSTGRES" = "1" ]; then \
		echo "PostgreSQL at $(PG_URL) cannot be reached, and CONDUIT_REQUIRE_POSTGRES=1: failing."; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) cannot be reached: the PostgreSQL pass was NOT run (SQLite only)."; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
