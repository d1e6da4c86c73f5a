// `tpusim run`: import an ONNX model, run it through a Session, write outputs, the report and the
// timeline.
#include <filesystem>
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "cli.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/report.h"
#include "tpusim/runtime/session.h"
#include "tpusim/runtime/tensor_io.h"

namespace tpusim::cli {
namespace {

// Writes every graph output to dir/<safe name>.pb; returns the paths in graph output order.
absl::StatusOr<std::vector<std::string>> WriteOutputs(const compiler::Graph& graph,
                                                      const std::map<std::string, compiler::Tensor>& outputs,
                                                      const std::string& dir) {
  std::vector<std::string> paths;
  std::set<std::string> used;
  for (const std::string& name : graph.outputs) {
    auto it = outputs.find(name);
    if (it == outputs.end()) {
      return absl::InternalError(absl::StrCat("the session returned no value for output '", name, "'"));
    }
    std::string base = runtime::SafeFileName(name);
    for (int k = 1; used.count(base) != 0; ++k) base = absl::StrCat(runtime::SafeFileName(name), ".", k);
    used.insert(base);
    const std::string path = (std::filesystem::path(dir) / (base + ".pb")).string();
    TPUSIM_RETURN_IF_ERROR(runtime::WriteTensorFile(it->second, name, path));
    paths.push_back(path);
  }
  return paths;
}

}  // namespace

CLI::App* AddRunCommand(CLI::App& app, RunArgs& args) {
  CLI::App* cmd = app.add_subcommand("run", "Run an ONNX model on the simulated TPU (or the CPU)");
  cmd->add_option("model", args.session.model, "ONNX model file (.onnx)")->required();
  cmd->add_option("--device", args.session.device,
                  "tpu: each op on the TPU where supported, else the CPU; cpu: everything on the CPU")
      ->check(CLI::IsMember({"tpu", "cpu"}))
      ->capture_default_str();
  AddSessionOptions(cmd, args.session);
  cmd->add_option("--output-dir", args.output_dir, "Write each graph output to DIR/<output-name>.pb");
  cmd->add_option("--report", args.report, "Write the run report (JSON) to this file");
  cmd->add_flag("--log-device-placement", args.session.log_device_placement,
                "Print the device of every op, TensorFlow style");
  return cmd;
}

absl::Status RunCommand(const RunArgs& args) {
  if (!args.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.output_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create output directory '", args.output_dir, "': ", ec.message()));
    }
  }
  TPUSIM_ASSIGN_OR_RETURN(ModelRun run, RunModel(args.session, std::cout));
  const std::vector<runtime::Placement>& placements = run.session->placements();
  if (!args.report.empty()) {
    TPUSIM_RETURN_IF_ERROR(
        runtime::WriteTextFile(args.report, runtime::ReportToJson(run.report, placements, run.info)));
  }
  std::cout << runtime::ReportToText(run.report, placements, run.info);
  std::vector<std::string> paths;
  if (!args.output_dir.empty()) {
    TPUSIM_ASSIGN_OR_RETURN(paths, WriteOutputs(run.session->graph(), run.outputs, args.output_dir));
  }
  const std::vector<std::string>& names = run.session->graph().outputs;
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = run.outputs.find(names[i]);
    if (it == run.outputs.end()) continue;
    std::cout << "output " << names[i] << ": " << compiler::DataTypeName(it->second.dtype())
              << compiler::ShapeToString(it->second.shape());
    if (i < paths.size()) std::cout << " -> " << paths[i];
    std::cout << "\n";
  }
  if (!args.session.trace.empty()) std::cout << "trace: " << args.session.trace << "\n";
  if (!args.report.empty()) std::cout << "report: " << args.report << "\n";
  return absl::OkStatus();
}

}  // namespace tpusim::cli
