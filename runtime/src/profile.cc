#include "tpusim/runtime/profile.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tpusim::runtime {
namespace {

constexpr char kProgramOp[] = "<program>";  // codegen's op for graph-output copies and HALT

uint64_t At(const std::vector<uint64_t>& v, size_t i) { return i < v.size() ? v[i] : 0; }

void FillCosts(LayerProfile& row, const isa::ArchConfig& arch) {
  row.bound = Classify(row.macs, row.dram_bytes, arch);
  row.roofline_cycles = RooflineCycles(row.macs, row.dram_bytes, arch);
  if (row.timed) row.mxu_utilization = MxuUtilization(row.macs, row.cycles, arch);
}

// Fills the TPU counters of `row` from the report's op slot of `name`; false if the op never ran there.
bool FillTpu(LayerProfile& row, const std::string& name, const RunReport& report, const isa::ArchConfig& arch) {
  const auto& names = report.tpu_op_names;
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) return false;
  const size_t i = it - names.begin();
  row.macs = At(report.tpu_op_useful_macs, i);
  row.dram_bytes = At(report.tpu_op_dram_bytes, i);
  row.timed = report.tpu.cycles > 0;
  row.cycles = At(report.tpu.op_cycles, i);
  FillCosts(row, arch);
  return true;
}

// "37.50%"; "<0.01%" for a positive fraction that would print as zero.
std::string Percent(double fraction) {
  return fraction > 0 && fraction < 1e-4 ? "<0.01%" : absl::StrFormat("%.2f%%", 100 * fraction);
}

// Cycles the roofline allows: one decimal below 100, whole cycles above.
std::string RooflineText(double cycles) {
  return cycles < 100 ? absl::StrFormat("%.1f", cycles) : absl::StrFormat("%.0f", cycles);
}

std::string Csv(const std::string& cell) {
  if (cell.find_first_of(",\"\r\n") == std::string::npos) return cell;
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Profile BuildProfile(const RunReport& report, const compiler::Graph& graph,
                     const std::vector<Placement>& placements, const isa::ArchConfig& arch) {
  Profile profile;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const compiler::Node& node = graph.nodes[n];
    LayerProfile row;
    row.op = node.name;
    row.op_type = node.op_type;
    row.on_tpu = n < placements.size() && placements[n].device == kTpuDeviceName;
    row.device = row.on_tpu ? "TPU" : "CPU";
    if (!node.outputs.empty()) {
      const compiler::Value* v = graph.FindValue(node.outputs[0]);
      if (v != nullptr && v->shape.has_value()) row.shape = compiler::ShapeToString(*v->shape);
    }
    if (row.on_tpu) FillTpu(row, node.name, report, arch);
    profile.layers.push_back(std::move(row));
  }
  LayerProfile program;
  program.op = kProgramOp;
  program.device = "TPU";
  program.on_tpu = true;
  if (FillTpu(program, kProgramOp, report, arch) && (program.cycles > 0 || program.dram_bytes > 0)) {
    profile.layers.push_back(std::move(program));
  }
  LayerProfile& total = profile.total;
  total.op = "total";
  total.macs = report.tpu.useful_macs;
  total.dram_bytes = DramBytes(report.tpu);
  total.timed = report.tpu.cycles > 0;
  total.cycles = report.tpu.cycles;
  FillCosts(total, arch);
  return profile;
}

std::string ProfileToText(const Profile& profile) {
  const char* kRow = "%-28s %-10s %-4s %-16s %14s %14s %12s %8s %-8s %14s\n";
  std::string out = absl::StrFormat(kRow, "op", "type", "dev", "output shape", "MACs", "DRAM bytes", "cycles",
                                    "MXU util", "bound", "roofline bound");
  auto line = [&](const LayerProfile& r) {
    const bool tpu_counts = r.on_tpu || r.op == "total";
    const std::string macs = tpu_counts ? absl::StrCat(r.macs) : "-";
    const std::string bytes = tpu_counts ? absl::StrCat(r.dram_bytes) : "-";
    const std::string cycles = tpu_counts && r.timed ? absl::StrCat(r.cycles) : "-";
    const std::string util =
        tpu_counts && r.timed && r.cycles > 0 ? Percent(r.mxu_utilization) : "-";
    const std::string bound = tpu_counts ? std::string(BoundName(r.bound)) : "-";
    const std::string roof = tpu_counts ? RooflineText(r.roofline_cycles) : "-";
    absl::StrAppend(&out, absl::StrFormat(kRow, r.op, r.op_type, r.device, r.shape, macs, bytes, cycles, util,
                                          bound, roof));
  };
  for (const LayerProfile& r : profile.layers) line(r);
  line(profile.total);
  return out;
}

std::string ProfileToCsv(const Profile& profile) {
  std::string out =
      "op,op_type,device,output_shape,macs,dram_bytes,cycles,mxu_utilization,bound,roofline_bound_cycles\n";
  auto line = [&](const LayerProfile& r) {
    const bool tpu_counts = r.on_tpu || r.op == "total";
    std::vector<std::string> cells = {Csv(r.op), Csv(r.op_type), r.device, Csv(r.shape)};
    cells.push_back(tpu_counts ? absl::StrCat(r.macs) : "");
    cells.push_back(tpu_counts ? absl::StrCat(r.dram_bytes) : "");
    cells.push_back(tpu_counts && r.timed ? absl::StrCat(r.cycles) : "");
    cells.push_back(tpu_counts && r.timed && r.cycles > 0 ? absl::StrFormat("%.6f", r.mxu_utilization) : "");
    cells.push_back(tpu_counts ? std::string(BoundName(r.bound)) : "");
    cells.push_back(tpu_counts ? absl::StrFormat("%.1f", r.roofline_cycles) : "");
    absl::StrAppend(&out, absl::StrJoin(cells, ","), "\n");
  };
  for (const LayerProfile& r : profile.layers) line(r);
  line(profile.total);
  return out;
}

}  // namespace tpusim::runtime
