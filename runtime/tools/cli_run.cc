// `tpusim run`: import an ONNX model, run it through a Session, write outputs and the report.
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

using FileMap = std::map<std::string, std::string>;  // input name -> tensor file

// "NAME=FILE" pairs -> map; the name is everything before the first '='.
absl::StatusOr<FileMap> ParseInputArgs(const std::vector<std::string>& args) {
  FileMap files;
  for (const std::string& arg : args) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
      return absl::InvalidArgumentError(absl::StrCat("--input '", arg, "': expected NAME=FILE"));
    }
    const std::string name = arg.substr(0, eq);
    if (!files.emplace(name, arg.substr(eq + 1)).second) {
      return absl::InvalidArgumentError(absl::StrCat("--input: input '", name, "' given twice"));
    }
  }
  return files;
}

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
  cmd->add_option("model", args.model, "ONNX model file (.onnx)")->required();
  cmd->add_option("--device", args.device,
                  "tpu: each op on the TPU where supported, else the CPU; cpu: everything on the CPU")
      ->check(CLI::IsMember({"tpu", "cpu"}))
      ->capture_default_str();
  cmd->add_option("--engine", args.engine, "TPU engine")->capture_default_str();
  cmd->add_option("--arch", args.arch,
                  "Target: a preset (tiny, tpu-v1, tpu-v4) or an ArchConfig .textproto file")
      ->capture_default_str();
  cmd->add_option("--precision", args.precision,
                  "Matrix precision for fp32 graphs: bf16 (1 pass), high (3 passes), highest (6 passes)")
      ->check(CLI::IsMember({"bf16", "high", "highest"}))
      ->capture_default_str();
  cmd->add_option("--input", args.inputs,
                  "NAME=FILE: feed graph input NAME from an ONNX TensorProto .pb or a NumPy .npy file "
                  "(repeatable); inputs not given get deterministic random values in [-1, 1)")
      ->allow_extra_args(false);
  cmd->add_option("--output-dir", args.output_dir, "Write each graph output to DIR/<output-name>.pb");
  cmd->add_option("--report", args.report, "Write the run report (JSON) to this file");
  cmd->add_flag("--log-device-placement", args.log_device_placement,
                "Print the device of every op, TensorFlow style");
  return cmd;
}

absl::Status RunCommand(const RunArgs& args) {
  TPUSIM_ASSIGN_OR_RETURN(compiler::Precision precision, compiler::ParsePrecision(args.precision));
  TPUSIM_ASSIGN_OR_RETURN(isa::ArchConfig arch, isa::LoadArch(args.arch));
  TPUSIM_ASSIGN_OR_RETURN(FileMap files, ParseInputArgs(args.inputs));
  TPUSIM_ASSIGN_OR_RETURN(compiler::Graph graph, compiler::ImportOnnxFile(args.model));
  TPUSIM_ASSIGN_OR_RETURN(auto feeds, runtime::PrepareFeeds(graph, files));
  if (!args.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.output_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create output directory '", args.output_dir, "': ", ec.message()));
    }
  }

  runtime::SessionOptions options;
  options.device = args.device;
  options.engine = args.engine;
  options.arch = arch;
  options.precision = precision;
  options.log_device_placement = args.log_device_placement;
  options.log = &std::cout;
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Session> session,
                          runtime::Session::Create(std::move(graph), options));
  runtime::RunReport report;
  TPUSIM_ASSIGN_OR_RETURN(auto outputs, session->Run(feeds, &report));

  runtime::ReportInfo info;
  info.model = args.model;
  info.engine = args.device == "cpu" ? "cpu" : args.engine;
  info.arch = arch.name();
  info.device = args.device;
  info.precision = std::string(compiler::PrecisionName(precision));
  if (!args.report.empty()) {
    TPUSIM_RETURN_IF_ERROR(
        runtime::WriteTextFile(args.report, runtime::ReportToJson(report, session->placements(), info)));
  }
  std::cout << runtime::ReportToText(report, session->placements(), info);
  std::vector<std::string> paths;
  if (!args.output_dir.empty()) {
    TPUSIM_ASSIGN_OR_RETURN(paths, WriteOutputs(session->graph(), outputs, args.output_dir));
  }
  const std::vector<std::string>& names = session->graph().outputs;
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = outputs.find(names[i]);
    if (it == outputs.end()) continue;
    std::cout << "output " << names[i] << ": " << compiler::DataTypeName(it->second.dtype())
              << compiler::ShapeToString(it->second.shape());
    if (i < paths.size()) std::cout << " -> " << paths[i];
    std::cout << "\n";
  }
  if (!args.report.empty()) std::cout << "report: " << args.report << "\n";
  return absl::OkStatus();
}

}  // namespace tpusim::cli
