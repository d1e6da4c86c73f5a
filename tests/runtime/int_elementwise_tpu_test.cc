// uint8 Add / Sub / Mul / Div and int8 / uint8 Clip on the TPU in float mode (lower_int_elementwise.cc):
// outputs equal a naive reference loop written here (numpy's uint8 semantics: the int result wrapped
// mod 256; Div truncates; Clip = min(max(x, lo), hi)) and the CPU session, byte for byte, on the
// functional and cycle engines of `tiny`, both schedules, with no CPU fallback; edge values, wrap
// cases, numpy broadcasting, random data; then the ONNX node tests of these ops, and the refusals.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "int8_test_util.h"
#include "onnx_test_data.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/rtl/rtl_engine.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {
namespace {

using namespace int8_test;  // NOLINT: the shared helpers of the int8 tests

struct Io {
  Graph g;
  std::map<std::string, Tensor> feeds;
};

Tensor Bytes(DataType t, Shape shape, const std::vector<int32_t>& v) {
  Tensor x(t, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) x.data()[i] = static_cast<uint8_t>(v[i]);
  return x;
}

// y = op(a, b); b a constant when `b_constant`.
Io Binary(const std::string& op, const Tensor& a, const Tensor& b, bool b_constant = false) {
  Io io;
  io.g.AddValue("a", a.dtype(), a.shape());
  io.g.inputs = {"a"};
  io.feeds["a"] = a;
  if (b_constant) {
    io.g.AddValue("b", b.dtype()).constant = b;
  } else {
    io.g.AddValue("b", b.dtype(), b.shape());
    io.g.inputs.push_back("b");
    io.feeds["b"] = b;
  }
  io.g.AddValue("y", a.dtype());
  io.g.nodes = {MakeNode(op, {"a", "b"}, "y")};
  io.g.outputs = {"y"};
  return io;
}

// The numpy-broadcast reference of a uint8 op: int arithmetic, then wrapped to a byte.
std::vector<uint8_t> RefBinary(const std::string& op, const Tensor& a, const Tensor& b, const Shape& out) {
  const std::vector<int64_t> sa = [&] {
    std::vector<int64_t> s(out.size(), 0);
    int64_t run = 1;
    for (size_t i = 0; i < a.shape().size(); ++i) {
      const size_t d = a.shape().size() - 1 - i, o = out.size() - 1 - i;
      s[o] = a.shape()[d] == 1 ? 0 : run;
      run *= a.shape()[d];
    }
    return s;
  }();
  std::vector<int64_t> sb(out.size(), 0);
  int64_t run = 1;
  for (size_t i = 0; i < b.shape().size(); ++i) {
    const size_t d = b.shape().size() - 1 - i, o = out.size() - 1 - i;
    sb[o] = b.shape()[d] == 1 ? 0 : run;
    run *= b.shape()[d];
  }
  std::vector<uint8_t> y;
  std::vector<int64_t> idx(out.size(), 0);
  for (int64_t n = 0; n < compiler::NumElements(out); ++n) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < out.size(); ++d) ia += idx[d] * sa[d], ib += idx[d] * sb[d];
    const int x = a.data()[ia], z = b.data()[ib];
    const int v = op == "Add" ? x + z : op == "Sub" ? x - z : op == "Mul" ? x * z : x / z;
    y.push_back(static_cast<uint8_t>(((v % 256) + 256) % 256));
    for (size_t d = out.size(); d-- > 0;) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return y;
}

// ExpectCpuAndTpuGiveBytes on `io` (int8_test_util.h).
void CheckAll(const Io& io, const std::vector<uint8_t>& want, const std::string& what, bool cpu = true) {
  ExpectCpuAndTpuGiveBytes(io.g, io.feeds, want, what, cpu);
}

const std::vector<int32_t> kEdges = {0, 1, 2, 3, 5, 7, 16, 17, 100, 127, 128, 200, 254, 255};

