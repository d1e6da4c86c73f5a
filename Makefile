# The two Quick start commands. Both set up (idempotent), configure and build.
#   make demo  - Release build, trains the MNIST MLP on the simulated TPU, compares it with the CPU, prints the report
#   make test  - build and run every test with ctest
BUILD_DIR ?= build
JOBS ?= 2
export CCACHE_BASEDIR := /
export CCACHE_NOHASHDIR := 1

.PHONY: setup configure build demo test bench clean
setup:
	@bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

# The RTL core models are Verilated at configure time from generated SystemVerilog packages: build
# the packages, configure again (now with the core models), then build everything.
build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS) --target tpusim_rtl_packages
	cmake -S . -B $(BUILD_DIR)
	cmake --build $(BUILD_DIR) -j$(JOBS)

demo: build
	$(BUILD_DIR)/examples/mnist_mlp --epochs 4 --batch 128 --lr 0.05 --momentum 0.9 --seed 2024 \
	  --images 256 --report $(BUILD_DIR)/demo_report.json

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

bench: build
	$(BUILD_DIR)/benchmarks/bm_gemm
	$(BUILD_DIR)/benchmarks/bm_cycle
	$(BUILD_DIR)/benchmarks/bm_rtl
	$(BUILD_DIR)/benchmarks/bm_compile
	$(BUILD_DIR)/benchmarks/bm_schedule

clean:
	rm -rf $(BUILD_DIR)
