// TimingParams: exact integer forms of the timing model's numbers (docs/timing.md).
#include "timing_params.h"

#include <algorithm>
#include <cmath>

#include "tpusim/isa/arch_config.h"

namespace tpusim::simulator::cycle {
namespace {

// x in millionths, rounded; false when it does not fit 63 bits (treated as unbounded by the caller).
bool Micro(double x, unsigned __int128* out) {
  const long double scaled = std::nearbyint(static_cast<long double>(x) * 1e6L);
  if (!std::isfinite(scaled) || scaled >= 9.0e18L || scaled < 0) return false;
  *out = static_cast<unsigned __int128>(static_cast<uint64_t>(scaled));
  return true;
}

}  // namespace

uint64_t TimingParams::TransferCycles(uint64_t bytes) const {
  if (infinite_bandwidth || bytes == 0) return 0;
  const unsigned __int128 num = static_cast<unsigned __int128>(bytes) * bw_den;
  return Saturate((num + bw_num - 1) / bw_num);
}

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
  p.latency = arch.dram_latency_cycles();
  p.fifo_depth = std::max<uint64_t>(arch.weight_fifo_depth(), 1);
  p.queue_depth = std::max<uint64_t>(arch.instruction_queue_depth(), 1);
  // BW = gbps x 1e9 B/s / (clock_mhz x 1e6 /s) = (gbps_micro x 1000) / clock_micro bytes per cycle.
  unsigned __int128 gbps_micro = 0, clock_micro = 0;
  if (!Micro(arch.dram_bandwidth_gbps(), &gbps_micro)) {
    p.infinite_bandwidth = true;
  } else if (!Micro(arch.clock_mhz(), &clock_micro) || clock_micro == 0 || gbps_micro == 0) {
    // A validated ArchConfig never gets here; a zero rate would divide by zero, so treat it as 1.
    p.bw_num = 1;
    p.bw_den = 1;
  } else {
    p.bw_num = gbps_micro * 1000;
    p.bw_den = clock_micro;
  }
  return p;
}

}  // namespace tpusim::simulator::cycle
