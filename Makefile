# Two entry points that set themselves up: `make search` (the main job) and `make test`.
# Both create .venv and install the project into it on first use (or when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
CATEGORY ?= polyp
ARGS ?=
export HF_HUB_OFFLINE ?= 1

.PHONY: search test install

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

search: $(STAMP)
	$(VENV)/bin/promptopt search --category $(CATEGORY) $(ARGS)

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(ARGS)
