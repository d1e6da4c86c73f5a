// Failure reports of the cosimulation gate: where two engines first disagree.
//
//   - Bytes: FirstStateDifference compares two devices (DRAM over a range, UB, accumulators) and
//     names the first differing byte or word with both values; FirstDivergingPrefix finds the
//     shortest program prefix (the first k instructions, then SYNC; HALT) after which the two
//     engines' devices differ, so instruction k - 1 is the first one whose effect diverges.
//     Every prefix of a valid corpus program is valid: each WAIT follows its SIGNAL in program
//     order.
//   - Cycles: FirstTraceDifference compares two Launch::collect_trace traces instruction by
//     instruction (in program order) and names the first instruction whose slices (unit, start,
//     end) differ, with both.
// The functions return std::nullopt when nothing differs; the texts are gtest failure messages.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::rtl::cosim {

// The first difference between `a` (named a_name) and `b`: DRAM bytes in [dram_begin, dram_end),
// then UB words, then accumulator words, e.g.
//   "DRAM byte 0x4012: functional 0x3f, rtl 0x00 (3 bytes differ in [0x0, 0x6000))"
//   "UB row 5 lane 3: functional 0x3f800000, rtl 0x00000000 (1 word differs)".
std::optional<std::string> FirstStateDifference(const simulator::DeviceState& a,
                                                std::string_view a_name,
                                                const simulator::DeviceState& b,
                                                std::string_view b_name, uint64_t dram_begin,
                                                uint64_t dram_end);

// The first instruction (in program order) whose trace slices differ, e.g.
//   "first diverging instruction 12 (MATMUL dtype=bf16 ...): cycle MXU [100, 120), rtl MXU
//    [100, 121)". An instruction without a slice on one side reads "no slice".
std::optional<std::string> FirstTraceDifference(const std::vector<simulator::TraceSlice>& a,
                                                std::string_view a_name,
                                                const std::vector<simulator::TraceSlice>& b,
                                                std::string_view b_name,
                                                const std::vector<isa::Instruction>& code);

// code[0, k) + SYNC + HALT (k excludes a HALT of code).
std::vector<isa::Instruction> Prefix(const std::vector<isa::Instruction>& code, size_t k);

// The smallest k in [1, n] for which `diff(k)` reports a difference, with that report; nullopt if
// none does. `diff(k)` runs both engines on Prefix(code, k) and compares (an error is returned as
// is). Scans k = 1, 2, ... for n <= linear_limit; beyond, bisects between a k known equal and one
// known to differ (the boundary found is the first difference when differences persist, as they do
// unless a later instruction overwrites every differing byte).
struct PrefixDivergence {
  size_t k = 0;
  std::string detail;
};
absl::StatusOr<std::optional<PrefixDivergence>> FirstDivergingPrefix(
    size_t n, const std::function<absl::StatusOr<std::optional<std::string>>(size_t k)>& diff,
    size_t linear_limit = 300);

// The gate's byte-mismatch message: names instruction k - 1 as the first diverging one, e.g.
//   "first diverging instruction 7 (STORE dtype=f32 ...): after the first 8 instructions + SYNC +
//    HALT, DRAM byte 0x4012: functional 0x3f, rtl 0x00 (...)".
std::string FormatPrefixDivergence(const std::vector<isa::Instruction>& code,
                                   const PrefixDivergence& d);

}  // namespace tpusim::rtl::cosim
