# Quick start: `make run` (the main job on the embedded SQLite default) and `make test`.
# `make check` runs the checks CI runs before the tests, in the same order.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Google ADK needs google-genai 2.x while the dev group holds 3.x (the format
# converters are checked against it), so the ADK adapter is tested in a
# virtualenv of its own with only the `adk` extra and the test tools.
ADK_VENV  ?= .venv-adk
ADK_BIN   := $(ADK_VENV)/bin
ADK_STAMP := $(ADK_VENV)/.installed

.PHONY: pgbouncer run test test-adk test-all setup format format-check ruff lint typecheck generate \
	sync-check cli-docs-check spell check bench clean

# The package with every extra, editable, plus the `dev` dependency group
# (pytest, ruff, mypy, ...). Installing a group needs pip >= 25.1.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(BIN)/python -m pip install --quiet -e '.[all]' --group dev
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/convostore serve

# The PostgreSQL tests run the store through a PgBouncer of their own: install
# it when missing (as root, from the distribution); a no-op when present.
pgbouncer:
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing pgbouncer"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q pgbouncer >/dev/null \
			|| { apt-get update -q >/dev/null && apt-get install -y -q pgbouncer >/dev/null; }; \
	elif [ "$${CI:-}" = true ]; then \
		echo "pgbouncer is missing: install it (apt-get install pgbouncer)" >&2; exit 1; \
	else echo "pgbouncer is missing: its tests will be skipped (apt-get install pgbouncer)"; fi

test: $(STAMP) $(ADK_STAMP) pgbouncer
	$(BIN)/python -m pytest -q
	$(ADK_BIN)/python -m pytest -q tests_adk

$(ADK_STAMP): pyproject.toml
	$(PYTHON) -m venv $(ADK_VENV)
	$(ADK_BIN)/python -m pip install --quiet --upgrade 'pip>=25.1'
	$(ADK_BIN)/python -m pip install --quiet -e '.[adk,postgres,server,cli,testing]' pytest-timeout httpx 'sqlalchemy[asyncio]>=2,<3'
	touch $(ADK_STAMP)

test-adk: $(ADK_STAMP)
	$(ADK_BIN)/python -m pytest -q tests_adk

test-all: $(STAMP) pgbouncer
	$(BIN)/python -m pytest -q -m "stress or not stress"

# Rewrite: format the tree; regenerate the sync twins and docs/cli.md.
format: $(STAMP)
	$(BIN)/ruff format
	$(BIN)/ruff check --fix src tests bench scripts

generate: $(STAMP)
	$(BIN)/python scripts/gen_sync.py
	$(BIN)/python scripts/gen_cli_docs.py

# Checks: each fails without changing a file.
format-check: $(STAMP)
	$(BIN)/ruff format --check

ruff: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

lint: format-check ruff

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict scripts

sync-check: $(STAMP)
	$(BIN)/python scripts/gen_sync.py --check

cli-docs-check: $(STAMP)
	$(BIN)/python scripts/gen_cli_docs.py --check

spell: $(STAMP)
	$(BIN)/codespell src docs scripts README.md CHANGELOG.md

check: format-check ruff typecheck sync-check cli-docs-check spell

bench: $(STAMP)
	$(BIN)/python bench/flat_history.py
	$(BIN)/python bench/promises.py
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(ADK_VENV) .pytest_cache .mypy_cache .ruff_cache
