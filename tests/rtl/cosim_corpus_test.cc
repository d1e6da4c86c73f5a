// The cosimulation corpus itself: its programs are valid for the functional engine, stay inside the
// RTL subset, stay short, and together exercise every feature the gate is meant to cover (counted
// here from the instructions, not from the generator's own bookkeeping).
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "cosim_corpus.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/rtl/rtl_engine.h"

namespace tpusim::rtl::cosim {
namespace {

using isa::Opcode;

std::string Name(isa::DType t) { return std::string(isa::DTypeName(t)); }
std::string Name(isa::Queue q) { return std::string(isa::QueueName(q)); }
std::string ModeName(isa::MatmulType m) { return m == isa::INT8_INT32 ? "int8" : "bf16"; }

// The features one program exercises, as names such as "load_bf16_lane_stride0" or
// "token_load_to_compute".
void Scan(const CosimCase& c, std::set<std::string>& seen) {
  const uint64_t lw = isa::UbLanes(c.arch), r = c.arch.array_rows(), cols = c.arch.array_cols();
  uint64_t fifo = 0;
  std::optional<Opcode> last_compute;
  for (size_t i = 0; i < c.code.size(); ++i) {
    const isa::Instruction& inst = c.code[i];
    switch (inst.opcode) {
      case Opcode::LOAD:
      case Opcode::STORE: {
        const auto& a = inst.as<isa::DmaArgs>();
        const std::string p = absl::StrCat(inst.opcode == Opcode::LOAD ? "load_" : "store_",
                                           Name(static_cast<isa::DType>(a.dtype)));
        if (a.rows > 0 && a.lanes > 0) {
          if (a.lane_stride == 0 && a.lanes > 1) seen.insert(p + "_lane_stride0");
          if (a.row_stride == 0 && a.rows > 1) seen.insert(p + "_row_stride0");
          if (a.lane_stride > 1 || a.row_stride > a.lanes) seen.insert(p + "_strided");
        }
        if (a.lanes > 0 && a.lanes < lw) seen.insert("dma_partial_lanes");
        if (a.rows == 1 && a.lanes == 1) seen.insert("dma_narrow");
        if (a.rows >= 12 && a.lanes == lw) seen.insert("dma_wide");
        break;
      }
      case Opcode::LOAD_WEIGHTS: {
        const auto& a = inst.as<isa::WeightsArgs>();
        seen.insert("weights_" + Name(static_cast<isa::DType>(a.dtype)));
        if (a.rows < r || a.cols < cols) seen.insert("weights_partial_tile");
        if (++fifo == c.arch.weight_fifo_depth()) seen.insert("weight_fifo_full");
        break;
      }
      case Opcode::MATMUL: {
        const auto& a = inst.as<isa::MatmulArgs>();
        if (a.pop_weights) {
          --fifo;
          seen.insert("matmul_pop");
        }
        if (a.accumulate) seen.insert("matmul_accumulate");
        if (last_compute == Opcode::MATMUL && !a.pop_weights) seen.insert("matmul_back_to_back");
        break;
      }
      case Opcode::ACTIVATE: {
        const auto& a = inst.as<isa::ActivateArgs>();
        const auto func = static_cast<isa::ActFunc>(a.func);
        seen.insert(absl::StrCat("activate_", std::string(isa::ActFuncName(func)),
                                 a.has_bias ? "_bias" : "_no_bias"));
        break;
      }
      case Opcode::VECTOR: {
        const auto& a = inst.as<isa::VectorArgs>();
        const auto op = static_cast<isa::VectorOp>(a.op);
        seen.insert(absl::StrCat(ModeName(c.mode), "_vector_", std::string(isa::VectorOpName(op))));
        if (isa::VectorOpArity(op) == isa::VectorArity::Binary && a.b_bcast) {
          seen.insert("vector_broadcast_b");
        }
        if (a.dst_row == a.a_row) seen.insert("vector_in_place");
        break;
      }
      case Opcode::SIGNAL: {
        const auto& s = inst.as<isa::TokenArgs>();
        if (i + 1 < c.code.size() && c.code[i + 1].opcode == Opcode::WAIT) {
          const auto& w = c.code[i + 1].as<isa::TokenArgs>();
          if (w.channel == s.channel) {
            seen.insert(absl::StrCat("token_", Name(static_cast<isa::Queue>(s.queue)), "_to_",
                                     Name(static_cast<isa::Queue>(w.queue))));
          }
        }
        break;
      }
      case Opcode::SYNC:
        seen.insert("sync");
        break;
      default:
        break;
    }
    if (isa::QueueOf(inst.opcode) == isa::Queue::Compute) last_compute = inst.opcode;
  }
}

TEST(CosimCorpus, NamesAreUniqueGtestParameterNames) {
  std::set<std::string> names;
  std::vector<CosimSpec> specs = RandomSpecs();
  for (const CosimSpec& s : CompiledSpecs()) specs.push_back(s);
  for (const CosimSpec& s : specs) {
    EXPECT_TRUE(std::regex_match(s.name, std::regex("[A-Za-z0-9_]+"))) << s.name;
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
  }
}

TEST(CosimCorpus, RandomProgramsAreValidShortAndInsideTheRtlSubset) {
  for (const CosimSpec& spec : RandomSpecs()) {
    SCOPED_TRACE(spec.name);
    absl::StatusOr<CosimCase> c = BuildCase(spec);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_LE(c->code.size(), 300u);
    EXPECT_EQ(c->code.back().opcode, Opcode::HALT);
    EXPECT_TRUE(InRtlSubset(c->code, c->mode).ok()) << InRtlSubset(c->code, c->mode);
    auto state = FreshState(*c);
    ASSERT_TRUE(state.ok()) << state.status();
    absl::StatusOr<simulator::RunStats> run = RunOn(*c, "functional", c->code, **state);
    EXPECT_TRUE(run.ok()) << run.status();
    // Every token taken: the programs leave no channel with a count.
    for (uint32_t tokens : (*state)->semaphores) EXPECT_EQ(tokens, 0u);
  }
}

TEST(CosimCorpus, RandomProgramsAreDeterministic) {
  const CosimSpec spec = RandomSpecs().front();
  absl::StatusOr<CosimCase> a = BuildCase(spec), b = BuildCase(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->program.code(), b->program.code());
  ASSERT_EQ(a->dram.size(), b->dram.size());
  EXPECT_EQ(a->dram[0].bytes, b->dram[0].bytes);
}

TEST(CosimCorpus, RandomProgramsTogetherCoverTheRtlSubset) {
  std::set<std::string> seen;
  bool saw_16x16 = false;
  for (const CosimSpec& spec : RandomSpecs()) {
    absl::StatusOr<CosimCase> c = BuildCase(spec);
    ASSERT_TRUE(c.ok()) << c.status();
    saw_16x16 |= c->arch.array_rows() == 16;
    Scan(*c, seen);
  }
  EXPECT_TRUE(saw_16x16);
  std::vector<std::string> want = {
      "dma_partial_lanes", "dma_narrow", "dma_wide", "weights_partial_tile", "weight_fifo_full",
      "matmul_pop", "matmul_accumulate", "matmul_back_to_back", "activate_none_bias",
      "activate_none_no_bias", "activate_relu_bias", "activate_relu_no_bias",
      "vector_broadcast_b", "vector_in_place", "sync"};
  for (isa::DType t : {isa::DType::F32, isa::DType::BF16, isa::DType::I8, isa::DType::I32}) {
    for (const char* op : {"load_", "store_"}) {
      for (const char* f : {"_lane_stride0", "_row_stride0", "_strided"}) {
        want.push_back(absl::StrCat(op, Name(t), f));
      }
    }
    want.push_back("weights_" + Name(t));
  }
  for (isa::MatmulType mode : {isa::BF16_FP32, isa::INT8_INT32}) {
    for (isa::VectorOp op : RtlVectorOps(mode)) {
      want.push_back(absl::StrCat(ModeName(mode), "_vector_", std::string(isa::VectorOpName(op))));
    }
  }
  for (isa::Queue p : {isa::Queue::Load, isa::Queue::Compute, isa::Queue::Store}) {
    for (isa::Queue q : {isa::Queue::Load, isa::Queue::Compute, isa::Queue::Store}) {
      if (p != q) want.push_back(absl::StrCat("token_", Name(p), "_to_", Name(q)));
    }
  }
  for (const std::string& feature : want) EXPECT_EQ(seen.count(feature), 1u) << feature;
}

TEST(CosimCorpus, CompiledLayersLowerToTheRtlSubset) {
  for (const CosimSpec& spec : CompiledSpecs()) {
    SCOPED_TRACE(spec.name);
    absl::StatusOr<CosimCase> c = BuildCase(spec);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(InRtlSubset(c->code, c->mode).ok()) << InRtlSubset(c->code, c->mode);
  }
}

// The MLP's logits are finite numbers, not NaNs that would match trivially: 8 rows of 10.
TEST(CosimCorpus, MlpLogitsAreFiniteAndDistinct) {
  const CosimSpec spec = CompiledSpecs().back();
  ASSERT_EQ(spec.layer, "mlp_784_100_10_logits_b8");
  absl::StatusOr<CosimCase> c = BuildCase(spec);
  ASSERT_TRUE(c.ok()) << c.status();
  auto state = FreshState(*c);
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(RunOn(*c, "functional", c->code, **state).ok());
  ASSERT_EQ(c->program.outputs_size(), 1);
  std::vector<float> logits(80);
  ASSERT_TRUE((*state)->dram.Read(c->program.outputs(0).dram_offset(), logits.data(), 320).ok());
  std::set<float> distinct;
  for (float v : logits) {
    EXPECT_TRUE(std::isfinite(v)) << v;
    distinct.insert(v);
  }
  EXPECT_GT(distinct.size(), 70u);
}

// The subset check itself: an op the RTL lacks is named with its instruction index.
TEST(CosimCorpus, InRtlSubsetNamesTheFirstInstructionOutsideIt) {
  isa::Instruction exp = isa::Make(Opcode::VECTOR);
  exp.as<isa::VectorArgs>().op = static_cast<uint64_t>(isa::VectorOp::Exp);
  exp.as<isa::VectorArgs>().rows = 1;
  isa::Instruction sigmoid = isa::Make(Opcode::ACTIVATE);
  sigmoid.as<isa::ActivateArgs>().func = static_cast<uint64_t>(isa::ActFunc::Sigmoid);
  sigmoid.as<isa::ActivateArgs>().rows = 1;
  isa::Instruction add = isa::Make(Opcode::VECTOR);
  add.as<isa::VectorArgs>().op = static_cast<uint64_t>(isa::VectorOp::Add);
  add.as<isa::VectorArgs>().rows = 1;
  const isa::Instruction halt = isa::Make(Opcode::HALT);
  EXPECT_TRUE(InRtlSubset({add, halt}, isa::BF16_FP32).ok());
  const absl::Status s = InRtlSubset({add, exp, sigmoid, halt}, isa::BF16_FP32);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("instruction 1 (VECTOR op=exp"), std::string_view::npos) << s;
  EXPECT_NE(InRtlSubset({sigmoid, halt}, isa::BF16_FP32).message().find("instruction 0"),
            std::string_view::npos);
  EXPECT_FALSE(InRtlSubset({add, halt}, isa::INT8_INT32).ok());  // int8: copy and relu only
}

// The corpus' statement of the subset and the rtl engine's agree, on the edge cases of each rule.
TEST(CosimCorpus, InRtlSubsetAgreesWithTheRtlEnginesCheck) {
  auto vector = [](isa::VectorOp op, uint64_t dst, uint64_t a_row, uint64_t b_row, uint64_t rows,
                   bool bcast) {
    isa::Instruction i = isa::Make(Opcode::VECTOR);
    auto& a = i.as<isa::VectorArgs>();
    a.op = static_cast<uint64_t>(op);
    a.dst_row = dst;
    a.a_row = a_row;
    a.b_row = b_row;
    a.rows = rows;
    a.b_bcast = bcast;
    return i;
  };
  isa::Instruction empty_matmul = isa::Make(Opcode::MATMUL);
  empty_matmul.as<isa::MatmulArgs>().rows = 0;
  using V = isa::VectorOp;
  const std::vector<isa::Instruction> cases = {
      vector(V::Add, 4, 4, 20, 4, false),       // dst == a
      vector(V::Add, 5, 4, 20, 4, false),       // dst inside a, shifted forwards
      vector(V::Add, 3, 4, 20, 4, false),       // dst overlaps a, shifted backwards
      vector(V::Add, 8, 4, 20, 4, false),       // dst right after a
      vector(V::Sub, 21, 4, 20, 4, false),      // dst inside b
      vector(V::Sub, 21, 4, 20, 4, true),       // b broadcast: one row, not shifted
      vector(V::Copy, 21, 20, 21, 4, false),    // unary: b ignored
      vector(V::ReduceSum, 21, 20, 0, 4, false),  // a reduce writes one row after reading all
      vector(V::Copy, 0, 0, 0, 0, false),       // 0 rows
      vector(V::Exp, 0, 0, 0, 1, false),
      empty_matmul,
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(isa::Disassemble(cases[k]));
    const std::vector<isa::Instruction> code = {cases[k], isa::Make(Opcode::HALT)};
    EXPECT_EQ(InRtlSubset(code, isa::BF16_FP32).ok(), CheckRtlSupport(code, isa::BF16_FP32).ok())
        << InRtlSubset(code, isa::BF16_FP32) << " / " << CheckRtlSupport(code, isa::BF16_FP32);
  }
  EXPECT_TRUE(InRtlSubset({cases[0], isa::Make(Opcode::HALT)}, isa::BF16_FP32).ok());
  EXPECT_FALSE(InRtlSubset({cases[1], isa::Make(Opcode::HALT)}, isa::BF16_FP32).ok());
}

}  // namespace
}  // namespace tpusim::rtl::cosim
