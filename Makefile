# The two commands: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/sh
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test lint lock chromium

# Without a KUBECONFIG, cluster actions go to the SIMULATED demo cluster (Procfile's `kube`, portal/kubesim), whose
# kubeconfig the simulator writes on start; with one, the simulator is not started.
SIM_KUBECONFIG := $(CURDIR)/var/kubeconfig-sim.yaml
RUN_PROCESSES := $(if $(KUBECONFIG),web worker beat,web worker beat kube)

run: export DEBUG ?= 1
run: export EMAIL_BACKEND ?= django.core.mail.backends.console.EmailBackend
run: export KUBECONFIG := $(or $(KUBECONFIG),$(SIM_KUBECONFIG))
run: $(VENV)/.installed-run
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py ensure_admin
	@echo "Portal: http://127.0.0.1:$${PORT:-8000}/  ($(RUN_PROCESSES); Ctrl-C stops them all)"
	@echo "Kubernetes: $$KUBECONFIG$(if $(findstring kube,$(RUN_PROCESSES)), (SIMULATED demo cluster),)"
	exec $(VENV)/bin/honcho start -f Procfile -p $${PORT:-8000} $(RUN_PROCESSES)

test: $(VENV)/.installed-dev chromium
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# Installs are pinned by constraints.txt (regenerate with `make lock`).
$(VENV)/.installed-run: $(VENV)/bin/python pyproject.toml constraints.txt
	$(VENV)/bin/pip install --quiet -c constraints.txt -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/bin/python pyproject.toml constraints.txt
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

lock: $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --upgrade -e '.[dev]'
	$(VENV)/bin/pip freeze --exclude-editable > constraints.txt

# Browser tests drive Debian's Chromium; installed here when we may (root), never via `playwright install`.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get install -y chromium >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y chromium >/dev/null)); } || echo "chromium not installed: browser tests will skip"
