# Entry points that set themselves up: `make search` (the main job), `make test`, `make test-slow` (the few
# slow end-to-end tests) and `make lint`.
# Each creates .venv and installs the project into it on first use (or when pyproject.toml or constraints.txt
# changes), at the versions in constraints.txt: the set that was tested.
# `make test-latest` tests the newest releases pyproject.toml allows, in .venv-latest; `make lock` then writes
# that set to constraints.txt.

PYTHON ?= python3
VENV := .venv
LATEST := .venv-latest
STAMP := $(VENV)/.installed
CATEGORY ?= polyp
ARGS ?=
export HF_HUB_OFFLINE ?= 1

.PHONY: search test test-slow lint install test-latest lock

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

search: $(STAMP)
	$(VENV)/bin/promptopt search --category $(CATEGORY) $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(ARGS)

test-slow: $(STAMP)
	$(VENV)/bin/python -m pytest -m slow $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

$(LATEST)/.installed: pyproject.toml
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade -e '.[dev]'
	touch $@

test-latest: $(LATEST)/.installed
	$(LATEST)/bin/python -m pytest $(ARGS)

lock: $(LATEST)/.installed
	{ echo "# The versions CI and \`make\` install (pip constraints): the set tested on $$(date +%F)," \
	       "Python $$($(LATEST)/bin/python -c 'import platform; print(platform.python_version())'), $$(uname -m)."; \
	  echo "# Rewrite with \`make lock\` (newest releases the project allows, tested by \`make test-latest\`)."; \
	  $(LATEST)/bin/python -m pip freeze --exclude-editable; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
