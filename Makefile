# One command surface for people and CI. Every target sets up .venv idempotently first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch first, by itself: pip takes the CPU wheel that lies on disk; a resolver left to pick torch
# for another package would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: setup setup-dev demo test lint lint-deploy format lock clean chromium shellcheck

setup: $(VENV)/.runtime
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
test: setup-dev lint chromium
	$(BIN)/pytest

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
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
