// Codegen's program container: frame layout, aliases and copies, bindings, op attribution, the queue
// ordering policy and compile errors.
#include <cmath>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tpusim/isa/isa.h"

namespace tpusim::compiler::testing {
namespace {

using ::testing::HasSubstr;

void AddShapeConstant(GraphBuilder& gb, const std::string& name, std::vector<int64_t> dims) {
  const int64_t n = static_cast<int64_t>(dims.size());
  Value& v = gb.graph().AddValue(name, DataType::kInt64, Shape{n});
  v.constant = Tensor::FromInt64s({n}, std::move(dims));
}

std::vector<isa::Instruction> Decoded(const isa::Program& prog) {
  auto code = isa::DecodeCode(prog);
  EXPECT_TRUE(code.ok()) << code.status();
  return code.ok() ? *code : std::vector<isa::Instruction>{};
}

TEST(CodegenLayout, ReshapeAndFlattenAliasWithoutInstructions) {
  GraphBuilder gb;
  gb.Input("x", {4, 6});
  AddShapeConstant(gb, "shape", {2, 3, 4});
  gb.Op("Reshape", {"x", "shape"}, "r", {2, 3, 4});
  gb.Op("Flatten", {"r"}, "f", {2, 12}, {{"axis", int64_t{1}}});
  gb.Op("Relu", {"f"}, "y", {2, 12});
  gb.Output("y");
  std::vector<float> x = RandomFloats(24, 1);
  isa::Program prog;
  RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kBf16, &prog);
  ASSERT_EQ(r.outputs.size(), 1u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(r.outputs[0][i], x[i] > 0 ? x[i] : 0.0f) << i;
  std::vector<uint64_t> per_op = InstructionsPerOp(prog);
  ASSERT_EQ(per_op.size(), 4u);  // three nodes + "<program>"
  EXPECT_EQ(per_op[0], 0u) << "Reshape aliases its input";
  EXPECT_EQ(per_op[1], 0u) << "Flatten aliases its input";
  EXPECT_GT(per_op[2], 0u);
  EXPECT_EQ(prog.op_names(3), "<program>");
}

TEST(CodegenLayout, ReshapeToAGraphOutputCopies) {
  GraphBuilder gb;
  gb.Input("x", {5, 7});
  AddShapeConstant(gb, "shape", {35});
  gb.Op("Reshape", {"x", "shape"}, "y", {35});
  gb.Output("y");
  std::vector<float> x = RandomFloats(35, 2);
  isa::Program prog;
  RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kBf16, &prog);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0], x);
  EXPECT_NE(prog.inputs(0).dram_offset(), prog.outputs(0).dram_offset());
  EXPECT_GT(InstructionsPerOp(prog)[0], 0u);
  for (const isa::Instruction& inst : Decoded(prog)) {
    EXPECT_TRUE(inst.opcode == isa::Opcode::LOAD || inst.opcode == isa::Opcode::STORE ||
                inst.opcode == isa::Opcode::SIGNAL || inst.opcode == isa::Opcode::WAIT ||
                inst.opcode == isa::Opcode::SYNC || inst.opcode == isa::Opcode::HALT)
        << isa::Disassemble(inst);
  }
}

TEST(CodegenLayout, GraphInputsAndConstantsListedAsOutputsAreCopied) {
  GraphBuilder gb;
  gb.Input("x", {3, 3});
  gb.Constant("c", {2}, {1.5f, -2.5f});
  gb.Output("x");
  gb.Output("c");
  std::vector<float> x = RandomFloats(9, 3);
  isa::Program prog;
  RunResult r = CompileAndRun(gb.graph(), {x}, Precision::kBf16, &prog);
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.outputs[0], x);
  EXPECT_EQ(r.outputs[1], (std::vector<float>{1.5f, -2.5f}));
  ASSERT_EQ(prog.op_names_size(), 1);
  EXPECT_EQ(prog.op_names(0), "<program>");
}

