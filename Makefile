# The two commands: `make run` (set up, build the index if missing, serve) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install browser check index eval bench clean

run: install
	$(BIN)/askdocs serve

test: install browser check
	$(BIN)/pytest
	$(BIN)/askdocs index
	$(BIN)/askdocs eval --label ci --gate eval/thresholds.toml

install: $(STAMP)

# torch goes first and pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train]'
	rm -f $(VENV)/.installed-*
	touch $@

# The browser tests drive Debian's Chromium through Playwright (Playwright's own download can't run here).
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }

check: install
	$(BIN)/ruff check app tests
	$(BIN)/mypy
	$(BIN)/lint-imports

index: install
	$(BIN)/askdocs index

eval: install
	$(BIN)/askdocs eval

bench: install
	$(BIN)/askdocs bench

clean:
	rm -rf $(VENV) index/current index/builds index/.lock
