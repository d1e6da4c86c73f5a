// MakeMxuTiming: the dataflow named by the ArchConfig (mxu_timing.h).
#include "mxu_timing.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace tpusim::simulator::cycle {

absl::StatusOr<std::unique_ptr<const MxuTiming>> MakeMxuTiming(const isa::ArchConfig& arch) {
  const uint64_t rows = std::max<uint64_t>(arch.array_rows(), 1);
  const uint64_t cols = std::max<uint64_t>(arch.array_cols(), 1);
  switch (arch.dataflow()) {
    case isa::WEIGHT_STATIONARY: return MakeWeightStationaryTiming(rows, cols);
    case isa::OUTPUT_STATIONARY: return MakeOutputStationaryTiming(rows, cols);
    default: break;
  }
  const std::string name = isa::Dataflow_IsValid(arch.dataflow())
                               ? isa::Dataflow_Name(arch.dataflow())
                               : absl::StrCat(static_cast<int>(arch.dataflow()));
  return absl::InvalidArgumentError(
      absl::StrCat("arch '", arch.name(), "': field 'dataflow' = ", name,
                   " has no timing in the cycle engine (expected WEIGHT_STATIONARY or "
                   "OUTPUT_STATIONARY)"));
}

}  // namespace tpusim::simulator::cycle
