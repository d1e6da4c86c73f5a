// The `tpusim` command-line tool's subcommands. Each Add*Command registers its options on `app` and
// returns the subcommand; the matching *Command runs it after parsing. Exit-code contract (main):
// 0 success, 1 an error from a command (one line "tpusim: error: <message>" on stderr), 2 a usage error.
#pragma once

#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/runtime/report.h"
#include "tpusim/runtime/session.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::cli {

// Default target for users: bf16 needs an arch with BF16_FP32 matrix units.
inline constexpr char kDefaultArch[] = "tpu-v4";

// What `run` and `profile` share: the model, the session's device/engine/arch/precision, the feeds,
// the timeline and progress (cli_session.cc).
struct SessionArgs {
  std::string model;
  std::string device = "tpu";
  std::string engine = "functional";
  std::string arch = kDefaultArch;
  std::string precision = "bf16";
  std::string schedule = "tokens";
  std::vector<std::string> inputs;  // NAME=FILE
  std::string trace;                // Chrome trace-event JSON to write ("" = none)
  std::string vcd;                  // rtl engine: VCD waveform to write ("" = none)
  std::string vcd_window;           // rtl engine: "START:END" (cycles) or "iSTART:iEND" ("" = all)
  bool log_device_placement = false;
  bool no_progress = false;
};
// Registers --arch, --precision, --schedule, --engine, --input, --trace, --vcd, --vcd-window,
// --no-progress on `cmd`, and a check run at the end of parsing that throws CLI::ValidationError (a
// usage error, exit code 2) for a malformed --vcd-window, --vcd-window without --vcd, or --vcd with
// an engine other than rtl (or on the cpu device).
void AddSessionOptions(CLI::App* cmd, SessionArgs& args);

// "START:END" -> a window of cycles [START, END); "iSTART:iEND" -> instructions START .. END-1
// (simulator::VcdWindow). Decimal unsigned 64-bit numbers, END > START; InvalidArgument naming the
// text otherwise.
absl::StatusOr<simulator::VcdWindow> ParseVcdWindow(const std::string& text);
// The usage rules of --vcd / --vcd-window above (cli_vcd.cc); InvalidArgument with the one-line
// message otherwise.
absl::Status CheckVcdArgs(const SessionArgs& args);

// A finished Session::Run of an ONNX model.
struct ModelRun {
  isa::ArchConfig arch;
  compiler::Precision precision = compiler::Precision::kBf16;
  std::unique_ptr<runtime::Session> session;
  std::map<std::string, compiler::Tensor> outputs;
  runtime::RunReport report;
  runtime::ReportInfo info;  // for ReportToJson / ReportToText
};
// Imports the model, prepares the feeds, runs it once (with a progress line on stderr for long runs
// unless args.no_progress) and writes args.trace if set. Placement lines go to `placement_log`.
absl::StatusOr<ModelRun> RunModel(const SessionArgs& args, std::ostream& placement_log);

struct RunArgs {
  SessionArgs session;
  std::string output_dir;
  std::string report;
};
CLI::App* AddRunCommand(CLI::App& app, RunArgs& args);
absl::Status RunCommand(const RunArgs& args);

struct ProfileArgs {
  SessionArgs session;  // engine defaults to "cycle"
  std::string csv;
};
CLI::App* AddProfileCommand(CLI::App& app, ProfileArgs& args);
absl::Status ProfileCommand(const ProfileArgs& args);

struct CompileArgs {
  std::string model;
  std::string output;
  std::string arch = kDefaultArch;
  std::string precision = "bf16";
};
CLI::App* AddCompileCommand(CLI::App& app, CompileArgs& args);
absl::Status CompileCommand(const CompileArgs& args);

struct AsmArgs {
  std::string input;
  std::string output;
  std::string arch = kDefaultArch;
  uint64_t frame_bytes = 0;
};
CLI::App* AddAsmCommand(CLI::App& app, AsmArgs& args);
absl::Status AsmCommand(const AsmArgs& args);

struct DisasmArgs {
  std::string input;
};
CLI::App* AddDisasmCommand(CLI::App& app, DisasmArgs& args);
absl::Status DisasmCommand(const DisasmArgs& args);

}  // namespace tpusim::cli
