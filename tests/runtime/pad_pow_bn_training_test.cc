// Pad (reflect, edge), Pow with any exponent, training-mode BatchNormalization and ConstantOfShape:
// CPU reference kernels against hand arithmetic, and the TPU (tiny, highest, no CPU fallback) against
// hand arithmetic and the CPU session on the functional and the cycle engine.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "cpu_kernel_test_util.h"
#include "gmock/gmock.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using compiler::DataType;
using compiler::Shape;
using compiler::Tensor;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::Op;
using testing::Random;

// Runs g with every node on the TPU (checked) on `engine`; the outputs by name.
std::map<std::string, Tensor> RunOnTpu(const compiler::Graph& g, const std::map<std::string, Tensor>& feeds,
                                       const std::string& engine) {
  auto tpu = Session::Create(g, testing::TinyOptions("tpu", engine));
  EXPECT_TRUE(tpu.ok()) << tpu.status();
  if (!tpu.ok()) return {};
  for (const Placement& p : (*tpu)->placements()) EXPECT_EQ(p.device, kTpuDeviceName) << p.node;
  auto got = (*tpu)->Run(feeds);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : std::map<std::string, Tensor>{};
}

std::map<std::string, Tensor> RunOnCpu(const compiler::Graph& g, const std::map<std::string, Tensor>& feeds) {
  auto cpu = Session::Create(g, testing::TinyOptions("cpu", "functional"));
  EXPECT_TRUE(cpu.ok()) << cpu.status();
  if (!cpu.ok()) return {};
  auto got = (*cpu)->Run(feeds);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : std::map<std::string, Tensor>{};
}

// Equal within atol + rtol |want|; NaN only where NaN is expected, infinities exactly.
void ExpectClose(const Tensor& got, const Tensor& want, float rtol, float atol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    const float a = got.as<float>()[i], b = want.as<float>()[i];
    if (std::isnan(b) || std::isinf(b)) {
      EXPECT_TRUE(std::isnan(b) ? std::isnan(a) : a == b) << what << "[" << i << "]: " << a << " vs " << b;
      continue;
    }
    EXPECT_NEAR(a, b, atol + rtol * std::fabs(b)) << what << "[" << i << "]";
  }
}

// ---- Pad -------------------------------------------------------------------------------------------

compiler::Graph PadGraph(const Shape& x, const std::vector<int64_t>& pads, const std::string& mode) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, x);
  g.AddValue("pads", DataType::kInt64, Shape{static_cast<int64_t>(pads.size())}).constant =
      Tensor::FromInt64s({static_cast<int64_t>(pads.size())}, pads);
  g.AddValue("y", DataType::kFloat32);
  g.inputs = {"x"};
  g.nodes.push_back(Op("Pad", {"x", "pads"}, {"y"}, {{"mode", mode}}));
  g.outputs = {"y"};
  return g;
}

// x = [[1, 2, 3], [4, 5, 6]], pads: dim 0 by (1, 1), dim 1 by (2, 1).
// reflect: rows -> [4 5 6], [1 2 3], [4 5 6], [1 2 3]; each row r0 r1 r2 -> r2 r1 | r0 r1 r2 | r1.
// edge:    rows -> [1 2 3], [1 2 3], [4 5 6], [4 5 6]; each row -> r0 r0 | r0 r1 r2 | r2.
const std::vector<float> kReflect = {6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2};
const std::vector<float> kEdge = {1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6, 4, 4, 4, 5, 6, 6};

const std::vector<std::pair<std::string, std::vector<float>>> kModes = {{"reflect", kReflect}, {"edge", kEdge}};

class PadOnEngine : public ::testing::TestWithParam<std::string> {};

TEST(PadCpuKernel, ReflectAndEdgeByHand) {
  const Tensor x = Tensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor pads = Tensor::FromInt64s({4}, {1, 2, 1, 1});
  for (const auto& [mode, want] : kModes) {
    auto y = testing::Run1(testing::MakeNode("Pad", 2, {{"mode", mode}}, 13), {&x, &pads});
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(y->shape(), (Shape{4, 6})) << mode;
    EXPECT_THAT(testing::Floats(*y), ElementsAreArray(want)) << mode;
  }
}

