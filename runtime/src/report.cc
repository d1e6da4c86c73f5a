#include "tpusim/runtime/report.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "json_writer.h"
#include "tpusim/isa/isa.h"
#include "tpusim/runtime/metrics.h"

namespace tpusim::runtime {
namespace {

// Name of the op at index i of the per-op counters (the RunReport's merged names; index if missing).
std::string OpName(const RunReport& report, size_t i) {
  return i < report.tpu_op_names.size() ? report.tpu_op_names[i] : absl::StrCat("op#", i);
}

// "1.23 MB" style, decimal units.
std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000.0 && u < 4) { v /= 1000.0; ++u; }
  return u == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.2f %s", v, units[u]);
}

// "12.6 us" style: seconds with an SI prefix and 4 significant digits.
std::string HumanSeconds(double s) {
  if (s >= 1) return absl::StrFormat("%.4g s", s);
  if (s >= 1e-3) return absl::StrFormat("%.4g ms", s * 1e3);
  if (s >= 1e-6) return absl::StrFormat("%.4g us", s * 1e6);
  return absl::StrFormat("%.4g ns", s * 1e9);
}

// "204 k" style: a rate with a decimal SI prefix and 3 significant digits (plain below 10,000).
std::string HumanCount(double v) {
  if (v < 1e4) return absl::StrFormat("%.0f", v);
  const char* units[] = {"k", "M", "G", "T"};
  int u = 0;
  v /= 1e3;
  while (v >= 1e3 && u < 3) { v /= 1e3; ++u; }
  return absl::StrFormat("%.3g %s", v, units[u]);
}

uint64_t At(const std::vector<uint64_t>& v, size_t i) { return i < v.size() ? v[i] : 0; }

// Metrics of the report's TPU work (untimed when the arch is unknown).
RunMetrics MetricsOf(const RunReport& report, const ReportInfo& info) {
  RunMetrics m = ComputeRunMetrics(report.tpu, info.arch_config);
  if (info.arch_config.clock_mhz() <= 0) m.timed = false;
  return m;
}

void TimedDouble(detail::JsonWriter& w, bool timed, double v) {
  if (timed) {
    w.Double(v);
  } else {
    w.Null();
  }
}

void WriteTiming(detail::JsonWriter& w, const RunReport& report, const RunMetrics& m) {
  const simulator::RunStats& s = report.tpu;
  w.Key("cycles");
  if (s.cycles != 0) {
    w.Uint(s.cycles);
  } else {
    w.Null();  // the functional engine has no timing
  }
  w.Key("simulated_seconds"); TimedDouble(w, m.timed, m.simulated_seconds);
  w.Key("tpu_wall_seconds"); w.Double(report.tpu_seconds);
  w.Key("simulated_cycles_per_second");
  TimedDouble(w, m.timed && report.tpu_seconds > 0, s.cycles / std::max(report.tpu_seconds, 1e-12));
  w.Key("cycle_buckets");
  if (m.timed) {
    const std::array<uint64_t, 7> buckets = BucketValues(s.buckets);
    w.BeginObject();
    for (size_t i = 0; i < buckets.size(); ++i) {
      w.Key(kBucketNames[i]);
      w.BeginObject();
      w.Key("cycles"); w.Uint(buckets[i]);
      w.Key("percent"); w.Double(100.0 * m.bucket_fractions[i]);
      w.EndObject();
    }
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("utilization");
  w.BeginObject();
  w.Key("mxu_utilization"); TimedDouble(w, m.timed, m.mxu_utilization);
  w.Key("flops_utilization_roofline"); TimedDouble(w, m.timed, m.flops_utilization);
  w.Key("memory_bandwidth_utilization"); TimedDouble(w, m.timed, m.memory_bandwidth_utilization);
  w.EndObject();
  w.Key("roofline");
  w.BeginObject();
  w.Key("dram_bytes"); w.Uint(m.dram_bytes);
  w.Key("operational_intensity_macs_per_byte"); w.Double(m.operational_intensity);
  w.Key("ridge_macs_per_byte"); w.Double(m.ridge_macs_per_byte);
  w.Key("bound"); w.String(BoundName(m.bound));
  w.Key("roofline_cycles"); w.Double(m.roofline_cycles);
  w.Key("peak_flops"); w.Double(m.peak_flops);
  w.Key("attainable_flops"); w.Double(m.attainable_flops);
  w.Key("achieved_flops"); TimedDouble(w, m.timed, m.achieved_flops);
  w.EndObject();
}

// The timed lines of the text summary.
std::string TimingText(const RunReport& report, const RunMetrics& m, const ReportInfo& info) {
  std::string out;
  const simulator::RunStats& s = report.tpu;
  absl::StrAppend(&out, absl::StrFormat("cycles: %d (%s simulated at %g MHz", s.cycles,
                                        HumanSeconds(m.simulated_seconds), info.arch_config.clock_mhz()));
  if (report.tpu_seconds > 0) {
    absl::StrAppend(&out, absl::StrCat("; ", HumanCount(s.cycles / report.tpu_seconds),
                                       " simulated cycles per wall second"));
  }
  absl::StrAppend(&out, ")\n");
  absl::StrAppend(&out, absl::StrFormat("MXU utilization %.2f%%, FLOPS utilization (roofline) %.2f%%, "
                                        "HBM/DRAM bandwidth utilization %.2f%%\n",
                                        100 * m.mxu_utilization, 100 * m.flops_utilization,
                                        100 * m.memory_bandwidth_utilization));
  absl::StrAppend(&out, absl::StrFormat("roofline: %.4g MACs per DRAM byte vs ridge %.4g -> %s-bound; the "
                                        "roofline allows %.1f cycles\n",
                                        m.operational_intensity, m.ridge_macs_per_byte,
                                        std::string(BoundName(m.bound)), m.roofline_cycles));
  std::vector<std::string> parts;
  for (size_t i = 0; i < kBucketNames.size(); ++i) {
    parts.push_back(absl::StrFormat("%s %.1f%%", std::string(kBucketNames[i]), 100 * m.bucket_fractions[i]));
  }
  absl::StrAppend(&out, "cycle buckets: ", absl::StrJoin(parts, ", "), "\n");
  return out;
}

}  // namespace

