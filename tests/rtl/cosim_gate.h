// The comparisons of the cosimulation gate (cosim_test.cc), by engine name so that the tests of the
// reports can run them against deliberately wrong engines.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cosim_corpus.h"

namespace tpusim::rtl::cosim {

// Runs `code` (the case's code or a prefix) on engines `a` and `b`, each from a fresh device, and
// returns the first difference of the two devices (DRAM over the frame, UB, accumulators;
// cosim_report.h), nullopt if none. A failed run is an error naming the engine.
absl::StatusOr<std::optional<std::string>> CompareBytes(const CosimCase& c, std::string_view a,
                                                        std::string_view b,
                                                        const std::vector<isa::Instruction>& code);

// The failure message for devices that differ after the whole program (`full_diff`): the first
// diverging instruction by prefix search (FirstDivergingPrefix) and the differing bytes.
std::string ByteMismatchReport(const CosimCase& c, std::string_view a, std::string_view b,
                               const std::string& full_diff);

// The failure message for cycle counts that differ: both counts and the first instruction whose
// trace slices differ (both engines rerun with Launch::collect_trace).
std::string CycleMismatchReport(const CosimCase& c, std::string_view a, uint64_t a_cycles,
                                std::string_view b, uint64_t b_cycles);

// Why the `rtl` engine cannot run programs for `arch` in this build (no core models at all, or
// none for this arch), or nullopt if it can. Registers the engine first.
std::optional<std::string> RtlUnavailable(const isa::ArchConfig& arch);

}  // namespace tpusim::rtl::cosim
