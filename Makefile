# fakeit: `make book` builds the book (PRESET=smoke|mini|paper, default mini; GPUS=N: the GPUs paper-scale stages run
# on with torchrun, default the visible ones); `make test` runs the tests;
# `make lab` opens the notebooks in JupyterLab with the preset's parameters (LAB_ARGS: e.g. --no-browser --port 8890).
PRESET ?= mini
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LAB_ARGS ?=

.PHONY: book test test-unit setup clean lab

setup:
	@bash scripts/setup.sh

book: setup
	$(PY) -m fakeit_lib book --preset $(PRESET) $(if $(GPUS),--gpus $(GPUS))

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest -m "not integration and not book" $(PYTEST_ARGS)

# the notebooks prepared in lab/ (git-ignored) with the preset's parameters injected; the kernels use the book's
# output root, so every stage the book finished is loaded, not recomputed
lab: setup
	@$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install -q -e ".[test,lab]"
	$(PY) -m fakeit_lib lab --preset $(PRESET) --out lab
	cd lab && FAKEIT_OUTPUT="$${FAKEIT_OUTPUT:-$(CURDIR)/outputs}" "$(abspath $(VENV))/bin/jupyter" lab $(LAB_ARGS)

clean:
	rm -rf _build
