# berry — build, test, bench.  `make` builds build/opt/berry; `make test` runs every test twice
# (AddressSanitizer + UndefinedBehaviorSanitizer, then optimized); `make bench` prints benchmarks.
CC      ?= gcc
# The default build is tuned for this machine. PORTABLE=1 builds for any x86-64-v2 CPU; the SIMD
# kernels are compiled separately with their own flags and chosen at run time either way.
ifeq ($(PORTABLE),1)
ARCHFLAGS = -march=x86-64-v2 -mtune=generic
else
ARCHFLAGS = -march=native
endif
WARN    = -std=c11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wvla -D_GNU_SOURCE
INC     = -Isrc
LDLIBS  = -lm -lpthread -lgmp -lpcre2-8
OPTFLAGS  = -O3 $(ARCHFLAGS) -g -fno-strict-aliasing
SANFLAGS  = -O1 $(ARCHFLAGS) -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

LIB_SRC   = $(wildcard src/*/*.c)
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC   = $(wildcard src/cli/*.c)
TEST_SRC  = $(wildcard tests/*.c)
BENCH_SRC = $(wildcard bench/*.c)
HDRS      = $(wildcard src/*/*.h tests/*.h)

# Kernels for one instruction set live in files named *_avx2.c / *_avx512.c and get that set's flags.
AVX2_FLAGS   = -mavx2 -mfma -mf16c
AVX512_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c

.PHONY: all opt asan test bench run model clean fuzz portable deps
all: opt

# Installs missing Debian packages (libgmp-dev) once; `make test` also installs the test references.
build/.deps:
	@sh scripts/deps.sh build
	@mkdir -p build && touch $@
deps: build/.deps

# Every object waits for build/.deps (order-only: it never forces a rebuild), so that `make`, `make run`
# and every other target install the build's packages on a fresh machine before compiling.
define variant
build/$(1)/%.o: %.c $(HDRS) | build/.deps
	@mkdir -p $$(dir $$@)
	$$(CC) $$(WARN) $$(INC) $(2) $$(if $$(findstring _avx512,$$<),$$(AVX512_FLAGS),$$(if $$(findstring _avx2,$$<),$$(AVX2_FLAGS))) -c $$< -o $$@
build/$(1)/libberry.a: $$(LIB_SRC:%.c=build/$(1)/%.o)
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/berry: $$(CLI_SRC:%.c=build/$(1)/%.o) build/$(1)/libberry.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
build/$(1)/berry-tests: $$(TEST_SRC:%.c=build/$(1)/%.o) build/$(1)/libberry.a
	$$(CC) $(2) -o $$@ $$^ $$(LDLIBS)
# The AVX-512 kernels compiled once more, over SIMDe, for machines without AVX-512 (SIMDe passes
# 512-bit vectors by value, which GCC notes as an ABI change when it has no AVX-512: harmless there).
build/$(1)/tests/test_simde_kernels.o: src/tensor/matmul_avx512.c
build/$(1)/tests/test_simde_kernels.o: WARN += -Wno-psabi
# The embedded model is found in this checkout's models/, from any working directory.
# (main.o also follows the Makefile, so a build from before this flag picks it up.)
build/$(1)/src/cli/main.o: INC += -DBERRY_SOURCE_DIR='"$(CURDIR)"'
build/$(1)/src/cli/main.o: Makefile
endef
$(eval $(call variant,opt,$(OPTFLAGS)))
$(eval $(call variant,asan,$(SANFLAGS)))
$(eval $(call variant,portable,$(OPTFLAGS)))

opt: build/opt/berry
asan: build/asan/berry
# A build for any x86-64-v2 CPU, in build/portable/.
portable:
	$(MAKE) PORTABLE=1 build/portable/berry

build/opt/berry-bench: $(BENCH_SRC:%.c=build/opt/%.o) build/opt/libberry.a
	$(CC) $(OPTFLAGS) -o $@ $^ $(LDLIBS)

# Tests run in both builds; tests/run.sh prints one total line "N passed, N failed, N skipped".
test: build/.deps
	@sh scripts/deps.sh test
	@$(MAKE) --no-print-directory -j$$(nproc) build/opt/berry-tests build/asan/berry-tests build/opt/berry build/asan/berry
	@sh tests/run.sh


bench: build/opt/berry-bench build/opt/berry
	./build/opt/berry-bench $(BENCH_ARGS)

# Solves a sample problem with the embedded model (models/berry-tiny.gguf): its greedy chain of thought
# (the solve role prompt of src/search/roles.h), then SR-MCTS through `berry solve`, tree and answer.
RUN_Q = Tom has 3 boxes with 12 apples in each. He gives 7 apples to Mia. How many apples does Tom have now?
run: build/opt/berry
	@printf 'Question: %s\nSolve step by step.\n' "$(RUN_Q)" > build/run_prompt.txt
	@echo "== greedy chain of thought (berry generate --temp 0)"
	@./build/opt/berry generate -m models/berry-tiny.gguf -f build/run_prompt.txt --temp 0 -n 320 2>/dev/null; echo
	@echo "== SR-MCTS (berry solve --tree; the last line is the answer)"
	@./build/opt/berry solve --tree "$(RUN_Q)"

# Rebuilds the embedded model from nothing into build/model/ (scripts/make_model.sh: curriculum,
# vocabulary, training, evaluation); `make model SHIP=1` also replaces models/berry-tiny.gguf.
model: build/opt/berry
	SHIP=$(SHIP) sh scripts/make_model.sh

# Fuzz targets: fuzz/fuzz_NAME.c, built with clang's libFuzzer and sanitizers into build/fuzz/.
# Run one with: build/fuzz/fuzz_NAME -max_total_time=60 [corpus dir]
FUZZ_SRC  = $(wildcard fuzz/*.c)
FUZZ_CC   = clang
FUZZFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined -march=native
build/fuzz/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) $(INC) $(FUZZFLAGS) $(if $(findstring _avx512,$<),$(AVX512_FLAGS),$(if $(findstring _avx2,$<),$(AVX2_FLAGS))) -c $< -o $@
build/fuzz/libberry.a: $(LIB_SRC:%.c=build/fuzz/%.o)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/fuzz_%: build/fuzz/fuzz/fuzz_%.o build/fuzz/libberry.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
fuzz: $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

clean:
	rm -rf build
