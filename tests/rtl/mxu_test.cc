// mxu_array (rtl/sv/mxu_array.sv), the weight-stationary systolic array, at the tiny preset's size
// and at 16x16: every output bit against numerics::ColumnDotBf16 / ColumnDotInt8 (computed in the
// test from the operands, mxu_test_harness.h), and every output cycle against docs/timing.md rules
// 4 and 5 (a tile shifts in over R cycles; row r of a MATMUL started at s is out in cycle s + r + R
// + C - 1, so B rows complete at s + B + R + C - 2; back-to-back MATMULs cost B cycles).
#ifdef TPUSIM_RTL_HAVE_MODELS

#include <gtest/gtest.h>

#include <random>

#include "Vmxu_array_16x16.h"
#include "Vmxu_array_tiny.h"
#include "mxu_test_harness.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::rtl::testing {
namespace {

template <typename M, int R, int C>
struct MxuModel {
  using Model = M;
  static constexpr int kRows = R;
  static constexpr int kCols = C;
};
using Models =
    ::testing::Types<MxuModel<Vmxu_array_tiny, TPUSIM_RTL_MXU_TINY_ROWS, TPUSIM_RTL_MXU_TINY_COLS>,
                     MxuModel<Vmxu_array_16x16, 16, 16>>;
struct ModelNames {
  template <typename T>
  static std::string GetName(int) {
    return absl::StrFormat("%dx%d", T::kRows, T::kCols);
  }
};

// Fixed-seed operands. Bf16() is a moderate normal value (exponent 2^-7 .. 2^7, so sums cancel
// and round) except with probability `special`, where it is one of the edge values.
class Operands {
 public:
  Operands(uint64_t seed, double special) : rng_(seed), special_(special) {}
  uint16_t Bf16() {
    if (std::uniform_real_distribution<double>(0, 1)(rng_) < special_) {
      static constexpr uint16_t kEdge[] = {0x0000, 0x8000,          // ±0
                                           0x0001, 0x807f, 0x0040,  // subnormals (flushed)
                                           0x0080, 0x8080,          // smallest normals
                                           0x7f80, 0xff80,          // ±Inf
                                           0x7fc0, 0xffc1, 0x7f81,
                                           0xff85,  // quiet and signalling NaNs with payloads
                                           0x7f7f, 0xff7f,   // largest finite: products overflow
                                           0x3f80, 0xbf80};  // ±1
      return kEdge[rng_() % (sizeof(kEdge) / sizeof(kEdge[0]))];
    }
    const auto sign = static_cast<uint16_t>(rng_() & 1);
    const auto exponent = static_cast<uint16_t>(120 + rng_() % 15);
    return static_cast<uint16_t>(sign << 15 | exponent << 7 | (rng_() & 0x7f));
  }
  // An int8 in bits [7:0]; the upper byte is garbage that int8 mode must ignore.
  uint16_t Int8() {
    static constexpr uint8_t kEdge[] = {0x80, 0x7f, 0x81, 0xff, 0x00, 0x01};
    const uint8_t v = (rng_() % 4 == 0) ? kEdge[rng_() % 6] : static_cast<uint8_t>(rng_());
    return static_cast<uint16_t>((rng_() & 0xff00) | v);
  }
  uint16_t Next(bool int8) { return int8 ? Int8() : Bf16(); }
  std::vector<uint16_t> Words(size_t n, bool int8) {
    std::vector<uint16_t> v(n);
    for (auto& w : v) w = Next(int8);
    return v;
  }
  std::vector<Row> Rows(int count, int width, bool int8) {
    std::vector<Row> rows;
    for (int r = 0; r < count; ++r) rows.push_back(Words(static_cast<size_t>(width), int8));
    return rows;
  }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

