# atlas-tui: the README names `make run` and `make test`; the rest are for developers.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export LANCEDB_LOG ?= error
export HF_HUB_OFFLINE ?= 1

.PHONY: install lock run demo test test-latest lint chromium bench bench-quick eval mutate mutate-changed clean

install: $(STAMP)

# torch first, pinned: that version is the CPU build; any other spec pulls a multi-GB CUDA build.
# Then everything else at the versions in requirements.lock (what the tests ran with).
TORCH  := torch==2.13.0
LOCK   := requirements.lock
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $(STAMP)

# A new lock from a clean venv with the newest releases pyproject.toml allows; says what changed.
# Run `make test-latest` first: it tries those releases without touching the lock.
lock:
	$(PYTHON) scripts/lock.py write --torch $(TORCH)

# The newest releases, unlocked, in a venv of their own (.venv-latest, made anew each time), with
# the tests that touch the SDK, httpx2, LanceDB, Textual and textual-serve. Not part of `make test`.
LATEST       := .venv-latest
LATEST_TESTS := tests/generation tests/test_query.py tests/test_ask.py tests/test_local_models.py \
	tests/test_endpoints.py tests/knowledge tests/tui tests/browser tests/test_examples.py
test-latest: chromium
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/pip install --quiet $(TORCH)
	$(LATEST)/bin/pip install --quiet -e '.[dev]'
	$(LATEST)/bin/python scripts/lock.py compare $(LATEST)/bin/python
	$(LATEST)/bin/pytest -q -n $(TEST_WORKERS) --dist loadgroup $(LATEST_TESTS)

# Opens the TUI; on first run the demo corpus is indexed (about a minute on 2 cores).
run: install
	@$(BIN)/atlas-tui stats >/dev/null 2>&1 || $(BIN)/atlas-tui ingest --demo
	$(BIN)/atlas-tui

demo: install
	$(BIN)/atlas-tui ingest --demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The suite runs on pytest-xdist workers, one per core (TEST_WORKERS=0: in this one process).
# loadgroup: the tests sharing a module's fixture stay on one worker (tests/conftest.py marks them).
TEST_WORKERS ?= auto
test: lint chromium
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The browser tests (tests/browser) drive the system's Chromium: Playwright's own browser download
# is not reachable from every machine. Installed from Debian's packages only when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing chromium for the browser tests (apt-get)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

bench: install
	$(BIN)/python benchmarks/run_all.py

bench-quick: install
	$(BIN)/python benchmarks/run_all.py --quick

eval: install
	$(BIN)/python benchmarks/eval_retrieval.py --corpus /usr/share/doc/python3.11/html/_sources \
		--questions ../shared/eval/python-docs-dev-questions.jsonl

# Mutation testing (a tool, not a CI gate; hours for every module on 2 cores): MODULE=a/b.py for
# one module. mutate-changed BASE=<commit>: only the modules whose source or tests changed since then.
# Each run rewrites the table in benchmarks/RESULTS-mutation.md.
mutate: install
	nice -n 19 $(BIN)/python scripts/mutate.py $(MODULE)

mutate-changed: install
	@test -n "$(BASE)" || { echo "name the commit to compare with: make mutate-changed BASE=main"; exit 2; }
	nice -n 19 $(BIN)/python scripts/mutate.py --changed $(BASE)

clean:
	rm -rf $(VENV) $(LATEST) .pytest_cache .ruff_cache
