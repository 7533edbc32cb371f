# Convenience entry points; the build itself is CMake (see README.md).
#   make demo   install deps, build, run the main job
#   make test   install deps, build, run every test (normal and ASan+UBSan builds, bounded fuzz)
#               and the interface checks (faces use public headers only; libzeus exports only
#               its API)
#   make fuzz   build the libFuzzer harnesses (clang) and run each FUZZ_SECONDS over its corpus
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 8
FUZZERS = csv profile index_list cvd zeusd_request zeusd_reply lease_journal
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Sub-makes (cmake --build) print no "Entering directory" lines: progress only.
MAKEFLAGS += --no-print-directory

.PHONY: all deps build demo wheel test test-fast python-ext test-python test-python-amd bench-python test-install test-asan check-faces check-abi fuzz validate-bundle format format-check clean

all: build

# `make demo` installs and builds only what the demo needs (no test toolchain, no tests);
# everything else installs the whole list and builds the tests. Target-specific variables reach
# the prerequisites (deps, build) when they are made for demo.
DEPS_SET ?= all
BUILD_OPTIONS ?= -DZEUS_BUILD_TESTS=ON -DZEUS_SERVERS=ON -DZEUS_PLOT_PNG=ON -DZEUS_MAN=ON -DZEUS_MPI_EXAMPLE=ON
demo: DEPS_SET = demo
demo: BUILD_OPTIONS = -DZEUS_BUILD_TESTS=OFF -DZEUS_SERVERS=OFF -DZEUS_PLOT_PNG=OFF -DZEUS_MAN=OFF -DZEUS_MPI_EXAMPLE=OFF

deps:
	@./scripts/install-deps.sh $(DEPS_SET)

build: deps
	cmake -S . -B $(BUILD) -DZEUS_WERROR=ON $(BUILD_OPTIONS) --log-level=WARNING
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/zeus demo

# The Python face (tests/python, pytest) in the virtual environment scripts/python-env.sh makes
# (reused while its requirement list is unchanged); the extension is built in $(BUILD). -rs lists
# every skip with its reason; ZEUS_REQUIRE_ALL=1 (CI) turns skips into failures (docs/testing.md).
PYTHON_VENV = $(abspath $(BUILD))/python-venv/bin/python
python-ext: deps
	./scripts/python-env.sh $(BUILD) >/dev/null
	cmake -S . -B $(BUILD) -DZEUS_WERROR=ON -DZEUS_PYTHON=ON -DPython_EXECUTABLE=$(PYTHON_VENV)
	cmake --build $(BUILD) -j $(JOBS)

test-python: python-ext
	ZEUS_BUILD_DIR=$(BUILD) $(PYTHON_VENV) -m pytest -q -rs --basetemp=$(abspath $(BUILD))/pytest-tmp tests/python

# The Python face's vendor matrix: the monitor's and the optimizer's tests again on the fake
# libamd_smi (ZEUS_TEST_VENDOR=amd, tests/python/conftest.py deselects the ones marked
# nvml_only). test_vendors.py is not repeated: its flows run on both vendors in test-python.
PYTHON_AMD_TESTS = tests/python/test_monitor.py tests/python/test_optimizer.py
test-python-amd: python-ext
	ZEUS_TEST_VENDOR=amd ZEUS_BUILD_DIR=$(BUILD) $(PYTHON_VENV) -m pytest -q -rs \
	  --basetemp=$(abspath $(BUILD))/pytest-tmp-amd $(PYTHON_AMD_TESTS)

# A self-contained wheel (build/wheel/zeus-*-manylinux_*.whl): pip install needs no compiler
# and no system library, and puts the zeus command on PATH (scripts/make-wheel.sh).
wheel: deps
	./scripts/python-env.sh $(BUILD) >/dev/null
	./scripts/make-wheel.sh $(PYTHON_VENV) $(BUILD)/wheel

bench-python: test-python
	ZEUS_BUILD_DIR=$(BUILD) $(PYTHON_VENV) bench/python/bench_windows.py

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DZEUS_WERROR=ON -DZEUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS)

test-install: build
	./scripts/test-install.sh $(BUILD)

# No face (src/cli, python, src/zeusd, ...) may include an internal header.
check-faces:
	./scripts/check-faces.sh

# libzeus.so exports only versioned public zeus_ symbols, and every declared one.
check-abi: build
	./scripts/check-abi.sh $(BUILD)/libzeus.so

# New inputs go to $(BUILD_FUZZ)/corpus/<name>; fuzz/corpus/<name> (committed) is only read.
# A crash leaves crash-* in the current directory and fails the target.
fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DZEUS_FUZZ=ON -DZEUS_BUILD_TESTS=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZERS))
	@for f in $(FUZZERS); do \
	  mkdir -p $(BUILD_FUZZ)/corpus/$$f; \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	  ./$(BUILD_FUZZ)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 \
	    -max_len=4096 -print_final_stats=1 $(BUILD_FUZZ)/corpus/$$f fuzz/corpus/$$f 2>$(BUILD_FUZZ)/fuzz_$$f.log \
	    || { tail -n 40 $(BUILD_FUZZ)/fuzz_$$f.log; exit 1; }; \
	  grep -E "stat::number_of_executed_units|stat::new_units_added" $(BUILD_FUZZ)/fuzz_$$f.log; \
	done

test: format-check check-faces test-python test-python-amd test-fast check-abi test-install test-asan fuzz

# A self-contained build for a GPU machine that has no compiler or libcjson (see docs/validation/).
validate-bundle: deps
	cmake -S . -B build-validate -DCMAKE_BUILD_TYPE=Release -DZEUS_BUILD_TESTS=OFF -DZEUS_PLOT_PNG=OFF
	cmake --build build-validate -j $(JOBS)
	mkdir -p build-validate/lib
	cp -L $$(pkg-config --variable=libdir libcjson)/libcjson.so.1 build-validate/lib/
	cp build-validate/bench/bench_* build-validate/bench/validate_* build-validate/

format: deps
	clang-format -i $$(git ls-files '*.c' '*.h')

# Fails if any C file is not formatted as .clang-format says (run `make format` to fix).
format-check: deps
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) build-validate
