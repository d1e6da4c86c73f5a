// Helpers around the isa::Program container (program.proto).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/program.pb.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::isa {

// Decodes program.code; errors name the byte offset. Also checks isa_version == kIsaVersion.
absl::StatusOr<std::vector<Instruction>> DecodeCode(const Program& program);
// Binary container (.tpb files): the magic "TPUSIMP1", the payload length (little-endian uint64),
// then the serialized Program message. A cut or padded file is InvalidArgument.
absl::Status WriteProgramFile(const Program& program, const std::string& path);
absl::StatusOr<Program> ReadProgramFile(const std::string& path);
// Structural checks a loader needs before running anything: version, arch valid, code decodes and
// ends with HALT, constants and bindings lie inside frame_bytes, debug info length matches.
absl::Status ValidateProgram(const Program& program);
size_t TensorTypeBytes(TensorType t);

}  // namespace tpusim::isa
