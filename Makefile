# Entry points for a fresh machine: `make demo` and `make test` set up .venv first.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup demo test test-slow test-all lint docs
setup: $(VENV)/.installed

# The selfie segmenter inside the mediapipe wheel is the tests' real segmenter in a user's
# clone: its model file is read, mediapipe is never imported, so its dependencies are left out.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	-$(BIN)/pip install --quiet --no-deps mediapipe==0.10.21
	touch $@

# A real search on the photographs scikit-image ships: front, plot and tables in runs/demo/;
# then each photograph of one half compressed at its own quality, calibrated on the other half.
demo: setup
	$(BIN)/qsearch run --searcher nsga2 --metric similarity --budget 40 --out runs/demo
	$(BIN)/python -m qsearch.images.samples runs/demo/photos
	$(BIN)/qsearch compress --per-image --target 0.98 --calibrate runs/demo/photos/calibrate \
		runs/demo/photos/send runs/demo/per-image

# The fast tier (a few minutes from a fresh clone on 2 quiet cores, setup aside); tests needing
# the shared data skip without it.
test: setup
	$(BIN)/pytest -m "not slow"

# The end-to-end runs the fast tier leaves out.
test-slow: setup
	$(BIN)/pytest -m slow

test-all: setup
	$(BIN)/pytest

# ruff, mypy over every shipped package, cyclomatic complexity at most 10 (xenon counts boolean
# operators), and no import cycle nor heavy import behind `import qsearch`.
lint: setup
	$(BIN)/ruff check qsearch searchers evaluators tests benchmarks tools
	$(BIN)/mypy
	$(BIN)/xenon --max-absolute B qsearch searchers evaluators benchmarks/common.py
	$(BIN)/python tools/check_imports.py

# The documentation site (docs/ and the pages generated from the parser, the docstrings and the
# results) into site/, every warning an error: a broken link or a missing reference fails it.
docs: setup
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict
