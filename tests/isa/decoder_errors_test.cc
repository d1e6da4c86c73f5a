// The decoder rejects malformed instruction words and streams with errors that name what and where.
#include <gtest/gtest.h>

#include <string>

#include "tpusim/isa/isa.h"

namespace tpusim::isa {
namespace {

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// The instruction word with bit `bit` (0..255) set on top of `w`.
Word WithBit(Word w, int bit) {
  w[bit / 64] |= uint64_t{1} << (bit % 64);
  return w;
}

TEST(IsaDecoder, DecoderRejectsUnknownOpcode) {
  for (uint64_t code : {0x00ull, 0xFFull, 0x04ull}) {
    absl::StatusOr<Instruction> inst = Decode({code, 0, 0, 0});
    ASSERT_FALSE(inst.ok()) << "opcode " << code;
    EXPECT_EQ(inst.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(inst.status(), "unknown opcode")) << inst.status();
  }
  absl::StatusOr<Instruction> ff = Decode({0xFF, 0, 0, 0});
  EXPECT_TRUE(Contains(ff.status(), "0xff")) << ff.status();
}

// One reserved bit per format, read off the bit diagrams in opcodes.def.
struct ReservedCase {
  uint64_t opcode;
  int bit;
};

TEST(IsaDecoder, DecoderRejectsReservedBits) {
  const ReservedCase cases[] = {
      {0x01, 11},   // Dma: rsv [15:11]
      {0x01, 120},  // Dma: reserved [127:120]
      {0x02, 200},  // Dma (STORE): reserved [255:192]
      {0x03, 110},  // Weights: reserved [127:102] (mxu is [101:96])
      {0x03, 13},   // Weights: rsv [15:11]
      {0x10, 13},   // Matmul: rsv [15:13]
      {0x10, 90},   // Matmul: reserved [255:86] (mxu is [85:80])
      {0x11, 13},   // Activate: rsv [15:13]
      {0x11, 104},  // Activate: reserved [255:104]
      {0x12, 15},   // Vector: rs [15]
      {0x12, 110},  // Vector: reserved [127:104]
      {0x12, 255},  // Vector: reserved [255:160]
      {0x20, 10},   // Token: rsv [15:10]
      {0x21, 24},   // Token: reserved [255:24]
      {0x22, 8},    // None (SYNC): reserved [255:8]
      {0x3F, 255},  // None (HALT)
  };
  for (const ReservedCase& c : cases) {
    Word w = WithBit({c.opcode, 0, 0, 0}, c.bit);
    absl::StatusOr<Instruction> inst = Decode(w);
    ASSERT_FALSE(inst.ok()) << "opcode " << c.opcode << " bit " << c.bit;
    EXPECT_TRUE(Contains(inst.status(), "reserved bit " + std::to_string(c.bit) + " is set"))
        << inst.status();
  }
}

TEST(IsaDecoder, DecoderAcceptsEveryDefinedBitOfAFormat) {
  // All field bits of MATMUL set ([10:8] dtype must stay a valid code: 1 = bf16).
  // word0 bits 11, 12, [39:16], [63:40]; word1 bits [79:64].
  Word w = {0x10 | (1ull << 8) | (1ull << 11) | (1ull << 12) | (0xFFFFFFull << 16) | (0xFFFFFFull << 40),
            0xFFFF, 0, 0};
  absl::StatusOr<Instruction> inst = Decode(w);
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->as<MatmulArgs>().acc_row, 0xFFFFFFu);
  EXPECT_EQ(inst->as<MatmulArgs>().rows, 0xFFFFu);
}

// The bits the format diagrams of opcodes.def define for `op` (opcode byte and every field).
Word DefinedBits(Opcode op) {
  Word mask = {0xFF, 0, 0, 0};
  auto set_field = [&mask](int lsb, int width) {
    for (int b = lsb; b < lsb + width; ++b) mask[b / 64] |= uint64_t{1} << (b % 64);
  };
#define MASK_FIELD(NAME, LSB, WIDTH, KIND) set_field(LSB, WIDTH);
  switch (FormatOf(op)) {
#define TPUSIM_FORMAT(FORMAT, FIELDS) \
  case Format::FORMAT:                \
    FIELDS(MASK_FIELD)                \
    break;
#include "tpusim/isa/opcodes.def"
  }
#undef MASK_FIELD
  return mask;
}

TEST(IsaDecoder, DecodeThenEncodeIsIdentityOnRandomWords) {
  uint64_t state = 0x9E3779B97F4A7C15ull;  // xorshift64: deterministic
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int decoded_ok = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    Opcode op = AllOpcodes()[next() % kNumOpcodes];
    Word mask = DefinedBits(op);
    Word w = {(next() & mask[0] & ~0xFFull) | static_cast<uint8_t>(op), next() & mask[1], next() & mask[2],
              next() & mask[3]};
    if (trial % 7 == 0) w[(trial / 7) % 4] |= next();  // sometimes stray bits too
    absl::StatusOr<Instruction> inst = Decode(w);
    if (!inst.ok()) continue;  // e.g. an unknown enum code or a reserved bit: rejected, not crashed
    ++decoded_ok;
    absl::StatusOr<Word> again = Encode(*inst);
    ASSERT_TRUE(again.ok()) << again.status();
    ASSERT_EQ(*again, w) << Disassemble(*inst);
  }
  EXPECT_GT(decoded_ok, 5000);
}

