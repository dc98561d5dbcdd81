# Fuzzing and sanitizers (docs/reliability.md), included from the Makefile.
#   make fuzz             every parser target for $(FUZZ_RUNS) executions (libFuzzer + ASan), then the
#                         table of executions, corpus sizes and crashes → docs/fuzz-results.md
#   make fuzz-smoke       every target for $(FUZZ_SMOKE_SECONDS) s (part of make test, CI)
#   make fuzz-one FUZZ_TARGET=gguf   one target (FUZZ_RUNS, FUZZ_SECONDS)
#   make test-sanitizers  the unit tests under AddressSanitizer, then ThreadSanitizer
# A crash leaves $(FUZZ_RESULTS)/<target>-crash-<sha1>; replay it with
#   QUANTA_FUZZ_TARGET=<target> $(FUZZ_BINARY) FILE   (or the plain build's .build/debug/QuantaFuzz FILE)

FUZZ_TARGETS       := gguf safetensors hdf5 tokenizer config recipe calibration container compressed-tensors export
# The slowest first, so that two jobs finish together.
FUZZ_RUN_ORDER     := $(filter $(FUZZ_TARGETS),export hdf5 container compressed-tensors gguf) \
	$(filter-out export hdf5 container compressed-tensors gguf,$(FUZZ_TARGETS))
FUZZ_SCRATCH       ?= .build-fuzz
FUZZ_CONFIGURATION ?= release
FUZZ_BUILD_FLAGS   := -c $(FUZZ_CONFIGURATION) --scratch-path $(FUZZ_SCRATCH) --product QuantaFuzz \
	-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DQUANTA_LIBFUZZER
FUZZ_BINARY        := $(FUZZ_SCRATCH)/$(FUZZ_CONFIGURATION)/QuantaFuzz
FUZZ_SEEDS         := $(FUZZ_SCRATCH)/seeds
FUZZ_CORPUS        := $(FUZZ_SCRATCH)/corpus
FUZZ_RESULTS       := $(FUZZ_SCRATCH)/results
FUZZ_RUNS          ?= 1000000
FUZZ_SECONDS       ?= 0
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_JOBS          ?= 2
# An allocation above 2 GB and an input running 10 s are bugs. Leak detection is off: LeakSanitizer
# reports the Swift runtime's and Foundation's lazily initialised globals as leaks.
FUZZ_OPTIONS       ?= -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -detect_leaks=0 -print_final_stats=1
# Without allocation stacks ASan runs ~10% faster (replay a crash to see them).
# The Swift runtime's backtracer would run under ASan after a crash; libFuzzer prints the stack.
export SWIFT_BACKTRACE := enable=no
FUZZ_REPORT        ?= docs/fuzz-results.md
FUZZ_FIXTURES      := Tests/QuantaFormatsTests/Resources/gguf
fuzz_max_len        = $(if $(filter hdf5 export calibration,$(1)),4096,$(if $(filter recipe,$(1)),8192,$(if $(filter config,$(1)),16384,$(if $(filter tokenizer,$(1)),32768,65536))))

SANITIZER_TEST_FLAGS ?= -c release --disable-testable-imports --skip QuantaRealModelTests

.PHONY: fuzz fuzz-smoke fuzz-one fuzz-build fuzz-seeds fuzz-report test-sanitizers test-asan test-tsan \
	$(addprefix fuzz-run-,$(FUZZ_TARGETS))

fuzz-build:
	$(SWIFT) build $(FUZZ_BUILD_FLAGS)