TEST_P(PadOnEngine, ReflectAndEdgeByHand) {
  const Tensor x = Tensor::FromFloats({2, 3}, {1, 2, 3, 4, 5, 6});
  for (const auto& [mode, want] : kModes) {
    auto out = RunOnTpu(PadGraph({2, 3}, {1, 2, 1, 1}, mode), {{"x", x}}, GetParam());
    ASSERT_EQ(out.count("y"), 1u) << mode;
    EXPECT_EQ(out["y"].shape(), (Shape{4, 6})) << mode;
    EXPECT_THAT(testing::Floats(out["y"]), ElementsAreArray(want)) << mode;  // copies: exact
  }
}

TEST_P(PadOnEngine, FourDimensionalPadsMatchCpuExactly) {
  // NCHW with pads on every axis (the copies of all four slab passes), reflect and edge.
  const Tensor x = Random({2, 3, 5, 19}, 7);
  for (const std::string mode : {"reflect", "edge"}) {
    const compiler::Graph g = PadGraph({2, 3, 5, 19}, {1, 0, 3, 2, 0, 2, 4, 18}, mode);
    auto got = RunOnTpu(g, {{"x", x}}, GetParam());
    auto want = RunOnCpu(g, {{"x", x}});
    ASSERT_EQ(got.count("y"), 1u);
    ASSERT_EQ(want.count("y"), 1u);
    ExpectClose(got["y"], want["y"], 0.0f, 0.0f, mode);
  }
}

TEST_P(PadOnEngine, Int32IsMovedBitForBit) {
  // int32 words that are fp32 subnormals (1, 5), NaNs (-1 = 0xFFFFFFFF, 0x7F800001) and -0.0f
  // (INT32_MIN): a vector op would flush or quiet them; the DMA copies must not. x = [[a b c], [d e f]]
  // with pads (1, 2, 1, 1) gives, as in kReflect / kEdge, reflect rows f e d e f e / c b a b c b / ...
  const std::vector<int32_t> v = {1, 5, -1, 0x7F800001, INT32_MIN, 123456789};
  Tensor x(DataType::kInt32, {2, 3});
  for (int i = 0; i < 6; ++i) x.as<int32_t>()[i] = v[i];
  for (const auto& [mode, pattern] : kModes) {
    compiler::Graph g = PadGraph({2, 3}, {1, 2, 1, 1}, mode);
    g.values["x"].dtype = DataType::kInt32;
    g.values["y"].dtype = DataType::kInt32;
    auto out = RunOnTpu(g, {{"x", x}}, GetParam());
    ASSERT_EQ(out.count("y"), 1u) << mode;
    ASSERT_EQ(out["y"].dtype(), DataType::kInt32) << mode;
    ASSERT_EQ(out["y"].shape(), (Shape{4, 6})) << mode;
    for (int i = 0; i < 24; ++i) {
      const int32_t want = v[static_cast<int>(pattern[i]) - 1];  // pattern holds x's values 1..6
      EXPECT_EQ(out["y"].as<int32_t>()[i], want) << mode << "[" << i << "]";
    }
  }
}

TEST(PadOnTpu, ReflectPadAsLargeAsTheDimStaysOnTheCpu) {
  // reflect needs pad < dim (the CPU kernel refuses it too): the TPU does not claim it.
  auto s = Session::Create(PadGraph({2, 3}, {0, 3, 0, 0}, "reflect"), testing::TinyOptions("tpu", "functional"));
  EXPECT_FALSE(s.ok());
}

INSTANTIATE_TEST_SUITE_P(Engines, PadOnEngine, ::testing::Values("functional", "cycle"));

// ---- Pow -------------------------------------------------------------------------------------------

compiler::Graph PowGraph(const Shape& x, const Shape& y, std::optional<Tensor> constant_y = std::nullopt) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, x);
  g.AddValue("y", constant_y ? constant_y->dtype() : DataType::kFloat32, y);
  if (constant_y) g.values["y"].constant = *constant_y;
  g.AddValue("z", DataType::kFloat32);
  g.inputs = {"x"};
  if (!constant_y) g.inputs.push_back("y");
  g.nodes.push_back(Op("Pow", {"x", "y"}, {"z"}));
  g.outputs = {"z"};
  return g;
}

class PowOnEngine : public ::testing::TestWithParam<std::string> {};

