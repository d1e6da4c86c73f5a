// What `tpusim run` and `tpusim profile` share: session options, feeds, one run, progress, timeline.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli.h"
#include "cli_progress.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/tensor_io.h"
#include "tpusim/runtime/trace.h"

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

}  // namespace

void AddSessionOptions(CLI::App* cmd, SessionArgs& args) {
  cmd->add_option("--engine", args.engine,
                  "TPU engine: functional (bit-exact, no timing), cycle (cycle-accurate: cycles, "
                  "utilizations, stalls) or rtl (the Verilated SystemVerilog core: the cycle engine's "
                  "cycles and the functional engine's bits; arches tiny and rtl-16x16, a subset of the ISA)")
      ->capture_default_str();
  cmd->add_option("--arch", args.arch,
                  "Target: a preset (tiny, tpu-v1, tpu-v4, rtl-16x16) or an ArchConfig .textproto file")
      ->capture_default_str();
  cmd->add_option("--precision", args.precision,
                  "Matrix precision for fp32 graphs: bf16 (1 pass), high (3 passes), highest (6 passes)")
      ->check(CLI::IsMember({"bf16", "high", "highest"}))
      ->capture_default_str();
  cmd->add_option("--schedule", args.schedule,
                  "How programs order the load/compute/store queues: tokens (dependency tokens, DMA "
                  "overlaps compute) or serial (a SYNC at every queue change)")
      ->check(CLI::IsMember({"tokens", "serial"}))
      ->capture_default_str();
  cmd->add_option("--input", args.inputs,
                  "NAME=FILE: feed graph input NAME from an ONNX TensorProto .pb or a NumPy .npy file "
                  "(repeatable); inputs not given get deterministic random values in [-1, 1)")
      ->allow_extra_args(false);
  cmd->add_option("--trace", args.trace,
                  "Write the TPU timeline as Chrome trace-event JSON (open in ui.perfetto.dev); needs a "
                  "timing engine (--engine cycle or rtl)");
  cmd->add_option("--vcd", args.vcd,
                  "Write a VCD waveform of the RTL core (--engine rtl); with several TPU launches, "
                  "launch k >= 1 writes FILE with .k before the extension");
  cmd->add_option("--vcd-window", args.vcd_window,
                  "Dump only START:END (cycles [START, END) of each launch) or iSTART:iEND (from the "
                  "dispatch of instruction START to the completion of instruction END-1); needs --vcd");
  cmd->add_flag("--no-progress", args.no_progress, "Never print the progress line on stderr");
  // Usage errors of the waveform options are reported like CLI11's own (exit code 2).
  cmd->callback([&args] {
    const absl::Status s = CheckVcdArgs(args);
    if (!s.ok()) throw CLI::ValidationError(std::string(s.message()));
  });
}

absl::StatusOr<ModelRun> RunModel(const SessionArgs& args, std::ostream& placement_log) {
  ModelRun run;
  TPUSIM_ASSIGN_OR_RETURN(run.precision, compiler::ParsePrecision(args.precision));
  TPUSIM_ASSIGN_OR_RETURN(run.arch, isa::LoadArch(args.arch));
  TPUSIM_ASSIGN_OR_RETURN(FileMap files, ParseInputArgs(args.inputs));
  TPUSIM_ASSIGN_OR_RETURN(compiler::Graph graph, compiler::ImportOnnxFile(args.model));
  TPUSIM_ASSIGN_OR_RETURN(auto feeds, runtime::PrepareFeeds(graph, files));

  if (!args.trace.empty() && (args.device == "cpu" || args.engine == "functional")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--trace needs a timing engine on the TPU (--engine cycle or rtl); this run uses the ",
                     args.device == "cpu" ? "cpu device" : "functional engine"));
  }
  // Shared with the session's callback, which outlives this function (the session is returned).
  auto progress = std::make_shared<ProgressLine>(!args.no_progress);
  runtime::SessionOptions options;
  options.device = args.device;
  options.engine = args.engine;
  options.arch = run.arch;
  options.precision = run.precision;
  TPUSIM_ASSIGN_OR_RETURN(options.schedule, compiler::ParseSchedule(args.schedule));
  options.log_device_placement = args.log_device_placement;
  options.log = &placement_log;
  options.collect_trace = !args.trace.empty();
  TPUSIM_RETURN_IF_ERROR(CheckVcdArgs(args));  // also checked at parse time; RunModel is a library call
  options.vcd_path = args.vcd;
  if (!args.vcd_window.empty()) {
    TPUSIM_ASSIGN_OR_RETURN(options.vcd_window, ParseVcdWindow(args.vcd_window));
  }
  options.progress = [progress](const runtime::RunProgress& p) {
    progress->Update(p.launch, p.cycles, p.instructions_done, p.instructions_total);
  };
  TPUSIM_ASSIGN_OR_RETURN(run.session, runtime::Session::Create(std::move(graph), options));
  absl::StatusOr<std::map<std::string, compiler::Tensor>> outputs = run.session->Run(feeds, &run.report);
  progress->Stop();
  if (!outputs.ok()) return outputs.status();
  run.outputs = *std::move(outputs);

  run.info.model = args.model;
  run.info.engine = args.device == "cpu" ? "cpu" : args.engine;
  run.info.arch = run.arch.name();
  run.info.device = args.device;
  run.info.precision = std::string(compiler::PrecisionName(run.precision));
  run.info.arch_config = run.arch;
  if (!args.trace.empty()) {
    const std::string process = absl::StrCat("TPU:0 ", run.arch.name(), " (", run.info.engine, " engine)");
    TPUSIM_RETURN_IF_ERROR(
        runtime::WriteTextFile(args.trace, runtime::ChromeTraceJson(run.report.launches, run.arch, process)));
  }
  return run;
}

}  // namespace tpusim::cli
