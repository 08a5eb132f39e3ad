# The two commands of README.md: `make run` serves Kontor, `make test` runs the whole suite.
# Both set up everything they need first (a virtualenv; for tests also Debian's chromium).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint install install-dev translations browser extract clean

run: install translations
	$(BIN)/python app.py

test: install-dev translations browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The lint gate (rules in pyproject.toml); .ci/run and the pre-commit hook run the same.
lint: install-dev
	$(BIN)/ruff check .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs and compiled catalogues are remembered (stamp files, .mo files), so that a second
# `make test` started beside the first (.ci/run runs SQLite and PostgreSQL side by side) neither
# reinstalls nor rewrites a catalogue the other run is reading.
install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

CATALOGUES := $(wildcard translations/*/LC_MESSAGES/messages.po)
translations: $(CATALOGUES:.po=.mo)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(BIN)/python
	$(BIN)/pybabel -q compile -l $* -i $< -o $@.tmp && mv $@.tmp $@

# Browser tests drive Debian's chromium (Playwright's own browser download cannot work here);
# an RTF test opens a note in LibreOffice (Debian's libreoffice-writer-nogui).
browser:
	@{ command -v chromium && dpkg-query -W -f='$${Status}\n' libreoffice-writer-nogui \
	  libreoffice-writer 2>/dev/null | grep -q "ok installed"; } >/dev/null 2>&1 || { \
	  packages="chromium libreoffice-writer-nogui"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$packages >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$packages >/dev/null; fi; }

# Extract the messages to translate into translations/messages.pot and merge them into the .po files.
extract: $(BIN)/python
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 \
	  --ignore-dirs=".* ._ tests bench .venv" -o translations/messages.pot .
	$(BIN)/pybabel -q update -N -i translations/messages.pot -d translations

clean:
	rm -rf $(VENV) translations/*/LC_MESSAGES/messages.mo
