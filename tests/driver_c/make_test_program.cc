// Writes the C ABI test's program (a .tpb) with the C++ assembler, at test-build time:
//   y = (a + b) * 2 for a, b, y = [2, 8] f32 on the `tiny` arch. Frame of 192 bytes: a at 0, b at 64,
//   y at 128. Usage: make_test_program <output.tpb>
#include <iostream>

#include "isa/proto/program.pb.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/program.h"

namespace {

constexpr char kAssembly[] =
    "LOAD dtype=f32 dram_addr=0x0 ub_row=0 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
    "LOAD dtype=f32 dram_addr=0x40 ub_row=2 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
    "SYNC\n"
    "VECTOR op=add dst_row=4 a_row=0 b_row=2 rows=2\n"
    "VECTOR op=mul_imm dst_row=4 a_row=4 b_row=4 rows=2 imm=2\n"
    "SYNC\n"
    "STORE dtype=f32 dram_addr=0x80 ub_row=4 rows=2 lanes=8 row_stride=8 lane_stride=1\n"
    "HALT\n";

void Bind(tpusim::isa::Binding* b, const char* name, uint64_t offset) {
  b->set_name(name);
  b->set_dram_offset(offset);
  b->add_shape(2);
  b->add_shape(8);
  b->set_dtype(tpusim::isa::FLOAT32);
}

}  // namespace

int main(int argc, char** argv) {
  namespace isa = tpusim::isa;
  if (argc != 2) {
    std::cerr << "usage: make_test_program <output.tpb>\n";
    return 2;
  }
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadPreset("tiny");
  absl::StatusOr<std::vector<isa::Instruction>> code = isa::AssembleProgram(kAssembly);
  if (!arch.ok() || !code.ok()) {
    std::cerr << (arch.ok() ? code.status() : arch.status()) << "\n";
    return 1;
  }
  absl::StatusOr<std::string> bytes = isa::EncodeProgram(*code);
  if (!bytes.ok()) {
    std::cerr << bytes.status() << "\n";
    return 1;
  }
  isa::Program p;
  p.set_isa_version(isa::kIsaVersion);
  *p.mutable_arch() = *arch;
  p.set_code(*bytes);
  Bind(p.add_inputs(), "a", 0);
  Bind(p.add_inputs(), "b", 64);
  Bind(p.add_outputs(), "y", 128);
  p.set_frame_bytes(192);
  p.set_precision("bf16");
  p.add_op_names("add_mul");
  for (size_t i = 0; i < code->size(); ++i) p.add_inst_op(0);
  absl::Status s = isa::ValidateProgram(p);
  if (s.ok()) s = isa::WriteProgramFile(p, argv[1]);
  if (!s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  return 0;
}
