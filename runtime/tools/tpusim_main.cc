// tpusim: the command-line tool (run, profile, compile, asm, disasm). Exit codes: 0 success; 1 an error, reported
// as one line "tpusim: error: <message>" on stderr; 2 a usage error (same one-line form).
#include <exception>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "cli.h"

namespace {

// Newlines (CLI11 and nested statuses may produce them) become "; " so that errors stay on one line.
std::string OneLine(std::string_view message) {
  std::string out;
  for (char c : message) {
    if (c == '\n') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else if (c != '\r') {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

int Fail(std::string_view message, int code) {
  std::cerr << "tpusim: error: " << OneLine(message) << "\n";
  return code;
}

int Main(int argc, char** argv) {
  CLI::App app{"tpusim: a TPU-style accelerator simulator. Runs and profiles ONNX models on a simulated\n"
               "systolic-array TPU (functional or cycle-accurate engine) or the CPU, and compiles, assembles\n"
               "and disassembles programs.\n"
               "Default arch: tpu-v4 (bf16 needs an arch with bf16 matrix units); tests use --arch tiny.",
               "tpusim"};
  app.require_subcommand(1);
  tpusim::cli::RunArgs run_args;
  tpusim::cli::ProfileArgs profile_args;
  tpusim::cli::CompileArgs compile_args;
  tpusim::cli::AsmArgs asm_args;
  tpusim::cli::DisasmArgs disasm_args;
  CLI::App* run = tpusim::cli::AddRunCommand(app, run_args);
  CLI::App* profile = tpusim::cli::AddProfileCommand(app, profile_args);
  CLI::App* compile = tpusim::cli::AddCompileCommand(app, compile_args);
  CLI::App* assemble = tpusim::cli::AddAsmCommand(app, asm_args);
  CLI::App* disasm = tpusim::cli::AddDisasmCommand(app, disasm_args);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return Fail(std::string(e.what()) + " (see 'tpusim --help')", 2);
  }
  absl::Status status;
  if (*run) {
    status = tpusim::cli::RunCommand(run_args);
  } else if (*profile) {
    status = tpusim::cli::ProfileCommand(profile_args);
  } else if (*compile) {
    status = tpusim::cli::CompileCommand(compile_args);
  } else if (*assemble) {
    status = tpusim::cli::AsmCommand(asm_args);
  } else if (*disasm) {
    status = tpusim::cli::DisasmCommand(disasm_args);
  }
  if (!status.ok()) return Fail(std::string(status.message()), 1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    return Fail(std::string("internal error: ") + e.what(), 1);
  }
}
