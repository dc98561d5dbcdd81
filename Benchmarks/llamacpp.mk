# Benchmarks/llamacpp.mk -- build llama.cpp's tools (peer baseline) from the
# copy vendored in the PyPI sdist of llama-cpp-python.
#
# Everything lands under $(LLAMACPP_DIR) (default .build-peers/llama.cpp, which
# .gitignore's `.build-*/` pattern covers): it is never committed.
#
#   make llamacpp                         # from the top-level Makefile (include)
#   make -f Benchmarks/llamacpp.mk llamacpp PYTHON=python3   # standalone
#
# Needs only python3 + pip, tar and a C/C++ compiler (g++ is apt-installed if
# no C++ compiler is on PATH); cmake and ninja come from PyPI wheels when they
# are not on PATH. Re-running when built does nothing.

_LLAMACPP_PREV_GOAL := $(.DEFAULT_GOAL)

PYTHON ?= python3

LLAMACPP_PY_VERSION ?= 0.3.36
LLAMACPP_DIR        ?= .build-peers/llama.cpp
LLAMACPP_BIN        := $(LLAMACPP_DIR)/build/bin
LLAMACPP_JOBS       ?= 2
# pip requirements used when cmake / ninja are not on PATH (wheels carry the
# binaries: cmake/data/bin/cmake, ninja/data/bin/ninja or bin/ninja)
LLAMACPP_PIP_TOOLS  ?= cmake ninja
# Tools to build. This llama.cpp (vendored by llama-cpp-python 0.3.36) has
# tools/completion (llama-completion; llama-cli needs the server build, which
# is off) and examples/speculative (llama-speculative).
LLAMACPP_TARGETS    ?= llama-perplexity llama-quantize llama-imatrix \
                       llama-completion llama-bench llama-speculative
LLAMACPP_CMAKE_FLAGS ?= \
	-DCMAKE_BUILD_TYPE=Release \
	-DGGML_NATIVE=ON \
	-DBUILD_SHARED_LIBS=OFF \
	-DLLAMA_CURL=OFF \
	-DLLAMA_OPENSSL=OFF \
	-DLLAMA_BUILD_TESTS=OFF \
	-DLLAMA_BUILD_TOOLS=ON \
	-DLLAMA_BUILD_EXAMPLES=ON \
	-DLLAMA_BUILD_SERVER=OFF \
	-DLLAMA_BUILD_APP=OFF

# internal paths (absolute, so recipes can cd freely)
_LLAMACPP_ABS      := $(abspath $(LLAMACPP_DIR))
_LLAMACPP_SDIST    := $(_LLAMACPP_ABS)/sdist/llama_cpp_python-$(LLAMACPP_PY_VERSION).tar.gz
_LLAMACPP_PKG      := $(_LLAMACPP_ABS)/src/llama_cpp_python-$(LLAMACPP_PY_VERSION)
_LLAMACPP_SRC      := $(_LLAMACPP_PKG)/vendor/llama.cpp
_LLAMACPP_UNPACKED := $(_LLAMACPP_ABS)/src/.unpacked-$(LLAMACPP_PY_VERSION)
_LLAMACPP_PYTOOLS  := $(_LLAMACPP_ABS)/pytools
_LLAMACPP_BUILD    := $(_LLAMACPP_ABS)/build
_LLAMACPP_STAMP    := $(_LLAMACPP_BUILD)/.built-$(LLAMACPP_PY_VERSION)
_LLAMACPP_BINS     := $(addprefix $(_LLAMACPP_BUILD)/bin/,$(LLAMACPP_TARGETS))
# rebuild when a binary has gone missing even though the stamp is there
_LLAMACPP_MISSING  := $(filter-out $(wildcard $(_LLAMACPP_BINS)),$(_LLAMACPP_BINS))

.PHONY: llamacpp llamacpp-version llamacpp-clean _llamacpp-force

