# sys2 build. GNU make; every library through pkg-config.
# `make test` and `make demo` first install missing Debian packages (as root), then build in a sub-make so that
# pkg-config is asked only after the packages exist.
BUILD ?= build
OPT   ?= -O2 -g
SAN   ?=
PREFIX ?= /usr/local
SYS2_SHARED ?= ../shared
export SYS2_SHARED

PKGS      := openblas jansson libpcre2-8 libcurl libmicrohttpd zlib libseccomp
# Debian packages: the -dev libraries above, Check for tests, and the tools the tests and plots call.
DEB_PKGS  := build-essential pkg-config libopenblas-dev libjansson-dev libpcre2-dev libcurl4-openssl-dev \
             libmicrohttpd-dev zlib1g-dev libseccomp-dev check libsubunit-dev gnuplot-nox python3 chromium

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror=implicit-function-declaration
CFLAGS   := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(SAN) -fopenmp -MMD -MP $(CFLAGS)
CORE_DIRS := core core/engine core/kernels core/train core/net core/chat core/bench
CPPFLAGS += $(addprefix -I,$(CORE_DIRS)) -Itasks -Iscorers -Isearch $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS  += $(SAN) -fopenmp
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

LIB_SRC  := $(wildcard $(addsuffix /*.c,$(CORE_DIRS)) tasks/*.c scorers/*.c search/*.c)
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
CLI_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(wildcard cli/*.c))
TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(filter-out tests/test_header_c.c,$(wildcard tests/*.c)))

.PHONY: all deps node-deps test check asan bench bench-compare demo models install clean header-check
all: $(BUILD)/sys2

$(BUILD)/libsys2.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/sys2: $(CLI_OBJ) $(BUILD)/libsys2.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/check_all: $(TEST_OBJ) $(BUILD)/libsys2.a
	$(CC) $(LDFLAGS) -o $@ $^ $$(pkg-config --libs check) $(LDLIBS)
$(BUILD)/example_fork: tests/examples/fork.c $(BUILD)/libsys2.a
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libsys2.a $(LDLIBS)
$(BUILD)/tests/%.o: CPPFLAGS += $(shell pkg-config --cflags check 2>/dev/null) -Icli
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# deps: install what is missing, only when something is (root and apt-get needed then).
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: missing packages:$$missing (run as root, or install them)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

# node-deps: the official OpenAI Node SDK for the test of `sys2 serve` (tests/node/serve_openai.cjs), in build/node.
# openai 5.x: 6 and later want a newer node than Debian 12's.
NODE_DIR := build/node
OPENAI_NPM := openai@5.23.2
node-deps:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
	  echo "installing Debian packages: nodejs npm"; \
	  if [ "$$(id -u)" != 0 ]; then echo "error: node and npm are missing (Debian packages nodejs npm)" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || exit 1; }
	@test -f $(NODE_DIR)/node_modules/openai/package.json || { mkdir -p $(NODE_DIR) && cd $(NODE_DIR) && \
	  echo '{"name": "sys2-node-tests", "private": true}' > package.json && \
	  npm install --no-audit --no-fund --silent $(OPENAI_NPM); }

header-check:
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -pedantic-errors -Wall -Wextra -Icore -fsyntax-only tests/test_header_c.c

# The README's test command. OPENBLAS_NUM_THREADS=1 keeps summation order, and with it greedy paths, stable.
test: deps node-deps
	@$(MAKE) --no-print-directory check
check: header-check $(BUILD)/check_all $(BUILD)/sys2 $(BUILD)/example_fork
	OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE SYS2_BIN=$(BUILD)/sys2 SYS2_EXAMPLE=$(BUILD)/example_fork \
	  SYS2_NODE_MODULES=$(NODE_DIR)/node_modules ./$(BUILD)/check_all

asan: deps   # a separate build dir, so that sanitized and plain objects never mix
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" check

# Speed figures (never timed tests): stories260K single stream and branches; then a 110M-parameter F32 random
# model (written once to build/) single stream and 1-64 branches, with 1 thread and with 2 (the machine's cores).
# BENCH_THREADS sets the threads of the stories260K and single-stream runs (default 1).
BENCH_THREADS ?= 1
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/sys2
	./$(BUILD)/sys2 bench -m $(SYS2_SHARED)/models/stories260K.bin -z $(SYS2_SHARED)/models/tok512.bin --threads $(BENCH_THREADS)
	./$(BUILD)/sys2 bench -m $(SYS2_SHARED)/models/stories260K.gguf --branches 1,4,16,64 --threads $(BENCH_THREADS)
	test -f $(BUILD)/bench-110m.gguf || ./$(BUILD)/sys2 init-model -o $(BUILD)/bench-110m.gguf --dim 768 --layers 12 \
	  --heads 12 --kv-heads 12 --ff 2048 --vocab 32000 --ctx 1024
	./$(BUILD)/sys2 bench -m $(BUILD)/bench-110m.gguf --gen 64 --repeat 3 --threads $(BENCH_THREADS)
	for t in 1 2; do ./$(BUILD)/sys2 bench -m $(BUILD)/bench-110m.gguf --branches 1,4,16,64 --prefix 128 --gen 32 \
	  --repeat 3 --threads $$t || exit 1; done

# Issue 12's side-by-side table (results/speed/run.sh): sys2 against llama-bench, llama-batched-bench and llama2.c's
# run on the same files (made by llama-quantize in BENCH_MODELS, outside the repository), interleaved, with a
# bandwidth probe. The engines are built by hand outside the repository; an empty path leaves that engine out.
LLAMA_BENCH ?=
LLAMA_BATCHED_BENCH ?=
LLAMA2C_RUN ?=
LLAMA_QUANTIZE ?=
BENCH_MODELS ?= /work/benchmodels
bench-compare: deps
	@$(MAKE) --no-print-directory $(BUILD)/sys2
	BUILD=$(BUILD) DIR=$(BENCH_MODELS) LLAMA_BENCH=$(LLAMA_BENCH) LLAMA_BATCHED_BENCH=$(LLAMA_BATCHED_BENCH) \
	  LLAMA2C_RUN=$(LLAMA2C_RUN) LLAMA_QUANTIZE=$(LLAMA_QUANTIZE) sh results/speed/run.sh

# The main job: a sweep of the strategies on Game of 24 (ToT's first 20 test puzzles) with the shipped policy and
# value models, then the table. A few minutes on the 2-core machine; resumable (build/demo holds the results).
DEMO_SEARCHES ?= io,cot,sc:n=8,bon:n=8,beam,tot-bfs:b=1,tot-bfs:b=5,mcts
demo: deps
	@$(MAKE) --no-print-directory $(BUILD)/sys2
	./$(BUILD)/sys2 sweep --task game24 --split tot --limit 20 -m models/game24-policy.gguf \
	  --value models/game24-value.gguf --searches $(DEMO_SEARCHES) --scorers value --seed 1 --threads 2 \
	  --dir $(BUILD)/demo --plot $(BUILD)/demo/accuracy_vs_tokens

# Retrains every shipped model with the commands of models/README.md (not part of make test: it takes a while).
models: deps
	@$(MAKE) --no-print-directory $(BUILD)/sys2
	bash models/train.sh

install: $(BUILD)/sys2 $(BUILD)/libsys2.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/sys2
	install -m 755 $(BUILD)/sys2 $(DESTDIR)$(PREFIX)/bin/sys2
	install -m 644 $(BUILD)/libsys2.a $(DESTDIR)$(PREFIX)/lib/libsys2.a
	install -m 644 core/sys2.h $(DESTDIR)$(PREFIX)/include/sys2/sys2.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@PKGS@|$(PKGS)|g' sys2.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/sys2.pc

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
