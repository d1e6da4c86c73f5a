// TimingParams: exact integer forms of the timing model's numbers (docs/timing.md).
#include "timing_params.h"

#include <algorithm>

#include "tpusim/isa/arch_config.h"

namespace tpusim::simulator::cycle {

uint64_t TimingParams::VectorCycles(uint64_t n) const {
  const unsigned __int128 elements = static_cast<unsigned __int128>(n) * lanes;
  return Saturate((elements + vector_lanes - 1) / vector_lanes);
}

uint64_t Saturate(unsigned __int128 v) {
  return v > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(v);
}

TimingParams MakeTimingParams(const isa::ArchConfig& arch) {
  TimingParams p;
  p.rows = std::max<uint64_t>(arch.array_rows(), 1);
  p.cols = std::max<uint64_t>(arch.array_cols(), 1);
  p.lanes = std::max<uint64_t>(isa::UbLanes(arch), 1);
  p.vector_lanes = std::max<uint64_t>(arch.vector_lanes(), 1);
  p.fifo_depth = std::max<uint64_t>(arch.weight_fifo_depth(), 1);
  p.queue_depth = std::max<uint64_t>(arch.instruction_queue_depth(), 1);
  p.dram = DramTiming::FromArch(arch);
  return p;
}

}  // namespace tpusim::simulator::cycle
