# The README's commands. `make demo` serves the viewer on demo data; `make test` runs every test.
# Everything is installed and started by the targets themselves (see scripts/).
SHELL := /bin/bash
PYTHON ?= python3
PG_VERSION ?= 15
# Ports: the command line or environment, else those the last `make setup` used (written to
# var/ports.env by scripts/cluster.sh, read by config/settings.py too), else the defaults.
saved_port = $(shell sed -n 's/^$(1)=//p' var/ports.env 2>/dev/null | tail -1)
PG_PORT ?= $(or $(call saved_port,PG_PORT),54329)
REDIS_PORT ?= $(or $(call saved_port,REDIS_PORT),63799)
DEMO_POINTS ?= 50000
DEMO_PORT ?= 8000
VENV := .venv
PY := $(VENV)/bin/python
DATABASE_URL ?= postgis://postgres@127.0.0.1:$(PG_PORT)/groundmotion
CELERY_BROKER_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0
export PG_VERSION PG_PORT REDIS_PORT DATABASE_URL CELERY_BROKER_URL
# Every target here is local development: Django runs with DEBUG on (off by default, for
# production), including the demo server, `manage.py migrate` in setup, the tests and bench.
export DEBUG := true

.PHONY: setup demo demo-products test bench lint stop backup restore
.DEFAULT_GOAL := demo

setup: $(VENV)/.installed
	scripts/install-debian-packages.sh
	scripts/cluster.sh start
	$(PY) manage.py migrate --noinput -v 0

$(VENV)/.installed: requirements.txt
	scripts/install-debian-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

demo: setup
	scripts/cluster.sh start-redis
	$(PY) manage.py make_demo --points $(DEMO_POINTS)
	$(MAKE) --no-print-directory demo-products
	$(PY) manage.py collectstatic --noinput -v 0
	$(VENV)/bin/celery -A config worker --beat --schedule=var/celerybeat-schedule \
		--loglevel=WARNING --concurrency=2 \
		--detach --pidfile=var/celery.pid --logfile=var/celery.log
	$(PY) manage.py runserver 127.0.0.1:$(DEMO_PORT)

# The demo's L2b (GNSS-calibrated) and L3 (up-down, east-west) layers, derived from its two L2a
# tracks as a curator would, then published.
DEMO_DERIVED := demo-dax-asc-l2b demo-dax-desc-l2b demo-dax-l3-up demo-dax-l3-east
demo-products:
	$(PY) manage.py calibrate demo-dax-asc-l2a --gnss demo-gnss --output demo-dax-asc-l2b
	$(PY) manage.py calibrate demo-dax-desc-l2a --gnss demo-gnss --output demo-dax-desc-l2b
	$(PY) manage.py decompose demo-dax-asc-l2b demo-dax-desc-l2b --gnss demo-gnss \
		--up demo-dax-l3-up --east demo-dax-l3-east
	for slug in $(DEMO_DERIVED); do $(PY) manage.py dataset $$slug --publish >/dev/null; done
	$(PY) manage.py ingest_gnss_series fixtures/demo-gnss-series.csv --network demo-gnss --replace

test: setup node_modules/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	npx --no-install eslint
	node --test tests/js/
	$(PY) -m pytest

# ESLint for static/js and tests/js, pinned in package-lock.json (devDependencies only).
node_modules/.installed: package-lock.json
	scripts/install-debian-packages.sh
	npm ci --no-audit --no-fund
	touch $@

bench: setup
	scripts/install-debian-packages.sh --bench
	$(PY) -m bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

stop:
	scripts/cluster.sh stop

# pg_dump -Fc of DATABASE_URL to var/backups/<UTC time>.dump (or BACKUP_FILE); `make restore
# BACKUP_FILE=…` restores one into DATABASE_URL's database, new or empty (scripts/backup.sh).
backup:
	scripts/backup.sh backup $(BACKUP_FILE)

restore:
	scripts/backup.sh restore $(BACKUP_FILE)
