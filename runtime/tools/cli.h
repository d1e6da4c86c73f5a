// The `tpusim` command-line tool's subcommands. Each Add*Command registers its options on `app` and
// returns the subcommand; the matching *Command runs it after parsing. Exit-code contract (main):
// 0 success, 1 an error from a command (one line "tpusim: error: <message>" on stderr), 2 a usage error.
#pragma once

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace tpusim::cli {

// Default target for users: bf16 needs an arch with BF16_FP32 matrix units.
inline constexpr char kDefaultArch[] = "tpu-v4";

struct RunArgs {
  std::string model;
  std::string device = "tpu";
  std::string engine = "functional";
  std::string arch = kDefaultArch;
  std::string precision = "bf16";
  std::vector<std::string> inputs;  // NAME=FILE
  std::string output_dir;
  std::string report;
  bool log_device_placement = false;
};
CLI::App* AddRunCommand(CLI::App& app, RunArgs& args);
absl::Status RunCommand(const RunArgs& args);

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
