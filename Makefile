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

SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps configure build demo check check-asan install clean

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

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

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
