// Run reports: what a Session::Run did, as JSON (the `tpusim run --report` format) and as a short
// human-readable summary.
//
// JSON keys (stable; later tools read them): model, engine, arch, device, precision, wall_seconds,
// compile_seconds, programs_compiled, program_cache_hits, tpu_launches, cpu_kernels,
// instructions {total, by_opcode {MNEMONIC: n} for every opcode}, macs, useful_macs, vector_elements,
// bytes_moved {dram_to_ub, ub_to_dram, dram_to_weights}, cycles (null when the engine has no timing),
// ops [{op, instructions, macs}], placements [{node, op_type, device, reason}].
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {

// What the report cannot learn from the RunReport itself.
struct ReportInfo {
  std::string model;      // model path or name
  std::string engine;     // TPU engine name ("functional"); "cpu" when the run used no TPU
  std::string arch;       // ArchConfig name ("tpu-v4")
  std::string device;     // "tpu" or "cpu" (SessionOptions::device)
  std::string precision;  // "bf16", "high", "highest"
};

// The JSON document (one object, 2-space indented, '\n'-terminated).
std::string ReportToJson(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info);

// A few lines for a terminal: device, placement counts, wall time, instructions by opcode (non-zero
// ones), MACs, bytes moved and the per-op table.
std::string ReportToText(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info);

// Writes `contents` to `path` (creating or truncating it); Internal naming the path on failure.
absl::Status WriteTextFile(const std::string& path, const std::string& contents);

}  // namespace tpusim::runtime
