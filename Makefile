# Holdfast: `make run` to try it, `make check` while you work, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
SASS := node_modules/.bin/sass
CSS := static/build/holdfast.css
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run check test deps test-deps css system-tools clean
# A step that fails leaves no half-made file behind to look up to date (a broken stylesheet).
.DELETE_ON_ERROR:

run: deps instance/config.py
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo
	@echo "Holdfast is starting on http://127.0.0.1:5000 with its email worker (press Ctrl+C to stop)."
	@echo
	FLASK_DEBUG=1 $(VENV)/bin/honcho start

# Every core (pytest-xdist); the browser tests share one worker, its live server and chromium.
PARALLEL := -n auto --dist loadgroup
# More pytest options for either command, e.g. make check PYTEST_ARGS="tests/core -x".
PYTEST_ARGS ?=

# The inner loop: lint and every test not marked slow or e2e, on SQLite, few Hypothesis examples.
check: deps test-deps
	$(VENV)/bin/ruff check .
	TEST_DATABASE_URL= $(PY) -m pytest $(PARALLEL) -m "not slow and not e2e" $(PYTEST_ARGS)

# The whole suite (PostgreSQL and Redis too when TEST_DATABASE_URL and TEST_REDIS_URL are
# set), with the ci Hypothesis profile and line and branch coverage.
test: deps test-deps system-tools
	$(VENV)/bin/ruff check .
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest $(PARALLEL) --cov --cov-report= $(PYTEST_ARGS)
	@echo "holdfast: coverage $$($(PY) -m coverage report --format=total)% (lines and branches; .venv/bin/coverage report for each file)"

deps: $(VENV)/.installed $(CSS)

test-deps: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e . && rm -rf holdfast.egg-info
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# GOV.UK Frontend compiled from its installed Sass with Holdfast's settings.
$(CSS): static/scss/holdfast.scss node_modules/.installed
	$(SASS) --quiet --no-source-map --style=compressed \
		--load-path=node_modules/govuk-frontend/dist $< $@

instance/config.py: | $(VENV)/.installed
	$(PY) -m core.instance instance

# Browser tests drive Debian's chromium (never a downloaded browser); the briefing tests
# read PDFs with poppler's pdftotext and the PDFs embed DejaVu Sans.
SYSTEM_TOOLS := $(strip \
	$(if $(shell command -v chromium),,chromium) \
	$(if $(shell command -v pdftoppm),,poppler-utils) \
	$(if $(shell fc-list 2>/dev/null | grep "DejaVu Sans"),,fonts-dejavu-core))
system-tools:
	@if [ -n "$(SYSTEM_TOOLS)" ]; then $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(SYSTEM_TOOLS); fi

clean:
	rm -rf $(VENV) node_modules static/build .pytest_cache .coverage
