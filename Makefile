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
	@echo "yuejuan is in $(VENV): run '. $(VENV)/bin/activate' to have the yuejuan command (or $(VENV)/bin/yuejuan)"

# poppler (pdftoppm, pdfinfo) is what pdf2image drives; a CJK font lets printable sheets embed their Chinese.
# LibreOffice Calc (headless) is what the analytics tests open the report workbooks with, as a teacher would.
# PostgreSQL (Debian's server package) runs the tests' throw-away database (scripts/pg-throwaway).
# Chromium (Debian's) is the real browser the web page tests drive with Playwright (tests/api/web).
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
system-deps:
	@PKGS=""; \
	if ! command -v pdftoppm >/dev/null 2>&1 || [ ! -f $(CJK_FONT) ]; then PKGS="poppler-utils fonts-wqy-microhei"; fi; \
	if ! command -v soffice >/dev/null 2>&1 && ! command -v libreoffice >/dev/null 2>&1; then \
	  PKGS="$$PKGS libreoffice-calc-nogui"; fi; \
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then PKGS="$$PKGS postgresql"; fi; \
	if [ ! -x /usr/bin/chromium ]; then PKGS="$$PKGS chromium"; fi; \
	if [ -n "$$PKGS" ]; then \
	  echo "installing$$PKGS"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$PKGS >/dev/null; fi

demo: install
	$(PY) -m api.demo --out $(DEMO_OUT)

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/omr_throughput.py
	$(PY) benchmarks/grading_regrade.py
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) benchmarks/analytics_scale.py
	$(PY) benchmarks/service_load.py
	$(PY) benchmarks/assemble_bank.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
