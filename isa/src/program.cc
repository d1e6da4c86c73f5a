// The isa::Program container: decoding, files and structural validation (program.h).
#include "tpusim/isa/program.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"
#include "text_util.h"

namespace tpusim::isa {
namespace {

// [offset, offset + size) inside [0, frame_bytes), without overflow.
bool InsideFrame(uint64_t offset, uint64_t size, uint64_t frame_bytes) {
  return offset <= frame_bytes && size <= frame_bytes - offset;
}

absl::Status ValidateBinding(const Binding& b, std::string_view kind, uint64_t frame_bytes) {
  size_t element_bytes = TensorTypeBytes(b.dtype());
  if (element_bytes == 0) {
    return absl::InvalidArgumentError(detail::Cat(kind, " '", b.name(), "' has no valid dtype (",
                                                   TensorType_Name(b.dtype()), ")"));
  }
  uint64_t bytes = element_bytes;
  for (int64_t dim : b.shape()) {
    if (dim < 0) {
      return absl::InvalidArgumentError(detail::Cat(kind, " '", b.name(), "' has negative dimension ", dim));
    }
    if (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) {
      return absl::InvalidArgumentError(detail::Cat(kind, " '", b.name(), "' is too large"));
    }
    bytes *= static_cast<uint64_t>(dim);
  }
  if (!InsideFrame(b.dram_offset(), bytes, frame_bytes)) {
    return absl::InvalidArgumentError(detail::Cat(kind, " '", b.name(), "' [", b.dram_offset(), ", ",
                                                   b.dram_offset() + bytes, ") lies outside the frame (",
                                                   "frame_bytes ", frame_bytes, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Instruction>> DecodeCode(const Program& program) {
  if (program.isa_version() != kIsaVersion) {
    return absl::InvalidArgumentError(detail::Cat("program ISA version ", program.isa_version(),
                                                   ", this build supports ", kIsaVersion));
  }
  return DecodeProgram(program.code());
}

namespace {
// .tpb container: 8-byte magic, then the payload length as a little-endian uint64, then the serialized
// Program. The length makes a file cut anywhere detectable (protobuf alone may parse a prefix).
constexpr std::string_view kMagic("TPUSIMP1", 8);
constexpr size_t kHeaderBytes = 16;

std::string ContainerHeader(uint64_t payload_bytes) {
  std::string header(kMagic);
  for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>((payload_bytes >> (8 * i)) & 0xff));
  return header;
}

absl::StatusOr<std::string_view> ContainerPayload(std::string_view file, const std::string& path) {
  if (file.size() < kHeaderBytes || file.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError(
        detail::Cat("not a tpusim program: '", path, "' does not start with the TPUSIMP1 magic"));
  }
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) {
    length |= static_cast<uint64_t>(static_cast<uint8_t>(file[kMagic.size() + i])) << (8 * i);
  }
  const uint64_t present = file.size() - kHeaderBytes;
  if (length != present) {
    return absl::InvalidArgumentError(detail::Cat("truncated or corrupt program file '", path, "': header says ",
                                                  length, " payload bytes, file has ", present));
  }
  return file.substr(kHeaderBytes);
}
}  // namespace

absl::Status WriteProgramFile(const Program& program, const std::string& path) {
  std::string bytes;
  if (!program.SerializeToString(&bytes)) {
    return absl::InternalError(detail::Cat("cannot serialize program for '", path, "'"));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(detail::Cat("cannot open '", path, "' for writing"));
  const std::string header = ContainerHeader(bytes.size());
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::DataLossError(detail::Cat("error writing '", path, "'"));
  return absl::OkStatus();
}

absl::StatusOr<Program> ReadProgramFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(detail::Cat("cannot open program file '", path, "'"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return absl::DataLossError(detail::Cat("error reading program file '", path, "'"));
  const std::string file = bytes.str();
  TPUSIM_ASSIGN_OR_RETURN(std::string_view payload, ContainerPayload(file, path));
  Program program;
  if (!program.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError(detail::Cat(
        "not a tpusim program: '", path, "' does not parse as a Program (truncated or corrupt)"));
  }
  if (program.isa_version() == 0) {
    return absl::InvalidArgumentError(
        detail::Cat("not a tpusim program: '", path, "' has no ISA version"));
  }
  return program;
}

absl::Status ValidateProgram(const Program& program) {
  if (program.isa_version() != kIsaVersion) {
    return absl::InvalidArgumentError(detail::Cat("program ISA version ", program.isa_version(),
                                                   ", this build supports ", kIsaVersion));
  }
  TPUSIM_RETURN_IF_ERROR(ValidateArchConfig(program.arch(), "program arch"));
  TPUSIM_ASSIGN_OR_RETURN(std::vector<Instruction> code, DecodeCode(program));
  if (code.empty()) return absl::InvalidArgumentError("program has no instructions (must end with HALT)");
  if (code.back().opcode != Opcode::HALT) {
    return absl::InvalidArgumentError(detail::Cat("program does not end with HALT (last instruction ",
                                                   code.size() - 1, " is ", Mnemonic(code.back().opcode),
                                                   ")"));
  }
  const uint64_t frame = program.frame_bytes();
  for (const Segment& s : program.constants()) {
    if (!InsideFrame(s.dram_offset(), s.data().size(), frame)) {
      return absl::InvalidArgumentError(detail::Cat(
          "constant segment '", s.name(), "' [", s.dram_offset(), ", ", s.dram_offset() + s.data().size(),
          ") lies outside the frame (frame_bytes ", frame, ")"));
    }
  }
  for (const Binding& b : program.inputs()) TPUSIM_RETURN_IF_ERROR(ValidateBinding(b, "input", frame));
  for (const Binding& b : program.outputs()) TPUSIM_RETURN_IF_ERROR(ValidateBinding(b, "output", frame));
  if (program.inst_op_size() != 0) {
    if (static_cast<size_t>(program.inst_op_size()) != code.size()) {
      return absl::InvalidArgumentError(detail::Cat("debug info: inst_op has ", program.inst_op_size(),
                                                     " entries for ", code.size(), " instructions"));
    }
    for (int i = 0; i < program.inst_op_size(); ++i) {
      if (program.inst_op(i) >= static_cast<uint32_t>(program.op_names_size())) {
        return absl::InvalidArgumentError(detail::Cat("debug info: inst_op[", i, "] = ", program.inst_op(i),
                                                       " but there are ", program.op_names_size(),
                                                       " op_names"));
      }
    }
  }
  return absl::OkStatus();
}

size_t TensorTypeBytes(TensorType t) {
  switch (t) {
    case FLOAT32: return 4;
    case INT8: return 1;
    case INT32: return 4;
    case BFLOAT16: return 2;
    default: return 0;
  }
}

}  // namespace tpusim::isa