// Hand values: 2^3 = 8, (-2)^3 = -8, (-2)^2 = 4, 4^0.5 = 2, (-4)^0.5 = NaN, 0^0 = 1, 0^2 = 0,
// 0^-1 = +Inf, 9^-0.5 = 1/3, (-3)^-1 = -1/3, 1.5^0 = 1, (-0.5)^4 = 0.0625.
const std::vector<float> kPowX = {2, -2, -2, 4, -4, 0, 0, 0, 9, -3, 1.5f, -0.5f};
const std::vector<float> kPowY = {3, 3, 2, 0.5f, 0.5f, 0, 2, -1, -0.5f, -1, 0, 4};
const std::vector<float> kPowZ = {8, -8, 4, 2, std::numeric_limits<float>::quiet_NaN(), 1, 0,
                                  std::numeric_limits<float>::infinity(), 1.0f / 3, -1.0f / 3, 1, 0.0625f};

TEST_P(PowOnEngine, RunTimeExponentByHand) {
  const Tensor x = Tensor::FromFloats({12}, kPowX), y = Tensor::FromFloats({12}, kPowY);
  auto out = RunOnTpu(PowGraph({12}, {12}), {{"x", x}, {"y", y}}, GetParam());
  ASSERT_EQ(out.count("z"), 1u);
  ExpectClose(out["z"], Tensor::FromFloats({12}, kPowZ), 1e-5f, 0.0f, "z");
}

TEST_P(PowOnEngine, ConstantExponentsByHand) {
  // (-2)^3 = -8, 2^3 = 8, 0.5^3 = 0.125; (-2)^1.5 = NaN, 4^1.5 = 8, 0^1.5 = 0; 3^0 = 1, (-3)^0 = 1.
  const Tensor x = Tensor::FromFloats({3}, {-2, 2, 0.5f});
  auto cube = RunOnTpu(PowGraph({3}, {}, Tensor::FromInt64s({}, {3})), {{"x", x}}, GetParam());
  ExpectClose(cube["z"], Tensor::FromFloats({3}, {-8, 8, 0.125f}), 1e-5f, 0.0f, "x^3");
  const Tensor x2 = Tensor::FromFloats({3}, {-2, 4, 0});
  auto p15 = RunOnTpu(PowGraph({3}, {}, Tensor::FromFloats({}, {1.5f})), {{"x", x2}}, GetParam());
  ExpectClose(p15["z"], Tensor::FromFloats({3}, {std::numeric_limits<float>::quiet_NaN(), 8, 0}), 1e-5f, 0.0f, "x^1.5");
  const Tensor x3 = Tensor::FromFloats({2}, {3, -3});
  auto p0 = RunOnTpu(PowGraph({2}, {}, Tensor::FromFloats({}, {0.0f})), {{"x", x3}}, GetParam());
  ExpectClose(p0["z"], Tensor::FromFloats({2}, {1, 1}), 0.0f, 0.0f, "x^0");
}

TEST_P(PowOnEngine, BroadcastExponentsMatchCpu) {
  // x [4, 33] ^ y [33] (integral and fractional exponents, negative bases) and x ^ scalar y.
  Tensor x = Random({4, 33}, 3, -3.0f, 3.0f);
  Tensor y = Random({33}, 4, -3.0f, 3.0f);
  for (int64_t i = 0; i < 33; i += 3) y.as<float>()[i] = std::round(y.as<float>()[i]);  // integral exponents
  const compiler::Graph g = PowGraph({4, 33}, {33});
  auto got = RunOnTpu(g, {{"x", x}, {"y", y}}, GetParam());
  auto want = RunOnCpu(g, {{"x", x}, {"y", y}});
  ASSERT_EQ(got.count("z"), 1u);
  ExpectClose(got["z"], want["z"], 1e-5f, 1e-6f, "bcast [33]");
  const Tensor s = Tensor::FromFloats({}, {-3});
  const compiler::Graph gs = PowGraph({4, 33}, {});
  auto got_s = RunOnTpu(gs, {{"x", x}, {"y", s}}, GetParam());
  auto want_s = RunOnCpu(gs, {{"x", x}, {"y", s}});
  ExpectClose(got_s["z"], want_s["z"], 1e-5f, 1e-6f, "scalar");
}

INSTANTIATE_TEST_SUITE_P(Engines, PowOnEngine, ::testing::Values("functional", "cycle"));

// ---- BatchNormalization, training mode ---------------------------------------------------------------

