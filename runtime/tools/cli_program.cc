// `tpusim compile`, `tpusim asm`, `tpusim disasm`: programs (.tpb, a serialized isa::Program) and
// their text assembly.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/onnx_frontend.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/program.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/runtime/session.h"

namespace tpusim::cli {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string BindingText(const isa::Binding& b) {
  return absl::StrCat(b.name(), " ", isa::TensorType_Name(b.dtype()), "[", absl::StrJoin(b.shape(), ","),
                      "] at 0x", absl::Hex(b.dram_offset()));
}

// Header comments (ignored by the assembler) describing everything but the code.
std::string ProgramHeader(const isa::Program& p) {
  std::string out =
      absl::StrCat("# tpusim program: isa_version ", p.isa_version(), ", arch ", p.arch().name(), " (",
                   p.arch().array_rows(), "x", p.arch().array_cols(), "), precision ",
                   p.precision().empty() ? "-" : p.precision(), ", frame ", p.frame_bytes(), " bytes\n");
  for (const isa::Binding& b : p.inputs()) absl::StrAppend(&out, "# input  ", BindingText(b), "\n");
  for (const isa::Binding& b : p.outputs()) absl::StrAppend(&out, "# output ", BindingText(b), "\n");
  for (const isa::Segment& s : p.constants()) {
    absl::StrAppend(&out, "# constant ", s.name(), " ", s.data().size(), " bytes at 0x",
                    absl::Hex(s.dram_offset()), "\n");
  }
  return out;
}

// A .tpb holds a Program (isa::ReadProgramFile's container); any other file is taken as raw code
// (a multiple of kInstructionBytes).
absl::StatusOr<std::string> DisassembleFile(const std::string& path) {
  absl::StatusOr<isa::Program> program = isa::ReadProgramFile(path);
  if (program.ok()) {
    TPUSIM_ASSIGN_OR_RETURN(std::vector<isa::Instruction> code, isa::DecodeCode(*program));
    std::string out = ProgramHeader(*program);
    const bool has_ops = program->inst_op_size() == static_cast<int>(code.size());
    int64_t last_op = -1;
    for (size_t i = 0; i < code.size(); ++i) {
      if (has_ops && static_cast<int64_t>(program->inst_op(i)) != last_op) {
        last_op = program->inst_op(i);
        const std::string name =
            last_op < program->op_names_size() ? program->op_names(last_op) : absl::StrCat("#", last_op);
        absl::StrAppend(&out, "# op: ", name, "\n");
      }
      absl::StrAppend(&out, isa::Disassemble(code[i]), "\n");
    }
    return out;
  }
  TPUSIM_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty file"));
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::DecodeProgram(bytes);
  if (!code.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a program (", program.status().message(),
                                                   ") nor raw instruction code (", code.status().message(),
                                                   ")"));
  }
  return isa::DisassembleProgram(*code);
}

}  // namespace

CLI::App* AddCompileCommand(CLI::App& app, CompileArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "compile", "Compile an ONNX model (every op TPU-supported, declared input shapes) to a program");
  cmd->add_option("model", args.model, "ONNX model file (.onnx)")->required();
  cmd->add_option("-o,--output", args.output, "Program file to write (.tpb)")->required();
  cmd->add_option("--arch", args.arch,
                  "Target: a preset (tiny, tpu-v1, tpu-v4, rtl-16x16) or an ArchConfig .textproto file")
      ->capture_default_str();
  cmd->add_option("--precision", args.precision, "Matrix precision: bf16, high, highest")
      ->check(CLI::IsMember({"bf16", "high", "highest"}))
      ->capture_default_str();
  return cmd;
}