# Seeds: what the project's writers make from tiny in-code models (the binary writes them),
# plus the test fixtures, the recipes and calibration specs, and Tests/Fuzz/Seeds.
fuzz-seeds: fuzz-build
	rm -rf $(FUZZ_SEEDS)
	ASAN_OPTIONS=detect_leaks=0 QUANTA_FUZZ_WRITE_SEEDS=$(FUZZ_SEEDS) $(FUZZ_BINARY)
	cp $(FUZZ_FIXTURES)/*.gguf $(FUZZ_SEEDS)/gguf/
	cp recipes/*.yaml $(FUZZ_SEEDS)/recipe/
	cp calibration/*.yaml $(FUZZ_SEEDS)/calibration/
	for target in $(FUZZ_TARGETS); do \
	  if [ -d Tests/Fuzz/Seeds/$$target ]; then cp Tests/Fuzz/Seeds/$$target/* $(FUZZ_SEEDS)/$$target/; fi; \
	done

# One target: the working corpus grows in $(FUZZ_CORPUS)/<target>; the log, the wall time
# and any crash, timeout or out-of-memory input go to $(FUZZ_RESULTS).
$(addprefix fuzz-run-,$(FUZZ_TARGETS)): fuzz-run-%:
	@mkdir -p $(FUZZ_CORPUS)/$* $(FUZZ_RESULTS)
	@rm -f $(FUZZ_RESULTS)/$*-crash-* $(FUZZ_RESULTS)/$*-timeout-* $(FUZZ_RESULTS)/$*-oom-* $(FUZZ_RESULTS)/$*-leak-*
	@echo "fuzzing $* ($(if $(filter-out 0,$(FUZZ_SECONDS)),$(FUZZ_SECONDS) s,$(FUZZ_RUNS) runs))"
	@start=$$(date +%s); \
	ASAN_OPTIONS=detect_leaks=0:malloc_context_size=0 QUANTA_FUZZ_TARGET=$* $(FUZZ_BINARY) $(FUZZ_OPTIONS) -max_len=$(call fuzz_max_len,$*) \
	  $(if $(filter-out 0,$(FUZZ_SECONDS)),-max_total_time=$(FUZZ_SECONDS),-runs=$(FUZZ_RUNS)) \
	  -artifact_prefix=$(FUZZ_RESULTS)/$*- $(FUZZ_CORPUS)/$* $(FUZZ_SEEDS)/$* > $(FUZZ_RESULTS)/$*.log 2>&1; \
	status=$$?; echo $$(( $$(date +%s) - start )) > $(FUZZ_RESULTS)/$*.seconds; echo $$status > $(FUZZ_RESULTS)/$*.status; \
	if [ $$status -ne 0 ]; then echo "fuzz target $* failed (status $$status), see $(FUZZ_RESULTS)/$*.log"; tail -n 40 $(FUZZ_RESULTS)/$*.log; fi

fuzz-report:
	@sh Tests/Fuzz/fuzz-report.sh $(FUZZ_RESULTS) $(FUZZ_CORPUS) "$(FUZZ_TARGETS)" "$(FUZZ_REPORT_TITLE)" > $(FUZZ_RESULTS)/table.md; \
	status=$$?; cat $(FUZZ_RESULTS)/table.md; \
	if [ -n "$(FUZZ_REPORT)" ]; then cp $(FUZZ_RESULTS)/table.md $(FUZZ_REPORT); fi; exit $$status

fuzz: FUZZ_REPORT_TITLE = make fuzz, FUZZ_RUNS=$(FUZZ_RUNS)
fuzz: fuzz-seeds
	$(MAKE) -j $(FUZZ_JOBS) $(addprefix fuzz-run-,$(FUZZ_RUN_ORDER)) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SECONDS=$(FUZZ_SECONDS)
	$(MAKE) fuzz-report FUZZ_REPORT_TITLE="$(FUZZ_REPORT_TITLE)"

fuzz-smoke: FUZZ_REPORT_TITLE = make fuzz-smoke, $(FUZZ_SMOKE_SECONDS) s per target
fuzz-smoke: fuzz-seeds
	$(MAKE) -j $(FUZZ_JOBS) $(addprefix fuzz-run-,$(FUZZ_RUN_ORDER)) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)
	$(MAKE) fuzz-report FUZZ_REPORT= FUZZ_REPORT_TITLE="$(FUZZ_REPORT_TITLE)"

fuzz-one: fuzz-build
	@test -d $(FUZZ_SEEDS)/$(FUZZ_TARGET) || $(MAKE) fuzz-seeds
	$(MAKE) fuzz-run-$(FUZZ_TARGET)
	$(MAKE) fuzz-report FUZZ_TARGETS=$(FUZZ_TARGET) FUZZ_REPORT= FUZZ_REPORT_TITLE="$(FUZZ_TARGET)"

# The unit tests under each sanitizer, each in its own scratch path. LeakSanitizer is off for
# the same reason as in fuzzing: it reports the tests' and XCTest's global lets as leaks.
test-sanitizers: test-asan test-tsan

test-asan:
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test --sanitize=address --scratch-path .build-asan $(SANITIZER_TEST_FLAGS)

test-tsan:
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan $(SANITIZER_TEST_FLAGS)