// A small MLP: the bindings describe the graph, the stream ends in HALT, and the instruction -> op
// table covers every instruction.
TEST(CodegenProgram, MlpProgramIsValidAndAttributed) {
  const int64_t B = 5, I = 20, H = 16, O = 10;
  GraphBuilder gb;
  gb.Input("x", {B, I});
  gb.Constant("w1", {I, H}, RandomFloats(I * H, 4));
  gb.Constant("b1", {H}, RandomFloats(H, 5));
  gb.Constant("w2", {H, O}, RandomFloats(H * O, 6));
  gb.Op("MatMul", {"x", "w1"}, "h0", {B, H});
  gb.Op("Add", {"h0", "b1"}, "h1", {B, H});
  gb.Op("Relu", {"h1"}, "h2", {B, H});
  gb.Op("MatMul", {"h2", "w2"}, "logits", {B, O});
  gb.Op("Softmax", {"logits"}, "probs", {B, O});
  gb.Output("probs");
  auto prog = Compile(gb.graph(), Options(Precision::kHigh));
  ASSERT_TRUE(prog.ok()) << prog.status();
  EXPECT_TRUE(isa::ValidateProgram(*prog).ok()) << isa::ValidateProgram(*prog);
  EXPECT_EQ(prog->isa_version(), isa::kIsaVersion);
  EXPECT_EQ(prog->precision(), "high");
  EXPECT_EQ(prog->arch().name(), "tiny");
  ASSERT_EQ(prog->inputs_size(), 1);
  EXPECT_EQ(prog->inputs(0).name(), "x");
  EXPECT_THAT(prog->inputs(0).shape(), ::testing::ElementsAre(B, I));
  EXPECT_EQ(prog->inputs(0).dtype(), isa::FLOAT32);
  ASSERT_EQ(prog->outputs_size(), 1);
  EXPECT_EQ(prog->outputs(0).name(), "probs");
  EXPECT_THAT(prog->outputs(0).shape(), ::testing::ElementsAre(B, O));
  EXPECT_LE(prog->frame_bytes(), prog->arch().dram_bytes());
  for (const isa::Segment& seg : prog->constants()) {
    EXPECT_EQ(seg.dram_offset() % 64, 0u) << seg.name();
    EXPECT_LE(seg.dram_offset() + seg.data().size(), prog->frame_bytes()) << seg.name();
  }
  std::vector<isa::Instruction> code = Decoded(*prog);
  ASSERT_FALSE(code.empty());
  EXPECT_EQ(code.back().opcode, isa::Opcode::HALT);
  ASSERT_EQ(static_cast<size_t>(prog->inst_op_size()), code.size());
  ASSERT_EQ(prog->op_names_size(), 6);
  std::vector<uint64_t> per_op = InstructionsPerOp(*prog);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(prog->op_names(i), gb.graph().nodes[i].name);
    // Add and Relu are fused into the first MatMul's epilogue (lower_fused.cc) and emit nothing.
    if (i == 1 || i == 2) {
      EXPECT_EQ(per_op[i], 0u) << prog->op_names(i);
    } else {
      EXPECT_GT(per_op[i], 0u) << prog->op_names(i);
    }
  }
  EXPECT_GT(per_op[5], 0u) << "HALT belongs to <program>";
  uint64_t total = 0;
  for (uint64_t c : per_op) total += c;
  EXPECT_EQ(total, code.size());
  // Only the MatMuls use the array.
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i].opcode == isa::Opcode::MATMUL || code[i].opcode == isa::Opcode::LOAD_WEIGHTS) {
      const uint32_t op = prog->inst_op(static_cast<int>(i));
      EXPECT_TRUE(op == 0 || op == 3) << "instruction " << i << " attributed to " << prog->op_names(op);
    }
  }
  // Compiling is deterministic.
  auto again = Compile(gb.graph(), Options(Precision::kHigh));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->SerializeAsString(), prog->SerializeAsString());

  // And the program computes the MLP: a double reference, checked loosely (each GEMM at high precision
  // is within ~2^-14 relative of its terms; probabilities are < 1).
  std::vector<float> x = RandomFloats(B * I, 9);
  auto r = RunFunctional(*prog, {x});
  ASSERT_TRUE(r.ok()) << r.status();
  const Graph& g = gb.graph();
  const float* w1 = g.values.at("w1").constant->as<float>();
  const float* b1 = g.values.at("b1").constant->as<float>();
  const float* w2 = g.values.at("w2").constant->as<float>();
  for (int64_t row = 0; row < B; ++row) {
    std::vector<double> hidden(H), logits(O);
    for (int64_t j = 0; j < H; ++j) {
      double acc = b1[j];
      for (int64_t k = 0; k < I; ++k) acc += static_cast<double>(x[row * I + k]) * w1[k * H + j];
      hidden[j] = std::max(0.0, acc);
    }
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < O; ++j) {
      for (int64_t k = 0; k < H; ++k) logits[j] += hidden[k] * w2[k * O + j];
      mx = std::max(mx, logits[j]);
    }
    for (int64_t j = 0; j < O; ++j) sum += std::exp(logits[j] - mx);
    for (int64_t j = 0; j < O; ++j) {
      EXPECT_NEAR(r->outputs[0][row * O + j], std::exp(logits[j] - mx) / sum, 1e-4) << row << "," << j;
    }
  }
}

