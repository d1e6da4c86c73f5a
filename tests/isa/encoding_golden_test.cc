// Golden encodings, one per instruction format: the expected words are worked out by hand from the bit
// diagrams in opcodes.def (bit i of the instruction is bit i%64 of word i/64).
#include <gtest/gtest.h>

#include "tpusim/isa/isa.h"

namespace tpusim::isa {
namespace {

void ExpectGolden(const Instruction& inst, const Word& expected) {
  absl::StatusOr<Word> encoded = Encode(inst);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  for (size_t i = 0; i < kInstructionWords; ++i) {
    EXPECT_EQ((*encoded)[i], expected[i]) << "word " << i << " of " << Disassemble(inst);
  }
  absl::StatusOr<Instruction> decoded = Decode(expected);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, inst) << Disassemble(*decoded);
}

TEST(IsaGolden, DmaFormatGoldenEncoding) {
  Instruction inst = Make(Opcode::LOAD);
  auto& a = inst.as<DmaArgs>();
  a.dtype = static_cast<uint64_t>(DType::BF16);  // code 1
  a.dram_addr = 0x123456789ABC;
  a.ub_row = 0x12345;
  a.rows = 0x0102;
  a.lanes = 0x0304;
  a.row_stride = 0xDEADBEEF;
  a.lane_stride = 7;
  // word0 = 0x01 | (1 << 8) | (0x123456789ABC << 16)              = 0x123456789ABC0101
  // word1 = ub_row@64: 0x12345 | rows@88: (0x0102 << 24) | lanes@104: (0x0304 << 40)
  //       = 0x0000000000012345 + 0x0000000102000000 + 0x0003040000000000 = 0x0003040102012345
  // word2 = row_stride@128: 0xDEADBEEF | lane_stride@160: (7 << 32) = 0x00000007DEADBEEF
  // word3 = 0 (reserved)
  ExpectGolden(inst, {0x123456789ABC0101ull, 0x0003040102012345ull, 0x00000007DEADBEEFull, 0});
}

TEST(IsaGolden, StoreUsesDmaFormatWithItsOwnOpcode) {
  Instruction inst = Make(Opcode::STORE);
  inst.as<DmaArgs>().dtype = static_cast<uint64_t>(DType::I32);  // code 3
  inst.as<DmaArgs>().rows = 1;
  // word0 = 0x02 | (3 << 8) = 0x302; word1 = rows@88: 1 << 24 = 0x1000000
  ExpectGolden(inst, {0x302, 0x1000000, 0, 0});
}

TEST(IsaGolden, WeightsFormatGoldenEncoding) {
  Instruction inst = Make(Opcode::LOAD_WEIGHTS);
  auto& a = inst.as<WeightsArgs>();
  a.dtype = static_cast<uint64_t>(DType::I8);  // code 2
  a.dram_addr = 0x1000;
  a.rows = 8;
  a.cols = 0x10;
  a.row_stride = 784;  // 0x310
  a.col_stride = 1;
  // word0 = 0x03 | (2 << 8) | (0x1000 << 16) = 0x03 + 0x200 + 0x10000000     = 0x0000000010000203
  // word1 = rows@64: 8 | cols@80: (0x10 << 16) = 0x0000000000100008 (bits 96..127 reserved)
  // word2 = row_stride@128: 0x310 | col_stride@160: (1 << 32)               = 0x0000000100000310
  ExpectGolden(inst, {0x0000000010000203ull, 0x0000000000100008ull, 0x0000000100000310ull, 0});
}

TEST(IsaGolden, MatmulFormatGoldenEncoding) {
  Instruction inst = Make(Opcode::MATMUL);
  auto& a = inst.as<MatmulArgs>();
  a.dtype = static_cast<uint64_t>(DType::BF16);  // code 1
  a.accumulate = 1;
  a.pop_weights = 1;
  a.ub_row = 0xABCDEF;
  a.acc_row = 0x123;
  a.rows = 0xFFFF;
  // word0 = 0x10 | (1 << 8) | (1 << 11) | (1 << 12) | (0xABCDEF << 16) | (0x123 << 40)
  //       = 0x1910 + 0x000000ABCDEF0000 + 0x0001230000000000 = 0x000123ABCDEF1910
  // word1 = rows@64: 0xFFFF
  ExpectGolden(inst, {0x000123ABCDEF1910ull, 0xFFFF, 0, 0});
}

TEST(IsaGolden, ActivateFormatGoldenEncoding) {
  Instruction inst = Make(Opcode::ACTIVATE);
  auto& a = inst.as<ActivateArgs>();
  a.func = static_cast<uint64_t>(ActFunc::Tanh);  // code 3
  a.has_bias = 1;
  a.acc_row = 0x3F;
  a.ub_row = 0x200;
  a.rows = 0x40;
  a.bias_row = 0xABCD;
  // word0 = 0x11 | (3 << 8) | (1 << 12) | (0x3F << 16) | (0x200 << 40)
  //       = 0x1311 + 0x3F0000 + 0x0002000000000000 = 0x00020000003F1311
  // word1 = rows@64: 0x40 | bias_row@80: (0xABCD << 16) = 0x00000000ABCD0040
  ExpectGolden(inst, {0x00020000003F1311ull, 0x00000000ABCD0040ull, 0, 0});
}

TEST(IsaGolden, ActivateRequantizeFieldsGoldenEncoding) {
  Instruction inst = Make(Opcode::ACTIVATE);
  auto& a = inst.as<ActivateArgs>();
  a.func = static_cast<uint64_t>(ActFunc::Requantize);  // code 4
  a.rows = 1;
  a.scale = 0x3D800000;  // 0.0625f
  a.zero_point = 0xFD;   // -3 as an int8
  // word0 = 0x11 | (4 << 8) = 0x411; word1 = rows@64: 1;
  // word2 = scale@128: 0x3D800000 | zero_point@160: (0xFD << 32) = 0x000000FD3D800000
  ExpectGolden(inst, {0x0000000000000411ull, 0x0000000000000001ull, 0x000000FD3D800000ull, 0});
}

TEST(IsaGolden, VectorFormatGoldenEncoding) {
  Instruction inst = Make(Opcode::VECTOR);
  auto& a = inst.as<VectorArgs>();
  a.op = static_cast<uint64_t>(VectorOp::Max);  // code 20 = 0x14
  a.b_bcast = 1;
  a.dst_row = 0x10;
  a.a_row = 0x20;
  a.b_row = 0x30;
  a.rows = 5;
  a.imm = F32Bits(1.5f);  // 1.5 = 0x3FC00000
  // word0 = 0x12 | (0x14 << 8) | (1 << 14) | (0x10 << 16) | (0x20 << 40)
  //       = 0x12 + 0x1400 + 0x4000 + 0x100000 + 0x0000200000000000 = 0x0000200000105412
  // word1 = b_row@64: 0x30 | rows@88: (5 << 24) = 0x0000000005000030
  // word2 = imm@128: 0x3FC00000
  ExpectGolden(inst, {0x0000200000105412ull, 0x0000000005000030ull, 0x3FC00000ull, 0});
}

TEST(IsaGolden, TokenFormatGoldenEncoding) {
  Instruction inst = Make(Opcode::WAIT);
  inst.as<TokenArgs>().queue = static_cast<uint64_t>(Queue::Store);  // code 2
  inst.as<TokenArgs>().channel = 0xA5;
  // word0 = 0x21 | (2 << 8) | (0xA5 << 16) = 0x00A50221
  ExpectGolden(inst, {0x00A50221ull, 0, 0, 0});
}

TEST(IsaGolden, NoneFormatGoldenEncoding) {
  ExpectGolden(Make(Opcode::HALT), {0x3F, 0, 0, 0});
  ExpectGolden(Make(Opcode::SYNC), {0x22, 0, 0, 0});
}

TEST(IsaGolden, ProgramBytesAreLittleEndianWords) {
  Instruction wait = Make(Opcode::WAIT);
  wait.as<TokenArgs>().queue = static_cast<uint64_t>(Queue::Store);
  wait.as<TokenArgs>().channel = 0xA5;
  absl::StatusOr<std::string> bytes = EncodeProgram({wait, Make(Opcode::HALT)});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  // word0 of WAIT = 0x00A50221 -> bytes 21 02 A5 00 ...; HALT starts at byte 32 with 3F.
  std::string expected(64, '\0');
  expected[0] = '\x21';
  expected[1] = '\x02';
  expected[2] = '\xA5';
  expected[32] = '\x3F';
  EXPECT_EQ(*bytes, expected);
}

TEST(IsaGolden, EncoderRejectsValueTooWideForItsField) {
  Instruction inst = Make(Opcode::MATMUL);
  inst.as<MatmulArgs>().rows = 70000;  // rows is 16 bits
  absl::StatusOr<Word> w = Encode(inst);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(w.status().message().find("rows"), std::string::npos) << w.status();
  EXPECT_NE(w.status().message().find("16 bits"), std::string::npos) << w.status();

  Instruction load = Make(Opcode::LOAD);
  load.as<DmaArgs>().dram_addr = uint64_t{1} << 48;  // dram_addr is 48 bits
  w = Encode(load);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("dram_addr (48 bits)"), std::string::npos) << w.status();
}

TEST(IsaGolden, EncoderRejectsUnknownEnumCode) {
  Instruction inst = Make(Opcode::LOAD);
  inst.as<DmaArgs>().dtype = 7;  // fits 3 bits, but no dtype has code 7
  absl::StatusOr<Word> w = Encode(inst);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("dtype"), std::string::npos) << w.status();
}

}  // namespace
}  // namespace tpusim::isa
