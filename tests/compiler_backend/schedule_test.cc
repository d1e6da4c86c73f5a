// Codegen's two schedules (CompileOptions::schedule) on whole programs: kTokens places SIGNAL/WAIT
// pairs and double-buffers, kSerial puts a SYNC at every queue change. Scheduling never changes the
// arithmetic, so both must give the same output bits; the functional engine (program order, deadlock
// on a WAIT without a token) checks every token stream is well-formed; the cycle engine, when built,
// must agree with both and take fewer cycles under kTokens.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "gtest/gtest.h"
#include "tpusim/isa/isa.h"

namespace tpusim::compiler::testing {
namespace {

struct Case {
  std::string name;
  Graph graph;
  std::vector<std::vector<float>> inputs;
  Precision precision = Precision::kBf16;
};

uint64_t Count(const isa::Program& prog, isa::Opcode op) {
  auto code = isa::DecodeCode(prog);
  EXPECT_TRUE(code.ok()) << code.status();
  uint64_t n = 0;
  for (const isa::Instruction& inst : code.ok() ? *code : std::vector<isa::Instruction>{}) n += inst.opcode == op;
  return n;
}

isa::Program CompileWith(const Case& c, Schedule schedule, const isa::ArchConfig& arch) {
  CompileOptions o;
  o.arch = arch;
  o.precision = c.precision;
  o.schedule = schedule;
  auto prog = Compile(c.graph, o);
  EXPECT_TRUE(prog.ok()) << c.name << ": " << prog.status();
  if (!prog.ok()) return {};
  absl::Status valid = isa::ValidateProgram(*prog);
  EXPECT_TRUE(valid.ok()) << c.name << ": " << valid;
  return *prog;
}

void ExpectSameBits(const RunResult& a, const RunResult& b, const std::string& what) {
  ASSERT_EQ(a.outputs.size(), b.outputs.size()) << what;
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    ASSERT_EQ(a.outputs[i].size(), b.outputs[i].size()) << what;
    EXPECT_EQ(std::memcmp(a.outputs[i].data(), b.outputs[i].data(), a.outputs[i].size() * sizeof(float)), 0)
        << what << ": output " << i << " differs";
  }
}

Case GemmCase(int64_t m, int64_t k, int64_t n, Precision p = Precision::kBf16) {
  GraphBuilder gb;
  gb.Input("a", {m, k});
  gb.Constant("w", {k, n}, RandomFloats(static_cast<size_t>(k * n), 11));
  gb.Op("MatMul", {"a", "w"}, "y", {m, n});
  gb.Output("y");
  return {"MatMul", gb.graph(), {RandomFloats(static_cast<size_t>(m * k), 12)}, p};
}

// Gemm with transposed B, C broadcast over rows, alpha and beta (the vector-unit epilogue).
Case GemmEpilogueCase() {
  GraphBuilder gb;
  gb.Input("a", {70, 20});
  gb.Input("b", {12, 20});
  gb.Constant("c", {12}, RandomFloats(12, 21));
  gb.Op("Gemm", {"a", "b", "c"}, "y", {70, 12},
        {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
  gb.Output("y");
  return {"Gemm(transB, C, alpha, beta)", gb.graph(), {RandomFloats(1400, 22), RandomFloats(240, 23)},
          Precision::kHigh};
}

// MatMul + bias + Relu (fused ACTIVATE epilogue), then Softmax on its output and a second MatMul.
Case ChainCase() {
  GraphBuilder gb;
  gb.Input("x", {50, 30});
  gb.Constant("w1", {30, 17}, RandomFloats(510, 31));
  gb.Constant("b1", {17}, RandomFloats(17, 32));
  gb.Constant("w2", {17, 9}, RandomFloats(153, 33));
  gb.Op("MatMul", {"x", "w1"}, "h", {50, 17});
  gb.Op("Add", {"h", "b1"}, "hb", {50, 17});
  gb.Op("Relu", {"hb"}, "r", {50, 17});
  gb.Op("MatMul", {"r", "w2"}, "z", {50, 9});
  gb.Op("Softmax", {"z"}, "y", {50, 9}, {{"axis", int64_t{1}}});
  gb.Output("y");
  gb.Output("r");
  return {"MatMul+bias+Relu -> MatMul -> Softmax", gb.graph(), {RandomFloats(1500, 34)}, Precision::kHighest};
}

Case ElementwiseCase() {
  GraphBuilder gb;
  gb.Input("x", {300, 40});
  gb.Input("row", {1, 40});
  gb.Op("Add", {"x", "row"}, "s", {300, 40});
  gb.Op("Mul", {"s", "x"}, "y", {300, 40});
  gb.Output("y");
  return {"Add(broadcast row), Mul", gb.graph(), {RandomFloats(12000, 41), RandomFloats(40, 42)}};
}

Case SoftmaxCase(int64_t rows, int64_t cols, const std::string& name) {
  GraphBuilder gb;
  gb.Input("x", {rows, cols});
  gb.Op("Softmax", {"x"}, "y", {rows, cols}, {{"axis", int64_t{1}}});
  gb.Output("y");
  return {name, gb.graph(), {RandomFloats(static_cast<size_t>(rows * cols), 51, -4.0f, 4.0f)}};
}

// Strided copies and reductions: Transpose, Slice (negative step), Clip, Concat, ReduceMean over the
// 1000 rows of the transpose (several UB chunks accumulated) and ReduceMax.
Case DataMovementCase() {
  GraphBuilder gb;
  gb.Input("x", {60, 1000});
  Value& starts = gb.graph().AddValue("starts", DataType::kInt64, Shape{1});
  starts.constant = Tensor::FromInt64s({1}, {-1});
  Value& ends = gb.graph().AddValue("ends", DataType::kInt64, Shape{1});
  ends.constant = Tensor::FromInt64s({1}, {-1000000});
  Value& axes = gb.graph().AddValue("axes", DataType::kInt64, Shape{1});
  axes.constant = Tensor::FromInt64s({1}, {0});
  Value& steps = gb.graph().AddValue("steps", DataType::kInt64, Shape{1});
  steps.constant = Tensor::FromInt64s({1}, {-2});
  gb.Op("Transpose", {"x"}, "t", {1000, 60});
  gb.Op("Slice", {"t", "starts", "ends", "axes", "steps"}, "s", {500, 60});
  gb.Op("Clip", {"s"}, "c", {500, 60}, {{"min", -0.5f}, {"max", 0.5f}}, 6);
  gb.Op("ReduceMean", {"t"}, "m", {1, 60}, {{"axes", std::vector<int64_t>{0}}}, 11);
  gb.Op("ReduceMax", {"c"}, "mx", {1, 60}, {{"axes", std::vector<int64_t>{0}}}, 11);
  gb.Op("Concat", {"m", "mx"}, "y", {2, 60}, {{"axis", int64_t{0}}});
  gb.Output("y");
  gb.Output("c");
  return {"Transpose, Slice, Clip, ReduceMean, ReduceMax, Concat", gb.graph(), {RandomFloats(60000, 61)}};
}

std::vector<Case> AllCases() {
  return {GemmCase(40, 24, 20),          GemmCase(200, 50, 30, Precision::kHighest),
          GemmEpilogueCase(),            ChainCase(),
          ElementwiseCase(),             SoftmaxCase(20, 200, "Softmax (one pass per column block)"),
          SoftmaxCase(3, 1500, "Softmax (three passes: the rows do not fit the UB)"),
          DataMovementCase()};
}

TEST(Schedule, NamesRoundTripAndTokensIsTheDefault) {
  for (Schedule s : {Schedule::kTokens, Schedule::kSerial}) {
    auto parsed = ParseSchedule(ScheduleName(s));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(ScheduleName(Schedule::kTokens), "tokens");
  EXPECT_EQ(ParseSchedule("overlap").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompileOptions{}.schedule, Schedule::kTokens);
}

TEST(Schedule, TokensAndSerialGiveIdenticalBits) {
  for (const Case& c : AllCases()) {
    isa::Program tokens = CompileWith(c, Schedule::kTokens, Tiny());
    isa::Program serial = CompileWith(c, Schedule::kSerial, Tiny());
    EXPECT_EQ(Count(tokens, isa::Opcode::SYNC), 0u) << c.name;
    EXPECT_EQ(Count(tokens, isa::Opcode::SIGNAL), Count(tokens, isa::Opcode::WAIT)) << c.name;
    EXPECT_EQ(Count(serial, isa::Opcode::SIGNAL), 0u) << c.name;
    auto rt = RunFunctional(tokens, c.inputs);  // a WAIT without its token would fail here
    auto rs = RunFunctional(serial, c.inputs);
    ASSERT_TRUE(rt.ok()) << c.name << ": " << rt.status();
    ASSERT_TRUE(rs.ok()) << c.name << ": " << rs.status();
    ExpectSameBits(*rt, *rs, c.name);
  }
}

// The tokens program needs fewer synchronisation points (WAITs) than the serial one has SYNCs: tokens
// go only where a queue really depends on another and one token covers all earlier instructions.
TEST(Schedule, TokensGemmHasNoSyncAndFewerSyncPoints) {
  for (Precision p : {Precision::kBf16, Precision::kHighest}) {
    Case c = GemmCase(130, 40, 36, p);
    isa::Program tokens = CompileWith(c, Schedule::kTokens, Tiny());
    isa::Program serial = CompileWith(c, Schedule::kSerial, Tiny());
    const uint64_t syncs = Count(serial, isa::Opcode::SYNC), waits = Count(tokens, isa::Opcode::WAIT);
    EXPECT_EQ(Count(tokens, isa::Opcode::SYNC), 0u);
    EXPECT_GT(syncs, 0u);
    EXPECT_LT(waits, syncs) << PrecisionName(p);
    // The same data instructions run under both (possibly re-tiled): same MATMUL rows in total.
    EXPECT_EQ(Count(tokens, isa::Opcode::LOAD_WEIGHTS), Count(serial, isa::Opcode::LOAD_WEIGHTS));
  }
}

// With A resident (64x32 on tiny: 4 k-tiles x 64 rows fit the UB) nothing the load queue touches
// is touched by the other queues, so it never waits: weight loads run ahead of their MATMULs, held
// back only by the FIFO, which the hardware enforces.
TEST(Schedule, TokensGemmLoadsWeightsAheadWithoutTokens) {
  Case c = GemmCase(64, 32, 16);
  isa::Program tokens = CompileWith(c, Schedule::kTokens, Tiny());
  auto code = isa::DecodeCode(tokens);
  ASSERT_TRUE(code.ok()) << code.status();
  uint64_t weight_loads = 0, waits_on_load_queue = 0, a_loads = 0;
  for (const isa::Instruction& inst : *code) {
    weight_loads += inst.opcode == isa::Opcode::LOAD_WEIGHTS;
    a_loads += inst.opcode == isa::Opcode::LOAD;
    if (inst.opcode == isa::Opcode::WAIT && inst.as<isa::TokenArgs>().queue == 0) ++waits_on_load_queue;
  }
  EXPECT_EQ(weight_loads, 4u * 2u);  // 4 k-tiles x 2 n-tiles
  EXPECT_EQ(a_loads, 4u) << "A loaded once, one LOAD per k-tile";
  EXPECT_EQ(waits_on_load_queue, 0u);
  auto r = RunFunctional(tokens, c.inputs);
  EXPECT_TRUE(r.ok()) << r.status();
}

absl::StatusOr<std::unique_ptr<simulator::Engine>> CycleEngine(const isa::ArchConfig& arch) {
  return simulator::CreateEngine("cycle", arch);
}

// On the cycle engine both schedules give the functional engine's bits, and kTokens takes fewer cycles.
TEST(Schedule, CycleEngineAgreesAndTokensAreFaster) {
  if (!CycleEngine(Tiny()).ok()) GTEST_SKIP() << "no cycle engine in this build";
  for (const Case& c : {GemmCase(64, 64, 64), ElementwiseCase(), SoftmaxCase(20, 200, "Softmax"), ChainCase(),
                        DataMovementCase()}) {
    isa::Program tokens = CompileWith(c, Schedule::kTokens, Tiny());
    isa::Program serial = CompileWith(c, Schedule::kSerial, Tiny());
    auto functional = RunFunctional(serial, c.inputs);
    auto ct = RunOnEngine(tokens, c.inputs, "cycle");
    auto cs = RunOnEngine(serial, c.inputs, "cycle");
    ASSERT_TRUE(functional.ok()) << c.name << ": " << functional.status();
    ASSERT_TRUE(ct.ok()) << c.name << ": " << ct.status();
    ASSERT_TRUE(cs.ok()) << c.name << ": " << cs.status();
    ExpectSameBits(*ct, *functional, c.name + " (cycle, tokens)");
    ExpectSameBits(*cs, *functional, c.name + " (cycle, serial)");
    EXPECT_LT(ct->stats.cycles, cs->stats.cycles) << c.name;
    std::printf("[ cycles   ] %s on tiny: tokens %llu, serial %llu\n", c.name.c_str(),
                static_cast<unsigned long long>(ct->stats.cycles), static_cast<unsigned long long>(cs->stats.cycles));
  }
}

}  // namespace
}  // namespace tpusim::compiler::testing
