# Thin wrapper over CMake. `make demo` and `make check` do everything on a
# fresh Debian 12 machine: install missing packages, configure, build, then
# run a demonstration instance or the whole test suite.
PREFIX ?= /usr/local
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

# Debian packages the build and the tests need.
DEPS = cmake make g++ pkg-config ccache clang-format \
       libzmq3-dev cppzmq-dev nlohmann-json3-dev libhwloc-dev libspdlog-dev libfmt-dev \
       libcli11-dev libgtest-dev libtomlplusplus-dev libsqlite3-dev mpich libmpich-dev \
       python3 procps util-linux hostname

# The libFuzzer targets need a clang whose libc++ has std::expected.
FUZZ_DEPS = clang-16 libc++-16-dev libc++abi-16-dev libclang-rt-16-dev
FUZZ_SECONDS ?= 60

SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps configure build demo check check-asan fuzz install clean

all: build

# Install whichever of the packages in $(1) are missing.
define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call apt_install,$(DEPS))

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	bash doc/demo.sh $(BUILD)

check: build
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
check-asan:
	$(MAKE) check BUILD=build-asan CMAKE_FLAGS="-DFLUX_SANITIZE=ON"

# Build the libFuzzer targets (installing clang first) and fuzz each for
# FUZZ_SECONDS, starting from its seed corpus; findings land in $(BUILD)/t/fuzz.
fuzz: configure
	$(call apt_install,$(FUZZ_DEPS))
	cmake $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target fuzz_message fuzz_parsers
	@set -e; cd $(BUILD)/t/fuzz; for t in fuzz_message fuzz_parsers; do \
	  mkdir -p corpus-$$t; \
	  if [ $$t = fuzz_parsers ]; then cp -n $(CURDIR)/t/fuzz/corpus/parsers/* corpus-$$t/; fi; \
	  echo "== $$t for $(FUZZ_SECONDS) s"; \
	  ./$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 corpus-$$t >$$t.log 2>&1 \
	    || { tail -n 40 $$t.log; echo "$$t found a failure: see $(BUILD)/t/fuzz/$$t.log"; exit 1; }; \
	  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss)' $$t.log; \
	done

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
