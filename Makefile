# The two commands that do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: demo test bench install system-deps clean

install: $(STAMP) system-deps

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# poppler (pdftoppm, pdfinfo) is what pdf2image drives; a CJK font lets printable sheets embed their Chinese.
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
system-deps:
	@if ! command -v pdftoppm >/dev/null 2>&1 || [ ! -f $(CJK_FONT) ]; then \
	  echo "installing poppler-utils and fonts-wqy-microhei"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && \
	  $$SUDO apt-get install -y -q poppler-utils fonts-wqy-microhei >/dev/null; fi

demo: install
	$(PY) -m api.demo --out $(DEMO_OUT)

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/omr_throughput.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