// Every pair of edge values, a as rows and b as columns: [14, 14] against [14, 14].
std::pair<Tensor, Tensor> EdgePairs(bool nonzero_b) {
  std::vector<int32_t> a, b;
  for (int32_t x : kEdges) {
    for (int32_t z : kEdges) {
      a.push_back(x);
      b.push_back(nonzero_b && z == 0 ? 1 : z);
    }
  }
  const int64_t n = static_cast<int64_t>(kEdges.size());
  return {Bytes(DataType::kUint8, {n, n}, a), Bytes(DataType::kUint8, {n, n}, b)};
}

TEST(IntElementwiseTpu, Uint8ArithmeticOnEdgeValuesWrapsLikeNumpy) {
  // Hand-checked: 200+100 = 300 - 256 = 44; 3-5 = -2 + 256 = 254; 16*17 = 272 - 256 = 16;
  // 255*255 = 65025 = 254*256 + 1 -> 1; 255/1 = 255; 7/2 = 3; 0/5 = 0; 254/255 = 0; 255/2 = 127.
  struct Case { const char* op; int32_t a, b, want; };
  for (const Case& c : {Case{"Add", 200, 100, 44}, Case{"Sub", 3, 5, 254}, Case{"Mul", 16, 17, 16},
                        Case{"Mul", 255, 255, 1}, Case{"Div", 255, 1, 255}, Case{"Div", 7, 2, 3},
                        Case{"Div", 0, 5, 0}, Case{"Div", 254, 255, 0}, Case{"Div", 255, 2, 127}}) {
    CheckAll(Binary(c.op, Bytes(DataType::kUint8, {1}, {c.a}), Bytes(DataType::kUint8, {1}, {c.b})),
             {static_cast<uint8_t>(c.want)}, absl::StrCat(c.op, " ", c.a, " ", c.b));
  }
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    const auto [a, b] = EdgePairs(std::string(op) == "Div");
    CheckAll(Binary(op, a, b), RefBinary(op, a, b, a.shape()), absl::StrCat(op, " edge pairs"));
  }
}

TEST(IntElementwiseTpu, Uint8ArithmeticOnRandomDataWithBroadcasting) {
  Lcg rng{7};
  struct S { Shape a, b, out; };
  for (const S& s : {S{{3, 4, 5}, {3, 4, 5}, {3, 4, 5}}, S{{7, 40}, {40}, {7, 40}}, S{{5, 1, 33}, {1, 6, 1}, {5, 6, 33}},
                     S{{70, 9}, {}, {70, 9}}, S{{1}, {300}, {300}}, S{{2, 3, 1, 20}, {3, 17, 1}, {2, 3, 17, 20}}}) {
    for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
      const Tensor a = RandomQuant(DataType::kUint8, s.a, rng);
      Tensor b = RandomQuant(DataType::kUint8, s.b, rng);
      if (std::string(op) == "Div") {
        for (int64_t i = 0; i < b.num_elements(); ++i) b.data()[i] = b.data()[i] == 0 ? 1 : b.data()[i];
      }
      for (bool b_constant : {false, true}) {
        CheckAll(Binary(op, a, b, b_constant), RefBinary(op, a, b, s.out),
                 absl::StrCat(op, " ", compiler::ShapeToString(s.a), " ", compiler::ShapeToString(s.b),
                              b_constant ? " constant b" : ""));
      }
    }
  }
}

// The CPU kernel refuses a uint8 division by zero; the TPU cannot fail and gives what the lowering's
// comment states: a / 0 = +Inf saturates to 255 for a > 0, and 0 / 0 = NaN converts to device 0, i.e. 128.
TEST(IntElementwiseTpu, Uint8DivisionByZeroGivesTheDocumentedBytes) {
  const Io io = Binary("Div", Bytes(DataType::kUint8, {3}, {5, 0, 255}), Bytes(DataType::kUint8, {3}, {0, 0, 0}));
  auto cpu = Session::Create(io.g, Cpu());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_FALSE((*cpu)->Run(io.feeds).ok());
  auto tpu = Session::Create(io.g, Tpu("functional"));
  ASSERT_TRUE(tpu.ok()) << tpu.status();
  auto out = (*tpu)->Run(io.feeds);
  ASSERT_TRUE(out.ok()) << out.status();
  const Tensor& y = out->at("y");
  EXPECT_EQ(int{y.data()[0]}, 255);
  EXPECT_EQ(int{y.data()[1]}, 128);
  EXPECT_EQ(int{y.data()[2]}, 255);
}