compiler::Graph BnTrainingGraph(const Shape& x, int64_t c, float momentum) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, x);
  for (const char* p : {"s", "b", "m", "v"}) g.AddValue(p, DataType::kFloat32, Shape{c});
  for (const char* o : {"y", "rm", "rv"}) g.AddValue(o, DataType::kFloat32);
  g.inputs = {"x"};
  g.nodes.push_back(Op("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "rm", "rv"},
                       {{"training_mode", int64_t{1}}, {"momentum", momentum}, {"epsilon", 0.0f}}, 15));
  g.outputs = {"y", "rm", "rv"};
  return g;
}

// X [2, 2, 1, 2]: channel 0 holds {1, 3, 5, 7} (mean 4, var (9+1+1+9)/4 = 5), channel 1 {2, 2, 2, 6}
// (mean 3, var (1+1+1+9)/4 = 3). scale [2, 1], B [1, 0], running mean/var in [0, 10] / [1, 1],
// momentum 0.5, epsilon 0:
//   y(ch0) = (x - 4) / sqrt 5 * 2 + 1;  y(ch1) = (x - 3) / sqrt 3
//   running_mean = [0 * 0.5 + 4 * 0.5, 10 * 0.5 + 3 * 0.5] = [2, 6.5]
//   running_var  = [1 * 0.5 + 5 * 0.5, 1 * 0.5 + 3 * 0.5] = [3, 2]
struct BnCase {
  Tensor x = Tensor::FromFloats({2, 2, 1, 2}, {1, 3, 2, 2, 5, 7, 2, 6});
  Tensor s = Tensor::FromFloats({2}, {2, 1}), b = Tensor::FromFloats({2}, {1, 0});
  Tensor m = Tensor::FromFloats({2}, {0, 10}), v = Tensor::FromFloats({2}, {1, 1});
  std::vector<float> y() const {
    const float r5 = 2.0f / std::sqrt(5.0f), r3 = 1.0f / std::sqrt(3.0f);
    return {-3 * r5 + 1, -1 * r5 + 1, -1 * r3, -1 * r3, 1 * r5 + 1, 3 * r5 + 1, -1 * r3, 3 * r3};
  }
};

TEST(BnTrainingCpuKernel, ByHand) {
  BnCase c;
  compiler::Node n = testing::MakeNode("BatchNormalization", 5,
                                       {{"training_mode", int64_t{1}}, {"momentum", 0.5f}, {"epsilon", 0.0f}}, 15);
  n.outputs = {"y", "rm", "rv"};
  auto out = RunCpuKernel(n, {&c.x, &c.s, &c.b, &c.m, &c.v});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 3u);
  ExpectClose((*out)[0], Tensor::FromFloats({2, 2, 1, 2}, c.y()), 1e-6f, 1e-6f, "y");
  EXPECT_THAT(testing::Floats((*out)[1]), ElementsAre(2, 6.5f));
  EXPECT_THAT(testing::Floats((*out)[2]), ElementsAre(3, 2));
}

class BnTrainingOnEngine : public ::testing::TestWithParam<std::string> {};

TEST_P(BnTrainingOnEngine, ByHand) {
  BnCase c;
  compiler::Graph g = BnTrainingGraph({2, 2, 1, 2}, 2, 0.5f);
  g.values["s"].constant = c.s;
  g.values["b"].constant = c.b;
  g.values["m"].constant = c.m;
  g.values["v"].constant = c.v;
  auto out = RunOnTpu(g, {{"x", c.x}}, GetParam());
  ASSERT_EQ(out.size(), 3u);
  ExpectClose(out["y"], Tensor::FromFloats({2, 2, 1, 2}, c.y()), 1e-5f, 1e-6f, "y");
  ExpectClose(out["rm"], Tensor::FromFloats({2}, {2, 6.5f}), 1e-6f, 0.0f, "running_mean");
  ExpectClose(out["rv"], Tensor::FromFloats({2}, {3, 2}), 1e-6f, 0.0f, "running_var");
}

