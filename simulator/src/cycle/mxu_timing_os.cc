// The output-stationary array (docs/timing.md, "Output-stationary dataflow"). Each PE (i, j) keeps
// one output stationary: array row i holds input row i of the current pass, column j output column
// j. Inputs stream in from the left, the weight tile from the weight FIFO in at the top edge on
// every pass (no shift, no shadow weights), both skewed one cycle per PE. A MATMUL of B rows runs
// P = ceil(B / R) passes of R'_p = min(R, B - p R) rows; with the reduction depth K = R (every
// MATMUL reduces over the tile's R rows):
//   a pass computes for K + R'_p + C - 2 cycles (PE (i, j) does its k-th MAC at k + i + j);
//   its outputs then drain down the columns into the accumulators, one accumulator row of C words
//   per cycle: R'_p cycles, overlapped with the next pass (each PE double-buffers its output, as a
//   WS PE double-buffers its weight), so only the last pass's drain shows.
// So the compute queue is released after E(B) = sum_p (K + R'_p + C - 2) = P (R + C - 2) + B
// cycles and the MATMUL completes R'_{P-1} cycles later. B = 0: no pass, 0 cycles.
#include "mxu_timing.h"
#include "timing_params.h"

namespace tpusim::simulator::cycle {
namespace {

class OutputStationaryTiming final : public MxuTiming {
 public:
  OutputStationaryTiming(uint64_t rows, uint64_t cols) : rows_(rows), cols_(cols) {}
  isa::Dataflow dataflow() const override { return isa::OUTPUT_STATIONARY; }
  uint64_t WeightShiftCycles() const override { return 0; }
  const char* WeightSource() const override { return "the weight FIFO"; }
  uint64_t ReleaseCycles(uint64_t b) const override {
    const unsigned __int128 passes = (static_cast<unsigned __int128>(b) + rows_ - 1) / rows_;
    return Saturate(passes * (rows_ + cols_ - 2) + b);
  }
  uint64_t MatmulCycles(uint64_t b) const override {
    if (b == 0) return 0;
    const uint64_t last_pass_rows = b - (b - 1) / rows_ * rows_;
    return Saturate(static_cast<unsigned __int128>(ReleaseCycles(b)) + last_pass_rows);
  }

 private:
  const uint64_t rows_, cols_;  // R (= K), C
};

}  // namespace

std::unique_ptr<const MxuTiming> MakeOutputStationaryTiming(uint64_t rows, uint64_t cols) {
  return std::make_unique<OutputStationaryTiming>(rows, cols);
}

}  // namespace tpusim::simulator::cycle
