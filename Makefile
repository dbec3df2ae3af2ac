# The two commands: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/sh
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# Checked strictly by mypy: where the rules live.
TYPED = $(wildcard */services.py */services/*.py */*_services.py */selectors.py */selectors/*.py */*_selectors.py \
	*/tasks.py */policy.py \
	portal/*/services.py portal/*/selectors.py \
	portal/*/tasks.py portal/*/policy.py incidents/escalation.py incidents/alerts.py portal/notifications/delivery.py \
	portal/notifications/chatops.py portal/notifications/slack.py portal/notifications/signatures.py) \
	portal/core/attention.py portal/kube.py portal/scheduling.py portal/instants.py portal/text.py portal/locking.py \
	portal/core/audit_chain.py portal/bulk.py

.PHONY: run test test-anydate test-dates lint typecheck lock chromium faketime prometheus image-test buildah bench

# Cluster actions use the environment's KUBECONFIG, else the plain `KUBECONFIG=` line of .env (as settings do), else
# the SIMULATED demo cluster's (Procfile's `kube`, portal/kubesim), whose kubeconfig the simulator writes on start.
# The simulator runs only when that is the kubeconfig in use.
SIM_KUBECONFIG := $(CURDIR)/var/kubeconfig-sim.yaml
RUN_KUBECONFIG := $(or $(KUBECONFIG),$(shell sed -n 's/^KUBECONFIG=//p' .env 2>/dev/null | tail -n 1),$(SIM_KUBECONFIG))
RUN_PROCESSES := $(if $(filter $(SIM_KUBECONFIG),$(RUN_KUBECONFIG)),web worker beat kube,web worker beat)

run: export KUBECONFIG := $(RUN_KUBECONFIG)
run: $(VENV)/.installed-run .env
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py demo_datastores
	$(PY) manage.py ensure_admin
	@echo "Portal: http://127.0.0.1:$${PORT:-8000}/  ($(RUN_PROCESSES); Ctrl-C stops them all)"
	@echo "Kubernetes: $$KUBECONFIG$(if $(findstring kube,$(RUN_PROCESSES)), (SIMULATED demo cluster),)"
	exec $(VENV)/bin/honcho start -f Procfile -e /dev/null -p $${PORT:-8000} $(RUN_PROCESSES)

# The local demo's settings, which settings.py reads under the real environment: written once and then left alone,
# so the generated SECRET_KEY (and with it every session) survives restarts. Git-ignored. (honcho is given
# /dev/null above because it would load .env itself, over the real environment.)
.env:
	@umask 077 && key=$$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))') && printf '%s\n' \
		"# Local demo settings, written once by make run. Real environment variables override them." \
		DEBUG=1 "SECRET_KEY=$$key" EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend \
		"KUBECONFIG=$(SIM_KUBECONFIG)" > $@.tmp && mv $@.tmp $@
	@echo "Wrote $@: DEBUG=1, a new SECRET_KEY, console email, the simulator's kubeconfig."

test: $(VENV)/.installed-dev chromium prometheus
	$(PY) -m ruff check .
	$(PY) -m mypy $(TYPED)
	$(PY) manage.py makemigrations --check --dry-run --settings=tests.settings
	$(PY) -m pytest

# The suite with the whole session's clock moved to DATE (ticking from there), to prove no test depends on the day it
# runs; then the browser tests under Debian's faketime, which moves the clock of every process it starts (the test
# process with its live server, and Chromium). Integration tests are left out: their Redis and PostgreSQL keep the
# real clock.
ANYDATE_PYTEST := $(PY) -m pytest -q -p no:cacheprovider
test-anydate: $(VENV)/.installed-dev chromium faketime
	@test -n "$(DATE)" || { echo "usage: make test-anydate DATE=2027-11-26T12:00:00Z"; exit 2; }
	$(ANYDATE_PYTEST) -m "not browser and not integration" --travel-to=$(DATE)
	@if command -v faketime >/dev/null 2>&1; then \
		at=$$(date -u -d "$(DATE)" '+%Y-%m-%d %H:%M:%S') && echo "browser tests under faketime at $$at UTC" && \
		TZ=UTC faketime -f "@$$at" $(ANYDATE_PYTEST) -m browser; \
	elif [ -n "$$PORTAL_REQUIRE_SERVICES" ]; then echo "faketime is required for the browser tests at $(DATE)"; exit 1; \
	else echo "faketime not installed: browser tests at $(DATE) skipped"; fi

# The dates that broke, or could break, date-dependent tests: inside the Black Friday freeze, a quarter's last day,
# a leap day, New York's spring-forward night, a Monday minute before the 09:00 UTC handoff, a quiet day in July.
ANYDATES := 2027-11-26T12:00:00Z 2027-03-31T15:00:00Z 2028-02-29T12:00:00Z 2027-03-14T06:59:00Z \
	2027-01-04T08:59:00Z 2027-07-14T12:00:00Z
test-dates: $(VENV)/.installed-dev chromium faketime
	@failed=""; for date in $(ANYDATES); do echo "== $$date"; $(MAKE) -s test-anydate DATE=$$date || failed="$$failed $$date"; \
	done; [ -z "$$failed" ] || { echo "failed at:$$failed"; exit 1; }

# The container image, built with Debian's mmdebstrap and buildah (no Docker engine or Hub here) and run: check
# --deploy, migrate against PostgreSQL, gunicorn. Minutes, so never part of `make test` (tests/image/test_image.py).
image-test: $(VENV)/.installed-dev buildah
	PORTAL_IMAGE_TEST=1 PORTAL_REQUIRE_SERVICES=1 $(PY) -m pytest -q -p no:cacheprovider -m image tests/image

buildah:
	@{ command -v buildah && command -v mmdebstrap; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get install -y buildah mmdebstrap >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y buildah mmdebstrap >/dev/null)); } || echo "buildah or mmdebstrap not installed: the image test will skip"

# The benchmark (bench/run.py): gunicorn on PostgreSQL, each target against a floor view; never part of `make test`.
# SIZE=small|10k|100k; BENCH_ARGS="--compare bench/results/10k-before.json" and the like go to bench/run.py.
SIZE ?= small
bench: $(VENV)/.installed-dev
	$(PY) bench/run.py --size $(SIZE) $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(PY) -m mypy $(TYPED)

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

faketime:
	@command -v faketime >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get install -y faketime >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y faketime >/dev/null)); } || echo "faketime not installed: make test-anydate leaves the browser tests out"

# SLI integration tests run Debian's Prometheus and promtool on a private port; installed here when we may (root).
prometheus:
	@{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get install -y prometheus >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y prometheus >/dev/null)); } || echo "prometheus not installed: its integration tests will fail under PORTAL_REQUIRE_SERVICES=1"