// A chain (x + w) * x, clipped to [10, 200], then divided by w, in one TPU program: the uint8
// intermediates stay bytes in the frame. Reference: the same steps on ints, wrapped per op.
TEST(IntElementwiseTpu, Uint8ChainRunsAsOneProgram) {
  Lcg rng{23};
  const Tensor x = RandomQuant(DataType::kUint8, {6, 50}, rng);
  Tensor w = RandomQuant(DataType::kUint8, {50}, rng);
  for (int64_t i = 0; i < w.num_elements(); ++i) w.data()[i] = static_cast<uint8_t>(w.data()[i] | 1);
  Io io;
  io.g.AddValue("x", DataType::kUint8, x.shape());
  io.g.inputs = {"x"};
  io.feeds["x"] = x;
  io.g.AddValue("w", DataType::kUint8).constant = w;
  io.g.AddValue("lo", DataType::kUint8).constant = Scalar(DataType::kUint8, 10);
  io.g.AddValue("hi", DataType::kUint8).constant = Scalar(DataType::kUint8, 200);
  for (const char* v : {"s", "p", "c", "y"}) io.g.AddValue(v, DataType::kUint8);
  io.g.nodes = {MakeNode("Add", {"x", "w"}, "s"), MakeNode("Mul", {"s", "x"}, "p"), MakeNode("Clip", {"p", "lo", "hi"}, "c"),
                MakeNode("Div", {"c", "w"}, "y")};
  for (size_t i = 0; i < io.g.nodes.size(); ++i) io.g.nodes[i].name = absl::StrCat("n", i);
  io.g.outputs = {"y"};
  std::vector<uint8_t> want;
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const int a = x.data()[i], b = w.data()[i % 50];
    const int s8 = (a + b) % 256, p8 = (s8 * a) % 256;
    want.push_back(static_cast<uint8_t>(std::min(200, std::max(10, p8)) / b));
  }
  CheckAll(io, want, "uint8 chain", /*cpu=*/false);
}

// y = Clip(x, lo, hi) at opset 13; a bound absent when its optional is empty; bounds fed (the ONNX node
// tests' way: compile-time inputs) or constants.
Io ClipNode(const Tensor& x, std::optional<int32_t> lo, std::optional<int32_t> hi, bool fed) {
  Io io;
  io.g.AddValue("x", x.dtype(), x.shape());
  io.g.inputs = {"x"};
  io.feeds["x"] = x;
  std::vector<std::string> in = {"x"};
  for (const auto& [name, v] : {std::pair<std::string, std::optional<int32_t>>{"lo", lo}, {"hi", hi}}) {
    if (!v.has_value()) {
      in.push_back("");
      continue;
    }
    in.push_back(name);
    if (fed) {
      io.g.AddValue(name, x.dtype(), Shape{});
      io.g.inputs.push_back(name);
      io.feeds[name] = Scalar(x.dtype(), *v);
    } else {
      io.g.AddValue(name, x.dtype()).constant = Scalar(x.dtype(), *v);
    }
  }
  io.g.AddValue("y", x.dtype());
  io.g.nodes = {MakeNode("Clip", in, "y")};
  io.g.outputs = {"y"};
  return io;
}

