# The two commands of README.md: `make demo` and `make test`. Everything else serves them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Absolute links in the demo's emails (digests, password resets) point at the server `make demo` starts.
SITE_URL ?= http://$(HOST):$(PORT)

.PHONY: demo test lint format bench venv lock clean compilemessages

# Installs exactly the lock file: every package, transitive ones and pip itself, at its pinned version and hash.
$(STAMP): requirements.lock requirements-dev.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (set PYTHON=... to use another)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

venv: $(STAMP)

# Regenerates both lock files from requirements*.txt (the direct dependencies); run it after editing them.
# Pins already in a lock file stay unless a direct pin needs otherwise; the dev lock keeps the runtime pins.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host
lock:
	@test -x $(BIN)/pip-compile || $(MAKE) venv
	$(PIP_COMPILE) --output-file requirements.lock requirements.txt
	$(PIP_COMPILE) --constraint requirements.lock --output-file requirements-dev.lock requirements-dev.txt

# Local settings for manage.py run by hand; real environment variables take precedence.
.env:
	printf '# Local development settings (git-ignored). Production sets real variables instead.\nDJANGO_DEBUG=1\n' > .env

# The message catalogues (locale/*/LC_MESSAGES/django.po, committed) compiled to the .mo files Django reads
# (git-ignored): a fresh clone shows Spanish after `make demo` or `make test`. Needs GNU gettext's msgfmt.
compilemessages: $(STAMP)
	@command -v msgfmt >/dev/null || { echo "msgfmt is required: apt-get install gettext"; exit 1; }
	DJANGO_DEBUG=1 SITE_URL=$(SITE_URL) $(BIN)/python manage.py compilemessages --ignore=.venv --ignore=node_modules

demo: $(STAMP) compilemessages | .env
	DJANGO_DEBUG=1 SITE_URL=$(SITE_URL) $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 SITE_URL=$(SITE_URL) $(BIN)/python manage.py load_campaign
	DJANGO_DEBUG=1 SITE_URL=$(SITE_URL) $(BIN)/python manage.py demo_accounts
	@echo "Serving http://$(HOST):$(PORT)/ (admin at /admin/); links in emails use $(SITE_URL). Ctrl-C stops."
	DJANGO_DEBUG=1 SITE_URL=$(SITE_URL) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Test-only JavaScript (axe-core, injected into pages by the browser tests), exactly as package-lock.json pins it.
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund

# Lint, the import contracts and the type check (pyproject.toml), then the suite in a random order (pytest-randomly:
# the seed is printed; `make test PYTEST_ARGS="-p randomly --randomly-seed=N"` replays an order) on TEST_WORKERS
# processes (pytest-xdist; each has its own test database and Redis db; TEST_WORKERS=0 runs it in one process).
TEST_WORKERS ?= 2
test: $(STAMP) $(NODE_STAMP) compilemessages | .env
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	DJANGO_DEBUG=1 $(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmarks of bench/README.md, each on its own database (and Redis db 13 for digests).
bench: $(STAMP)
	$(BIN)/python -m bench.api_bench --rounds 5
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/bdt_bench_digests REDIS_URL=redis://127.0.0.1:6379/13 \
		$(BIN)/python bench/digest_bench.py --members 30000

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles .env