 private:
  std::mt19937_64 rng_;
  double special_;
};

template <typename T>
class MxuArray : public ::testing::Test {
 protected:
  static constexpr int R = T::kRows;
  static constexpr int C = T::kCols;
  using Harness = MxuHarness<typename T::Model>;
  Tile RandomTile(Operands& src, bool int8) { return src.Words(static_cast<size_t>(R * C), int8); }
};
TYPED_TEST_SUITE(MxuArray, Models, ModelNames);

// Rule 4 then rule 5 alone: the tile shifts in during cycles 0 .. R-1 (shadow full at R), the
// MATMUL pops it at s = R, and row r is out in cycle s + r + R + C - 1; the last one at
// s + B + R + C - 2, the MATMUL's completion.
TYPED_TEST(MxuArray, ShiftsATileThenStreamsRowsBitExactAndOnTime) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  for (int b : {1, R, 3 * R + 1}) {
    SCOPED_TRACE(absl::StrFormat("B = %d", b));
    Operands src(0x3a0 + b, 0.03);
    Scenario sc(R, C);
    sc.Shift(this->RandomTile(src, false), 0);
    const uint64_t s = R;
    sc.Matmul(/*pop=*/true, /*int8=*/false, src.Rows(b, R, false), s);

    typename TestFixture::Harness mxu(R, C);
    std::vector<bool> shadow_full;
    const std::vector<OutRow> got = mxu.Run(sc.plan(), sc.end(), &shadow_full);
    ExpectOutputs(got, sc.expected());
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.front().cycle, s + R + C - 1);
    EXPECT_EQ(got.back().cycle, s + b + R + C - 2);
    EXPECT_FALSE(shadow_full[R - 1]) << "the shift takes R cycles";
    EXPECT_TRUE(shadow_full[R]) << "shadow weights full after R shift cycles";
    EXPECT_FALSE(shadow_full[R + 1]) << "the MATMUL popped them";
    EXPECT_FALSE(mxu.protocol_error());
  }
}

TYPED_TEST(MxuArray, NanInfAndSubnormalOperandsFollowColumnDotBf16) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Operands src(0x5bec, 0.3);
  Scenario sc(R, C);
  sc.Shift(this->RandomTile(src, false), 0);
  sc.Matmul(true, false, src.Rows(2 * R, R, false), R);
  typename TestFixture::Harness mxu(R, C);
  ExpectOutputs(mxu.Run(sc.plan(), sc.end()), sc.expected());
}

TYPED_TEST(MxuArray, Int8MatchesColumnDotInt8AndIgnoresTheUpperByte) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Operands src(0x1178, 0);
  Scenario sc(R, C);
  sc.Shift(this->RandomTile(src, true), 0);
  sc.Matmul(true, true, src.Rows(3 * R + 1, R, true), R);
  typename TestFixture::Harness mxu(R, C);
  ExpectOutputs(mxu.Run(sc.plan(), sc.end()), sc.expected());
}

// Rule 5's pipelining with double-buffered weights: the next tile shifts in from the cycle the
// MATMUL pops the current one (while its rows, and the previous MATMUL's, are still in the array),
// and each MATMUL starts the cycle after the previous one fed its last row. Its first row uses the
// new weights in every PE; the results come out one row per cycle with no gap.
TYPED_TEST(MxuArray, BackToBackMatmulsSwapWeightsWithoutABubble) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Operands src(0xb2b, 0.02);
  Scenario sc(R, C);
  const uint64_t s0 = R, s1 = s0 + R + 3, s2 = s1 + R, s3 = s2 + 3;
  sc.Shift(this->RandomTile(src, false), 0);
  sc.Matmul(true, false, src.Rows(R + 3, R, false), s0);  // tile 0
  sc.Shift(this->RandomTile(src, false), s0);             // shadow free at the pop
  sc.Matmul(true, false, src.Rows(R, R, false), s1);      // tile 1
  sc.Shift(this->RandomTile(src, false), s1);
  sc.Matmul(false, false, src.Rows(3, R, false), s2);     // tile 1 again
  sc.Matmul(true, false, src.Rows(R + 1, R, false), s3);  // tile 2, full since s1 + R = s2
  typename TestFixture::Harness mxu(R, C);
  const std::vector<OutRow> got = mxu.Run(sc.plan(), sc.end());
  ExpectOutputs(got, sc.expected());
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_EQ(got[i].cycle, got[0].cycle + i) << "a bubble before output row " << i;
  }
  EXPECT_FALSE(mxu.protocol_error());
}