TEST(IntElementwiseTpu, Int8AndUint8ClipMatchTheReference) {
  Lcg rng{3};
  for (DataType t : {DataType::kInt8, DataType::kUint8}) {
    const bool u8 = t == DataType::kUint8;
    Tensor x = RandomQuant(t, {9, 41}, rng);  // 369 elements: full UB rows and a partial one
    const std::vector<int32_t> edges = u8 ? std::vector<int32_t>{0, 1, 127, 128, 255} : std::vector<int32_t>{-128, -1, 0, 127};
    for (size_t i = 0; i < edges.size(); ++i) x.data()[i] = static_cast<uint8_t>(edges[i]);
    using B = std::optional<int32_t>;
    struct P { B lo, hi; };
    const std::vector<P> bounds = u8 ? std::vector<P>{{0, 255}, {1, 254}, {100, std::nullopt}, {std::nullopt, 128},
                                                      {std::nullopt, std::nullopt}, {200, 50}}
                                     : std::vector<P>{{-128, 127}, {-5, 9}, {0, std::nullopt}, {std::nullopt, 0},
                                                      {std::nullopt, std::nullopt}, {10, -10}};
    for (const P& p : bounds) {
      std::vector<uint8_t> want;
      for (int64_t i = 0; i < x.num_elements(); ++i) {
        int32_t v = At(x, i);
        if (p.lo.has_value() && v < *p.lo) v = *p.lo;
        if (p.hi.has_value() && v > *p.hi) v = *p.hi;
        want.push_back(static_cast<uint8_t>(v));
      }
      for (bool fed : {true, false}) {
        // The CPU Clip kernel has no uint8: uint8 is checked against the reference loop only.
        CheckAll(ClipNode(x, p.lo, p.hi, fed), want,
                 absl::StrCat(u8 ? "uint8" : "int8", " clip ", p.lo.value_or(-999), " ", p.hi.value_or(999), fed ? " fed" : ""),
                 /*cpu=*/!u8);
      }
    }
  }
}

// y = MaxPool(x) with 2 spatial dims, attributes as given.
Io MaxPoolNode(const Tensor& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
               const std::vector<int64_t>& pads, const std::vector<int64_t>& dilations) {
  Io io;
  io.g.AddValue("x", x.dtype(), x.shape());
  io.g.inputs = {"x"};
  io.feeds["x"] = x;
  io.g.AddValue("y", x.dtype());
  Node n = MakeNode("MaxPool", {"x"}, "y");
  n.attrs = {{"kernel_shape", kernel}, {"strides", strides}, {"pads", pads}, {"dilations", dilations}};
  io.g.nodes = {n};
  io.g.outputs = {"y"};
  return io;
}

// Naive ONNX MaxPool (floor mode): out o reads input o*stride - pad_begin + j*dilation, skipping
// positions outside the input.
std::vector<uint8_t> RefMaxPool(const Tensor& x, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                const std::vector<int64_t>& pads, const std::vector<int64_t>& d) {
  const Shape& sh = x.shape();
  const int64_t planes = sh[0] * sh[1], H = sh[2], W = sh[3];
  const int64_t OH = (H + pads[0] + pads[2] - ((k[0] - 1) * d[0] + 1)) / s[0] + 1;
  const int64_t OW = (W + pads[1] + pads[3] - ((k[1] - 1) * d[1] + 1)) / s[1] + 1;
  std::vector<uint8_t> y;
  for (int64_t c = 0; c < planes; ++c) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        int32_t best = -1000;
        for (int64_t i = 0; i < k[0]; ++i) {
          for (int64_t j = 0; j < k[1]; ++j) {
            const int64_t h = oh * s[0] - pads[0] + i * d[0], w = ow * s[1] - pads[1] + j * d[1];
            if (h >= 0 && h < H && w >= 0 && w < W) best = std::max(best, At(x, (c * H + h) * W + w));
          }
        }
        y.push_back(static_cast<uint8_t>(best));
      }
    }
  }
  return y;
}

