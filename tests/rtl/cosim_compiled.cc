// Compiled layers of the cosimulation corpus (cosim_corpus.h): small graphs built with the
// runtime's builder API and compiled for `tiny` by the compiler backend, plus the 784-100-10 MLP of
// examples/mnist_mlp.cc up to its logits (its softmax needs exp, which the RTL core lacks).
// Inputs are deterministic random floats, the layers' with a few special values (NaN, -Inf, -0, a
// subnormal).
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "cosim_corpus.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/isa/program.h"
#include "tpusim/runtime/builder.h"
#include "tpusim/runtime/tensor_io.h"

namespace tpusim::rtl::cosim {
namespace {

using compiler::DataType;
using compiler::Tensor;
using runtime::GraphBuilder;
using runtime::Output;

Tensor Random(const compiler::Shape& shape, uint64_t seed, float scale = 1.0f) {
  Tensor t = runtime::RandomTensor(DataType::kFloat32, shape, seed);  // U[-1, 1)
  for (int64_t i = 0; i < t.num_elements(); ++i) t.as<float>()[i] *= scale;
  return t;
}

// The examples/mnist_mlp.cc initialisation: Glorot uniform weights, small uniform biases.
Tensor Glorot(int64_t fan_in, int64_t fan_out, uint64_t seed) {
  return Random({fan_in, fan_out}, seed, std::sqrt(6.0f / static_cast<float>(fan_in + fan_out)));
}

struct Layer {
  compiler::Precision precision = compiler::Precision::kBf16;
  compiler::Schedule schedule = compiler::Schedule::kTokens;
  std::function<Output(GraphBuilder&)> build;  // adds the graph; returns its one output
};

Output Dense(GraphBuilder& b, int64_t m, int64_t k, int64_t n, bool transpose_b, bool bias,
             bool relu) {
  Output x = b.Placeholder("x", {m, k});
  Output w = b.Variable("w", transpose_b ? Random({n, k}, 11, 0.5f) : Random({k, n}, 11, 0.5f));
  Output y = b.MatMul(x, w, false, transpose_b);
  if (bias) y = b.Add(y, b.Variable("b", Random({n}, 12, 0.25f)));
  return relu ? b.Relu(y) : y;
}

Output Reduce(GraphBuilder& b, const std::string& op, compiler::Shape shape, int64_t axis) {
  Output x = b.Placeholder("x", shape);
  if (op == "ReduceSum") {  // opset 13: axes is an input
    return b.AddOp(op, {x, b.Constant(Tensor::FromInt64s({1}, {axis}))},
                   {{"keepdims", int64_t{1}}});
  }
  return b.AddOp(op, {x}, {{"axes", std::vector<int64_t>{axis}}, {"keepdims", int64_t{0}}});
}

const std::map<std::string, Layer>& Layers() {
  using compiler::Precision;
  using compiler::Schedule;
  static const auto* layers = new std::map<std::string, Layer>{
      {"gemm_8x16x8_bias_relu_bf16",
       {Precision::kBf16, Schedule::kTokens,
        [](GraphBuilder& b) { return Dense(b, 8, 16, 8, false, true, true); }}},
      {"gemm_5x20x12_bias_relu_highest",
       {Precision::kHighest, Schedule::kTokens,
        [](GraphBuilder& b) { return Dense(b, 5, 20, 12, false, true, true); }}},
      {"gemm_transb_9x12x10_bias_bf16",
       {Precision::kBf16, Schedule::kTokens,
        [](GraphBuilder& b) { return Dense(b, 9, 12, 10, true, true, false); }}},
      {"matmul_6x8x16_relu_high_serial",
       {Precision::kHigh, Schedule::kSerial,
        [](GraphBuilder& b) { return Dense(b, 6, 8, 16, false, false, true); }}},
      {"add_6x10",
       {Precision::kBf16, Schedule::kTokens,
        [](GraphBuilder& b) {
          return b.Add(b.Placeholder("x", {6, 10}), b.Placeholder("y", {6, 10}));
        }}},
      {"mul_bcast_4x12",
       {Precision::kBf16, Schedule::kTokens,
        [](GraphBuilder& b) {
          return b.Mul(b.Placeholder("x", {4, 12}), b.Placeholder("y", {12}));
        }}},
      {"reduce_sum_6x20_axis1",
       {Precision::kBf16, Schedule::kTokens,
        [](GraphBuilder& b) { return Reduce(b, "ReduceSum", {6, 20}, 1); }}},
      {"reduce_max_12x5_axis0",
       {Precision::kBf16, Schedule::kTokens,
        [](GraphBuilder& b) { return Reduce(b, "ReduceMax", {12, 5}, 0); }}},
      {"mlp_784_100_10_logits_b8",
       {Precision::kBf16, Schedule::kTokens, [](GraphBuilder& b) {
          Output x = b.Placeholder("x", {8, 784});
          Output hidden = b.Relu(b.Add(b.MatMul(x, b.Variable("W1", Glorot(784, 100, 1001))),
                                       b.Variable("b1", Random({100}, 1002, 0.1f))));
          return b.Add(b.MatMul(hidden, b.Variable("W2", Glorot(100, 10, 1003))),
                       b.Variable("b2", Random({10}, 1004, 0.1f)), "logits");
        }}},
  };
  return *layers;
}

// Random input values; with `specials`, four of them (at most) are NaN, -Inf, -0 and a subnormal,
// spread out so that most outputs stay finite (a NaN poisons a whole GEMM output row).
std::string InputBytes(int64_t elements, uint64_t seed, bool specials) {
  Tensor t = runtime::RandomTensor(DataType::kFloat32, {elements}, seed);
  static constexpr uint32_t kSpecial[] = {0x7fc00000, 0xff800000, 0x80000000, 0x00000003};
  for (int64_t k = 0; specials && k < 4 && k < elements; ++k) {
    std::memcpy(t.as<float>() + (k * elements) / 4 + (k == 0 ? elements / 8 : 0), &kSpecial[k], 4);
  }
  return std::string(reinterpret_cast<const char*>(t.data()), t.byte_size());
}

}  // namespace

absl::StatusOr<CosimCase> CompiledCase(const CosimSpec& spec) {
  const auto it = Layers().find(spec.layer);
  if (it == Layers().end()) return absl::NotFoundError(absl::StrCat("no layer '", spec.layer, "'"));
  CosimCase c;
  c.name = spec.name;
  c.mode = spec.mode;
  auto arch = LoadCosimArch(spec.arch);
  if (!arch.ok()) return arch.status();
  c.arch = *arch;

  GraphBuilder b;
  const Output out = it->second.build(b);
  absl::StatusOr<compiler::Graph> graph = b.Build({out});
  if (!graph.ok()) return graph.status();
  compiler::CompileOptions options;
  options.arch = c.arch;
  options.precision = it->second.precision;
  options.schedule = it->second.schedule;
  absl::StatusOr<isa::Program> program = compiler::Compile(*graph, options);
  if (!program.ok()) return program.status();
  if (absl::Status s = isa::ValidateProgram(*program); !s.ok()) return s;
  c.program = *std::move(program);
  auto code = isa::DecodeCode(c.program);
  if (!code.ok()) return code.status();
  c.code = *std::move(code);
  c.frame_bytes = c.program.frame_bytes();

  for (const isa::Segment& seg : c.program.constants()) {
    c.dram.push_back({seg.dram_offset(), seg.data()});
  }
  for (int i = 0; i < c.program.inputs_size(); ++i) {
    const isa::Binding& in = c.program.inputs(i);
    if (in.dtype() != isa::FLOAT32) {
      return absl::UnimplementedError(absl::StrCat("input '", in.name(), "' is not float32"));
    }
    int64_t n = 1;
    for (int64_t d : in.shape()) n *= d;
    // The MLP's inputs stay finite, like pixels, so that its logits are numbers worth comparing.
    const bool specials = spec.layer.rfind("mlp", 0) != 0;
    c.dram.push_back(
        {in.dram_offset(), InputBytes(n, spec.seed * 100 + static_cast<uint64_t>(i), specials)});
  }
  return c;
}

}  // namespace tpusim::rtl::cosim
