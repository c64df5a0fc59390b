# The two commands README.md promises: `make demo` (the main job) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= train,export,serve,eval,ui,dev

.PHONY: install system-deps demo up test lint typecheck pytest clean

# torch==2.13.0 is the machine's local CPU wheel: install it before anything can ask for a
# newer torch (which would pull gigabytes of CUDA), then keep it with constraints.txt.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

# Debian packages the UI and the tests need: npm (bun and the font for the Reflex UI),
# chromium (browser tests; never a downloaded browser), nginx (deployment tests), postgresql
# (the knowledge-search tests start a throwaway cluster of their own).
SYSTEM_TOOLS := npm chromium nginx
system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do \
	  command -v $$tool >/dev/null || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; done; \
	command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
	  || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing$$missing with apt-get"; \
	  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq $$missing >/dev/null \
	    || echo "warning: could not install$$missing; the tests that need them will be skipped"; fi

# The reference run: Gemma-3-270M from PyPI, vocabulary trimmed, full fine-tune at lr 2e-5 on
# packed (padding-free) batches, up to 2,600 steps in a 75-minute budget on 2 cores; the schedule
# is sized from the measured step time, so a slower machine ends it too; torch.compile (where
# it works: measured 18% more tokens/s, compilation included). The mixture spends the run's
# tokens on skills: several passes over the small skill sets (sentiment, translation, dates,
# reading and refusing), fewer over general chat and Hafez. Why: README, "The recipe".
MIX ?= --repeat chat:datasets/sources/conversations=0.3 --repeat dont_know_refusals=1.5 \
  --repeat hafez=0.5 --repeat reading_passages=1.5 --repeat reading_refusal=1.5 \
  --repeat task:sentiment=2 --repeat task:translation=1.5 --repeat task:dates_numbers=1.3 \
  --repeat task:arithmetic=0.5
TRAIN_ARGS ?= --base-model gemma3-270m --trim-vocab --no-lora --learning-rate 2e-5 --packing --batch-size 4 --max-steps 2600 --time-budget-minutes 75 --max-length 512 --save-steps 100 --compile $(MIX)

demo: install system-deps
	$(BIN)/persian-chat prepare
	$(BIN)/persian-chat train $(TRAIN_ARGS)
	$(BIN)/persian-chat export --int4
	$(BIN)/persian-chat evaluate
	$(BIN)/persian-chat report
	$(MAKE) up

# The served model and the chat UI with the training studio (/studio); Ctrl-C stops both.
# A fresh admin key lets the studio switch the served model (unless one is exported).
API_PORT ?= 8000
UI_PORT ?= 3000
up: install system-deps
	@export PERSIAN_CHAT_ADMIN_KEY=$${PERSIAN_CHAT_ADMIN_KEY:-$$($(BIN)/python -c "import secrets; print(secrets.token_urlsafe(24))")}; \
	$(BIN)/persian-chat serve --port $(API_PORT) --trusted-proxy 127.0.0.1 & server=$$!; trap "kill $$server" EXIT; \
	until curl -sf http://127.0.0.1:$(API_PORT)/health >/dev/null; do \
	  kill -0 $$server 2>/dev/null || exit 1; sleep 1; done; \
	echo "API: http://127.0.0.1:$(API_PORT)  (check it: scripts/validate_api.sh)"; \
	echo "UI:  http://127.0.0.1:$(UI_PORT)  (training studio: http://127.0.0.1:$(UI_PORT)/studio)"; \
	$(BIN)/persian-chat studio --port $(UI_PORT) --api-url http://127.0.0.1:$(API_PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/python scripts/mypy_tree.py .mypy_tree
	cd .mypy_tree && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p persian_chat -p persian_chat_ui

pytest: install system-deps
	PERSIAN_CHAT_TEST_SUMMARY=test-artifacts/pytest-summary.json $(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_tree .mypy_cache .pytest_cache .ruff_cache
