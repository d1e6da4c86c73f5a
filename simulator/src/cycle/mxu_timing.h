// How the matrix unit's dataflow times a MATMUL (docs/timing.md rules 4 and 5, and "Output-stationary
// dataflow"): one small interface, one implementation per isa::Dataflow (mxu_timing_ws.cc,
// mxu_timing_os.cc), chosen from ArchConfig::dataflow by MakeMxuTiming. A dataflow changes timing
// only: every engine computes the same bits whatever the dataflow. Immutable once made; any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"

namespace tpusim::simulator::cycle {

// Every duration is in cycles of clock_mhz, saturating at UINT64_MAX.
class MxuTiming {
 public:
  virtual ~MxuTiming() = default;
  virtual isa::Dataflow dataflow() const = 0;
  // Cycles from the moment the head tile of the weight FIFO may move on (the previous tile was
  // popped) until a pop_weights MATMUL may take it: WS, R (the shift into the shadow weights); OS, 0
  // (the weights stream from the FIFO into the array's top edge on every pass).
  virtual uint64_t WeightShiftCycles() const = 0;
  // Where a pop_weights MATMUL waits for its tile to arrive, for deadlock reports.
  virtual const char* WeightSource() const = 0;
  // From the start of a MATMUL of `rows` rows until it releases the compute queue (rule 2): the next
  // MATMUL may start feeding the array then.
  virtual uint64_t ReleaseCycles(uint64_t rows) const = 0;
  // From the start of a MATMUL of `rows` rows until its completion: every result is in the
  // accumulators. Never less than ReleaseCycles(rows).
  virtual uint64_t MatmulCycles(uint64_t rows) const = 0;
};

// array_rows x array_cols (each at least 1).
std::unique_ptr<const MxuTiming> MakeWeightStationaryTiming(uint64_t rows, uint64_t cols);
std::unique_ptr<const MxuTiming> MakeOutputStationaryTiming(uint64_t rows, uint64_t cols);

// The timing of arch.dataflow(); InvalidArgument naming the field for any other value (an
// unvalidated ArchConfig).
absl::StatusOr<std::unique_ptr<const MxuTiming>> MakeMxuTiming(const isa::ArchConfig& arch);

}  // namespace tpusim::simulator::cycle
