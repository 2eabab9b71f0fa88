# One-word entry points: make install | demo | test | lint | docs | bench | bench-quick
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU wheel of this exact version is what a fresh machine here installs; an unpinned torch pulls CUDA.
TORCH  ?= torch==2.13.0
DEMO   := data/shakespeare.txt
# make test runs the suite in this many pytest-xdist workers (one torch thread each): on 2 cores the
# full suite's ~370 CPU-seconds are mostly subprocesses and parse-only CLI runs that parallelise well.
# make test-fast stays in one process, where its ~50 CPU-seconds cost least (a worker pays its own start-up).
JOBS   ?= 2

.PHONY: install demo test test-fast lint docs bench bench-quick clean

install: $(VENV)/.installed

# constraints.txt holds the exact versions (pyproject.toml only lower bounds): the same install everywhere.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(DEMO): | install
	$(BIN)/python data/fetch_demo.py $(DEMO)

demo: install $(DEMO)
	$(BIN)/charlm tokenize $(DEMO) --top 10
	$(BIN)/charlm train $(DEMO) --out checkpoints/demo --force --hidden 256 --embed 64 --dropout 0 --time 2m --eval-every 50
	$(BIN)/charlm info
	$(BIN)/charlm sample --temp 0.8 --prime "ROMEO:" --length 400 --seed 1
	$(BIN)/charlm score "the king is dead" "dead the is king" "the apple and pear salad" "the apple and pair salad"

lint: install
	$(BIN)/ruff check charlm tests bench docs
	$(BIN)/ruff format --check charlm tests bench docs
	$(BIN)/mypy

# docs/cli.md is generated from the commands' --help, and the tables between "generated" markers in
# the other pages from the code and bench/results; tests/test_docs.py fails when any is stale.
docs: install
	$(BIN)/python docs/gen_cli.py
	$(BIN)/python docs/gen_tables.py
	$(BIN)/python docs/screenshot.py

test: install lint
	$(BIN)/python -m pytest -q -n $(JOBS) --dist worksteal

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.scale

bench-quick: install
	$(BIN)/python -m bench.run --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
