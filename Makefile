# One command surface for people and CI. Every target sets up .venv idempotently first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch first, by itself: pip takes the CPU wheel that lies on disk; a resolver left to pick torch
# for another package would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: setup setup-dev demo test soak lint lint-deploy format lock clean chromium shellcheck ui ui-test ui-size client client-check

setup: $(VENV)/.runtime ui
setup-dev: $(VENV)/.dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==26.3

$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

## demo: set up, start the embedded stack and show its status
demo: setup chromium
	$(BIN)/harvest demo $(DEMO_ARGS)

## test: set up with dev tools, lint, type-check and run the whole suite
test: setup-dev lint chromium ui ui-test
	$(BIN)/pytest

## soak: not CI (about 45 min): 30 minutes of pipelines and searches under `harvest up` (memory growth of the
## API and workers, bench/soak.py), then the crash matrix with more seeds (tests/faults/test_crash_matrix.py)
SOAK_SEEDS ?= 1,2,3,4,5
soak: setup-dev
	$(BIN)/python bench/soak.py $(SOAK_ARGS)
	HARVEST_TEST_CRASH_SEEDS=$(SOAK_SEEDS) $(BIN)/pytest tests/faults/test_crash_matrix.py -q

# Browser sources and browser tests use Debian's Chromium; install it when missing (root, or sudo).
chromium:
	@[ -x /usr/bin/chromium ] || { echo "installing Debian's chromium"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium'; }

lint: setup-dev lint-deploy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The deploy files: every Dockerfile (hadolint), every workflow (actionlint, which also runs ShellCheck
# on their scripts), the deploy scripts (ShellCheck). Compose files are checked by tests/deploy.
DOCKERFILES = $(shell find . -name 'Dockerfile*' -not -path './.venv/*' -not -path '*/node_modules/*')
lint-deploy: setup-dev shellcheck
	$(BIN)/hadolint $(DOCKERFILES)
	$(BIN)/actionlint
	shellcheck deploy/*.sh

shellcheck:
	@command -v shellcheck >/dev/null || { echo "installing Debian's shellcheck"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck'; }

format: setup-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## lock: re-pin every installed package (run after changing dependencies in pyproject.toml)
lock: setup-dev
	$(BIN)/pip freeze --exclude-editable | sed -e 's/+cpu$$//' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache frontend/node_modules $(UI_DIST)

# -- the web UI (frontend/: React + Vite; Node 20 and npm). Built into the package, served by the API at /.
FRONTEND := frontend
UI_DIST  := src/harvest/api/static
UI_SRC   := $(shell find $(FRONTEND)/src $(FRONTEND)/public -type f 2>/dev/null) \
            $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json

$(FRONTEND)/node_modules/.installed: $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_DIST)/index.html: $(FRONTEND)/node_modules/.installed $(UI_SRC)
	cd $(FRONTEND) && npm run --silent build

## ui: build the web UI (what `harvest up` serves at /)
ui: $(UI_DIST)/index.html

## client: regenerate the UI's API client from the API's OpenAPI schema (after changing the API)
client: $(VENV)/.runtime $(FRONTEND)/node_modules/.installed
	$(BIN)/python -m harvest.api.openapi $(FRONTEND)/openapi.json
	cd $(FRONTEND) && npm run --silent generate

## client-check: fail when the committed schema or generated client is not the API's current one
client-check: $(VENV)/.runtime $(FRONTEND)/node_modules/.installed
	$(BIN)/python -m harvest.api.openapi $(FRONTEND)/openapi.json --check
	cd $(FRONTEND) && npx openapi-typescript openapi.json -o src/api/schema.d.ts --check

## ui-test: the generated client is current, the UI type-checks, and its unit tests pass (Vitest)
ui-test: client-check
	cd $(FRONTEND) && npx tsc -b && npx vitest run

## ui-size: the UI's initial JavaScript payload (gzip), as reported in bench/RESULTS.md
ui-size: ui
	cd $(FRONTEND) && node scripts/bundle-size.mjs
