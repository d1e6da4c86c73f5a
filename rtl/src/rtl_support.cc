// What the RTL core implements (rtl_engine.h): CheckRtlSupport, CheckRtlArch, CoreModelNames.
// Keep in step with rtl/sv/core (tpu_ctrl, tpu_vector, vpu_lane) and with README "The rtl engine".
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core_models.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::rtl {
namespace {

// The vector-unit operations vpu_lane implements in float mode; int8 mode has copy and relu only (as
// in every engine). The rest (exp, div, log, sqrt, reciprocal, erf, sigmoid, tanh) have no SV yet.
bool VectorOpImplemented(isa::VectorOp op) {
  switch (op) {
    case isa::VectorOp::Copy:
    case isa::VectorOp::Relu:
    case isa::VectorOp::RoundBf16:
    case isa::VectorOp::Add:
    case isa::VectorOp::Sub:
    case isa::VectorOp::Mul:
    case isa::VectorOp::Max:
    case isa::VectorOp::Min:
    case isa::VectorOp::AddImm:
    case isa::VectorOp::MulImm:
    case isa::VectorOp::Fill:
    case isa::VectorOp::ReduceSum:
    case isa::VectorOp::ReduceMax:
    case isa::VectorOp::Abs:
    case isa::VectorOp::MaxImm:
    case isa::VectorOp::MinImm:
    case isa::VectorOp::LeakyRelu:
    case isa::VectorOp::CvtI2f:
    case isa::VectorOp::CvtF2i:
      return true;
    default:
      return false;
  }
}

absl::Status Refuse(size_t i, std::string_view what, std::string_view why) {
  return absl::UnimplementedError(
      absl::StrCat("instruction ", i, " (", std::string(what), "): ", std::string(why), " (the rtl engine refuses the program "
                   "before it runs; the functional and cycle engines run it)"));
}

// A destination range [dst, dst + rows) that starts inside (src, src + n): the core writes row r
// while later rows of the source are still to be read.
bool ShiftedOverlap(uint64_t dst, uint64_t src, uint64_t n) { return dst > src && dst < src + n; }

absl::Status CheckVector(size_t i, const isa::VectorArgs& a) {
  const std::optional<isa::VectorOp> op = isa::VectorOpFromCode(a.op);
  if (!op) return absl::OkStatus();  // the functional pre-run names the bad code
  const std::string what = absl::StrCat("VECTOR ", std::string(isa::VectorOpName(*op)));
  if (!VectorOpImplemented(*op)) return Refuse(i, what, "not implemented by the RTL core");
  if (a.rows == 0) return Refuse(i, what, "0-row instructions are not implemented by the RTL core");
  const isa::VectorArity arity = isa::VectorOpArity(*op);
  if (arity == isa::VectorArity::Reduce) return absl::OkStatus();
  if (ShiftedOverlap(a.dst_row, a.a_row, a.rows) ||
      (arity == isa::VectorArity::Binary && !a.b_bcast && ShiftedOverlap(a.dst_row, a.b_row, a.rows))) {
    return Refuse(i, what,
                  "a destination that overlaps a source shifted forwards is not implemented by the "
                  "RTL core (it writes each row as it reads it)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRtlSupport(const std::vector<isa::Instruction>& code, isa::MatmulType mode) {
  (void)mode;  // int8-mode restrictions are the functional engine's, checked by its pre-run
  for (size_t i = 0; i < code.size(); ++i) {
    const isa::Instruction& inst = code[i];
    if (inst.opcode == isa::Opcode::HALT) break;  // nothing after HALT runs
    if (const auto* a = std::get_if<isa::MatmulArgs>(&inst.args); a && a->rows == 0) {
      return Refuse(i, "MATMUL", "0-row instructions are not implemented by the RTL core");
    }
    // The core has one matrix unit (CoreConfigDifference checks the arch's mxu_count).
    if (const auto* a = std::get_if<isa::MatmulArgs>(&inst.args); a && a->mxu != 0) {
      return Refuse(i, "MATMUL", absl::StrCat("mxu ", a->mxu, ": the RTL core has one matrix unit "
                                              "(mxu 0)"));
    }
    if (const auto* a = std::get_if<isa::WeightsArgs>(&inst.args); a && a->mxu != 0) {
      return Refuse(i, "LOAD_WEIGHTS", absl::StrCat("mxu ", a->mxu, ": the RTL core has one "
                                                    "matrix unit (mxu 0)"));
    }
    if (const auto* a = std::get_if<isa::ActivateArgs>(&inst.args)) {
      const std::optional<isa::ActFunc> f = isa::ActFuncFromCode(a->func);
      if (!f) continue;  // the functional pre-run names the bad code
      const std::string what = absl::StrCat("ACTIVATE ", std::string(isa::ActFuncName(*f)));
      if (*f != isa::ActFunc::None && *f != isa::ActFunc::Relu && *f != isa::ActFunc::Requantize) {
        return Refuse(i, what, "not implemented by the RTL core");
      }
      if (a->rows == 0) {
        return Refuse(i, what, "0-row instructions are not implemented by the RTL core");
      }
    }
    if (const auto* a = std::get_if<isa::VectorArgs>(&inst.args)) {
      if (absl::Status s = CheckVector(i, *a); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> CoreModelNames() {
  std::vector<std::string> names;
  for (const CoreModelInfo& m : CoreModels()) names.push_back(m.name);
  return names;
}

absl::Status CheckRtlArch(const isa::ArchConfig& arch) {
  const std::vector<CoreModelInfo>& models = CoreModels();
  if (models.empty()) {
    return absl::FailedPreconditionError(
        "this build has no RTL core models (Verilator 5 was not found at configure time; install "
        "the Debian package verilator and configure again)");
  }
  std::vector<std::string> mismatches;
  for (const CoreModelInfo& m : models) {
    const std::string diff = CoreConfigDifference(m.arch, arch);
    if (diff.empty()) return absl::OkStatus();
    mismatches.push_back(absl::StrCat(m.name, ": ", diff));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no RTL core model for the ArchConfig '", arch.name(), "' (the core is Verilated per array "
      "size, UB, accumulators, weight FIFO, vector lanes and queue depth; models in this build: ",
      absl::StrJoin(mismatches, "; "), ")"));
}

}  // namespace tpusim::rtl
