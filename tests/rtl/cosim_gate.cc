// The comparisons of the cosimulation gate (cosim_gate.h).
#include "cosim_gate.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cosim_report.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::rtl::cosim {
namespace {

absl::StatusOr<std::unique_ptr<simulator::DeviceState>> RunFresh(
    const CosimCase& c, std::string_view engine, const std::vector<isa::Instruction>& code,
    simulator::RunStats* stats = nullptr, bool trace = false) {
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<simulator::DeviceState> state, FreshState(c));
  absl::StatusOr<simulator::RunStats> run = RunOn(c, engine, code, *state, trace);
  if (!run.ok()) {
    return absl::Status(run.status().code(),
                        absl::StrCat(std::string(engine), " (", code.size(), " instructions): ",
                                     run.status().message()));
  }
  if (stats != nullptr) *stats = *std::move(run);
  return state;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> CompareBytes(const CosimCase& c, std::string_view a,
                                                        std::string_view b,
                                                        const std::vector<isa::Instruction>& code) {
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<simulator::DeviceState> sa, RunFresh(c, a, code));
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<simulator::DeviceState> sb, RunFresh(c, b, code));
  return FirstStateDifference(*sa, a, *sb, b, 0, c.frame_bytes);
}

std::string ByteMismatchReport(const CosimCase& c, std::string_view a, std::string_view b,
                               const std::string& full_diff) {
  size_t n = 0;  // instructions before the HALT
  while (n < c.code.size() && c.code[n].opcode != isa::Opcode::HALT) ++n;
  absl::StatusOr<std::optional<PrefixDivergence>> d = FirstDivergingPrefix(
      n, [&](size_t k) { return CompareBytes(c, a, b, Prefix(c.code, k)); });
  if (!d.ok()) {
    return absl::StrCat(full_diff, " (the search for the first diverging instruction failed: ",
                        d.status().ToString(), ")");
  }
  if (!d->has_value()) {
    return absl::StrCat(full_diff, " (no prefix + SYNC + HALT of the program diverges)");
  }
  return FormatPrefixDivergence(c.code, **d);
}

std::string CycleMismatchReport(const CosimCase& c, std::string_view a, uint64_t a_cycles,
                                std::string_view b, uint64_t b_cycles) {
  std::string report = absl::StrCat(std::string(a), " ", a_cycles, " cycles, ", std::string(b), " ",
                                    b_cycles, " cycles; ");
  simulator::RunStats sa, sb;
  absl::StatusOr<std::unique_ptr<simulator::DeviceState>> ra = RunFresh(c, a, c.code, &sa, true);
  absl::StatusOr<std::unique_ptr<simulator::DeviceState>> rb = RunFresh(c, b, c.code, &sb, true);
  if (!ra.ok() || !rb.ok()) {
    return absl::StrCat(report, "rerunning with traces failed: ", ra.status().ToString(), " / ",
                        rb.status().ToString());
  }
  if (std::optional<std::string> d = FirstTraceDifference(sa.trace, a, sb.trace, b, c.code)) {
    return absl::StrCat(report, *d);
  }
  return absl::StrCat(report, "the traces agree slice by slice (",
                      sa.trace.size(), " slices): the difference lies after the last slice ",
                      "(a SIGNAL/WAIT, SYNC or HALT)");
}

std::optional<std::string> RtlUnavailable(const isa::ArchConfig& arch) {
  RegisterRtlEngine();
  const std::vector<std::string> models = CoreModelNames();
  if (models.empty()) {
    return std::string(
        "this build has no RTL core models (Verilator 5 missing at configure time, or the rtl "
        "engine is not built)");
  }
  if (absl::Status s = CheckRtlArch(arch); !s.ok()) {
    return absl::StrCat("no RTL core model for arch '", arch.name(), "' (models: ",
                        absl::StrJoin(models, ", "), "): ", s.message());
  }
  return std::nullopt;
}

}  // namespace tpusim::rtl::cosim