llamacpp: $(_LLAMACPP_STAMP)

$(_LLAMACPP_SDIST):
	mkdir -p $(@D)
	$(PYTHON) -m pip download --no-deps --no-binary llama-cpp-python \
		-d $(@D) llama-cpp-python==$(LLAMACPP_PY_VERSION)
	test -f $@

$(_LLAMACPP_UNPACKED): $(_LLAMACPP_SDIST)
	rm -rf $(_LLAMACPP_PKG)
	mkdir -p $(@D)
	tar -xzf $< -C $(@D)
	test -f $(_LLAMACPP_SRC)/CMakeLists.txt
	touch $@

$(_LLAMACPP_STAMP): $(_LLAMACPP_UNPACKED) $(if $(_LLAMACPP_MISSING),_llamacpp-force)
	@set -e; \
	if ! command -v cc >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then \
		echo "llamacpp: no C/C++ compiler (cc/c++) on PATH, installing g++"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y g++; \
	fi; \
	cmake=$$(command -v cmake || true); ninja=$$(command -v ninja || true); \
	if [ -z "$$cmake" ] || [ -z "$$ninja" ]; then \
		pt=$(_LLAMACPP_PYTOOLS); \
		if [ ! -x $$pt/cmake/data/bin/cmake ] || { [ ! -x $$pt/ninja/data/bin/ninja ] && [ ! -x $$pt/bin/ninja ]; }; then \
			echo "llamacpp: installing $(LLAMACPP_PIP_TOOLS) from PyPI into $$pt"; \
			$(PYTHON) -m pip install --quiet --upgrade --target $$pt $(LLAMACPP_PIP_TOOLS); \
		fi; \
		[ -n "$$cmake" ] || cmake=$$pt/cmake/data/bin/cmake; \
		if [ -z "$$ninja" ]; then \
			if [ -x $$pt/ninja/data/bin/ninja ]; then ninja=$$pt/ninja/data/bin/ninja; else ninja=$$pt/bin/ninja; fi; \
		fi; \
	fi; \
	"$$cmake" --version | head -n1; echo "ninja $$("$$ninja" --version)"; \
	commit=$$(sed -n '/^## \[$(LLAMACPP_PY_VERSION)\]/,/^## \[/p' $(_LLAMACPP_PKG)/CHANGELOG.md \
		| grep -o 'llama\.cpp@[0-9a-f]*' | head -n1 | cut -d@ -f2); \
	echo "llamacpp: cmake=$$cmake ninja=$$ninja vendored llama.cpp commit=$${commit:-unknown}"; \
	"$$cmake" -S $(_LLAMACPP_SRC) -B $(_LLAMACPP_BUILD) -G Ninja \
		-DCMAKE_MAKE_PROGRAM="$$ninja" \
		$(LLAMACPP_CMAKE_FLAGS) \
		$${commit:+-DLLAMA_BUILD_COMMIT=$$commit}; \
	"$$cmake" --build $(_LLAMACPP_BUILD) -j $(LLAMACPP_JOBS) --target $(LLAMACPP_TARGETS); \
	for b in $(_LLAMACPP_BINS); do test -x "$$b"; done; \
	$(_LLAMACPP_BUILD)/bin/llama-perplexity --version > $@.tmp 2>&1; \
	mv $@.tmp $@; \
	echo "llamacpp: built into $(LLAMACPP_BIN):"; ls $(_LLAMACPP_BUILD)/bin; \
	cat $@

# print the version/commit the built tools report
llamacpp-version: $(_LLAMACPP_STAMP)
	@cat $<

llamacpp-clean:
	rm -rf $(_LLAMACPP_ABS)

_llamacpp-force:

# When included from another Makefile, do not steal its default goal.
ifneq ($(firstword $(MAKEFILE_LIST)),$(lastword $(MAKEFILE_LIST)))
.DEFAULT_GOAL := $(_LLAMACPP_PREV_GOAL)
endif