// The CPU MaxPool kernel is float32 only: checked against the reference loop (and the ONNX test data).
TEST(IntElementwiseTpu, Int8AndUint8MaxPoolMatchTheReference) {
  Lcg rng{11};
  struct P { Shape x; std::vector<int64_t> k, s, pads, d; };
  for (DataType t : {DataType::kUint8, DataType::kInt8}) {
    for (const P& p : {P{{1, 1, 5, 5}, {5, 5}, {1, 1}, {2, 2, 2, 2}, {1, 1}}, P{{2, 3, 9, 11}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}},
                       P{{1, 2, 40, 37}, {2, 3}, {1, 2}, {0, 1, 1, 0}, {2, 1}}, P{{1, 1, 4, 4}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}}}) {
      Tensor x = RandomQuant(t, p.x, rng);
      const int32_t edges[] = {0, 255, 127, 128, 1};  // as bytes: uint8 0, 255, 127, 128, 1; int8 0, -1, 127, -128, 1
      for (int i = 0; i < 5; ++i) x.data()[i] = static_cast<uint8_t>(edges[i]);
      CheckAll(MaxPoolNode(x, p.k, p.s, p.pads, p.d), RefMaxPool(x, p.k, p.s, p.pads, p.d),
               absl::StrCat(t == DataType::kUint8 ? "uint8" : "int8", " maxpool ", compiler::ShapeToString(p.x)), /*cpu=*/false);
    }
  }
}

const char* const kNodeTests[] = {"test_add_uint8", "test_sub_uint8", "test_mul_uint8", "test_div_uint8",
                                  "test_clip_default_int8_min", "test_clip_default_int8_max",
                                  "test_clip_default_int8_inbounds", "test_maxpool_2d_uint8"};

TEST(IntElementwiseTpu, OnnxNodeTestsPass) {
  for (const char* name : kNodeTests) {
    for (const char* engine : {"functional", "cycle"}) {
      EXPECT_EQ(tpusim::testing::RunOnnxTest(tpusim::testing::OnnxNodeTestDir(name), engine), "") << name << " " << engine;
    }
  }
}

// Add / Sub / Mul / Clip / MaxPool need only vector ops the RTL core implements (cvt_i2f, cvt_f2i, add,
// sub, mul, add_imm, mul_imm, max_imm, min_imm, max, fill): their node tests pass on the rtl engine too,
// where this build has a core model for tiny. Div divides, which the RTL core does not implement: the
// rtl engine refuses it.
TEST(IntElementwiseTpu, NodeTestsWithoutDivisionPassOnTheRtlEngine) {
  absl::StatusOr<isa::ArchConfig> tiny = isa::LoadPreset("tiny");
  if (rtl::CoreModelNames().empty() || !tiny.ok() || !rtl::CheckRtlArch(*tiny).ok()) {
    GTEST_SKIP() << "no RTL core model for tiny in this build";
  }
  for (const char* name : kNodeTests) {
    const std::string failure = tpusim::testing::RunOnnxTest(tpusim::testing::OnnxNodeTestDir(name), "rtl");
    if (std::string(name) == "test_div_uint8") {
      EXPECT_NE(failure, "") << name << " ran on the rtl engine, whose core has no division";
    } else {
      EXPECT_EQ(failure, "") << name;
    }
  }
}

// What stays off the TPU, with the reason: int8 arithmetic, mixed types.
TEST(IntElementwiseTpu, UnclaimedIntegerCombinationsAreRefused) {
  Lcg rng{5};
  const Io int8_add = Binary("Add", RandomQuant(DataType::kInt8, {4}, rng), RandomQuant(DataType::kInt8, {4}, rng));
  const absl::Status s = compiler::CheckTpuSupport(int8_add.g.nodes[0], int8_add.g);
  EXPECT_TRUE(absl::IsUnimplemented(s)) << s;
  EXPECT_NE(s.message().find("uint8 only"), std::string::npos) << s;
  Io mixed = Binary("Mul", RandomQuant(DataType::kUint8, {4}, rng), RandomQuant(DataType::kInt8, {4}, rng));
  EXPECT_TRUE(absl::IsUnimplemented(compiler::CheckTpuSupport(mixed.g.nodes[0], mixed.g)));
}

}  // namespace
}  // namespace tpusim::runtime
