// Text assembly: asm -> binary -> asm and binary -> asm -> binary round trips for every opcode, and
// assembler errors that name the problem and the line.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tpusim/isa/isa.h"

namespace tpusim::isa {
namespace {

bool Contains(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

// Field kinds of opcodes.def, mirrored here so the test fills fields without the library's tables.
enum class Kind { Uint, Addr, Bool, DType, VectorOp, ActFunc, Queue, F32 };

// A distinctive valid value for a field; `variant` picks one of several patterns.
uint64_t SampleValue(Kind kind, int width, int variant) {
  const uint64_t max = width >= 64 ? ~0ull : (1ull << width) - 1;
  switch (kind) {
    case Kind::Uint:
    case Kind::Addr:
      return variant == 0 ? max : variant == 1 ? 1 : (0x5A5A5A5A5A5A5A5Aull & max);
    case Kind::Bool:
      return 1;
    case Kind::DType:
      return static_cast<uint64_t>(variant == 0 ? DType::BF16 : variant == 1 ? DType::I32 : DType::I8);
    case Kind::VectorOp:
      return static_cast<uint64_t>(variant == 0 ? VectorOp::ReduceMax : variant == 1 ? VectorOp::Div : VectorOp::Fill);
    case Kind::ActFunc:
      return static_cast<uint64_t>(variant == 0 ? ActFunc::Sigmoid : ActFunc::Tanh);
    case Kind::Queue:
      return static_cast<uint64_t>(variant == 0 ? Queue::Store : Queue::Control);
    case Kind::F32:
      return variant == 0 ? 0xBDCCCCCDull /* -0.1f */ : variant == 1 ? 0x7fc00001ull : 0x00000001ull;
  }
  return 0;
}

Instruction Filled(Opcode op, int variant) {
  Instruction inst = Make(op);
#define FILL_FIELD(NAME, LSB, WIDTH, KIND) a.NAME = SampleValue(Kind::KIND, WIDTH, variant);
  switch (FormatOf(op)) {
#define TPUSIM_FORMAT(FORMAT, FIELDS)                   \
  case Format::FORMAT: {                                \
    [[maybe_unused]] auto& a = inst.as<FORMAT##Args>(); \
    FIELDS(FILL_FIELD)                                  \
    break;                                              \
  }
#include "tpusim/isa/opcodes.def"
  }
#undef FILL_FIELD
  return inst;
}

// Hand-written canonical assembly, one line per opcode, fields in table order.
constexpr const char* kCanonicalProgram =
    "LOAD dtype=bf16 dram_addr=0x1000 ub_row=3 rows=8 lanes=8 row_stride=784 lane_stride=1\n"
    "STORE dtype=f32 dram_addr=0xffffffffffff ub_row=16777215 rows=65535 lanes=65535 row_stride=4294967295 "
    "lane_stride=0\n"
    "LOAD_WEIGHTS dtype=i8 dram_addr=0xabc rows=8 cols=8 row_stride=8 col_stride=1 mxu=2\n"
    "MATMUL dtype=bf16 accumulate=1 pop_weights=0 ub_row=10 acc_row=20 rows=30 mxu=63\n"
    "ACTIVATE func=relu has_bias=1 acc_row=0 ub_row=100 rows=8 bias_row=99 scale=0 zero_point=0\n"
    "ACTIVATE func=requantize has_bias=0 acc_row=4 ub_row=5 rows=2 bias_row=0 scale=0.0625 "
    "zero_point=253\n"
    "VECTOR op=add_imm b_bcast=0 dst_row=1 a_row=2 b_row=0 rows=4 imm=-0.1\n"
    "VECTOR op=fill b_bcast=0 dst_row=1 a_row=0 b_row=0 rows=1 imm=1e+30\n"
    "VECTOR op=max b_bcast=1 dst_row=1 a_row=2 b_row=3 rows=4 imm=nan\n"
    "VECTOR op=reduce_sum b_bcast=0 dst_row=0 a_row=0 b_row=0 rows=8 imm=-inf\n"
    "VECTOR op=copy b_bcast=0 dst_row=0 a_row=0 b_row=0 rows=8 imm=0x7fc00001\n"
    "SIGNAL queue=load channel=3\n"
    "WAIT queue=compute channel=255\n"
    "SYNC\n"
    "HALT\n";

TEST(IsaAssembly, HandWrittenProgramRoundTripsThroughBinary) {
  absl::StatusOr<std::vector<Instruction>> code = AssembleProgram(kCanonicalProgram);
  ASSERT_TRUE(code.ok()) << code.status();
  // Every opcode of the table appears in the hand-written program.
  std::vector<bool> seen(kNumOpcodes, false);
  for (const Instruction& inst : *code) seen[OpcodeIndex(inst.opcode)] = true;
  for (Opcode op : AllOpcodes()) EXPECT_TRUE(seen[OpcodeIndex(op)]) << Mnemonic(op);

  absl::StatusOr<std::string> bytes = EncodeProgram(*code);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<std::vector<Instruction>> decoded = DecodeProgram(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(DisassembleProgram(*decoded), kCanonicalProgram);
}

TEST(IsaAssembly, AsmToBinaryToAsmRoundTripsEveryOpcode) {
  for (Opcode op : AllOpcodes()) {
    for (int variant = 0; variant < 3; ++variant) {
      std::string text = Disassemble(Filled(op, variant));
      absl::StatusOr<Instruction> assembled = Assemble(text);
      ASSERT_TRUE(assembled.ok()) << text << ": " << assembled.status();
      absl::StatusOr<Word> word = Encode(*assembled);
      ASSERT_TRUE(word.ok()) << text << ": " << word.status();
      absl::StatusOr<Instruction> decoded = Decode(*word);
      ASSERT_TRUE(decoded.ok()) << text << ": " << decoded.status();
      EXPECT_EQ(Disassemble(*decoded), text);
      EXPECT_EQ(*decoded, Filled(op, variant)) << text;
    }
  }
}

TEST(IsaAssembly, BinaryToAsmToBinaryIsByteExactForEveryOpcode) {
  std::vector<Instruction> code;
  for (Opcode op : AllOpcodes()) {
    for (int variant = 0; variant < 3; ++variant) code.push_back(Filled(op, variant));
  }
  absl::StatusOr<std::string> bytes = EncodeProgram(code);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<std::vector<Instruction>> decoded = DecodeProgram(*bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  absl::StatusOr<std::vector<Instruction>> reassembled = AssembleProgram(DisassembleProgram(*decoded));
  ASSERT_TRUE(reassembled.ok()) << reassembled.status();
  absl::StatusOr<std::string> bytes2 = EncodeProgram(*reassembled);
  ASSERT_TRUE(bytes2.ok()) << bytes2.status();
  EXPECT_EQ(*bytes2, *bytes);
}

TEST(IsaAssembly, EveryF32BitPatternSurvivesTextRoundTrip) {
  // Special values, then a deterministic sweep over the 32-bit patterns (every 4099th: a prime
  // stride that reaches every exponent and many mantissas, NaN payloads and subnormals included).
  std::vector<uint32_t> patterns = {0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00800000,
                                    0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000,
                                    0xFFC00000, 0x7FC00001, 0x7F800001, 0xFFFFFFFF, 0x3DCCCCCD};
  for (uint64_t b = 0; b <= 0xFFFFFFFFull; b += 4099) patterns.push_back(static_cast<uint32_t>(b));
  for (uint32_t bits : patterns) {
    Instruction inst = Make(Opcode::VECTOR);
    inst.as<VectorArgs>().imm = bits;
    std::string text = Disassemble(inst);
    absl::StatusOr<Instruction> back = Assemble(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status();
    ASSERT_EQ(back->as<VectorArgs>().imm, bits) << text;
  }
}

TEST(IsaAssembly, F32FieldsPrintShortestDecimal) {
  Instruction inst = Make(Opcode::VECTOR);
  inst.as<VectorArgs>().imm = F32Bits(0.1f);
  EXPECT_NE(Disassemble(inst).find(" imm=0.1"), std::string::npos) << Disassemble(inst);
  inst.as<VectorArgs>().imm = F32Bits(INFINITY);
  EXPECT_NE(Disassemble(inst).find(" imm=inf"), std::string::npos) << Disassemble(inst);
  inst.as<VectorArgs>().imm = 0x7FC00000;
  EXPECT_NE(Disassemble(inst).find(" imm=nan"), std::string::npos) << Disassemble(inst);
}

TEST(IsaAssembly, AssemblerAcceptsAnyFieldOrderCommentsAndOmittedFields) {
  absl::StatusOr<Instruction> inst = Assemble("  matmul rows=4 ub_row = 2   # comment, dtype omitted");
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ(inst->opcode, Opcode::MATMUL);
  EXPECT_EQ(inst->as<MatmulArgs>().rows, 4u);
  EXPECT_EQ(inst->as<MatmulArgs>().ub_row, 2u);
  EXPECT_EQ(inst->as<MatmulArgs>().dtype, 0u);
  absl::StatusOr<std::vector<Instruction>> code = AssembleProgram("; header\n\nHALT ; end\n");
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(code->size(), 1u);
  EXPECT_EQ((*code)[0].opcode, Opcode::HALT);
}

TEST(IsaAssembly, AssemblerErrorsNameTheProblemAndLine) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"HALT\nFROB x=1\n", "line 2: unknown mnemonic 'FROB'"},
      {"SYNC\nHALT\nLOAD foo=1\n", "line 3: unknown field 'foo' for LOAD"},
      {"MATMUL rows=70000\n", "line 1: value 70000 does not fit rows (16 bits)"},
      {"\n\nMATMUL rows=12a\n", "line 3: bad number '12a' for rows"},
      {"MATMUL rows=-1\n", "line 1: bad number '-1' for rows"},
      {"MATMUL rows=99999999999999999999999\n", "does not fit rows (16 bits)"},
      {"LOAD dtype=f64\n", "line 1: unknown dtype 'f64' for dtype"},
      {"MATMUL accumulate=2\n", "does not fit accumulate (1 bits)"},
      {"VECTOR imm=1.5.5\n", "bad number '1.5.5' for imm"},
      {"VECTOR imm=1e39\n", "out of fp32 range"},
      {"VECTOR imm=0x100000000\n", "does not fit imm"},
      {"MATMUL rows=1 rows=2\n", "field 'rows' given twice"},
      {"MATMUL rows\n", "expected 'field=value'"},
      {"HALT rows=1\n", "unknown field 'rows' for HALT"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<Instruction>> code = AssembleProgram(c.text);
    ASSERT_FALSE(code.ok()) << c.text;
    EXPECT_EQ(code.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(code.status(), c.expected)) << code.status() << "\nexpected: " << c.expected;
  }
}

TEST(IsaAssembly, MnemonicLookupIsCaseInsensitiveAndTableDriven) {
  for (Opcode op : AllOpcodes()) {
    std::string lower(Mnemonic(op));
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(OpcodeFromMnemonic(lower), op);
    EXPECT_EQ(OpcodeFromCode(static_cast<uint8_t>(op)), op);
  }
  EXPECT_EQ(OpcodeFromMnemonic("NOP"), std::nullopt);
  EXPECT_EQ(kNumOpcodes, 10u);
  EXPECT_EQ(FormatOf(Opcode::LOAD_WEIGHTS), Format::Weights);
  EXPECT_EQ(QueueOf(Opcode::STORE), Queue::Store);
  EXPECT_EQ(DTypeBytes(DType::BF16), 2u);
  EXPECT_EQ(VectorOpArity(VectorOp::ReduceMax), VectorArity::Reduce);
  EXPECT_EQ(OpcodeIndex(Opcode::HALT), kNumOpcodes - 1);
}

}  // namespace
}  // namespace tpusim::isa
