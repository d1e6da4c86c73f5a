// Session::Create: validation, shape inference, placement, the placement log and the devices.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "session_impl.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/cpu_kernels.h"

namespace tpusim::runtime {

absl::StatusOr<std::unique_ptr<Session>> Session::Create(compiler::Graph graph, SessionOptions options) {
  if (options.device != "tpu" && options.device != "cpu") {
    return absl::InvalidArgumentError(
        absl::StrCat("session device '", options.device, "' is not one of: tpu, cpu"));
  }
  TPUSIM_RETURN_IF_ERROR(graph.Validate());
  TPUSIM_RETURN_IF_ERROR(InferShapesWithCpuKernels(graph));
  // Shape-only subgraphs become constants before placement; shapes downstream of them follow.
  for (int folded = 1; folded > 0;) {
    TPUSIM_ASSIGN_OR_RETURN(folded, compiler::FoldShapeSubgraphs(graph));
    if (folded > 0) TPUSIM_RETURN_IF_ERROR(InferShapesWithCpuKernels(graph));
  }
  std::set<std::string> compile_time_inputs = detail::FindCompileTimeInputs(graph);
  TPUSIM_ASSIGN_OR_RETURN(std::vector<Placement> placements,
                          detail::PlaceNodes(graph, options, compile_time_inputs));
  auto session = std::make_unique<detail::SessionImpl>(std::move(graph), std::move(options), std::move(placements),
                                                       std::move(compile_time_inputs));
  TPUSIM_RETURN_IF_ERROR(session->OpenDevices());
  return std::unique_ptr<Session>(std::move(session));
}

namespace detail {

SessionImpl::SessionImpl(compiler::Graph graph, SessionOptions options, std::vector<Placement> placements,
                         std::set<std::string> compile_time_inputs)
    : graph_(std::move(graph)),
      options_(std::move(options)),
      placements_(std::move(placements)),
      compile_time_inputs_(std::move(compile_time_inputs)) {
  plan_ = PlanExecution(graph_, placements_, compile_time_inputs_);
}

absl::Status SessionImpl::OpenDevices() {
  TPUSIM_ASSIGN_OR_RETURN(driver::Platform * cpu_platform, driver::GetPlatform("cpu"));
  TPUSIM_ASSIGN_OR_RETURN(cpu_, cpu_platform->OpenDevice(0, driver::DeviceOptions{}));
  TPUSIM_ASSIGN_OR_RETURN(cpu_stream_, cpu_->CreateStream());
  if (options_.device == "tpu") {
    TPUSIM_ASSIGN_OR_RETURN(driver::Platform * tpu_platform, driver::GetPlatform("tpu"));
    driver::DeviceOptions tpu_options;
    tpu_options.engine = options_.engine;
    tpu_options.arch = options_.arch;
    tpu_options.collect_trace = options_.collect_trace;
    tpu_options.vcd_path = options_.vcd_path;
    tpu_options.vcd_window = options_.vcd_window;
    if (options_.progress) {
      // The session outlives its devices (it owns them), so `this` stays valid for every launch.
      tpu_options.progress = [this](uint64_t cycles, uint64_t done, uint64_t total) {
        RunProgress p;
        p.launch = launch_index_.load(std::memory_order_relaxed);
        p.cycles = cycles;
        p.instructions_done = done;
        p.instructions_total = total;
        options_.progress(p);
      };
    }
    absl::StatusOr<std::unique_ptr<driver::Device>> tpu = tpu_platform->OpenDevice(0, tpu_options);
    if (!tpu.ok()) {
      return absl::Status(tpu.status().code(), absl::StrCat("opening the TPU device: ", tpu.status().message()));
    }
    tpu_ = std::move(*tpu);
    TPUSIM_ASSIGN_OR_RETURN(tpu_stream_, tpu_->CreateStream());
  }
  if (options_.log_device_placement) {
    std::ostream& log = options_.log != nullptr ? *options_.log : std::cerr;
    log << FormatPlacementLog(placements_) << std::flush;
  }
  return absl::OkStatus();
}

absl::StatusOr<driver::Stream*> SessionImpl::StreamFor(driver::Device& device, std::unique_ptr<driver::Stream>& stream) {
  if (stream == nullptr || !stream->status().ok()) {
    stream.reset();
    TPUSIM_ASSIGN_OR_RETURN(stream, device.CreateStream());
  }
  return stream.get();
}

}  // namespace detail
}  // namespace tpusim::runtime
