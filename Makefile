# Two entry points for a fresh clone: `make demo` and `make test` (both set up .venv first).
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
export PATH := $(abspath $(VENV))/bin:$(PATH)
CORES ?= 2

.PHONY: demo test bench setup clean-demo

setup: $(STAMP)

# Debian tools: tesseract-ocr brings the English model that deid's OCR (tesserocr) loads, and the command
# line the tests read scrubbed pixels with; dciodvfy checks DICOM files in the tests.
DEBIAN_TOOLS := tesseract:tesseract-ocr dciodvfy:dicom3tools

# torch, torchvision and nnunetv2 come pinned from pyproject.toml in one resolve.
$(STAMP): pyproject.toml
	@missing=""; for pair in $(DEBIAN_TOOLS); do command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)
	neovert keygen --if-missing
	snakemake --cores $(CORES)

test: $(STAMP)
	python -m pytest -ra

# benchmarks (JSON/TSV under benchmarks/): de-identification speed against dicognito and the raw
# decoder, leaks of the anchors on the torture corpus, OCR recall on rendered burned-in text;
# metrics speed and agreement against surface-distance and MONAI; the split and `snakemake -n` at full scale
bench: $(STAMP)
	pip install --quiet -e ".[test,bench]"
	python bench/deid_speed.py
	python bench/deid_anchors.py
	python bench/burned_in_recall.py
	python bench/metrics_speed.py
	python bench/split_full_scale.py
	python bench/dag_full_scale.py

clean-demo:
	rm -rf results logs benchmarks data/demo .snakemake