// Both modes in the array at once: each row carries its mode down the wavefront.
TYPED_TEST(MxuArray, Int8AndBf16MatmulsShareTheArrayBackToBack) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Operands src(0x8b16, 0.05);
  Scenario sc(R, C);
  const uint64_t s0 = R, s1 = s0 + R, s2 = s1 + R + 1, s3 = s2 + 2;
  sc.Shift(this->RandomTile(src, false), 0);
  sc.Matmul(true, false, src.Rows(R, R, false), s0);
  sc.Shift(this->RandomTile(src, true), s0);
  sc.Matmul(true, true, src.Rows(R + 1, R, true), s1);
  sc.Shift(this->RandomTile(src, false), s1);
  sc.Matmul(false, true, src.Rows(2, R, true), s2);
  sc.Matmul(true, false, src.Rows(R, R, false), s3);
  typename TestFixture::Harness mxu(R, C);
  ExpectOutputs(mxu.Run(sc.plan(), sc.end()), sc.expected());
  EXPECT_FALSE(mxu.protocol_error());
}

// Gaps between shift steps and between rows (a stalled weight DMA, a stalled UB read) delay only
// what is stalled: each row still comes out R + C - 1 cycles after it went in, with its tile.
TYPED_TEST(MxuArray, StalledShiftStepsAndRowBubblesKeepResultsAndLatency) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Operands src(0x57a11, 0.02);
  Scenario sc(R, C);
  auto cycles = [&](uint64_t from, int n) {
    std::vector<uint64_t> at;
    for (int i = 0; i < n; ++i) at.push_back(from += (i == 0 ? 0 : 1 + src.Uniform(0, 2)));
    return at;
  };
  const std::vector<uint64_t> shift0 = cycles(0, R);
  sc.Shift(this->RandomTile(src, false), shift0);
  const std::vector<uint64_t> rows0 = cycles(shift0.back() + 1, 2 * R);
  sc.Matmul(true, false, src.Rows(2 * R, R, false), rows0);
  const std::vector<uint64_t> shift1 = cycles(rows0.front() + 1, R);
  sc.Shift(this->RandomTile(src, true), shift1);
  const uint64_t s1 = std::max(rows0.back(), shift1.back()) + 1;
  sc.Matmul(true, true, src.Rows(R, R, true), cycles(s1, R));
  typename TestFixture::Harness mxu(R, C);
  ExpectOutputs(mxu.Run(sc.plan(), sc.end()), sc.expected());
  EXPECT_FALSE(mxu.protocol_error());
}

TYPED_TEST(MxuArray, PopBeforeTheShiftEndsIsAProtocolError) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Plan plan;
  for (int q = 0; q < R; ++q) plan.steps[q] = std::vector<uint16_t>(C, 0x3f80);
  plan.rows[R - 1] = RowFeed{true, false, 0, Row(R, 0x3f80)};  // shadow full only at R
  typename TestFixture::Harness mxu(R, C);
  mxu.Run(plan, 2);
  EXPECT_FALSE(mxu.protocol_error());
  mxu.Run(plan, R + 1);
  EXPECT_TRUE(mxu.protocol_error());
}

TYPED_TEST(MxuArray, ShiftIntoFullShadowWeightsIsAProtocolError) {
  constexpr int R = TestFixture::R, C = TestFixture::C;
  Plan plan;
  for (int q = 0; q <= R; ++q) plan.steps[q] = std::vector<uint16_t>(C, 0x3f80);  // R + 1 steps
  typename TestFixture::Harness mxu(R, C);
  mxu.Run(plan, R);
  EXPECT_FALSE(mxu.protocol_error());
  mxu.Run(plan, R + 2);
  EXPECT_TRUE(mxu.protocol_error());
}

TEST(MxuArrayModels, TinyModelHasTheTinyPresetSize) {
  const absl::StatusOr<isa::ArchConfig> tiny = isa::LoadPreset("tiny");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ(tiny->array_rows(), static_cast<uint32_t>(TPUSIM_RTL_MXU_TINY_ROWS));
  EXPECT_EQ(tiny->array_cols(), static_cast<uint32_t>(TPUSIM_RTL_MXU_TINY_COLS));
}

}  // namespace
}  // namespace tpusim::rtl::testing

#endif  // TPUSIM_RTL_HAVE_MODELS
