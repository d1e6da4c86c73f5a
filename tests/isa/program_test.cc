// The isa::Program container: structural validation and the .tpb file format.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/program.h"

namespace tpusim::isa {
namespace {

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

std::string Bytes(const std::vector<Instruction>& code) {
  absl::StatusOr<std::string> bytes = EncodeProgram(code);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

// A small valid program on `tiny`: LOAD 8x8 f32 from the input at 256, HALT.
Program ValidProgram() {
  Program p;
  p.set_isa_version(kIsaVersion);
  *p.mutable_arch() = *LoadPreset("tiny");
  Instruction load = Make(Opcode::LOAD);
  load.as<DmaArgs>().dram_addr = 256;
  load.as<DmaArgs>().rows = 8;
  load.as<DmaArgs>().lanes = 8;
  load.as<DmaArgs>().row_stride = 8;
  load.as<DmaArgs>().lane_stride = 1;
  p.set_code(Bytes({load, Make(Opcode::HALT)}));
  p.set_frame_bytes(512);
  Segment* w = p.add_constants();
  w->set_name("w");
  w->set_dram_offset(0);
  w->set_data(std::string(256, '\x01'));
  Binding* in = p.add_inputs();
  in->set_name("x");
  in->set_dram_offset(256);
  in->add_shape(8);
  in->add_shape(8);
  in->set_dtype(FLOAT32);  // 8*8*4 = 256 bytes: [256, 512)
  p.set_precision("bf16");
  p.add_op_names("load_x");
  p.add_op_names("end");
  p.add_inst_op(0);
  p.add_inst_op(1);
  return p;
}

TEST(Program, ValidProgramPassesValidation) {
  absl::Status s = ValidateProgram(ValidProgram());
  EXPECT_TRUE(s.ok()) << s;
  absl::StatusOr<std::vector<Instruction>> code = DecodeCode(ValidProgram());
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(code->size(), 2u);
}

TEST(Program, ValidateRejectsMissingHalt) {
  Program p = ValidProgram();
  p.set_code(Bytes({Make(Opcode::SYNC)}));
  p.clear_inst_op();
  absl::Status s = ValidateProgram(p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "does not end with HALT")) << s;
  p.set_code("");
  EXPECT_TRUE(Contains(ValidateProgram(p), "HALT"));
}

TEST(Program, ValidateRejectsSegmentOutsideFrame) {
  Program p = ValidProgram();
  p.mutable_constants(0)->set_dram_offset(300);  // [300, 556) but frame_bytes = 512
  absl::Status s = ValidateProgram(p);
  EXPECT_TRUE(Contains(s, "constant segment 'w' [300, 556) lies outside the frame")) << s;

  p = ValidProgram();
  p.mutable_inputs(0)->add_shape(2);  // 8*8*2*4 = 512 bytes from 256: past the frame
  s = ValidateProgram(p);
  EXPECT_TRUE(Contains(s, "input 'x'")) << s;

  p = ValidProgram();
  p.mutable_constants(0)->set_dram_offset(~0ull);  // offset + size overflows 64 bits
  EXPECT_FALSE(ValidateProgram(p).ok());
}

TEST(Program, ValidateRejectsIsaVersionMismatch) {
  Program p = ValidProgram();
  p.set_isa_version(3);
  absl::Status s = ValidateProgram(p);
  EXPECT_TRUE(Contains(s, "program ISA version 3, this build supports 1")) << s;
  EXPECT_TRUE(Contains(DecodeCode(p).status(), "program ISA version 3, this build supports 1"));
}

TEST(Program, ValidateRejectsInvalidArchAndBadCode) {
  Program p = ValidProgram();
  p.mutable_arch()->set_array_rows(0);
  EXPECT_TRUE(Contains(ValidateProgram(p), "'array_rows' = 0"));

  p = ValidProgram();
  p.set_code(p.code() + "x");
  EXPECT_TRUE(Contains(ValidateProgram(p), "truncated instruction stream at byte 64"));
}

TEST(Program, ValidateRejectsInconsistentDebugInfo) {
  Program p = ValidProgram();
  p.add_inst_op(0);  // 3 entries for 2 instructions
  EXPECT_TRUE(Contains(ValidateProgram(p), "inst_op has 3 entries for 2 instructions"));
  p = ValidProgram();
  p.set_inst_op(1, 2);  // only 2 op names
  EXPECT_TRUE(Contains(ValidateProgram(p), "inst_op[1] = 2"));
}

TEST(Program, FileRoundTripPreservesEverything) {
  std::string path = ::testing::TempDir() + "/program_test_roundtrip.tpb";
  Program p = ValidProgram();
  ASSERT_TRUE(WriteProgramFile(p, path).ok());
  absl::StatusOr<Program> back = ReadProgramFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->SerializeAsString(), p.SerializeAsString());
  EXPECT_TRUE(ValidateProgram(*back).ok());
}

TEST(Program, FileCutAtAnyByteIsDetected) {
  const std::string good = ::testing::TempDir() + "/program_test_good.tpb";
  const std::string path = ::testing::TempDir() + "/program_test_cut.tpb";
  ASSERT_TRUE(WriteProgramFile(ValidProgram(), good).ok());
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Every proper prefix, including cuts between two protobuf fields (which protobuf alone accepts).
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << bytes.substr(0, cut);
    }
    absl::StatusOr<Program> p = ReadProgramFile(path);
    ASSERT_FALSE(p.ok()) << "cut at " << cut;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << p.status();
  }
}

TEST(Program, GarbageFileIsNotAProgram) {
  const std::string path = ::testing::TempDir() + "/program_test_bad.tpb";
  for (const std::string& content : {std::string("\xff\xff\xff\xff", 4), std::string("TPUSIMP1"),
                                     std::string()}) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << content;
    }
    absl::StatusOr<Program> p = ReadProgramFile(path);
    ASSERT_FALSE(p.ok()) << content.size() << " bytes";
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(p.status(), "not a tpusim program")) << p.status();
  }
  EXPECT_EQ(ReadProgramFile(path + ".missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(Program, TensorTypeBytesCoverEveryType) {
  EXPECT_EQ(TensorTypeBytes(FLOAT32), 4u);
  EXPECT_EQ(TensorTypeBytes(INT8), 1u);
  EXPECT_EQ(TensorTypeBytes(INT32), 4u);
  EXPECT_EQ(TensorTypeBytes(BFLOAT16), 2u);
  EXPECT_EQ(TensorTypeBytes(TENSOR_TYPE_UNSPECIFIED), 0u);
}

}  // namespace
}  // namespace tpusim::isa
