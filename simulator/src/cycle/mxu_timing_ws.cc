// The weight-stationary array (docs/timing.md rules 4 and 5): a tile shifts into the shadow weights
// over R cycles and swaps into the PEs for free at a pop; input rows enter one per cycle and the
// array is pipelined, so a MATMUL of B rows releases the compute queue after B cycles and its last
// result reaches the accumulators B + R + C - 2 cycles after its start (the skewed wavefront).
#include "mxu_timing.h"
#include "timing_params.h"

namespace tpusim::simulator::cycle {
namespace {

class WeightStationaryTiming final : public MxuTiming {
 public:
  WeightStationaryTiming(uint64_t rows, uint64_t cols) : rows_(rows), cols_(cols) {}
  isa::Dataflow dataflow() const override { return isa::WEIGHT_STATIONARY; }
  uint64_t WeightShiftCycles() const override { return rows_; }
  const char* WeightSource() const override { return "the shadow weights"; }
  uint64_t ReleaseCycles(uint64_t b) const override { return b; }
  uint64_t MatmulCycles(uint64_t b) const override {
    return Saturate(static_cast<unsigned __int128>(b) + rows_ + cols_ - 2);
  }

 private:
  const uint64_t rows_, cols_;  // R, C
};

}  // namespace

std::unique_ptr<const MxuTiming> MakeWeightStationaryTiming(uint64_t rows, uint64_t cols) {
  return std::make_unique<WeightStationaryTiming>(rows, cols);
}

}  // namespace tpusim::simulator::cycle
