// Op placement: the rules of session.h, TensorFlow soft-placement style, and the one error that lists
// every op that can run nowhere.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "session_impl.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime {

std::string FormatPlacementLog(const std::vector<Placement>& placements) {
  std::string log;
  for (const Placement& p : placements) absl::StrAppend(&log, p.node, ": ", p.device, "\n");
  return log;
}

namespace detail {

std::set<std::string> FindCompileTimeInputs(const compiler::Graph& graph) {
  std::set<std::string> found;
  for (const std::string& name : graph.inputs) {
    const compiler::Value* v = graph.FindValue(name);
    if (v == nullptr || v->constant.has_value()) continue;
    bool used = false;
    bool only_as_shape = true;
    for (const compiler::Node& node : graph.nodes) {
      for (size_t i = 0; i < node.inputs.size(); ++i) {
        if (node.inputs[i] != name) continue;
        used = true;
        only_as_shape &= compiler::IsCompileTimeOperand(node, i);
      }
    }
    if (used && only_as_shape) found.insert(name);
  }
  return found;
}

absl::StatusOr<std::vector<Placement>> PlaceNodes(const compiler::Graph& graph, const SessionOptions& options,
                                                  const std::set<std::string>& compile_time_inputs) {
  std::vector<Placement> placements;
  std::vector<std::string> unsupported;  // "Foo (node 'a')"
  std::vector<std::string> reasons;      // "a: why"
  for (const compiler::Node& node : graph.nodes) {
    absl::StatusOr<std::string> requested = CanonicalDeviceSpec(node.requested_device);
    if (!requested.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("node '", node.name, "': ", requested.status().message()));
    }
    const bool has_cpu_kernel = FindCpuKernel(node.op_type) != nullptr;
    Placement p{node.name, node.op_type, kCpuDeviceName, ""};
    std::string failure;  // non-empty: the node can run nowhere
    if (options.device == "cpu") {
      p.reason = "session device is cpu";
      if (!has_cpu_kernel) failure = "no CPU kernel (the session device is cpu)";
    } else {
      absl::Status tpu = compiler::CheckTpuSupport(node, graph, compile_time_inputs);
      const bool int8_mode = compiler::IsInt8ModeOp(node);  // runs in the array's int8 mode
      if (tpu.ok() && int8_mode && !isa::SupportsMatmulType(options.arch, isa::INT8_INT32)) {
        tpu = absl::UnimplementedError(absl::StrCat(node.op_type, " runs in the array's int8 mode; arch ",
                                                    options.arch.name(), " has no INT8_INT32 matrix mode"));
      }
      const std::string tpu_reason = tpu.ok() ? "" : std::string(tpu.message());
      if (*requested == "/device:CPU:0" && has_cpu_kernel) {
        p.reason = "requested";
      } else if (tpu.ok()) {
        p.device = kTpuDeviceName;  // also soft placement of a CPU request without a CPU kernel
      } else if (!has_cpu_kernel) {
        failure = absl::StrCat("not supported on the TPU (", tpu_reason, ") and no CPU kernel");
      } else if (!options.allow_cpu_fallback) {
        failure = absl::StrCat("not supported on the TPU (", tpu_reason, ") and CPU fallback is disabled");
      } else {
        p.reason = tpu_reason.empty() ? absl::StrCat(node.op_type, " is not supported on the TPU") : tpu_reason;
      }
    }
    if (!failure.empty()) {
      unsupported.push_back(absl::StrCat(node.op_type, " (node '", node.name, "')"));
      reasons.push_back(absl::StrCat(node.name, ": ", failure));
    }
    placements.push_back(std::move(p));
  }
  if (!unsupported.empty()) {
    return absl::UnimplementedError(absl::StrCat("unsupported ops: ", absl::StrJoin(unsupported, ", "), "; ",
                                                 absl::StrJoin(reasons, "; ")));
  }
  return placements;
}

}  // namespace detail
}  // namespace tpusim::runtime