TEST(IsaDecoder, DecoderRejectsUnknownEnumCode) {
  // LOAD with dtype 7 (bits [10:8]); no dtype has code 7.
  absl::StatusOr<Instruction> inst = Decode({0x01 | (7ull << 8), 0, 0, 0});
  ASSERT_FALSE(inst.ok());
  EXPECT_TRUE(Contains(inst.status(), "dtype")) << inst.status();
  EXPECT_TRUE(Contains(inst.status(), "7")) << inst.status();
  EXPECT_TRUE(Contains(inst.status(), "bits [10:8]")) << inst.status();

  // ACTIVATE with func 15 (bits [11:8]).
  inst = Decode({0x11 | (15ull << 8), 0, 0, 0});
  ASSERT_FALSE(inst.ok());
  EXPECT_TRUE(Contains(inst.status(), "func")) << inst.status();

  // VECTOR with op 63 (bits [13:8]); codes 11..15 are unused as well.
  for (uint64_t op : {63ull, 15ull}) {
    inst = Decode({0x12 | (op << 8), 0, 0, 0});
    ASSERT_FALSE(inst.ok()) << op;
    EXPECT_TRUE(Contains(inst.status(), "'op'")) << inst.status();
  }
}

TEST(IsaDecoder, TruncatedStreamNamesTheOffset) {
  std::string bytes(33, '\0');
  bytes[0] = '\x3F';  // a complete HALT, then one stray byte
  absl::StatusOr<std::vector<Instruction>> code = DecodeProgram(bytes);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(code.status(), "truncated instruction stream at byte 32")) << code.status();

  code = DecodeProgram(std::string(5, '\x3F'));
  ASSERT_FALSE(code.ok());
  EXPECT_TRUE(Contains(code.status(), "truncated instruction stream at byte 0")) << code.status();
}

TEST(IsaDecoder, StreamErrorsNameByteOffsetAndInstructionIndex) {
  std::string bytes(96, '\0');
  bytes[0] = '\x22';   // SYNC
  bytes[32] = '\x3F';  // HALT
  bytes[64] = '\x00';  // opcode 0x00: invalid
  absl::StatusOr<std::vector<Instruction>> code = DecodeProgram(bytes);
  ASSERT_FALSE(code.ok());
  EXPECT_TRUE(Contains(code.status(), "at byte 64 (instruction 2)")) << code.status();
  EXPECT_TRUE(Contains(code.status(), "unknown opcode")) << code.status();

  bytes[64] = '\x3F';
  bytes[33] = '\x01';  // HALT with reserved bit 8 set
  code = DecodeProgram(bytes);
  ASSERT_FALSE(code.ok());
  EXPECT_TRUE(Contains(code.status(), "at byte 32 (instruction 1)")) << code.status();
  EXPECT_TRUE(Contains(code.status(), "reserved bit 8")) << code.status();
}

TEST(IsaDecoder, EmptyStreamDecodesToNoInstructions) {
  absl::StatusOr<std::vector<Instruction>> code = DecodeProgram("");
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_TRUE(code->empty());
}

}  // namespace
}  // namespace tpusim::isa
