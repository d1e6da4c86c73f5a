// The per-layer profile of a run (`tpusim profile`): one row per graph op in node order, and a total.
//
// Per TPU op: MACs are the useful MACs of its instructions (every precision pass counted), DRAM bytes
// what its DMAs moved (metrics.h ProgramOpCosts), cycles the simulator's op_cycles (from the op's first
// instruction start to its last completion; ops overlap, so they need not sum to the total), MXU
// utilization = MACs / (cycles x R x C x mxu_count), bound = compute or memory by the op's
// operational intensity against the ridge point, and the roofline bound = the fewest cycles the
// roofline allows, max(MACs / peak MACs per cycle, DRAM bytes / DRAM bytes per cycle). CPU ops have a
// row with their device and output shape only. The total uses the run's cycles and counters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "isa/proto/arch_config.pb.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/runtime/metrics.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {

struct LayerProfile {
  std::string op;            // node name ("total" for the total line; "<program>" for program overhead)
  std::string op_type;       // "MatMul"; "" for the total and "<program>"
  std::string device;        // "TPU" or "CPU"; "" for the total
  std::string shape;         // first output's shape, "[32,10]"; "" if unknown
  bool on_tpu = false;
  uint64_t macs = 0;
  uint64_t dram_bytes = 0;
  bool timed = false;        // cycles known (a timing engine ran it)
  uint64_t cycles = 0;
  double mxu_utilization = 0;
  Bound bound = Bound::kNone;
  double roofline_cycles = 0;
};

struct Profile {
  std::vector<LayerProfile> layers;
  LayerProfile total;
};

Profile BuildProfile(const RunReport& report, const compiler::Graph& graph,
                     const std::vector<Placement>& placements, const isa::ArchConfig& arch);

// A fixed-width table for a terminal: op, type, device, shape, MACs, DRAM bytes, cycles, MXU util (%),
// bound, roofline bound (cycles); then the total line. Untimed cells read "-".
std::string ProfileToText(const Profile& profile);
// The same table as RFC 4180 CSV with a header row (op, op_type, device, output_shape, macs,
// dram_bytes, cycles, mxu_utilization, bound, roofline_bound_cycles); utilization is a fraction,
// untimed cells are empty; the last row is the total.
std::string ProfileToCsv(const Profile& profile);

}  // namespace tpusim::runtime
