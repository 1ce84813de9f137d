# Two commands for a fresh machine: `make run` (install and open the app) and `make test`.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed

.PHONY: run test

# pip, not uv/poetry: it takes torch from a local wheel cache where one is configured.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,serve]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/digittui

test: $(STAMP)
	$(VENV)/bin/python -m pytest
