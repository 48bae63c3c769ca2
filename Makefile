# Python 3.12+ (Django 6). The newest suitable interpreter wins.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 $(HOME)/.pyenv/versions/3.13*/bin/python3.13 $(HOME)/.pyenv/versions/3.12*/bin/python3.12; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 4

.PHONY: run serve worker test lint bench clean

$(BIN)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 or newer is required (no python3.14, python3.13 or python3.12 found)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py bootstrap && $(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: $(BIN)/.installed
	$(BIN)/python manage.py bootstrap && $(BIN)/gunicorn -c config/gunicorn.py config.wsgi -b $(HOST):$(PORT) -w $(WORKERS) --access-logfile -

worker: $(BIN)/.installed
	$(BIN)/celery -A config worker -B -l info

test: $(BIN)/.installed
	$(BIN)/python tests/run.py

lint: $(BIN)/.installed
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy tenants accounts api sms church billing config telemetry dashboard stats integrations

bench: $(BIN)/.installed
	$(BIN)/python -m bench.provisioning

clean:
	rm -rf $(VENV) var
