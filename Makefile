# chatmusician-course: `make demo` runs the course headless, `make test` runs the tests.
# Both create .venv/ from the tested lock first (only Python 3.11 and pip are needed).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup setup-gpu demo test lab smoke clean lint bench

setup: $(STAMP)

$(STAMP): requirements.lock requirements-nodeps.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.lock
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (chatmusician-course)" >/dev/null
	touch $(STAMP)

## GPU machines: add bitsandbytes for QLoRA 4-bit (not needed, and noisy, on CPU)
setup-gpu: setup
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-gpu.lock

## the whole course, headless, on the offline default: executed notebooks + summary under runs/
demo: setup
	$(PY) -m cm_lib course run

## same, in smoke mode (seconds per notebook)
smoke: setup
	$(PY) -m cm_lib course run --smoke

## the whole test suite (unit tests + every notebook in smoke mode), offline
test: setup
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check cm_lib tests benchmarks

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) runs
