# fakeit: `make book` builds the book (PRESET=smoke|mini|paper, default mini); `make test` runs the tests.
PRESET ?= mini
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: book test test-unit setup clean

setup:
	@bash scripts/setup.sh

book: setup
	$(PY) -m fakeit_lib book --preset $(PRESET)

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest -m "not integration and not book" $(PYTEST_ARGS)

clean:
	rm -rf _build
