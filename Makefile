# Two commands: `make demo` runs salesbot on its embedded defaults; `make test` runs the checks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "salesbot needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/salesbot db upgrade
	SALESBOT_PUBLIC_URL=http://$(HOST):$(PORT) $(BIN)/salesbot demo-data
	@$(BIN)/salesbot models list | grep -q ' yes ' || $(BIN)/salesbot train --epochs 15 --activate
	@echo "Your admin key (use it as: curl -H 'Authorization: Bearer <key>' http://$(HOST):$(PORT)/v1/items):"
	@$(BIN)/salesbot keys create --role admin --name demo
	@SITE_KEY=$$($(BIN)/salesbot keys create --role site --name 'demo store widget' 2>/dev/null | head -n 1) && \
	  echo "The demo store, with the chat widget on its pages: http://$(HOST):$(PORT)/demo" && \
	  SALESBOT_DEMO_SITE_KEY=$$SITE_KEY $(BIN)/salesbot serve --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

clean:
	rm -rf $(VENV) salesbot.db salesbot.db-* .pytest_cache .ruff_cache
