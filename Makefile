# Convenience entry points; the build itself is CMake (see README.md).
#   make demo   install deps, build, run the main job
#   make test   install deps, build, run every test (normal and ASan+UBSan builds) and the
#               interface checks (faces use public headers only; libzeus exports only its API)
BUILD ?= build
BUILD_ASAN ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build demo test test-fast test-install test-asan check-faces check-abi validate-bundle format format-check clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DZEUS_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/zeus demo

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

test: format-check check-faces test-fast check-abi test-install test-asan

# A self-contained build for a GPU machine that has no compiler or libcjson (see docs/validation/).
validate-bundle: deps
	cmake -S . -B build-validate -DCMAKE_BUILD_TYPE=Release -DZEUS_BUILD_TESTS=OFF
	cmake --build build-validate -j $(JOBS)
	mkdir -p build-validate/lib
	cp -L $$(pkg-config --variable=libdir libcjson)/libcjson.so.1 build-validate/lib/
	cp build-validate/bench/bench_* build-validate/bench/validate_* build-validate/

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Fails if any C file is not formatted as .clang-format says (run `make format` to fix).
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-validate
