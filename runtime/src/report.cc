#include "tpusim/runtime/report.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "json_writer.h"
#include "tpusim/isa/isa.h"

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

}  // namespace

std::string ReportToJson(const RunReport& report, const std::vector<Placement>& placements,
                         const ReportInfo& info) {
  const simulator::RunStats& s = report.tpu;
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
  w.EndObject();
  w.Key("cycles");
  if (s.cycles == 0) {
    w.Null();  // the functional engine has no timing
  } else {
    w.Uint(s.cycles);
  }

  w.Key("ops");
  w.BeginArray();
  for (size_t i = 0; i < s.op_instructions.size(); ++i) {
    w.BeginObject();
    w.Key("op"); w.String(OpName(report, i));
    w.Key("instructions"); w.Uint(s.op_instructions[i]);
    w.Key("macs"); w.Uint(i < s.op_macs.size() ? s.op_macs[i] : 0);
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
                  HumanBytes(s.ub_to_dram_bytes), ", DRAM->weights ", HumanBytes(s.dram_to_weights_bytes),
                  "\n");
  if (s.cycles != 0) absl::StrAppend(&out, "cycles: ", s.cycles, "\n");
  if (!s.op_instructions.empty()) {
    absl::StrAppend(&out, absl::StrFormat("  %-32s %14s %16s\n", "op", "instructions", "MACs"));
    for (size_t i = 0; i < s.op_instructions.size(); ++i) {
      absl::StrAppend(&out, absl::StrFormat("  %-32s %14d %16d\n", OpName(report, i), s.op_instructions[i],
                                            i < s.op_macs.size() ? s.op_macs[i] : 0));
    }
  }
  return out;
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