std::string ReportToJson(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info) {
  const simulator::RunStats& s = report.tpu;
  const RunMetrics m = MetricsOf(report, info);
  detail::JsonWriter w;
  w.BeginObject();
  w.Key("model"); w.String(info.model);
  w.Key("engine"); w.String(info.engine);
  w.Key("arch"); w.String(info.arch);
  w.Key("device"); w.String(info.device);
  w.Key("precision"); w.String(info.precision);
  w.Key("wall_seconds"); w.Double(report.wall_seconds);
  w.Key("compile_seconds"); w.Double(report.compile_seconds);
  w.Key("programs_compiled"); w.Int(report.programs_compiled);
  w.Key("program_cache_hits"); w.Int(report.program_cache_hits);
  w.Key("tpu_launches"); w.Int(report.tpu_launches);
  w.Key("cpu_kernels"); w.Int(report.cpu_kernels);

  w.Key("instructions");
  w.BeginObject();
  w.Key("total"); w.Uint(s.instructions);
  w.Key("by_opcode");
  w.BeginObject();
  for (isa::Opcode op : isa::AllOpcodes()) {
    w.Key(std::string(isa::Mnemonic(op)));
    w.Uint(s.count(op));
  }
  w.EndObject();
  w.EndObject();

  w.Key("macs"); w.Uint(s.macs);
  w.Key("useful_macs"); w.Uint(s.useful_macs);
  w.Key("vector_elements"); w.Uint(s.vector_elements);
  w.Key("bytes_moved");
  w.BeginObject();
  w.Key("dram_to_ub"); w.Uint(s.dram_to_ub_bytes);
  w.Key("ub_to_dram"); w.Uint(s.ub_to_dram_bytes);
  w.Key("dram_to_weights"); w.Uint(s.dram_to_weights_bytes);
  w.Key("ub_to_array"); w.Uint(s.ub_to_array_bytes);
  w.Key("accumulators"); w.Uint(s.accumulator_bytes);
  w.EndObject();
  WriteTiming(w, report, m);

  w.Key("ops");
  w.BeginArray();
  for (size_t i = 0; i < s.op_instructions.size(); ++i) {
    w.BeginObject();
    w.Key("op"); w.String(OpName(report, i));
    w.Key("instructions"); w.Uint(s.op_instructions[i]);
    w.Key("macs"); w.Uint(At(s.op_macs, i));
    w.Key("useful_macs"); w.Uint(At(report.tpu_op_useful_macs, i));
    w.Key("dram_bytes"); w.Uint(At(report.tpu_op_dram_bytes, i));
    w.Key("cycles");
    if (s.cycles != 0) {
      w.Uint(At(s.op_cycles, i));
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();

  w.Key("placements");
  w.BeginArray();
  for (const Placement& p : placements) {
    w.BeginObject();
    w.Key("node"); w.String(p.node);
    w.Key("op_type"); w.String(p.op_type);
    w.Key("device"); w.String(p.device);
    w.Key("reason"); w.String(p.reason);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str();
}

std::string ReportToText(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info) {
  const simulator::RunStats& s = report.tpu;
  const RunMetrics m = MetricsOf(report, info);
  std::string out;
  absl::StrAppend(&out, "device: ", info.device, "  arch: ", info.arch, "  engine: ", info.engine,
                  "  precision: ", info.precision, "\n");
  int on_tpu = 0;
  std::vector<std::string> on_cpu;
  for (const Placement& p : placements) {
    if (p.device == kTpuDeviceName) {
      ++on_tpu;
    } else {
      on_cpu.push_back(absl::StrCat(p.node, " (", p.op_type, ")"));
    }
  }
  absl::StrAppend(&out, "placement: ", on_tpu, " op(s) on the TPU, ", on_cpu.size(), " on the CPU");
  if (!on_cpu.empty()) absl::StrAppend(&out, ": ", absl::StrJoin(on_cpu, ", "));
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, absl::StrFormat("wall time: %.6f s (compile %.6f s; %d program(s) compiled, "
                                        "%d cache hit(s), %d TPU launch(es), %d CPU kernel(s))\n",
                                        report.wall_seconds, report.compile_seconds,
                                        report.programs_compiled, report.program_cache_hits,
                                        report.tpu_launches, report.cpu_kernels));
  std::vector<std::string> counts;
  for (isa::Opcode op : isa::AllOpcodes()) {
    if (s.count(op) != 0) counts.push_back(absl::StrCat(std::string(isa::Mnemonic(op)), " ", s.count(op)));
  }
  absl::StrAppend(&out, "instructions: ", s.instructions);
  if (!counts.empty()) absl::StrAppend(&out, " (", absl::StrJoin(counts, ", "), ")");
  absl::StrAppend(&out, "\n");
  absl::StrAppend(&out, "MACs: ", s.macs, " (useful ", s.useful_macs, ")  vector elements: ",
                  s.vector_elements, "\n");
  absl::StrAppend(&out, "bytes moved: DRAM->UB ", HumanBytes(s.dram_to_ub_bytes), ", UB->DRAM ",
                  HumanBytes(s.ub_to_dram_bytes), ", DRAM->weights ", HumanBytes(s.dram_to_weights_bytes));
  if (m.timed) {
    absl::StrAppend(&out, ", UB->array ", HumanBytes(s.ub_to_array_bytes), ", accumulators ",
                    HumanBytes(s.accumulator_bytes));
  }
  absl::StrAppend(&out, "\n");
  if (m.timed) absl::StrAppend(&out, TimingText(report, m, info));
  if (!s.op_instructions.empty()) {
    absl::StrAppend(&out, absl::StrFormat("  %-32s %14s %16s", "op", "instructions", "MACs"));
    absl::StrAppend(&out, m.timed ? absl::StrFormat(" %14s\n", "cycles") : "\n");
    for (size_t i = 0; i < s.op_instructions.size(); ++i) {
      absl::StrAppend(&out, absl::StrFormat("  %-32s %14d %16d", OpName(report, i), s.op_instructions[i],
                                            At(s.op_macs, i)));
      absl::StrAppend(&out, m.timed ? absl::StrFormat(" %14d\n", At(s.op_cycles, i)) : "\n");
    }
  }
  return out;
}

std::string TimingSummaryText(const RunReport& report, const ReportInfo& info) {
  const RunMetrics m = MetricsOf(report, info);
  return m.timed ? TimingText(report, m, info) : "";
}

absl::Status WriteTextFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  out << contents;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("error writing '", path, "'"));
  return absl::OkStatus();
}

}  // namespace tpusim::runtime