absl::Status CompileCommand(const CompileArgs& args) {
  TPUSIM_ASSIGN_OR_RETURN(compiler::Precision precision, compiler::ParsePrecision(args.precision));
  TPUSIM_ASSIGN_OR_RETURN(isa::ArchConfig arch, isa::LoadArch(args.arch));
  TPUSIM_ASSIGN_OR_RETURN(compiler::Graph graph, compiler::ImportOnnxFile(args.model));
  // A session without CPU fallback lists every op the TPU cannot run, all at once.
  runtime::SessionOptions options;
  options.arch = arch;
  options.precision = precision;
  options.allow_cpu_fallback = false;
  TPUSIM_RETURN_IF_ERROR(runtime::Session::Create(graph, options).status());
  TPUSIM_RETURN_IF_ERROR(compiler::InferShapes(graph));
  compiler::CompileOptions compile_options;
  compile_options.arch = arch;
  compile_options.precision = precision;
  TPUSIM_ASSIGN_OR_RETURN(isa::Program program, compiler::Compile(graph, compile_options));
  TPUSIM_RETURN_IF_ERROR(isa::WriteProgramFile(program, args.output));
  uint64_t constant_bytes = 0;
  for (const isa::Segment& s : program.constants()) constant_bytes += s.data().size();
  std::cout << "wrote " << args.output << ": " << program.code().size() / isa::kInstructionBytes
            << " instructions, " << program.constants_size() << " constant segment(s) (" << constant_bytes
            << " bytes), frame " << program.frame_bytes() << " bytes, arch " << arch.name() << ", precision "
            << program.precision() << "\n";
  return absl::OkStatus();
}

CLI::App* AddAsmCommand(CLI::App& app, AsmArgs& args) {
  CLI::App* cmd = app.add_subcommand("asm", "Assemble text assembly into a program holding just the code");
  cmd->add_option("input", args.input, "Assembly file (.s)")->required();
  cmd->add_option("-o,--output", args.output, "Program file to write (.tpb)")->required();
  cmd->add_option("--arch", args.arch,
                  "Target: a preset (tiny, tpu-v1, tpu-v4, rtl-16x16) or an ArchConfig .textproto file")
      ->capture_default_str();
  cmd->add_option("--frame-bytes", args.frame_bytes,
                  "DRAM bytes the program addresses from its frame base (its instructions' DRAM operands)")
      ->capture_default_str();
  return cmd;
}

absl::Status AsmCommand(const AsmArgs& args) {
  TPUSIM_ASSIGN_OR_RETURN(isa::ArchConfig arch, isa::LoadArch(args.arch));
  TPUSIM_ASSIGN_OR_RETURN(std::string text, ReadFile(args.input));
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::AssembleProgram(text);
  if (!code.ok())
    return absl::Status(code.status().code(), absl::StrCat(args.input, ": ", code.status().message()));
  TPUSIM_ASSIGN_OR_RETURN(std::string bytes, isa::EncodeProgram(*code));
  isa::Program program;
  program.set_isa_version(isa::kIsaVersion);
  *program.mutable_arch() = arch;
  program.set_code(bytes);
  program.set_frame_bytes(args.frame_bytes);
  absl::Status valid = isa::ValidateProgram(program);
  if (!valid.ok()) return absl::Status(valid.code(), absl::StrCat(args.input, ": ", valid.message()));
  TPUSIM_RETURN_IF_ERROR(isa::WriteProgramFile(program, args.output));
  std::cout << "wrote " << args.output << ": " << code->size() << " instructions, arch " << arch.name()
            << "\n";
  return absl::OkStatus();
}

CLI::App* AddDisasmCommand(CLI::App& app, DisasmArgs& args) {
  CLI::App* cmd = app.add_subcommand("disasm", "Print a program's (or raw code's) assembly");
  cmd->add_option("input", args.input, "Program file (.tpb) or raw instruction code")->required();
  return cmd;
}

absl::Status DisasmCommand(const DisasmArgs& args) {
  TPUSIM_ASSIGN_OR_RETURN(std::string text, DisassembleFile(args.input));
  std::cout << text;
  return absl::OkStatus();
}

}  // namespace tpusim::cli
