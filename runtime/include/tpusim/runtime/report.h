// Run reports: what a Session::Run did, as JSON (the `tpusim run --report` format) and as a short
// human-readable summary.
//
// JSON keys (stable; later tools read them; keys are only ever added): model, engine, arch, device,
// precision, wall_seconds, compile_seconds, programs_compiled, program_cache_hits, tpu_launches,
// cpu_kernels, instructions {total, by_opcode {MNEMONIC: n} for every opcode}, macs, useful_macs,
// vector_elements, bytes_moved {dram_to_ub, ub_to_dram, dram_to_weights, ub_to_array, accumulators},
// cycles, simulated_seconds, tpu_wall_seconds, simulated_cycles_per_second,
// cycle_buckets {active, weight_load_stall, weight_shift, input_stall, non_matrix, sync_wait, idle:
// {cycles, percent}}, utilization {mxu_utilization, flops_utilization_roofline,
// memory_bandwidth_utilization} (fractions in [0, 1]), roofline {dram_bytes,
// operational_intensity_macs_per_byte, ridge_macs_per_byte, bound ("compute"/"memory"/"-"),
// roofline_cycles, peak_flops, attainable_flops, achieved_flops}, ops [{op, instructions, macs,
// useful_macs, dram_bytes, cycles}], placements [{node, op_type, device, reason}].
// Every value that needs timing (cycles and what derives from them) is null when the engine has no
// timing (the functional engine). The formulas are in metrics.h.
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
  isa::ArchConfig arch_config;  // the arch the run used (metrics); empty: no timing metrics
};

// The JSON document (one object, 2-space indented, '\n'-terminated).
std::string ReportToJson(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info);

// A few lines for a terminal: device, placement counts, wall time, instructions by opcode (non-zero
// ones), MACs, bytes moved, and on timed engines the cycles, utilizations, roofline and cycle buckets;
// then the per-op table.
std::string ReportToText(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info);

// The timing lines of ReportToText alone (cycles and simulated time, utilizations, roofline, cycle
// buckets); "" when the run has no timing.
std::string TimingSummaryText(const RunReport& report, const ReportInfo& info);

// Writes `contents` to `path` (creating or truncating it); Internal naming the path on failure.
absl::Status WriteTextFile(const std::string& path, const std::string& contents);

}  // namespace tpusim::runtime
