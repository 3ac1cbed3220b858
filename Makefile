# Entry points for people and CI. Each target sets up what it needs (idempotently) first.
#   make demo   — set up, build, and run the end-to-end demo
#   make test   — set up, build, and run every test (ctest: unit, integration, interop, contracts)
#   make build  — set up and build only
#   make package — build the Debian package (build/package/veil_VERSION_amd64.deb; docs/operations.md)
#   make fuzz   — build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make format / make lint — clang-format / clang-tidy on changed C++ files
PRESET ?= default
BUILD_DIR ?= build
FUZZ_SECONDS ?= 60

.PHONY: all setup build package test test-unit demo bench fuzz format lint clean

all: build

setup:
	@scripts/setup.sh --no-build

build:
	@scripts/setup.sh --preset $(PRESET)

package: build
	@cd $(BUILD_DIR) && cpack --config CPackConfig.cmake

test:
	@scripts/test.sh

test-unit: build
	@ctest --test-dir $(BUILD_DIR) -L unit --output-on-failure -j2

demo:
	@scripts/demo.sh

bench: build
	@$(BUILD_DIR)/bin/common_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	@scripts/format.sh

lint: build
	@scripts/lint.sh $(BUILD_DIR)

clean:
	rm -rf build build-asan build-release