TEST_P(BnTrainingOnEngine, RandomMatchesCpu) {
  compiler::Graph g = BnTrainingGraph({3, 4, 5, 6}, 4, 0.9f);
  g.nodes[0].attrs["epsilon"] = 1e-5f;
  g.values["s"].constant = Random({4}, 11);
  g.values["b"].constant = Random({4}, 12);
  g.values["m"].constant = Random({4}, 13);
  g.values["v"].constant = Random({4}, 14, 0.5f, 2.0f);
  const Tensor x = Random({3, 4, 5, 6}, 15);
  auto got = RunOnTpu(g, {{"x", x}}, GetParam());
  auto want = RunOnCpu(g, {{"x", x}});
  for (const char* o : {"y", "rm", "rv"}) {
    ASSERT_EQ(got.count(o), 1u) << o;
    ExpectClose(got[o], want[o], 1e-4f, 1e-5f, o);
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, BnTrainingOnEngine, ::testing::Values("functional", "cycle"));

// ---- ConstantOfShape ---------------------------------------------------------------------------------

TEST(ConstantOfShapeCpuKernel, ByHand) {
  // value 2.5 over shape [2, 3]: six 2.5s; int64 value 7 over [2]: {7, 7}.
  const Tensor shape = Tensor::FromInt64s({2}, {2, 3});
  auto y = testing::Run1(testing::MakeNode("ConstantOfShape", 1, {{"value", Tensor::FromFloats({1}, {2.5f})}}, 9),
                         {&shape});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->shape(), (Shape{2, 3}));
  EXPECT_THAT(testing::Floats(*y), ElementsAre(2.5f, 2.5f, 2.5f, 2.5f, 2.5f, 2.5f));
  const Tensor two = Tensor::FromInt64s({1}, {2});
  auto z = testing::Run1(testing::MakeNode("ConstantOfShape", 1, {{"value", Tensor::FromInt64s({1}, {7})}}, 9), {&two});
  ASSERT_TRUE(z.ok()) << z.status();
  ASSERT_EQ(z->dtype(), DataType::kInt64);
  EXPECT_EQ(z->as<int64_t>()[0], 7);
  EXPECT_EQ(z->as<int64_t>()[1], 7);
}

class ConstantOfShapeOnEngine : public ::testing::TestWithParam<std::string> {};

// The shape is a graph input, so the session feeds it at compile time and the TPU fills the output.
TEST_P(ConstantOfShapeOnEngine, ShapeFedAsAGraphInput) {
  for (const auto& [value, dtype] : {std::pair{Tensor::FromFloats({1}, {2.5f}), DataType::kFloat32},
                                     std::pair{Tensor(DataType::kInt32, {1}), DataType::kInt32}}) {
    compiler::Graph g;
    g.AddValue("shape", DataType::kInt64, Shape{2});
    g.AddValue("y", dtype);
    g.inputs = {"shape"};
    g.nodes.push_back(Op("ConstantOfShape", {"shape"}, {"y"}, {{"value", value}}, 9));
    g.outputs = {"y"};
    auto out = RunOnTpu(g, {{"shape", Tensor::FromInt64s({2}, {3, 7})}}, GetParam());
    ASSERT_EQ(out.count("y"), 1u);
    ASSERT_EQ(out["y"].dtype(), dtype);
    ASSERT_EQ(out["y"].shape(), (Shape{3, 7}));
    for (int i = 0; i < 21; ++i) {
      if (dtype == DataType::kFloat32) {
        EXPECT_EQ(out["y"].as<float>()[i], 2.5f) << i;
      } else {
        EXPECT_EQ(out["y"].as<int32_t>()[i], 0) << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, ConstantOfShapeOnEngine, ::testing::Values("functional", "cycle"));

TEST(ConstantOfShapeCpuKernel, AnInt64ValueFallsBackToTheCpu) {
  compiler::Graph g;
  g.AddValue("shape", DataType::kInt64, Shape{2});
  g.AddValue("y", DataType::kInt64);
  g.inputs = {"shape"};
  g.nodes.push_back(Op("ConstantOfShape", {"shape"}, {"y"}, {{"value", Tensor::FromInt64s({1}, {7})}}, 9));
  g.outputs = {"y"};
  EXPECT_FALSE(Session::Create(g, testing::TinyOptions("tpu", "functional")).ok());  // no fallback: refused
  SessionOptions options = testing::TinyOptions("tpu", "functional");
  options.allow_cpu_fallback = true;
  auto s = Session::Create(g, options);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ((*s)->placements()[0].device, kCpuDeviceName);
  auto out = (*s)->Run({{"shape", Tensor::FromInt64s({2}, {2, 3})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->at("y").shape(), (Shape{2, 3}));
  ASSERT_EQ(out->at("y").dtype(), DataType::kInt64);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out->at("y").as<int64_t>()[i], 7) << i;
}

}  // namespace
}  // namespace tpusim::runtime
