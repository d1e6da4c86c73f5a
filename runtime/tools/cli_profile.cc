// `tpusim profile`: run an ONNX model once (cycle engine by default) and print the per-layer profile
// (runtime/profile.h) and the run's timing summary; optionally the same table as CSV and a timeline.
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "cli.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/profile.h"
#include "tpusim/runtime/report.h"

namespace tpusim::cli {

CLI::App* AddProfileCommand(CLI::App& app, ProfileArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "profile", "Run an ONNX model on the simulated TPU and print a per-layer table: op, output shape, "
                 "MACs, cycles, MXU utilization, compute- or memory-bound, roofline bound");
  args.session.engine = "cycle";
  cmd->add_option("model", args.session.model, "ONNX model file (.onnx)")->required();
  AddSessionOptions(cmd, args.session);
  cmd->add_option("--csv", args.csv, "Also write the per-layer table as CSV to this file");
  return cmd;
}

absl::Status ProfileCommand(const ProfileArgs& args) {
  std::ostringstream placement_log;  // not printed: the table has a device column
  TPUSIM_ASSIGN_OR_RETURN(ModelRun run, RunModel(args.session, placement_log));
  const runtime::Profile profile =
      runtime::BuildProfile(run.report, run.session->graph(), run.session->placements(), run.arch);
  if (!args.csv.empty()) TPUSIM_RETURN_IF_ERROR(runtime::WriteTextFile(args.csv, runtime::ProfileToCsv(profile)));
  std::cout << "model: " << args.session.model << "  arch: " << run.arch.name() << " (" << run.arch.array_rows()
            << "x" << run.arch.array_cols() << " x" << run.arch.mxu_count() << " MXU, " << run.arch.clock_mhz()
            << " MHz)  engine: " << run.info.engine << "  precision: " << run.info.precision << "\n\n"
            << runtime::ProfileToText(profile) << "\n";
  const std::string timing = runtime::TimingSummaryText(run.report, run.info);
  if (timing.empty()) {
    std::cout << "no cycles: the " << run.info.engine
              << " engine has no timing (use --engine cycle for cycles and utilizations)\n";
  } else {
    std::cout << timing;
  }
  if (!args.csv.empty()) std::cout << "csv: " << args.csv << "\n";
  if (!args.session.trace.empty()) std::cout << "trace: " << args.session.trace << "\n";
  return absl::OkStatus();
}

}  // namespace tpusim::cli