// Intermediate shapes may be left out: Compile infers them (InferShapes) from the graph inputs.
TEST(CodegenProgram, MissingIntermediateShapesAreInferred) {
  GraphBuilder gb;
  gb.Input("x", {3, 4});
  gb.Constant("w", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  gb.Op("MatMul", {"x", "w"}, "h", {3, 2});
  gb.Op("Tanh", {"h"}, "y", {3, 2});
  gb.Output("y");
  gb.graph().values["h"].shape.reset();
  gb.graph().values["y"].shape.reset();
  auto prog = Compile(gb.graph(), Options());
  ASSERT_TRUE(prog.ok()) << prog.status();
  ASSERT_EQ(prog->outputs_size(), 1);
  EXPECT_THAT(prog->outputs(0).shape(), ::testing::ElementsAre(3, 2));
}

// Ordering policy kSerial: the program is serialized, so any two consecutive non-control instructions
// on different queues have a SYNC between them. (kTokens: schedule_test.cc.)
TEST(CodegenProgram, SerialScheduleSeparatesQueueChangesBySync) {
  GraphBuilder gb;
  gb.Input("x", {30, 20});
  gb.Constant("w", {20, 12}, RandomFloats(240, 7));
  gb.Op("MatMul", {"x", "w"}, "y", {30, 12});
  gb.Op("Tanh", {"y"}, "z", {30, 12});
  gb.Output("z");
  CompileOptions options = Options(Precision::kHighest);
  options.schedule = Schedule::kSerial;
  auto prog = Compile(gb.graph(), options);
  ASSERT_TRUE(prog.ok()) << prog.status();
  std::optional<isa::Queue> last;
  bool synced = false;
  for (const isa::Instruction& inst : Decoded(*prog)) {
    if (inst.opcode == isa::Opcode::SYNC) synced = true;
    const isa::Queue q = isa::QueueOf(inst.opcode);
    if (q == isa::Queue::Control) continue;
    if (last.has_value() && *last != q) {
      EXPECT_TRUE(synced) << "missing SYNC before " << isa::Disassemble(inst);
    }
    last = q;
    synced = false;
  }
}

TEST(CodegenErrors, FrameBeyondDeviceDramIsResourceExhausted) {
  GraphBuilder gb;
  gb.Input("x", {8192, 8192});  // 256 MiB in, 256 MiB out: tiny has 256 MiB of DRAM
  gb.Op("Relu", {"x"}, "y", {8192, 8192});
  gb.Output("y");
  auto prog = Compile(gb.graph(), Options());
  ASSERT_FALSE(prog.ok());
  EXPECT_EQ(prog.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(prog.status().message()), HasSubstr("model needs 536870912 bytes of device DRAM"));
  EXPECT_THAT(std::string(prog.status().message()), HasSubstr("arch tiny has 268435456"));
}

TEST(CodegenErrors, OpWithoutLoweringIsUnimplementedNamingTheNode) {
  GraphBuilder gb;
  gb.Input("x", {1, 3, 8, 8});
  gb.Op("LRN", {"x"}, "y", {1, 3, 8, 8}, {{"size", int64_t{3}}});
  gb.Output("y");
  auto prog = Compile(gb.graph(), Options());
  ASSERT_FALSE(prog.ok());
  EXPECT_EQ(prog.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(prog.status().message()), HasSubstr(gb.graph().nodes[0].name));
}

TEST(CodegenErrors, GraphInputWithoutShapeIsInvalidArgument) {
  GraphBuilder gb;
  gb.Input("x", {2, 2});
  gb.graph().values["x"].shape.reset();
  gb.Op("Relu", {"x"}, "y", {2, 2});
  gb.Output("y");
  auto prog = Compile(gb.graph(), Options());
  ASSERT_FALSE(prog.ok());
  EXPECT_EQ(prog.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(prog.status().message()), HasSubstr("'x'"));
}

TEST(CodegenErrors, MismatchedInnerDimensionsAreInvalidArgument) {
  GraphBuilder gb;
  gb.Input("a", {4, 5});
  gb.Input("b", {6, 3});
  gb.Op("MatMul", {"a", "b"}, "y", {4, 3});
  gb.Output("y");
  auto prog = Compile(gb.graph(), Options());
  ASSERT_FALSE(prog.ok());
  EXPECT_EQ(prog.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(prog.status().message()), HasSubstr("inner dimensions"));
}

}  // namespace
}  // namespace tpusim::compiler::testing
