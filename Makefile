# Holdfast: `make run` to try it, `make test` to run every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app app
SASS := node_modules/.bin/sass
CSS := static/build/holdfast.css
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test deps test-deps css system-tools clean
# A step that fails leaves no half-made file behind to look up to date (a broken stylesheet).
.DELETE_ON_ERROR:

run: deps instance/config.py
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo
	@echo "Holdfast is starting on http://127.0.0.1:5000 with its email worker (press Ctrl+C to stop)."
	@echo
	FLASK_DEBUG=1 $(VENV)/bin/honcho start

test: deps test-deps system-tools
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

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
	rm -rf $(VENV) node_modules static/build .pytest_cache
