# msdm-tutorial: `make lab` opens the course, `make test` runs every test and notebook.
# Both create .venv on first use (python3 -m venv + pip install -e .[dev]).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
TOKEN  ?= $(shell $(PYTHON) -c "import secrets; print(secrets.token_hex(16))")

.PHONY: lab test unit notebooks sync-notebooks clean-venv help

help:
	@echo "make lab    - open the course in JupyterLab (127.0.0.1, with a token)"
	@echo "make test   - run the unit tests and execute every notebook (nbval)"
	@echo "make unit   - unit tests only"
	@echo "make sync-notebooks - regenerate notebooks/*.ipynb from the jupytext .py sources"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# the reference implementation for the U-Net parity tests (pure Python, MIT; its declared
	# deps are type stubs, so it is installed without them: einops/einops-exts come with [dev])
	$(BIN)/python -m pip install --quiet --no-deps audio-diffusion-pytorch==0.0.43
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (msdm-tutorial)" >/dev/null
	touch $(STAMP)

lab: $(STAMP)
	@echo "JupyterLab: http://127.0.0.1:$(PORT)/lab?token=$(TOKEN)"
	$(BIN)/jupyter lab notebooks/ --ip=127.0.0.1 --port=$(PORT) --no-browser --allow-root \
		--IdentityProvider.token=$(TOKEN)

# make test runs one process at a time, so torch keeps its default (a thread per core): faster when
# alone (docs/benchmarks.md, "Threads"). Set OMP_NUM_THREADS=1 when other jobs share the CPU.
test: $(STAMP)
	MSDM_QUICK=1 $(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests

sync-notebooks: $(STAMP)
	$(BIN)/python scripts/sync_notebooks.py

clean-venv:
	rm -rf $(VENV)
