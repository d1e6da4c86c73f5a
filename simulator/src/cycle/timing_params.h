// The numbers of the timing model (docs/timing.md), derived once per launch from the ArchConfig.
// Every duration is in cycles of clock_mhz.
#pragma once

#include <cstdint>

#include "isa/proto/arch_config.pb.h"
#include "tpusim/simulator/dram_timing.h"

namespace tpusim::simulator::cycle {

struct TimingParams {
  uint64_t rows = 1;           // R: array_rows
  uint64_t cols = 1;           // C: array_cols
  uint64_t lanes = 1;          // Lw: UB lanes = max(R, C)
  uint64_t vector_lanes = 1;   // V
  uint64_t fifo_depth = 1;     // F: weight_fifo_depth
  uint64_t queue_depth = 1;    // Q: instruction_queue_depth
  DramTiming dram;             // rule 3: BW, Lat, the UB port's banks; the channel's hold X'(S, rows)

  // ceil(rows x Lw / V): ACTIVATE and VECTOR.
  uint64_t VectorCycles(uint64_t rows) const;
};

TimingParams MakeTimingParams(const isa::ArchConfig& arch);

// v, or UINT64_MAX where it does not fit.
uint64_t Saturate(unsigned __int128 v);

// The longest instruction the engine simulates, in cycles (18 minutes at 1 GHz; the largest
// encodable DMA moves 2^34 bytes). SystemC time
// only grows, across launches too; an instruction longer than this (only a malformed one, with
// fields beyond their encoded widths, or an absurd arch) is an error rather than a jump towards the
// end of time.
inline constexpr uint64_t kMaxInstructionCycles = uint64_t{1} << 40;

}  // namespace tpusim::simulator::cycle
